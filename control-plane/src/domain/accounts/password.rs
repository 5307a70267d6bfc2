//! Passwords: the one way a new password is stored, the self-service change, and the reset
//! by emailed token.
use crate::domain::{DomainError, DomainResult, Shared};
use crate::lifecycle::{self, NewPassword};
use crate::lockout::{self, Factor};
use crate::model::User;
use crate::secrets::{Password, hash_password, new_token, token_hash, verify_password};
use crate::store::Tx;
use sealscan_api::Code;
use serde_json::json;

const RESET_TOKEN_PREFIX: &str = "rst_";
const RESET_TOKEN_LIFETIME: i64 = 3600;

/// Stores `hash` as the user's password from `now`: the expiry clock restarts and the
/// pre-expiry notice may be sent again. `must_change` is true when someone else chose it.
pub fn set_password(
    tx: &Tx<'_>,
    u: &mut User,
    hash: String,
    now: i64,
    must_change: bool,
) -> DomainResult<()> {
    u.password_hash = hash;
    u.password_changed_at = now;
    u.must_change_password = must_change;
    u.last_expiry_notice_at = None;
    tx.save_user(u)?;
    Ok(())
}

/// Refuses the current password as the new one, then hashes the new one; both on the
/// hashing pool, never on a request thread.
pub async fn hash_new(
    state: &Shared,
    current_hash: &str,
    chosen: NewPassword,
) -> DomainResult<(String, NewPassword)> {
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
        return Err(DomainError::refused(
            Code::PasswordReuse,
            "the new password must differ from the current one",
        ));
    }
    let hash = hash.ok_or(crate::secrets::HashError)??;
    Ok((hash, chosen))
}

/// Hashes a new password on the hashing pool, never on a request thread.
pub async fn hash_on_pool(
    state: &Shared,
    chosen: NewPassword,
) -> DomainResult<(String, NewPassword)> {
    let cost = state.hash_cost;
    let (hash, chosen) = state
        .hashes
        .run(move || (hash_password(cost, chosen.expose()), chosen))
        .await?;
    Ok((hash?, chosen))
}

/// Checks the password against the stored hash on the hashing pool.
pub async fn verify_on_pool(
    state: &Shared,
    stored: &str,
    password: Password,
) -> DomainResult<bool> {
    let stored = stored.to_string();
    Ok(state
        .hashes
        .run(move || verify_password(&stored, password.expose()))
        .await?)
}

/// The signed-in user changes their own password; every other session of theirs ends.
/// Answers the generated password when the control plane chose it.
pub async fn change(
    state: &Shared,
    user: &User,
    security: &crate::model::SecuritySettings,
    session_token_hash: &str,
    current: Password,
    new: Option<Password>,
    ip: &str,
) -> DomainResult<Option<Password>> {
    let now = state.now();
    if !verify_on_pool(state, &user.password_hash, current).await? {
        // A stolen session must not give unlimited guesses at the password behind it.
        log::info!(
            "wrong current password on a password change by {} from {ip}",
            user.username
        );
        state.store.write(|tx| {
            lockout::record_failure(tx, user.id, Factor::CurrentPassword, now, Some(ip))
        })?;
        return Err(DomainError::forbidden(
            Code::PasswordCurrentWrong,
            "the current password is wrong",
        ));
    }
    let chosen = lifecycle::choose_password(
        security,
        &user.first_name,
        &user.last_name,
        new,
        Code::PasswordNewRequired,
    )?;
    let (hash, chosen) = hash_new(state, &user.password_hash, chosen).await?;
    state.store.write(|tx| {
        let Some(mut u) = tx.user_by_id(user.id)? else {
            return Err(DomainError::not_found(Code::UserNotFound, "no such user"));
        };
        set_password(tx, &mut u, hash, now, false)?;
        // Whoever else holds a session of this user (maybe the reason for the change) is out.
        let ended = tx.delete_user_sessions_except(u.id, session_token_hash)?;
        tx.audit(
            now,
            &u.username,
            "password.changed",
            &u.username,
            &json!({"other_sessions_ended": ended}),
            Some(ip),
        )?;
        Ok(())
    })?;
    Ok(chosen.into_generated())
}

/// Mails a one-hour reset token to the user, if there is one who may have it; the caller
/// answers the same whatever happened, so nobody learns who exists.
pub fn forgot(state: &Shared, username: &str, ip: &str) -> DomainResult<()> {
    crate::ncsm::check_self_service_reset(state)?;
    let now = state.now();
    let token = new_token(RESET_TOKEN_PREFIX);
    state.store.write(|tx| {
        let Some(u) = tx.user_by_username(username.trim())? else {
            return Ok::<_, DomainError>(());
        };
        // An API-only account is a program's: no mailbox a person reads. The refusal is
        // audited only.
        if u.api_only {
            tx.audit(now, &u.username, "password.reset-refused", &u.username, &json!({"reason": "api-only"}), Some(ip))?;
            return Ok(());
        }
        tx.insert_password_reset(&token_hash(&token), u.id, now, now + RESET_TOKEN_LIFETIME)?;
        tx.queue_email(
            now,
            &u.email,
            "Reset your sealscan password",
            &format!(
                "Hello {} {},\n\nsomeone asked to reset the password of sealscan user {}.\nIf it was you, run\n\n  sealscan password reset\n\n(add --url https://CONTROL-PLANE:8443 --ca-file ITS-CERTIFICATE.pem if this computer never signed in to it) and give it this token when it asks:\n\n  {}\n\nThe token works once, for one hour. If it was not you, ignore this email.\n",
                u.first_name,
                u.last_name,
                u.username,
                token.as_str()
            ),
            "password_reset",
            Some(u.id),
        )?;
        tx.audit(now, &u.username, "password.reset-requested", &u.username, &json!({}), Some(ip))?;
        Ok(())
    })
}

/// Spends a reset token on a new password; every session of the user ends. Answers the
/// generated password when the control plane chose it.
pub async fn reset_with_token(
    state: &Shared,
    token: &Password,
    new: Option<Password>,
    ip: &str,
) -> DomainResult<Option<Password>> {
    crate::ncsm::check_self_service_reset(state)?;
    let now = state.now();
    let hash = token_hash(token.expose());
    let invalid = || {
        DomainError::invalid(
            Code::PasswordResetTokenInvalid,
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
        return Err(DomainError::forbidden(
            Code::ApiOnlyInteractiveOnly,
            "self-service password reset is for people; this is an API-only account: a Manager, Unit Manager or User Administrator resets its password (sealscan users reset-password NAME)",
        ));
    }
    let sub = state.store.read(|tx| tx.require_subscription())?;
    // Checked before the token is spent, so a refused password leaves the token usable.
    let chosen = lifecycle::choose_password(
        &sub.security,
        &user.first_name,
        &user.last_name,
        new,
        Code::PasswordNewRequired,
    )?;
    let (new_hash, chosen) = hash_on_pool(state, chosen).await?;
    state.store.write(|tx| {
        let Some(id) = tx.take_password_reset(&hash, now)? else {
            return Err(invalid());
        };
        let Some(mut u) = tx.user_by_id(id)? else {
            return Err(invalid());
        };
        set_password(tx, &mut u, new_hash, now, false)?;
        tx.delete_user_sessions(u.id)?;
        tx.audit(
            now,
            &u.username,
            "password.reset",
            &u.username,
            &json!({"self_service": true}),
            Some(ip),
        )?;
        Ok(())
    })?;
    Ok(chosen.into_generated())
}
