//! The subscription's security options (Managers only; some reserved to the Primary Contact).
use super::auth::{CurrentUser, allowlist_permits, parse_allow_entry};
use super::error::{ApiError, ApiResult, Body};
use crate::authz::{self, Action};
use crate::domain::Shared;
use crate::model::{
    Acceptance, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH_FLOOR, RiskAgreement, RiskStatus,
    SESSION_TIMEOUT_MAX, SESSION_TIMEOUT_MIN, SecuritySettings,
};
use axum::Json;
use axum::extract::State;
use sealscan_api::Code;
pub use sealscan_api::security::{
    AgreementRequest, AgreementView, AllowlistRequest, AllowlistView, ExternalIdsView, NdsmRequest,
    NdsmView, PasswordRulesPatch, SecurityPatch, SecurityView, ToggleRequest,
};
use serde_json::json;

pub async fn show(CurrentUser(p): CurrentUser) -> ApiResult<Json<SecurityView>> {
    authz::require(&p.actor(), Action::ManageSecurity)?;
    Ok(Json(SecurityView {
        edition: p.subscription.edition,
        security: p.subscription.security.clone(),
        operator_features: p.subscription.features.clone(),
        your_ip: p.ip.to_string(),
    }))
}

fn range(rule: Code, what: &str, v: u32, lo: u32, hi: u32) -> Result<(), ApiError> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            rule,
            format!("{what} must be between {lo} and {hi}; got {v}"),
        ))
    }
}

fn apply_patch(
    s: &mut SecuritySettings,
    patch: SecurityPatch,
) -> Result<Vec<&'static str>, ApiError> {
    let mut changed = Vec::new();
    if let Some(v) = patch.password_expiry_months {
        range(
            Code::PasswordExpiryRange,
            "password_expiry_months",
            v,
            0,
            120,
        )?;
        s.password_expiry_months = v;
        changed.push("password_expiry_months");
    }
    if let Some(v) = patch.expiry_notice_days {
        range(
            Code::PasswordExpiryNoticeRange,
            "expiry_notice_days",
            v,
            0,
            365,
        )?;
        s.expiry_notice_days = v;
        changed.push("expiry_notice_days");
    }
    if let Some(v) = patch.expiry_notice_repeat_days {
        range(
            Code::PasswordExpiryRepeatRange,
            "expiry_notice_repeat_days",
            v,
            0,
            365,
        )?;
        s.expiry_notice_repeat_days = v;
        changed.push("expiry_notice_repeat_days");
    }
    if let Some(v) = patch.change_expired_at_login {
        s.change_expired_at_login = v;
        changed.push("change_expired_at_login");
    }
    if let Some(v) = patch.user_defined_passwords {
        s.user_defined_passwords = v;
        changed.push("user_defined_passwords");
    }
    if let Some(v) = patch.min_password_length {
        range(
            Code::PasswordMinLengthRange,
            "min_password_length",
            v,
            PASSWORD_MIN_LENGTH_FLOOR,
            PASSWORD_MAX_LENGTH,
        )?;
        s.min_password_length = v;
        changed.push("min_password_length");
    }
    if let Some(r) = patch.password_rules {
        let rules = &mut s.password_rules;
        for (given, slot) in [
            (r.lowercase, &mut rules.lowercase),
            (r.uppercase, &mut rules.uppercase),
            (r.digit, &mut rules.digit),
            (r.special, &mut rules.special),
            (r.no_three_identical, &mut rules.no_three_identical),
            (r.no_three_sequential, &mut rules.no_three_sequential),
            (r.no_names, &mut rules.no_names),
        ] {
            if let Some(v) = given {
                *slot = v;
            }
        }
        changed.push("password_rules");
    }
    if let Some(v) = patch.expiry_notice_ui {
        s.expiry_notice_ui = v;
        changed.push("expiry_notice_ui");
    }
    if let Some(v) = patch.expiry_notice_email {
        s.expiry_notice_email = v;
        changed.push("expiry_notice_email");
    }
    if let Some(v) = patch.force_change_first_login {
        s.force_change_first_login = v;
        changed.push("force_change_first_login");
    }
    if let Some(v) = patch.lockout_failed_logins {
        range(Code::LockoutRange, "lockout_failed_logins", v, 0, 100)?;
        s.lockout_failed_logins = v;
        changed.push("lockout_failed_logins");
    }
    if let Some(v) = patch.two_factor_required {
        s.two_factor_required = v;
        changed.push("two_factor_required");
    }
    if let Some(v) = patch.session_timeout_minutes {
        range(
            Code::SessionTimeoutRange,
            "session_timeout_minutes",
            v,
            SESSION_TIMEOUT_MIN,
            SESSION_TIMEOUT_MAX,
        )?;
        s.session_timeout_minutes = v;
        changed.push("session_timeout_minutes");
    }
    if let Some(map) = patch.session_timeout_by_role {
        for (role, v) in map {
            match v {
                Some(m) => {
                    range(
                        Code::SessionTimeoutRange,
                        "a role's session timeout",
                        m,
                        SESSION_TIMEOUT_MIN,
                        SESSION_TIMEOUT_MAX,
                    )?;
                    s.session_timeout_by_role.insert(role, m);
                }
                None => {
                    s.session_timeout_by_role.remove(&role);
                }
            }
        }
        changed.push("session_timeout_by_role");
    }
    Ok(changed)
}

