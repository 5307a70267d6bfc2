//! Appliances over HTTP: Managers' enrollment tokens, the list with key fingerprints, the
//! decisions, and the two public enrollment calls; the rules are in `domain::appliances`.
use super::auth::{ClientIp, CurrentUser, UserPrincipal};
use super::error::{ApiResult, Body};
use crate::authz::{self, Action};
use crate::domain::Shared;
use crate::domain::appliances::{self, Manager};
pub use crate::domain::appliances::{APPLIANCE_TOKEN_PREFIX, ENROLL_TOKEN_PREFIX};
use crate::store::{ApplianceRow, ApplianceState, EnrollmentToken};
use axum::Json;
use axum::extract::{Path, State};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
pub use sealscan_api::appliances::{
    ApplianceView, Decided, DecisionRequest, TokenCreated, TokenRequest,
};
use sealscan_protocols::appliance::{
    EnrollPollRequest, EnrollRequest, EnrollResponse, EnrollState,
};

pub fn view(a: &ApplianceRow) -> ApplianceView {
    ApplianceView {
        id: a.id.clone(),
        name: a.name.clone(),
        state: a.state,
        fingerprint: a.fingerprint.clone(),
        public_key: STANDARD.encode(&a.public_key),
        key_id: a.key_id.clone(),
        enrolled_at: a.enrolled_at,
        enrolled_ip: a.enrolled_ip.clone(),
        decided_at: a.decided_at,
        decided_by: a.decided_by.clone(),
        reason: a.reason.clone(),
        credential_collected: a.credential_collected,
        last_seen_at: a.last_seen_at,
    }
}

pub async fn create_token(
    State(state): State<Shared>,
    CurrentUser(p): CurrentUser,
    Body(req): Body<TokenRequest>,
) -> ApiResult<Json<TokenCreated>> {
    authz::require(&p.actor(), Action::ManageAppliances)?;
    let ip = p.ip.to_string();
    let by = Manager {
        username: &p.user.username,
        ip: &ip,
    };
    let (token, label, expires_at) =
        appliances::create_token(&state, &by, req.label, req.expires_in_hours)?;
    Ok(Json(TokenCreated {
        token,
        label,
        expires_at,
    }))
}

pub async fn list_tokens(
    State(state): State<Shared>,
    CurrentUser(p): CurrentUser,
) -> ApiResult<Json<Vec<EnrollmentToken>>> {
    authz::require(&p.actor(), Action::ManageAppliances)?;
    Ok(Json(state.store.read(|tx| tx.list_enrollment_tokens())?))
}

pub async fn list(
    State(state): State<Shared>,
    CurrentUser(p): CurrentUser,
) -> ApiResult<Json<Vec<ApplianceView>>> {
    authz::require(&p.actor(), Action::ViewAppliances)?;
    let all = state.store.read(|tx| tx.list_appliances())?;
    Ok(Json(all.iter().map(view).collect()))
}

pub async fn approve(
    State(state): State<Shared>,
    CurrentUser(p): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Decided>> {
    decide(&state, &p, &id, ApplianceState::Approved, None).await
}

pub async fn reject(
    State(state): State<Shared>,
    CurrentUser(p): CurrentUser,
    Path(id): Path<String>,
    Body(req): Body<DecisionRequest>,
) -> ApiResult<Json<Decided>> {
    decide(&state, &p, &id, ApplianceState::Rejected, req.reason).await
}

pub async fn revoke(
    State(state): State<Shared>,
    CurrentUser(p): CurrentUser,
    Path(id): Path<String>,
    Body(req): Body<DecisionRequest>,
) -> ApiResult<Json<Decided>> {
    decide(&state, &p, &id, ApplianceState::Revoked, req.reason).await
}

async fn decide(
    state: &Shared,
    p: &UserPrincipal,
    id: &str,
    to: ApplianceState,
    reason: Option<String>,
) -> ApiResult<Json<Decided>> {
    authz::require(&p.actor(), Action::ManageAppliances)?;
    let ip = p.ip.to_string();
    let by = Manager {
        username: &p.user.username,
        ip: &ip,
    };
    let (row, pending) = appliances::decide(state, &by, id, to, reason)?;
    Ok(Json(Decided {
        appliance: view(&row),
        rewrap_pending: pending,
    }))
}

pub async fn enroll(
    State(state): State<Shared>,
    ClientIp(ip): ClientIp,
    Body(req): Body<EnrollRequest>,
) -> ApiResult<Json<EnrollResponse>> {
    Ok(Json(appliances::enroll(&state, &ip.to_string(), &req)?))
}

pub async fn enroll_poll(
    State(state): State<Shared>,
    Body(req): Body<EnrollPollRequest>,
) -> ApiResult<Json<EnrollState>> {
    Ok(Json(appliances::enroll_poll(&state, &req)?))
}
