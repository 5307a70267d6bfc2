//! The SOAP web service (`api = soap`) against the simulator.

mod common;

use common::*;
use sealscan_protocols::results::Step;
use sealscan_vault::{Api, FailureKind, SecretBytes, SecretRef, VaultSession};

#[tokio::test]
async fn fetches_a_unix_secret_with_its_private_key_over_soap() {
    let sim = sim(true).await;
    let s = session(record(&sim, Api::Soap));
    let c = s.credential(&SecretRef::named("unix-root")).await.unwrap();
    assert_eq!(s.api_in_use(), Some(Api::Soap));
    assert_eq!(c.secret_id, 10);
    assert_eq!(c.username.expose(), b"scanuser");
    assert_eq!(c.password.as_ref().unwrap().expose(), b"pw-unix");
    assert_eq!(c.private_key.as_ref().unwrap().expose(), KEY.as_bytes());
    assert_eq!(c.passphrase.as_ref().unwrap().expose(), b"pp");
    s.finish().await;
    let log = sim.requests();
    // Authenticate, SearchSecrets, GetSecret, DownloadFileAttachmentByItemId; no REST at all.
    assert_eq!(soap_calls(&log), 4, "{log:?}");
    assert_eq!(log.len(), 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn soap_login_failure_names_user_and_domain() {
    let sim = sim(false).await;
    let mut r = record(&sim, Api::Soap);
    r.username = "aduser".into();
    r.domain = Some("CORP".into());
    r.password = SecretBytes::copy_from(b"nope");
    let e = session(r.clone())
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
    r.password = SecretBytes::copy_from(b"AdPa55!");
    let c = session(r)
        .credential(&SecretRef::named("unix-root"))
        .await
        .unwrap();
    assert_eq!(c.username.expose(), b"scanuser");
    sim.shutdown().await;
}

#[tokio::test]
async fn soap_refusals_map_to_the_same_causes() {
    let sim = sim(false).await;
    let s = session(record(&sim, Api::Soap));
    for name in ["no-such-secret", "not-mine", "remote-only"] {
        let e = s.credential(&SecretRef::named(name)).await.unwrap_err();
        assert!(
            matches!(e.kind, FailureKind::NotFoundOrDenied { .. }),
            "{name}: {e}"
        );
    }
    let e = s.credential(&SecretRef::named("dup")).await.unwrap_err();
    assert!(
        matches!(e.kind, FailureKind::Ambiguous { count: 2, .. }),
        "{e}"
    );
    let c = s
        .credential(&SecretRef::in_folder("dup", "2"))
        .await
        .unwrap();
    assert_eq!(c.username.expose(), b"a");
    let e = s
        .credential(&SecretRef::named("needs-approval"))
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind, FailureKind::ApprovalRequired { .. }),
        "{e}"
    );
    println!("cause: {}", e.cause());
    let e = s
        .credential(&SecretRef::named("no-password"))
        .await
        .unwrap_err();
    assert!(matches!(e.kind, FailureKind::FieldMissing { .. }), "{e}");
    sim.shutdown().await;
}

#[tokio::test]
async fn soap_comment_required_secret_is_answered_with_the_job_comment() {
    let sim = sim(false).await;
    let s = session(record(&sim, Api::Soap));
    let c = s
        .credential(&SecretRef::named("needs-comment"))
        .await
        .unwrap();
    assert_eq!(c.password.as_ref().unwrap().expose(), b"pw-comment");
    assert_eq!(c.private_key.as_ref().unwrap().expose(), KEY.as_bytes());
    sim.shutdown().await;
}

#[tokio::test]
async fn soap_check_out_is_checked_in_at_the_end() {
    let sim = sim(false).await;
    let mine = session(record(&sim, Api::Soap));
    assert!(mine.credential(&SecretRef::named("checkout")).await.is_ok());
    let mut r = record(&sim, Api::Soap);
    r.username = "other".into();
    r.password = SecretBytes::copy_from(b"0ther-pw");
    let e = session(r.clone())
        .credential(&SecretRef::named("checkout"))
        .await
        .unwrap_err();
    assert_eq!(e.step, Step::SecretFetch);
    assert!(matches!(e.kind, FailureKind::CheckedOut { .. }), "{e}");
    println!("cause: {}", e.cause());
    mine.finish().await;
    assert!(
        session(r)
            .credential(&SecretRef::named("checkout"))
            .await
            .is_ok()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn soap_expired_token_is_renewed() {
    let sim = sim(false).await;
    sim.faults().expire_tokens_after_calls(Some(1));
    let s = session(record(&sim, Api::Soap));
    let c = s.credential(&SecretRef::named("unix-root")).await.unwrap();
    assert_eq!(c.private_key.as_ref().unwrap().expose(), KEY.as_bytes());
    // Without renewals the fetch takes 4 calls; each renewal adds an Authenticate and a repeat.
    let calls = soap_calls(&sim.requests());
    println!("SOAP calls with tokens dying after one call: {calls}");
    assert!(calls >= 6, "{calls}");
    sim.shutdown().await;
}

/// An old Secret Server (the simulator with its REST API off): `auto` finds no REST API and
/// fetches over SOAP; `rest` says precisely that there is no REST API there.
#[tokio::test]
async fn auto_falls_back_to_soap_on_a_server_without_rest() {
    let mut config = secret_server_sim::SimConfig::new(seed());
    config.tls = true;
    config.rest_api = false;
    let sim = secret_server_sim::start(config)
        .await
        .expect("simulator starts");
    let s = session(record(&sim, Api::Auto));
    let c = s.credential(&SecretRef::named("unix-root")).await.unwrap();
    assert_eq!(s.api_in_use(), Some(Api::Soap));
    assert_eq!(c.username.expose(), b"scanuser");
    assert_eq!(c.password.as_ref().unwrap().expose(), b"pw-unix");
    assert_eq!(c.private_key.as_ref().unwrap().expose(), KEY.as_bytes());
    let again = s.credential(&SecretRef::named("shared-pw")).await.unwrap();
    assert_eq!(again.password.as_ref().unwrap().expose(), b"pw-shared");
    s.finish().await;
    let log = sim.requests();
    // One REST probe (404), then one Authenticate serving both secrets.
    assert_eq!(count(&log, "POST", "/oauth2/token"), 1, "{log:?}");
    assert_eq!(log[0].status, 404);
    assert_eq!(log.len(), 1 + soap_calls(&log), "{log:?}");
    // Authenticate, then SearchSecrets + GetSecret + DownloadFileAttachmentByItemId for each
    // secret (both are Unix templates with a private-key file field).
    assert_eq!(soap_calls(&log), 7, "{log:?}");

    let e = session(record(&sim, Api::Rest))
        .credential(&SecretRef::named("unix-root"))
        .await
        .unwrap_err();
    assert_eq!(e.step, Step::VaultLogin);
    assert!(
        matches!(&e.kind, FailureKind::ApiAbsent { api: "REST", reason, .. } if reason.contains("404")),
        "{e}"
    );
    println!("cause: {}", e.cause());
    sim.shutdown().await;
}
