//! The security options at the HTTP level: IP allowlist (from several loopback source
//! addresses), two-factor login, external IDs, inactivity timeouts, never-expiring API-only
//! passwords, the New Data Security Model and the Express Lite edition.
mod common;

use common::*;
use sealscan_control::model::Edition;
use serde_json::json;

#[tokio::test]
async fn ip_allowlist_from_several_source_addresses() {
    let h = Harness::start().await;
    let from2 = h.client_from("127.0.0.2");
    let from3 = h.client_from("127.0.0.3");
    let from5 = h.client_from("127.0.0.5");
    let login = json!({"username": PC_USER, "password": PC_PASSWORD});
    let pc = h
        .call_with(&from2, "post", "/api/v1/session", None, Some(login.clone()))
        .await
        .expect_ok();
    let pc = pc["token"].as_str().expect("token").to_string();
    let show = h
        .call_with(&from2, "get", "/api/v1/security/allowlist", Some(&pc), None)
        .await
        .expect_ok();
    assert_eq!(show["your_ip"], "127.0.0.2");
    assert_eq!(show["enabled"], false);

    // A list that leaves out the Manager saving it is refused, and nothing changes.
    let r = h
        .call_with(
            &from2,
            "put",
            "/api/v1/security/allowlist",
            Some(&pc),
            Some(json!({"enabled": true, "entries": ["127.0.0.3", "10.1.0.0/16"]})),
        )
        .await;
    r.expect_refused(409, "allowlist.excludes-caller");
    assert_eq!(r.body["error"]["details"]["your_ip"], "127.0.0.2");
    h.call_with(
        &from2,
        "put",
        "/api/v1/security/allowlist",
        Some(&pc),
        Some(json!({"enabled": true, "entries": ["127.0.0.2", "10.0.0.300"]})),
    )
    .await
    .expect_refused(400, "allowlist.invalid-entry");
    let show = h
        .call_with(&from2, "get", "/api/v1/security/allowlist", Some(&pc), None)
        .await
        .expect_ok();
    assert_eq!(show["enabled"], false);
    assert_eq!(show["entries"], json!([]));

    let saved = h
        .call_with(
            &from2,
            "put",
            "/api/v1/security/allowlist",
            Some(&pc),
            Some(json!({"enabled": true, "entries": ["127.0.0.2", "127.0.0.4/30"]})),
        )
        .await
        .expect_ok();
    assert_eq!(saved["you_are_allowed"], true);

    // 127.0.0.3 is out: login, API calls with a valid token and even the API document.
    h.call_with(&from3, "post", "/api/v1/session", None, Some(login.clone()))
        .await
        .expect_refused(403, "allowlist.denied");
    h.call_with(&from3, "get", "/api/v1/users", Some(&pc), None)
        .await
        .expect_refused(403, "allowlist.denied");
    h.call_with(&from3, "get", "/api/v1/openapi.json", None, None)
        .await
        .expect_refused(403, "allowlist.denied");
    // Forwarding headers are not trusted.
    let spoof = from3
        .get(format!("{}/api/v1/openapi.json", h.base))
        .header("X-Forwarded-For", "127.0.0.2")
        .send()
        .await
        .expect("reply");
    assert_eq!(spoof.status().as_u16(), 403);
    // 127.0.0.5 is inside 127.0.0.4/30; 127.0.0.2 is listed.
    h.call_with(&from5, "post", "/api/v1/session", None, Some(login.clone()))
        .await
        .expect_ok();
    h.call_with(&from2, "get", "/api/v1/users", Some(&pc), None)
        .await
        .expect_ok();
    // The default client (127.0.0.1) is out as well.
    h.call("get", "/api/v1/openapi.json", None, None)
        .await
        .expect_refused(403, "allowlist.denied");
    // Turning it off opens it again.
    h.call_with(
        &from2,
        "put",
        "/api/v1/security/allowlist",
        Some(&pc),
        Some(json!({"enabled": false, "entries": []})),
    )
    .await
    .expect_ok();
    h.call_with(&from3, "post", "/api/v1/session", None, Some(login))
        .await
        .expect_ok();
}

