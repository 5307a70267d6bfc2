//! What the records' secrets are bound to, and the legacy model's encryption at rest.
//!
//! Bindings are built here exactly as the agent rebuilds them from a job
//! (`agent::resolve::record_binding` / `vault_binding`), so an envelope sealed by the CLI or
//! by the migration opens on the appliance only for the record, field, user and vault it was
//! sealed for.
use crate::keyfile::DataKey;
use crate::store::{RecordRow, VAULT_KIND, VaultRow};
use sealscan_protocols::appliance::{BindingFields, SecretFieldName, WireSecret};
use sealscan_protocols::envelope::Binding;

/// The domain a record's logins use, as the job carries it.
pub fn record_domain(record: &RecordRow) -> Option<String> {
    let w = record.windows.as_ref()?;
    if w.domain_type == "none" {
        return None;
    }
    w.domain.clone().filter(|d| !d.is_empty())
}

pub fn record_binding(record: &RecordRow, field: SecretFieldName) -> BindingFields {
    BindingFields {
        record_kind: record.kind.clone(),
        record_id: record.id.clone(),
        field,
        user: record.username.clone(),
        domain: record_domain(record),
        vault_url: None,
        secret_name: None,
    }
}

pub fn vault_binding(vault: &VaultRow) -> BindingFields {
    BindingFields {
        record_kind: VAULT_KIND.to_string(),
        record_id: vault.id.clone(),
        field: SecretFieldName::VaultPassword,
        user: vault.username.clone(),
        domain: vault.domain.clone(),
        vault_url: Some(vault.url.clone()),
        secret_name: None,
    }
}

/// The envelope codec's view of binding fields (empty strings for what does not apply).
pub fn envelope_binding(fields: &BindingFields) -> Binding {
    Binding {
        record_kind: fields.record_kind.clone(),
        record_id: fields.record_id.clone(),
        field: fields.field.as_str().to_string(),
        user: fields.user.clone(),
        domain: fields.domain.clone().unwrap_or_default(),
        vault_url: fields.vault_url.clone().unwrap_or_default(),
        secret_name: fields.secret_name.clone().unwrap_or_default(),
    }
}

pub fn field_from_str(name: &str) -> Option<SecretFieldName> {
    Some(match name {
        "password" => SecretFieldName::Password,
        "private_key" => SecretFieldName::PrivateKey,
        "passphrase" => SecretFieldName::Passphrase,
        "vault_password" => SecretFieldName::VaultPassword,
        _ => return None,
    })
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
