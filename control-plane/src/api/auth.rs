//! Who is calling: the TCP peer's address (for the allowlist) and the bearer token's
//! principal. Users hold `ssn_` session tokens; approved appliances hold `apc_` credentials
//! issued at approval, and reach only the appliance API.
use super::error::ApiError;
use crate::authz::Actor;
use crate::domain::Shared;
use crate::model::{Subscription, User};
use crate::secrets::{ct_eq, token_hash};
use crate::store::{SessionRow, SessionScope};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sealscan_api::Code;
use std::net::{IpAddr, SocketAddr};

pub use crate::domain::accounts::login::USER_TOKEN_PREFIX;
pub use crate::domain::appliances::APPLIANCE_TOKEN_PREFIX;

/// The TCP peer address. Forwarding headers are not trusted.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    fn from_parts(parts: &Parts) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ci| ClientIp(canonical(ci.0.ip())))
            .ok_or_else(|| {
                ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    Code::Internal,
                    "the peer address is unknown",
                )
            })
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        ClientIp::from_parts(parts)
    }
}

use crate::domain::security::allowlist_permits;

/// The IP allowlist applies to every request, the login and the API document included.
pub async fn allowlist_guard(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let ip = match ClientIp::from_parts(&parts) {
        Ok(ip) => ip.0,
        Err(e) => return e.into_response(),
    };
    let security = match state.store.read(|tx| tx.require_subscription()) {
        Ok(sub) => sub.security,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if security.allowlist_enabled && !allowlist_permits(&security.allowlist, ip) {
        return ApiError::forbidden(
            Code::AllowlistDenied,
            format!("connections from {ip} are not allowed by this subscription's IP allowlist"),
        )
        .into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// A signed-in user, as resolved from a live session.
#[derive(Clone, Debug)]
pub struct UserPrincipal {
    pub user: User,
    pub session: SessionRow,
    pub subscription: Subscription,
    pub ip: IpAddr,
}

impl UserPrincipal {
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: self.user.id,
            username: self.user.username.clone(),
            role: self.user.role,
            primary_contact: self.subscription.primary_contact_id == Some(self.user.id),
            can_edit_external_ids: self.user.can_edit_external_ids,
            can_edit_records: self.user.can_edit_records,
        }
    }
}

#[derive(Clone, Debug)]
pub enum Principal {
    User(Box<UserPrincipal>),
    Appliance(Box<crate::store::ApplianceRow>),
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let missing = || {
        ApiError::unauthorized(
            Code::AuthRequired,
            "sign in first: send Authorization: Bearer <session token>",
        )
    };
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(missing)?
        .to_str()
        .map_err(|_| missing())?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(missing)?;
    Ok(token.trim())
}

async fn resolve(parts: &Parts, state: &Shared) -> Result<Principal, ApiError> {
    let ip = ClientIp::from_parts(parts)?.0;
    let token = bearer(parts)?;
    if token.starts_with(APPLIANCE_TOKEN_PREFIX) {
        return resolve_appliance(token, state);
    }
    if !token.starts_with(USER_TOKEN_PREFIX) {
        return Err(ApiError::unauthorized(
            Code::AuthInvalidToken,
            "the bearer token is not a session token",
        ));
    }
    let hash = token_hash(token);
    let now = state.now();
    state.store.write(|tx| {
        let invalid = || {
            ApiError::unauthorized(
                Code::AuthInvalidToken,
                "the session token is unknown or signed out; sign in again",
            )
        };
        let mut session = tx.session(&hash)?.ok_or_else(invalid)?;
        if !ct_eq(session.token_hash.as_bytes(), hash.as_bytes()) {
            return Err(invalid());
        }
        let idle_limit = i64::from(session.idle_timeout_minutes) * 60;
        if now - session.last_seen_at > idle_limit {
            tx.delete_session(&hash)?;
            return Ok(Err(ApiError::unauthorized(
                Code::SessionInactivityTimeout,
                format!(
                    "the session ended after {} minutes without activity; sign in again",
                    session.idle_timeout_minutes
                ),
            )));
        }
        let user = tx.user_by_id(session.user_id)?.ok_or_else(invalid)?;
        if user.locked {
            tx.delete_user_sessions(user.id)?;
            return Ok(Err(ApiError::forbidden(
                Code::AccountLocked,
                "this account is locked; a Manager or Unit Manager must reactivate it",
            )));
        }
        let subscription = tx.require_subscription()?;
        // Checked on every request, not only at sign-in: a session outlives neither its
        // password nor a security option turned on after it opened.
        if crate::lifecycle::is_expired(&subscription, &user, now) {
            tx.delete_session(&hash)?;
            return Ok(Err(ApiError::unauthorized(
                Code::PasswordExpired,
                "your password has expired; sign in again to set a new one (or ask a Manager, Unit Manager or User Administrator to reset it)",
            )));
        }
        if subscription.security.two_factor_required && !user.totp_enabled {
            session.scope = SessionScope::EnrollTwoFactor;
        }
        tx.touch_session(&hash, now)?;
        Ok(Ok(Principal::User(Box::new(UserPrincipal {
            user,
            session,
            subscription,
            ip,
        }))))
    })?
}

/// The caller the role gate resolved, handed to the handler's `CurrentUser` so the session is
/// looked up (and touched) once.
#[derive(Clone)]
pub struct Resolved(pub UserPrincipal);

/// A user with a full session (2FA enrolment done when required).
pub struct CurrentUser(pub UserPrincipal);

impl FromRequestParts<Shared> for CurrentUser {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        if let Some(Resolved(p)) = parts.extensions.remove() {
            return Ok(CurrentUser(p));
        }
        let p = user_only(resolve(parts, state).await?)?;
        if p.session.scope != SessionScope::Full {
            return Err(ApiError::forbidden(
                Code::TwoFaEnrollmentRequired,
                "two-factor login is required: enrol with POST /api/v1/2fa/enroll and /2fa/confirm, then sign in again",
            ));
        }
        Ok(CurrentUser(p))
    }
}

