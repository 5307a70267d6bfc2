//! Secret Server faults in the middle of one job (issue 8): each fault costs a bounded number of
//! attempts, fails only the secret it hit with a precise cause that the job's later askers of
//! that secret share, and leaves the other secrets of the job unaffected.

mod common;

use std::time::Duration;

use common::*;
use sealscan_protocols::results::Step;
use sealscan_vault::{
    Api, FailureKind, JobLabel, Limits, SecretRef, SecretServer, VaultConnector, VaultSession,
};

const ATTEMPTS: u32 = 3;

fn limits() -> Limits {
    Limits {
        attempts: ATTEMPTS,
        backoff: Duration::from_millis(20),
        request_timeout: Duration::from_millis(500),
        ..Limits::default()
    }
}

#[tokio::test]
async fn faults_mid_job_fail_only_the_secret_they_hit() {
    let sim = sim(false).await;
    let s = SecretServer { limits: limits() }
        .open_session(record(&sim, Api::Rest), &JobLabel::new("job-faults"))
        .expect("record is usable");
    let named = SecretRef::named;

    // A healthy start.
    let first = s.credential(&named("shared-pw")).await.unwrap();
    assert_eq!(first.password.as_ref().unwrap().expose(), b"pw-shared");

    // 500s for longer than the attempts: that lookup fails after exactly ATTEMPTS requests.
    sim.clear_requests();
    sim.faults().fail_next_with_500(100);
    let e = s.credential(&named("win-admin")).await.unwrap_err();
    println!("500s: {}", e.cause());
    assert_eq!(e.step, Step::SecretLookup);
    assert!(
        matches!(&e.kind, FailureKind::Vault { status: 500, message, .. } if message == "An error has occurred."),
        "{e}"
    );
    assert_eq!(
        count(&sim.requests(), "GET", "/api/v1/secrets"),
        ATTEMPTS as usize
    );
    sim.faults().fail_next_with_500(0);

    // A vault slower than the request timeout: "timed out" after the same bound.
    sim.faults().set_delay(Duration::from_secs(3));
    let e = s.credential(&named("unix-root")).await.unwrap_err();
    println!("slow: {}", e.cause());
    assert_eq!(e.step, Step::SecretLookup);
    assert_eq!(
        e.kind,
        FailureKind::Unreachable {
            url: sim.base_url(),
            reason: "timed out".into()
        }
    );
    sim.faults().set_delay(Duration::ZERO);

    // The job's later askers of a failed secret get its cause without asking the vault again;
    // the secret fetched before the faults is still served from the session.
    sim.clear_requests();
    let again = s.credential(&named("win-admin")).await.unwrap_err();
    assert_eq!(
        again.kind,
        FailureKind::Vault {
            status: 500,
            error_code: String::new(),
            message: "An error has occurred.".into()
        }
    );
    assert!(s.credential(&named("shared-pw")).await.is_ok());
    // Requests still answered late by the slow phase may land here; none is a new lookup
    // of win-admin or shared-pw.
    let late: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| !r.query.contains("unix-root"))
        .collect();
    assert!(late.is_empty(), "{late:?}");

    // A token that dies mid-job is renewed once, and the job goes on.
    sim.faults().expire_tokens_after_calls(Some(2));
    sim.clear_requests();
    let other = s.credential(&named("win-admin-2")).await;
    assert!(
        matches!(&other, Err(e) if matches!(e.kind, FailureKind::NotFoundOrDenied { .. })),
        "a missing secret stays a precise 'not found': {:?}",
        other.as_ref().err()
    );
    let c = s.credential(&named("dup")).await;
    assert!(matches!(&c, Err(e) if matches!(e.kind, FailureKind::Ambiguous { count: 2, .. })));
    let checkout = s.credential(&named("checkout")).await.unwrap();
    assert_eq!(checkout.password.as_ref().unwrap().expose(), b"pw-co");
    let log = sim.requests();
    let refused = log.iter().filter(|r| r.status == 403).count();
    let logins = count(&log, "POST", "/oauth2/token");
    println!("token expiry: {logins} logins for {refused} refused calls");
    assert!(refused >= 1, "{log:?}");
    assert_eq!(logins, refused, "one new login per expired token: {log:?}");
    sim.faults().expire_tokens_after_calls(None);
    s.finish().await;
    sim.shutdown().await;
}

/// Connection resets at the start of a job are retried; a vault that resets every connection
/// is "unreachable: connection reset" after the bound, for each of the job's secrets alike,
/// with one bounded login attempt for the whole job.
#[tokio::test]
async fn a_resetting_vault_fails_the_job_after_one_bounded_login() {
    let sim = sim(false).await;
    sim.faults().reset_next_connections(1_000);
    let s = SecretServer { limits: limits() }
        .open_session(record(&sim, Api::Rest), &JobLabel::new("job-resets"))
        .expect("record is usable");
    let a = s
        .credential(&SecretRef::named("shared-pw"))
        .await
        .unwrap_err();
    let b = s
        .credential(&SecretRef::named("win-admin"))
        .await
        .unwrap_err();
    println!("resets: {}", a.cause());
    assert_eq!(a.step, Step::VaultLogin);
    assert!(
        matches!(&a.kind, FailureKind::Unreachable { reason, .. } if reason.contains("reset") || reason.contains("closed")),
        "{a}"
    );
    assert_eq!(a, b);
    sim.faults().reset_next_connections(0);
    // No request was answered: every connection was reset before one could be.
    assert!(sim.requests().is_empty());
    s.finish().await;
    sim.shutdown().await;
}
