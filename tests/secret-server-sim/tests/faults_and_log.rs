//! Fault switches, the request log, the source-address restriction and HTTPS.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn next_requests_fail_with_500_and_then_recover() {
    let sim = sim().await;
    let client = client(&sim);
    let token = svc_token(&client, &sim).await;
    sim.faults().fail_next_with_500(2);
    for _ in 0..2 {
        let (status, body) = api_get(&client, &sim, &token, "/api/v1/secrets/10").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["message"], "An error has occurred.");
        assert!(body["exceptionMessage"].is_string());
    }
    assert_eq!(
        api_get(&client, &sim, &token, "/api/v1/secrets/10").await.0,
        StatusCode::OK
    );
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 500, 500, 200]);
}

#[tokio::test]
async fn unknown_paths_can_answer_200_html_like_iis() {
    let sim = sim().await;
    let client = client(&sim);
    let wrong_root = sim.base_url().replace("/SecretServer", "/Wrong");
    for url in [
        format!("{}/api/v1/nothing-here", sim.base_url()),
        format!("{wrong_root}/oauth2/token"),
    ] {
        let r = client.get(&url).send().await.expect("GET");
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{url}");
    }
    sim.faults().set_html_on_unknown_paths(true);
    let r = client
        .post(format!("{wrong_root}/oauth2/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", SVC_USER),
            ("password", SVC_PASSWORD),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .is_ok_and(|c| c.starts_with("text/html"))
    );
    assert!(r.text().await.expect("body").contains("<html"));
    // Known endpoints are unaffected.
    assert!(!svc_token(&client, &sim).await.is_empty());
}

