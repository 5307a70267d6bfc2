//! The New Credential Security Model: status with the count to migrate, Start and Resume
//! (Manager Primary Contact only, after the operator enabled it), and the approved
//! appliances' keys that clients seal new secrets to.
use super::Shared;
use super::auth::CurrentUser;
use super::error::{ApiError, ApiResult};
use crate::authz::{self, Action};
use crate::store::{NcsmState, Tx, VAULT_KIND};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use sealscan_api::ncsm::{
    NcsmStateName, NcsmStatus, PendingMigration, Recipient, Recipients, ToMigrate,
};
use serde_json::json;

fn status_of(tx: &Tx<'_>, state: &Shared) -> ApiResult<NcsmStatus> {
    let sub = tx.require_subscription()?;
    let ncsm = tx.ncsm()?;
    let owners = tx.legacy_owners()?;
    let vaults = owners.iter().filter(|o| o.kind == VAULT_KIND).count();
    let mut pending = Vec::new();
    for r in tx.records()? {
        if r.migration.as_deref() == Some("pending") {
            pending.push(PendingMigration {
                kind: r.kind,
                id: r.id,
                title: r.title,
                reason: r.migration_reason,
            });
        }
    }
    for v in tx.vaults()? {
        if v.migration.as_deref() == Some("pending") {
            pending.push(PendingMigration {
                kind: VAULT_KIND.to_string(),
                id: v.id,
                title: v.title,
                reason: v.migration_reason,
            });
        }
    }
    let migrated = tx.count_migrated()?;
    let to_migrate = owners.len() as i64;
    Ok(NcsmStatus {
        enabled: sub.features.ncsm,
        state: match ncsm.as_ref().map(|n| n.state) {
            None => NcsmStateName::Off,
            Some(NcsmState::Migrating) => NcsmStateName::Migrating,
            Some(NcsmState::Pending) => NcsmStateName::Pending,
            Some(NcsmState::Complete) => NcsmStateName::Complete,
        },
        in_force: ncsm
            .as_ref()
            .is_some_and(|n| n.state == NcsmState::Complete),
        activated_by: ncsm.as_ref().map(|n| n.activated_by.clone()),
        activated_at: ncsm.as_ref().map(|n| n.activated_at),
        completed_at: ncsm.as_ref().and_then(|n| n.completed_at),
        to_migrate: ToMigrate {
            records: to_migrate - vaults as i64,
            vaults,
            total: to_migrate,
        },
        migrated,
        total: migrated + to_migrate,
        pending,
        running: crate::ncsm::is_running(state),
        approved_appliances: tx.approved_appliances()?.len(),
    })
}

pub async fn status(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
) -> ApiResult<Json<NcsmStatus>> {
    authz::require(&p.actor(), Action::ViewRecords)?;
    Ok(Json(state.store.read(|tx| status_of(tx, &state))?))
}

/// The approved appliances' public keys: every new envelope is sealed to all of them.
pub async fn recipients(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
) -> ApiResult<Json<Recipients>> {
    authz::require(&p.actor(), Action::ViewRecords)?;
    let list = state.store.read(|tx| {
        Ok::<_, ApiError>(
            tx.approved_appliances()?
                .into_iter()
                .map(|a| Recipient {
                    appliance_id: a.id,
                    name: a.name,
                    public_key: base64::engine::general_purpose::STANDARD.encode(&a.public_key),
                    key_id: a.key_id,
                    fingerprint: a.fingerprint,
                })
                .collect::<Vec<_>>(),
        )
    })?;
    Ok(Json(Recipients { recipients: list }))
}

pub async fn start(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
) -> ApiResult<(StatusCode, Json<NcsmStatus>)> {
    let actor = p.actor();
    authz::require(&actor, Action::PrimaryContactOption)?;
    let now = state.now();
    state.store.write(|tx| {
        let sub = tx.require_subscription()?;
        if !sub.features.ncsm {
            return Err(ApiError::conflict(
                "ncsm.not-enabled",
                "the control plane's operator has not enabled NCSM for this subscription (sealscan-control ncsm enable)",
            ));
        }
        if tx.approved_appliances()?.is_empty() {
            return Err(ApiError::conflict(
                "ncsm.no-appliance",
                "approve at least one appliance first: secrets are sealed to the approved appliances' keys",
            ));
        }
        if let Some(n) = tx.ncsm()? {
            return Err(ApiError::conflict(
                "ncsm.already-active",
                format!(
                    "NCSM was activated by {}; its migration is {} (use Resume to continue it)",
                    n.activated_by,
                    n.state.as_str()
                ),
            ));
        }
        tx.activate_ncsm(&actor.username, now)?;
        let owners = tx.legacy_owners()?;
        for o in &owners {
            tx.set_migration(o, Some("pending"), Some("waiting for the migration"))?;
        }
        tx.audit(
            now,
            &actor.username,
            "ncsm.activated",
            "subscription",
            &json!({"to_migrate": owners.len()}),
            Some(&p.ip.to_string()),
        )?;
        Ok(())
    })?;
    crate::ncsm::spawn(state.clone());
    let body = state.store.read(|tx| status_of(tx, &state))?;
    Ok((StatusCode::ACCEPTED, Json(body)))
}

pub async fn resume(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
) -> ApiResult<(StatusCode, Json<NcsmStatus>)> {
    let actor = p.actor();
    authz::require(&actor, Action::PrimaryContactOption)?;
    let now = state.now();
    state.store.write(|tx| {
        let n = tx.ncsm()?.ok_or_else(|| {
            ApiError::conflict(
                "ncsm.not-active",
                "NCSM is not activated yet; Start it first",
            )
        })?;
        if n.state == NcsmState::Complete {
            return Err(ApiError::conflict(
                "ncsm.complete",
                "the migration is complete; there is nothing to resume",
            ));
        }
        tx.set_ncsm_state(NcsmState::Migrating, now)?;
        tx.audit(
            now,
            &actor.username,
            "ncsm.resumed",
            "subscription",
            &json!({}),
            Some(&p.ip.to_string()),
        )?;
        Ok(())
    })?;
    crate::ncsm::spawn(state.clone());
    let body = state.store.read(|tx| status_of(tx, &state))?;
    Ok((StatusCode::ACCEPTED, Json(body)))
}

/// Once NCSM is on, only Managers reset another user's password.
pub fn check_reset_by(state: &Shared, actor: &crate::authz::Actor) -> ApiResult<()> {
    if actor.role == crate::model::Role::Manager {
        return Ok(());
    }
    if state
        .store
        .read(|tx| Ok::<_, ApiError>(tx.ncsm()?.is_some()))?
    {
        return Err(ApiError::forbidden(
            "ncsm.reset-managers-only",
            "NCSM is on: only Managers (the Manager Primary Contact included) reset other users' passwords",
        ));
    }
    Ok(())
}

/// Once NCSM is on, self-service reset is off; the refusal names who can help.
/// The caller is not signed in: the answer names who can help by role only, never the
/// Primary Contact's name or email (that would hand them to anyone who asks).
pub fn check_self_service_reset(state: &Shared) -> ApiResult<()> {
    if state.store.read(|tx| tx.ncsm())?.is_none() {
        return Ok(());
    }
    Err(ApiError::forbidden(
        "ncsm.self-service-reset-off",
        "self-service password reset is off under the New Credential Security Model; ask a Manager (the Manager Primary Contact or another Manager) to reset your password",
    ))
}
