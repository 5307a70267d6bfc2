//! 200 targets of one job sharing one secret cost the vault one login, one lookup, one fetch
//! and one revocation.

mod common;

use std::sync::Arc;

use common::*;
use sealscan_vault::{Api, SecretRef, VaultSession};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_targets_one_secret() {
    let sim = sim(false).await;
    let s = Arc::new(session(record(&sim, Api::Rest)));
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.credential(&SecretRef::named("shared-pw")).await
        }));
    }
    for t in tasks {
        let c = t.await.unwrap().unwrap();
        assert_eq!(c.password.as_ref().unwrap().expose(), b"pw-shared");
    }
    s.finish().await;
    let log = sim.requests();
    let token = count(&log, "POST", "/oauth2/token");
    let lookup = count(&log, "GET", "/api/v1/secrets");
    let fetch = count(&log, "GET", "/api/v1/secrets/11");
    let revoke = count(&log, "POST", "/api/v1/oauth-expiration");
    println!(
        "200 targets, 1 secret: {token} token + {lookup} lookup + {fetch} fetch + {revoke} revoke = {} requests",
        log.len()
    );
    assert_eq!((token, lookup, fetch, revoke), (1, 1, 1, 1));
    assert_eq!(log.len(), 4, "{log:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn distinct_secrets_are_fetched_once_each_with_one_token() {
    let sim = sim(false).await;
    let s = session(record(&sim, Api::Rest));
    for _ in 0..3 {
        for name in ["shared-pw", "win-admin"] {
            s.credential(&SecretRef::named(name)).await.unwrap();
        }
    }
    s.finish().await;
    let log = sim.requests();
    assert_eq!(count(&log, "POST", "/oauth2/token"), 1);
    assert_eq!(count(&log, "GET", "/api/v1/secrets"), 2);
    assert_eq!(count(&log, "GET", "/api/v1/secrets/11"), 1);
    assert_eq!(count(&log, "GET", "/api/v1/secrets/12"), 1);
    sim.shutdown().await;
}
