//! The one-time move of every legacy secret into NCSM envelopes.
//!
//! Each record (or vault) moves in one SQLite transaction: open its legacy ciphertext with the
//! data key, seal each secret to every approved appliance, store the envelopes, delete the
//! ciphertext, mark it migrated and audit it. A crash at any point therefore leaves each record
//! either untouched or fully migrated, and a migrated record holds no legacy ciphertext, so
//! Resume picks up exactly the records still to do and none twice.
use crate::credentials::{open_legacy, record_binding, vault_binding};
use crate::domain::{DomainError, DomainResult, Shared};
use crate::store::{NcsmState, SecretOwner, Singleton, StoreError, Tx, VAULT_KIND};
use sealscan_api::Code;
use sealscan_protocols::appliance::SecretFieldName;
use sealscan_protocols::envelope;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

/// Test-only: milliseconds to pause in the middle of each record's transaction, so a test can
/// kill the server while a migration is in flight.
pub const SLOW_ENV: &str = "SEALSCAN_TEST_MIGRATION_DELAY_MS";

static RUNNING: Mutex<Option<HashSet<usize>>> = Mutex::new(None);

enum Outcome {
    Migrated,
    AlreadyDone,
    Pending,
}

fn slow_down() {
    if let Some(ms) = std::env::var(SLOW_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(Duration::from_millis(ms));
    }
}

/// Starts the migration in the background unless one already runs for this server.
pub fn spawn(state: Shared) {
    let key = std::sync::Arc::as_ptr(&state) as usize;
    {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        if !running.get_or_insert_with(HashSet::new).insert(key) {
            return;
        }
    }
    tokio::task::spawn_blocking(move || {
        if let Err(e) = run(&state) {
            log::error!("NCSM migration stopped: {e}; Resume continues it");
        }
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(set) = running.as_mut() {
            set.remove(&key);
        }
    });
}

pub fn is_running(state: &Shared) -> bool {
    let key = std::sync::Arc::as_ptr(state) as usize;
    RUNNING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .is_some_and(|s| s.contains(&key))
}

fn run(state: &Shared) -> Result<(), StoreError> {
    // One replica at a time: another replica on the same PostgreSQL may be running it. Its
    // lock ends with its connection (a SIGKILL included), and Resume here then continues.
    // Each record moves in its own transaction and a moved record has no legacy ciphertext
    // left, so even two runners would move each record once; the lock saves the wasted work
    // and the second "finished" audit entry.
    let Some(_held) = state.store.try_singleton(Singleton::NcsmMigration)? else {
        log::info!("the NCSM migration is running on another replica; it continues there");
        return Ok(());
    };
    let owners = state.store.read(|tx| tx.legacy_owners())?;
    for owner in owners {
        let outcome = state
            .store
            .write(|tx| migrate_one(tx, state, &owner, state.now()))?;
        if matches!(outcome, Outcome::Migrated) {
            // Between records too, so a kill also lands between transactions.
            slow_down();
        }
    }
    state.store.write(|tx| {
        let left = tx.legacy_owners()?.len();
        let next = if left == 0 {
            NcsmState::Complete
        } else {
            NcsmState::Pending
        };
        tx.set_ncsm_state(next, state.now())?;
        tx.audit(
            state.now(),
            "control-plane",
            "ncsm.migration-finished",
            "subscription",
            &json!({"state": next.as_str(), "pending": left}),
            None,
        )?;
        Ok(())
    })
}

fn pending(tx: &Tx<'_>, owner: &SecretOwner, reason: &str) -> Result<Outcome, StoreError> {
    tx.set_migration(owner, Some("pending"), Some(reason))?;
    Ok(Outcome::Pending)
}

fn migrate_one(
    tx: &Tx<'_>,
    state: &Shared,
    owner: &SecretOwner,
    now: i64,
) -> Result<Outcome, StoreError> {
    let legacy = tx.legacy_secrets_of(&owner.kind, &owner.id)?;
    if legacy.is_empty() {
        return Ok(Outcome::AlreadyDone);
    }
    let recipients: Vec<[u8; 32]> = tx
        .approved_appliances()?
        .into_iter()
        .filter_map(|a| <[u8; 32]>::try_from(a.public_key.as_slice()).ok())
        .collect();
    if recipients.is_empty() {
        return pending(
            tx,
            owner,
            "no approved appliance to seal to; approve one, then Resume",
        );
    }
    let (title, bindings) = if owner.kind == VAULT_KIND {
        let Some(v) = tx.vault(&owner.id)? else {
            tx.delete_legacy_secrets(&owner.kind, &owner.id)?;
            return Ok(Outcome::AlreadyDone);
        };
        (v.title.clone(), vec![vault_binding(&v)])
    } else {
        let Some(r) = tx.record(&owner.id)? else {
            tx.delete_legacy_secrets(&owner.kind, &owner.id)?;
            return Ok(Outcome::AlreadyDone);
        };
        let mut b = Vec::new();
        for (field, _) in &legacy {
            if let Some(f) = SecretFieldName::from_name(field) {
                b.push(record_binding(&r, f));
            }
        }
        (r.title.clone(), b)
    };
    for (field, blob) in &legacy {
        let Some(binding) = bindings.iter().find(|b| b.field.as_str() == field) else {
            return pending(
                tx,
                owner,
                &format!("its legacy field {field:?} is not a secret this record takes"),
            );
        };
        let Some(plain) = open_legacy(&state.data_key, &owner.kind, &owner.id, field, blob) else {
            return pending(
                tx,
                owner,
                &format!(
                    "its legacy {field} does not open with this control plane's data key; give the secret again (sealscan records update ID --password, or vaults update ID --password)"
                ),
            );
        };
        let sealed = match envelope::seal(plain.expose(), binding, &recipients) {
            Ok(e) => e,
            Err(e) => return pending(tx, owner, &format!("sealing its {field} failed: {e}")),
        };
        drop(plain);
        tx.put_sealed_secret(&owner.kind, &owner.id, field, &sealed.to_text(), now)?;
    }
    slow_down();
    tx.delete_legacy_secrets(&owner.kind, &owner.id)?;
    tx.set_migration(owner, Some("migrated"), None)?;
    tx.audit(
        now,
        "control-plane",
        "ncsm.record-migrated",
        &format!("{}:{}", owner.kind, owner.id),
        &json!({"title": title, "fields": legacy.iter().map(|(f, _)| f).collect::<Vec<_>>(), "recipients": recipients.len()}),
        None,
    )?;
    Ok(Outcome::Migrated)
}

