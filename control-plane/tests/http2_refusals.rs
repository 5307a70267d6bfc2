//! Refusals the server sends before reading the request body (401 without a token, 403 for a
//! role, 413 for a body over the limit) reach real curl over HTTP/2 and TLS every time, not
//! `curl: (92) Stream error`.
mod common;

use common::*;
use std::process::Command;

const TRIES: usize = 40;

fn curl_available() {
    let out = Command::new("curl")
        .arg("--version")
        .output()
        .expect("curl is needed for this test: apt-get install curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("HTTP2"),
        "this curl has no HTTP/2 support (libnghttp2): {text}"
    );
}

/// One curl call: (exit code, "STATUS HTTP_VERSION", stderr).
fn curl(
    url: &str,
    ca: &std::path::Path,
    token: Option<&str>,
    body: &std::path::Path,
) -> (i32, String, String) {
    let mut c = Command::new("curl");
    c.args([
        "--http2",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{http_version}",
    ])
    .arg("--cacert")
    .arg(ca)
    .args(["-H", "Content-Type: application/json", "-X", "POST"])
    .arg("--data-binary")
    .arg(format!("@{}", body.display()));
    if let Some(t) = token {
        c.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let out = c.arg(url).output().expect("run curl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_refusals_reach_curl_over_http2() {
    curl_available();
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.user(&pc, "sc", "scanner").await;
    let sc = h.login("sc", PASSWORD).await;
    let files = tempfile::tempdir().unwrap();
    let ca = files.path().join("ca.pem");
    std::fs::write(&ca, &h.ca_pem).unwrap();
    // A valid-looking JSON body, long enough that curl is still sending when the answer comes.
    let json_of = |len: usize| {
        let mut b = b"{\"username\":\"".to_vec();
        b.resize(len, b'x');
        b.extend_from_slice(b"\"}");
        b
    };
    let mid = files.path().join("mid.json");
    std::fs::write(&mid, json_of(1024 * 1024)).unwrap();
    let huge = files.path().join("huge.json");
    std::fs::write(&huge, json_of(3 * 1024 * 1024)).unwrap();
    let cases: Vec<(&str, String, Option<String>, std::path::PathBuf)> = vec![
        ("401", format!("{}/api/v1/users", h.base), None, mid.clone()),
        (
            "403",
            format!("{}/api/v1/users", h.base),
            Some(sc.clone()),
            mid.clone(),
        ),
        (
            "413",
            format!("{}/api/v1/session", h.base),
            None,
            huge.clone(),
        ),
    ];
    let mut failures = Vec::new();
    for (want, url, token, body) in cases {
        let ca = ca.clone();
        let results = tokio::task::spawn_blocking(move || {
            (0..TRIES)
                .map(|_| curl(&url, &ca, token.as_deref(), &body))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        for (code, out, err) in results {
            if code != 0 || out != format!("{want} 2") {
                failures.push(format!(
                    "want {want} over HTTP/2: exit {code}, {out:?}, {err}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} calls failed:\n{}",
        failures.len(),
        3 * TRIES,
        failures.join("\n")
    );
}
