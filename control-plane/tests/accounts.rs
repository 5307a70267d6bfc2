//! Accounts against the real server: one lockout for every failed factor, a locked account
//! that answers every guess the same, two-factor codes used once under concurrency, what a
//! password change and a new security option do to open sessions, the Primary Contact's
//! re-activation, and refusals that name fields without echoing values.
mod common;

use common::{Harness, PASSWORD, PC_PASSWORD, PC_USER};
use serde_json::json;

const WRONG: &str = "Nope!123x";

async fn failed_logins(h: &Harness, pc: &str, who: &str) -> u64 {
    h.user_json(pc, who).await["failed_logins"]
        .as_u64()
        .expect("failed_logins")
}

fn wrong_code(right: &str) -> String {
    right
        .chars()
        .map(|c| if c == '9' { '0' } else { '9' })
        .collect()
}

#[tokio::test]
async fn a_locked_account_answers_every_guess_the_same_and_keeps_counting() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.security(&pc, json!({"lockout_failed_logins": 3})).await;
    h.user(&pc, "victim", "scanner").await;
    for _ in 0..3 {
        h.login_reply("victim", WRONG)
            .await
            .expect_refused(401, "login.failed");
    }
    let wrong = h.login_reply("victim", WRONG).await;
    let right = h.login_reply("victim", PASSWORD).await;
    wrong.expect_refused(403, "account.locked");
    right.expect_refused(403, "account.locked");
    assert_eq!(
        wrong.body, right.body,
        "a guess must not tell right from wrong"
    );
    // The wrong guess after the lock was counted; the right one is no failure.
    assert_eq!(failed_logins(&h, &pc, "victim").await, 4);
}

/// Three failures of `fail` lock the user, end their live session and are audited: the same
/// whichever factor failed.
async fn locks_like_the_password_path(
    h: &Harness,
    pc: &str,
    who: &str,
    live: &str,
    fail: impl AsyncFn() -> common::Reply,
    first_refusal: (u16, &str),
) {
    for _ in 0..3 {
        let r = fail().await;
        r.expect_refused(first_refusal.0, first_refusal.1);
    }
    let v = h.user_json(pc, who).await;
    assert_eq!(
        (v["locked"].as_bool(), v["failed_logins"].as_u64()),
        (Some(true), Some(3))
    );
    // The lock itself deleted the sessions: the token is unknown, not merely refused.
    h.call("get", "/api/v1/session", Some(live), None)
        .await
        .expect_refused(401, "auth.invalid-token");
    // After the lock, the same answer as any locked account, and still counted.
    fail().await.expect_refused(403, "account.locked");
    assert_eq!(failed_logins(h, pc, who).await, 4);
    let log = h
        .call("get", "/api/v1/audit", Some(pc), None)
        .await
        .expect_ok();
    let locks = log
        .as_array()
        .expect("audit")
        .iter()
        .filter(|e| e["action"] == "user.locked" && e["target"] == who)
        .count();
    assert_eq!(locks, 1, "one lock, audited once: {log}");
}

#[tokio::test]
async fn a_wrong_two_factor_code_locks_and_ends_sessions_like_a_wrong_password() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.security(&pc, json!({"lockout_failed_logins": 3})).await;

    h.user(&pc, "bypw", "scanner").await;
    let live = h.login("bypw", PASSWORD).await;
    locks_like_the_password_path(
        &h,
        &pc,
        "bypw",
        &live,
        async || h.login_reply("bypw", WRONG).await,
        (401, "login.failed"),
    )
    .await;

    h.user(&pc, "bycode", "scanner").await;
    let live = h.login("bycode", PASSWORD).await;
    let secret = h.enrol_2fa(&live).await;
    h.clock.advance(30);
    let live = h
        .call(
            "post",
            "/api/v1/session",
            None,
            Some(json!({"username": "bycode", "password": PASSWORD,
                "totp_code": sealscan_control::api::twofa::code_for(&secret, h.clock_now()).expect("code")})),
        )
        .await
        .expect_ok()["token"]
        .as_str()
        .expect("token")
        .to_string();
    h.clock.advance(30);
    let code = sealscan_control::api::twofa::code_for(&secret, h.clock_now()).expect("code");
    let bad = wrong_code(&code);
    locks_like_the_password_path(
        &h,
        &pc,
        "bycode",
        &live,
        async || {
            h.call(
                "post",
                "/api/v1/session",
                None,
                Some(json!({"username": "bycode", "password": PASSWORD, "totp_code": bad})),
            )
            .await
        },
        (401, "2fa.code-invalid"),
    )
    .await;
    // The right password with the right code: the lock's answer, nothing more.
    h.call(
        "post",
        "/api/v1/session",
        None,
        Some(json!({"username": "bycode", "password": PASSWORD, "totp_code": code})),
    )
    .await
    .expect_refused(403, "account.locked");
}

