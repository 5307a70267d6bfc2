//! The NCSM acceptance rule: which secret model a change is made under, what a secret must be
//! to be accepted under it (an envelope bound to this record and sealed to exactly the
//! approved appliances, or a legacy value), and how it is stored.
use crate::credentials::seal_legacy;
use crate::domain::{DomainError, DomainResult, Shared};
use crate::store::{NcsmState, RecordRow, SecretOwner, Tx, VAULT_KIND, VaultRow};
use sealscan_api::Code;
use sealscan_protocols::appliance::SecretValue;
use sealscan_protocols::envelope::{Binding, Envelope};
use std::collections::BTreeSet;

/// Where NCSM stands for a record change by this caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretModel {
    Legacy,
    Sealed,
}

impl SecretModel {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretModel::Legacy => "legacy",
            SecretModel::Sealed => "sealed",
        }
    }
}

/// `pending_target`: the change is to a record or vault the migration left pending. While the
/// migration is not complete no record or vault changes (the seed), but such a record may be
/// given its secrets again or deleted: the only ways out of a stuck migration.
/// A migration left `migrating` by a crash runs no more: it is treated as pending.
/// `session_created_at`: when the caller signed in; NCSM applies from the next sign-in.
pub fn model_for_change(
    tx: &Tx<'_>,
    state: &Shared,
    session_created_at: i64,
    pending_target: bool,
) -> DomainResult<SecretModel> {
    match tx.ncsm()? {
        None => Ok(SecretModel::Legacy),
        Some(n) if n.state != NcsmState::Complete && crate::ncsm::is_running(state) => {
            Err(DomainError::conflict(
                Code::NcsmMigrationRunning,
                "the NCSM migration is running: records and vaults cannot change until it completes; follow it with `sealscan ncsm status`",
            ))
        }
        Some(n) if n.state != NcsmState::Complete && !pending_target => Err(DomainError::conflict(
            Code::NcsmMigrationPending,
            "the NCSM migration is pending: records and vaults cannot change until it completes. The way out: give each record or vault marked pending migration its secrets again (sealscan records update ID) or delete it, then `sealscan ncsm resume`; sign in again once it is complete",
        )),
        Some(n) => {
            if n.state == NcsmState::Complete
                && n.completed_at.is_some_and(|done| session_created_at < done)
            {
                return Err(DomainError::forbidden(
                    Code::NcsmSignInAgain,
                    "the New Credential Security Model is now in force; you are activated for it at your next sign-in: sign out and in again before changing records",
                ));
            }
            Ok(SecretModel::Sealed)
        }
    }
}

pub fn is_pending(migration: Option<&str>) -> bool {
    migration == Some("pending")
}

