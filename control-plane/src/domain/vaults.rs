//! Secret Server vault records: what a vault record may hold, and how a change applies.
use super::editor::Editor;
use super::records::secrets::{Owner, rebind_needed};
use super::validate::{bad, new_id, record_text as text};
use crate::credentials::vault_binding;
use crate::domain::{DomainError, DomainResult, units};
use crate::store::{Tx, UnitOwner, VAULT_KIND, VaultRow};
use sealscan_api::Code;
use sealscan_api::records::{CreateVault, UpdateVault};
use sealscan_protocols::appliance::SecretValue;
use serde_json::json;
use std::collections::BTreeSet;

/// The stored vault `req` asks for, before the checks; `create` names it and its creator.
fn requested(req: CreateVault) -> (VaultRow, SecretValue) {
    let row = VaultRow {
        id: String::new(),
        title: req.title,
        url: req.url,
        username: req.user,
        domain: req.domain,
        organization: req.organization,
        verify_tls: req.verify_tls,
        ca_pem: req.ca_pem,
        api: req.api,
        comments: req.comments,
        migration: None,
        migration_reason: None,
        created_by: String::new(),
        created_at: 0,
    };
    (row, req.password)
}

/// `old` with the fields `patch` gives; an empty string clears an optional one.
fn patched(old: &VaultRow, patch: UpdateVault) -> (VaultRow, Option<SecretValue>) {
    let clearable = |given: Option<String>, old: &Option<String>| match given {
        Some(v) if v.is_empty() => None,
        Some(v) => Some(v),
        None => old.clone(),
    };
    let row = VaultRow {
        title: patch.title.unwrap_or_else(|| old.title.clone()),
        url: patch.url.unwrap_or_else(|| old.url.clone()),
        username: patch.user.unwrap_or_else(|| old.username.clone()),
        domain: clearable(patch.domain, &old.domain),
        organization: clearable(patch.organization, &old.organization),
        verify_tls: patch.verify_tls.unwrap_or(old.verify_tls),
        ca_pem: clearable(patch.ca_pem, &old.ca_pem),
        api: patch.api.unwrap_or_else(|| old.api.clone()),
        comments: patch.comments.unwrap_or_else(|| old.comments.clone()),
        ..old.clone()
    };
    (row, patch.password)
}

pub fn no_vault(id: &str) -> DomainError {
    DomainError::not_found(Code::VaultNotFound, format!("no vault record {id:?}"))
}

