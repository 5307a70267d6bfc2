//! Password rules at the HTTP level: complexity (the seed's own examples), generated
//! passwords, forced change, lockout and reactivation, expiry with notices, resets.
mod common;

use common::*;
use serde_json::{Value, json};

const DAY: i64 = 86_400;

fn violation_rules(v: &Value) -> Vec<String> {
    v["error"]["details"]["violations"]
        .as_array()
        .or_else(|| v["violations"].as_array())
        .map(|a| {
            a.iter()
                .map(|x| x["rule"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn john(password: &str) -> Value {
    json!({"username": "jdoe", "first_name": "John", "last_name": "Doe",
           "email": "john@example.com", "role": "scanner", "password": password})
}

#[tokio::test]
async fn seed_complexity_examples_are_refused_for_john_doe() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.security(&pc, json!({"user_defined_passwords": true}))
        .await;
    let r = h
        .call(
            "post",
            "/api/v1/users",
            Some(&pc),
            Some(john("88johnab3!e")),
        )
        .await;
    assert_eq!(r.status.as_u16(), 422);
    assert!(
        violation_rules(&r.body).contains(&"password.first-name".to_string()),
        "{}",
        r.body
    );
    let r = h
        .call(
            "post",
            "/api/v1/users",
            Some(&pc),
            Some(john("doe!6209ad#")),
        )
        .await;
    assert_eq!(r.status.as_u16(), 422);
    assert!(
        violation_rules(&r.body).contains(&"password.last-name".to_string()),
        "{}",
        r.body
    );
    for run in ["aaa", "222"] {
        let r = h
            .call(
                "post",
                "/api/v1/users",
                Some(&pc),
                Some(john(&format!("Q7!k{run}Wp"))),
            )
            .await;
        r.expect_refused(422, "password.three-identical");
    }
    for run in ["abc", "cba", "xyz", "zyx", "012", "123", "321", "210"] {
        let r = h
            .call(
                "post",
                "/api/v1/users",
                Some(&pc),
                Some(john(&format!("Q7!k{run}Wp"))),
            )
            .await;
        r.expect_refused(422, "password.three-sequential");
        // The same checker, exposed for other passwords.
        let c = h
            .call(
                "post",
                "/api/v1/password/check",
                Some(&pc),
                Some(json!({"password": format!("Q7!k{run}Wp")})),
            )
            .await
            .expect_ok();
        assert_eq!(c["acceptable"], false);
        assert!(violation_rules(&c).contains(&"password.three-sequential".to_string()));
    }
    h.call("post", "/api/v1/users", Some(&pc), Some(john("Tr7!kq9")))
        .await
        .expect_refused(422, "password.min-length");
    // None of the refusals created the user.
    h.call("get", "/api/v1/users/jdoe", Some(&pc), None)
        .await
        .expect_refused(404, "user.not-found");
    // A Manager raises the minimum; 9 characters are then too few.
    h.security(&pc, json!({"min_password_length": 12})).await;
    h.call("post", "/api/v1/users", Some(&pc), Some(john("Tr7!kq9Lm")))
        .await
        .expect_refused(422, "password.min-length");
    h.call(
        "put",
        "/api/v1/security",
        Some(&pc),
        Some(json!({"min_password_length": 7})),
    )
    .await
    .expect_refused(400, "password.min-length-range");
    let ok = h
        .call(
            "post",
            "/api/v1/users",
            Some(&pc),
            Some(john("Tr7!kq9Lm#Wx")),
        )
        .await
        .expect_ok();
    assert_eq!(ok["user"]["username"], "jdoe");
    assert!(ok["generated_password"].is_null());
    let c = h
        .call(
            "post",
            "/api/v1/password/check",
            Some(&pc),
            Some(json!({"password": "88johnab3!e", "first_name": "John", "last_name": "Doe"})),
        )
        .await
        .expect_ok();
    assert!(violation_rules(&c).contains(&"password.first-name".to_string()));
}

#[tokio::test]
async fn without_user_defined_passwords_the_control_plane_generates_them() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    let body = json!({"username": "gen", "first_name": "Gen", "last_name": "Erated",
                      "email": "gen@example.com", "role": "reader"});
    let r = h
        .call("post", "/api/v1/users", Some(&pc), Some(body.clone()))
        .await
        .expect_ok();
    let generated = r["generated_password"]
        .as_str()
        .expect("generated once")
        .to_string();
    let c = h
        .call(
            "post",
            "/api/v1/password/check",
            Some(&pc),
            Some(json!({"password": generated, "first_name": "Gen", "last_name": "Erated"})),
        )
        .await
        .expect_ok();
    assert_eq!(c["acceptable"], true);
    h.login("gen", &generated).await;
    let mut with_pw = body;
    with_pw["username"] = json!("gen2");
    with_pw["password"] = json!(PASSWORD);
    h.call("post", "/api/v1/users", Some(&pc), Some(with_pw))
        .await
        .expect_refused(422, "password.user-defined-off");
    // The generated password is not stored anywhere readable.
    for bytes in h.stored_bytes() {
        assert!(
            !bytes
                .windows(generated.len())
                .any(|w| w == generated.as_bytes())
        );
    }
}

#[tokio::test]
async fn forced_change_at_first_login() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.security(&pc, json!({"force_change_first_login": true}))
        .await;
    h.user(&pc, "newbie", "reader").await;
    h.login_reply("newbie", PASSWORD)
        .await
        .expect_refused(403, "password.change-required");
    let weak = h
        .call(
            "post",
            "/api/v1/session",
            None,
            Some(json!({"username": "newbie", "password": PASSWORD, "new_password": "abc"})),
        )
        .await;
    assert_eq!(weak.status.as_u16(), 422);
    // Still required: the refused attempt changed nothing.
    h.login_reply("newbie", PASSWORD)
        .await
        .expect_refused(403, "password.change-required");
    let same = h
        .call(
            "post",
            "/api/v1/session",
            None,
            Some(json!({"username": "newbie", "password": PASSWORD, "new_password": PASSWORD})),
        )
        .await;
    same.expect_refused(422, "password.reuse");
    let ok = h
        .call(
            "post",
            "/api/v1/session",
            None,
            Some(
                json!({"username": "newbie", "password": PASSWORD, "new_password": "Hb6#xTq2!Vm"}),
            ),
        )
        .await
        .expect_ok();
    assert_eq!(ok["user"]["must_change_password"], false);
    h.login_reply("newbie", PASSWORD)
        .await
        .expect_refused(401, "login.failed");
    h.login("newbie", "Hb6#xTq2!Vm").await;
}

#[tokio::test]
async fn lockout_after_failed_logins_and_reactivation_by_manager_or_unit_manager_only() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.security(&pc, json!({"lockout_failed_logins": 3})).await;
    h.user(&pc, "victim", "scanner").await;
    h.user(&pc, "um", "unit_manager").await;
    h.user(&pc, "ua", "user_administrator").await;
    let victim_session = h.login("victim", PASSWORD).await;
    for _ in 0..3 {
        h.login_reply("victim", "Nope!123x")
            .await
            .expect_refused(401, "login.failed");
    }
    h.login_reply("victim", PASSWORD)
        .await
        .expect_refused(403, "account.locked");
    // The live session ends with the lock.
    let r = h
        .call("get", "/api/v1/session", Some(&victim_session), None)
        .await;
    assert_eq!(r.status.as_u16(), 401);
    let ua = h.login("ua", PASSWORD).await;
    h.call("post", "/api/v1/users/victim/unlock", Some(&ua), None)
        .await
        .expect_refused(403, "role.forbidden");
    assert_eq!(h.user_json(&pc, "victim").await["locked"], true);
    let um = h.login("um", PASSWORD).await;
    let v = h
        .call("post", "/api/v1/users/victim/unlock", Some(&um), None)
        .await
        .expect_ok();
    assert_eq!(v["locked"], false);
    h.login("victim", PASSWORD).await;
    let actions = h.audit_actions(&pc).await;
    assert!(actions.contains(&"user.locked".to_string()));
    assert!(actions.contains(&"user.unlocked".to_string()));
    assert!(actions.contains(&"security.changed".to_string()));
}

#[tokio::test]
async fn expiry_in_months_with_notice_emails_and_change_at_login() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.security(
        &pc,
        json!({"password_expiry_months": 3, "expiry_notice_days": 7,
                           "expiry_notice_repeat_days": 2}),
    )
    .await;
    h.user(&pc, "exp", "reader").await;
    // Created at 2026-01-01; 3 months later is 2026-04-01.
    let expires = T0 + (31 + 28 + 31) * DAY;
    assert_eq!(
        h.user_json(&pc, "exp").await["password_expires_at"],
        "2026-04-01T00:00:00Z"
    );
    let notices = |h: &Harness| {
        let store = sealscan_control::server::open_store(h.dir.path()).expect("store");
        store
            .read(|tx| tx.list_outbox())
            .expect("outbox")
            .into_iter()
            .filter(|m| m.kind == "password_expiry_notice" && m.to == "exp@example.com")
            .count()
    };
    h.clock.set(expires - 10 * DAY);
    let r = h.login_reply("exp", PASSWORD).await.expect_ok();
    assert!(r["password_expiry_notice"].is_null());
    assert_eq!(notices(&h), 0);
    h.clock.set(expires - 5 * DAY);
    let r = h.login_reply("exp", PASSWORD).await.expect_ok();
    assert_eq!(r["password_expiry_notice"]["days_left"], 5);
    assert_eq!(notices(&h), 1);
    h.clock.advance(3600);
    h.login_reply("exp", PASSWORD).await.expect_ok();
    assert_eq!(
        notices(&h),
        1,
        "the email repeats every 2 days, not every login"
    );
    h.clock.advance(2 * DAY);
    h.login_reply("exp", PASSWORD).await.expect_ok();
    assert_eq!(notices(&h), 2);
    // Managers read the outbox through the API too.
    let pc = h.pc().await;
    let outbox = h
        .call("get", "/api/v1/outbox", Some(&pc), None)
        .await
        .expect_ok();
    assert!(
        outbox
            .as_array()
            .expect("list")
            .iter()
            .any(|m| m["to"] == "exp@example.com")
    );

    h.clock.set(expires + DAY);
    // The Primary Contact's password expired too; they change it at login.
    let pc = h
        .call(
            "post",
            "/api/v1/session",
            None,
            Some(
                json!({"username": PC_USER, "password": PC_PASSWORD, "new_password": "Nw3!pc8#Qz"}),
            ),
        )
        .await
        .expect_ok()["token"]
        .as_str()
        .expect("token")
        .to_string();
    h.security(&pc, json!({"change_expired_at_login": false}))
        .await;
    h.login_reply("exp", PASSWORD)
        .await
        .expect_refused(403, "password.expired");
    h.security(&pc, json!({"change_expired_at_login": true}))
        .await;
    h.login_reply("exp", PASSWORD)
        .await
        .expect_refused(403, "password.expired");
    let ok = h
        .call(
            "post",
            "/api/v1/session",
            None,
            Some(json!({"username": "exp", "password": PASSWORD, "new_password": "Hb6#xTq2!Vm"})),
        )
        .await
        .expect_ok();
    assert_eq!(ok["user"]["password_expires_at"], "2026-07-02T00:00:00Z");
}

