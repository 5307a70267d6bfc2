//! Rewrap work: an approved appliance fetches the envelopes addressed to it that a newer
//! approved appliance cannot open yet, adds a recipient entry for that appliance, and sends them
//! back. The control plane never sees a content key; it stores a returned envelope only when it
//! parses, keeps the same binding and payload ciphertext, and keeps every old recipient.
use crate::domain::{DomainError, DomainResult, Shared};
use crate::store::{ApplianceRow, ApplianceState, SealedSecret, Tx};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sealscan_api::Code;
use sealscan_api::appliances::RewrapStored;
use sealscan_protocols::appliance::{RewrapItem, RewrapSubmit, RewrapWork};
use sealscan_protocols::envelope::{Binding, Envelope, same_payload};
use serde_json::json;
use std::collections::BTreeSet;

/// Items per answer; the appliance comes back for the rest.
const MAX_ITEMS: usize = 256;

fn key_ids(env: &Envelope) -> BTreeSet<String> {
    env.recipient_key_ids().map(hex::encode).collect()
}

/// Stored envelopes `target` is not yet a recipient of.
fn lacking(tx: &Tx<'_>, target: &ApplianceRow) -> DomainResult<Vec<(SealedSecret, Envelope)>> {
    let mut out = Vec::new();
    for s in tx.sealed_secrets()? {
        match Envelope::from_text(&s.envelope) {
            Ok(env) if !key_ids(&env).contains(&target.key_id) => out.push((s, env)),
            Ok(_) => {}
            Err(e) => log::error!("stored envelope {} does not parse: {e}", s.id),
        }
    }
    Ok(out)
}

/// How many stored envelopes a newly approved appliance still needs.
pub fn missing_for(tx: &Tx<'_>, target: &ApplianceRow) -> DomainResult<usize> {
    Ok(lacking(tx, target)?.len())
}

/// The envelope's own binding, for an envelope of a known secret field (the wire's binding
/// names one).
fn stated_binding(env: &Envelope) -> Option<Binding> {
    let b = env.binding();
    b.field_name().map(|_| b.clone())
}

/// Work for the oldest approved appliance that lacks entries `me` can provide: the envelopes
/// `me` can open, up to [`MAX_ITEMS`]; None when there is none.
pub fn work_for(state: &Shared, me: &ApplianceRow) -> DomainResult<Option<RewrapWork>> {
    state.store.read(|tx| {
        for other in tx.approved_appliances()? {
            if other.id == me.id {
                continue;
            }
            let items: Vec<RewrapItem> = lacking(tx, &other)?
                .into_iter()
                .filter(|(_, env)| key_ids(env).contains(&me.key_id))
                .filter_map(|(s, env)| {
                    Some(RewrapItem {
                        item_id: s.id.to_string(),
                        binding: stated_binding(&env)?,
                        envelope: s.envelope,
                    })
                })
                .take(MAX_ITEMS)
                .collect();
            if !items.is_empty() {
                return Ok(Some(RewrapWork {
                    new_appliance_id: other.id.clone(),
                    new_public_key: STANDARD.encode(&other.public_key),
                    items,
                }));
            }
        }
        Ok(None)
    })
}

/// Stores `me`'s rewrapped envelopes. All items are checked first; one bad item refuses the
/// whole submission, naming it, and nothing is stored.
pub fn submit(state: &Shared, me: &ApplianceRow, req: &RewrapSubmit) -> DomainResult<RewrapStored> {
    if req.items.is_empty() {
        return Err(DomainError::refused(
            Code::RewrapEmpty,
            "the submission holds no items",
        ));
    }
    let now = state.now();
    let out = state.store.write(|tx| {
        let target = tx
            .appliance(&req.new_appliance_id)?
            .filter(|a| a.state == ApplianceState::Approved)
            .ok_or_else(|| {
                DomainError::refused(
                    Code::RewrapUnknownAppliance,
                    format!(
                        "{:?} is not an approved appliance; fetch fresh work",
                        req.new_appliance_id
                    ),
                )
            })?;
        let mut seen = BTreeSet::new();
        for item in &req.items {
            let refuse = |rule: Code, why: String| {
                DomainError::refused(rule, format!("item {}: {why}", item.item_id))
            };
            if !seen.insert(item.item_id.clone()) {
                return Err(refuse(Code::RewrapDuplicateItem, "sent twice".into()));
            }
            let stored = item
                .item_id
                .parse::<i64>()
                .ok()
                .map(|id| tx.sealed_secret(id))
                .transpose()?
                .flatten()
                .ok_or_else(|| refuse(Code::RewrapUnknownItem, "no such sealed secret".into()))?;
            let old = Envelope::from_text(&stored.envelope).map_err(|e| {
                refuse(Code::RewrapStoredInvalid, format!("the stored envelope does not parse: {e}"))
            })?;
            let new = Envelope::from_text(&item.envelope).map_err(|e| {
                refuse(Code::RewrapEnvelopeInvalid, format!("the envelope does not parse: {e}"))
            })?;
            if !same_payload(&old, &new) {
                return Err(refuse(
                    Code::RewrapPayloadChanged,
                    "the binding or the payload ciphertext differs from the stored envelope; only recipient entries may be added".into(),
                ));
            }
            let (old_ids, new_ids) = (key_ids(&old), key_ids(&new));
            if !old_ids.is_subset(&new_ids) {
                return Err(refuse(
                    Code::RewrapRecipientDropped,
                    "a recipient of the stored envelope is missing (or the envelope changed since the work was fetched)".into(),
                ));
            }
            if !new_ids.contains(&target.key_id) {
                return Err(refuse(
                    Code::RewrapRecipientMissing,
                    format!("no recipient entry for appliance {}", target.id),
                ));
            }
            let approved: BTreeSet<String> =
                tx.approved_appliances()?.into_iter().map(|a| a.key_id).collect();
            if let Some(extra) = new_ids.difference(&old_ids).find(|k| !approved.contains(*k)) {
                return Err(refuse(
                    Code::RewrapRecipientUnknown,
                    format!("a recipient with key id {extra} is not an approved appliance"),
                ));
            }
        }
        for item in &req.items {
            if let Ok(id) = item.item_id.parse::<i64>() {
                tx.replace_sealed_envelope(id, &item.envelope, now)?;
            }
        }
        tx.audit(
            now,
            &format!("appliance:{}", me.id),
            "appliance.rewrapped",
            &target.id,
            &json!({"items": req.items.len()}),
            None,
        )?;
        Ok(RewrapStored {
            stored: req.items.len(),
            remaining: missing_for(tx, &target)?,
        })
    })?;
    // The new appliance may now take jobs that carry these envelopes.
    state.work.notify_waiters();
    Ok(out)
}