#[tokio::test]
async fn two_factor_login_with_totp_enrolment() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.user(&pc, "bob", "scanner").await;
    h.user(&pc, "ua", "user_administrator").await;
    // Enrolled before the option is on, so these sessions stay full ones.
    let ua = h.login("ua", PASSWORD).await;
    h.enrol_2fa(&ua).await;
    h.enrol_2fa(&pc).await;
    h.security(&pc, json!({"two_factor_required": true})).await;
    let first = h.login_reply("bob", PASSWORD).await.expect_ok();
    assert_eq!(first["scope"], "enroll_2fa");
    let limited = first["token"].as_str().expect("token").to_string();
    h.call(
        "post",
        "/api/v1/password/check",
        Some(&limited),
        Some(json!({"password": "x"})),
    )
    .await
    .expect_refused(403, "2fa.enrollment-required");
    let e = h
        .call("post", "/api/v1/2fa/enroll", Some(&limited), None)
        .await
        .expect_ok();
    let uri = e["provisioning_uri"].as_str().expect("uri");
    let secret = e["secret_base32"].as_str().expect("secret").to_string();
    assert!(uri.starts_with("otpauth://totp/sealscan:bob?"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")));
    h.call(
        "post",
        "/api/v1/2fa/confirm",
        Some(&limited),
        Some(json!({"code": "12345x"})),
    )
    .await
    .expect_refused(422, "2fa.code-invalid");
    let now = h.clock_now();
    let code = sealscan_control::api::twofa::code_for(&secret, now).expect("code");
    h.call(
        "post",
        "/api/v1/2fa/confirm",
        Some(&limited),
        Some(json!({"code": code})),
    )
    .await
    .expect_ok();

    h.login_reply("bob", PASSWORD)
        .await
        .expect_refused(401, "2fa.code-required");
    // The code used for enrolment cannot be replayed.
    let replay = h
        .call(
            "post",
            "/api/v1/session",
            None,
            Some(json!({"username": "bob", "password": PASSWORD, "totp_code": code})),
        )
        .await;
    replay.expect_refused(401, "2fa.code-invalid");
    h.clock.advance(30);
    let code = sealscan_control::api::twofa::code_for(&secret, h.clock_now()).expect("code");
    let ok = h
        .call(
            "post",
            "/api/v1/session",
            None,
            Some(json!({"username": "bob", "password": PASSWORD, "totp_code": code})),
        )
        .await
        .expect_ok();
    assert_eq!(ok["scope"], "full");
    // The shared secret is encrypted at rest with the data key: not in the database file.
    let raw = totp_secret_bytes(&secret);
    for f in ["control.db", "control.db-wal"] {
        let bytes = std::fs::read(h.dir.path().join(f)).unwrap_or_default();
        assert!(
            !bytes.windows(raw.len()).any(|w| w == raw.as_slice()),
            "TOTP secret found in {f}"
        );
    }
    // A wrong password with a right code still fails the same way as any wrong password.
    h.clock.advance(30);
    let code = sealscan_control::api::twofa::code_for(&secret, h.clock_now()).expect("code");
    h.call(
        "post",
        "/api/v1/session",
        None,
        Some(json!({"username": "bob", "password": "Wrong!9xx", "totp_code": code})),
    )
    .await
    .expect_refused(401, "login.failed");
    // Lost device: a Manager resets the enrolment; the user must enrol again.
    h.call("delete", "/api/v1/users/bob/2fa", Some(&ua), None)
        .await
        .expect_refused(403, "role.forbidden");
    let r = h
        .call("delete", "/api/v1/users/bob/2fa", Some(&pc), None)
        .await
        .expect_ok();
    assert_eq!(r["two_factor_enabled"], false);
    let again = h.login_reply("bob", PASSWORD).await.expect_ok();
    assert_eq!(again["scope"], "enroll_2fa");
    assert!(
        h.audit_actions(&pc)
            .await
            .contains(&"2fa.reset".to_string())
    );
}

fn totp_secret_bytes(base32: &str) -> Vec<u8> {
    totp_rs::Secret::Encoded(base32.to_string())
        .to_bytes()
        .expect("base32")
}

#[tokio::test]
async fn external_ids_permission_is_granted_per_user_and_follows_the_option() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.user(&pc, "m2", "manager").await;
    h.user(&pc, "um", "unit_manager").await;
    h.user(&pc, "ua", "user_administrator").await;
    h.user(&pc, "sc", "scanner").await;
    let m2 = h.login("m2", PASSWORD).await;
    let um = h.login("um", PASSWORD).await;
    let ua = h.login("ua", PASSWORD).await;
    let set_ext = |v: &str| json!({"external_id": v});

    h.call(
        "patch",
        "/api/v1/users/sc",
        Some(&pc),
        Some(set_ext("EXT-1")),
    )
    .await
    .expect_ok();
    h.call(
        "patch",
        "/api/v1/users/sc",
        Some(&m2),
        Some(set_ext("EXT-2")),
    )
    .await
    .expect_refused(403, "external-ids.option-off");
    h.call(
        "put",
        "/api/v1/users/m2/external-id-permission",
        Some(&pc),
        Some(json!({"granted": true})),
    )
    .await
    .expect_refused(409, "external-ids.option-off");
    h.call(
        "put",
        "/api/v1/security/external-ids",
        Some(&m2),
        Some(json!({"enabled": true})),
    )
    .await
    .expect_refused(403, "role.primary-contact-only");

    h.call(
        "put",
        "/api/v1/security/external-ids",
        Some(&pc),
        Some(json!({"enabled": true})),
    )
    .await
    .expect_ok();
    for who in ["m2", "ua"] {
        h.call(
            "put",
            &format!("/api/v1/users/{who}/external-id-permission"),
            Some(&pc),
            Some(json!({"granted": true})),
        )
        .await
        .expect_ok();
    }
    h.call(
        "put",
        "/api/v1/users/sc/external-id-permission",
        Some(&pc),
        Some(json!({"granted": true})),
    )
    .await
    .expect_refused(409, "external-ids.role");
    h.call(
        "patch",
        "/api/v1/users/sc",
        Some(&m2),
        Some(set_ext("EXT-3")),
    )
    .await
    .expect_ok();
    h.call(
        "patch",
        "/api/v1/users/sc",
        Some(&ua),
        Some(set_ext("EXT-4")),
    )
    .await
    .expect_ok();
    h.call(
        "patch",
        "/api/v1/users/sc",
        Some(&um),
        Some(set_ext("EXT-5")),
    )
    .await
    .expect_refused(403, "external-ids.not-granted");

    // Clearing the option removes the permission from everyone at once...
    h.call(
        "put",
        "/api/v1/security/external-ids",
        Some(&pc),
        Some(json!({"enabled": false})),
    )
    .await
    .expect_ok();
    for t in [&m2, &ua] {
        h.call("patch", "/api/v1/users/sc", Some(t), Some(set_ext("EXT-6")))
            .await
            .expect_refused(403, "external-ids.option-off");
    }
    let m2v = h.user_json(&pc, "m2").await;
    assert_eq!(
        (
            m2v["external_id_permission"].clone(),
            m2v["external_id_permission_effective"].clone()
        ),
        (json!(true), json!(false))
    );
    h.call(
        "put",
        "/api/v1/users/um/external-id-permission",
        Some(&pc),
        Some(json!({"granted": true})),
    )
    .await
    .expect_refused(409, "external-ids.option-off");
    assert_eq!(h.user_json(&pc, "sc").await["external_id"], "EXT-4");
    // ...and setting it again restores it to those who had it.
    h.call(
        "put",
        "/api/v1/security/external-ids",
        Some(&pc),
        Some(json!({"enabled": true})),
    )
    .await
    .expect_ok();
    h.call(
        "patch",
        "/api/v1/users/sc",
        Some(&m2),
        Some(set_ext("EXT-7")),
    )
    .await
    .expect_ok();
    h.call(
        "patch",
        "/api/v1/users/sc",
        Some(&um),
        Some(set_ext("EXT-8")),
    )
    .await
    .expect_refused(403, "external-ids.not-granted");
    assert_eq!(h.user_json(&pc, "sc").await["external_id"], "EXT-7");
}

