//! An appliance's hold on a job: the claim that leases it (only to an appliance that can open
//! its secrets), the heartbeat that keeps the lease, and the results posted per target.
use crate::domain::{DomainError, DomainResult, Shared, signing, validate};
use crate::jobs_material::build_job_material;
use crate::store::{ApplianceRow, ApplianceState, JobRow, Tx};
use sealscan_api::Code;
use sealscan_protocols::appliance::{
    Job, JobRecord, JobVault, RecordLogin, ResultAck, ResultPost, SecretValue,
};
use sealscan_protocols::envelope::Envelope;
use sealscan_protocols::results::{Status, qid_for};
use sealscan_protocols::signing::JobSignatures;

/// What one claim attempt found.
pub enum Claimed {
    /// The job and the signed data the appliance checks its records with.
    Job(Box<(Job, JobSignatures)>),
    /// Nothing; `skipped` says whether a queued job was passed over because this appliance
    /// cannot open its secrets yet (another appliance could take it).
    Nothing { skipped: bool },
}

/// How many queued jobs one claim looks at.
const CLAIM_SCAN_LIMIT: u32 = 64;

/// A job id as the path gives it; anything else names no job.
pub fn job_id(text: &str) -> DomainResult<i64> {
    validate::positive_id(text).ok_or_else(|| no_job(text))
}

fn no_job(text: &str) -> DomainError {
    DomainError::not_found(Code::JobUnknown, format!("no job has the id {text:?}"))
}

fn job(tx: &Tx<'_>, id: i64) -> DomainResult<JobRow> {
    tx.job(id)?.ok_or_else(|| no_job(&id.to_string()))
}

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
/// `after_start`: the appliance's agent has just started (see
/// `sealscan_protocols::appliance::CLAIM_AFTER_START_HEADER`), so a job it still holds a
/// lease on was left by its previous process, which is gone: that job comes first, re-leased
/// at once rather than after its lease runs out. Its targets with results stay done; one
/// whose result was posted but not yet marked may run again, and its repeated result is the
/// same idempotency key, recorded once. Only the first claim after a start does this: a second
/// process misconfigured with the same identity takes over the job the first is running once
/// (both then finish it, each target still recorded once) and after that claims queued jobs
/// as it would without this.
pub fn try_claim(state: &Shared, me: &ApplianceRow, after_start: bool) -> DomainResult<Claimed> {
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
            let signatures = signing::job_signatures(tx, &records)?;
            tx.lease_job(job.id, &me.id, now + i64::from(state.work.lease_secs()))?;
            return Ok(Claimed::Job(Box::new((
                Job {
                    job_id: job.id.to_string(),
                    scan_id: job.scan_id.to_string(),
                    lease_secs: state.work.lease_secs(),
                    targets,
                    records,
                    vaults,
                },
                signatures,
            ))));
        }
        Ok(Claimed::Nothing { skipped })
    })
}

/// A claim keeps waiting only for an appliance still approved: a revoked one stops even
/// mid-wait.
pub fn still_approved(state: &Shared, appliance_id: &str) -> DomainResult<()> {
    let still = state.store.read(|tx| tx.appliance(appliance_id))?;
    if still.is_none_or(|a| a.state != ApplianceState::Approved) {
        return Err(DomainError::unauthenticated(
            Code::AuthInvalidToken,
            "the appliance was revoked while waiting for work",
        ));
    }
    Ok(())
}

/// Extends `me`'s lease on job `id`; true tells the appliance to stop (the job finished or
/// went to another appliance).
pub fn heartbeat(state: &Shared, me: &ApplianceRow, id: i64) -> DomainResult<bool> {
    let now = state.now();
    state.store.write(|tx| {
        tx.requeue_expired_leases(now)?;
        let job = job(tx, id)?;
        // Re-assigned after this appliance's lease ran out: it stops, the other one finishes.
        if job.claimed_by.as_deref() != Some(me.id.as_str()) {
            return Ok(true);
        }
        let expires = now + i64::from(state.work.lease_secs());
        match job.state.as_str() {
            "leased" => {
                tx.extend_lease(id, expires)?;
                Ok(false)
            }
            // The lease ran out but nobody took the job over: this appliance keeps it.
            "queued" => {
                tx.lease_job(id, &me.id, expires)?;
                Ok(false)
            }
            _ => Ok(true),
        }
    })
}

/// What a result must say of itself before it is looked up: its key, its QID and, unless it
/// passed, its cause.
fn check_result(id: i64, post: &ResultPost) -> DomainResult<()> {
    let expected_key = ResultPost::key_for(&id.to_string(), &post.target_id, post.outcome.kind);
    if post.idempotency_key != expected_key {
        return Err(DomainError::refused(
            Code::ResultIdempotencyKey,
            format!("the idempotency key for this result is {expected_key:?}"),
        ));
    }
    let qid = qid_for(post.outcome.kind, post.outcome.status);
    if post.outcome.qid != qid {
        return Err(DomainError::refused(
            Code::ResultQid,
            format!(
                "QID {} does not match a {:?} {:?} result (expected {qid})",
                post.outcome.qid, post.outcome.kind, post.outcome.status
            ),
        ));
    }
    if post.outcome.status != Status::Passed && post.outcome.cause.is_none() {
        return Err(DomainError::refused(
            Code::ResultCause,
            "a result that did not pass names its cause",
        ));
    }
    Ok(())
}

/// Records one target's result of job `id` from `me`; a repeated idempotency key is
/// acknowledged as a duplicate and records nothing.
pub fn record_result(
    state: &Shared,
    me: &ApplianceRow,
    id: i64,
    post: &ResultPost,
) -> DomainResult<ResultAck> {
    check_result(id, post)?;
    let now = state.now();
    state.store.write(|tx| {
        let job = job(tx, id)?;
        if tx.result_by_key(&post.idempotency_key)?.is_some() {
            return Ok(ResultAck { duplicate: true });
        }
        if job.claimed_by.as_deref() != Some(me.id.as_str()) {
            return Err(DomainError::forbidden(
                Code::JobNotYours,
                format!("job {id} is held by another appliance, not {}", me.id),
            ));
        }
        let target = tx
            .job_targets(id)?
            .into_iter()
            .find(|t| t.target_id == post.target_id)
            .ok_or_else(|| {
                DomainError::refused(
                    Code::ResultUnknownTarget,
                    format!("job {id} has no target {:?}", post.target_id),
                )
            })?;
        if target.kind != post.outcome.kind || target.host != post.host {
            return Err(DomainError::refused(
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
    })
}
