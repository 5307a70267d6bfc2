//! Every endpoint, called as every role and unauthenticated: allowed or refused by role, as
//! the endpoint table (the same one the OpenAPI document is built from) states. Unit Managers
//! appear twice: without and with the records permission a Manager grants.
mod common;

use common::*;
use sealscan_control::api::openapi::ENDPOINTS;
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Caller {
    Anonymous,
    PrimaryContact,
    Manager,
    UnitManager,
    UnitManagerWithRecords,
    Scanner,
    Reader,
    UserAdministrator,
}

impl Caller {
    const ALL: [Caller; 8] = [
        Caller::Anonymous,
        Caller::PrimaryContact,
        Caller::Manager,
        Caller::UnitManager,
        Caller::UnitManagerWithRecords,
        Caller::Scanner,
        Caller::Reader,
        Caller::UserAdministrator,
    ];

    fn login(self) -> Option<&'static str> {
        match self {
            Caller::Anonymous => None,
            Caller::PrimaryContact => Some(PC_USER),
            Caller::Manager => Some("m2"),
            Caller::UnitManager => Some("um"),
            Caller::UnitManagerWithRecords => Some("umr"),
            Caller::Scanner => Some("sc"),
            Caller::Reader => Some("rd"),
            Caller::UserAdministrator => Some("ua"),
        }
    }

    /// The access-table entries that admit this caller.
    fn roles(self) -> &'static [&'static str] {
        match self {
            Caller::Anonymous => &[],
            Caller::PrimaryContact | Caller::Manager => &["manager"],
            Caller::UnitManager => &["unit_manager"],
            Caller::UnitManagerWithRecords => {
                &["unit_manager", "unit_manager with records permission"]
            }
            Caller::Scanner => &["scanner"],
            Caller::Reader => &["reader"],
            Caller::UserAdministrator => &["user_administrator"],
        }
    }
}

/// What the table says about one caller.
fn expected_allowed(access: &str, caller: Caller) -> bool {
    match access {
        "public" => true,
        "session" => caller != Caller::Anonymous,
        "primary contact" => caller == Caller::PrimaryContact,
        roles => roles.split(", ").any(|r| caller.roles().contains(&r)),
    }
}

/// A valid request for each endpoint; `n` keeps created names unique.
fn request(method: &str, path: &str, target: i64, n: usize) -> (String, Option<Value>) {
    let concrete = path.replace("{id}", &target.to_string());
    let body = match (method, path) {
        ("post", "/api/v1/session") => Some(json!({"username": "sc", "password": PASSWORD})),
        ("post", "/api/v1/password/check") => Some(json!({"password": "Abc"})),
        ("post", "/api/v1/password/change") => {
            Some(json!({"current_password": "Wrong-1x", "new_password": "Zq8!pLm3#Tv"}))
        }
        ("post", "/api/v1/password/forgot") => Some(json!({"username": "tg"})),
        ("post", "/api/v1/password/reset") => Some(json!({"token": "rst_unknown"})),
        ("post", "/api/v1/2fa/confirm") => Some(json!({"code": "000000"})),
        ("post", "/api/v1/users") => Some(json!({
            "username": format!("new{n}"), "first_name": "New", "last_name": "User",
            "email": "new@example.com", "role": "reader", "password": "Zq8!pLm3#Tv"
        })),
        ("patch", "/api/v1/users/{id}") => Some(json!({"first_name": "Target"})),
        ("post", "/api/v1/users/{id}/reset-password") => Some(json!({"password": "Zq8!pLm3#Tv"})),
        ("put", "/api/v1/users/{id}/role") => Some(json!({"role": "scanner"})),
        ("put", "/api/v1/users/{id}/external-id-permission") => Some(json!({"granted": false})),
        ("put", "/api/v1/users/{id}/records-permission") => Some(json!({"granted": false})),
        ("put", "/api/v1/security") => Some(json!({})),
        ("put", "/api/v1/security/allowlist") => Some(json!({"enabled": false, "entries": []})),
        ("put", "/api/v1/security/external-ids") => Some(json!({"enabled": true})),
        ("post", "/api/v1/security/never-expire-agreement") => Some(json!({"accept": false})),
        ("put", "/api/v1/security/new-data-security-model") => Some(json!({"accepted": true})),
        ("post", "/api/v1/scans") => Some(json!({"targets": ["127.0.0.1"], "kinds": "unix"})),
        ("post", _) | ("put", _) | ("patch", _) => Some(json!({})),
        _ => None,
    };
    (concrete, body)
}

