//! Two-factor login (TOTP, RFC 6238): enrolment, confirmation, and checking a code.
use crate::domain::{DomainError, DomainResult, Shared};
use crate::keyfile::DataKey;
use crate::model::User;
use sealscan_api::Code;
use sealscan_api::session::Enrollment;
use serde_json::json;
use totp_rs::{Algorithm, Secret, TOTP};
use zeroize::Zeroizing;

const STEP: u64 = 30;
const ISSUER: &str = "sealscan";

fn totp(secret: &[u8], account: &str) -> Option<TOTP> {
    // The account label may not hold ':' in otpauth URIs.
    let account = account.replace(':', "_");
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        secret.to_vec(),
        Some(ISSUER.to_string()),
        account,
    )
    .ok()
}

fn context(user_id: i64) -> Vec<u8> {
    format!("sealscan-control totp user:{user_id}").into_bytes()
}

/// The time step of a valid, not yet used code (one step of clock skew either way).
pub fn verify(key: &DataKey, user: &User, code: &str, now: i64) -> Option<i64> {
    match check(key, user, code, now) {
        CodeCheck::Valid(step) => Some(step),
        CodeCheck::Replayed | CodeCheck::Wrong => None,
    }
}

/// What a code proves.
pub enum CodeCheck {
    /// Right, and not used before: its time step.
    Valid(i64),
    /// Right, but already used: a retry or a replay, not a guess.
    Replayed,
    Wrong,
}

pub fn check(key: &DataKey, user: &User, code: &str, now: i64) -> CodeCheck {
    match matching_step(key, user, code, now) {
        // A code already used may not be used again.
        Some(step) if user.totp_last_step.is_some_and(|last| step <= last) => CodeCheck::Replayed,
        Some(step) => CodeCheck::Valid(step),
        None => CodeCheck::Wrong,
    }
}

/// The time step whose code `code` is (one step of clock skew either way).
fn matching_step(key: &DataKey, user: &User, code: &str, now: i64) -> Option<i64> {
    let sealed = user.totp_secret.as_deref()?;
    let secret = key.open(&context(user.id), sealed)?;
    let t = totp(&secret, &user.username)?;
    let now = u64::try_from(now).ok()?;
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now / STEP;
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = t.generate(step * STEP);
        if crate::secrets::ct_eq(expected.as_bytes(), code.as_bytes()) {
            return i64::try_from(step).ok();
        }
    }
    None
}

/// Computes the current code for a base32 secret; the CLI's tests and tools use it.
pub fn code_for(secret_base32: &str, now: i64) -> Option<String> {
    let bytes = Secret::Encoded(secret_base32.to_string()).to_bytes().ok()?;
    let t = totp(&bytes, "x")?;
    Some(t.generate(u64::try_from(now).ok()?))
}

fn already_enrolled() -> DomainError {
    DomainError::conflict(
        Code::TwoFaAlreadyEnrolled,
        "two-factor login is already set up for this user",
    )
}

/// Creates (or replaces, while unconfirmed) the user's TOTP secret, sealed with the data key,
/// and answers what the user needs to add the account to an authenticator app.
pub fn enroll(state: &Shared, user: &User) -> DomainResult<Enrollment> {
    if user.totp_enabled {
        return Err(already_enrolled());
    }
    let cannot = || DomainError::internal("cannot create a TOTP secret");
    let secret = Zeroizing::new(Secret::generate_secret().to_bytes().map_err(|_| cannot())?);
    let t = totp(&secret, &user.username).ok_or_else(cannot)?;
    let enrollment = Enrollment {
        secret_base32: t.get_secret_base32(),
        provisioning_uri: t.get_url(),
        message: "scan the provisioning URI with an authenticator app, then confirm with POST /api/v1/2fa/confirm"
            .to_string(),
    };
    let sealed = state.data_key.seal(&context(user.id), &secret);
    state.store.write(|tx| {
        let Some(mut u) = tx.user_by_id(user.id)? else {
            return Err(DomainError::not_found(Code::UserNotFound, "no such user"));
        };
        u.totp_secret = Some(sealed);
        u.totp_last_step = None;
        tx.save_user(&u)?;
        Ok(())
    })?;
    Ok(enrollment)
}

/// Turns two-factor login on once the user proves a code from the enrolled secret.
pub fn confirm(state: &Shared, user: &User, code: &str, ip: &str) -> DomainResult<()> {
    let now = state.now();
    if user.totp_enabled {
        return Err(already_enrolled());
    }
    if user.totp_secret.is_none() {
        return Err(DomainError::conflict(
            Code::TwoFaNotStarted,
            "start with POST /api/v1/2fa/enroll",
        ));
    }
    let step = verify(&state.data_key, user, code, now).ok_or_else(|| {
        DomainError::refused(
            Code::TwoFaCodeInvalid,
            "the code does not match; check the authenticator app's clock and try the current code",
        )
    })?;
    state.store.write(|tx| {
        let Some(mut u) = tx.user_by_id(user.id)? else {
            return Err(DomainError::not_found(Code::UserNotFound, "no such user"));
        };
        u.totp_enabled = true;
        u.totp_last_step = Some(step);
        tx.save_user(&u)?;
        tx.audit(
            now,
            &u.username,
            "2fa.enrolled",
            &u.username,
            &json!({}),
            Some(ip),
        )?;
        Ok(())
    })
}
