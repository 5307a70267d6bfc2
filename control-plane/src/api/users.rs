//! Users: list, create, show, edit, lock/unlock, password reset, role, external-ID grant,
//! records grant.
use super::auth::{CurrentUser, UserPrincipal};
use super::error::{ApiError, ApiResult, Body};
use super::views::{UserView, user_view};
use crate::authz::{self, Action};
use crate::domain::Shared;
use crate::domain::accounts::password;
use crate::domain::validate;
use crate::lifecycle::{self, NewPassword};
use crate::model::{NewUser, Role, SESSION_TIMEOUT_MAX, SESSION_TIMEOUT_MIN, Subscription, User};
use crate::store::{Tx, UnitOwner};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
pub use sealscan_api::users::{
    CreateUser as CreateRequest, PermissionRequest, ResetUserPassword as ResetRequest, RoleRequest,
    UnitRequest, UpdateUser as UpdateRequest, UserCreated as CreateResponse,
    UserPasswordReset as ResetResponse, UserUnit,
};
use serde_json::json;

fn validate_timeout(minutes: u32) -> Result<(), ApiError> {
    if (SESSION_TIMEOUT_MIN..=SESSION_TIMEOUT_MAX).contains(&minutes) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "session-timeout.range",
            format!(
                "a session timeout is {SESSION_TIMEOUT_MIN} to {SESSION_TIMEOUT_MAX} minutes; {minutes} is outside"
            ),
        ))
    }
}

/// Loads the target user by id or user name.
fn target(tx: &Tx<'_>, key: &str) -> Result<User, ApiError> {
    let found = match key.parse::<i64>() {
        Ok(id) => tx.user_by_id(id)?,
        Err(_) => tx.user_by_username(key)?,
    };
    found.ok_or_else(|| ApiError::not_found("user.not-found", format!("no user {key:?}")))
}

fn is_primary(sub: &Subscription, u: &User) -> bool {
    sub.primary_contact_id == Some(u.id)
}

/// Whether `actor` may manage `u`: the role hierarchy, then the business unit.
fn manage(tx: &Tx<'_>, actor: &authz::Actor, sub: &Subscription, u: &User) -> ApiResult<()> {
    authz::may_manage(actor, u, is_primary(sub, u))?;
    if actor.role == Role::UnitManager {
        let mine = tx.unit_of(UnitOwner::User(actor.user_id))?;
        let theirs = tx.unit_of(UnitOwner::User(u.id))?;
        authz::same_unit(actor, mine.as_deref(), theirs.as_deref(), "users")?;
    }
    Ok(())
}

pub async fn list(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
) -> ApiResult<Json<Vec<UserView>>> {
    authz::require(&p.actor(), Action::ViewUsers)?;
    let users = state.store.read(|tx| tx.list_users())?;
    Ok(Json(
        users
            .iter()
            .map(|u| user_view(&p.subscription, u))
            .collect(),
    ))
}

pub async fn show(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(key): Path<String>,
) -> ApiResult<Json<UserView>> {
    let actor = p.actor();
    // Judged on the key alone, before any lookup: a caller who may not view others gets the
    // same refusal for an existing user and a missing one.
    let is_self = key == actor.user_id.to_string() || key == actor.username;
    if !is_self {
        authz::require(&actor, Action::ViewUsers)?;
    }
    let u = state.store.read(|tx| target(tx, &key))?;
    Ok(Json(user_view(&p.subscription, &u)))
}

pub async fn create(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Body(req): Body<CreateRequest>,
) -> ApiResult<(StatusCode, Json<CreateResponse>)> {
    let actor = p.actor();
    authz::require(&actor, Action::CreateUser)?;
    authz::may_assign_role(&actor, req.role)?;
    validate::username(&req.username)?;
    validate::text("first_name", &req.first_name, 100)?;
    validate::text("last_name", &req.last_name, 100)?;
    validate::email(&req.email)?;
    if let Some(ext) = &req.external_id {
        validate::text("external_id", ext, 256)?;
        authz::may_edit_external_id(&actor, &p.subscription.security)?;
    }
    let security = &p.subscription.security;
    let chosen = lifecycle::choose_password(
        security,
        &req.first_name,
        &req.last_name,
        req.password,
        "password.required",
    )?;
    let (hash, chosen) = password::hash_on_pool(&state, chosen).await?;
    let now = state.now();
    let new = NewUser {
        username: req.username,
        first_name: req.first_name.trim().to_string(),
        last_name: req.last_name.trim().to_string(),
        email: req.email,
        role: req.role,
        api_only: req.api_only,
        external_id: req.external_id,
        password_hash: hash,
        must_change_password: security.force_change_first_login,
    };
    let user = state.store.write(|tx| {
        let id = tx.insert_user(&new, now)?;
        // A Unit Manager's users join their unit.
        if actor.role == Role::UnitManager {
            let unit = tx.unit_of(UnitOwner::User(actor.user_id))?;
            tx.set_unit(UnitOwner::User(id), unit.as_deref())?;
        }
        tx.audit(
            now,
            &actor.username,
            "user.created",
            &new.username,
            &json!({"role": new.role, "api_only": new.api_only}),
            Some(&p.ip.to_string()),
        )?;
        tx.user_by_id(id)?
            .ok_or_else(|| ApiError::not_found("user.not-found", "the new user vanished"))
    })?;
    Ok((
        StatusCode::CREATED,
        Json(CreateResponse {
            user: user_view(&p.subscription, &user),
            generated_password: chosen.into_generated(),
        }),
    ))
}

