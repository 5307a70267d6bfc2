//! The `secret-server-sim` binary as someone runs it by hand.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::*;

/// Kills the simulator process it holds when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_secret-server-sim"))
}

#[tokio::test]
async fn serves_https_prints_its_url_writes_its_ca_and_logs_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = dir.path().join("seed.json");
    let ca = dir.path().join("ca.pem");
    let log = dir.path().join("requests.jsonl");
    std::fs::write(&seed, seed_json()).expect("seed");
    let mut child = binary()
        .arg("--seed")
        .arg(&seed)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--tls",
            "--app-root",
            "/SS",
            "--token-ttl",
            "60",
        ])
        .arg("--write-ca")
        .arg(&ca)
        .arg("--request-log")
        .arg(&log)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the binary");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read URL");
    let base = line.trim().to_string();
    assert!(
        base.starts_with("https://127.0.0.1:") && base.ends_with("/SS"),
        "{base:?}"
    );

    let pem = std::fs::read(&ca).expect("CA file written before the URL is printed");
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM"))
        .build()
        .expect("client");
    let r = client
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", SVC_USER),
            ("password", SVC_PASSWORD),
        ])
        .send()
        .await
        .expect("token");
    let (status, body) = json_of(r).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(body["expires_in"], 60);
    let logged = std::fs::read_to_string(&log).expect("request log");
    assert!(logged.contains("\"path\":\"/oauth2/token\""), "{logged}");
    drop(running);
}

#[test]
fn refuses_bad_seeds_and_non_loopback_addresses_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        seed_json().replace("\"Windows Account\"", "\"Mainframe\""),
    )
    .expect("seed");
    let out = binary().arg("--seed").arg(&seed).output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("secret 12: unknown template \"Mainframe\""),
        "{err}"
    );

    std::fs::write(&seed, seed_json()).expect("seed");
    let out = binary()
        .arg("--seed")
        .arg(&seed)
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a loopback address"));

    let out = binary()
        .arg("--seed")
        .arg(dir.path().join("missing.json"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read seed"));
}

#[tokio::test]
async fn no_rest_api_flag_makes_an_old_soap_only_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = dir.path().join("seed.json");
    std::fs::write(&seed, seed_json()).expect("seed");
    let mut child = binary()
        .arg("--seed")
        .arg(&seed)
        .arg("--no-rest-api")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the binary");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read URL");
    let base = line.trim().to_string();
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", SVC_USER),
            ("password", SVC_PASSWORD),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
    let r = client
        .get(format!("{base}/webservices/SSWebService.asmx/Authenticate"))
        .query(&[
            ("username", SVC_USER),
            ("password", SVC_PASSWORD),
            ("organization", ""),
            ("domain", ""),
        ])
        .send()
        .await
        .expect("SOAP GET form");
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    assert!(r.text().await.expect("body").contains("<Token>"));
    drop(running);
}
