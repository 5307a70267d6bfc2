//! Secrets in request bodies: records and vaults parse straight into zeroizing types after the
//! role check; malformed bodies get rule-named errors that never echo a secret and change
//! nothing. Over the real HTTPS API and SQLite store.
mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn malformed_secret_bodies_are_refused_without_echo_and_change_nothing() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    let client = make_client(&h.ca_pem, None);
    let raw = |method: reqwest::Method, path: &str, content_type: &str, body: &str| {
        client
            .request(method, format!("{}{}", h.base, path))
            .bearer_auth(&pc)
            .header("content-type", content_type)
            .body(body.to_string())
    };

    // Not JSON by its content type: 415, before anything is parsed.
    let r = raw(
        reqwest::Method::POST,
        "/api/v1/records",
        "text/plain",
        r#"{"kind":"unix"}"#,
    )
    .send()
    .await
    .expect("request reaches the server");
    assert_eq!(r.status().as_u16(), 415);
    let body: serde_json::Value = r.json().await.expect("JSON error");
    assert_eq!(body["error"]["rule"], "request.malformed");

    // Broken JSON, and a secret of the wrong shape: 400, the value never in the reply.
    for (path, text) in [
        (
            "/api/v1/records",
            r#"{"kind":"unix","title":"T","user":"u","ips":["10.8.0.1"],"secrets":[{"field":"password","value":{"model":"legacy","value":"not-base64-Secret-XYZ!"}}]}"#,
        ),
        (
            "/api/v1/vaults",
            r#"{"title":"V","url":"https://ss.example","user":"svc","password":{"model":"legacy","value":31415926535}}"#,
        ),
        ("/api/v1/records", r#"{"kind":"unix","title":"Secret-XYZ"#),
    ] {
        let r = raw(reqwest::Method::POST, path, "application/json", text)
            .send()
            .await
            .expect("request reaches the server");
        let status = r.status().as_u16();
        let reply = r.text().await.expect("body");
        assert_eq!(status, 400, "{path}: {reply}");
        assert!(reply.contains("request.malformed"), "{reply}");
        for secret in ["Secret-XYZ", "31415926535"] {
            assert!(!reply.contains(secret), "{path} echoed {secret}: {reply}");
        }
    }
    for path in ["/api/v1/records", "/api/v1/vaults"] {
        let v = h.call("get", path, Some(&pc), None).await.expect_ok();
        let n = v
            .as_array()
            .map(Vec::len)
            .or_else(|| {
                v.as_object()
                    .and_then(|o| o.values().find_map(|x| x.as_array().map(Vec::len)))
            })
            .unwrap_or_else(|| panic!("{path}: no list in {v}"));
        assert_eq!(n, 0, "{path}: {v}");
    }

    // A password sent as a number is refused without its digits in the reply.
    let r = h
        .call(
            "post",
            "/api/v1/session",
            None,
            Some(json!({"username": PC_USER, "password": 27182818284_u64})),
        )
        .await;
    assert_eq!(r.rule(), "request.malformed", "{}", r.body);
    assert!(!r.body.to_string().contains("27182818284"), "{}", r.body);

    // A well-formed body with escapes parses as before.
    let r = raw(
        reqwest::Method::POST,
        "/api/v1/vaults",
        "application/json; charset=utf-8",
        r#"{"title":"V\u00e9","url":"https://ss.example","user":"svc","password":{"model":"legacy","value":"U2VjcmV0LTE="}}"#,
    )
    .send()
    .await
    .expect("request reaches the server");
    assert_eq!(r.status().as_u16(), 201, "{:?}", r.text().await);
}
