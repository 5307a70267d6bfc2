//! Everything the connector and its HTTP stack log, at trace level, through a whole job with
//! successes and failures, holds no secret value; neither do the failure causes.

mod common;

use std::sync::Mutex;

use common::*;
use sealscan_vault::{Api, SecretBytes, SecretRef, VaultSession};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        LINES.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }
    fn flush(&self) {}
}

#[tokio::test]
async fn no_secret_reaches_a_log_line_or_a_cause() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let sim = sim(false).await;
    let mut causes = Vec::new();
    for api in [Api::Rest, Api::Soap] {
        // Token renewals, a retried 500 and check-out/in all log something.
        sim.faults().expire_tokens_after_calls(Some(2));
        sim.faults().fail_next_with_500(1);
        let s = session(record(&sim, api));
        for name in [
            "unix-root",
            "needs-comment",
            "checkout",
            "needs-approval",
            "dup",
            "no-password",
        ] {
            if let Err(e) = s.credential(&SecretRef::named(name)).await {
                causes.push(e.cause().to_string());
                causes.push(format!("{e:?}"));
            }
        }
        s.finish().await;
        let mut bad = record(&sim, api);
        bad.password = SecretBytes::copy_from(b"Wr0ng-pa55");
        if let Err(e) = session(bad)
            .credential(&SecretRef::named("unix-root"))
            .await
        {
            causes.push(e.cause().to_string());
        }
    }
    sim.shutdown().await;
    let lines = LINES.lock().unwrap().clone();
    println!("{} log lines, {} causes checked", lines.len(), causes.len());
    assert!(causes.len() >= 8);
    let secrets = [
        SVC_PASSWORD,
        "Wr0ng-pa55",
        "pw-unix",
        "pw-comment",
        "pw-co",
        "b3BlbnNzaC1rZXktdjEA",
        "Bearer",
    ];
    for text in lines.iter().chain(causes.iter()) {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret:?} leaked in {text:?}");
        }
    }
}
