//! The seed's "select each option you want to enforce": every complexity rule its own option,
//! the minimum length settable but never below 8, and the pre-expiry notice channel (the UI,
//! email, or both) chosen by Managers.
mod common;

use common::*;
use serde_json::json;

const DAY: i64 = 86_400;

#[tokio::test]
async fn each_password_rule_is_its_own_option() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.security(&pc, json!({"user_defined_passwords": true}))
        .await;
    h.user(&pc, "ua", "user_administrator").await;
    let ua = h.login("ua", PASSWORD).await;
    let create = |name: &str, pw: &str| {
        json!({"username": name, "first_name": "John", "last_name": "Doe",
               "email": format!("{name}@example.com"), "role": "reader", "password": pw})
    };
    // All on by default: each of these breaks exactly one rule.
    let cases = [
        ("lowercase", "TR7!KQ9LM"),
        ("uppercase", "tr7!kq9lm"),
        ("digit", "Trx!kqwLm"),
        ("special", "Tr7pkq9Lm"),
        ("no_three_identical", "Xy7!qaaaKp"),
        ("no_three_sequential", "Q7!kabcWp"),
        ("no_names", "88johnab3!E"),
    ];
    let shown = h
        .call("get", "/api/v1/security", Some(&pc), None)
        .await
        .expect_ok();
    for (rule, _) in cases {
        assert_eq!(shown["security"]["password_rules"][rule], true, "{shown}");
    }
    for (i, (rule, pw)) in cases.iter().enumerate() {
        let name = format!("u{i}");
        let refused = h
            .call("post", "/api/v1/users", Some(&pc), Some(create(&name, pw)))
            .await;
        assert_eq!(refused.status.as_u16(), 422, "{rule}: {}", refused.body);
        assert!(refused.rule().starts_with("password."), "{}", refused.body);
        let checked = h
            .call(
                "post",
                "/api/v1/password/check",
                Some(&pc),
                Some(json!({"password": pw, "first_name": "John", "last_name": "Doe"})),
            )
            .await
            .expect_ok();
        assert_eq!(checked["acceptable"], false, "{rule}: {checked}");
        // Off: that password is accepted, and only that rule was lifted.
        h.security(&pc, json!({"password_rules": {*rule: false}}))
            .await;
        h.call("post", "/api/v1/users", Some(&pc), Some(create(&name, pw)))
            .await
            .expect_ok();
        let others: Vec<_> = cases.iter().filter(|(r, _)| r != rule).collect();
        for (other, other_pw) in others {
            let checked = h
                .call(
                    "post",
                    "/api/v1/password/check",
                    Some(&pc),
                    Some(json!({"password": other_pw, "first_name": "John", "last_name": "Doe"})),
                )
                .await
                .expect_ok();
            assert_eq!(
                checked["acceptable"], false,
                "{other} still applies: {checked}"
            );
        }
        h.security(&pc, json!({"password_rules": {*rule: true}}))
            .await;
    }
    // The minimum length: settable, never below 8; an unknown rule is named and changes nothing.
    h.security(&pc, json!({"min_password_length": 12})).await;
    h.call(
        "put",
        "/api/v1/security",
        Some(&pc),
        Some(json!({"min_password_length": 7})),
    )
    .await
    .expect_refused(400, "password.min-length-range");
    let bad = h
        .call(
            "put",
            "/api/v1/security",
            Some(&pc),
            Some(json!({"password_rules": {"no_emoji": false}, "min_password_length": 9})),
        )
        .await;
    bad.expect_refused(422, "request.malformed");
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no_emoji")
    );
    let shown = h
        .call("get", "/api/v1/security", Some(&pc), None)
        .await
        .expect_ok();
    assert_eq!(shown["security"]["min_password_length"], 12);
    // Only Managers choose.
    h.call(
        "put",
        "/api/v1/security",
        Some(&ua),
        Some(json!({"password_rules": {"digit": false}})),
    )
    .await
    .expect_refused(403, "role.forbidden");
}

#[tokio::test]
async fn managers_choose_where_the_pre_expiry_notice_goes() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.security(
        &pc,
        json!({"password_expiry_months": 3, "expiry_notice_days": 7,
               "expiry_notice_repeat_days": 0}),
    )
    .await;
    let shown = h
        .call("get", "/api/v1/security", Some(&pc), None)
        .await
        .expect_ok();
    assert_eq!(
        (
            &shown["security"]["expiry_notice_ui"],
            &shown["security"]["expiry_notice_email"]
        ),
        (&json!(true), &json!(true))
    );
    let expires = T0 + (31 + 28 + 31) * DAY;
    let emails = |h: &Harness, to: &str| {
        let store = sealscan_control::server::open_store(h.dir.path()).expect("store");
        store
            .read(|tx| tx.list_outbox())
            .expect("outbox")
            .into_iter()
            .filter(|m| m.kind == "password_expiry_notice" && m.to == to)
            .count()
    };
    // Email only: no notice in the sign-in answer or whoami, an email queued.
    h.security(&pc, json!({"expiry_notice_ui": false})).await;
    h.user(&pc, "mailonly", "reader").await;
    h.clock.set(expires - 5 * DAY);
    let r = h.login_reply("mailonly", PASSWORD).await.expect_ok();
    assert!(r["password_expiry_notice"].is_null(), "{r}");
    let me = h
        .call("get", "/api/v1/session", r["token"].as_str(), None)
        .await
        .expect_ok();
    assert!(me["password_expiry_notice"].is_null(), "{me}");
    assert_eq!(emails(&h, "mailonly@example.com"), 1);
    // UI only: the notice shows, no email (neither at sign-in nor from the sweep).
    h.clock.set(T0);
    let pc = h.pc().await;
    h.security(
        &pc,
        json!({"expiry_notice_ui": true, "expiry_notice_email": false}),
    )
    .await;
    h.user(&pc, "uionly", "reader").await;
    h.clock.set(expires - 5 * DAY);
    let r = h.login_reply("uionly", PASSWORD).await.expect_ok();
    assert_eq!(r["password_expiry_notice"]["days_left"], 5, "{r}");
    let swept = h
        .server
        .state
        .store
        .write(|tx| sealscan_control::lifecycle::sweep_expiry_notices(tx, h.clock_now()))
        .expect("sweep");
    assert_eq!(emails(&h, "uionly@example.com"), 0, "swept {swept}");
}
