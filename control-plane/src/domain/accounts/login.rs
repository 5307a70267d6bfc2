//! Signing in, step by step: the password (or the same work for an unknown name), the lock,
//! the two-factor code, a password change when one is due, then the session.
use super::password::{hash_new, set_password, verify_on_pool};
use super::twofa;
use crate::domain::{DomainError, DomainResult, Shared};
use crate::lifecycle::{self, ExpiryNotice, NewPassword};
use crate::lockout::{self, Factor};
use crate::model::{Subscription, User};
use crate::secrets::{Password, new_token, token_hash};
use crate::store::SessionScope;
use sealscan_api::Code;
use serde_json::json;
use zeroize::Zeroizing;

/// The prefix of a user's session token.
pub const USER_TOKEN_PREFIX: &str = "ssn_";

/// What the person typed.
pub struct Credentials<'a> {
    pub username: &'a str,
    pub password: Password,
    pub totp_code: Option<&'a str>,
    /// Sets a new password during the login when one is due (first login, expiry).
    pub new_password: Option<Password>,
}

/// A new session and what the person should be told with it.
pub struct SignedIn {
    pub token: Zeroizing<String>,
    pub scope: SessionScope,
    pub idle_timeout_minutes: u32,
    pub user: User,
    pub subscription: Subscription,
    pub password_expiry_notice: Option<ExpiryNotice>,
    /// Present once when the control plane generated the user's new password.
    pub generated_password: Option<Password>,
}

fn login_failed() -> DomainError {
    DomainError::unauthenticated(Code::LoginFailed, "the user name or password is wrong")
}

/// The one answer a locked account gives, whatever was guessed: telling a right password
/// from a wrong one would let guessing go on after the lock.
fn account_locked() -> DomainError {
    DomainError::forbidden(
        Code::AccountLocked,
        "this account is locked after too many failed logins; a Manager or Unit Manager must reactivate it",
    )
}

fn code_invalid() -> DomainError {
    DomainError::unauthenticated(
        Code::TwoFaCodeInvalid,
        "the two-factor code is wrong, expired or already used",
    )
}

/// Counts a failed factor; the answer is the lock's when the account was locked before.
fn failed(
    state: &Shared,
    user: &User,
    factor: Factor,
    ip: &str,
    answer: DomainError,
) -> DomainError {
    log::info!(
        "failed sign-in for {} from {ip}: wrong {}",
        user.username,
        factor.as_str()
    );
    let now = state.now();
    match state
        .store
        .write(|tx| lockout::record_failure(tx, user.id, factor, now, Some(ip)))
    {
        Ok(lockout::Outcome::AlreadyLocked) => account_locked(),
        Ok(_) => answer,
        Err(e) => DomainError::from(e),
    }
}

pub async fn login(state: &Shared, c: Credentials<'_>, ip: &str) -> DomainResult<SignedIn> {
    let user = check_password(state, c.username, c.password, ip).await?;
    if user.locked {
        return Err(refuse_locked(state, &user, c.totp_code, ip));
    }
    let sub = state.store.read(|tx| tx.require_subscription())?;
    let totp_step = check_code(state, &user, c.totp_code, ip)?;
    let change = password_due(state, &sub, &user, c.new_password).await?;
    open_session(state, &sub, &user, totp_step, change, ip)
}

/// The user whose password this is; an unknown name costs the same work and gets the same
/// answer as a wrong password.
async fn check_password(
    state: &Shared,
    username: &str,
    password: Password,
    ip: &str,
) -> DomainResult<User> {
    let found = state
        .store
        .read(|tx| tx.user_by_username(username.trim()))?;
    let Some(user) = found else {
        verify_on_pool(state, &state.dummy_hash, password).await?;
        // The name typed may be a password typed into the wrong field: not logged.
        log::info!("failed sign-in for an unknown user name from {ip}");
        return Err(login_failed());
    };
    if !verify_on_pool(state, &user.password_hash, password).await? {
        return Err(failed(state, &user, Factor::Password, ip, login_failed()));
    }
    Ok(user)
}

/// A locked account is refused whatever it sends; a wrong code is still a guess like a wrong
/// password: counted, answered the same.
fn refuse_locked(state: &Shared, user: &User, code: Option<&str>, ip: &str) -> DomainError {
    let code_wrong = user.totp_enabled
        && code.is_some_and(|c| {
            matches!(
                twofa::check(&state.data_key, user, c, state.now()),
                twofa::CodeCheck::Wrong
            )
        });
    if code_wrong {
        return failed(state, user, Factor::TwoFactorCode, ip, account_locked());
    }
    log::info!(
        "refused sign-in for locked user {} from {ip}",
        user.username
    );
    account_locked()
}

