//! The NCSM migration survives a kill -9 of the real server binary in the middle of it:
//! after a restart and Resume every record is migrated exactly once and no secret is lost,
//! and no plaintext secret is in the database files.
mod common;
mod records_support;

use common::cli::PW;
use records_support::*;
use sealscan_protocols::appliance::SecretFieldName;
use sealscan_protocols::envelope::{self, Binding, Envelope};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Served {
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
        let resp = req.send().await.expect("request reaches the server");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &std::path::Path, slow_ms: Option<u64>) -> Served {
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
            .expect("the server prints its address")
            .expect("line");
        if let Some(rest) = line.strip_prefix("listening on ") {
            break rest.trim_end_matches("/api/v1").to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let ca = std::fs::read(data.join("tls/cert.pem")).expect("cert");
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("ca"))
        .build()
        .expect("client");
    Served {
        child,
        api: Http { base, client },
    }
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
async fn kill_9_during_migration_then_resume_migrates_every_record_exactly_once() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let init = common::cli::init(&data, &format!("{PW}\n"));
    assert!(init.status.success(), "init: {init:?}");
    ncsm_enable(&data);

    const N: usize = 8;
    let secrets: Vec<String> = (0..N).map(|i| format!("Crash-Secret-{i}-q7Zp")).collect();
    let first = serve(&data, Some(250));
    let token = login(&first.api).await;
    let mut ids = Vec::new();
    for (i, secret) in secrets.iter().enumerate() {
        let (s, v) = first
            .api
            .call_json(
                "post",
                "/api/v1/records",
                Some(&token),
                Some(unix_record(
                    &format!("host {i}"),
                    &[&format!("10.20.0.{i}")],
                    secret,
                )),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        ids.push(v["id"].as_str().expect("id").to_string());
    }
    let (_, key) = approved_appliance(&first.api, &token, "scanner-1").await;
    assert_eq!(status(&first.api, &token).await["to_migrate"]["total"], N);
    let (s, v) = first
        .api
        .call_json("post", "/api/v1/ncsm/start", Some(&token), None)
        .await;
    assert_eq!(s, 202, "{v}");
    // Kill once some, but not all, records moved: the delay makes each record take a while.
    loop {
        let v = status(&first.api, &token).await;
        let migrated = v["migrated"].as_u64().unwrap_or(0);
        assert!(
            migrated < N as u64,
            "the migration finished before the kill: {v}"
        );
        if migrated >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let mut first = first;
    first.child.kill().expect("kill -9"); // SIGKILL: no shutdown code runs.
    first.child.wait().expect("reaped");
    drop(first);

    // Each record is either untouched (legacy) or fully migrated: never half of each.
    let conn = db(&data);
    for id in &ids {
        let count = |table: &str| -> i64 {
            conn.query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE record_id = ?1"),
                [id],
                |r| r.get(0),
            )
            .expect("count")
        };
        assert_eq!(
            count("legacy_secrets") + count("sealed_secrets"),
            1,
            "record {id}"
        );
    }
    drop(conn);

    let second = serve(&data, None);
    let token = login(&second.api).await;
    let v = status(&second.api, &token).await;
    assert_eq!(v["state"], "migrating", "{v}");
    assert_eq!(v["running"], false);
    let (s, v) = second
        .api
        .call_json("post", "/api/v1/ncsm/resume", Some(&token), None)
        .await;
    assert_eq!(s, 202, "{v}");
    let done = loop {
        let v = status(&second.api, &token).await;
        if v["running"] == false {
            break v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    assert_eq!(done["state"], "complete", "{done}");
    assert_eq!(done["migrated"], N);
    drop(second);

    let conn = db(&data);
    let legacy_left: i64 = conn
        .query_row("SELECT COUNT(*) FROM legacy_secrets", [], |r| r.get(0))
        .expect("count");
    assert_eq!(legacy_left, 0);
    for (id, secret) in ids.iter().zip(&secrets) {
        let migrations: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'ncsm.record-migrated' AND target = ?1",
                [format!("unix:{id}")],
                |r| r.get(0),
            )
            .expect("audit");
        assert_eq!(migrations, 1, "record {id} migrated {migrations} times");
        let text: String = conn
            .query_row(
                "SELECT envelope FROM sealed_secrets WHERE record_id = ?1 AND field = 'password'",
                [id],
                |r| r.get(0),
            )
            .expect("envelope");
        let fields = Binding::for_record(
            "unix",
            id,
            SecretFieldName::Password,
            "scanuser",
            None,
            false,
        );
        let env = Envelope::from_text(&text).expect("parses");
        let plain = envelope::open(&env, &fields, key.as_bytes()).expect("opens");
        assert_eq!(plain.expose(), secret.as_bytes(), "secret of {id} kept");
    }
    drop(conn);
    for secret in &secrets {
        assert!(
            db_files_holding(&data, secret.as_bytes()).is_empty(),
            "{secret} is in the database files"
        );
    }
}
