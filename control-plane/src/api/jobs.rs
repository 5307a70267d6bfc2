//! The appliance side of jobs: long-poll claims, leases extended by heartbeat, and results
//! posted per target with an idempotency key.
use super::auth::ApplianceAuth;
use super::error::{ApiError, ApiResult, Body};
use crate::domain::Shared;
use crate::domain::jobs::Wake;
/// Still reachable here for the tests and benches that start a server.
pub use crate::domain::jobs::{LEASE_SECS, LEASE_SECS_RANGE, lease_secs_error};
use crate::jobs_material::build_job_material;
use crate::store::{ApplianceRow, JobRow, Tx};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sealscan_api::Code;
use sealscan_protocols::appliance::{
    CLAIM_AFTER_START_HEADER, ClaimRequest, HeartbeatResponse, Job, JobRecord, JobVault,
    MAX_CLAIM_WAIT_SECS, RecordLogin, ResultAck, ResultPost, SecretValue,
};
use sealscan_protocols::envelope::Envelope;
use sealscan_protocols::results::{Status, qid_for};
use std::time::Duration;

fn job_id(text: &str) -> Result<i64, ApiError> {
    super::scans::parse_id(text)
        .ok_or_else(|| ApiError::not_found(Code::JobUnknown, format!("no job has the id {text:?}")))
}

/// What one claim attempt found.
enum Claimed {
    Job(Box<Job>),
    /// Nothing; `skipped` says whether a queued job was passed over because this appliance
    /// cannot open its secrets yet (another appliance could take it).
    Nothing {
        skipped: bool,
    },
}

/// How many queued jobs one claim looks at.
const CLAIM_SCAN_LIMIT: u32 = 64;

/// Whether every sealed secret of the job has a recipient entry for this key.
fn can_open_all(key_id: &str, records: &[JobRecord], vaults: &[JobVault]) -> bool {
    let sealed = records
        .iter()
        .flat_map(|r| match &r.login {
            RecordLogin::Basic { secrets } => secrets.iter().map(|s| &s.value).collect(),
            RecordLogin::Vault { .. } => Vec::new(),
        })
        .chain(vaults.iter().map(|v| &v.password));
    sealed.into_iter().all(|value| match value {
        SecretValue::Sealed { envelope } => Envelope::from_text(envelope)
            .map(|e| e.recipient_key_ids().any(|k| hex::encode(k) == key_id))
            .unwrap_or(true),
        SecretValue::Legacy { .. } => true,
    })
}

/// Leases the oldest claimable job with unfinished targets, built with the records' material
/// as they are now (so a re-claim after a rewrap or a migration carries the current envelopes).
///
/// `after_start`: the appliance's agent has just started (see [`CLAIM_AFTER_START_HEADER`]), so
/// a job it still holds a lease on was left by its previous process, which is gone: that job
/// comes first, re-leased at once rather than after its lease runs out. Its targets with
/// results stay done; one whose result was posted but not yet marked may run again, and its
/// repeated result is the same idempotency key, recorded once. Only the first claim after a
/// start does this: a second process misconfigured with the same identity takes over the job
/// the first is running once (both then finish it, each target still recorded once) and
/// after that claims queued jobs as it would without this.
fn try_claim(state: &Shared, me: &ApplianceRow, after_start: bool) -> Result<Claimed, ApiError> {
    let now = state.now();
    state.store.write(|tx| {
        state.work.requeue_expired_once(tx, now)?;
        let mut skipped = false;
        let held = if after_start {
            tx.held_job_ids(&me.id, now)?
        } else {
            Vec::new()
        };
        for id in held
            .into_iter()
            .chain(tx.claimable_job_ids(&me.id, CLAIM_SCAN_LIMIT)?)
        {
            let Some(job) = tx.job(id)? else { continue };
            let open = tx.open_targets(job.id)?;
            if open.is_empty() {
                tx.complete_job_if_finished(job.id, now)?;
                continue;
            }
            let (mut targets, records, vaults) = build_job_material(tx, &state.data_key, &open)?;
            if !can_open_all(&me.key_id, &records, &vaults) {
                // Approved after these secrets were sealed and not rewrapped for yet: the job
                // waits for an appliance that can open them (or for the rewrap).
                skipped = true;
                continue;
            }
            if let Some(scan) = tx.scan(job.scan_id)? {
                for t in &mut targets {
                    t.port = t.port.or(scan.ports.for_kind(t.kind));
                }
            }
            tx.lease_job(job.id, &me.id, now + i64::from(state.work.lease_secs()))?;
            return Ok(Claimed::Job(Box::new(Job {
                job_id: job.id.to_string(),
                scan_id: job.scan_id.to_string(),
                lease_secs: state.work.lease_secs(),
                targets,
                records,
                vaults,
            })));
        }
        Ok(Claimed::Nothing { skipped })
    })
}

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
            tokio::task::spawn_blocking(move || try_claim(&state, &me, after_start))
                .await
                .map_err(|e| {
                    ApiError::from(crate::store::StoreError::Corrupt(format!(
                        "the claim task failed: {e}"
                    )))
                })??
        };
        match claimed {
            Claimed::Job(job) => return Ok(Json(*job).into_response()),
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
        // A revoked appliance stops claiming even mid-wait.
        let still = state.store.read(|tx| tx.appliance(&me.id))?;
        if still.is_none_or(|a| a.state != crate::store::ApplianceState::Approved) {
            return Err(ApiError::unauthorized(
                Code::AuthInvalidToken,
                "the appliance was revoked while waiting for work",
            ));
        }
    }
}

