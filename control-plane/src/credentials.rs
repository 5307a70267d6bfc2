//! What the records' secrets are bound to, and the legacy model's encryption at rest.
//!
//! Bindings come from the store's rows through `Binding::for_record` / `for_vault`, the
//! constructors the CLI seals with and the agent rebuilds with from a job, so an envelope
//! sealed by the CLI or by the migration opens on the appliance only for the record, field,
//! user and vault it was sealed for.
use crate::keyfile::DataKey;
use crate::store::{RecordRow, VaultRow};
use sealscan_protocols::appliance::WindowsDomainType;
use sealscan_protocols::appliance::{SecretFieldName, WireSecret};
use sealscan_protocols::envelope::Binding;

/// The domain a record's logins use, as the job carries it: the one the binding holds.
pub fn record_domain(record: &RecordRow) -> Option<String> {
    let b = record_binding(record, SecretFieldName::Password);
    (!b.domain.is_empty()).then_some(b.domain)
}

pub fn record_binding(record: &RecordRow, field: SecretFieldName) -> Binding {
    let w = record.windows.as_ref();
    Binding::for_record(
        record.kind.as_str(),
        &record.id,
        field,
        &record.username,
        w.and_then(|w| w.domain.as_deref()),
        w.is_some_and(|w| w.domain_type == WindowsDomainType::None),
    )
}

pub fn vault_binding(vault: &VaultRow) -> Binding {
    Binding::for_vault(
        &vault.id,
        &vault.username,
        vault.domain.as_deref(),
        &vault.url,
    )
}

fn legacy_context(kind: &str, id: &str, field: &str) -> Vec<u8> {
    // Binds each blob to its row, so blobs swapped between records or fields do not open.
    format!("legacy-secret\0{kind}\0{id}\0{field}").into_bytes()
}

pub fn seal_legacy(key: &DataKey, kind: &str, id: &str, field: &str, plain: &[u8]) -> Vec<u8> {
    key.seal(&legacy_context(kind, id, field), plain)
}

/// The plaintext of a legacy blob, or None when it does not open (wrong key, moved, damaged).
pub fn open_legacy(
    key: &DataKey,
    kind: &str,
    id: &str,
    field: &str,
    blob: &[u8],
) -> Option<WireSecret> {
    let plain = key.open(&legacy_context(kind, id, field), blob)?;
    Some(WireSecret::new(&plain))
}