/// The time step of the user's code; an enrolled user always proves one, even if the
/// subscription option is off.
fn check_code(
    state: &Shared,
    user: &User,
    code: Option<&str>,
    ip: &str,
) -> DomainResult<Option<i64>> {
    if !user.totp_enabled {
        return Ok(None);
    }
    let Some(code) = code else {
        return Err(DomainError::unauthenticated(
            Code::TwoFaCodeRequired,
            "two-factor login is on: send totp_code from your authenticator app",
        ));
    };
    match twofa::check(&state.data_key, user, code, state.now()) {
        twofa::CodeCheck::Valid(step) => Ok(Some(step)),
        // A right code used again (a client retrying, or a concurrent sign-in that got there
        // first) is no guess: refused, not counted toward the lockout.
        twofa::CodeCheck::Replayed => Err(code_invalid()),
        twofa::CodeCheck::Wrong => Err(failed(
            state,
            user,
            Factor::TwoFactorCode,
            ip,
            code_invalid(),
        )),
    }
}

/// A new password set during the login, hashed.
struct Change {
    hash: String,
    chosen: NewPassword,
    expired: bool,
}

/// The new password when one is due (first login or expiry), or the refusal saying how to
/// give one.
async fn password_due(
    state: &Shared,
    sub: &Subscription,
    user: &User,
    supplied: Option<Password>,
) -> DomainResult<Option<Change>> {
    let security = &sub.security;
    let expired = lifecycle::is_expired(sub, user, state.now());
    if !user.must_change_password && !expired {
        return Ok(None);
    }
    let (rule, why) = if user.must_change_password {
        (
            Code::PasswordChangeRequired,
            "a password change is required at this login",
        )
    } else {
        (Code::PasswordExpired, "the password has expired")
    };
    if !user.must_change_password && !security.change_expired_at_login {
        return Err(DomainError::forbidden(
            Code::PasswordExpired,
            "the password has expired and changing it at login is off; ask a Manager, Unit Manager or User Administrator to reset it",
        ));
    }
    if security.user_defined_passwords && supplied.is_none() {
        return Err(DomainError::forbidden(
            rule,
            format!("{why}: sign in again with new_password set"),
        ));
    }
    let chosen =
        lifecycle::choose_password(security, &user.first_name, &user.last_name, supplied, rule)?;
    let (hash, chosen) = hash_new(state, &user.password_hash, chosen).await?;
    Ok(Some(Change {
        hash,
        chosen,
        expired,
    }))
}

fn open_session(
    state: &Shared,
    sub: &Subscription,
    user: &User,
    totp_step: Option<i64>,
    change: Option<Change>,
    ip: &str,
) -> DomainResult<SignedIn> {
    let now = state.now();
    let token = new_token(USER_TOKEN_PREFIX);
    let scope = if sub.security.two_factor_required && !user.totp_enabled {
        SessionScope::EnrollTwoFactor
    } else {
        SessionScope::Full
    };
    let (generated, change) = match change {
        Some(Change {
            hash,
            chosen,
            expired,
        }) => (chosen.into_generated(), Some((hash, expired))),
        None => (None, None),
    };
    let (user, notice, timeout) = state.store.write(|tx| {
        let Some(mut u) = tx.user_by_id(user.id)? else {
            return Err(login_failed());
        };
        if u.locked {
            return Err(account_locked());
        }
        // Checked again under the write lock: of concurrent sign-ins with one code, only the
        // first to get here may use it.
        if let Some(step) = totp_step {
            // Not counted toward the lockout: the code was right, and a client retrying one
            // sign-in must not lock its user out (nor end the session the first try opened).
            if u.totp_last_step.is_some_and(|last| step <= last) {
                log::info!(
                    "refused sign-in for {} from {ip}: two-factor code already used",
                    u.username
                );
                return Err(code_invalid());
            }
            u.totp_last_step = Some(step);
        }
        if let Some((hash, expired)) = change {
            set_password(tx, &mut u, hash, now, false)?;
            tx.audit(
                now,
                &u.username,
                "password.changed",
                &u.username,
                &json!({"at_login": true, "expired": expired}),
                Some(ip),
            )?;
        }
        u.failed_logins = 0;
        u.last_login_at = Some(now);
        tx.save_user(&u)?;
        let timeout = lifecycle::session_timeout_minutes(&sub.security, &u);
        tx.insert_session(&token_hash(&token), u.id, now, timeout, scope)?;
        lifecycle::queue_expiry_email(tx, sub, &mut u, now)?;
        let notice = lifecycle::expiry_notice(sub, &u, now);
        Ok((u, notice, timeout))
    })?;
    log::info!("signed in: {} from {ip}", user.username);
    Ok(SignedIn {
        token,
        scope,
        idle_timeout_minutes: timeout,
        user,
        subscription: sub.clone(),
        password_expiry_notice: notice,
        generated_password: generated,
    })
}