#[tokio::test]
async fn session_inactivity_timeout_global_role_and_user() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.user(&pc, "rd1", "reader").await;
    h.user(&pc, "rd2", "reader").await;
    h.user(&pc, "sc", "scanner").await;
    h.call(
        "put",
        "/api/v1/security",
        Some(&pc),
        Some(json!({"session_timeout_minutes": 241})),
    )
    .await
    .expect_refused(400, "session-timeout.range");
    h.call(
        "put",
        "/api/v1/security",
        Some(&pc),
        Some(json!({"session_timeout_minutes": 9})),
    )
    .await
    .expect_refused(400, "session-timeout.range");
    h.call(
        "put",
        "/api/v1/security",
        Some(&pc),
        Some(json!({"session_timeout_by_role": {"reader": 300}})),
    )
    .await
    .expect_refused(400, "session-timeout.range");
    h.security(
        &pc,
        json!({"session_timeout_minutes": 30, "session_timeout_by_role": {"reader": 20}}),
    )
    .await;
    h.call(
        "patch",
        "/api/v1/users/rd2",
        Some(&pc),
        Some(json!({"session_timeout_minutes": 5})),
    )
    .await
    .expect_refused(400, "session-timeout.range");
    h.call(
        "patch",
        "/api/v1/users/rd2",
        Some(&pc),
        Some(json!({"session_timeout_minutes": 90})),
    )
    .await
    .expect_ok();

    let r1 = h.login_reply("rd1", PASSWORD).await.expect_ok();
    let r2 = h.login_reply("rd2", PASSWORD).await.expect_ok();
    let s = h.login_reply("sc", PASSWORD).await.expect_ok();
    assert_eq!(r1["idle_timeout_minutes"], 20);
    assert_eq!(
        r2["idle_timeout_minutes"], 90,
        "the per-user value wins over the role's"
    );
    assert_eq!(s["idle_timeout_minutes"], 30);
    let (r1, r2, s) = (
        r1["token"].as_str().expect("t").to_string(),
        r2["token"].as_str().expect("t").to_string(),
        s["token"].as_str().expect("t").to_string(),
    );
    h.clock.advance(21 * 60);
    h.call("get", "/api/v1/session", Some(&r1), None)
        .await
        .expect_refused(401, "session.inactivity-timeout");
    h.call("get", "/api/v1/session", Some(&r2), None)
        .await
        .expect_ok();
    h.call("get", "/api/v1/session", Some(&s), None)
        .await
        .expect_ok();
    // Changes apply to new sessions only.
    let pc = h.pc().await;
    h.security(&pc, json!({"session_timeout_minutes": 120}))
        .await;
    h.clock.advance(31 * 60);
    h.call("get", "/api/v1/session", Some(&s), None)
        .await
        .expect_refused(401, "session.inactivity-timeout");
    let fresh = h.login_reply("sc", PASSWORD).await.expect_ok();
    assert_eq!(fresh["idle_timeout_minutes"], 120);
}