#[tokio::test]
async fn tokens_can_die_after_a_number_of_calls() {
    let sim = sim().await;
    let client = client(&sim);
    sim.faults().expire_tokens_after_calls(Some(2));
    let token = svc_token(&client, &sim).await;
    for _ in 0..2 {
        assert_eq!(
            api_get(&client, &sim, &token, "/api/v1/secrets/10").await.0,
            StatusCode::OK
        );
    }
    let (status, body) = api_get(&client, &sim, &token, "/api/v1/secrets/10").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::FORBIDDEN,
            json!({"message": "Authentication failed or expired token."})
        )
    );
    // A fresh token works again; turning the switch off lets tokens live their TTL.
    let token = svc_token(&client, &sim).await;
    sim.faults().expire_tokens_after_calls(None);
    for _ in 0..5 {
        assert_eq!(
            api_get(&client, &sim, &token, "/api/v1/secrets/10").await.0,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn connections_can_be_reset_before_any_response() {
    for tls in [false, true] {
        let sim = sim_with(|c| c.tls = tls).await;
        let client = client(&sim);
        sim.faults().reset_next_connections(1);
        let err = client
            .get(format!("{}/api/v1/healthcheck", sim.base_url()))
            .send()
            .await
            .expect_err("the connection is reset");
        assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
        assert!(
            sim.requests().is_empty(),
            "a reset connection answers no request"
        );
        let r = client
            .get(format!("{}/api/v1/healthcheck", sim.base_url()))
            .send()
            .await
            .expect("the next connection works");
        assert_eq!(r.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn slow_responses_make_impatient_clients_give_up() {
    let sim = sim().await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    // The delay is far longer than the client's patience, so the outcome does not depend on
    // machine speed.
    sim.faults().set_delay(Duration::from_secs(30));
    let err = impatient
        .get(format!("{}/api/v1/healthcheck", sim.base_url()))
        .send()
        .await
        .expect_err("times out");
    assert!(err.is_timeout(), "{err:?}");
    sim.faults().set_delay(Duration::ZERO);
    let r = impatient
        .get(format!("{}/api/v1/healthcheck", sim.base_url()))
        .send()
        .await
        .expect("answers again");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_request_log_records_every_call_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("requests.jsonl");
    let path_for_config = log_path.clone();
    let sim = sim_with(move |c| c.request_log_file = Some(path_for_config)).await;
    let client = client(&sim);
    let token = svc_token(&client, &sim).await;
    api_get(
        &client,
        &sim,
        &token,
        "/api/v1/secrets?filter.searchText=unix-root&take=5",
    )
    .await;
    api_get(&client, &sim, &token, "/api/v1/secrets/10").await;
    let log = sim.requests();
    let lines: Vec<(String, String, String, u16)> = log
        .iter()
        .map(|r| (r.method.clone(), r.path.clone(), r.query.clone(), r.status))
        .collect();
    assert_eq!(
        lines,
        [
            ("POST".into(), "/oauth2/token".into(), String::new(), 200),
            (
                "GET".into(),
                "/api/v1/secrets".into(),
                "filter.searchText=unix-root&take=5".into(),
                200
            ),
            (
                "GET".into(),
                "/api/v1/secrets/10".into(),
                String::new(),
                200
            ),
        ]
    );
    assert!(
        log.iter()
            .all(|r| r.source_ip == IpAddr::V4(Ipv4Addr::LOCALHOST))
    );
    let file = std::fs::read_to_string(&log_path).expect("log file");
    assert_eq!(file.lines().count(), 3);
    let first: serde_json::Value =
        serde_json::from_str(file.lines().next().unwrap_or("")).expect("JSON line");
    assert_eq!(first["path"], "/oauth2/token");
    assert_eq!(first["sourceIp"], "127.0.0.1");

    sim.clear_requests();
    assert!(sim.requests().is_empty());
    // Passwords in query strings (SOAP's HTTP GET form) never reach the log.
    let r = client
        .get(format!(
            "{}/webservices/SSWebService.asmx/Authenticate?username=svc-scan&password=S3rv%21ce-pw&organization=&domain=",
            sim.base_url()
        ))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        sim.requests()[0].query,
        "username=svc-scan&password=***&organization=&domain="
    );
    assert!(
        !std::fs::read_to_string(&log_path)
            .expect("log")
            .contains("S3rv")
    );
}

#[tokio::test]
async fn source_restricted_secrets_look_like_access_denied_from_elsewhere() {
    let sim = sim().await;
    let appliance = client(&sim);
    let elsewhere = client_for(&sim, Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))));
    let token = svc_token(&appliance, &sim).await;

    assert_eq!(
        api_get(
            &appliance,
            &sim,
            &token,
            "/api/v1/secrets/11/fields/password"
        )
        .await,
        (StatusCode::OK, json!("src-pw"))
    );
    let denied = (
        StatusCode::BAD_REQUEST,
        json!({"errorCode": "API_AccessDenied", "message": "Access Denied"}),
    );
    // The same token from another address: exactly what a missing secret gets.
    for path in [
        "/api/v1/secrets/11",
        "/api/v1/secrets/11/fields/password",
        "/api/v1/secrets/999",
    ] {
        assert_eq!(
            api_get(&elsewhere, &sim, &token, path).await,
            denied,
            "{path}"
        );
    }
    let (_, found) = api_get(
        &elsewhere,
        &sim,
        &token,
        "/api/v1/secrets?filter.searchText=appliance-only",
    )
    .await;
    assert_eq!(found["total"], 0);
    let (_, found) = api_get(
        &appliance,
        &sim,
        &token,
        "/api/v1/secrets?filter.searchText=appliance-only",
    )
    .await;
    assert_eq!(found["total"], 1);
    // Unrestricted secrets are readable from anywhere.
    assert_eq!(
        api_get(&elsewhere, &sim, &token, "/api/v1/secrets/10")
            .await
            .0,
        StatusCode::OK
    );

    let sources: Vec<String> = sim
        .requests()
        .iter()
        .map(|r| r.source_ip.to_string())
        .collect();
    assert!(sources.contains(&"127.0.0.2".to_string()), "{sources:?}");
}

#[tokio::test]
async fn https_with_the_generated_ca() {
    let sim = sim_with(|c| c.tls = true).await;
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    let pem = sim.ca_pem().expect("CA when TLS is on");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let client = client(&sim);
    let token = svc_token(&client, &sim).await;
    assert_eq!(
        api_get(&client, &sim, &token, "/api/v1/secrets/10").await.0,
        StatusCode::OK
    );

    // The certificate names localhost too.
    let by_name = sim.base_url().replace("127.0.0.1", "localhost");
    let r = client
        .get(format!("{by_name}/api/v1/healthcheck"))
        .send()
        .await
        .expect("by name");
    assert_eq!(r.status(), StatusCode::OK);

    // A client that does not trust the CA fails at the handshake and reaches no endpoint.
    let untrusting = reqwest::Client::builder().build().expect("client");
    let before = sim.requests().len();
    let err = untrusting
        .get(format!("{}/api/v1/healthcheck", sim.base_url()))
        .send()
        .await
        .expect_err("untrusted certificate");
    assert!(err.is_connect(), "{err:?}");
    assert_eq!(sim.requests().len(), before);

    let plain = sim_with(|_| {}).await;
    assert!(plain.base_url().starts_with("http://"));
    assert!(plain.ca_pem().is_none());
    plain.shutdown().await;
    let base = sim.base_url();
    sim.shutdown().await;
    // A fresh client, so no pooled connection is involved.
    let err = reqwest::Client::new()
        .get(format!("{base}/api/v1/healthcheck"))
        .send()
        .await
        .expect_err("nothing listens after shutdown");
    assert!(err.is_connect(), "{err:?}");
}

/// The switches issue 17's connector tests use, and the folder by path: a throttle with its
/// Retry-After, a server without the restricted POST, one that ignores autoComment.
#[tokio::test]
async fn throttling_missing_restricted_endpoints_and_ignored_auto_comment() {
    let sim = sim().await;
    let client = client(&sim);
    let token = svc_token(&client, &sim).await;

    sim.faults().rate_limit_next(2, 429, Some("7"));
    for _ in 0..2 {
        let r = client
            .get(format!("{}/api/v1/secrets/10", sim.base_url()))
            .bearer_auth(&token)
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()["retry-after"], "7");
    }
    sim.faults().rate_limit_next(1, 503, None);
    let r = client
        .get(format!("{}/api/v1/healthcheck", sim.base_url()))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().get("retry-after").is_none());
    assert_eq!(
        api_get(&client, &sim, &token, "/api/v1/secrets/10").await.0,
        StatusCode::OK
    );

    // autoComment opens a comment-required secret, unless the server ignores it.
    let commented = "/api/v1/secrets/13?autoComment=audit";
    assert_eq!(
        api_get(&client, &sim, &token, commented).await.0,
        StatusCode::OK
    );
    // A comment once given lasts for the token; another reader has given none yet.
    let other = token_for(&client, &sim, OTHER_USER, OTHER_PASSWORD).await;
    sim.faults().set_auto_comment_ignored(true);
    let (status, body) = api_get(&client, &sim, &other, commented).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("comment")),
        "{body}"
    );
    sim.faults().set_auto_comment_ignored(false);

    sim.faults().set_restricted_endpoints_absent(true);
    let r = client
        .post(format!("{}/api/v1/secrets/13/restricted", sim.base_url()))
        .bearer_auth(&token)
        .json(&serde_json::json!({"comment": "audit"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    sim.faults().set_restricted_endpoints_absent(false);

    // A folder by its path, and by id; an unknown one is access denied.
    let (status, folder) = api_get(
        &client,
        &sim,
        &token,
        "/api/v1/folders/0?folderPath=%5CUnix%5CProd",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (folder["id"].clone(), folder["folderPath"].clone()),
        (serde_json::json!(3), serde_json::json!("\\Unix\\Prod"))
    );
    assert_eq!(
        api_get(&client, &sim, &token, "/api/v1/folders/4").await.1["folderName"],
        "Windows"
    );
    let (status, body) = api_get(
        &client,
        &sim,
        &token,
        "/api/v1/folders/0?folderPath=%5CNope",
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].clone()),
        (StatusCode::BAD_REQUEST, "API_AccessDenied".into())
    );
}