/// Checks every secret against the model in force and, for envelopes, the binding and the
/// recipient set (every approved appliance, no other key).
pub fn check_secrets(
    tx: &Tx<'_>,
    model: SecretModel,
    secrets: &[(Binding, &SecretValue)],
) -> DomainResult<()> {
    let approved = tx.approved_appliances()?;
    let bad = DomainError::invalid;
    for (binding, value) in secrets {
        let field = binding.field.as_str();
        match (model, value) {
            (SecretModel::Legacy, SecretValue::Sealed { .. }) => {
                return Err(DomainError::conflict(
                    Code::NcsmNotActive,
                    format!(
                        "the {field} is an NCSM envelope but NCSM is not active; send it as a legacy secret (over TLS)"
                    ),
                ));
            }
            (SecretModel::Sealed, SecretValue::Legacy { .. }) => {
                return Err(DomainError::refused(
                    Code::NcsmPlaintextRefused,
                    format!(
                        "NCSM is active: the server refuses plaintext secrets; seal the {field} to the approved appliances (sealscan records create does this)"
                    ),
                ));
            }
            (SecretModel::Legacy, SecretValue::Legacy { value }) => {
                if value.expose().is_empty() {
                    return Err(bad(
                        Code::RecordSecretEmpty,
                        format!("the {field} is empty"),
                    ));
                }
            }
            (SecretModel::Sealed, SecretValue::Sealed { envelope }) => {
                let env = Envelope::from_text(envelope).map_err(|e| {
                    bad(
                        Code::NcsmEnvelopeInvalid,
                        format!("the {field} envelope does not parse: {e}"),
                    )
                })?;
                if let Some(diff) = env.binding().first_difference(binding) {
                    return Err(bad(
                        Code::NcsmBindingMismatch,
                        format!(
                            "the {field} envelope is bound to another {diff} than this record's"
                        ),
                    ));
                }
                let have: BTreeSet<String> = env.recipient_key_ids().map(hex::encode).collect();
                if let Some(missing) = approved.iter().find(|a| !have.contains(&a.key_id)) {
                    return Err(bad(
                        Code::NcsmRecipientMissing,
                        format!(
                            "the {field} envelope is not sealed to approved appliance {} ({}); fetch the current keys and seal again",
                            missing.name, missing.fingerprint
                        ),
                    ));
                }
                let known: BTreeSet<&str> = approved.iter().map(|a| a.key_id.as_str()).collect();
                if let Some(extra) = have.iter().find(|k| !known.contains(k.as_str())) {
                    return Err(bad(
                        Code::NcsmRecipientUnknown,
                        format!(
                            "the {field} envelope is sealed to key {extra}, which is no approved appliance's"
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Stores one accepted secret: a legacy value encrypted with the data key, an envelope as is.
pub fn store_secret(
    tx: &Tx<'_>,
    state: &Shared,
    binding: &Binding,
    value: &SecretValue,
    now: i64,
) -> DomainResult<()> {
    let field = binding.field.as_str();
    match value {
        SecretValue::Legacy { value } => {
            let blob = seal_legacy(
                &state.data_key,
                &binding.record_kind,
                &binding.record_id,
                field,
                value.expose(),
            );
            tx.put_legacy_secret(&binding.record_kind, &binding.record_id, field, &blob)?;
        }
        SecretValue::Sealed { envelope } => {
            tx.put_sealed_secret(
                &binding.record_kind,
                &binding.record_id,
                field,
                envelope,
                now,
            )?;
        }
    }
    Ok(())
}

/// Replaces each given secret of a record or vault.
pub fn replace_secrets(
    tx: &Tx<'_>,
    state: &Shared,
    bound: &[(Binding, &SecretValue)],
    now: i64,
) -> DomainResult<()> {
    for (binding, value) in bound {
        tx.delete_secret_field(
            &binding.record_kind,
            &binding.record_id,
            binding.field.as_str(),
        )?;
        store_secret(tx, state, binding, value, now)?;
    }
    Ok(())
}

/// Stored envelopes that a change of the user, domain or vault URL would leave bound to the
/// old values: the appliance could no longer open them, so they must be sealed again.
pub fn rebind_needed(
    tx: &Tx<'_>,
    kind: &str,
    id: &str,
    replaced: &BTreeSet<String>,
    binding_for: impl Fn(&str) -> Option<Binding>,
) -> DomainResult<Option<String>> {
    for (field, text) in tx.envelopes_of(kind, id)? {
        if replaced.contains(&field) {
            continue;
        }
        let (Ok(env), Some(b)) = (Envelope::from_text(&text), binding_for(&field)) else {
            continue;
        };
        if let Some(diff) = env.binding().first_difference(&b) {
            return Ok(Some(format!(
                "its sealed {field} is bound to the old {diff}: the appliances could not open it after this change; send the {field} again, sealed for the new values (sealscan records|vaults update seals it when asked for the secret)"
            )));
        }
    }
    Ok(None)
}

/// After secrets were given again under NCSM: an owner left pending by the migration
/// (`migration`) whose legacy ciphertext is now all replaced is migrated.
pub fn settle_migration(
    tx: &Tx<'_>,
    kind: &str,
    id: &str,
    migration: Option<&str>,
    replaced_any: bool,
) -> DomainResult<()> {
    if is_pending(migration) && replaced_any && tx.legacy_secrets_of(kind, id)?.is_empty() {
        tx.set_migration(
            &SecretOwner {
                kind: kind.to_string(),
                id: id.to_string(),
            },
            Some("migrated"),
            None,
        )?;
    }
    Ok(())
}

/// The owner whose secrets a change gives: kind and id as the binding names them, and its
/// migration state.
pub struct Owner<'a> {
    pub kind: &'a str,
    pub id: &'a str,
    pub migration: Option<&'a str>,
}

impl<'a> Owner<'a> {
    pub fn record(r: &'a RecordRow) -> Self {
        Owner {
            kind: r.kind.as_str(),
            id: &r.id,
            migration: r.migration.as_deref(),
        }
    }

    pub fn vault(v: &'a VaultRow) -> Self {
        Owner {
            kind: VAULT_KIND,
            id: &v.id,
            migration: v.migration.as_deref(),
        }
    }
}

/// Accepts the given secrets under `model` (see [`check_secrets`]), stores them in place of
/// the old ones, and settles a migration they complete.
pub fn accept(
    tx: &Tx<'_>,
    state: &Shared,
    model: SecretModel,
    owner: &Owner<'_>,
    bound: &[(Binding, &SecretValue)],
    now: i64,
) -> DomainResult<()> {
    check_secrets(tx, model, bound)?;
    replace_secrets(tx, state, bound, now)?;
    settle_migration(tx, owner.kind, owner.id, owner.migration, !bound.is_empty())
}
