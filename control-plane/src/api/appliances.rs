//! Appliances as Managers see them: one-time enrollment tokens, the pending list with key
//! fingerprints, approve / reject / revoke (audited and announced to every Manager), and the
//! two public enrollment calls an appliance makes before it holds a credential.
use super::auth::{APPLIANCE_TOKEN_PREFIX, ClientIp, CurrentUser};
use super::error::{ApiError, ApiResult, Body};
use crate::authz::{self, Action};
use crate::domain::Shared;
use crate::model::Role;
use crate::secrets::{ct_eq, new_token, token_hash};
use crate::store::{ApplianceRow, ApplianceState, EnrollmentToken, NewAppliance, Tx};
use axum::Json;
use axum::extract::{Path, State};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use sealscan_api::Code;
pub use sealscan_api::appliances::{
    ApplianceView, Decided, DecisionRequest, TokenCreated, TokenRequest,
};
use sealscan_protocols::appliance::{
    EnrollPollRequest, EnrollRequest, EnrollResponse, EnrollState,
};
use sealscan_protocols::identity;
use serde_json::json;

pub const ENROLL_TOKEN_PREFIX: &str = "enr_";
const POLL_SECRET_PREFIX: &str = "eps_";
const DEFAULT_TOKEN_HOURS: u32 = 24;
const MAX_TOKEN_HOURS: u32 = 24 * 30;
const MAX_NAME_LEN: usize = 64;

pub fn view(a: &ApplianceRow) -> ApplianceView {
    ApplianceView {
        id: a.id.clone(),
        name: a.name.clone(),
        state: a.state,
        fingerprint: a.fingerprint.clone(),
        public_key: STANDARD.encode(&a.public_key),
        key_id: a.key_id.clone(),
        enrolled_at: a.enrolled_at,
        enrolled_ip: a.enrolled_ip.clone(),
        decided_at: a.decided_at,
        decided_by: a.decided_by.clone(),
        reason: a.reason.clone(),
        credential_collected: a.credential_collected,
        last_seen_at: a.last_seen_at,
    }
}

pub async fn create_token(
    State(state): State<Shared>,
    CurrentUser(p): CurrentUser,
    Body(req): Body<TokenRequest>,
) -> ApiResult<Json<TokenCreated>> {
    authz::require(&p.actor(), Action::ManageAppliances)?;
    let hours = req.expires_in_hours.unwrap_or(DEFAULT_TOKEN_HOURS);
    if hours == 0 || hours > MAX_TOKEN_HOURS {
        return Err(ApiError::unprocessable(
            Code::EnrollTokenLifetime,
            format!("expires_in_hours must be between 1 and {MAX_TOKEN_HOURS}; got {hours}"),
        ));
    }
    let label = req.label.unwrap_or_default().trim().to_string();
    if label.chars().count() > MAX_NAME_LEN || label.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            Code::EnrollTokenLabel,
            format!("the label must be at most {MAX_NAME_LEN} printable characters"),
        ));
    }
    let token = new_token(ENROLL_TOKEN_PREFIX);
    let now = state.now();
    let expires_at = now + i64::from(hours) * 3600;
    let ip = p.ip.to_string();
    state.store.write(|tx| {
        tx.insert_enrollment_token(
            &token_hash(&token),
            &label,
            &p.user.username,
            now,
            expires_at,
        )?;
        tx.audit(
            now,
            &p.user.username,
            "appliance.token-created",
            &label,
            &json!({"expires_at": expires_at}),
            Some(&ip),
        )?;
        Ok::<_, ApiError>(())
    })?;
    Ok(Json(TokenCreated {
        token: token.to_string(),
        label,
        expires_at,
    }))
}

pub async fn list_tokens(
    State(state): State<Shared>,
    CurrentUser(p): CurrentUser,
) -> ApiResult<Json<Vec<EnrollmentToken>>> {
    authz::require(&p.actor(), Action::ManageAppliances)?;
    Ok(Json(state.store.read(|tx| tx.list_enrollment_tokens())?))
}

pub async fn list(
    State(state): State<Shared>,
    CurrentUser(p): CurrentUser,
) -> ApiResult<Json<Vec<ApplianceView>>> {
    authz::require(&p.actor(), Action::ViewAppliances)?;
    let all = state.store.read(|tx| tx.list_appliances())?;
    Ok(Json(all.iter().map(view).collect()))
}

