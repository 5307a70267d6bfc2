//! TOTP (RFC 6238) enrolment: the user scans the provisioning URI, then proves a code.
use super::auth::AnyUserSession;
use super::error::{ApiResult, Body};
use crate::domain::Shared;
use crate::domain::accounts::twofa;
use axum::Json;
use axum::extract::State;
pub use sealscan_api::session::{ConfirmRequest, Confirmed, Enrollment};

/// Still reachable here for the tests that sign in with a code.
pub use crate::domain::accounts::twofa::code_for;

pub async fn enroll(
    State(state): State<Shared>,
    AnyUserSession(p): AnyUserSession,
) -> ApiResult<Json<Enrollment>> {
    Ok(Json(twofa::enroll(&state, &p.user)?))
}

pub async fn confirm(
    State(state): State<Shared>,
    AnyUserSession(p): AnyUserSession,
    Body(req): Body<ConfirmRequest>,
) -> ApiResult<Json<Confirmed>> {
    twofa::confirm(&state, &p.user, &req.code, &p.ip.to_string())?;
    Ok(Json(Confirmed {
        two_factor_enabled: true,
        message: "two-factor login is on for you; sign in again with your code".to_string(),
    }))
}
