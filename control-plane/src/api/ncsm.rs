//! The New Credential Security Model: status with the count to migrate, Start and Resume
//! (Manager Primary Contact only, after the operator enabled it), and the approved
//! appliances' keys that clients seal new secrets to.
use super::auth::CurrentUser;
use super::error::{ApiError, ApiResult};
use crate::authz::{self, Action};
use crate::domain::Shared;
use crate::store::{NcsmState, Tx, VAULT_KIND};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use sealscan_api::ncsm::{
    NcsmStateName, NcsmStatus, PendingMigration, Recipient, Recipients, ToMigrate,
};

fn status_of(tx: &Tx<'_>, state: &Shared) -> ApiResult<NcsmStatus> {
    let sub = tx.require_subscription()?;
    let ncsm = tx.ncsm()?;
    let owners = tx.legacy_owners()?;
    let vaults = owners.iter().filter(|o| o.kind == VAULT_KIND).count();
    let mut pending = Vec::new();
    for r in tx.records()? {
        if r.migration.as_deref() == Some("pending") {
            pending.push(PendingMigration {
                kind: r.kind.as_str().to_string(),
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

/// Answers the status once the migration was started or resumed.
fn launched(state: &Shared) -> ApiResult<(StatusCode, Json<NcsmStatus>)> {
    let body = state.store.read(|tx| status_of(tx, state))?;
    Ok((StatusCode::ACCEPTED, Json(body)))
}

pub async fn start(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
) -> ApiResult<(StatusCode, Json<NcsmStatus>)> {
    authz::require(&p.actor(), Action::PrimaryContactOption)?;
    crate::ncsm::start(&state, &p.user.username, &p.ip.to_string())?;
    launched(&state)
}

pub async fn resume(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
) -> ApiResult<(StatusCode, Json<NcsmStatus>)> {
    authz::require(&p.actor(), Action::PrimaryContactOption)?;
    crate::ncsm::resume(&state, &p.user.username, &p.ip.to_string())?;
    launched(&state)
}
