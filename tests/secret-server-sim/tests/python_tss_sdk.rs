//! Fidelity check with a client nobody here wrote: the public python-tss-sdk 2.0.1 (PyPI),
//! installed into target/pyenv by scripts/install-test-deps, runs its documented calls
//! (tests/tss_sdk_client.py) against the simulator over HTTP and over HTTPS.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use secret_server_sim::Sim;
use serde_json::{Value, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's interpreter, with the SDK importable; fails loudly when it is not there.
fn python() -> PathBuf {
    let python = repo_root().join("target/pyenv/bin/python3");
    let ready = Command::new(&python)
        .args(["-c", "import delinea.secrets.server"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ready,
        "{} with python-tss-sdk==2.0.1 is missing; run scripts/install-test-deps first",
        python.display()
    );
    python
}

/// Runs the SDK script against the simulator and returns its JSON report.
fn run_sdk(sim: &Sim, mode: &str) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = Command::new(python());
    command
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tss_sdk_client.py"))
        .arg(sim.base_url())
        .arg(mode)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy");
    if let Some(pem) = sim.ca_pem() {
        let ca = dir.path().join("sim-ca.pem");
        std::fs::write(&ca, pem).expect("write CA");
        command.env("REQUESTS_CA_BUNDLE", &ca);
    }
    let output = command.output().expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "tss_sdk_client.py {mode} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("tss_sdk_client.py printed no JSON ({e}): {stdout}\n{stderr}"))
}

fn check_full_run(sim: &Sim) {
    let report = run_sdk(sim, "full");
    assert_eq!(
        report["secret"],
        json!({
            "name": "unix-root",
            "username": "scanuser",
            "password": "pw&\"quoted\"",
            "passphrase": "pp",
            "private_key": PRIVATE_KEY,
            "private_key_content_type": "application/octet-stream",
        })
    );
    assert_eq!(
        report["dataclass"],
        json!({
            "id": 10,
            "template": "Unix Account (SSH)",
            "username": "scanuser",
            "file_attachment_id": 501004,
            "last_heart_beat_check": "2024-05-01T10:00:00",
            "last_password_change_attempt": "0001-01-01T00:00:00",
        })
    );
    assert_eq!(
        report["search"],
        json!({"records": [[18, 2, "dup-name"], [19, 3, "dup-name"]], "total": 2, "hasNext": false})
    );
    let mut folder: Vec<i64> = (100..125).collect();
    folder.push(19);
    assert_eq!(report["folder_secret_ids"], json!(folder));
    assert_eq!(report["windows_folder_secret_ids"], json!([12]));
    assert_eq!(report["by_path"], 19);
    assert_eq!(report["domain_secret"], "win-admin");
    assert_eq!(report["token_secret"], "win-admin");
    let access_denied = json!({"type": "SecretServerClientError", "message": "Access Denied"});
    assert_eq!(report["missing_secret_error"], access_denied);
    assert_eq!(report["no_access_error"], access_denied);
    let login_failed = json!({"type": "SecretServerClientError", "message": "Login failed."});
    assert_eq!(report["bad_login_error"], login_failed);
    assert_eq!(report["bad_domain_error"], login_failed);

    // What the SDK sent, in order, as the reference observed it: probe, token, secret, file.
    let calls: Vec<(String, String)> = sim
        .requests()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    let expected_start = [
        ("GET", "/api/v1/healthcheck"),
        ("POST", "/oauth2/token"),
        ("GET", "/api/v1/secrets/10"),
        ("GET", "/api/v1/secrets/10/fields/private-key"),
    ];
    let start: Vec<(&str, &str)> = calls
        .iter()
        .take(4)
        .map(|(m, p)| (m.as_str(), p.as_str()))
        .collect();
    assert_eq!(start, expected_start, "all calls: {calls:?}");
    assert!(
        calls
            .iter()
            .any(|(m, p)| m == "GET" && p == "/api/v1/secrets/search-total"),
        "{calls:?}"
    );
    assert!(!calls.iter().any(|(_, p)| p == "/health"), "{calls:?}");
    // One token per authorizer: svc-scan (reused for every call), aduser, and two bad logins.
    let tokens = calls.iter().filter(|(_, p)| p == "/oauth2/token").count();
    assert_eq!(tokens, 4, "{calls:?}");
}

#[tokio::test]
async fn python_tss_sdk_over_http() {
    // The simulator's defaults, as a real server answers: no compatibility switch.
    let sim = sim().await;
    check_full_run(&sim);
}

#[tokio::test]
async fn python_tss_sdk_over_https() {
    let sim = sim_with(|c| c.tls = true).await;
    assert!(sim.base_url().starts_with("https://"));
    check_full_run(&sim);
}

/// The reference's verified quirk: python-tss-sdk 2.x wants a capital-H `Healthy` key, so
/// with the OpenAPI model's camelCase-only body (no longer the default) it gives up before
/// asking for a token, after probing the Delinea Platform's `/health` (a 404 here).
#[tokio::test]
async fn python_tss_sdk_rejects_the_camel_case_health_body() {
    let sim = sim_with(|c| c.health_pascal_key = false).await;
    let report = run_sdk(&sim, "detect");
    assert_eq!(
        report["error"],
        json!({"type": "SecretServerError", "message": "Unable to detect server type via health check endpoints."})
    );
    let calls: Vec<(String, u16)> = sim
        .requests()
        .into_iter()
        .map(|r| (r.path, r.status))
        .collect();
    assert_eq!(
        calls,
        [
            ("/api/v1/healthcheck".to_string(), 200),
            ("/health".to_string(), 404)
        ]
    );
}