/// Checks a vault field by field and answers it trimmed, an empty domain or organization
/// as none.
pub fn check(req: VaultRow) -> DomainResult<VaultRow> {
    text("title", &req.title, 128)?;
    text("user", &req.username, 255)?;
    text("url", &req.url, 2000)?;
    let url = reqwest::Url::parse(req.url.trim()).map_err(|e| {
        bad(
            Code::VaultUrlInvalid,
            format!("the vault URL does not parse: {e}"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad(
            Code::VaultUrlInvalid,
            "the vault URL is http:// or https:// with a host",
        ));
    }
    if !["rest", "soap", "auto"].contains(&req.api.as_str()) {
        return Err(bad(Code::VaultApiInvalid, "api is rest, soap or auto"));
    }
    for (name, v) in [("domain", &req.domain), ("organization", &req.organization)] {
        if let Some(v) = v {
            text(name, v, 255)?;
        }
    }
    if let Some(pem) = &req.ca_pem {
        let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| {
                bad(
                    Code::VaultCaInvalid,
                    format!("the CA bundle is not PEM: {e}"),
                )
            })?;
        if certs.is_empty() {
            return Err(bad(
                Code::VaultCaInvalid,
                "the CA bundle holds no certificate",
            ));
        }
        if !req.verify_tls {
            return Err(bad(
                Code::VaultCaUnused,
                "a CA bundle is given but TLS verification is off",
            ));
        }
    }
    Ok(VaultRow {
        title: req.title.trim().to_string(),
        url: req.url.trim().to_string(),
        domain: req.domain.filter(|d| !d.is_empty()),
        organization: req.organization.filter(|o| !o.is_empty()),
        ..req
    })
}

/// A vault title names one vault; `except` is the vault being updated.
pub fn check_title(tx: &Tx<'_>, row: &VaultRow, except: Option<&str>) -> DomainResult<()> {
    if let Some(other) = tx.vault_by_title(&row.title)?
        && Some(other.id.as_str()) != except
    {
        return Err(DomainError::conflict(
            Code::VaultTitleTaken,
            format!("the title {:?} is taken by vault {}", row.title, other.id),
        ));
    }
    Ok(())
}

pub fn create(tx: &Tx<'_>, ed: &Editor<'_>, req: CreateVault) -> DomainResult<VaultRow> {
    let id = req.id.clone();
    let (asked, password) = requested(req);
    let mut row = check(asked)?;
    row.id = new_id(id, "v")?;
    row.created_by.clone_from(&ed.actor.username);
    row.created_at = ed.now;
    let model = ed.model(tx, false)?;
    check_title(tx, &row, None)?;
    if tx.vault(&row.id)?.is_some() {
        return Err(DomainError::conflict(
            Code::VaultIdTaken,
            format!("a vault with id {} exists", row.id),
        ));
    }
    tx.insert_vault(&row)?;
    units::adopt(tx, ed.actor, UnitOwner::Vault(&row.id))?;
    ed.accept(
        tx,
        model,
        &Owner::vault(&row),
        &[(vault_binding(&row), &password)],
    )?;
    ed.audit(
        tx,
        "vault.created",
        &format!("vault:{}", row.id),
        &json!({"title": row.title, "url": row.url}),
    )?;
    Ok(row)
}

/// Applies `patch` to vault `id`; its password is replaced only when given.
pub fn update(
    tx: &Tx<'_>,
    ed: &Editor<'_>,
    id: &str,
    patch: UpdateVault,
) -> DomainResult<VaultRow> {
    let old = tx.vault(id)?.ok_or_else(|| no_vault(id))?;
    let model = ed.changing(tx, UnitOwner::Vault(&old.id), old.migration.as_deref())?;
    let (asked, password) = patched(&old, patch);
    let row = check(asked)?;
    check_title(tx, &row, Some(&row.id))?;
    let binding = vault_binding(&row);
    let given: BTreeSet<String> = password
        .iter()
        .map(|_| binding.field.as_str().to_string())
        .collect();
    if let Some(why) = rebind_needed(tx, VAULT_KIND, &row.id, &given, |_| Some(binding.clone()))? {
        return Err(DomainError::conflict(Code::VaultSecretsRebindRequired, why));
    }
    tx.update_vault(&row)?;
    let owner = Owner::vault(&row);
    let bound: Vec<_> = password.iter().map(|pw| (binding.clone(), pw)).collect();
    ed.accept(tx, model, &owner, &bound)?;
    let row = tx.vault(&row.id)?.ok_or_else(|| no_vault(id))?;
    ed.audit(
        tx,
        "vault.updated",
        &format!("vault:{}", row.id),
        &json!({"title": row.title, "url": row.url, "password_replaced": !given.is_empty()}),
    )?;
    Ok(row)
}

/// Deletes vault `id` unless a record still logs in through it.
pub fn delete(tx: &Tx<'_>, ed: &Editor<'_>, id: &str) -> DomainResult<()> {
    let v = tx.vault(id)?.ok_or_else(|| no_vault(id))?;
    ed.changing(tx, UnitOwner::Vault(&v.id), v.migration.as_deref())?;
    let users = tx.records_using_vault(id)?;
    if !users.is_empty() {
        return Err(DomainError::conflict(
            Code::VaultInUse,
            format!(
                "the vault is used by the records {}; delete or change them first",
                users.join(", ")
            ),
        ));
    }
    tx.delete_vault(id)?;
    tx.set_unit(UnitOwner::Vault(id), None)?;
    ed.audit(
        tx,
        "vault.deleted",
        &format!("vault:{id}"),
        &json!({"title": v.title}),
    )
}