#[tokio::test]
async fn every_endpoint_as_every_role() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    for (name, role) in [
        ("m2", "manager"),
        ("um", "unit_manager"),
        ("sc", "scanner"),
        ("rd", "reader"),
        ("ua", "user_administrator"),
    ] {
        h.user(&pc, name, role).await;
    }
    h.user(&pc, "umr", "unit_manager").await;
    h.call(
        "put",
        "/api/v1/users/umr/records-permission",
        Some(&pc),
        Some(json!({"granted": true})),
    )
    .await
    .expect_ok();
    let target = h.user(&pc, "tg", "scanner").await;

    let mut n = 0;
    let mut failures = Vec::new();
    let (mut allowed_calls, mut refused_calls) = (0, 0);
    for e in ENDPOINTS {
        for caller in Caller::ALL {
            n += 1;
            // A fresh session per call: some endpoints end sessions (logout, lock).
            let token = match caller.login() {
                Some(u) => {
                    let pw = if u == PC_USER { PC_PASSWORD } else { PASSWORD };
                    Some(h.login(u, pw).await)
                }
                None => None,
            };
            let (path, body) = request(e.method, e.path, target, n);
            let r = h.call(e.method, &path, token.as_deref(), body).await;
            // Undo what would disturb the next calls.
            if e.path.ends_with("/lock") && r.ok() {
                h.call(
                    "post",
                    &format!("/api/v1/users/{target}/unlock"),
                    Some(&pc),
                    None,
                )
                .await
                .expect_ok();
            }
            let refused_by_role = r.status.as_u16() == 401
                || (r.status.as_u16() == 403 && r.rule().starts_with("role."));
            assert_ne!(
                r.rule(),
                "request.unknown-endpoint",
                "{} {} is not routed",
                e.method,
                e.path
            );
            assert_ne!(
                r.status.as_u16(),
                405,
                "{} {} is not routed",
                e.method,
                e.path
            );
            let allowed = expected_allowed(e.access, caller);
            if allowed {
                allowed_calls += 1;
            } else {
                refused_calls += 1;
            }
            if allowed == refused_by_role {
                failures.push(format!(
                    "{} {} as {caller:?}: expected {}, got {} {}",
                    e.method,
                    e.path,
                    if allowed { "allowed" } else { "refused" },
                    r.status,
                    r.body
                ));
            }
            if !allowed {
                let expected_rule = if caller == Caller::Anonymous {
                    "auth.required"
                } else {
                    "role."
                };
                if !r.rule().starts_with(expected_rule) {
                    failures.push(format!(
                        "{} {} as {caller:?}: refusal rule {:?}",
                        e.method,
                        e.path,
                        r.rule()
                    ));
                }
            }
        }
    }
    assert_eq!(
        allowed_calls + refused_calls,
        ENDPOINTS.len() * Caller::ALL.len()
    );
    assert!(allowed_calls > 50 && refused_calls > 50);
    assert!(
        failures.is_empty(),
        "role matrix mismatches:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn unit_managers_and_user_admins_cannot_touch_managers() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    let m2 = h.user(&pc, "m2", "manager").await;
    h.user(&pc, "um", "unit_manager").await;
    h.user(&pc, "ua", "user_administrator").await;
    let um = h.login("um", PASSWORD).await;
    let ua = h.login("ua", PASSWORD).await;
    h.call("post", &format!("/api/v1/users/{m2}/lock"), Some(&um), None)
        .await
        .expect_refused(403, "role.target-forbidden");
    h.call(
        "put",
        "/api/v1/users/ua/role",
        Some(&ua),
        Some(json!({"role": "manager"})),
    )
    .await
    .expect_refused(403, "role.target-forbidden");
    // A Manager who is not the Primary Contact cannot lock or demote the Primary Contact.
    let m2t = h.login("m2", PASSWORD).await;
    h.call("post", "/api/v1/users/alice/lock", Some(&m2t), None)
        .await
        .expect_refused(403, "user.primary-contact-protected");
    h.call(
        "put",
        "/api/v1/users/alice/role",
        Some(&m2t),
        Some(json!({"role": "reader"})),
    )
    .await
    .expect_refused(403, "user.primary-contact-protected");
    let alice = h.user_json(&pc, "alice").await;
    assert_eq!(alice["role"], "manager");
    assert_eq!(alice["locked"], false);
}
