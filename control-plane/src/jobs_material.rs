//! The credential material of a job: each target matched to its record, with the records'
//! envelopes (or legacy secrets) and the vaults they log in through.
use crate::credentials::{open_legacy, record_domain};
use crate::iprange::IpRange;
use crate::keyfile::DataKey;
use crate::store::{RecordRow, StoreError, Tx, VAULT_KIND, VaultRow};
use sealscan_protocols::appliance::{
    AddressRange, JobRecord, JobTarget, JobVault, LoginType, RecordKind, RecordLogin, SecretField,
    SecretFieldName, SecretValue, WindowsOptions,
};
use sealscan_protocols::results::LoginKind;
use std::collections::BTreeSet;
use std::net::IpAddr;

pub type Material = (Vec<JobTarget>, Vec<JobRecord>, Vec<JobVault>);

/// Matches each `(target_id, host, kind)` to its record: the record whose IP list holds the
/// host for that kind. Windows targets without such a record get `record_id: None` and the job
/// carries every service-selected NetBIOS record, for the appliance to pick by the domain the
/// server reports. A host name is resolved by the appliance, not here: what counts is the
/// address the appliance will connect to, in its own view of DNS. So for a host-name target
/// the job carries every record of that kind with an IP list, with its `address_ranges`, and
/// the appliance picks the one holding the address it resolved.
pub fn build_job_material(
    tx: &Tx<'_>,
    key: &DataKey,
    targets: &[(String, String, LoginKind)],
) -> Result<Material, StoreError> {
    let records = tx.records()?;
    let (matched, used) = match_targets(&records, targets)?;
    let job_targets = targets
        .iter()
        .zip(matched)
        .map(|((target_id, host, kind), record_id)| JobTarget {
            target_id: target_id.clone(),
            host: host.clone(),
            kind: *kind,
            port: None,
            record_id,
        })
        .collect();
    let mut job_records = Vec::with_capacity(used.len());
    let mut vault_ids: BTreeSet<&str> = BTreeSet::new();
    for r in records.iter().filter(|r| used.contains(&r.id)) {
        if let Some(v) = r.vault_id.as_deref() {
            vault_ids.insert(v);
        }
        job_records.push(job_record(tx, key, r)?);
    }
    let mut job_vaults = Vec::with_capacity(vault_ids.len());
    for id in vault_ids {
        let vault = tx
            .vault(id)?
            .ok_or_else(|| StoreError::Corrupt(format!("vault {id} of a record is missing")))?;
        job_vaults.push(job_vault(tx, key, &vault)?);
    }
    Ok((job_targets, job_records, job_vaults))
}

/// Each target's record id (by the IP lists), and every record the job needs: the matched
/// ones, plus every service-selected NetBIOS record when a Windows target matched none.
pub fn match_targets(
    records: &[RecordRow],
    targets: &[(String, String, LoginKind)],
) -> Result<(Vec<Option<String>>, BTreeSet<String>), StoreError> {
    let mut ranges: Vec<(&RecordRow, Vec<IpRange>)> = Vec::new();
    for r in records {
        let parsed = r
            .ips
            .iter()
            .map(|e| IpRange::parse(e))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Corrupt(format!("record {}: {e}", r.id)))?;
        ranges.push((r, parsed));
    }
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut need_service_selected = false;
    let mut by_name: BTreeSet<RecordKind> = BTreeSet::new();
    let mut matched_ids = Vec::with_capacity(targets.len());
    for (_, host, kind) in targets {
        let kind_name = match kind {
            LoginKind::Unix => RecordKind::Unix,
            LoginKind::Windows => RecordKind::Windows,
        };
        let ip: Option<IpAddr> = host.parse().ok();
        if ip.is_none() {
            by_name.insert(kind_name);
        }
        let matched = ip.and_then(|ip| {
            ranges
                .iter()
                .find(|(r, rs)| r.kind == kind_name && rs.iter().any(|x| x.contains(ip)))
                .map(|(r, _)| r.id.clone())
        });
        match &matched {
            Some(id) => {
                used.insert(id.clone());
            }
            None if *kind == LoginKind::Windows => need_service_selected = true,
            None => {}
        }
        matched_ids.push(matched);
    }
    for r in records {
        if by_name.contains(&r.kind) && !r.ips.is_empty() {
            used.insert(r.id.clone());
        }
    }
    if need_service_selected {
        for r in records {
            if r.windows.as_ref().is_some_and(|w| w.service_selected) {
                used.insert(r.id.clone());
            }
        }
    }
    Ok((matched_ids, used))
}

