//! The REST connector against the simulator over HTTP: credentials, every refusal cause,
//! restricted secrets, check-out, token expiry.

mod common;

use common::*;
use sealscan_protocols::results::Step;
use sealscan_vault::{Api, FailureKind, SecretBytes, SecretRef, VaultSession};

#[tokio::test]
async fn fetches_a_unix_secret_with_its_private_key() {
    let sim = sim(false).await;
    let s = session(record(&sim, Api::Rest));
    let c = s.credential(&SecretRef::named("unix-root")).await.unwrap();
    assert_eq!(c.secret_id, 10);
    assert_eq!(c.username.expose(), b"scanuser");
    assert_eq!(c.password.as_ref().unwrap().expose(), b"pw-unix");
    assert_eq!(c.private_key.as_ref().unwrap().expose(), KEY.as_bytes());
    assert_eq!(c.passphrase.as_ref().unwrap().expose(), b"pp");
    let shown = format!("{c:?}");
    for plain in ["scanuser", "pw-unix", "OPENSSH", "\"pp\""] {
        assert!(!shown.contains(plain), "Debug leaks {plain}: {shown}");
    }
    s.finish().await;
    let log = sim.requests();
    assert_eq!(
        count(&log, "GET", "/api/v1/secrets/10/fields/private-key"),
        1
    );
    assert_eq!(count(&log, "POST", "/api/v1/oauth-expiration"), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn domain_user_logs_in_with_the_domain_field() {
    let sim = sim(false).await;
    let mut r = record(&sim, Api::Rest);
    r.username = "aduser".into();
    r.password = SecretBytes::copy_from(b"AdPa55!");
    r.domain = Some("CORP".into());
    let s = session(r.clone());
    let c = s.credential(&SecretRef::named("unix-root")).await.unwrap();
    assert_eq!(c.username.expose(), b"scanuser");
    s.finish().await;

    r.password = SecretBytes::copy_from(b"wrong");
    let s = session(r);
    let e = s
        .credential(&SecretRef::named("unix-root"))
        .await
        .unwrap_err();
    assert_eq!(e.step, Step::VaultLogin);
    assert_eq!(
        e.kind,
        FailureKind::LoginFailed {
            user: "aduser".into(),
            domain: Some("CORP".into()),
            message: "Login failed.".into()
        }
    );
    println!("cause: {}", e.cause());
    assert!(!e.cause().to_string().contains("wrong"));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_login_is_tried_once_per_job() {
    let sim = sim(false).await;
    let mut r = record(&sim, Api::Rest);
    r.password = SecretBytes::copy_from(b"not-it");
    let s = session(r);
    for name in ["unix-root", "shared-pw", "win-admin"] {
        let e = s.credential(&SecretRef::named(name)).await.unwrap_err();
        assert!(matches!(e.kind, FailureKind::LoginFailed { .. }));
    }
    assert_eq!(count(&sim.requests(), "POST", "/oauth2/token"), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn absent_denied_and_source_restricted_secrets_read_alike() {
    let sim = sim(false).await;
    let s = session(record(&sim, Api::Rest));
    for name in ["no-such-secret", "not-mine", "remote-only"] {
        let e = s.credential(&SecretRef::named(name)).await.unwrap_err();
        assert_eq!(e.step, Step::SecretLookup, "{name}");
        assert_eq!(
            e.kind,
            FailureKind::NotFoundOrDenied {
                secret: format!("{name:?}")
            }
        );
        println!("cause: {}", e.cause());
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn two_secrets_of_one_name_are_refused_unless_the_folder_is_named() {
    let sim = sim(false).await;
    let s = session(record(&sim, Api::Rest));
    let e = s.credential(&SecretRef::named("dup")).await.unwrap_err();
    assert_eq!(e.step, Step::SecretLookup);
    assert!(
        matches!(e.kind, FailureKind::Ambiguous { count: 2, .. }),
        "{e}"
    );
    println!("cause: {}", e.cause());
    let c = s
        .credential(&SecretRef::in_folder("dup", "4"))
        .await
        .unwrap();
    assert_eq!(c.username.expose(), b"b");
    sim.shutdown().await;
}

#[tokio::test]
async fn windows_account_carries_its_domain() {
    let sim = sim(false).await;
    let s = session(record(&sim, Api::Rest));
    let c = s.credential(&SecretRef::named("win-admin")).await.unwrap();
    assert_eq!(c.username.expose(), b"Administrator");
    assert_eq!(c.domain.as_ref().unwrap().expose(), b"CORP");
    assert_eq!(c.password.as_ref().unwrap().expose(), b"W1n-pw");
    assert!(c.private_key.is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn comment_required_secret_gets_the_job_comment() {
    let sim = sim(false).await;
    let s = session(record(&sim, Api::Rest));
    let c = s
        .credential(&SecretRef::named("needs-comment"))
        .await
        .unwrap();
    assert_eq!(c.password.as_ref().unwrap().expose(), b"pw-comment");
    assert_eq!(c.private_key.as_ref().unwrap().expose(), KEY.as_bytes());
    // The comment goes with the GETs (autoComment); the restricted POST is the fallback for
    // servers that ignore it (tests/issue17.rs).
    let log = sim.requests();
    assert_eq!(count(&log, "GET", "/api/v1/secrets/30"), 1);
    assert_eq!(
        count(&log, "GET", "/api/v1/secrets/30/fields/private-key"),
        1
    );
    assert!(
        log.iter()
            .filter(|r| r.path.starts_with("/api/v1/secrets/30"))
            .all(|r| r.query.contains("autoComment=sealscan")),
        "{log:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn approval_required_and_missing_field_causes() {
    let sim = sim(false).await;
    let s = session(record(&sim, Api::Rest));
    let e = s
        .credential(&SecretRef::named("needs-approval"))
        .await
        .unwrap_err();
    assert_eq!(e.step, Step::SecretFetch);
    assert!(
        matches!(e.kind, FailureKind::ApprovalRequired { .. }),
        "{e}"
    );
    println!("cause: {}", e.cause());
    let e = s
        .credential(&SecretRef::named("no-password"))
        .await
        .unwrap_err();
    assert_eq!(
        e.kind,
        FailureKind::FieldMissing {
            secret: "\"no-password\"".into(),
            field: "password or private-key".into()
        }
    );
    println!("cause: {}", e.cause());
    sim.shutdown().await;
}

#[tokio::test]
async fn check_out_holds_the_secret_until_the_job_ends() {
    let sim = sim(false).await;
    let mine = session(record(&sim, Api::Rest));
    let c = mine
        .credential(&SecretRef::named("checkout"))
        .await
        .unwrap();
    assert_eq!(c.password.as_ref().unwrap().expose(), b"pw-co");
    assert_eq!(
        count(&sim.requests(), "POST", "/api/v1/secrets/32/check-out"),
        1
    );

    let mut r = record(&sim, Api::Rest);
    r.username = "other".into();
    r.password = SecretBytes::copy_from(b"0ther-pw");
    let theirs = session(r.clone());
    let e = theirs
        .credential(&SecretRef::named("checkout"))
        .await
        .unwrap_err();
    assert_eq!(e.step, Step::SecretFetch);
    assert!(matches!(e.kind, FailureKind::CheckedOut { .. }), "{e}");
    println!("cause: {}", e.cause());
    theirs.finish().await;

    mine.finish().await;
    assert_eq!(
        count(&sim.requests(), "POST", "/api/v1/secrets/32/check-in"),
        1
    );
    let later = session(r);
    assert!(
        later
            .credential(&SecretRef::named("checkout"))
            .await
            .is_ok()
    );
    later.finish().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn comment_and_check_out_together() {
    let sim = sim(false).await;
    let s = session(record(&sim, Api::Rest));
    let c = s
        .credential(&SecretRef::named("comment-checkout"))
        .await
        .unwrap();
    assert_eq!(c.password.as_ref().unwrap().expose(), b"pw-cc");
    s.finish().await;
    let log = sim.requests();
    for (method, path) in [
        (
            "POST",
            "/api/v1/secret-access-requests/secrets/36/view-comment",
        ),
        ("POST", "/api/v1/secrets/36/check-out"),
        ("GET", "/api/v1/secrets/36"),
        ("POST", "/api/v1/secrets/36/check-in"),
    ] {
        assert_eq!(count(&log, method, path), 1, "{method} {path}");
    }
    assert!(log.iter().all(|r| r.status == 200), "{log:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_expired_token_is_renewed_once() {
    let sim = sim(false).await;
    sim.faults().expire_tokens_after_calls(Some(1));
    let s = session(record(&sim, Api::Rest));
    let c = s.credential(&SecretRef::named("unix-root")).await.unwrap();
    assert_eq!(c.private_key.as_ref().unwrap().expose(), KEY.as_bytes());
    let log = sim.requests();
    let logins = count(&log, "POST", "/oauth2/token");
    let refused = log.iter().filter(|r| r.status == 403).count();
    println!("token requests: {logins}, refused calls: {refused}");
    assert_eq!(logins, refused + 1);
    assert!(refused >= 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_token_refused_right_after_login_is_a_precise_failure() {
    let mut config = secret_server_sim::SimConfig::new(seed());
    config.token_ttl_secs = 0;
    let sim = secret_server_sim::start(config).await.unwrap();
    let s = session(record(&sim, Api::Rest));
    let e = s
        .credential(&SecretRef::named("unix-root"))
        .await
        .unwrap_err();
    assert_eq!(e.step, Step::SecretLookup);
    assert!(
        matches!(&e.kind, FailureKind::Vault { status: 403, message, .. } if message.contains("expired token")),
        "{e}"
    );
    assert_eq!(count(&sim.requests(), "POST", "/oauth2/token"), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn auto_uses_rest_when_present() {
    let sim = sim(false).await;
    let s = session(record(&sim, Api::Auto));
    assert!(s.credential(&SecretRef::named("shared-pw")).await.is_ok());
    assert_eq!(s.api_in_use(), Some(Api::Rest));
    assert_eq!(soap_calls(&sim.requests()), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_folder_name_needs_the_folder_lookup() {
    // The simulator, like servers before the folder lookup existed, answers 404 there.
    let sim = sim(false).await;
    let s = session(record(&sim, Api::Rest));
    let e = s
        .credential(&SecretRef::in_folder("dup", "Lab"))
        .await
        .unwrap_err();
    assert_eq!(e.step, Step::SecretLookup);
    assert!(
        matches!(&e.kind, FailureKind::BadResponse { status: 404, what } if what.contains("by its id")),
        "{e}"
    );
    println!("cause: {}", e.cause());
    sim.shutdown().await;
}

#[tokio::test]
async fn names_match_without_case_and_a_finished_session_refuses() {
    let sim = sim(false).await;
    let s = session(record(&sim, Api::Rest));
    let c = s.credential(&SecretRef::named("Shared-PW")).await.unwrap();
    assert_eq!(c.username.expose(), b"scanuser");
    s.finish().await;
    s.finish().await;
    let e = s
        .credential(&SecretRef::named("shared-pw"))
        .await
        .unwrap_err();
    assert!(matches!(e.kind, FailureKind::Config(_)), "{e}");
    assert_eq!(
        count(&sim.requests(), "POST", "/api/v1/oauth-expiration"),
        1
    );
    sim.shutdown().await;
}
