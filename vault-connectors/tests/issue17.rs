//! Issue 17, Secret Server items, against the simulator over HTTP: throttling with
//! Retry-After, comment-required secrets through `autoComment` (and the fallbacks), short-lived
//! tokens renewed ahead of expiry, secrets addressed by id and by folder path, and ambiguous
//! names with a short cause and the ids as facts.

mod common;

use std::time::{Duration, Instant};

use common::*;
use sealscan_protocols::results::Step;
use sealscan_vault::{
    Api, JobLabel, Limits, SecretRef, SecretServer, VaultConnector, VaultSession,
};
use secret_server_sim::{Sim, SimConfig};

async fn sim_with(adjust: impl FnOnce(&mut SimConfig)) -> Sim {
    let mut config = SimConfig::new(seed());
    adjust(&mut config);
    secret_server_sim::start(config)
        .await
        .expect("simulator starts")
}

fn session_with(sim: &Sim, api: Api, limits: Limits) -> sealscan_vault::SecretServerSession {
    SecretServer { limits }
        .open_session(record(sim, api), &JobLabel::new("job-17"))
        .expect("record is usable")
}

#[tokio::test]
async fn throttled_requests_wait_as_retry_after_says() {
    let sim = sim(false).await;
    sim.faults().rate_limit_next(2, 429, Some("1"));
    let s = session(record(&sim, Api::Rest));
    let started = Instant::now();
    let c = s.credential(&SecretRef::named("shared-pw")).await.unwrap();
    assert_eq!(c.password.as_ref().unwrap().expose(), b"pw-shared");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "waited as asked"
    );
    let throttled = sim.requests().iter().filter(|r| r.status == 429).count();
    assert_eq!(throttled, 2);

    // A 503 with an HTTP date is a throttle too.
    let soon = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(1));
    sim.faults().rate_limit_next(1, 503, Some(&soon));
    let c = s.credential(&SecretRef::named("win-admin")).await.unwrap();
    assert_eq!(c.password.as_ref().unwrap().expose(), b"W1n-pw");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_retry_after_beyond_the_vault_timeout_fails_at_once_saying_so() {
    let sim = sim(false).await;
    let limits = Limits {
        request_timeout: Duration::from_secs(2),
        backoff: Duration::from_millis(20),
        ..Limits::default()
    };
    sim.faults().rate_limit_next(1, 429, Some("60"));
    let s = session_with(&sim, Api::Rest, limits.clone());
    let started = Instant::now();
    let e = s
        .credential(&SecretRef::named("shared-pw"))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no wait in vain"
    );
    assert_eq!(e.step, Step::VaultLogin);
    assert_eq!(e.code(), "rate_limited");
    assert_eq!(
        e.cause().detail,
        "vault rate limit (HTTP 429): the server asks to retry after 60 s (Retry-After), longer than the 2 s vault timeout allows"
    );

    // Throttled again and again: the waits stop at the timeout, and the cause says so.
    sim.faults().rate_limit_next(1000, 503, Some("1"));
    let s = session_with(&sim, Api::Rest, limits);
    let started = Instant::now();
    let e = s
        .credential(&SecretRef::named("shared-pw"))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(4));
    println!("{}", e.cause());
    assert!(
        e.cause().detail.starts_with(
            "vault rate limit (HTTP 503): still throttled after waiting 2 s as Retry-After asked"
        ),
        "{}",
        e.cause()
    );
    sim.faults().rate_limit_next(0, 429, None);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_comment_required_secret_is_read_with_auto_comment() {
    let sim = sim(false).await;
    let s = session(record(&sim, Api::Rest));
    let c = s
        .credential(&SecretRef::named("needs-comment"))
        .await
        .unwrap();
    assert_eq!(c.password.as_ref().unwrap().expose(), b"pw-comment");
    assert_eq!(c.private_key.as_ref().unwrap().expose(), KEY.as_bytes());
    let log = sim.requests();
    let get = log
        .iter()
        .find(|r| r.method == "GET" && r.path == "/api/v1/secrets/30")
        .expect("the secret was read with a GET");
    assert!(
        get.query.contains("autoComment=sealscan+scan+job+job-7"),
        "{}",
        get.query
    );
    assert!(
        log.iter().all(|r| !r.path.contains("/restricted")),
        "{log:?}"
    );
    assert!(log.iter().all(|r| r.status == 200), "{log:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_server_without_the_restricted_endpoint_still_serves_a_comment_required_secret() {
    let sim = sim(false).await;
    sim.faults().set_restricted_endpoints_absent(true);
    let s = session(record(&sim, Api::Rest));
    let c = s
        .credential(&SecretRef::named("needs-comment"))
        .await
        .unwrap();
    assert_eq!(c.password.as_ref().unwrap().expose(), b"pw-comment");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_server_ignoring_auto_comment_gets_the_restricted_post() {
    let sim = sim(false).await;
    sim.faults().set_auto_comment_ignored(true);
    let s = session(record(&sim, Api::Rest));
    let c = s
        .credential(&SecretRef::named("needs-comment"))
        .await
        .unwrap();
    assert_eq!(c.private_key.as_ref().unwrap().expose(), KEY.as_bytes());
    let log = sim.requests();
    assert_eq!(count(&log, "POST", "/api/v1/secrets/30/restricted"), 1);
    assert_eq!(
        count(
            &log,
            "POST",
            "/api/v1/secrets/30/restricted/fields/private-key"
        ),
        1
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn when_no_way_of_commenting_works_the_cause_names_the_comment() {
    let sim = sim(false).await;
    sim.faults().set_auto_comment_ignored(true);
    sim.faults().set_restricted_endpoints_absent(true);
    let s = session(record(&sim, Api::Rest));
    let e = s
        .credential(&SecretRef::named("needs-comment"))
        .await
        .unwrap_err();
    assert_eq!(e.step, Step::SecretFetch);
    assert_eq!(e.code(), "comment_required", "{e}");
    assert_eq!(
        e.cause().detail,
        "secret \"needs-comment\" requires a comment that was refused: the server ignored autoComment and refused POST /api/v1/secrets/30/restricted (HTTP 404)"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn short_lived_tokens_are_renewed_before_they_expire() {
    let sim = sim_with(|c| c.token_ttl_secs = 4).await;
    let s = session(record(&sim, Api::Rest));
    s.credential(&SecretRef::named("shared-pw")).await.unwrap();
    // Past the 4 s lifetime: the token must have been renewed ahead (after 3 s), not refused.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    s.credential(&SecretRef::named("win-admin")).await.unwrap();
    let log = sim.requests();
    assert!(
        log.iter().all(|r| r.status != 401 && r.status != 403),
        "a request was refused for its token: {log:?}"
    );
    assert_eq!(count(&log, "POST", "/oauth2/token"), 2, "{log:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn secrets_by_id_and_by_folder_path() {
    let sim = sim(false).await;
    for api in [Api::Rest, Api::Soap] {
        let s = session(record(&sim, api));
        let c = s.credential(&SecretRef::by_id(12)).await.unwrap();
        assert_eq!(c.username.expose(), b"Administrator", "{api:?}");
        assert_eq!(c.secret_id, 12);
        // Two secrets are named "dup"; the path picks the one in \Lab.
        let path = SecretRef::by_path("\\Lab\\dup").unwrap();
        assert_eq!(path, SecretRef::in_folder("dup", "\\Lab"));
        let c = s.credential(&path).await.unwrap();
        assert_eq!(
            (c.secret_id, c.username.expose()),
            (21, &b"b"[..]),
            "{api:?}"
        );
        let c = s
            .credential(&SecretRef::by_path("/Unix/dup").unwrap())
            .await
            .unwrap();
        assert_eq!(c.secret_id, 20, "{api:?}");
        // Not readable, or not there: one cause, as Secret Server answers both alike.
        let e = s.credential(&SecretRef::by_id(35)).await.unwrap_err();
        assert_eq!(e.code(), "not_found_or_denied", "{api:?}: {e}");
        let e = s.credential(&SecretRef::by_id(999)).await.unwrap_err();
        assert_eq!(e.code(), "not_found_or_denied", "{api:?}: {e}");
        let e = s.credential(&SecretRef::by_id(0)).await.unwrap_err();
        assert_eq!(e.code(), "config", "{api:?}: {e}");
        s.finish().await;
    }
    // REST resolves the folder path exactly.
    let s = session(record(&sim, Api::Rest));
    sim.clear_requests();
    let e = s
        .credential(&SecretRef::by_path("\\Nope\\dup").unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        e.cause().detail,
        "secret folder \"\\\\Nope\" of \"dup\" in folder \"\\\\Nope\" not found or access denied"
    );
    assert_eq!(count(&sim.requests(), "GET", "/api/v1/folders/0"), 1);
    let e = s.credential(&SecretRef::by_id(35)).await.unwrap_err();
    assert_eq!(e.cause().detail, "secret id 35 not found or access denied");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_ambiguous_name_keeps_the_cause_short_and_lists_the_ids_as_facts() {
    let mut secrets = Vec::new();
    for id in 1000..1101 {
        secrets.push(
            serde_json::json!({"id": id, "name": "many", "template": "Password",
            "fields": {"username": "u", "password": "p"}, "readers": ["svc-scan"]}),
        );
    }
    let json = serde_json::json!({
        "users": [{"username": "svc-scan", "password": SVC_PASSWORD, "domain": null}],
        "folders": [],
        "secrets": secrets,
    });
    let seed = secret_server_sim::Seed::from_json(&json.to_string()).unwrap();
    let sim = secret_server_sim::start(SimConfig::new(seed))
        .await
        .unwrap();
    for api in [Api::Rest, Api::Soap] {
        let s = session(record(&sim, api));
        let e = s.credential(&SecretRef::named("many")).await.unwrap_err();
        assert_eq!(
            e.cause().detail,
            "secret \"many\" is ambiguous: 101 secrets have that name; name its folder or its id (the matching ids are in the result's facts)",
            "{api:?}"
        );
        let ids: Vec<String> = (1000..1101).map(|i| i.to_string()).collect();
        assert_eq!(
            e.facts(),
            vec![("vault_matching_ids".to_string(), ids.join(", "))],
            "{api:?}"
        );
    }
    sim.shutdown().await;
}
