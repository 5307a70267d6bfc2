//! Password endpoints: the policy checker, self-service change, and "forgot password".
use super::Shared;
use super::auth::{ClientIp, CurrentUser};
use super::error::{ApiError, ApiResult, Body};
use crate::lifecycle::{self, NewPassword};
use crate::lockout::{self, Factor};
use crate::password_policy::{self, Names};
use crate::secrets::{hash_password, new_token, token_hash, verify_password};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
pub use sealscan_api::password::{
    ChangeRequest, ChangeResponse, CheckRequest, CheckResponse, ForgotRequest, Message,
    ResetRequest,
};
use serde_json::json;

const RESET_TOKEN_PREFIX: &str = "rst_";
const RESET_TOKEN_LIFETIME: i64 = 3600;

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

/// Refuses the current password as the new one, then hashes the new one; both on the
/// hashing pool, never on a request thread.
pub(super) async fn hash_new(
    state: &Shared,
    current_hash: &str,
    chosen: NewPassword,
) -> ApiResult<(String, NewPassword)> {
    let current = current_hash.to_string();
    let cost = state.hash_cost;
    let (reused, hash, chosen) = state
        .hashes
        .run(move || {
            if verify_password(&current, chosen.expose()) {
                return (true, None, chosen);
            }
            let hash = hash_password(cost, chosen.expose());
            (false, Some(hash), chosen)
        })
        .await?;
    if reused {
        return Err(ApiError::unprocessable(
            "password.reuse",
            "the new password must differ from the current one",
        ));
    }
    let hash = hash.ok_or(crate::secrets::HashError)??;
    Ok((hash, chosen))
}

/// Hashes a new password on the hashing pool, never on a request thread.
pub(super) async fn hash_on_pool(
    state: &Shared,
    chosen: NewPassword,
) -> ApiResult<(String, NewPassword)> {
    let cost = state.hash_cost;
    let (hash, chosen) = state
        .hashes
        .run(move || (hash_password(cost, chosen.expose()), chosen))
        .await?;
    Ok((hash?, chosen))
}

pub async fn change(
    State(state): State<Shared>,
    CurrentUser(p): CurrentUser,
    Body(req): Body<ChangeRequest>,
) -> ApiResult<Json<ChangeResponse>> {
    let now = state.now();
    let ip = p.ip.to_string();
    let stored = p.user.password_hash.clone();
    let current = req.current_password;
    let current_ok = state
        .hashes
        .run(move || verify_password(&stored, current.expose()))
        .await?;
    if !current_ok {
        // A stolen session must not give unlimited guesses at the password behind it.
        log::info!(
            "wrong current password on a password change by {} from {ip}",
            p.user.username
        );
        state.store.write(|tx| {
            lockout::record_failure(tx, p.user.id, Factor::CurrentPassword, now, Some(&ip))
        })?;
        return Err(ApiError::forbidden(
            "password.current-wrong",
            "the current password is wrong",
        ));
    }
    let chosen = lifecycle::choose_password(
        &p.subscription.security,
        &p.user.first_name,
        &p.user.last_name,
        req.new_password,
        "password.new-required",
    )?;
    let (hash, chosen) = hash_new(&state, &p.user.password_hash, chosen).await?;
    state.store.write(|tx| {
        let Some(mut u) = tx.user_by_id(p.user.id)? else {
            return Err(ApiError::not_found("user.not-found", "no such user"));
        };
        u.password_hash = hash;
        u.password_changed_at = now;
        u.must_change_password = false;
        u.last_expiry_notice_at = None;
        tx.save_user(&u)?;
        // Whoever else holds a session of this user (maybe the reason for the change) is out.
        let ended = tx.delete_user_sessions_except(u.id, &p.session.token_hash)?;
        tx.audit(
            now,
            &u.username,
            "password.changed",
            &u.username,
            &json!({"other_sessions_ended": ended}),
            Some(&ip),
        )?;
        Ok(())
    })?;
    Ok(Json(ChangeResponse {
        changed: true,
        generated_password: chosen.into_generated(),
    }))
}

