//! Replicas of the real `sealscan-control serve` binary on one real PostgreSQL (tests/peers):
//! the NCSM migration runs on one replica at a time (a session advisory lock), and when the
//! replica running it is SIGKILLed halfway, Resume on another continues it, every record
//! migrated exactly once.
mod common;
mod records_support;

use common::cli::PW;
use records_support::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Replica {
    child: Child,
    api: Http,
}

struct Http {
    base: String,
    client: reqwest::Client,
}

impl Api for Http {
    async fn call_json(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("m");
        let mut req = self.client.request(m, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request reaches the replica");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path, slow_ms: Option<u64>) -> Replica {
    let mut cmd = Command::new(CONTROL);
    cmd.arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(ms) = slow_ms {
        cmd.env(sealscan_control::ncsm::SLOW_ENV, ms.to_string());
    }
    let mut child = cmd.spawn().expect("spawn sealscan-control serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("the replica prints its address")
            .expect("line");
        if let Some(rest) = line.strip_prefix("listening on ") {
            break rest.trim_end_matches("/api/v1").to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let ca = std::fs::read(data.join("tls/cert.pem")).expect("cert");
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("ca"))
        .build()
        .expect("client");
    Replica {
        child,
        api: Http { base, client },
    }
}

/// Two data directories on one new database, as an operator sets up two replicas: the same
/// `database.url`, data key and certificate (the second a copy of the first).
fn two_data_dirs(tmp: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let url = sealscan_test_peers::postgres::shared().create_database();
    let a = tmp.join("a");
    sealscan_control::datadir::create(&a).expect("data dir");
    sealscan_control::datadir::set_database(&a, &url).expect("database.url");
    let init = common::cli::init(&a, &format!("{PW}\n"));
    assert!(init.status.success(), "init: {init:?}");
    ncsm_enable(&a);
    let b = tmp.join("b");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(&a)
        .arg(&b)
        .status()
        .expect("cp");
    assert!(copied.success(), "copying the data directory");
    (a, b)
}

async fn login(api: &Http) -> String {
    let (s, v) = api
        .call_json(
            "post",
            "/api/v1/session",
            None,
            Some(json!({"username": "alice", "password": PW})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    v["token"].as_str().expect("token").to_string()
}

async fn status(api: &Http, token: &str) -> Value {
    let (s, v) = api
        .call_json("get", "/api/v1/ncsm", Some(token), None)
        .await;
    assert_eq!(s, 200, "{v}");
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn ncsm_migration_runs_on_one_replica_and_resumes_on_another_after_sigkill() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (data_a, data_b) = two_data_dirs(tmp.path());
    let a = serve(&data_a, Some(250));
    let b = serve(&data_b, None);
    let token = login(&a.api).await;

    const N: usize = 8;
    let mut ids = Vec::new();
    for i in 0..N {
        let (s, v) = a
            .api
            .call_json(
                "post",
                "/api/v1/records",
                Some(&token),
                Some(unix_record(
                    &format!("host {i}"),
                    &[&format!("10.30.0.{i}")],
                    &format!("Replica-Secret-{i}-w4Rt"),
                )),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        ids.push(v["id"].as_str().expect("id").to_string());
    }
    approved_appliance(&a.api, &token, "scanner-1").await;
    let (s, v) = a
        .api
        .call_json("post", "/api/v1/ncsm/start", Some(&token), None)
        .await;
    assert_eq!(s, 202, "{v}");

    // The session made on A is valid on B; B sees A's progress.
    loop {
        let v = status(&b.api, &token).await;
        let migrated = v["migrated"].as_u64().unwrap_or(0);
        assert!(
            migrated < N as u64,
            "finished before the test got going: {v}"
        );
        if migrated >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Resume on B while A runs: B leaves it to A (the lock is A's).
    let (s, v) = b
        .api
        .call_json("post", "/api/v1/ncsm/resume", Some(&token), None)
        .await;
    assert_eq!(s, 202, "{v}");
    loop {
        let v = status(&b.api, &token).await;
        let migrated = v["migrated"].as_u64().unwrap_or(0);
        assert!(migrated < N as u64, "A finished before the kill: {v}");
        if migrated >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut a = a;
    a.child.kill().expect("kill -9"); // SIGKILL: no shutdown code runs.
    a.child.wait().expect("reaped");
    drop(a);

    // Resume on B continues it. PostgreSQL ends A's lock when it sees A's connection close;
    // until then B's run finds the lock held and leaves, so ask again until it runs.
    let deadline = Instant::now() + Duration::from_secs(20);
    let done = loop {
        let (s, v) = b
            .api
            .call_json("post", "/api/v1/ncsm/resume", Some(&token), None)
            .await;
        assert_eq!(s, 202, "{v}");
        let v = loop {
            let v = status(&b.api, &token).await;
            if v["running"] == false {
                break v;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        if v["state"] == "complete" {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "B never took the migration over: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(done["migrated"], N, "{done}");
    drop(b);

    assert_eq!(raw_count(&data_b, "SELECT COUNT(*) FROM legacy_secrets"), 0);
    for id in &ids {
        let migrated = raw_count(
            &data_b,
            &format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'ncsm.record-migrated' \
                 AND target = 'unix:{id}'"
            ),
        );
        assert_eq!(migrated, 1, "record {id} migrated {migrated} times");
        let sealed = raw_count(
            &data_b,
            &format!("SELECT COUNT(*) FROM sealed_secrets WHERE record_id = '{id}'"),
        );
        assert_eq!(sealed, 1, "record {id}");
    }
    // Only the run that held the lock to the end finished: B's first Resume, while A held
    // it, ran nothing.
    let finished = raw_count(
        &data_b,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'ncsm.migration-finished'",
    );
    assert_eq!(finished, 1, "the migration finished {finished} times");
}
