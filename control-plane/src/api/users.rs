//! Users: list, create, show, edit, lock/unlock, password reset, role, external-ID grant,
//! records grant.
use super::auth::{CurrentUser, UserPrincipal};
use super::error::{ApiError, ApiResult, Body};
use super::views::{UserView, user_view};
use crate::authz::{self, Action, Actor};
use crate::domain::accounts::management::{self, Manager};
use crate::domain::accounts::users::{self, UserChanges};
use crate::domain::validate;
use crate::domain::{DomainResult, Shared};
use crate::model::{NewUser, User};
use crate::store::UnitOwner;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
pub use sealscan_api::users::{
    CreateUser as CreateRequest, PermissionRequest, ResetUserPassword as ResetRequest, RoleRequest,
    UnitRequest, UpdateUser as UpdateRequest, UserCreated as CreateResponse,
    UserPasswordReset as ResetResponse, UserUnit,
};

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
    validate::username(&req.person.username)?;
    validate::text("first_name", &req.person.first_name, 100)?;
    validate::text("last_name", &req.person.last_name, 100)?;
    validate::email(&req.person.email)?;
    if let Some(ext) = &req.external_id {
        validate::text("external_id", ext, 256)?;
        authz::may_edit_external_id(&actor, &p.subscription.security)?;
    }
    let new = NewUser {
        person: req.person,
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

fn manager<'a>(p: &'a UserPrincipal, actor: &'a Actor, ip: &'a str) -> Manager<'a> {
    Manager {
        actor,
        sub: &p.subscription,
        ip,
    }
}

/// `POST /users/{id}/lock` (`LOCKED`) and `/unlock`: one handler, the route names which.
pub async fn set_locked<const LOCKED: bool>(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(key): Path<String>,
) -> ApiResult<Json<UserView>> {
    let actor = p.actor();
    let action = if LOCKED {
        Action::LockUser
    } else {
        Action::UnlockUser
    };
    authz::require(&actor, action)?;
    let ip = p.ip.to_string();
    let user = management::set_locked(&state, &manager(&p, &actor, &ip), &key, LOCKED)?;
    Ok(Json(user_view(&p.subscription, &user)))
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
    let ip = p.ip.to_string();
    let user = management::set_role(&state, &manager(&p, &actor, &ip), &key, req.role)?;
    Ok(Json(user_view(&p.subscription, &user)))
}

/// A permission a user may be granted: who may grant it, and the domain's rule for it.
pub trait Permission {
    const ACTION: Action;
    fn set(state: &Shared, by: &Manager<'_>, key: &str, granted: bool) -> DomainResult<User>;
}

/// Editing external IDs, granted by the Primary Contact.
pub struct ExternalIds;
impl Permission for ExternalIds {
    const ACTION: Action = Action::PrimaryContactOption;
    fn set(state: &Shared, by: &Manager<'_>, key: &str, granted: bool) -> DomainResult<User> {
        management::set_external_id_permission(state, by, key, granted)
    }
}

/// Changing records and vaults, granted to a Unit Manager by a Manager.
pub struct Records;
impl Permission for Records {
    const ACTION: Action = Action::GrantRecordsPermission;
    fn set(state: &Shared, by: &Manager<'_>, key: &str, granted: bool) -> DomainResult<User> {
        management::set_records_permission(state, by, key, granted)
    }
}

/// `PUT /users/{id}/external-id-permission` and `/records-permission`: one handler, the route
/// names the permission.
pub async fn set_permission<P: Permission>(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(key): Path<String>,
    Body(req): Body<PermissionRequest>,
) -> ApiResult<Json<UserView>> {
    let actor = p.actor();
    authz::require(&actor, P::ACTION)?;
    let ip = p.ip.to_string();
    let user = P::set(&state, &manager(&p, &actor, &ip), &key, req.granted)?;
    Ok(Json(user_view(&p.subscription, &user)))
}

/// A Manager or Unit Manager clears a user's TOTP enrolment (lost device).
pub async fn reset_two_factor(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(key): Path<String>,
) -> ApiResult<Json<UserView>> {
    let actor = p.actor();
    authz::require(&actor, Action::ResetTwoFactor)?;
    let ip = p.ip.to_string();
    let user = management::reset_two_factor(&state, &manager(&p, &actor, &ip), &key)?;
    Ok(Json(user_view(&p.subscription, &user)))
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
    let ip = p.ip.to_string();
    let (u, unit) = management::set_unit(&state, &manager(&p, &actor, &ip), &key, req.unit)?;
    Ok(Json(UserUnit {
        username: u.username,
        unit,
    }))
}
