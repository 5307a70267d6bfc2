mod common;

use common::*;
use sealscan_control::api::openapi::ENDPOINTS;
use serde_json::json;

#[tokio::test]
async fn https_with_generated_certificate_and_openapi_lists_every_endpoint() {
    let h = Harness::start().await;
    // The fingerprint printed at start is the SHA-256 of the certificate the client trusts.
    let pem = String::from_utf8(h.ca_pem.clone()).expect("utf8");
    let der = rustls_pemfile::certs(&mut pem.as_bytes())
        .next()
        .expect("one cert")
        .expect("valid pem");
    assert_eq!(
        sealscan_control::tls::fingerprint(der.as_ref()),
        h.server.tls.fingerprint
    );
    let doc = h
        .call("get", "/api/v1/openapi.json", None, None)
        .await
        .expect_ok();
    for e in ENDPOINTS {
        assert!(
            doc["paths"][e.path][e.method].is_object(),
            "{} {} missing from the OpenAPI document",
            e.method,
            e.path
        );
    }
    // Plain HTTP gets no answer from a TLS-only port.
    let plain = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{}/api/v1/openapi.json",
            h.server.addr.port()
        ))
        .send()
        .await;
    assert!(plain.is_err() || !plain.expect("resp").status().is_success());
}

#[tokio::test]
async fn operator_supplied_certificate_and_key() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let files = tempfile::tempdir().expect("tmp");
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("params")
        .signed_by(&leaf_key, &ca, &ca_key)
        .expect("leaf");
    let cert = files.path().join("server.pem");
    let key = files.path().join("server.key");
    std::fs::write(&cert, leaf.pem()).expect("write");
    std::fs::write(&key, leaf_key.serialize_pem()).expect("write");
    // A key others can read is refused, naming the file and its mode.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let data = tempfile::tempdir().expect("tmp");
    let err = sealscan_control::tls::load_or_create(data.path(), Some(&cert), Some(&key))
        .err()
        .expect("a world-readable key is refused")
        .to_string();
    assert!(
        err.contains(&key.display().to_string()) && err.contains("0644"),
        "{err}"
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let h = Harness::start_full(
        sealscan_control::model::Edition::Standard,
        Some((cert, key, ca.pem().into_bytes())),
    )
    .await;
    assert!(!h.server.tls.generated);
    assert!(!h.dir.path().join("tls/cert.pem").exists());
    assert_eq!(
        h.server.tls.fingerprint,
        sealscan_control::tls::fingerprint(leaf.der())
    );
    h.pc().await;
}

#[tokio::test]
async fn login_whoami_logout() {
    let h = Harness::start().await;
    let token = h.pc().await;
    let me = h
        .call("get", "/api/v1/session", Some(&token), None)
        .await
        .expect_ok();
    assert_eq!(me["user"]["username"], "alice");
    assert_eq!(me["user"]["primary_contact"], true);
    assert_eq!(me["client_ip"], "127.0.0.1");
    let out = h
        .call("delete", "/api/v1/session", Some(&token), None)
        .await;
    assert_eq!(out.status.as_u16(), 204);
    h.call("get", "/api/v1/session", Some(&token), None)
        .await
        .expect_refused(401, "auth.invalid-token");
    h.call("get", "/api/v1/session", None, None)
        .await
        .expect_refused(401, "auth.required");
    h.call("get", "/api/v1/session", Some("ssn_forged"), None)
        .await
        .expect_refused(401, "auth.invalid-token");
}

#[tokio::test]
async fn failed_logins_do_not_reveal_whether_the_user_exists() {
    let h = Harness::start().await;
    let unknown = h.login_reply("nobody", "Whatever1!x").await;
    let wrong = h.login_reply(PC_USER, "Whatever1!x").await;
    unknown.expect_refused(401, "login.failed");
    wrong.expect_refused(401, "login.failed");
    assert_eq!(unknown.body, wrong.body);
}

#[tokio::test]
async fn bad_requests_get_rule_named_errors_and_change_nothing() {
    let h = Harness::start().await;
    let token = h.pc().await;
    let r = h
        .call(
            "post",
            "/api/v1/users",
            Some(&token),
            Some(json!({"username": "x"})),
        )
        .await;
    assert_eq!(r.status.as_u16(), 422);
    assert_eq!(r.rule(), "request.malformed");
    let r = h
        .call(
            "put",
            "/api/v1/security",
            Some(&token),
            Some(json!({"session_timeout_minutes": 5})),
        )
        .await;
    r.expect_refused(400, "session-timeout.range");
    let r = h
        .call(
            "put",
            "/api/v1/security",
            Some(&token),
            Some(json!({"min_password_length": 12, "lockout_failed_logins": 1000})),
        )
        .await;
    r.expect_refused(400, "lockout.range");
    // Neither the valid field in the refused request nor anything else changed.
    let sec = h
        .call("get", "/api/v1/security", Some(&token), None)
        .await
        .expect_ok();
    assert_eq!(sec["security"]["session_timeout_minutes"], 60);
    assert_eq!(sec["security"]["min_password_length"], 8);
    assert_eq!(sec["security"]["lockout_failed_logins"], 0);
    h.call("get", "/api/v1/nothing-here", Some(&token), None)
        .await
        .expect_refused(404, "request.unknown-endpoint");
    h.call("delete", "/api/v1/users", Some(&token), None)
        .await
        .expect_refused(405, "request.method-not-allowed");
    let r = h
        .call(
            "post",
            "/api/v1/users",
            Some(&token),
            Some(json!({
                "username": "Bad Name", "first_name": "B", "last_name": "N",
                "email": "b@example.com", "role": "reader"
            })),
        )
        .await;
    r.expect_refused(400, "user.username-invalid");
    let users = h
        .call("get", "/api/v1/users", Some(&token), None)
        .await
        .expect_ok();
    assert_eq!(users.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn data_survives_a_restart_with_migrations_applied_once() {
    let h = Harness::start().await;
    let token = h.pc().await;
    h.user(&token, "bob", "scanner").await;
    let dir = h.dir;
    h.server.stop().await;
    let store = sealscan_control::server::open_store(dir.path()).expect("reopen");
    let version = store.schema_version().expect("version");
    assert!(version >= 2, "schema version {version}");
    drop(store);
    let again = sealscan_control::server::open_store(dir.path()).expect("reopen");
    assert_eq!(again.schema_version().expect("version"), version);
    let users = again.read(|tx| tx.list_users()).expect("users");
    assert_eq!(users.len(), 2);
    // WAL is SQLite's; a PostgreSQL store (SEALSCAN_TEST_STORE=postgres) has no such file.
    if again.dialect() == sealscan_control::store::Dialect::Sqlite {
        assert_eq!(journal_mode(dir.path()), "wal");
    }
}

fn journal_mode(dir: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(dir.join("control.db")).expect("open");
    conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode")
}

/// Every path routed in api/mod.rs is in the endpoint table (and so in the OpenAPI document
/// and the role matrix).
#[test]
fn every_routed_path_is_in_the_endpoint_table() {
    let src = include_str!("../src/api/mod.rs");
    let mut routed = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        let Some(start) = rest.find('"') else { break };
        let after = &rest[start + 1..];
        let Some(end) = after.find('"') else { break };
        routed.push(format!("/api/v1{}", &after[..end]));
    }
    assert!(routed.len() > 20, "{routed:?}");
    for path in routed {
        assert!(
            ENDPOINTS.iter().any(|e| e.path == path),
            "{path} is routed but missing from api::openapi::ENDPOINTS"
        );
    }
}
