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
        ("put", "/api/v1/users/{id}/unit")
        | ("put", "/api/v1/records/{id}/unit")
        | ("put", "/api/v1/vaults/{id}/unit") => Some(json!({"unit": null})),
        ("post", "/api/v1/scans") => Some(json!({"targets": ["127.0.0.1"], "kinds": "unix"})),
        ("post", _) | ("put", _) | ("patch", _) => Some(json!({})),
        _ => None,
    };
    (concrete, body)
}

/// The body shapes every endpoint is called with: the role decides before any of them is
/// read, so an absent or empty body never slips past it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    /// The smallest valid request (no body where the endpoint takes none).
    Minimal,
    /// No body at all, whatever the endpoint takes.
    Absent,
    /// `{}`.
    EmptyObject,
}

impl Shape {
    const ALL: [Shape; 3] = [Shape::Minimal, Shape::Absent, Shape::EmptyObject];

    fn body(self, minimal: Option<Value>) -> Option<Value> {
        match self {
            Shape::Minimal => minimal,
            Shape::Absent => None,
            Shape::EmptyObject => Some(json!({})),
        }
    }
}

#[tokio::test]
async fn every_endpoint_as_every_role_with_every_body_shape() {
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
            for shape in Shape::ALL {
                n += 1;
                // A fresh session per call: some endpoints end sessions (logout, lock).
                let token = match caller.login() {
                    Some(u) => {
                        let pw = if u == PC_USER { PC_PASSWORD } else { PASSWORD };
                        Some(h.login(u, pw).await)
                    }
                    None => None,
                };
                let (path, minimal) = request(e.method, e.path, target, n);
                let body = shape.body(minimal);
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
                        "{} {} as {caller:?} with {shape:?} body: expected {}, got {} {}",
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
                            "{} {} as {caller:?} with {shape:?} body: refusal rule {:?}",
                            e.method,
                            e.path,
                            r.rule()
                        ));
                    }
                }
            }
        }
    }
    assert_eq!(
        allowed_calls + refused_calls,
        ENDPOINTS.len() * Caller::ALL.len() * Shape::ALL.len()
    );
    assert!(allowed_calls > 150 && refused_calls > 150);
    // A refused caller left no trace but their own sign-ins and self-service actions.
    let audit = h
        .call("get", "/api/v1/audit", Some(&pc), None)
        .await
        .expect_ok();
    for entry in audit.as_array().expect("audit array") {
        let actor = entry["actor"].as_str().unwrap_or("");
        let action = entry["action"].as_str().unwrap_or("");
        if ["sc", "rd"].contains(&actor)
            && !(action.starts_with("session.")
                || action.starts_with("password.")
                || action.starts_with("2fa."))
        {
            failures.push(format!("a {actor} call was audited: {entry}"));
        }
    }
    assert!(
        failures.is_empty(),
        "role matrix mismatches:\n{}",
        failures.join("\n")
    );
}

/// The hostile user's find: an empty PATCH against the Primary Contact returned their full
/// record and audited a `user.updated` to a Scanner and a Reader.
#[tokio::test]
async fn an_empty_patch_is_authorised_like_any_other() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.user(&pc, "sc", "scanner").await;
    h.user(&pc, "rd", "reader").await;
    h.user(&pc, "ua", "user_administrator").await;
    h.user(&pc, "m2", "manager").await;
    for who in ["sc", "rd"] {
        let t = h.login(who, PASSWORD).await;
        for body in [None, Some(json!({}))] {
            let r = h.call("patch", "/api/v1/users/alice", Some(&t), body).await;
            r.expect_refused(403, "role.forbidden");
            assert!(r.body.get("email").is_none(), "{}", r.body);
        }
    }
    // Six at once change nothing either.
    let sc = h.login("sc", PASSWORD).await;
    let patch =
        |body: Option<serde_json::Value>| h.call("patch", "/api/v1/users/alice", Some(&sc), body);
    let six = tokio::join!(
        patch(None),
        patch(Some(json!({}))),
        patch(None),
        patch(Some(json!({}))),
        patch(Some(json!({"email": "x@example.com"}))),
        patch(Some(json!({"nonsense": 1}))),
    );
    for r in [six.0, six.1, six.2, six.3, six.4, six.5] {
        r.expect_refused(403, "role.forbidden");
    }
    // Roles that may edit users still may not edit those above them, empty body or not.
    let ua = h.login("ua", PASSWORD).await;
    h.call("patch", "/api/v1/users/alice", Some(&ua), Some(json!({})))
        .await
        .expect_refused(403, "user.primary-contact-protected");
    h.call("patch", "/api/v1/users/m2", Some(&ua), Some(json!({})))
        .await
        .expect_refused(403, "role.target-forbidden");
    // Allowed to edit, but nothing to change: said so, and nothing audited.
    h.call("patch", "/api/v1/users/sc", Some(&pc), Some(json!({})))
        .await
        .expect_refused(400, "user.nothing-to-change");
    let actions = h.audit_actions(&pc).await;
    assert!(!actions.iter().any(|a| a == "user.updated"), "{actions:?}");
}

/// `GET /users/{id}` answers a caller who may not view users the same for an existing user
/// and a missing one; anyone still sees themself.
#[tokio::test]
async fn showing_a_user_does_not_tell_a_scanner_who_exists() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    let sc_id = h.user(&pc, "sc", "scanner").await;
    h.user(&pc, "rd", "reader").await;
    for who in ["sc", "rd"] {
        let t = h.login(who, PASSWORD).await;
        let mut answers = Vec::new();
        for key in ["alice", "nobody", "1", "999999", "rd", "sc2"] {
            let r = h
                .call("get", &format!("/api/v1/users/{key}"), Some(&t), None)
                .await;
            if key == who {
                continue;
            }
            answers.push((r.status.as_u16(), r.body.clone()));
        }
        let answers: Vec<_> = answers.into_iter().filter(|(s, _)| *s != 200).collect();
        assert!(answers.len() >= 5, "{answers:?}");
        for a in &answers {
            assert_eq!(a, &answers[0], "different answers: {answers:?}");
        }
        assert_eq!(answers[0].0, 403);
    }
    let t = h.login("sc", PASSWORD).await;
    for key in ["sc".to_string(), sc_id.to_string()] {
        let me = h
            .call("get", &format!("/api/v1/users/{key}"), Some(&t), None)
            .await
            .expect_ok();
        assert_eq!(me["username"], "sc");
    }
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