/// Always the same answer, whether or not the user exists.
pub async fn forgot(
    State(state): State<Shared>,
    ClientIp(ip): ClientIp,
    Body(req): Body<ForgotRequest>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    super::ncsm::check_self_service_reset(&state)?;
    let now = state.now();
    let token = new_token(RESET_TOKEN_PREFIX);
    state.store.write(|tx| {
        let Some(u) = tx.user_by_username(req.username.trim())? else {
            return Ok::<_, ApiError>(());
        };
        // An API-only account is a program's: no mailbox a person reads. The answer stays the
        // same (it tells nobody who exists); the refusal is audited.
        if u.api_only {
            tx.audit(now, &u.username, "password.reset-refused", &u.username, &json!({"reason": "api-only"}), Some(&ip.to_string()))?;
            return Ok(());
        }
        tx.insert_password_reset(&token_hash(&token), u.id, now, now + RESET_TOKEN_LIFETIME)?;
        tx.queue_email(
            now,
            &u.email,
            "Reset your sealscan password",
            &format!(
                "Hello {} {},

someone asked to reset the password of sealscan user {}.
If it was you, run

  sealscan password reset

(add --url https://CONTROL-PLANE:8443 --ca-file ITS-CERTIFICATE.pem if this computer never signed in to it) and give it this token when it asks:

  {}

The token works once, for one hour. If it was not you, ignore this email.
",
                u.first_name,
                u.last_name,
                u.username,
                token.as_str()
            ),
            "password_reset",
            Some(u.id),
        )?;
        tx.audit(now, &u.username, "password.reset-requested", &u.username, &json!({}), Some(&ip.to_string()))?;
        Ok(())
    })?;
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
    super::ncsm::check_self_service_reset(&state)?;
    let now = state.now();
    let hash = token_hash(req.token.expose());
    let invalid = || {
        ApiError::bad_request(
            "password-reset.token-invalid",
            "the reset token is unknown, used or expired; ask for a new one",
        )
    };
    let user = state.store.read(|tx| {
        let Some(id) = tx.peek_password_reset(&hash, now)? else {
            return Err(invalid());
        };
        tx.user_by_id(id)?.ok_or_else(invalid)
    })?;
    if user.api_only {
        return Err(ApiError::forbidden(
            "api-only.interactive-only",
            "self-service password reset is for people; this is an API-only account: a Manager, Unit Manager or User Administrator resets its password (sealscan users reset-password NAME)",
        ));
    }
    let sub = state.store.read(|tx| tx.require_subscription())?;
    // Checked before the token is spent, so a refused password leaves the token usable.
    let chosen = lifecycle::choose_password(
        &sub.security,
        &user.first_name,
        &user.last_name,
        req.new_password,
        "password.new-required",
    )?;
    let (new_hash, chosen) = hash_on_pool(&state, chosen).await?;
    state.store.write(|tx| {
        let Some(id) = tx.take_password_reset(&hash, now)? else {
            return Err(invalid());
        };
        let Some(mut u) = tx.user_by_id(id)? else {
            return Err(invalid());
        };
        u.password_hash = new_hash;
        u.password_changed_at = now;
        u.must_change_password = false;
        u.last_expiry_notice_at = None;
        tx.save_user(&u)?;
        tx.delete_user_sessions(u.id)?;
        tx.audit(
            now,
            &u.username,
            "password.reset",
            &u.username,
            &json!({"self_service": true}),
            Some(&ip.to_string()),
        )?;
        Ok(())
    })?;
    Ok(Json(ChangeResponse {
        changed: true,
        generated_password: match chosen {
            NewPassword::Generated(p) => Some(p),
            NewPassword::Chosen(_) => None,
        },
    }))
}
