//! What "API-only" restricts: an API-only account is a program's (its password may be the
//! never-expiring kind), so the decisions the seed gives to a person and the self-service
//! reset by email are refused to it; everything its role allows otherwise works.
mod common;
mod records_support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use records_support::*;
use sealscan_protocols::envelope::PrivateKey;
use serde_json::{Value, json};

impl Api for Harness {
    async fn call_json(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let r = self.call(method, path, token, body).await;
        (r.status.as_u16(), r.body)
    }
}

async fn pending_appliance(h: &Harness, manager: &str, name: &str) -> String {
    let tok = h
        .call(
            "post",
            "/api/v1/appliances/tokens",
            Some(manager),
            Some(json!({"label": name})),
        )
        .await
        .expect_ok();
    let key = PrivateKey::generate().expect("key");
    let enrolled = h
        .call(
            "post",
            "/api/v1/appliance/enroll",
            None,
            Some(json!({"token": tok["token"], "name": name,
                        "public_key": STANDARD.encode(key.public_key())})),
        )
        .await
        .expect_ok();
    enrolled["appliance_id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn api_only_accounts_cannot_make_a_persons_decisions() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.security(&pc, json!({"user_defined_passwords": true}))
        .await;
    h.call(
        "post",
        "/api/v1/users",
        Some(&pc),
        Some(
            json!({"username": "bot", "first_name": "Sync", "last_name": "Bot",
                    "email": "bot@example.com", "role": "manager", "api_only": true,
                    "password": PASSWORD}),
        ),
    )
    .await
    .expect_ok();
    let bot = h.login("bot", PASSWORD).await;

    // What its role allows otherwise works: users, appliances tokens, records.
    h.call("get", "/api/v1/users", Some(&bot), None)
        .await
        .expect_ok();
    let id = pending_appliance(&h, &bot, "scanner-1").await;
    h.call(
        "post",
        "/api/v1/records",
        Some(&bot),
        Some(unix_record("Linux A", &["10.1.0.1"], "Legacy-Pass-A")),
    )
    .await
    .expect_ok();

    // A person's decisions are refused, whatever the body.
    for body in [None, Some(json!({}))] {
        h.call(
            "post",
            &format!("/api/v1/appliances/{id}/approve"),
            Some(&bot),
            body,
        )
        .await
        .expect_refused(403, "api-only.interactive-only");
    }
    h.call(
        "put",
        "/api/v1/security/new-data-security-model",
        Some(&bot),
        Some(json!({"accepted": true})),
    )
    .await
    .expect_refused(403, "api-only.interactive-only");
    for path in ["/api/v1/ncsm/start", "/api/v1/ncsm/resume"] {
        let r = h.call("post", path, Some(&bot), None).await;
        // Reserved to the Primary Contact first; an API-only Primary Contact cannot exist.
        r.expect_refused(403, "role.primary-contact-only");
    }
    let listed = h
        .call("get", "/api/v1/appliances", Some(&pc), None)
        .await
        .expect_ok();
    assert!(listed.to_string().contains("pending"), "{listed}");
    // The same decision by a person goes through.
    h.call(
        "post",
        &format!("/api/v1/appliances/{id}/approve"),
        Some(&pc),
        None,
    )
    .await
    .expect_ok();

    // The Primary Contact is a person and cannot be made API-only.
    h.call(
        "patch",
        "/api/v1/users/alice",
        Some(&pc),
        Some(json!({"api_only": true})),
    )
    .await
    .expect_refused(409, "user.primary-contact-api-only");

    // Self-service reset by email: the same answer, but no email and an audit entry.
    let asked = h
        .call(
            "post",
            "/api/v1/password/forgot",
            None,
            Some(json!({"username": "bot"})),
        )
        .await;
    let unknown = h
        .call(
            "post",
            "/api/v1/password/forgot",
            None,
            Some(json!({"username": "nobody"})),
        )
        .await;
    assert_eq!((asked.status, &asked.body), (unknown.status, &unknown.body));
    let store = sealscan_control::server::open_store(h.dir.path()).expect("store");
    let mails = store.read(|tx| tx.list_outbox()).expect("outbox");
    assert!(
        !mails
            .iter()
            .any(|m| m.to == "bot@example.com" && m.kind == "password_reset"),
        "an API-only account got a reset email"
    );
    assert!(
        h.audit_actions(&pc)
            .await
            .iter()
            .any(|a| a == "password.reset-refused")
    );
    // A token issued before the account became API-only no longer resets it.
    h.user(&pc, "svc", "scanner").await;
    h.call(
        "post",
        "/api/v1/password/forgot",
        None,
        Some(json!({"username": "svc"})),
    )
    .await;
    let token = store
        .read(|tx| tx.list_outbox())
        .expect("outbox")
        .into_iter()
        .find(|m| m.to == "svc@example.com")
        .and_then(|m| {
            m.body
                .split_whitespace()
                .find(|w| w.starts_with("rst_"))
                .map(String::from)
        })
        .expect("token");
    h.call(
        "patch",
        "/api/v1/users/svc",
        Some(&pc),
        Some(json!({"api_only": true})),
    )
    .await
    .expect_ok();
    h.call(
        "post",
        "/api/v1/password/reset",
        None,
        Some(json!({"token": token, "new_password": "Zq8!pLm3#Tv"})),
    )
    .await
    .expect_refused(403, "api-only.interactive-only");
    h.login("svc", PASSWORD).await;
}
