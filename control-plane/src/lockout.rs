//! Account lockout, written once for every factor a user can get wrong: the password at
//! sign-in, the two-factor code, and the current password on a password change. Each failure
//! is counted the same way (also while the account is already locked, so guesses after the
//! lock are not free), the lock ends every session of the user, and only the transition into
//! the lock is audited and logged.
use crate::store::{StoreError, Tx};
use serde_json::json;

/// Which proof the user failed; named in the audit entry of the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Factor {
    Password,
    TwoFactorCode,
    CurrentPassword,
}

impl Factor {
    pub fn as_str(self) -> &'static str {
        match self {
            Factor::Password => "password",
            Factor::TwoFactorCode => "two-factor code",
            Factor::CurrentPassword => "current password",
        }
    }
}

/// What one failure did to the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Counted; the account is still open.
    Counted,
    /// This failure reached the limit: the account is now locked and its sessions ended.
    LockedNow,
    /// The account was locked before; the guess was counted all the same.
    AlreadyLocked,
    /// The user no longer exists.
    NoSuchUser,
}

/// Records one failed `factor` for `user_id` inside the caller's transaction.
pub fn record_failure(
    tx: &Tx<'_>,
    user_id: i64,
    factor: Factor,
    now: i64,
    ip: Option<&str>,
) -> Result<Outcome, StoreError> {
    let limit = tx.require_subscription()?.security.lockout_failed_logins;
    let Some(mut u) = tx.user_by_id(user_id)? else {
        return Ok(Outcome::NoSuchUser);
    };
    u.failed_logins = u.failed_logins.saturating_add(1);
    let outcome = if u.locked {
        Outcome::AlreadyLocked
    } else if limit > 0 && u.failed_logins >= limit {
        u.locked = true;
        tx.audit(
            now,
            "system",
            "user.locked",
            &u.username,
            &json!({"reason": "failed logins", "failed_logins": u.failed_logins, "factor": factor.as_str()}),
            ip,
        )?;
        log::warn!(
            "user {} locked after {} failed logins (last: wrong {}) from {}",
            u.username,
            u.failed_logins,
            factor.as_str(),
            ip.unwrap_or("-")
        );
        Outcome::LockedNow
    } else {
        Outcome::Counted
    };
    if u.locked {
        // A locked account keeps no session, whichever factor locked it.
        tx.delete_user_sessions(u.id)?;
    }
    tx.save_user(&u)?;
    Ok(outcome)
}
