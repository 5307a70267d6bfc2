//! The simulator's JSON against the models of the official Secret Server OpenAPI document
//! (tests/fixtures/openapi-models.json, property names and types taken from it): every
//! property it emits is documented, with the documented type, and a secret carries every
//! documented SecretModel property.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

fn models() -> Map<String, Value> {
    let text = include_str!("fixtures/openapi-models.json");
    match serde_json::from_str(text).expect("fixture is JSON") {
        Value::Object(map) => map,
        _ => panic!("fixture is not an object"),
    }
}

/// `YYYY-MM-DDTHH:MM:SS` with optional fraction and, when `zone_allowed`, a zone suffix.
fn is_timestamp(text: &str, zone_allowed: bool) -> bool {
    let bytes = text.as_bytes();
    let shape = bytes.len() >= 19
        && text.get(..19).is_some_and(|head| {
            head.char_indices().all(|(i, c)| match i {
                4 | 7 => c == '-',
                10 => c == 'T',
                13 | 16 => c == ':',
                _ => c.is_ascii_digit(),
            })
        });
    let rest = text.get(19..).unwrap_or("");
    let rest = match rest.strip_prefix('.') {
        Some(r) => r.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => rest,
    };
    shape && (rest.is_empty() || (zone_allowed && (rest == "Z" || rest.starts_with(['+', '-']))))
}

fn check(
    models: &Map<String, Value>,
    model: &str,
    value: &Value,
    at: &str,
    errors: &mut Vec<String>,
) {
    let Some(schema) = models.get(model).and_then(Value::as_object) else {
        errors.push(format!("{at}: no model {model} in the fixture"));
        return;
    };
    let Some(object) = value.as_object() else {
        errors.push(format!("{at}: {model} is not an object: {value}"));
        return;
    };
    for (key, v) in object {
        let here = format!("{at}.{key}");
        let Some(kind) = schema.get(key).and_then(Value::as_str) else {
            errors.push(format!("{here}: not a documented {model} property"));
            continue;
        };
        if v.is_null() {
            continue;
        }
        let ok = match kind {
            "int" => v.is_i64(),
            "bool" => v.is_boolean(),
            "string" => v.is_string(),
            // Health bodies carry zones; secrets never do (python-tss-sdk cannot parse them).
            "datetime" => v
                .as_str()
                .is_some_and(|t| is_timestamp(t, model == "HealthCheckModel")),
            "object" => v.is_object(),
            array if array.starts_with("array:") => {
                let inner = &array["array:".len()..];
                match v.as_array() {
                    None => false,
                    Some(items) => {
                        for (i, item) in items.iter().enumerate() {
                            if inner == "string" {
                                if !item.is_string() {
                                    errors.push(format!("{here}[{i}]: not a string"));
                                }
                            } else {
                                check(models, inner, item, &format!("{here}[{i}]"), errors);
                            }
                        }
                        true
                    }
                }
            }
            other => {
                errors.push(format!("{here}: unknown fixture type {other}"));
                true
            }
        };
        if !ok {
            errors.push(format!("{here}: {v} is not a documented {kind}"));
        }
    }
}

fn assert_model(model: &str, value: &Value) {
    let mut errors = Vec::new();
    check(&models(), model, value, model, &mut errors);
    assert!(
        errors.is_empty(),
        "{model} does not match the OpenAPI model:\n{}",
        errors.join("\n")
    );
}

#[tokio::test]
async fn responses_match_the_openapi_models() {
    let sim = sim().await;
    let client = client(&sim);
    let token = svc_token(&client, &sim).await;

    let (_, secret) = api_get(&client, &sim, &token, "/api/v1/secrets/10").await;
    assert_model("SecretModel", &secret);
    let documented: Vec<String> = models()["SecretModel"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let missing: Vec<&String> = documented
        .iter()
        .filter(|k| secret.get(k.as_str()).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "SecretModel properties the simulator leaves out: {missing:?}"
    );

    api_post(
        &client,
        &sim,
        &token,
        "/api/v1/secrets/14/check-out",
        json!({}),
    )
    .await;
    for path in [
        "/api/v1/secrets/14",
        "/api/v1/secrets/11",
        "/api/v2/secrets/12",
    ] {
        let (status, body) = api_get(&client, &sim, &token, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_model("SecretModel", &body);
    }
    for path in [
        "/api/v1/secrets?filter.includeRestricted=true&take=100",
        "/api/v1/secrets?paging.filter.folderId=3&paging.take=5&paging.skip=5",
    ] {
        let (_, body) = api_get(&client, &sim, &token, path).await;
        assert_model("PagingOfSecretSummary", &body);
    }
    for id in [10, 13, 14, 15] {
        let (_, summary) = api_get(
            &client,
            &sim,
            &token,
            &format!("/api/v1/secrets/{id}/summary"),
        )
        .await;
        assert_model("SecretSummary", &summary);
        let (_, state) = api_get(
            &client,
            &sim,
            &token,
            &format!("/api/v1/secrets/{id}/state"),
        )
        .await;
        assert_model("SecretDetailStateViewModel", &state);
    }
    let (_, summary) = api_post(
        &client,
        &sim,
        &token,
        "/api/v1/secrets/14/check-in",
        json!({}),
    )
    .await;
    assert_model("SecretSummary", &summary);

    let (_, health) = json_of(
        client
            .get(format!("{}/api/v1/healthcheck", sim.base_url()))
            .send()
            .await
            .expect("health"),
    )
    .await;
    // The default body adds "Healthy" (what the vendor's clients look for) to the model's
    // camelCase keys; without that one key it is the documented model.
    let mut health = health;
    assert_eq!(
        health.as_object_mut().and_then(|h| h.remove("Healthy")),
        Some(json!(true))
    );
    assert_model("HealthCheckModel", &health);

    for path in [
        "/api/v1/secrets/999",
        "/api/v1/secrets/13",
        "/api/v1/secrets/15",
        "/api/v1/secrets?take=x",
    ] {
        let (status, body) = api_get(&client, &sim, &token, path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_model("BadRequestResponse", &body);
    }
    let (status, body) = api_get(&client, &sim, "not-a-token", "/api/v1/secrets/10").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_model("AuthenticationFailedResponse", &body);
    api_post(&client, &sim, &token, "/api/v1/oauth-expiration", json!({})).await;
    let (status, body) = api_get(&client, &sim, &token, "/api/v1/secrets/10").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_model("AuthenticationFailedResponse", &body);
}

#[test]
fn the_checker_catches_what_it_should() {
    let models = models();
    let mut errors = Vec::new();
    check(
        &models,
        "RestSecretItem",
        &json!({"itemId": "1", "slug": "x", "colour": "red"}),
        "item",
        &mut errors,
    );
    assert_eq!(errors.len(), 2, "{errors:?}");
    let mut errors = Vec::new();
    check(
        &models,
        "SecretModel",
        &json!({"lastHeartBeatCheck": "2024-05-01T10:00:00Z"}),
        "s",
        &mut errors,
    );
    assert_eq!(
        errors.len(),
        1,
        "a zone suffix breaks python-tss-sdk: {errors:?}"
    );
    assert!(is_timestamp("2024-05-01T10:00:00.443", false));
    assert!(is_timestamp("0001-01-01T00:00:00", false));
    assert!(is_timestamp("2024-05-01T16:00:00.1234567Z", true));
    assert!(!is_timestamp("2024-05-01 10:00:00", true));
}
