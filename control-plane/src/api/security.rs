//! The subscription's security options (Managers only; some reserved to the Primary Contact):
//! each handler authorizes, calls `domain::security` and shows the result.
use super::auth::CurrentUser;
use super::error::{ApiResult, Body};
use crate::authz::{self, Action};
use crate::domain::Shared;
use crate::domain::security::{self, Changer, allowlist_permits};
use crate::model::{SecuritySettings, Subscription};
use axum::Json;
use axum::extract::State;
pub use sealscan_api::security::{
    AgreementRequest, AgreementView, AllowlistRequest, AllowlistView, ExternalIdsView, NdsmRequest,
    NdsmView, PasswordRulesPatch, SecurityPatch, SecurityView, ToggleRequest,
};
use std::net::IpAddr;

fn security_view(sub: Subscription, ip: IpAddr) -> SecurityView {
    SecurityView {
        edition: sub.edition,
        security: sub.security,
        operator_features: sub.features,
        your_ip: ip.to_string(),
    }
}

fn allowlist_view(s: SecuritySettings, ip: IpAddr) -> AllowlistView {
    AllowlistView {
        enabled: s.allowlist_enabled,
        you_are_allowed: !s.allowlist_enabled || allowlist_permits(&s.allowlist, ip),
        entries: s.allowlist,
        your_ip: ip.to_string(),
    }
}

pub async fn show(CurrentUser(p): CurrentUser) -> ApiResult<Json<SecurityView>> {
    authz::require(&p.actor(), Action::ManageSecurity)?;
    Ok(Json(security_view(p.subscription.clone(), p.ip)))
}

pub async fn update(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Body(patch): Body<SecurityPatch>,
) -> ApiResult<Json<SecurityView>> {
    let actor = p.actor();
    authz::require(&actor, Action::ManageSecurity)?;
    let by = Changer {
        actor: &actor,
        ip: p.ip,
    };
    let sub = security::update(&state, &by, patch)?;
    Ok(Json(security_view(sub, p.ip)))
}

pub async fn show_allowlist(CurrentUser(p): CurrentUser) -> ApiResult<Json<AllowlistView>> {
    authz::require(&p.actor(), Action::ManageSecurity)?;
    Ok(Json(allowlist_view(p.subscription.security.clone(), p.ip)))
}

/// Replaces the allowlist. A list that would shut out the Manager saving it is refused.
pub async fn set_allowlist(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Body(req): Body<AllowlistRequest>,
) -> ApiResult<Json<AllowlistView>> {
    let actor = p.actor();
    authz::require(&actor, Action::ManageSecurity)?;
    let by = Changer {
        actor: &actor,
        ip: p.ip,
    };
    let s = security::set_allowlist(&state, &by, req.enabled, &req.entries)?;
    Ok(Json(allowlist_view(s, p.ip)))
}

/// The Primary Contact's option letting granted users edit external IDs.
pub async fn set_external_ids(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Body(req): Body<ToggleRequest>,
) -> ApiResult<Json<ExternalIdsView>> {
    let actor = p.actor();
    authz::require(&actor, Action::PrimaryContactOption)?;
    let by = Changer {
        actor: &actor,
        ip: p.ip,
    };
    security::set_external_ids(&state, &by, req.enabled)?;
    Ok(Json(ExternalIdsView {
        external_ids_editable: req.enabled,
    }))
}

/// The risk agreement for never-expiring API-only passwords.
pub async fn never_expire_agreement(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Body(req): Body<AgreementRequest>,
) -> ApiResult<Json<AgreementView>> {
    let actor = p.actor();
    authz::require(&actor, Action::PrimaryContactOption)?;
    let by = Changer {
        actor: &actor,
        ip: p.ip,
    };
    let (agreement, cleared) =
        security::never_expire_agreement(&state, &by, &p.subscription, req.accept)?;
    Ok(Json(AgreementView {
        agreement,
        cleared_users: cleared,
    }))
}

/// The New Data Security Model: accepted once, for good.
pub async fn new_data_security_model(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Body(req): Body<NdsmRequest>,
) -> ApiResult<Json<NdsmView>> {
    let actor = p.actor();
    authz::require(&actor, Action::ManageSecurity)?;
    let by = Changer {
        actor: &actor,
        ip: p.ip,
    };
    Ok(Json(NdsmView {
        new_data_security_model: security::accept_ndsm(&state, &by, req.accepted)?,
    }))
}
