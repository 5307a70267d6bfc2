//! TLS (CA pinning, verification on by default), unreachable vaults, bad records, retries on
//! 500s, resets and timeouts, and the wrong-URL HTML page.

mod common;

use std::time::Duration;

use common::*;
use sealscan_protocols::results::Step;
use sealscan_vault::{
    Api, FailureKind, JobLabel, Limits, SecretRef, SecretServer, VaultConnector, VaultSession,
};

#[tokio::test]
async fn https_with_the_records_ca() {
    let sim = sim(true).await;
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    let s = session(record(&sim, Api::Rest));
    let c = s.credential(&SecretRef::named("unix-root")).await.unwrap();
    assert_eq!(c.private_key.as_ref().unwrap().expose(), KEY.as_bytes());
    s.finish().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn https_without_the_ca_is_a_tls_failure() {
    let sim = sim(true).await;
    let mut r = record(&sim, Api::Auto);
    r.tls.ca_bundle_pem = None;
    let e = session(r)
        .credential(&SecretRef::named("unix-root"))
        .await
        .unwrap_err();
    assert_eq!(e.step, Step::VaultLogin);
    assert!(matches!(e.kind, FailureKind::Tls { .. }), "{e}");
    println!("cause: {}", e.cause());
    // The handshake never completed, so the vault saw no request at all.
    assert!(sim.requests().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn another_ca_is_not_trusted() {
    let sim = sim(true).await;
    let stranger = common::sim(true).await;
    let mut r = record(&sim, Api::Rest);
    r.tls.ca_bundle_pem = stranger.ca_pem();
    let e = session(r)
        .credential(&SecretRef::named("unix-root"))
        .await
        .unwrap_err();
    assert!(matches!(e.kind, FailureKind::Tls { .. }), "{e}");
    println!("cause: {}", e.cause());
    stranger.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_records_are_refused_before_any_request() {
    let sim = sim(false).await;
    let connector = SecretServer::default();
    let job = JobLabel::new("j");
    let mut r = record(&sim, Api::Rest);
    r.tls.ca_bundle_pem = Some("not a certificate".into());
    let e = connector.open_session(r, &job).err().unwrap();
    assert!(matches!(e.kind, FailureKind::Config(_)), "{e}");
    println!("cause: {}", e.cause());
    for url in [
        "ftp://127.0.0.1/SecretServer",
        "not a url",
        "http://127.0.0.1/x?a=b",
    ] {
        let mut r = record(&sim, Api::Rest);
        r.url = url.into();
        let e = connector.open_session(r, &job).err().unwrap();
        assert!(matches!(e.kind, FailureKind::Config(_)), "{url}: {e}");
    }
    assert!(sim.requests().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sim = sim(false).await;
    let mut r = record(&sim, Api::Auto);
    r.url = format!("http://127.0.0.1:{port}/SecretServer");
    let e = session(r)
        .credential(&SecretRef::named("x"))
        .await
        .unwrap_err();
    assert_eq!(e.step, Step::VaultLogin);
    assert!(matches!(e.kind, FailureKind::Unreachable { .. }), "{e}");
    println!("cause: {}", e.cause());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_few_500s_are_retried() {
    let sim = sim(false).await;
    sim.faults().fail_next_with_500(2);
    let s = session(record(&sim, Api::Rest));
    assert!(s.credential(&SecretRef::named("shared-pw")).await.is_ok());
    let log = sim.requests();
    let statuses: Vec<u16> = log.iter().map(|r| r.status).collect();
    assert_eq!(&statuses[..3], &[500, 500, 200], "{log:?}");
    assert_eq!(count(&log, "POST", "/oauth2/token"), 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn persistent_500s_end_in_a_vault_error_after_bounded_attempts() {
    let sim = sim(false).await;
    sim.faults().fail_next_with_500(100);
    let e = session(record(&sim, Api::Rest))
        .credential(&SecretRef::named("shared-pw"))
        .await
        .unwrap_err();
    assert_eq!(e.step, Step::VaultLogin);
    assert!(
        matches!(e.kind, FailureKind::Vault { status: 500, .. }),
        "{e}"
    );
    println!("cause: {}", e.cause());
    assert_eq!(sim.requests().len(), Limits::default().attempts as usize);
    sim.shutdown().await;
}

#[tokio::test]
async fn connection_resets_are_retried() {
    let sim = sim(false).await;
    sim.faults().reset_next_connections(2);
    let s = session(record(&sim, Api::Rest));
    assert!(s.credential(&SecretRef::named("shared-pw")).await.is_ok());
    sim.shutdown().await;

    let sim = common::sim(false).await;
    sim.faults().reset_next_connections(100);
    let e = session(record(&sim, Api::Rest))
        .credential(&SecretRef::named("shared-pw"))
        .await
        .unwrap_err();
    assert!(matches!(e.kind, FailureKind::Unreachable { .. }), "{e}");
    println!("cause: {}", e.cause());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_vault_slower_than_the_timeout_is_unreachable() {
    let sim = sim(false).await;
    sim.faults().set_delay(Duration::from_secs(5));
    let connector = SecretServer {
        limits: Limits {
            attempts: 2,
            backoff: Duration::from_millis(10),
            request_timeout: Duration::from_millis(300),
            ..Limits::default()
        },
    };
    let s = connector
        .open_session(record(&sim, Api::Rest), &JobLabel::new("j"))
        .unwrap();
    let e = s
        .credential(&SecretRef::named("shared-pw"))
        .await
        .unwrap_err();
    assert_eq!(
        e.kind,
        FailureKind::Unreachable {
            url: sim.base_url(),
            reason: "timed out".into()
        }
    );
    println!("cause: {}", e.cause());
    sim.faults().set_delay(Duration::ZERO);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_url_answering_html_is_no_api_at_all() {
    let sim = sim(false).await;
    sim.faults().set_html_on_unknown_paths(true);
    let mut r = record(&sim, Api::Auto);
    r.url = format!("{}/wrong", sim.base_url());
    let e = session(r)
        .credential(&SecretRef::named("x"))
        .await
        .unwrap_err();
    // auto tried REST (HTML 200 at the token endpoint), then SOAP (HTML 200 again).
    assert!(
        matches!(e.kind, FailureKind::ApiAbsent { api: "SOAP", .. }),
        "{e}"
    );
    println!("cause: {}", e.cause());
    let log = sim.requests();
    assert_eq!(count(&log, "POST", "/wrong/oauth2/token"), 1);
    assert_eq!(
        count(&log, "POST", "/wrong/webservices/SSWebService.asmx"),
        1
    );

    let mut r = record(&sim, Api::Rest);
    r.url = format!("{}/wrong", sim.base_url());
    let e = session(r)
        .credential(&SecretRef::named("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind, FailureKind::ApiAbsent { api: "REST", .. }),
        "{e}"
    );

    // Without the fault, IIS answers 404 pages: the same conclusion.
    sim.faults().set_html_on_unknown_paths(false);
    let mut r = record(&sim, Api::Auto);
    r.url = format!("{}/wrong", sim.base_url());
    let e = session(r)
        .credential(&SecretRef::named("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind, FailureKind::ApiAbsent { api: "SOAP", .. }),
        "{e}"
    );
    println!("cause: {}", e.cause());
    sim.shutdown().await;
}