pub async fn update(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Body(patch): Body<SecurityPatch>,
) -> ApiResult<Json<SecurityView>> {
    let actor = p.actor();
    authz::require(&actor, Action::ManageSecurity)?;
    let now = state.now();
    let sub = state.store.write(|tx| {
        let mut sub = tx.require_subscription()?;
        let changed = apply_patch(&mut sub.security, patch)?;
        tx.save_security(&sub.security)?;
        tx.audit(
            now,
            &actor.username,
            "security.changed",
            "subscription",
            &json!({"changed": changed, "security": &sub.security}),
            Some(&p.ip.to_string()),
        )?;
        Ok::<_, ApiError>(sub)
    })?;
    Ok(Json(SecurityView {
        edition: sub.edition,
        security: sub.security,
        operator_features: sub.features,
        your_ip: p.ip.to_string(),
    }))
}

pub async fn show_allowlist(CurrentUser(p): CurrentUser) -> ApiResult<Json<AllowlistView>> {
    authz::require(&p.actor(), Action::ManageSecurity)?;
    let s = &p.subscription.security;
    Ok(Json(AllowlistView {
        enabled: s.allowlist_enabled,
        entries: s.allowlist.clone(),
        your_ip: p.ip.to_string(),
        you_are_allowed: !s.allowlist_enabled || allowlist_permits(&s.allowlist, p.ip),
    }))
}

/// Replaces the allowlist. A list that would shut out the Manager saving it is refused.
pub async fn set_allowlist(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Body(req): Body<AllowlistRequest>,
) -> ApiResult<Json<AllowlistView>> {
    let actor = p.actor();
    authz::require(&actor, Action::ManageSecurity)?;
    let mut entries = Vec::with_capacity(req.entries.len());
    for e in &req.entries {
        let net = parse_allow_entry(e)
            .map_err(|msg| ApiError::bad_request(Code::AllowlistInvalidEntry, msg))?;
        let text = if net.prefix_len() == net.max_prefix_len() {
            net.addr().to_string()
        } else {
            net.to_string()
        };
        if !entries.contains(&text) {
            entries.push(text);
        }
    }
    if req.enabled && !allowlist_permits(&entries, p.ip) {
        return Err(ApiError::conflict(
            Code::AllowlistExcludesCaller,
            format!(
                "this list would lock you out: your IP {} is not in it; add it (or a range holding it) first",
                p.ip
            ),
        )
        .with_details(sealscan_api::ErrorDetails {
            your_ip: Some(p.ip.to_string()),
            ..Default::default()
        }));
    }
    let now = state.now();
    let s = state.store.write(|tx| {
        let mut sub = tx.require_subscription()?;
        sub.security.allowlist_enabled = req.enabled;
        sub.security.allowlist = entries;
        tx.save_security(&sub.security)?;
        tx.audit(
            now,
            &actor.username,
            "security.allowlist-changed",
            "subscription",
            &json!({"enabled": sub.security.allowlist_enabled, "entries": &sub.security.allowlist}),
            Some(&p.ip.to_string()),
        )?;
        Ok::<_, ApiError>(sub.security)
    })?;
    Ok(Json(AllowlistView {
        enabled: s.allowlist_enabled,
        you_are_allowed: !s.allowlist_enabled || allowlist_permits(&s.allowlist, p.ip),
        entries: s.allowlist,
        your_ip: p.ip.to_string(),
    }))
}