#[tokio::test]
async fn never_expiring_passwords_for_api_only_users_need_the_operator_and_the_risk_agreement() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.user(&pc, "m2", "manager").await;
    let bot = h.user(&pc, "bot", "scanner").await;
    h.user(&pc, "human", "scanner").await;
    h.call(
        "patch",
        &format!("/api/v1/users/{bot}"),
        Some(&pc),
        Some(json!({"api_only": true})),
    )
    .await
    .expect_ok();
    h.security(&pc, json!({"password_expiry_months": 3})).await;
    let ne = json!({"never_expire": true});
    h.call("patch", "/api/v1/users/bot", Some(&pc), Some(ne.clone()))
        .await
        .expect_refused(409, "never-expire.feature-off");
    h.call(
        "post",
        "/api/v1/security/never-expire-agreement",
        Some(&pc),
        Some(json!({"accept": true})),
    )
    .await
    .expect_refused(409, "never-expire.feature-off");

    // The operator enables the feature with the real operator command.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sealscan-control"))
        .args(["--data-dir"])
        .arg(h.dir.path())
        .args(["feature", "api-never-expire", "on"])
        .output()
        .expect("run sealscan-control");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let pc = h.pc().await;
    h.call("patch", "/api/v1/users/bot", Some(&pc), Some(ne.clone()))
        .await
        .expect_refused(409, "never-expire.agreement-required");
    let m2 = h.login("m2", PASSWORD).await;
    h.call(
        "post",
        "/api/v1/security/never-expire-agreement",
        Some(&m2),
        Some(json!({"accept": true})),
    )
    .await
    .expect_refused(403, "role.primary-contact-only");
    let a = h
        .call(
            "post",
            "/api/v1/security/never-expire-agreement",
            Some(&pc),
            Some(json!({"accept": true})),
        )
        .await
        .expect_ok();
    assert_eq!(a["agreement"]["status"], "accepted");
    assert_eq!(a["agreement"]["by"], PC_USER);
    assert_eq!(a["agreement"]["at"], T0);
    h.call("patch", "/api/v1/users/human", Some(&pc), Some(ne.clone()))
        .await
        .expect_refused(409, "never-expire.api-only");
    let b = h
        .call("patch", "/api/v1/users/bot", Some(&pc), Some(ne))
        .await
        .expect_ok();
    assert_eq!(b["never_expire_effective"], true);
    assert!(b["password_expires_at"].is_null());
    assert!(!h.user_json(&pc, "human").await["password_expires_at"].is_null());

    // Opting out clears it everywhere.
    let d = h
        .call(
            "post",
            "/api/v1/security/never-expire-agreement",
            Some(&pc),
            Some(json!({"accept": false})),
        )
        .await
        .expect_ok();
    assert_eq!(d["cleared_users"], 1);
    let b = h.user_json(&pc, "bot").await;
    assert_eq!(
        (
            b["never_expire"].clone(),
            b["password_expires_at"].is_null()
        ),
        (json!(false), false)
    );
    let actions = h.audit_actions(&pc).await;
    for a in [
        "feature.api-never-expire",
        "never-expire.agreement-accepted",
        "never-expire.agreement-declined",
    ] {
        assert!(actions.contains(&a.to_string()), "{a} audited");
    }
}

