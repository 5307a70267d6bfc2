//! Sign-in, sign-out and `whoami`.
use super::Shared;
use super::auth::{AnyUserSession, ClientIp, USER_TOKEN_PREFIX};
use super::error::{ApiError, ApiResult, Body};
use super::twofa;
use super::views::user_view;
use crate::lifecycle::{self, NewPassword};
use crate::lockout::{self, Factor};
use crate::secrets::{new_token, token_hash, verify_password};
use crate::store::SessionScope;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sealscan_api::session::SessionScope as Scope;
pub use sealscan_api::session::{LoginRequest, LoginResponse, WhoAmI};
use serde_json::json;

fn login_failed() -> ApiError {
    ApiError::unauthorized("login.failed", "the user name or password is wrong")
}

/// The one answer a locked account gives, whatever was guessed: telling a right password
/// from a wrong one would let guessing go on after the lock.
fn account_locked() -> ApiError {
    ApiError::forbidden(
        "account.locked",
        "this account is locked after too many failed logins; a Manager or Unit Manager must reactivate it",
    )
}

fn code_invalid() -> ApiError {
    ApiError::unauthorized(
        "2fa.code-invalid",
        "the two-factor code is wrong, expired or already used",
    )
}

/// Counts a failed factor; the answer is the lock's when the account was locked before.
fn failed(
    state: &Shared,
    user: &crate::model::User,
    factor: Factor,
    now: i64,
    ip: &str,
    answer: ApiError,
) -> ApiError {
    log::info!(
        "failed sign-in for {} from {ip}: wrong {}",
        user.username,
        factor.as_str()
    );
    match state
        .store
        .write(|tx| lockout::record_failure(tx, user.id, factor, now, Some(ip)))
    {
        Ok(lockout::Outcome::AlreadyLocked) => account_locked(),
        Ok(_) => answer,
        Err(e) => ApiError::from(e),
    }
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
    let password = req.password;
    let Some(user) = found else {
        // Same work and same answer as a wrong password.
        let dummy = state.dummy_hash.clone();
        state
            .hashes
            .run(move || verify_password(&dummy, password.expose()))
            .await?;
        // The name typed may be a password typed into the wrong field: not logged.
        log::info!("failed sign-in for an unknown user name from {ip_text}");
        return Err(login_failed());
    };
    let stored = user.password_hash.clone();
    let password_ok = state
        .hashes
        .run(move || verify_password(&stored, password.expose()))
        .await?;
    if !password_ok {
        return Err(failed(
            &state,
            &user,
            Factor::Password,
            now,
            &ip_text,
            login_failed(),
        ));
    }
    if user.locked {
        // A wrong code is a guess like a wrong password: counted, answered the same.
        let code_wrong = user.totp_enabled
            && req
                .totp_code
                .as_deref()
                .is_some_and(|c| twofa::verify(&state.data_key, &user, c, now).is_none());
        if code_wrong {
            return Err(failed(
                &state,
                &user,
                Factor::TwoFactorCode,
                now,
                &ip_text,
                account_locked(),
            ));
        }
        log::info!(
            "refused sign-in for locked user {} from {ip_text}",
            user.username
        );
        return Err(account_locked());
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
                return Err(failed(
                    &state,
                    &user,
                    Factor::TwoFactorCode,
                    now,
                    &ip_text,
                    code_invalid(),
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
            )
            .with_details(sealscan_api::ErrorDetails {
                change_at_login: Some(false),
                ..Default::default()
            }));
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
        let (hash, chosen) = super::password::hash_new(&state, &user.password_hash, chosen).await?;
        new_hash = Some(hash);
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
            return Ok(Err(login_failed()));
        };
        if u.locked {
            return Ok(Err(account_locked()));
        }
        // Checked again under the write lock: of concurrent sign-ins with one code, only the
        // first to get here may use it.
        if let Some(step) = totp_step {
            // Not counted toward the lockout: the code was right, and a client retrying one
            // sign-in must not lock its user out (nor end the session the first try opened).
            if u.totp_last_step.is_some_and(|last| step <= last) {
                log::info!(
                    "refused sign-in for {} from {ip_text}: two-factor code already used",
                    u.username
                );
                return Ok(Err(code_invalid()));
            }
            u.totp_last_step = Some(step);
        }
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
        u.failed_logins = 0;
        u.last_login_at = Some(now);
        tx.save_user(&u)?;
        let timeout = lifecycle::session_timeout_minutes(&sub.security, &u);
        tx.insert_session(&token_hash(&token), u.id, now, timeout, scope)?;
        lifecycle::queue_expiry_email(tx, &sub, &mut u, now)?;
        let notice = lifecycle::expiry_notice(&sub, &u, now);
        Ok::<_, ApiError>(Ok((u, notice, timeout)))
    })??;
    log::info!("signed in: {} from {ip_text}", user.username);

    Ok(Json(LoginResponse {
        token: token.to_string(),
        scope: match scope {
            SessionScope::Full => Scope::Full,
            SessionScope::EnrollTwoFactor => Scope::EnrollTwoFactor,
        },
        idle_timeout_minutes: timeout,
        user: user_view(&sub, &user),
        password_expiry_notice: notice,
        generated_password: new_password.and_then(NewPassword::into_generated),
    }))
}

pub async fn whoami(
    State(state): State<Shared>,
    AnyUserSession(p): AnyUserSession,
) -> Json<WhoAmI> {
    let now = state.now();
    Json(WhoAmI {
        user: user_view(&p.subscription, &p.user),
        scope: match p.session.scope {
            SessionScope::Full => Scope::Full,
            SessionScope::EnrollTwoFactor => Scope::EnrollTwoFactor,
        },
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