pub async fn approve(
    State(state): State<Shared>,
    CurrentUser(p): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Decided>> {
    decide(&state, &p, &id, ApplianceState::Approved, None).await
}

pub async fn reject(
    State(state): State<Shared>,
    CurrentUser(p): CurrentUser,
    Path(id): Path<String>,
    Body(req): Body<DecisionRequest>,
) -> ApiResult<Json<Decided>> {
    decide(&state, &p, &id, ApplianceState::Rejected, req.reason).await
}

pub async fn revoke(
    State(state): State<Shared>,
    CurrentUser(p): CurrentUser,
    Path(id): Path<String>,
    Body(req): Body<DecisionRequest>,
) -> ApiResult<Json<Decided>> {
    decide(&state, &p, &id, ApplianceState::Revoked, req.reason).await
}

async fn decide(
    state: &Shared,
    p: &super::auth::UserPrincipal,
    id: &str,
    to: ApplianceState,
    reason: Option<String>,
) -> ApiResult<Json<Decided>> {
    authz::require(&p.actor(), Action::ManageAppliances)?;
    let reason = reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > 500 || r.chars().any(char::is_control))
    {
        return Err(ApiError::unprocessable(
            Code::ApplianceReason,
            "the reason must be at most 500 printable characters",
        ));
    }
    let now = state.now();
    let ip = p.ip.to_string();
    let (row, pending) = state.store.write(|tx| {
        let a = tx.appliance(id)?.ok_or_else(|| unknown(id))?;
        let allowed_from: &[ApplianceState] = match to {
            ApplianceState::Approved | ApplianceState::Rejected => &[ApplianceState::Pending],
            ApplianceState::Revoked => &[ApplianceState::Approved, ApplianceState::Pending],
            ApplianceState::Pending => &[],
        };
        if !allowed_from.contains(&a.state) {
            return Err(ApiError::conflict(
                Code::ApplianceState,
                format!(
                    "appliance {} is {}; only a {} appliance can be {}",
                    a.id,
                    a.state.as_str(),
                    allowed_from
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" or "),
                    to.as_str()
                ),
            ));
        }
        tx.set_appliance_state(&a.id, to, &p.user.username, reason.as_deref(), now)?;
        if to == ApplianceState::Revoked {
            tx.release_jobs_of(&a.id)?;
        }
        let action = match to {
            ApplianceState::Approved => "appliance.approved",
            ApplianceState::Rejected => "appliance.rejected",
            _ => "appliance.revoked",
        };
        tx.audit(
            now,
            &p.user.username,
            action,
            &a.id,
            &json!({"name": a.name, "fingerprint": a.fingerprint, "reason": reason}),
            Some(&ip),
        )?;
        announce(
            tx,
            now,
            &format!("sealscan: appliance {} {}", a.name, to.as_str()),
            &format!(
                "{} set appliance {} ({}) to {}.\nKey fingerprint: {}\n{}\
                 If you did not expect this, compare the fingerprint with the appliance's own \
                 (`sealscan-agent fingerprint`) and revoke it if they differ.",
                p.user.username,
                a.name,
                a.id,
                to.as_str(),
                a.fingerprint,
                reason
                    .as_ref()
                    .map(|r| format!("Reason: {r}\n"))
                    .unwrap_or_default()
            ),
        )?;
        let row = tx.appliance(&a.id)?.ok_or_else(|| unknown(id))?;
        let pending = if to == ApplianceState::Approved {
            super::rewrap::missing_for(tx, &row)?
        } else {
            0
        };
        Ok::<_, ApiError>((row, pending))
    })?;
    // The server log too: whoever reads only the log sees who trusted which key.
    log::info!(
        "appliance {} ({:?}) {} by {} from {}; key fingerprint {}",
        row.id,
        row.name,
        to.as_str(),
        p.user.username,
        ip,
        row.fingerprint
    );
    if to == ApplianceState::Approved {
        // A waiting claim from another appliance may now find work pinned to none.
        state.work.notify_waiters();
    }
    Ok(Json(Decided {
        appliance: view(&row),
        rewrap_pending: pending,
    }))
}

fn unknown(id: &str) -> ApiError {
    ApiError::not_found(
        Code::ApplianceUnknown,
        format!("no appliance has the id {id:?}"),
    )
}

/// Every Manager hears about enrollments and decisions, so a rogue approval is noticed.
fn announce(tx: &Tx<'_>, now: i64, subject: &str, body: &str) -> Result<(), ApiError> {
    for m in tx.list_users()? {
        if m.role == Role::Manager && !m.locked {
            tx.queue_email(now, &m.email, subject, body, "appliance", Some(m.id))?;
        }
    }
    Ok(())
}

