//! The appliance side of jobs: long-poll claims, leases extended by heartbeat, and results
//! posted per target with an idempotency key.
use super::auth::ApplianceAuth;
use super::error::{ApiError, ApiResult, Body};
use crate::domain::jobs::Wake;
/// Still reachable here for the tests and benches that start a server.
pub use crate::domain::jobs::{LEASE_SECS, LEASE_SECS_RANGE, lease_secs_error};
use crate::domain::{Shared, claims};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use claims::Claimed;
use sealscan_protocols::appliance::{
    CLAIM_AFTER_START_HEADER, ClaimRequest, HeartbeatResponse, MAX_CLAIM_WAIT_SECS, ResultAck,
    ResultPost,
};
use std::time::Duration;

/// `POST /api/v1/appliance/jobs/claim`: a job at once when one is queued, else a wait (woken by
/// new scans and approvals, never polled) up to the asked bound, then 204.
pub async fn claim(
    State(state): State<Shared>,
    ApplianceAuth(me): ApplianceAuth,
    headers: HeaderMap,
    Body(req): Body<ClaimRequest>,
) -> ApiResult<Response> {
    let after_start = headers
        .get(CLAIM_AFTER_START_HEADER)
        .is_some_and(|v| v.as_bytes() == b"1");
    let wait = Duration::from_secs(u64::from(req.wait_secs.min(MAX_CLAIM_WAIT_SECS)));
    let deadline = tokio::time::Instant::now() + wait;
    let mut woken_by = None;
    loop {
        // Registered before looking, so a scan created in between still wakes this claim.
        let ticket = state.work.register(&me.id);
        // The store is one SQLite connection behind a lock: waiting for it here would stall
        // this runtime worker and every connection it serves, so the claim runs on the
        // blocking pool.
        let claimed = {
            let (state, me) = (state.clone(), me.clone());
            tokio::task::spawn_blocking(move || claims::try_claim(&state, &me, after_start))
                .await
                .map_err(|e| {
                    ApiError::from(crate::store::StoreError::Corrupt(format!(
                        "the claim task failed: {e}"
                    )))
                })??
        };
        match claimed {
            Claimed::Job(claimed) => {
                let (job, signatures) = *claimed;
                let body = crate::domain::signing::claim_body(&job, &signatures);
                return Ok(Json(body).into_response());
            }
            Claimed::Nothing { skipped } => {
                if let (true, Some(Wake::Job { hops })) = (skipped, woken_by) {
                    state.work.pass_on(hops, &me.id);
                }
            }
        }
        let mut ticket = ticket;
        match tokio::time::timeout_at(deadline, &mut ticket.woken).await {
            Err(_) => return Ok(StatusCode::NO_CONTENT.into_response()),
            Ok(wake) => woken_by = wake.ok(),
        }
        claims::still_approved(&state, &me.id)?;
    }
}

/// `POST /api/v1/appliance/jobs/{job_id}/heartbeat`: extends the lease, or tells the appliance
/// to stop when the job finished or went to another appliance.
pub async fn heartbeat(
    State(state): State<Shared>,
    ApplianceAuth(me): ApplianceAuth,
    Path(text): Path<String>,
) -> ApiResult<Json<HeartbeatResponse>> {
    let id = claims::job_id(&text)?;
    let cancel = claims::heartbeat(&state, &me, id)?;
    Ok(Json(HeartbeatResponse {
        lease_secs: state.work.lease_secs(),
        cancel,
    }))
}

/// `POST /api/v1/appliance/jobs/{job_id}/results`: one result per target and login kind; a
/// repeated idempotency key is acknowledged as a duplicate and records nothing.
pub async fn post_result(
    State(state): State<Shared>,
    ApplianceAuth(me): ApplianceAuth,
    Path(text): Path<String>,
    Body(post): Body<ResultPost>,
) -> ApiResult<Json<ResultAck>> {
    let id = claims::job_id(&text)?;
    Ok(Json(claims::record_result(&state, &me, id, &post)?))
}
