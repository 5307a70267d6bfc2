//! Anonymous health endpoints: `/api/v1/healthcheck` (11.x) and `/healthcheck.aspx` (older).
//!
//! No public capture of a real 11.x `/api/v1/healthcheck` body exists. The OpenAPI model is
//! camelCase (`healthy`), but the vendor's own clients, which work against real servers, look
//! for `Healthy` (python-tss-sdk 2.x: that exact JSON key; tss-sdk-go v3: that substring). The
//! default body therefore carries both; `health_pascal_key = false` gives the camelCase-only
//! body of the model, which python-tss-sdk 2.x refuses.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::errors::json_response;
use crate::state::Shared;
use crate::time_fmt::now_pair;

fn with_pascal_key(shared: &Shared, mut body: Value) -> Value {
    if shared.settings.health_pascal_key
        && let Some(obj) = body.as_object_mut()
    {
        obj.insert("Healthy".into(), Value::Bool(true));
    }
    body
}

pub(crate) async fn healthcheck(State(shared): State<Arc<Shared>>) -> Response {
    let (now, utc_now) = now_pair();
    let body = json!({
        "healthy": true,
        "databaseHealthy": true,
        "databaseMismatch": false,
        "serviceBusHealthy": true,
        "storageAccountHealthy": true,
        "scheduledForDeletion": false,
        "readOnlyMode": false,
        "now": now,
        "utcNow": utc_now,
        "provisionDeletionDateTime": null,
    });
    json_response(StatusCode::OK, with_pascal_key(&shared, body))
}

pub(crate) async fn healthcheck_aspx(State(shared): State<Arc<Shared>>) -> Response {
    let (now, utc_now) = now_pair();
    // The legacy page's documented body (the site-status page) is camelCase only.
    let _ = shared;
    json_response(
        StatusCode::OK,
        json!({"healthy": true, "now": now, "utcNow": utc_now}),
    )
}