pub async fn update(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(key): Path<String>,
    Body(req): Body<UpdateRequest>,
) -> ApiResult<Json<UserView>> {
    let actor = p.actor();
    let now = state.now();
    let sub = &p.subscription;
    let changed: Vec<&str> = [
        ("first_name", req.first_name.is_some()),
        ("last_name", req.last_name.is_some()),
        ("email", req.email.is_some()),
        ("api_only", req.api_only.is_some()),
        ("external_id", req.external_id.is_some()),
        (
            "session_timeout_minutes",
            req.session_timeout_minutes.is_some(),
        ),
        ("never_expire", req.never_expire.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    // Every edit, whatever the body holds (nothing at all included), is an edit of that user:
    // the role and the target are judged first, then what each field needs on top.
    authz::require(&actor, Action::EditUser)?;
    if req.external_id.is_some() {
        authz::may_edit_external_id(&actor, &sub.security)?;
    }
    if req.never_expire.is_some() {
        authz::require(&actor, Action::SetNeverExpire)?;
    }
    if let Some(v) = &req.first_name {
        validate::text("first_name", v, 100)?;
    }
    if let Some(v) = &req.last_name {
        validate::text("last_name", v, 100)?;
    }
    if let Some(v) = &req.email {
        validate::email(v)?;
    }
    if let Some(Some(v)) = &req.external_id {
        validate::text("external_id", v, 256)?;
    }
    if let Some(Some(m)) = req.session_timeout_minutes {
        validate_timeout(m)?;
    }
    let user = state.store.write(|tx| {
        let mut u = target(tx, &key)?;
        // The external-ID grant, too, reaches only users the holder may manage.
        manage(tx, &actor, sub, &u)?;
        if changed.is_empty() {
            return Err(ApiError::bad_request(
                "user.nothing-to-change",
                "the request changes nothing: give at least one of first_name, last_name, email, api_only, external_id, session_timeout_minutes, never_expire",
            ));
        }
        if let Some(v) = req.first_name {
            u.first_name = v.trim().to_string();
        }
        if let Some(v) = req.last_name {
            u.last_name = v.trim().to_string();
        }
        if let Some(v) = req.email {
            u.email = v;
        }
        if let Some(v) = req.api_only {
            if v && is_primary(sub, &u) {
                return Err(ApiError::conflict(
                    "user.primary-contact-api-only",
                    "the Manager Primary Contact is a person and cannot be an API-only account",
                ));
            }
            u.api_only = v;
            if !v {
                u.never_expire = false;
            }
        }
        if let Some(v) = req.external_id {
            u.external_id = v;
        }
        if let Some(v) = req.session_timeout_minutes {
            u.session_timeout_minutes = v;
        }
        if let Some(v) = req.never_expire {
            if v {
                if !sub.features.api_never_expire {
                    return Err(ApiError::conflict(
                        "never-expire.feature-off",
                        "never-expiring passwords are not enabled for this subscription (the control plane's operator enables them)",
                    ));
                }
                if sub.security.never_expire_risk.status != crate::model::RiskStatus::Accepted {
                    return Err(ApiError::conflict(
                        "never-expire.agreement-required",
                        "the Manager Primary Contact must first accept the risk agreement (POST /api/v1/security/never-expire-agreement)",
                    ));
                }
                if !u.api_only {
                    return Err(ApiError::conflict(
                        "never-expire.api-only",
                        "only API-only users may have a never-expiring password",
                    ));
                }
            }
            u.never_expire = v;
        }
        tx.save_user(&u)?;
        tx.audit(
            now,
            &actor.username,
            "user.updated",
            &u.username,
            &json!({"changed": changed}),
            Some(&p.ip.to_string()),
        )?;
        Ok(u)
    })?;
    Ok(Json(user_view(sub, &user)))
}

/// Changes the user named by `key` in one transaction: `change` edits it and answers the
/// audit event and its details; then the user is saved and the change audited.
fn change_user(
    state: &Shared,
    p: &UserPrincipal,
    key: &str,
    change: impl FnOnce(&Tx<'_>, &mut User) -> ApiResult<(&'static str, serde_json::Value)>,
) -> ApiResult<Json<UserView>> {
    let now = state.now();
    let user = state.store.write(|tx| {
        let mut u = target(tx, key)?;
        let (event, details) = change(tx, &mut u)?;
        tx.save_user(&u)?;
        tx.audit(
            now,
            &p.user.username,
            event,
            &u.username,
            &details,
            Some(&p.ip.to_string()),
        )?;
        Ok::<_, ApiError>(u)
    })?;
    Ok(Json(user_view(&p.subscription, &user)))
}

async fn set_locked(
    p: &UserPrincipal,
    state: &Shared,
    key: &str,
    locked: bool,
) -> ApiResult<Json<UserView>> {
    let actor = p.actor();
    authz::require(
        &actor,
        if locked {
            Action::LockUser
        } else {
            Action::UnlockUser
        },
    )?;
    change_user(state, p, key, |tx, u| {
        let primary = is_primary(&p.subscription, u);
        // The Primary Contact cannot unlock themself: any Manager re-activates them.
        if !(primary && !locked && actor.role == Role::Manager) {
            manage(tx, &actor, &p.subscription, u)?;
        }
        if u.id == actor.user_id {
            return Err(ApiError::conflict(
                "user.self-lock",
                "you cannot lock or unlock your own account",
            ));
        }
        u.locked = locked;
        u.failed_logins = 0;
        if locked {
            tx.delete_user_sessions(u.id)?;
        }
        let event = if locked {
            "user.locked"
        } else {
            "user.unlocked"
        };
        Ok((event, json!({"by": actor.role})))
    })
}

pub async fn lock(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(key): Path<String>,
) -> ApiResult<Json<UserView>> {
    set_locked(&p, &state, &key, true).await
}

pub async fn unlock(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(key): Path<String>,
) -> ApiResult<Json<UserView>> {
    set_locked(&p, &state, &key, false).await
}

/// An authorised user sets a new password for someone else; it must be changed at the
/// next login.
pub async fn reset_password(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(key): Path<String>,
    Body(req): Body<ResetRequest>,
) -> ApiResult<Json<ResetResponse>> {
    let actor = p.actor();
    authz::require(&actor, Action::ResetPassword)?;
    crate::ncsm::check_reset_by(&state, &actor)?;
    let now = state.now();
    let target_user = state.store.read(|tx| {
        let u = target(tx, &key)?;
        manage(tx, &actor, &p.subscription, &u)?;
        Ok::<_, ApiError>(u)
    })?;
    let chosen = lifecycle::choose_password(
        &p.subscription.security,
        &target_user.first_name,
        &target_user.last_name,
        req.password,
        "password.required",
    )?;
    let (hash, chosen) = password::hash_on_pool(&state, chosen).await?;
    let user = state.store.write(|tx| {
        let mut u = target(tx, &key)?;
        password::set_password(tx, &mut u, hash, now, true)?;
        tx.delete_user_sessions(u.id)?;
        tx.audit(
            now,
            &actor.username,
            "password.reset",
            &u.username,
            &json!({"self_service": false}),
            Some(&p.ip.to_string()),
        )?;
        Ok::<_, ApiError>(u)
    })?;
    Ok(Json(ResetResponse {
        user: user_view(&p.subscription, &user),
        must_change_password: true,
        generated_password: match chosen {
            NewPassword::Generated(pw) => Some(pw),
            NewPassword::Chosen(_) => None,
        },
    }))
}

pub async fn set_role(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(key): Path<String>,
    Body(req): Body<RoleRequest>,
) -> ApiResult<Json<UserView>> {
    let actor = p.actor();
    authz::require(&actor, Action::SetRole)?;
    authz::may_assign_role(&actor, req.role)?;
    change_user(&state, &p, &key, |tx, u| {
        manage(tx, &actor, &p.subscription, u)?;
        if is_primary(&p.subscription, u) && req.role != Role::Manager {
            return Err(ApiError::conflict(
                "user.primary-contact-role",
                "the Manager Primary Contact stays a Manager",
            ));
        }
        let old = u.role;
        u.role = req.role;
        // The records grant belongs to the Unit Manager role it was given for: a user who
        // leaves it and comes back must be granted again, never silently regain it.
        let records_permission_withdrawn = old != req.role && u.can_edit_records;
        if records_permission_withdrawn {
            u.can_edit_records = false;
        }
        Ok((
            "user.role-changed",
            json!({"from": old, "to": req.role, "records_permission_withdrawn": records_permission_withdrawn}),
        ))
    })
}

/// The Primary Contact grants or withdraws one user's permission to edit external IDs.
pub async fn set_external_id_permission(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(key): Path<String>,
    Body(req): Body<PermissionRequest>,
) -> ApiResult<Json<UserView>> {
    let actor = p.actor();
    authz::require(&actor, Action::PrimaryContactOption)?;
    if !p.subscription.security.external_ids_editable {
        return Err(ApiError::conflict(
            "external-ids.option-off",
            "turn on the external-ID option (PUT /api/v1/security/external-ids) before granting the permission",
        ));
    }
    change_user(&state, &p, &key, |_, u| {
        if req.granted
            && !matches!(
                u.role,
                Role::Manager | Role::UnitManager | Role::UserAdministrator
            )
        {
            return Err(ApiError::conflict(
                "external-ids.role",
                format!(
                    "only Managers, Unit Managers and User Administrators can be granted this; {} is a {}",
                    u.username, u.role
                ),
            ));
        }
        u.can_edit_external_ids = req.granted;
        Ok(("external-ids.permission", json!({"granted": req.granted})))
    })
}

/// A Manager grants or withdraws a Unit Manager's permission to create, update and delete
/// records and vaults (Managers always have it; no other role can hold it).
pub async fn set_records_permission(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(key): Path<String>,
    Body(req): Body<PermissionRequest>,
) -> ApiResult<Json<UserView>> {
    let actor = p.actor();
    authz::require(&actor, Action::GrantRecordsPermission)?;
    change_user(&state, &p, &key, |_, u| {
        if req.granted && u.role != Role::UnitManager {
            return Err(ApiError::conflict(
                "records-permission.role",
                format!(
                    "only a Unit Manager can be granted the records permission (Managers always have it); {} is a {}",
                    u.username, u.role
                ),
            ));
        }
        let was = u.can_edit_records;
        u.can_edit_records = req.granted;
        Ok((
            "records.permission",
            json!({"granted": req.granted, "was": was}),
        ))
    })
}

/// A Manager or Unit Manager clears a user's TOTP enrolment (lost device); the user enrols
/// again at the next login when two-factor login is required.
pub async fn reset_two_factor(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(key): Path<String>,
) -> ApiResult<Json<UserView>> {
    let actor = p.actor();
    authz::require(&actor, Action::ResetTwoFactor)?;
    change_user(&state, &p, &key, |tx, u| {
        manage(tx, &actor, &p.subscription, u)?;
        u.totp_secret = None;
        u.totp_enabled = false;
        u.totp_last_step = None;
        tx.delete_user_sessions(u.id)?;
        Ok(("2fa.reset", json!({})))
    })
}

pub fn checked_unit(req: UnitRequest) -> ApiResult<Option<String>> {
    match req.unit {
        Some(u) => {
            validate::text("unit", &u, 64)?;
            Ok(Some(u.trim().to_string()))
        }
        None => Ok(None),
    }
}

/// A user's business unit (viewers of users).
pub async fn show_unit(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(key): Path<String>,
) -> ApiResult<Json<UserUnit>> {
    authz::require(&p.actor(), Action::ViewUsers)?;
    let (u, unit) = state.store.read(|tx| {
        let u = target(tx, &key)?;
        let unit = tx.unit_of(UnitOwner::User(u.id))?;
        Ok::<_, ApiError>((u, unit))
    })?;
    Ok(Json(UserUnit {
        username: u.username,
        unit,
    }))
}

/// A Manager puts a user in a business unit, or takes them out of every unit.
pub async fn set_unit(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(key): Path<String>,
    Body(req): Body<UnitRequest>,
) -> ApiResult<Json<UserUnit>> {
    let actor = p.actor();
    authz::require(&actor, Action::SetUnits)?;
    let unit = checked_unit(req)?;
    let now = state.now();
    let u = state.store.write(|tx| {
        let u = target(tx, &key)?;
        authz::may_manage(&actor, &u, is_primary(&p.subscription, &u))?;
        let was = tx.unit_of(UnitOwner::User(u.id))?;
        tx.set_unit(UnitOwner::User(u.id), unit.as_deref())?;
        tx.audit(
            now,
            &actor.username,
            "unit.changed",
            &u.username,
            &json!({"from": was, "to": unit}),
            Some(&p.ip.to_string()),
        )?;
        Ok::<_, ApiError>(u)
    })?;
    Ok(Json(UserUnit {
        username: u.username,
        unit,
    }))
}