/// In one transaction: `prepare` checks and sets the NCSM state, answering the audit
/// details of `event`; then the migration runs in the background.
fn launch(
    state: &Shared,
    actor: &str,
    ip: &str,
    event: &str,
    prepare: impl FnOnce(&Tx<'_>, i64) -> DomainResult<serde_json::Value>,
) -> DomainResult<()> {
    let now = state.now();
    state.store.write(|tx| {
        let details = prepare(tx, now)?;
        tx.audit(now, actor, event, "subscription", &details, Some(ip))?;
        Ok::<_, DomainError>(())
    })?;
    spawn(state.clone());
    Ok(())
}

/// Activates NCSM (the Primary Contact's decision, once the operator enabled it and an
/// appliance is approved) and starts moving every legacy secret.
pub fn start(state: &Shared, actor: &str, ip: &str) -> DomainResult<()> {
    launch(state, actor, ip, "ncsm.activated", |tx, now| {
        let sub = tx.require_subscription()?;
        if !sub.features.ncsm {
            return Err(DomainError::conflict(
                Code::NcsmNotEnabled,
                "the control plane's operator has not enabled NCSM for this subscription (sealscan-control ncsm enable)",
            ));
        }
        if tx.approved_appliances()?.is_empty() {
            return Err(DomainError::conflict(
                Code::NcsmNoAppliance,
                "approve at least one appliance first: secrets are sealed to the approved appliances' keys",
            ));
        }
        if let Some(n) = tx.ncsm()? {
            return Err(DomainError::conflict(
                Code::NcsmAlreadyActive,
                format!(
                    "NCSM was activated by {}; its migration is {} (use Resume to continue it)",
                    n.activated_by,
                    n.state.as_str()
                ),
            ));
        }
        tx.activate_ncsm(actor, now)?;
        let owners = tx.legacy_owners()?;
        for o in &owners {
            tx.set_migration(o, Some("pending"), Some("waiting for the migration"))?;
        }
        Ok(json!({"to_migrate": owners.len()}))
    })
}

/// Continues a migration that stopped (a crash, or records left pending).
pub fn resume(state: &Shared, actor: &str, ip: &str) -> DomainResult<()> {
    launch(state, actor, ip, "ncsm.resumed", |tx, now| {
        let n = tx.ncsm()?.ok_or_else(|| {
            DomainError::conflict(
                Code::NcsmNotActive,
                "NCSM is not activated yet; Start it first",
            )
        })?;
        if n.state == NcsmState::Complete {
            return Err(DomainError::conflict(
                Code::NcsmComplete,
                "the migration is complete; there is nothing to resume",
            ));
        }
        tx.set_ncsm_state(NcsmState::Migrating, now)?;
        Ok(json!({}))
    })
}

/// Once NCSM is on, only Managers reset another user's password.
pub fn check_reset_by(state: &Shared, actor: &crate::authz::Actor) -> DomainResult<()> {
    if actor.role == crate::model::Role::Manager {
        return Ok(());
    }
    if state
        .store
        .read(|tx| Ok::<_, DomainError>(tx.ncsm()?.is_some()))?
    {
        return Err(DomainError::forbidden(
            Code::NcsmResetManagersOnly,
            "NCSM is on: only Managers (the Manager Primary Contact included) reset other users' passwords",
        ));
    }
    Ok(())
}

/// Once NCSM is on, self-service reset is off; the refusal names who can help.
/// The caller is not signed in: the answer names who can help by role only, never the
/// Primary Contact's name or email (that would hand them to anyone who asks).
pub fn check_self_service_reset(state: &Shared) -> DomainResult<()> {
    if state.store.read(|tx| tx.ncsm())?.is_none() {
        return Ok(());
    }
    Err(DomainError::forbidden(
        Code::NcsmSelfServiceResetOff,
        "self-service password reset is off under the New Credential Security Model; ask a Manager (the Manager Primary Contact or another Manager) to reset your password",
    ))
}