fn owned_job(tx: &Tx<'_>, id: i64, text: &str) -> Result<JobRow, ApiError> {
    tx.job(id)?
        .ok_or_else(|| ApiError::not_found(Code::JobUnknown, format!("no job has the id {text:?}")))
}

/// `POST /api/v1/appliance/jobs/{job_id}/heartbeat`: extends the lease, or tells the appliance
/// to stop when the job finished or went to another appliance.
pub async fn heartbeat(
    State(state): State<Shared>,
    ApplianceAuth(me): ApplianceAuth,
    Path(text): Path<String>,
) -> ApiResult<Json<HeartbeatResponse>> {
    let id = job_id(&text)?;
    let now = state.now();
    let cancel = state.store.write(|tx| {
        tx.requeue_expired_leases(now)?;
        let job = owned_job(tx, id, &text)?;
        // Re-assigned after this appliance's lease ran out: it stops, the other one finishes.
        if job.claimed_by.as_deref() != Some(me.id.as_str()) {
            return Ok(true);
        }
        let expires = now + i64::from(state.work.lease_secs());
        match job.state.as_str() {
            "leased" => {
                tx.extend_lease(id, expires)?;
                Ok::<_, ApiError>(false)
            }
            // The lease ran out but nobody took the job over: this appliance keeps it.
            "queued" => {
                tx.lease_job(id, &me.id, expires)?;
                Ok(false)
            }
            _ => Ok(true),
        }
    })?;
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
    let id = job_id(&text)?;
    let now = state.now();
    let bad = |rule: Code, why: String| ApiError::unprocessable(rule, why);
    let expected_key = ResultPost::key_for(&id.to_string(), &post.target_id, post.outcome.kind);
    if post.idempotency_key != expected_key {
        return Err(bad(
            Code::ResultIdempotencyKey,
            format!("the idempotency key for this result is {expected_key:?}"),
        ));
    }
    let qid = qid_for(post.outcome.kind, post.outcome.status);
    if post.outcome.qid != qid {
        return Err(bad(
            Code::ResultQid,
            format!(
                "QID {} does not match a {:?} {:?} result (expected {qid})",
                post.outcome.qid, post.outcome.kind, post.outcome.status
            ),
        ));
    }
    if post.outcome.status != Status::Passed && post.outcome.cause.is_none() {
        return Err(bad(
            Code::ResultCause,
            "a result that did not pass names its cause".into(),
        ));
    }
    let ack = state.store.write(|tx| {
        let job = owned_job(tx, id, &text)?;
        if tx.result_by_key(&post.idempotency_key)?.is_some() {
            return Ok::<_, ApiError>(ResultAck { duplicate: true });
        }
        if job.claimed_by.as_deref() != Some(me.id.as_str()) {
            return Err(ApiError::forbidden(
                Code::JobNotYours,
                format!("job {id} is held by another appliance, not {}", me.id),
            ));
        }
        let target = tx
            .job_targets(id)?
            .into_iter()
            .find(|t| t.target_id == post.target_id)
            .ok_or_else(|| {
                bad(
                    Code::ResultUnknownTarget,
                    format!("job {id} has no target {:?}", post.target_id),
                )
            })?;
        if target.kind != post.outcome.kind || target.host != post.host {
            return Err(bad(
                Code::ResultTargetMismatch,
                format!(
                    "target {} is {} ({:?}); the result names {} ({:?})",
                    target.target_id, target.host, target.kind, post.host, post.outcome.kind
                ),
            ));
        }
        tx.insert_result(
            &job,
            &post.idempotency_key,
            &post.target_id,
            &post.host,
            post.record_id.as_deref(),
            &me.id,
            &post.outcome,
            now,
        )?;
        tx.complete_job_if_finished(id, now)?;
        Ok(ResultAck { duplicate: false })
    })?;
    Ok(Json(ack))
}
