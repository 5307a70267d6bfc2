//! TOTP (RFC 6238) enrolment: the user scans the provisioning URI, then proves a code.
use super::auth::AnyUserSession;
use super::error::{ApiResult, Body};
use crate::domain::Shared;
use crate::domain::accounts::twofa;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Still reachable here for the tests that sign in with a code.
pub use crate::domain::accounts::twofa::code_for;

#[derive(Serialize)]
pub struct Enrollment {
    pub secret_base32: String,
    pub provisioning_uri: String,
    pub message: &'static str,
}

pub async fn enroll(
    State(state): State<Shared>,
    AnyUserSession(p): AnyUserSession,
) -> ApiResult<Json<Enrollment>> {
    let e = twofa::enroll(&state, &p.user)?;
    Ok(Json(Enrollment {
        secret_base32: e.secret_base32,
        provisioning_uri: e.provisioning_uri,
        message: "scan the provisioning URI with an authenticator app, then confirm with POST /api/v1/2fa/confirm",
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    pub code: String,
}

pub async fn confirm(
    State(state): State<Shared>,
    AnyUserSession(p): AnyUserSession,
    Body(req): Body<ConfirmRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    twofa::confirm(&state, &p.user, &req.code, &p.ip.to_string())?;
    Ok(Json(json!({
        "two_factor_enabled": true,
        "message": "two-factor login is on for you; sign in again with your code"
    })))
}