#[tokio::test]
async fn six_concurrent_sign_ins_with_one_fresh_code_open_exactly_one_session() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.user(&pc, "carol", "scanner").await;
    let first = h.login("carol", PASSWORD).await;
    let secret = h.enrol_2fa(&first).await;
    for round in 0..3 {
        h.clock.advance(30);
        let code = sealscan_control::api::twofa::code_for(&secret, h.clock_now()).expect("code");
        let body = json!({"username": "carol", "password": PASSWORD, "totp_code": code});
        let go = || h.call("post", "/api/v1/session", None, Some(body.clone()));
        let (a, b, c, d, e, f) = tokio::join!(go(), go(), go(), go(), go(), go());
        let replies = [a, b, c, d, e, f];
        let opened = replies.iter().filter(|r| r.ok()).count();
        assert_eq!(opened, 1, "round {round}: {:?}", replies.map(|r| r.body));
        for r in replies.iter().filter(|r| !r.ok()) {
            r.expect_refused(401, "2fa.code-invalid");
        }
    }
    // A replayed right code is no guess: it does not count toward the lockout.
    assert_eq!(failed_logins(&h, &pc, "carol").await, 0);
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_and_wrong_current_passwords_count() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.security(&pc, json!({"lockout_failed_logins": 3})).await;
    h.user(&pc, "dave", "scanner").await;
    let mine = h.login("dave", PASSWORD).await;
    let other = h.login("dave", PASSWORD).await;
    let change = async |current: &str, token: &str| {
        h.call(
            "post",
            "/api/v1/password/change",
            Some(token),
            Some(json!({"current_password": current, "new_password": "Hb6#xTq2!Vm"})),
        )
        .await
    };
    change(WRONG, &mine)
        .await
        .expect_refused(403, "password.current-wrong");
    assert_eq!(failed_logins(&h, &pc, "dave").await, 1);
    change(WRONG, &mine)
        .await
        .expect_refused(403, "password.current-wrong");
    change(WRONG, &mine)
        .await
        .expect_refused(403, "password.current-wrong");
    // The third wrong current password locked dave like three wrong sign-ins would.
    assert_eq!(h.user_json(&pc, "dave").await["locked"], true);
    for t in [&mine, &other] {
        h.call("get", "/api/v1/session", Some(t), None)
            .await
            .expect_refused(401, "auth.invalid-token");
    }
    h.call("post", "/api/v1/users/dave/unlock", Some(&pc), None)
        .await
        .expect_ok();

    let mine = h.login("dave", PASSWORD).await;
    let other = h.login("dave", PASSWORD).await;
    change(PASSWORD, &mine).await.expect_ok();
    h.call("get", "/api/v1/session", Some(&other), None)
        .await
        .expect_refused(401, "auth.invalid-token");
    h.call("get", "/api/v1/session", Some(&mine), None)
        .await
        .expect_ok();
}

