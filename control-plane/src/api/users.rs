//! Users: list, create, show, edit, lock/unlock, password reset, role, external-ID grant,
//! records grant.
use super::auth::{CurrentUser, UserPrincipal};
use super::error::{ApiError, ApiResult, Body};
use super::views::{UserView, user_view};
use crate::authz::{self, Action, Actor};
use crate::domain::accounts::users::{self, UserChanges};
use crate::domain::validate;
use crate::domain::{DomainError, DomainResult, Shared};
use crate::model::{NewUser, Role, User};
use crate::store::{Tx, UnitOwner};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sealscan_api::Code;
pub use sealscan_api::users::{
    CreateUser as CreateRequest, PermissionRequest, ResetUserPassword as ResetRequest, RoleRequest,
    UnitRequest, UpdateUser as UpdateRequest, UserCreated as CreateResponse,
    UserPasswordReset as ResetResponse, UserUnit,
};
use serde_json::json;

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
    let u = state.store.read(|tx| users::target(tx, &key))?;
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
    let new = NewUser {
        username: req.username,
        first_name: req.first_name,
        last_name: req.last_name,
        email: req.email,
        role: req.role,
        api_only: req.api_only,
        external_id: req.external_id,
        password_hash: String::new(),
        must_change_password: false,
    };
    let (user, generated) = users::create(
        &state,
        &actor,
        &p.subscription.security,
        &p.ip.to_string(),
        new,
        req.password,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreateResponse {
            user: user_view(&p.subscription, &user),
            generated_password: generated,
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
        users::session_timeout(m)?;
    }
    let changes = UserChanges {
        first_name: req.first_name,
        last_name: req.last_name,
        email: req.email,
        api_only: req.api_only,
        external_id: req.external_id,
        session_timeout_minutes: req.session_timeout_minutes,
        never_expire: req.never_expire,
    };
    let user = users::update(
        &state,
        &actor,
        sub,
        &p.ip.to_string(),
        &key,
        changes,
        &changed,
    )?;
    Ok(Json(user_view(sub, &user)))
}

/// Changes one user through [`users::change`] and shows the result.
fn change_and_show(
    state: &Shared,
    p: &UserPrincipal,
    actor: &Actor,
    key: &str,
    change: impl FnOnce(&Tx<'_>, &mut User) -> DomainResult<(&'static str, serde_json::Value)>,
) -> ApiResult<Json<UserView>> {
    let user = users::change(state, actor, &p.ip.to_string(), key, change)?;
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
    change_and_show(state, p, &actor, key, |tx, u| {
        let primary = users::is_primary(&p.subscription, u);
        // The Primary Contact cannot unlock themself: any Manager re-activates them.
        if !(primary && !locked && actor.role == Role::Manager) {
            users::manage(tx, &actor, &p.subscription, u)?;
        }
        if u.id == actor.user_id {
            return Err(DomainError::conflict(
                Code::UserSelfLock,
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
    let (user, generated) = users::reset_password(
        &state,
        &actor,
        &p.subscription,
        &p.ip.to_string(),
        &key,
        req.password,
    )
    .await?;
    Ok(Json(ResetResponse {
        user: user_view(&p.subscription, &user),
        must_change_password: true,
        generated_password: generated,
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
    change_and_show(&state, &p, &actor, &key, |tx, u| {
        users::manage(tx, &actor, &p.subscription, u)?;
        if users::is_primary(&p.subscription, u) && req.role != Role::Manager {
            return Err(DomainError::conflict(
                Code::UserPrimaryContactRole,
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
            Code::ExternalIdsOptionOff,
            "turn on the external-ID option (PUT /api/v1/security/external-ids) before granting the permission",
        ));
    }
    change_and_show(&state, &p, &actor, &key, |_, u| {
        if req.granted
            && !matches!(
                u.role,
                Role::Manager | Role::UnitManager | Role::UserAdministrator
            )
        {
            return Err(DomainError::conflict(
                Code::ExternalIdsRole,
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
    change_and_show(&state, &p, &actor, &key, |_, u| {
        if req.granted && u.role != Role::UnitManager {
            return Err(DomainError::conflict(
                Code::RecordsPermissionRole,
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
    change_and_show(&state, &p, &actor, &key, |tx, u| {
        users::manage(tx, &actor, &p.subscription, u)?;
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
        let u = users::target(tx, &key)?;
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
        let u = users::target(tx, &key)?;
        authz::may_manage(&actor, &u, users::is_primary(&p.subscription, &u))?;
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
