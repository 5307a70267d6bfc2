//! Scans as users ask for them: the login kinds, the targets expanded to hosts, the title,
//! the port overrides and the appliance that may run it; then the scan, its job and one job
//! target per host and kind, audited.
use crate::domain::{DomainError, DomainResult, Shared};
use crate::store::{ApplianceState, ScanRow, Tx};
use sealscan_api::Code;
use sealscan_api::scans::ScanRequest;
use sealscan_protocols::results::LoginKind;
use serde_json::json;

const MAX_TITLE_LEN: usize = 120;

fn parse_kinds(s: &str) -> DomainResult<Vec<LoginKind>> {
    match s.trim().to_ascii_lowercase().as_str() {
        "unix" => Ok(vec![LoginKind::Unix]),
        "windows" => Ok(vec![LoginKind::Windows]),
        "both" => Ok(vec![LoginKind::Unix, LoginKind::Windows]),
        other => Err(DomainError::refused(
            Code::ScanKinds,
            format!("kinds must be unix, windows or both; got {other:?}"),
        )),
    }
}

pub fn unknown_scan(id: &str) -> DomainError {
    DomainError::not_found(Code::ScanUnknown, format!("no scan has the id {id:?}"))
}

/// The title given, trimmed and cut to its limit, or one naming the targets.
fn title(req: &ScanRequest) -> DomainResult<String> {
    let title = req
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map_or_else(
            || format!("Scan of {}", req.targets.join(", ")),
            str::to_string,
        );
    let title: String = title.chars().take(MAX_TITLE_LEN).collect();
    if title.chars().any(char::is_control) {
        return Err(DomainError::refused(
            Code::ScanTitle,
            "the title must hold printable characters only",
        ));
    }
    Ok(title)
}

/// A named appliance must exist and be approved; without one, some approved appliance must.
fn check_appliance(tx: &Tx<'_>, appliance: Option<&str>) -> DomainResult<()> {
    match appliance {
        Some(id) => {
            let a = tx.appliance(id)?.ok_or_else(|| {
                DomainError::refused(
                    Code::ScanAppliance,
                    format!("no appliance has the id {id:?}"),
                )
            })?;
            if a.state != ApplianceState::Approved {
                return Err(DomainError::refused(
                    Code::ScanAppliance,
                    format!(
                        "appliance {} is {}; only an approved appliance runs scans",
                        a.id,
                        a.state.as_str()
                    ),
                ));
            }
        }
        None if tx.approved_appliances()?.is_empty() => {
            return Err(DomainError::conflict(
                Code::ScanNoAppliance,
                "no approved appliance could run this scan; enroll and approve one first",
            ));
        }
        None => {}
    }
    Ok(())
}

/// Creates the scan `user` asks for from `ip` and wakes a claim that can take its job.
pub fn create(state: &Shared, user: &str, ip: &str, req: &ScanRequest) -> DomainResult<ScanRow> {
    let kinds = parse_kinds(&req.kinds)?;
    let hosts = crate::targets::expand(&req.targets)
        .map_err(|why| DomainError::refused(Code::ScanTargets, why))?;
    let title = title(req)?;
    let ports = req.ports.clone().unwrap_or_default();
    if ports.unix == Some(0) || ports.windows == Some(0) {
        return Err(DomainError::refused(
            Code::ScanPorts,
            "a port override must be between 1 and 65535",
        ));
    }
    let kinds_text = req.kinds.trim().to_ascii_lowercase();
    let targets: Vec<String> = req.targets.iter().map(|t| t.trim().to_string()).collect();
    let appliance = req.appliance.as_deref().map(str::trim);
    let now = state.now();
    let scan = state.store.write(|tx| {
        check_appliance(tx, appliance)?;
        let scan_id =
            tx.insert_scan(&title, user, now, &targets, &kinds_text, appliance, &ports)?;
        let job_id = tx.insert_job(scan_id, appliance, now)?;
        let mut n = 0usize;
        for host in &hosts {
            for kind in &kinds {
                n += 1;
                tx.insert_job_target(job_id, &format!("t{n}"), host, *kind)?;
            }
        }
        tx.audit(
            now,
            user,
            "scan.created",
            &scan_id.to_string(),
            &json!({"targets": targets, "hosts": hosts.len(), "kinds": kinds_text, "appliance": appliance}),
            Some(ip),
        )?;
        tx.scan(scan_id)?
            .ok_or_else(|| unknown_scan(&scan_id.to_string()))
    })?;
    // A claim waiting for work wakes now, not at the end of its wait: one that can take the
    // scan's job, not the whole fleet.
    state.work.job_queued(appliance);
    Ok(scan)
}
