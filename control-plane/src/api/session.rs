//! Sign-in, sign-out and `whoami`.
use super::Shared;
use super::auth::{AnyUserSession, ClientIp, USER_TOKEN_PREFIX};
use super::error::{ApiError, ApiResult, Body};
use super::twofa;
use super::views::{UserView, user_view};
use crate::lifecycle::{self, ExpiryNotice, NewPassword};
use crate::secrets::{Password, hash_password, new_token, token_hash, verify_password};
use crate::store::SessionScope;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

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

fn login_failed() -> ApiError {
    ApiError::unauthorized("login.failed", "the user name or password is wrong")
}

pub async fn login(
    State(state): State<Shared>,
    ClientIp(ip): ClientIp,
    Body(req): Body<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let now = state.now();
    let ip_text = ip.to_string();
    let found = state
        .store
        .read(|tx| tx.user_by_username(req.username.trim()))?;
    let Some(user) = found else {
        // Same work and same answer as a wrong password.
        let _ = verify_password(&state.dummy_hash, req.password.expose());
        return Err(login_failed());
    };
    let password_ok = verify_password(&user.password_hash, req.password.expose());
    if !password_ok {
        state.store.write(|tx| {
            let sub = tx.require_subscription()?;
            let Some(mut u) = tx.user_by_id(user.id)? else {
                return Ok::<_, ApiError>(());
            };
            if u.locked {
                return Ok(());
            }
            u.failed_logins = u.failed_logins.saturating_add(1);
            let limit = sub.security.lockout_failed_logins;
            if limit > 0 && u.failed_logins >= limit {
                u.locked = true;
                tx.delete_user_sessions(u.id)?;
                tx.audit(
                    now,
                    "system",
                    "user.locked",
                    &u.username,
                    &json!({"reason": "failed logins", "failed_logins": u.failed_logins}),
                    Some(&ip_text),
                )?;
            }
            tx.save_user(&u)?;
            Ok(())
        })?;
        return Err(login_failed());
    }
    if user.locked {
        return Err(ApiError::forbidden(
            "account.locked",
            "this account is locked after too many failed logins; a Manager or Unit Manager must reactivate it",
        ));
    }

    let sub = state.store.read(|tx| tx.require_subscription())?;
    let security = &sub.security;

    let mut totp_step = None;
    // An enrolled user always proves a code, even if the subscription option is off.
    if user.totp_enabled {
        let Some(code) = req.totp_code.as_deref() else {
            return Err(ApiError::unauthorized(
                "2fa.code-required",
                "two-factor login is on: send totp_code from your authenticator app",
            ));
        };
        match twofa::verify(&state.data_key, &user, code, now) {
            Some(step) => totp_step = Some(step),
            None => {
                state.store.write(|tx| {
                    if let Some(mut u) = tx.user_by_id(user.id)? {
                        u.failed_logins = u.failed_logins.saturating_add(1);
                        let limit = sub.security.lockout_failed_logins;
                        if limit > 0 && u.failed_logins >= limit && !u.locked {
                            u.locked = true;
                            tx.audit(
                                now,
                                "system",
                                "user.locked",
                                &u.username,
                                &json!({"reason": "failed logins", "failed_logins": u.failed_logins}),
                                Some(&ip_text),
                            )?;
                        }
                        tx.save_user(&u)?;
                    }
                    Ok::<_, ApiError>(())
                })?;
                return Err(ApiError::unauthorized(
                    "2fa.code-invalid",
                    "the two-factor code is wrong, expired or already used",
                ));
            }
        }
    }

    let expired = lifecycle::is_expired(&sub, &user, now);
    let change_due = user.must_change_password || expired;
    let mut new_password: Option<NewPassword> = None;
    let mut new_hash = None;
    if change_due {
        let (rule, why) = if user.must_change_password {
            (
                "password.change-required",
                "a password change is required at this login",
            )
        } else {
            ("password.expired", "the password has expired")
        };
        if !user.must_change_password && !security.change_expired_at_login {
            return Err(ApiError::forbidden(
                "password.expired",
                "the password has expired and changing it at login is off; ask a Manager, Unit Manager or User Administrator to reset it",
            ));
        }
        if security.user_defined_passwords && req.new_password.is_none() {
            return Err(ApiError::forbidden(
                rule,
                format!("{why}: sign in again with new_password set"),
            ));
        }
        let chosen = lifecycle::choose_password(
            security,
            &user.first_name,
            &user.last_name,
            req.new_password,
            rule,
        )?;
        if verify_password(&user.password_hash, chosen.expose()) {
            return Err(ApiError::unprocessable(
                "password.reuse",
                "the new password must differ from the current one",
            ));
        }
        new_hash = Some(hash_password(state.hash_cost, chosen.expose())?);
        new_password = Some(chosen);
    }

    let token = new_token(USER_TOKEN_PREFIX);
    let scope = if security.two_factor_required && !user.totp_enabled {
        SessionScope::EnrollTwoFactor
    } else {
        SessionScope::Full
    };
    let (user, notice, timeout) = state.store.write(|tx| {
        let Some(mut u) = tx.user_by_id(user.id)? else {
            return Err(login_failed());
        };
        if let Some(h) = new_hash {
            u.password_hash = h;
            u.password_changed_at = now;
            u.must_change_password = false;
            u.last_expiry_notice_at = None;
            tx.audit(
                now,
                &u.username,
                "password.changed",
                &u.username,
                &json!({"at_login": true, "expired": expired}),
                Some(&ip_text),
            )?;
        }
        if let Some(step) = totp_step {
            u.totp_last_step = Some(step);
        }
        u.failed_logins = 0;
        u.last_login_at = Some(now);
        tx.save_user(&u)?;
        let timeout = lifecycle::session_timeout_minutes(&sub.security, &u);
        tx.insert_session(&token_hash(&token), u.id, now, timeout, scope)?;
        lifecycle::queue_expiry_email(tx, &sub, &mut u, now)?;
        let notice = lifecycle::expiry_notice(&sub, &u, now);
        Ok::<_, ApiError>((u, notice, timeout))
    })?;

    Ok(Json(LoginResponse {
        token: token.to_string(),
        scope: match scope {
            SessionScope::Full => "full",
            SessionScope::EnrollTwoFactor => "enroll_2fa",
        },
        idle_timeout_minutes: timeout,
        user: user_view(&sub, &user),
        password_expiry_notice: notice,
        generated_password: new_password.and_then(NewPassword::into_generated),
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
        scope: match p.session.scope {
            SessionScope::Full => "full",
            SessionScope::EnrollTwoFactor => "enroll_2fa",
        },
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
