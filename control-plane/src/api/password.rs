//! Password endpoints: the policy checker, self-service change, and "forgot password".
use super::auth::{ClientIp, CurrentUser};
use super::error::{ApiResult, Body};
use crate::domain::Shared;
use crate::domain::accounts::password;
use crate::password_policy::{self, Names};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
pub use sealscan_api::password::{
    ChangeRequest, ChangeResponse, CheckRequest, CheckResponse, ForgotRequest, Message,
    ResetRequest,
};

/// The same checker as user passwords, for any password a client wants to vet.
pub async fn check(
    CurrentUser(p): CurrentUser,
    Body(req): Body<CheckRequest>,
) -> Json<CheckResponse> {
    let min = p.subscription.security.min_password_length;
    let names = Names {
        first: req.first_name.as_deref().unwrap_or(""),
        last: req.last_name.as_deref().unwrap_or(""),
    };
    let rules = &p.subscription.security.password_rules;
    let violations = password_policy::check(req.password.expose(), min, rules, &names);
    Json(CheckResponse {
        acceptable: violations.is_empty(),
        min_length: min,
        violations: violations.iter().map(|v| v.reported(min)).collect(),
    })
}

pub async fn change(
    State(state): State<Shared>,
    CurrentUser(p): CurrentUser,
    Body(req): Body<ChangeRequest>,
) -> ApiResult<Json<ChangeResponse>> {
    let generated = password::change(
        &state,
        &p.user,
        &p.subscription.security,
        &p.session.token_hash,
        req.current_password,
        req.new_password,
        &p.ip.to_string(),
    )
    .await?;
    Ok(Json(ChangeResponse {
        changed: true,
        generated_password: generated,
    }))
}

/// Always the same answer, whether or not the user exists.
pub async fn forgot(
    State(state): State<Shared>,
    ClientIp(ip): ClientIp,
    Body(req): Body<ForgotRequest>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    password::forgot(&state, &req.username, &ip.to_string())?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Message {
            message: "if the account exists, a reset token was sent to its email address"
                .to_string(),
        }),
    ))
}

pub async fn reset(
    State(state): State<Shared>,
    ClientIp(ip): ClientIp,
    Body(req): Body<ResetRequest>,
) -> ApiResult<Json<ChangeResponse>> {
    let generated =
        password::reset_with_token(&state, &req.token, req.new_password, &ip.to_string()).await?;
    Ok(Json(ChangeResponse {
        changed: true,
        generated_password: generated,
    }))
}