/// The Primary Contact's option letting granted Managers, Unit Managers and User
/// Administrators edit external IDs. Grants are kept while it is off, so turning it back on
/// restores them.
pub async fn set_external_ids(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Body(req): Body<ToggleRequest>,
) -> ApiResult<Json<ExternalIdsView>> {
    let actor = p.actor();
    authz::require(&actor, Action::PrimaryContactOption)?;
    let now = state.now();
    state.store.write(|tx| {
        let mut sub = tx.require_subscription()?;
        sub.security.external_ids_editable = req.enabled;
        tx.save_security(&sub.security)?;
        tx.audit(
            now,
            &actor.username,
            "security.external-ids",
            "subscription",
            &json!({"enabled": req.enabled}),
            Some(&p.ip.to_string()),
        )?;
        Ok::<_, ApiError>(())
    })?;
    Ok(Json(ExternalIdsView {
        external_ids_editable: req.enabled,
    }))
}

/// The risk agreement for never-expiring API-only passwords. Declining (or opting out later)
/// clears the flag on every user.
pub async fn never_expire_agreement(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Body(req): Body<AgreementRequest>,
) -> ApiResult<Json<AgreementView>> {
    let actor = p.actor();
    authz::require(&actor, Action::PrimaryContactOption)?;
    if !p.subscription.features.api_never_expire {
        return Err(ApiError::conflict(
            Code::NeverExpireFeatureOff,
            "never-expiring passwords are not enabled for this subscription; the control plane's operator enables them with `sealscan-control feature api-never-expire on`",
        ));
    }
    let now = state.now();
    let (agreement, cleared) = state.store.write(|tx| {
        let mut sub = tx.require_subscription()?;
        sub.security.never_expire_risk = RiskAgreement {
            status: if req.accept {
                RiskStatus::Accepted
            } else {
                RiskStatus::Declined
            },
            by: Some(actor.username.clone()),
            at: Some(now),
        };
        let cleared = if req.accept {
            0
        } else {
            tx.clear_never_expire_all()?
        };
        tx.save_security(&sub.security)?;
        tx.audit(
            now,
            &actor.username,
            if req.accept {
                "never-expire.agreement-accepted"
            } else {
                "never-expire.agreement-declined"
            },
            "subscription",
            &json!({"cleared_users": cleared}),
            Some(&p.ip.to_string()),
        )?;
        Ok::<_, ApiError>((sub.security.never_expire_risk, cleared))
    })?;
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
    let now = state.now();
    let acceptance = state.store.write(|tx| {
        let mut sub = tx.require_subscription()?;
        match (&sub.security.new_data_security_model, req.accepted) {
            (Some(a), true) => Ok(a.clone()),
            (Some(_), false) => Err(ApiError::conflict(
                Code::NdsmOneWay,
                "the New Data Security Model cannot be turned off once accepted",
            )),
            (None, false) => Err(ApiError::bad_request(
                Code::NdsmNotAccepted,
                "the New Data Security Model is not on; send accepted: true to accept it",
            )),
            (None, true) => {
                let a = Acceptance {
                    by_user_id: Some(actor.user_id),
                    by: actor.username.clone(),
                    at: now,
                };
                sub.security.new_data_security_model = Some(a.clone());
                tx.save_security(&sub.security)?;
                tx.audit(
                    now,
                    &actor.username,
                    "ndsm.accepted",
                    "subscription",
                    &json!({}),
                    Some(&p.ip.to_string()),
                )?;
                Ok(a)
            }
        }
    })?;
    Ok(Json(NdsmView {
        new_data_security_model: acceptance,
    }))
}