#[tokio::test]
async fn new_data_security_model_is_one_way() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.call(
        "put",
        "/api/v1/security/new-data-security-model",
        Some(&pc),
        Some(json!({"accepted": false})),
    )
    .await
    .expect_refused(400, "ndsm.not-accepted");
    let a = h
        .call(
            "put",
            "/api/v1/security/new-data-security-model",
            Some(&pc),
            Some(json!({"accepted": true})),
        )
        .await
        .expect_ok();
    assert_eq!(a["new_data_security_model"]["by"], PC_USER);
    h.call(
        "put",
        "/api/v1/security/new-data-security-model",
        Some(&pc),
        Some(json!({"accepted": false})),
    )
    .await
    .expect_refused(409, "ndsm.one-way");
    let s = h
        .call("get", "/api/v1/security", Some(&pc), None)
        .await
        .expect_ok();
    assert_eq!(s["security"]["new_data_security_model"]["by"], PC_USER);
    h.call(
        "put",
        "/api/v1/security",
        Some(&pc),
        Some(json!({"new_data_security_model": null})),
    )
    .await
    .expect_refused(422, "request.malformed");
}

#[tokio::test]
async fn express_lite_starts_with_its_seed_options_on() {
    let h = Harness::start_edition(Edition::ExpressLite).await;
    let pc = h.pc().await;
    let s = h
        .call("get", "/api/v1/security", Some(&pc), None)
        .await
        .expect_ok();
    assert_eq!(s["edition"], "express_lite");
    assert_eq!(s["security"]["user_defined_passwords"], true);
    assert_eq!(s["security"]["force_change_first_login"], true);
    assert!(s["security"]["new_data_security_model"].is_object());
    h.call(
        "put",
        "/api/v1/security/new-data-security-model",
        Some(&pc),
        Some(json!({"accepted": false})),
    )
    .await
    .expect_refused(409, "ndsm.one-way");
    let r = h
        .call(
            "post",
            "/api/v1/users",
            Some(&pc),
            Some(json!({
        "username": "lite", "first_name": "Li", "last_name": "Te", "email": "lite@example.com",
        "role": "reader", "password": PASSWORD})),
        )
        .await
        .expect_ok();
    assert_eq!(r["user"]["must_change_password"], true);
    h.login_reply("lite", PASSWORD)
        .await
        .expect_refused(403, "password.change-required");
}