/// Any user session, including one limited to finishing 2FA enrolment.
pub struct AnyUserSession(pub UserPrincipal);

impl FromRequestParts<Shared> for AnyUserSession {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let p = user_only(resolve(parts, state).await?)?;
        Ok(AnyUserSession(p))
    }
}

fn user_only(p: Principal) -> Result<UserPrincipal, ApiError> {
    match p {
        Principal::User(u) => Ok(*u),
        Principal::Appliance(_) => Err(ApiError::forbidden(
            Code::RoleUserOnly,
            "appliance credentials reach only /api/v1/appliance; this endpoint needs a user session",
        )),
    }
}

fn resolve_appliance(token: &str, state: &Shared) -> Result<Principal, ApiError> {
    let hash = token_hash(token);
    let now = state.now();
    state.store.write(|tx| {
        let appliance = tx.appliance_by_credential(&hash)?.ok_or_else(|| {
            ApiError::unauthorized(
                Code::AuthInvalidToken,
                "the appliance credential is unknown or was revoked; enroll the appliance again",
            )
        })?;
        if appliance.state != crate::store::ApplianceState::Approved {
            return Err(ApiError::unauthorized(
                Code::AuthInvalidToken,
                format!("appliance {} is {}", appliance.id, appliance.state.as_str()),
            ));
        }
        tx.touch_appliance(&appliance.id, now)?;
        Ok(Principal::Appliance(Box::new(appliance)))
    })
}

/// An approved appliance, authenticated by the credential it collected after approval.
pub struct ApplianceAuth(pub crate::store::ApplianceRow);

impl FromRequestParts<Shared> for ApplianceAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        match resolve(parts, state).await? {
            Principal::Appliance(a) => Ok(ApplianceAuth(*a)),
            Principal::User(_) => Err(ApiError::forbidden(
                Code::RoleApplianceOnly,
                "this endpoint is for appliances: send the appliance credential issued at approval",
            )),
        }
    }
}
