//! Why a queued job is not being claimed, in words a scanner user can act on.
//!
//! A claim skips a job whose sealed secrets lack the claiming appliance's recipient entry (an
//! appliance approved after the records were sealed, before an older appliance did the rewrap
//! work). Without a reason the scan just looks stuck; this mirrors the claim's check over the
//! appliances that may claim the job, reading envelopes only, never opening a secret.
use crate::jobs_material::match_targets;
use crate::store::{ApplianceRow, ApplianceState, JobRow, RecordRow, StoreError, Tx, VAULT_KIND};
pub use sealscan_api::scans::{WaitCause, Waiting, WaitingTarget};
use sealscan_protocols::appliance::LoginType;
use sealscan_protocols::envelope::Envelope;
use sealscan_protocols::results::LoginKind;
use std::collections::BTreeSet;

/// The key ids every sealed secret of `r` (and of the vault it logs in through) is sealed to.
fn recipient_sets(tx: &Tx<'_>, r: &RecordRow) -> Result<Vec<BTreeSet<String>>, StoreError> {
    let mut envelopes = tx.envelopes_of(r.kind.as_str(), &r.id)?;
    if r.login_type == LoginType::Vault
        && let Some(v) = &r.vault_id
    {
        envelopes.extend(tx.envelopes_of(VAULT_KIND, v)?);
    }
    Ok(envelopes
        .iter()
        .filter_map(|(_, text)| Envelope::from_text(text).ok())
        .map(|e| e.recipient_key_ids().map(hex::encode).collect())
        .collect())
}

fn appliance_name(a: &ApplianceRow) -> String {
    format!("{:?} ({})", a.name, a.id)
}

/// `None` when nothing holds the job back (it is leased, done, or any eligible appliance can
/// take it at its next claim).
pub fn job_waiting(tx: &Tx<'_>, job: &JobRow) -> Result<Option<Waiting>, StoreError> {
    if job.state != "queued" {
        return Ok(None);
    }
    let open = tx.open_targets(job.id)?;
    if open.is_empty() {
        return Ok(None);
    }
    let candidates = match &job.appliance_id {
        Some(id) => match tx.appliance(id)? {
            Some(a) if a.state == ApplianceState::Approved => vec![a],
            other => {
                let state = other.map_or("unknown", |a| a.state.as_str());
                return Ok(Some(Waiting {
                    cause: WaitCause::Appliance,
                    reason: format!(
                        "waiting for appliance {id}, which is {state}: only an approved appliance claims jobs"
                    ),
                    targets: Vec::new(),
                }));
            }
        },
        None => tx.approved_appliances()?,
    };
    if candidates.is_empty() {
        return Ok(Some(Waiting {
            cause: WaitCause::Appliance,
            reason: "waiting for an approved appliance: none is approved now".into(),
            targets: Vec::new(),
        }));
    }
    let records = tx.records()?;
    let (matched, used) = match_targets(&records, &open)?;
    // For each record the job carries: the candidates it is not yet sealed to.
    let mut lacking: Vec<(&RecordRow, Vec<&ApplianceRow>)> = Vec::new();
    for r in records.iter().filter(|r| used.contains(&r.id)) {
        let sets = recipient_sets(tx, r)?;
        let missing: Vec<&ApplianceRow> = candidates
            .iter()
            .filter(|a| sets.iter().any(|s| !s.contains(&a.key_id)))
            .collect();
        if !missing.is_empty() {
            lacking.push((r, missing));
        }
    }
    // Claimable when some candidate lacks nothing.
    let blocked = |a: &ApplianceRow| lacking.iter().any(|(_, m)| m.iter().any(|x| x.id == a.id));
    if lacking.is_empty() || candidates.iter().any(|a| !blocked(a)) {
        return Ok(None);
    }
    let why = |r: &RecordRow, missing: &[&ApplianceRow]| {
        format!(
            "record {:?} ({}) is not yet sealed to appliance {}",
            r.title,
            r.id,
            missing
                .iter()
                .map(|a| appliance_name(a))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let reason = format!(
        "waiting for rewrap: {}; an approved appliance that can open the record must do the rewrap work (a running sealscan-agent does it on its own)",
        lacking
            .iter()
            .map(|(r, m)| why(r, m))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let service_selected: Vec<&(&RecordRow, Vec<&ApplianceRow>)> = lacking
        .iter()
        .filter(|(r, _)| r.windows.as_ref().is_some_and(|w| w.service_selected))
        .collect();
    let mut targets = Vec::new();
    for ((target_id, host, kind), record_id) in open.iter().zip(matched) {
        let holding: Vec<&(&RecordRow, Vec<&ApplianceRow>)> = match &record_id {
            Some(id) => lacking.iter().filter(|(r, _)| &r.id == id).collect(),
            None if *kind == LoginKind::Windows => service_selected.clone(),
            None => Vec::new(),
        };
        if let Some((r, m)) = holding.first() {
            targets.push(WaitingTarget {
                target_id: target_id.clone(),
                host: host.clone(),
                kind: *kind,
                record_id: Some(r.id.clone()),
                reason: why(r, m),
            });
        }
    }
    Ok(Some(Waiting {
        cause: WaitCause::Rewrap,
        reason,
        targets,
    }))
}
