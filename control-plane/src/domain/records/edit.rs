//! Creating, changing and deleting records, in the caller's transaction: the checks, the
//! business unit, the NCSM acceptance rule, the secrets and the audit.
use super::secrets::{Owner, rebind_needed};
use super::{RecordDraft, RecordPatch, check, check_conflicts, no_record};
use crate::credentials::record_binding;
use crate::domain::editor::Editor;
use crate::domain::{DomainError, DomainResult, units};
use crate::store::{RecordRow, Tx, UnitOwner};
use sealscan_api::Code;
use sealscan_protocols::appliance::{SecretField, SecretFieldName, SecretValue};
use sealscan_protocols::envelope::Binding;
use serde_json::json;
use std::collections::BTreeSet;

fn secret_required(field: SecretFieldName, on_update: bool) -> DomainError {
    let name = field.as_str();
    DomainError::invalid(
        Code::RecordSecretRequired,
        if on_update {
            format!("this record needs its {name}: give it with this change")
        } else {
            format!("this record needs its {name}")
        },
    )
}

/// Each given secret with the binding it must carry for `row`.
fn bind<'s>(row: &RecordRow, secrets: &'s [SecretField]) -> Vec<(Binding, &'s SecretValue)> {
    secrets
        .iter()
        .map(|s| (record_binding(row, s.field), &s.value))
        .collect()
}

pub fn create(tx: &Tx<'_>, ed: &Editor<'_>, draft: RecordDraft) -> DomainResult<RecordRow> {
    let checked = check(draft, &ed.actor.username, ed.now)?;
    if let Some(required) = checked.missing_secret(&|_| false) {
        return Err(secret_required(required, false));
    }
    let model = ed.model(tx, false)?;
    check_conflicts(tx, &checked, None)?;
    let row = &checked.row;
    tx.insert_record(row)?;
    units::adopt(tx, ed.actor, UnitOwner::Record(&row.id))?;
    ed.accept(tx, model, &Owner::record(row), &bind(row, &checked.secrets))?;
    ed.audit(
        tx,
        "record.created",
        &format!("record:{}", row.id),
        &json!({"kind": row.kind, "title": row.title, "ips": row.ips, "model": model.as_str()}),
    )?;
    Ok(checked.row.clone())
}

/// Applies `patch` to record `id`. Secrets are replaced only when given (per field); those
/// the record no longer takes go, and stored envelopes the change would leave bound to old
/// values refuse it.
pub fn update(
    tx: &Tx<'_>,
    ed: &Editor<'_>,
    id: &str,
    patch: RecordPatch,
) -> DomainResult<RecordRow> {
    let old = tx.record(id)?.ok_or_else(|| no_record(id))?;
    let model = ed.changing(tx, UnitOwner::Record(&old.id), old.migration.as_deref())?;
    let mut checked = check(patch.apply(&old)?, &old.created_by, old.created_at)?;
    checked.row.migration = old.migration.clone();
    checked.row.migration_reason = old.migration_reason.clone();
    check_conflicts(tx, &checked, Some(&old.id))?;
    let row = &checked.row;
    let kind = row.kind.as_str();
    let given: BTreeSet<String> = checked
        .secrets
        .iter()
        .map(|s| s.field.as_str().to_string())
        .collect();
    let takes: BTreeSet<String> = checked
        .fields
        .iter()
        .map(|f| f.as_str().to_string())
        .collect();
    let stored: BTreeSet<String> = tx
        .envelopes_of(kind, &row.id)?
        .into_iter()
        .map(|(f, _)| f)
        .chain(
            tx.legacy_secrets_of(kind, &row.id)?
                .into_iter()
                .map(|(f, _)| f),
        )
        .collect();
    if let Some(required) = checked.missing_secret(&|f| stored.contains(f)) {
        return Err(secret_required(required, true));
    }
    let kept: BTreeSet<&String> = stored.intersection(&takes).collect();
    if let Some(why) = rebind_needed(tx, kind, &row.id, &given, |f| {
        SecretFieldName::from_name(f)
            .filter(|_| kept.contains(&f.to_string()))
            .map(|field| record_binding(row, field))
    })? {
        return Err(DomainError::conflict(
            Code::RecordSecretsRebindRequired,
            why,
        ));
    }
    tx.update_record(row)?;
    // Secrets the record no longer takes (another login type or Unix method) go.
    for field in stored.difference(&takes) {
        tx.delete_secret_field(kind, &row.id, field)?;
    }
    ed.accept(tx, model, &Owner::record(row), &bind(row, &checked.secrets))?;
    let row = tx.record(&row.id)?.ok_or_else(|| no_record(id))?;
    ed.audit(tx, "record.updated",
        &format!("record:{}", row.id),
        &json!({"title": row.title, "ips": row.ips, "secrets_replaced": given, "model": model.as_str()}),
    )?;
    Ok(row)
}

/// Deletes record `id` with every secret it holds.
pub fn delete(tx: &Tx<'_>, ed: &Editor<'_>, id: &str) -> DomainResult<()> {
    let r = tx.record(id)?.ok_or_else(|| no_record(id))?;
    ed.changing(tx, UnitOwner::Record(&r.id), r.migration.as_deref())?;
    tx.delete_record(&r.id, r.kind.as_str())?;
    tx.set_unit(UnitOwner::Record(&r.id), None)?;
    ed.audit(
        tx,
        "record.deleted",
        &format!("record:{}", r.id),
        &json!({"title": r.title}),
    )
}
