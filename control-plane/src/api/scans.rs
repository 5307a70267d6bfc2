//! Scans as users see them: create (targets, login kinds, an appliance or any approved one),
//! list, show with job and lease state, and the results table.
use super::auth::CurrentUser;
use super::error::{ApiError, ApiResult, Body};
use crate::authz::{self, Action};
use crate::domain::{Shared, scans};
use crate::store::{JobRow, ScanRow, Tx};
use axum::Json;
use axum::extract::{Path, State};
pub use sealscan_api::scans::{JobView, ResultView, ScanRequest, ScanState, ScanView};

pub use crate::domain::validate::positive_id as parse_id;

fn unknown_scan(id: &str) -> ApiError {
    scans::unknown_scan(id).into()
}

fn job_view(tx: &Tx<'_>, j: &JobRow) -> Result<JobView, ApiError> {
    let targets = tx.job_targets(j.id)?;
    Ok(JobView {
        id: j.id.to_string(),
        state: j.state.clone(),
        claimed_by: j.claimed_by.clone(),
        claims: j.claims,
        lease_expires_at: j.lease_expires_at,
        targets_total: targets.len(),
        targets_done: targets.iter().filter(|t| t.done).count(),
        completed_at: j.completed_at,
        waiting: crate::waiting::job_waiting(tx, j)?,
    })
}

fn scan_view(tx: &Tx<'_>, s: ScanRow) -> Result<ScanView, ApiError> {
    let jobs = tx
        .jobs_for_scan(s.id)?
        .iter()
        .map(|j| job_view(tx, j))
        .collect::<Result<Vec<_>, _>>()?;
    let total = jobs.iter().map(|j| j.targets_total).sum();
    let done = jobs.iter().map(|j| j.targets_done).sum();
    let state = if s.completed_at.is_some() {
        ScanState::Done
    } else if jobs.iter().any(|j| j.claims > 0) {
        ScanState::Running
    } else {
        ScanState::Queued
    };
    Ok(ScanView {
        id: s.id.to_string(),
        title: s.title,
        created_by: s.created_by,
        created_at: s.created_at,
        targets: s.targets,
        kinds: s.kinds,
        appliance: s.appliance_id,
        ports: s.ports,
        state,
        targets_total: total,
        targets_done: done,
        completed_at: s.completed_at,
        waiting: jobs
            .iter()
            .find_map(|j| j.waiting.as_ref().map(|w| w.reason.clone())),
        jobs,
    })
}

pub async fn create(
    State(state): State<Shared>,
    CurrentUser(p): CurrentUser,
    Body(req): Body<ScanRequest>,
) -> ApiResult<Json<ScanView>> {
    authz::require(&p.actor(), Action::CreateScan)?;
    let scan = scans::create(&state, &p.user.username, &p.ip.to_string(), &req)?;
    Ok(Json(state.store.read(|tx| scan_view(tx, scan))?))
}

pub async fn list(
    State(state): State<Shared>,
    CurrentUser(p): CurrentUser,
) -> ApiResult<Json<Vec<ScanView>>> {
    authz::require(&p.actor(), Action::ViewScans)?;
    let now = state.now();
    Ok(Json(state.store.write(|tx| {
        tx.requeue_expired_leases(now)?;
        tx.list_scans()?
            .into_iter()
            .map(|s| scan_view(tx, s))
            .collect::<Result<Vec<_>, ApiError>>()
    })?))
}

pub async fn show(
    State(state): State<Shared>,
    CurrentUser(p): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<ScanView>> {
    authz::require(&p.actor(), Action::ViewScans)?;
    let scan_id = parse_id(&id).ok_or_else(|| unknown_scan(&id))?;
    let now = state.now();
    Ok(Json(state.store.write(|tx| {
        tx.requeue_expired_leases(now)?;
        let scan = tx.scan(scan_id)?.ok_or_else(|| unknown_scan(&id))?;
        scan_view(tx, scan)
    })?))
}

pub async fn results(
    State(state): State<Shared>,
    CurrentUser(p): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ResultView>>> {
    authz::require(&p.actor(), Action::ViewScans)?;
    let scan_id = parse_id(&id).ok_or_else(|| unknown_scan(&id))?;
    let rows = state.store.read(|tx| {
        tx.scan(scan_id)?.ok_or_else(|| unknown_scan(&id))?;
        Ok::<_, ApiError>(tx.results_for_scan(scan_id)?)
    })?;
    Ok(Json(
        rows.into_iter()
            .map(|r| ResultView {
                host: r.host,
                target_id: r.target_id,
                kind: r.outcome.kind,
                status: r.outcome.status,
                qid: r.outcome.qid,
                step: r.outcome.cause.as_ref().map(|c| c.step.to_string()),
                cause: r.outcome.cause.as_ref().map(|c| c.to_string()),
                login_id: r.outcome.login_id,
                method: r.outcome.method,
                facts: r.outcome.facts,
                record_id: r.record_id,
                appliance_id: r.appliance_id,
                job_id: r.job_id.to_string(),
                at: r.at,
            })
            .collect(),
    ))
}
