//! Appliances below the API: one-time enrollment tokens, the public enrollment an appliance
//! makes before it holds a credential, and the Managers' decisions (approve, reject, revoke),
//! each audited and announced to every Manager so a rogue approval is noticed.
use crate::domain::{DomainError, DomainResult, Shared, rewrap};
use crate::model::Role;
use crate::secrets::{ct_eq, new_token, token_hash};
use crate::store::{ApplianceRow, ApplianceState, NewAppliance, Tx};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use sealscan_api::Code;
use sealscan_protocols::appliance::{
    EnrollPollRequest, EnrollRequest, EnrollResponse, EnrollState,
};
use sealscan_protocols::identity;
use serde_json::json;

pub const ENROLL_TOKEN_PREFIX: &str = "enr_";
/// An appliance's bearer credential, minted when it collects it.
pub const APPLIANCE_TOKEN_PREFIX: &str = "apc_";
const POLL_SECRET_PREFIX: &str = "eps_";
const DEFAULT_TOKEN_HOURS: u32 = 24;
const MAX_TOKEN_HOURS: u32 = 24 * 30;
const MAX_NAME_LEN: usize = 64;

/// Who acts, and from where, for the audit and the announcements.
pub struct Manager<'a> {
    pub username: &'a str,
    pub ip: &'a str,
}

/// A new one-time enrollment token: answers the token (shown once), its label and expiry.
pub fn create_token(
    state: &Shared,
    by: &Manager<'_>,
    label: Option<String>,
    expires_in_hours: Option<u32>,
) -> DomainResult<(String, String, i64)> {
    let hours = expires_in_hours.unwrap_or(DEFAULT_TOKEN_HOURS);
    if hours == 0 || hours > MAX_TOKEN_HOURS {
        return Err(DomainError::refused(
            Code::EnrollTokenLifetime,
            format!("expires_in_hours must be between 1 and {MAX_TOKEN_HOURS}; got {hours}"),
        ));
    }
    let label = label.unwrap_or_default().trim().to_string();
    if label.chars().count() > MAX_NAME_LEN || label.chars().any(char::is_control) {
        return Err(DomainError::refused(
            Code::EnrollTokenLabel,
            format!("the label must be at most {MAX_NAME_LEN} printable characters"),
        ));
    }
    let token = new_token(ENROLL_TOKEN_PREFIX);
    let now = state.now();
    let expires_at = now + i64::from(hours) * 3600;
    state.store.write(|tx| {
        tx.insert_enrollment_token(&token_hash(&token), &label, by.username, now, expires_at)?;
        tx.audit(
            now,
            by.username,
            "appliance.token-created",
            &label,
            &json!({"expires_at": expires_at}),
            Some(by.ip),
        )?;
        Ok::<_, DomainError>(())
    })?;
    Ok((token.to_string(), label, expires_at))
}

/// Sets appliance `id` to `to` (from the states that allow it), releasing a revoked one's
/// jobs. Answers the appliance as stored and, for an approval, how many envelopes still need
/// rewrapping for it.
pub fn decide(
    state: &Shared,
    by: &Manager<'_>,
    id: &str,
    to: ApplianceState,
    reason: Option<String>,
) -> DomainResult<(ApplianceRow, usize)> {
    let reason = reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > 500 || r.chars().any(char::is_control))
    {
        return Err(DomainError::refused(
            Code::ApplianceReason,
            "the reason must be at most 500 printable characters",
        ));
    }
    let now = state.now();
    let (row, pending) = state.store.write(|tx| {
        let a = tx.appliance(id)?.ok_or_else(|| unknown(id))?;
        let allowed_from: &[ApplianceState] = match to {
            ApplianceState::Approved | ApplianceState::Rejected => &[ApplianceState::Pending],
            ApplianceState::Revoked => &[ApplianceState::Approved, ApplianceState::Pending],
            ApplianceState::Pending => &[],
        };
        if !allowed_from.contains(&a.state) {
            return Err(DomainError::conflict(
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
        tx.set_appliance_state(&a.id, to, by.username, reason.as_deref(), now)?;
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
            by.username,
            action,
            &a.id,
            &json!({"name": a.name, "fingerprint": a.fingerprint, "reason": reason}),
            Some(by.ip),
        )?;
        announce(
            tx,
            now,
            &format!("sealscan: appliance {} {}", a.name, to.as_str()),
            &format!(
                "{} set appliance {} ({}) to {}.\nKey fingerprint: {}\n{}\
                 If you did not expect this, compare the fingerprint with the appliance's own \
                 (`sealscan-agent fingerprint`) and revoke it if they differ.",
                by.username,
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
            rewrap::missing_for(tx, &row)?
        } else {
            0
        };
        Ok::<_, DomainError>((row, pending))
    })?;
    // The server log too: whoever reads only the log sees who trusted which key.
    log::info!(
        "appliance {} ({:?}) {} by {} from {}; key fingerprint {}",
        row.id,
        row.name,
        to.as_str(),
        by.username,
        by.ip,
        row.fingerprint
    );
    if to == ApplianceState::Approved {
        // A waiting claim from another appliance may now find work pinned to none.
        state.work.notify_waiters();
    }
    Ok((row, pending))
}

fn unknown(id: &str) -> DomainError {
    DomainError::not_found(
        Code::ApplianceUnknown,
        format!("no appliance has the id {id:?}"),
    )
}

/// Every Manager hears about enrollments and decisions, so a rogue approval is noticed.
fn announce(tx: &Tx<'_>, now: i64, subject: &str, body: &str) -> DomainResult<()> {
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

/// An appliance enrolls its public key with a one-time token from `ip`; it then waits for a
/// Manager's decision, polling with the secret this answers.
pub fn enroll(state: &Shared, ip: &str, req: &EnrollRequest) -> DomainResult<EnrollResponse> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN || name.chars().any(char::is_control)
    {
        return Err(DomainError::refused(
            Code::EnrollName,
            format!("the appliance name must be 1 to {MAX_NAME_LEN} printable characters"),
        ));
    }
    let key: [u8; 32] = STANDARD
        .decode(req.public_key.trim())
        .ok()
        .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
        .ok_or_else(|| {
            DomainError::refused(
                Code::EnrollPublicKey,
                "public_key must be a 32-byte X25519 public key in standard base64",
            )
        })?;
    if key.iter().all(|b| *b == 0) {
        return Err(DomainError::refused(
            Code::EnrollPublicKey,
            "public_key is the all-zero X25519 point, which no real key pair produces",
        ));
    }
    let fingerprint = identity::fingerprint(&key);
    let key_id = hex::encode(identity::key_id(&key));
    let id = random_id();
    let poll_secret = new_token(POLL_SECRET_PREFIX);
    let now = state.now();
    let token = token_hash(req.token.trim());
    state.store.write(|tx| {
        if let Some(other) = tx.appliance_by_public_key(&key)? {
            return Err(DomainError::conflict(
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
            enrolled_ip: Some(ip),
        })?;
        if !tx.use_enrollment_token(&token, &id, now)? {
            return Err(DomainError::unauthenticated(
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
            Some(ip),
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
        Ok::<_, DomainError>(())
    })?;
    Ok(EnrollResponse {
        appliance_id: id,
        fingerprint,
        poll_secret: poll_secret.to_string(),
    })
}

/// An enrolling appliance asks how its enrollment stands; an approved one collects its
/// credential, once.
pub fn enroll_poll(state: &Shared, req: &EnrollPollRequest) -> DomainResult<EnrollState> {
    let refused = || {
        DomainError::unauthenticated(
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
        Ok(match a.state {
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
        })
    })
}
