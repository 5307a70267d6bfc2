//! Sign-in, sign-out and `whoami`.
use super::auth::{AnyUserSession, ClientIp};
use super::error::{ApiResult, Body};
use super::views::{UserView, user_view};
use crate::domain::Shared;
use crate::domain::accounts::login::{self, Credentials};
use crate::lifecycle::{self, ExpiryNotice};
use crate::secrets::Password;
use crate::store::SessionScope;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: Password,
    #[serde(default)]
    pub totp_code: Option<String>,
    /// Sets a new password during the login when one is due (first login, expiry).
    #[serde(default)]
    pub new_password: Option<Password>,
}

#[derive(Serialize)]
pub struct LoginResponse {
    pub token: String,
    pub scope: &'static str,
    pub idle_timeout_minutes: u32,
    pub user: UserView,
    pub password_expiry_notice: Option<ExpiryNotice>,
    /// Present once when the control plane generated the user's new password.
    pub generated_password: Option<Password>,
}

fn scope_name(scope: SessionScope) -> &'static str {
    match scope {
        SessionScope::Full => "full",
        SessionScope::EnrollTwoFactor => "enroll_2fa",
    }
}

pub async fn login(
    State(state): State<Shared>,
    ClientIp(ip): ClientIp,
    Body(req): Body<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let credentials = Credentials {
        username: &req.username,
        password: req.password,
        totp_code: req.totp_code.as_deref(),
        new_password: req.new_password,
    };
    let s = login::login(&state, credentials, &ip.to_string()).await?;
    Ok(Json(LoginResponse {
        token: s.token.to_string(),
        scope: scope_name(s.scope),
        idle_timeout_minutes: s.idle_timeout_minutes,
        user: user_view(&s.subscription, &s.user),
        password_expiry_notice: s.password_expiry_notice,
        generated_password: s.generated_password,
    }))
}

#[derive(Serialize)]
pub struct WhoAmI {
    pub user: UserView,
    pub scope: &'static str,
    pub idle_timeout_minutes: u32,
    pub client_ip: String,
    pub subscription: String,
    pub edition: &'static str,
    pub password_expiry_notice: Option<ExpiryNotice>,
}

pub async fn whoami(
    State(state): State<Shared>,
    AnyUserSession(p): AnyUserSession,
) -> Json<WhoAmI> {
    let now = state.now();
    Json(WhoAmI {
        user: user_view(&p.subscription, &p.user),
        scope: scope_name(p.session.scope),
        idle_timeout_minutes: p.session.idle_timeout_minutes,
        client_ip: p.ip.to_string(),
        subscription: p.subscription.name.clone(),
        edition: p.subscription.edition.as_str(),
        password_expiry_notice: lifecycle::expiry_notice(&p.subscription, &p.user, now),
    })
}

pub async fn logout(
    State(state): State<Shared>,
    AnyUserSession(p): AnyUserSession,
) -> ApiResult<StatusCode> {
    state
        .store
        .write(|tx| tx.delete_session(&p.session.token_hash))?;
    Ok(StatusCode::NO_CONTENT)
}
