//! TOTP (RFC 6238) enrolment: the user scans the provisioning URI, then proves a code.
use super::Shared;
use super::auth::AnyUserSession;
use super::error::{ApiError, ApiResult, Body};
use crate::keyfile::DataKey;
use crate::model::User;
use axum::Json;
use axum::extract::State;
pub use sealscan_api::session::{ConfirmRequest, Confirmed, Enrollment};
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
            let step = i64::try_from(step).ok()?;
            // A code already used may not be used again.
            if user.totp_last_step.is_some_and(|last| step <= last) {
                return None;
            }
            return Some(step);
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

pub async fn enroll(
    State(state): State<Shared>,
    AnyUserSession(p): AnyUserSession,
) -> ApiResult<Json<Enrollment>> {
    if p.user.totp_enabled {
        return Err(ApiError::conflict(
            "2fa.already-enrolled",
            "two-factor login is already set up for this user",
        ));
    }
    let secret = Zeroizing::new(Secret::generate_secret().to_bytes().map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "cannot create a TOTP secret",
        )
    })?);
    let t = totp(&secret, &p.user.username).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "cannot create a TOTP secret",
        )
    })?;
    let uri = t.get_url();
    let base32 = t.get_secret_base32();
    let sealed = state.data_key.seal(&context(p.user.id), &secret);
    state.store.write(|tx| {
        let Some(mut u) = tx.user_by_id(p.user.id)? else {
            return Err(ApiError::not_found("user.not-found", "no such user"));
        };
        u.totp_secret = Some(sealed);
        u.totp_last_step = None;
        tx.save_user(&u)?;
        Ok(())
    })?;
    Ok(Json(Enrollment {
        secret_base32: base32,
        provisioning_uri: uri,
        message: "scan the provisioning URI with an authenticator app, then confirm with POST /api/v1/2fa/confirm"
            .to_string(),
    }))
}

pub async fn confirm(
    State(state): State<Shared>,
    AnyUserSession(p): AnyUserSession,
    Body(req): Body<ConfirmRequest>,
) -> ApiResult<Json<Confirmed>> {
    let now = state.now();
    if p.user.totp_enabled {
        return Err(ApiError::conflict(
            "2fa.already-enrolled",
            "two-factor login is already set up for this user",
        ));
    }
    if p.user.totp_secret.is_none() {
        return Err(ApiError::conflict(
            "2fa.not-started",
            "start with POST /api/v1/2fa/enroll",
        ));
    }
    let step = verify(&state.data_key, &p.user, &req.code, now).ok_or_else(|| {
        ApiError::unprocessable(
            "2fa.code-invalid",
            "the code does not match; check the authenticator app's clock and try the current code",
        )
    })?;
    state.store.write(|tx| {
        let Some(mut u) = tx.user_by_id(p.user.id)? else {
            return Err(ApiError::not_found("user.not-found", "no such user"));
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
            Some(&p.ip.to_string()),
        )?;
        Ok(())
    })?;
    Ok(Json(Confirmed {
        two_factor_enabled: true,
        message: "two-factor login is on for you; sign in again with your code".to_string(),
    }))
}
