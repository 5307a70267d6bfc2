//! Sign-in, sign-out and `whoami`.
use super::auth::{AnyUserSession, ClientIp};
use super::error::{ApiResult, Body};
use super::views::user_view;
use crate::domain::Shared;
use crate::domain::accounts::login::{self, Credentials};
use crate::lifecycle;
use crate::store::SessionScope;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sealscan_api::session::SessionScope as Scope;
pub use sealscan_api::session::{LoginRequest, LoginResponse, WhoAmI};

fn scope_name(scope: SessionScope) -> Scope {
    match scope {
        SessionScope::Full => Scope::Full,
        SessionScope::EnrollTwoFactor => Scope::EnrollTwoFactor,
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
        edition: p.subscription.edition,
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
