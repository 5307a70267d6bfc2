//! The appliance side of jobs: long-poll claims, leases extended by heartbeat, and results
//! posted per target with an idempotency key.
use super::Shared;
use super::auth::ApplianceAuth;
use super::error::{ApiError, ApiResult, Body};
use crate::jobs_material::build_job_material;
use crate::store::{ApplianceRow, JobRow, Tx};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sealscan_protocols::appliance::{
    ClaimRequest, HeartbeatResponse, Job, JobRecord, JobVault, MAX_CLAIM_WAIT_SECS, RecordLogin,
    ResultAck, ResultPost, SecretValue,
};
use sealscan_protocols::envelope::Envelope;
use sealscan_protocols::results::{Status, qid_for};
use std::time::Duration;

/// How long a claim or heartbeat keeps a job; an appliance heartbeats well within it.
pub const LEASE_SECS: u32 = 120;

fn job_id(text: &str) -> Result<i64, ApiError> {
    super::scans::parse_id(text)
        .ok_or_else(|| ApiError::not_found("job.unknown", format!("no job has the id {text:?}")))
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
fn try_claim(state: &Shared, me: &ApplianceRow) -> Result<Option<Job>, ApiError> {
    let now = state.now();
    state.store.write(|tx| {
        tx.requeue_expired_leases(now)?;
        for job in tx.claimable_jobs(&me.id, CLAIM_SCAN_LIMIT)? {
            let open: Vec<(String, String, _)> = tx
                .job_targets(job.id)?
                .into_iter()
                .filter(|t| !t.done)
                .map(|t| (t.target_id, t.host, t.kind))
                .collect();
            if open.is_empty() {
                tx.complete_job_if_finished(job.id, now)?;
                continue;
            }
            let (mut targets, records, vaults) = build_job_material(tx, &state.data_key, &open)?;
            if !can_open_all(&me.key_id, &records, &vaults) {
                // Approved after these secrets were sealed and not rewrapped for yet: the job
                // waits for an appliance that can open them (or for the rewrap).
                continue;
            }
            if let Some(scan) = tx.scan(job.scan_id)? {
                for t in &mut targets {
                    t.port = t.port.or(scan.ports.for_kind(t.kind));
                }
            }
            tx.lease_job(job.id, &me.id, now + i64::from(LEASE_SECS))?;
            return Ok(Some(Job {
                job_id: job.id.to_string(),
                scan_id: job.scan_id.to_string(),
                lease_secs: LEASE_SECS,
                targets,
                records,
                vaults,
            }));
        }
        Ok(None)
    })
}

/// `POST /api/v1/appliance/jobs/claim`: a job at once when one is queued, else a wait (woken by
/// new scans and approvals, never polled) up to the asked bound, then 204.
pub async fn claim(
    State(state): State<Shared>,
    ApplianceAuth(me): ApplianceAuth,
    Body(req): Body<ClaimRequest>,
) -> ApiResult<Response> {
    let wait = Duration::from_secs(u64::from(req.wait_secs.min(MAX_CLAIM_WAIT_SECS)));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // Registered before looking, so a scan created in between still wakes this claim.
        let notified = state.work.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(job) = try_claim(&state, &me)? {
            return Ok(Json(job).into_response());
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        // A revoked appliance stops claiming even mid-wait.
        let still = state.store.read(|tx| tx.appliance(&me.id))?;
        if still.is_none_or(|a| a.state != crate::store::ApplianceState::Approved) {
            return Err(ApiError::unauthorized(
                "auth.invalid-token",
                "the appliance was revoked while waiting for work",
            ));
        }
    }
}

fn owned_job(tx: &Tx<'_>, id: i64, text: &str) -> Result<JobRow, ApiError> {
    tx.job(id)?
        .ok_or_else(|| ApiError::not_found("job.unknown", format!("no job has the id {text:?}")))
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
        let expires = now + i64::from(LEASE_SECS);
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
        lease_secs: LEASE_SECS,
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
    let bad = |rule: &'static str, why: String| ApiError::unprocessable(rule, why);
    let expected_key = ResultPost::key_for(&id.to_string(), &post.target_id, post.outcome.kind);
    if post.idempotency_key != expected_key {
        return Err(bad(
            "result.idempotency-key",
            format!("the idempotency key for this result is {expected_key:?}"),
        ));
    }
    let qid = qid_for(post.outcome.kind, post.outcome.status);
    if post.outcome.qid != qid {
        return Err(bad(
            "result.qid",
            format!(
                "QID {} does not match a {:?} {:?} result (expected {qid})",
                post.outcome.qid, post.outcome.kind, post.outcome.status
            ),
        ));
    }
    if post.outcome.status != Status::Passed && post.outcome.cause.is_none() {
        return Err(bad(
            "result.cause",
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
                "job.not-yours",
                format!("job {id} is held by another appliance, not {}", me.id),
            ));
        }
        let target = tx
            .job_targets(id)?
            .into_iter()
            .find(|t| t.target_id == post.target_id)
            .ok_or_else(|| {
                bad(
                    "result.unknown-target",
                    format!("job {id} has no target {:?}", post.target_id),
                )
            })?;
        if target.kind != post.outcome.kind || target.host != post.host {
            return Err(bad(
                "result.target-mismatch",
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