#[tokio::test]
async fn a_manager_reactivates_the_locked_primary_contact() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.security(&pc, json!({"lockout_failed_logins": 3})).await;
    h.user(&pc, "m2", "manager").await;
    h.user(&pc, "um", "unit_manager").await;
    let m2 = h.login("m2", PASSWORD).await;
    let um = h.login("um", PASSWORD).await;
    for _ in 0..3 {
        h.login_reply(PC_USER, WRONG).await;
    }
    h.login_reply(PC_USER, PC_PASSWORD)
        .await
        .expect_refused(403, "account.locked");
    let r = h
        .call("post", "/api/v1/users/alice/unlock", Some(&um), None)
        .await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.body);
    h.call("post", "/api/v1/users/alice/unlock", Some(&m2), None)
        .await
        .expect_ok();
    h.pc().await;
    // Re-activating is all a Manager may do to the Primary Contact.
    h.call("post", "/api/v1/users/alice/lock", Some(&m2), None)
        .await
        .expect_refused(403, "user.primary-contact-protected");
}

#[tokio::test]
async fn sessions_opened_before_two_factor_became_required_must_enrol() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.enrol_2fa(&pc).await;
    h.user(&pc, "eve", "scanner").await;
    let eve = h.login("eve", PASSWORD).await;
    h.call(
        "post",
        "/api/v1/password/check",
        Some(&eve),
        Some(json!({"password": "x"})),
    )
    .await
    .expect_ok();
    h.security(&pc, json!({"two_factor_required": true})).await;
    h.call(
        "post",
        "/api/v1/password/check",
        Some(&eve),
        Some(json!({"password": "x"})),
    )
    .await
    .expect_refused(403, "2fa.enrollment-required");
    let who = h
        .call("get", "/api/v1/session", Some(&eve), None)
        .await
        .expect_ok();
    assert_eq!(who["scope"], "enroll_2fa");
    // Enrolling in that session is what it is still good for.
    h.enrol_2fa(&eve).await;
    h.call(
        "post",
        "/api/v1/password/check",
        Some(&eve),
        Some(json!({"password": "x"})),
    )
    .await
    .expect_ok();
}

#[tokio::test]
async fn password_expiry_is_checked_on_every_request() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.security(&pc, json!({"password_expiry_months": 1})).await;
    h.user(&pc, "frank", "scanner").await;
    let frank = h.login("frank", PASSWORD).await;
    h.call("get", "/api/v1/session", Some(&frank), None)
        .await
        .expect_ok();
    // Frank's password turns two months old while his session is open.
    let store = sealscan_control::server::open_store(h.dir.path()).expect("store");
    store
        .write(|tx| {
            let mut u = tx.user_by_username("frank")?.expect("frank");
            u.password_changed_at = h.clock_now() - 62 * 86_400;
            tx.save_user(&u)
        })
        .expect("age the password");
    h.call("get", "/api/v1/session", Some(&frank), None)
        .await
        .expect_refused(401, "password.expired");
    h.call("get", "/api/v1/session", Some(&frank), None)
        .await
        .expect_refused(401, "auth.invalid-token");
}

#[tokio::test]
async fn refusals_name_the_field_and_never_echo_the_value() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    let r = h
        .call(
            "post",
            "/api/v1/session",
            None,
            Some(json!({"username": "alice", "password": PC_PASSWORD, "totp_code": 482913})),
        )
        .await;
    r.expect_refused(422, "request.malformed");
    let text = r.body.to_string();
    assert!(text.contains("totp_code"), "{text}");
    assert!(!text.contains("482913"), "{text}");
    // A password typed into a typed field of a vault: named, not echoed.
    let r = h
        .call(
            "post",
            "/api/v1/vaults",
            Some(&pc),
            Some(
                json!({"title": "v", "url": "https://127.0.0.1:1", "user": "u",
                "verify_tls": "Secr3t!Pass"}),
            ),
        )
        .await;
    r.expect_refused(400, "request.malformed");
    let text = r.body.to_string();
    assert!(text.contains("verify_tls"), "{text}");
    assert!(!text.contains("Secr3t!Pass"), "{text}");
    let r = h
        .call(
            "post",
            "/api/v1/vaults",
            Some(&pc),
            Some(
                json!({"title": "v", "url": "https://127.0.0.1:1", "user": "u",
                "pasword": "x"}),
            ),
        )
        .await;
    r.expect_refused(400, "request.malformed");
    assert!(r.body.to_string().contains("pasword"), "{}", r.body);
}