#[tokio::test]
async fn reset_by_an_authorised_user_and_self_service_forgot_password() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.user(&pc, "sam", "scanner").await;
    h.user(&pc, "ua", "user_administrator").await;
    let ua = h.login("ua", PASSWORD).await;
    h.call(
        "post",
        "/api/v1/users/sam/reset-password",
        Some(&ua),
        Some(json!({"password": "Wx4!rTq8#Zp"})),
    )
    .await
    .expect_ok();
    h.login_reply("sam", PASSWORD)
        .await
        .expect_refused(401, "login.failed");
    h.login_reply("sam", "Wx4!rTq8#Zp")
        .await
        .expect_refused(403, "password.change-required");

    // Forgot password: the same answer whether or not the user exists.
    let known = h
        .call(
            "post",
            "/api/v1/password/forgot",
            None,
            Some(json!({"username": "sam"})),
        )
        .await;
    let unknown = h
        .call(
            "post",
            "/api/v1/password/forgot",
            None,
            Some(json!({"username": "ghost"})),
        )
        .await;
    assert_eq!(known.status.as_u16(), 202);
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    // The operator reads the token from the outbox; the API withholds it from Managers.
    let store = sealscan_control::server::open_store(h.dir.path()).expect("store");
    let mail = store
        .read(|tx| tx.list_outbox())
        .expect("outbox")
        .into_iter()
        .find(|m| m.kind == "password_reset")
        .expect("reset email");
    assert_eq!(mail.to, "sam@example.com");
    let token = mail
        .body
        .split_whitespace()
        .find(|w| w.starts_with("rst_"))
        .expect("token")
        .to_string();
    let api_outbox = h
        .call("get", "/api/v1/outbox", Some(&pc), None)
        .await
        .expect_ok();
    assert!(!api_outbox.to_string().contains(&token));

    let weak = h
        .call(
            "post",
            "/api/v1/password/reset",
            None,
            Some(json!({"token": token, "new_password": "weak"})),
        )
        .await;
    assert_eq!(weak.status.as_u16(), 422);
    // A refused password leaves the token usable.
    h.call(
        "post",
        "/api/v1/password/reset",
        None,
        Some(json!({"token": token, "new_password": "Pk3@vNs7!Yq"})),
    )
    .await
    .expect_ok();
    h.login("sam", "Pk3@vNs7!Yq").await;
    h.call(
        "post",
        "/api/v1/password/reset",
        None,
        Some(json!({"token": token, "new_password": "Pk3@vNs7!Yz"})),
    )
    .await
    .expect_refused(400, "password-reset.token-invalid");
}

#[tokio::test]
async fn the_server_sweep_queues_notices_without_a_login() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.security(
        &pc,
        json!({"password_expiry_months": 1, "expiry_notice_days": 3,
                           "expiry_notice_repeat_days": 0}),
    )
    .await;
    h.user(&pc, "quiet", "reader").await;
    let expires = T0 + 31 * DAY;
    let sweep = |h: &Harness| {
        h.server
            .state
            .store
            .write(|tx| sealscan_control::lifecycle::sweep_expiry_notices(tx, h.clock_now()))
            .expect("sweep")
    };
    h.clock.set(expires - 4 * DAY);
    assert_eq!(sweep(&h), 0);
    h.clock.set(expires - 2 * DAY);
    // alice and quiet both changed their password at T0.
    assert_eq!(sweep(&h), 2);
    h.clock.advance(DAY);
    assert_eq!(sweep(&h), 0, "repeat 0 sends the notice once");
}