fn random_id() -> String {
    let mut raw = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    format!("app_{}", hex::encode(raw))
}

pub async fn enroll(
    State(state): State<Shared>,
    ClientIp(ip): ClientIp,
    Body(req): Body<EnrollRequest>,
) -> ApiResult<Json<EnrollResponse>> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN || name.chars().any(char::is_control)
    {
        return Err(ApiError::unprocessable(
            Code::EnrollName,
            format!("the appliance name must be 1 to {MAX_NAME_LEN} printable characters"),
        ));
    }
    let key: [u8; 32] = STANDARD
        .decode(req.public_key.trim())
        .ok()
        .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
        .ok_or_else(|| {
            ApiError::unprocessable(
                Code::EnrollPublicKey,
                "public_key must be a 32-byte X25519 public key in standard base64",
            )
        })?;
    if key.iter().all(|b| *b == 0) {
        return Err(ApiError::unprocessable(
            Code::EnrollPublicKey,
            "public_key is the all-zero X25519 point, which no real key pair produces",
        ));
    }
    let fingerprint = identity::fingerprint(&key);
    let key_id = hex::encode(identity::key_id(&key));
    let id = random_id();
    let poll_secret = new_token(POLL_SECRET_PREFIX);
    let now = state.now();
    let ip = ip.to_string();
    let token = token_hash(req.token.trim());
    state.store.write(|tx| {
        if let Some(other) = tx.appliance_by_public_key(&key)? {
            return Err(ApiError::conflict(
                Code::EnrollKeyInUse,
                format!(
                    "this public key is already enrolled as appliance {} ({}); generate a new key or use that enrollment",
                    other.id,
                    other.state.as_str()
                ),
            ));
        }
        tx.insert_appliance(&NewAppliance {
            id: &id,
            name,
            public_key: &key,
            key_id: &key_id,
            fingerprint: &fingerprint,
            poll_secret_hash: &token_hash(&poll_secret),
            enrolled_at: now,
            enrolled_ip: Some(&ip),
        })?;
        if !tx.use_enrollment_token(&token, &id, now)? {
            return Err(ApiError::unauthorized(
                Code::EnrollTokenInvalid,
                "the enrollment token is unknown, already used or expired; ask a Manager for a new one",
            ));
        }
        tx.audit(
            now,
            &format!("appliance:{id}"),
            "appliance.enrolled",
            &id,
            &json!({"name": name, "fingerprint": fingerprint}),
            Some(&ip),
        )?;
        announce(
            tx,
            now,
            &format!("sealscan: appliance {name} awaits approval"),
            &format!(
                "Appliance {name} ({id}) enrolled from {ip} and awaits approval.\n\
                 Key fingerprint: {fingerprint}\n\
                 Approve it only if the appliance shows the same fingerprint."
            ),
        )?;
        Ok::<_, ApiError>(())
    })?;
    Ok(Json(EnrollResponse {
        appliance_id: id,
        fingerprint,
        poll_secret: poll_secret.to_string(),
    }))
}

pub async fn enroll_poll(
    State(state): State<Shared>,
    Body(req): Body<EnrollPollRequest>,
) -> ApiResult<Json<EnrollState>> {
    let refused = || {
        ApiError::unauthorized(
            Code::EnrollPollRefused,
            "no pending enrollment matches this appliance id and poll secret",
        )
    };
    let offered = token_hash(req.poll_secret.trim());
    state.store.write(|tx| {
        let a = tx.appliance(req.appliance_id.trim())?.ok_or_else(refused)?;
        if !ct_eq(a.poll_secret_hash.as_bytes(), offered.as_bytes()) {
            return Err(refused());
        }
        Ok(Json(match a.state {
            ApplianceState::Pending => EnrollState::Pending,
            ApplianceState::Rejected => EnrollState::Rejected {
                reason: a.reason.unwrap_or_else(|| "rejected by a Manager".into()),
            },
            ApplianceState::Revoked => EnrollState::Revoked,
            ApplianceState::Approved if a.credential_collected => EnrollState::AlreadyCollected,
            ApplianceState::Approved => {
                // Minted on collection so the plaintext never rests in the database.
                let credential = new_token(APPLIANCE_TOKEN_PREFIX);
                tx.set_appliance_credential(&a.id, &token_hash(&credential))?;
                EnrollState::Approved {
                    credential: credential.to_string(),
                }
            }
        }))
    })
}