/// The external-ID grant is no way around the role hierarchy: its holder changes the external
/// ID only of users they may manage — never the Primary Contact's, and a User Administrator or
/// Unit Manager never a Manager's.
#[tokio::test]
async fn the_external_id_grant_stays_within_the_role_hierarchy() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.user(&pc, "m2", "manager").await;
    h.user(&pc, "um", "unit_manager").await;
    h.user(&pc, "ua", "user_administrator").await;
    h.user(&pc, "sc", "scanner").await;
    h.call(
        "put",
        "/api/v1/security/external-ids",
        Some(&pc),
        Some(json!({"enabled": true})),
    )
    .await
    .expect_ok();
    for who in ["m2", "um", "ua"] {
        h.call(
            "put",
            &format!("/api/v1/users/{who}/external-id-permission"),
            Some(&pc),
            Some(json!({"granted": true})),
        )
        .await
        .expect_ok();
    }
    let m2 = h.login("m2", PASSWORD).await;
    let um = h.login("um", PASSWORD).await;
    let ua = h.login("ua", PASSWORD).await;
    let set = json!({"external_id": "HIJACK"});
    for t in [&m2, &um, &ua] {
        h.call("patch", "/api/v1/users/alice", Some(t), Some(set.clone()))
            .await
            .expect_refused(403, "user.primary-contact-protected");
    }
    for t in [&um, &ua] {
        h.call("patch", "/api/v1/users/m2", Some(t), Some(set.clone()))
            .await
            .expect_refused(403, "role.target-forbidden");
        h.call(
            "patch",
            "/api/v1/users/alice",
            Some(t),
            Some(json!({"external_id": null})),
        )
        .await
        .expect_refused(403, "user.primary-contact-protected");
    }
    h.call("patch", "/api/v1/users/um", Some(&ua), Some(set.clone()))
        .await
        .expect_refused(403, "role.target-forbidden");
    assert!(h.user_json(&pc, "alice").await["external_id"].is_null());
    assert!(h.user_json(&pc, "m2").await["external_id"].is_null());
    // Within the hierarchy the grant still works.
    h.call("patch", "/api/v1/users/sc", Some(&ua), Some(set.clone()))
        .await
        .expect_ok();
    h.call("patch", "/api/v1/users/um", Some(&m2), Some(set.clone()))
        .await
        .expect_ok();
    h.call("patch", "/api/v1/users/alice", Some(&pc), Some(set))
        .await
        .expect_ok();
}
