//! Shared by the records and NCSM tests: appliances enrolled and approved over the real API
//! with test keys, the operator's `ncsm enable`, and scans of the database files.
#![allow(dead_code)]

pub mod served;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sealscan_protocols::envelope::PrivateKey;
use serde_json::{Value, json};
use std::path::Path;

pub const CONTROL: &str = env!("CARGO_BIN_EXE_sealscan-control");

/// Any JSON-over-HTTPS caller (the in-process harness or a client of the real binary).
pub trait Api {
    fn call_json(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> impl std::future::Future<Output = (u16, Value)>;
}

/// Enrolls an appliance with a fresh test key and approves it; returns its id and key.
pub async fn approved_appliance(api: &impl Api, manager: &str, name: &str) -> (String, PrivateKey) {
    let key = PrivateKey::generate().expect("key");
    let (s, tok) = api
        .call_json(
            "post",
            "/api/v1/appliances/tokens",
            Some(manager),
            Some(json!({"label": name})),
        )
        .await;
    assert!((200..300).contains(&s), "token: {tok}");
    let token = tok["token"].as_str().expect("token").to_string();
    let (s, enrolled) = api
        .call_json(
            "post",
            "/api/v1/appliance/enroll",
            None,
            Some(json!({"token": token, "name": name, "public_key": STANDARD.encode(key.public_key())})),
        )
        .await;
    assert!((200..300).contains(&s), "enroll: {enrolled}");
    let id = enrolled["appliance_id"].as_str().expect("id").to_string();
    let (s, approved) = api
        .call_json(
            "post",
            &format!("/api/v1/appliances/{id}/approve"),
            Some(manager),
            Some(json!({})),
        )
        .await;
    assert!((200..300).contains(&s), "approve: {approved}");
    (id, key)
}

/// The operator command, as an operator runs it.
pub fn ncsm_enable(data_dir: &Path) {
    let out = std::process::Command::new(CONTROL)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["ncsm", "enable"])
        .output()
        .expect("run sealscan-control ncsm enable");
    assert!(
        out.status.success(),
        "ncsm enable: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("NCSM is enabled"));
}

/// Every file of the database (main file, WAL, shared memory) that holds `needle`.
pub fn db_files_holding(data_dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    // A PostgreSQL store (SEALSCAN_TEST_STORE=postgres): everything pg_dump reads.
    if let Ok(url) = std::fs::read_to_string(data_dir.join("database.url")) {
        let out = std::process::Command::new("pg_dump")
            .args(["--data-only", "--dbname", url.trim()])
            .output()
            .expect("pg_dump (package postgresql-client)");
        assert!(out.status.success(), "pg_dump failed");
        if out.stdout.windows(needle.len()).any(|w| w == needle) {
            hits.push("the PostgreSQL database".to_string());
        }
        return hits;
    }
    for name in ["control.db", "control.db-wal", "control.db-shm"] {
        if let Ok(bytes) = std::fs::read(data_dir.join(name))
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            hits.push(name.to_string());
        }
    }
    hits
}

pub fn legacy(value: &str) -> Value {
    json!({"model": "legacy", "value": STANDARD.encode(value)})
}

pub fn unix_record(title: &str, ips: &[&str], password: &str) -> Value {
    json!({
        "kind": "unix", "title": title, "user": "scanuser", "ips": ips,
        "secrets": [{"field": "password", "value": legacy(password)}]
    })
}

/// Replaces a record's legacy ciphertext with 61 zero bytes, which no longer open.
pub fn damage_legacy_secret(data_dir: &Path, record_id: &str) {
    let postgres = data_dir.join("database.url").exists();
    let zeros = if postgres {
        "decode(repeat('00', 61), 'hex')"
    } else {
        "zeroblob(61)"
    };
    super::common::raw_sql(
        data_dir,
        &format!("UPDATE legacy_secrets SET ciphertext = {zeros} WHERE record_id = '{record_id}'"),
    );
}

/// The integer a `SELECT COUNT(*)...` answers, on either store.
pub fn raw_count(data_dir: &Path, sql: &str) -> i64 {
    super::common::raw_sql(data_dir, sql)
        .trim()
        .parse()
        .expect("a count")
}

/// A direct connection to the database, as a thief of the file (or a test) has it.
pub fn db(data_dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(data_dir.join("control.db")).expect("open db")
}