fn job_record(tx: &Tx<'_>, key: &DataKey, r: &RecordRow) -> Result<JobRecord, StoreError> {
    let login = match (r.login_type, &r.vault_id) {
        (LoginType::Vault, Some(vault_id)) => RecordLogin::Vault {
            vault_id: vault_id.clone(),
            secret_name: r.secret_name.clone().unwrap_or_default(),
            folder: r.folder.clone(),
            secret_id: r.secret_id,
            unix_auth: r.unix_auth,
        },
        _ => RecordLogin::Basic {
            secrets: secrets_of(tx, key, r.kind.as_str(), &r.id)?
                .into_iter()
                .filter_map(|(name, value)| {
                    SecretFieldName::from_name(&name).map(|field| SecretField { field, value })
                })
                .collect(),
        },
    };
    let windows = r.windows.as_ref().map(|w| WindowsOptions {
        domain_type: w.domain_type,
        service_selected: w.service_selected,
        ntlmv2: w.ntlmv2,
        require_signing: w.require_signing,
        min_smb_version: w.min_smb_version.to_string(),
        auth_protocol: w.auth_protocol,
        realm: w.realm.clone(),
        kdcs: w.kdcs.clone(),
        host_names: w.host_names.clone(),
    });
    Ok(JobRecord {
        record_id: r.id.clone(),
        title: r.title.clone(),
        kind: r.kind,
        user: r.username.clone(),
        domain: record_domain(r),
        windows,
        unix: r.unix.clone(),
        login,
        address_ranges: r
            .ips
            .iter()
            .filter_map(|e| IpRange::parse(e).ok())
            .map(|range| {
                let (first, last) = range.bounds();
                AddressRange { first, last }
            })
            .collect(),
    })
}

fn job_vault(tx: &Tx<'_>, key: &DataKey, v: &VaultRow) -> Result<JobVault, StoreError> {
    let password = secrets_of(tx, key, VAULT_KIND, &v.id)?
        .into_iter()
        .find(|(name, _)| name == "vault_password")
        .map(|(_, value)| value)
        .ok_or_else(|| StoreError::Corrupt(format!("vault {} holds no password", v.id)))?;
    Ok(JobVault {
        vault_id: v.id.clone(),
        title: v.title.clone(),
        url: v.url.clone(),
        user: v.username.clone(),
        domain: v.domain.clone(),
        organization: v.organization.clone(),
        verify_tls: v.verify_tls,
        ca_pem: v.ca_pem.clone(),
        api: v.api.clone(),
        password,
    })
}

/// Each field's envelope when sealed, else its legacy secret opened with the data key.
fn secrets_of(
    tx: &Tx<'_>,
    key: &DataKey,
    kind: &str,
    id: &str,
) -> Result<Vec<(String, SecretValue)>, StoreError> {
    let mut out: Vec<(String, SecretValue)> = tx
        .envelopes_of(kind, id)?
        .into_iter()
        .map(|(field, envelope)| (field, SecretValue::Sealed { envelope }))
        .collect();
    for (field, blob) in tx.legacy_secrets_of(kind, id)? {
        if out.iter().any(|(f, _)| *f == field) {
            continue;
        }
        let value = open_legacy(key, kind, id, &field, &blob).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "the legacy {field} of {kind} {id} does not open with the data key"
            ))
        })?;
        out.push((field, SecretValue::Legacy { value }));
    }
    Ok(out)
}
