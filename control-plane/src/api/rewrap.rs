//! Rewrap work over HTTP: the work an appliance fetches (204 when there is none) and the
//! envelopes it sends back; the rules are in `domain::rewrap`.
use super::auth::ApplianceAuth;
use super::error::{ApiResult, Body};
use crate::domain::{Shared, rewrap};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
pub use sealscan_api::appliances::RewrapStored;
use sealscan_protocols::appliance::RewrapSubmit;

/// `GET /api/v1/appliance/rewrap`: work for the oldest approved appliance that lacks entries
/// this caller can provide; 204 when there is none.
pub async fn work(
    State(state): State<Shared>,
    ApplianceAuth(me): ApplianceAuth,
) -> ApiResult<Response> {
    Ok(match rewrap::work_for(&state, &me)? {
        Some(work) => Json(work).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// `POST /api/v1/appliance/rewrap`: all items are checked first; one bad item refuses the
/// whole submission, naming it, and nothing is stored.
pub async fn submit(
    State(state): State<Shared>,
    ApplianceAuth(me): ApplianceAuth,
    Body(req): Body<RewrapSubmit>,
) -> ApiResult<Json<RewrapStored>> {
    Ok(Json(rewrap::submit(&state, &me, &req)?))
}
