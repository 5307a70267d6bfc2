//! One target of a job: pick its record, resolve the credential, log in, and wipe the
//! credential as soon as the login is over.

use crate::config::Timeouts;
use crate::hostname::{self, ADDRESS_FACT};
use crate::login::{self, Target};
use crate::resolve::{JobCredentials, Refusal, Resolved};
use sealscan_protocols::appliance::{JobRecord, JobTarget, RecordKind, ResultPost};
use sealscan_protocols::results::{LoginKind, LoginOutcome, Status, Step};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// The login's network target for a job target, with the kind's default port and timeout.
pub fn network_target(target: &JobTarget, timeouts: &Timeouts) -> Target {
    let (port, secs) = match target.kind {
        LoginKind::Unix => (22, timeouts.unix_secs),
        LoginKind::Windows => (445, timeouts.windows_secs),
    };
    Target {
        host: target.host.clone(),
        port: target.port.unwrap_or(port),
        timeout: Duration::from_secs(u64::from(secs)),
    }
}

/// Runs one target and returns the result to post.
pub async fn run_target(
    job_id: &str,
    creds: Arc<JobCredentials>,
    target: &JobTarget,
    timeouts: &Timeouts,
) -> ResultPost {
    let mut net = network_target(target, timeouts);
    // A target the job names a record for, given by address, is checked before anything else
    // (a Windows domain probe included): no connection to a place the record does not sign.
    if let (Some(id), Ok(_)) = (&target.record_id, target.host.parse::<IpAddr>())
        && let Some(record) = creds.record(id)
        && let Err(refusal) = creds.check_signature(record, &net.host, net.port)
    {
        return ResultPost {
            idempotency_key: ResultPost::key_for(job_id, &target.target_id, target.kind),
            target_id: target.target_id.clone(),
            host: target.host.clone(),
            record_id: Some(id.clone()),
            outcome: refusal.into_outcome(target.kind),
        };
    }
    if target.record_id.is_none()
        && target.host.parse::<IpAddr>().is_ok()
        && let Err(refusal) = creds.check_any_signature(
            match target.kind {
                LoginKind::Unix => RecordKind::Unix,
                LoginKind::Windows => RecordKind::Windows,
            },
            &net.host,
            net.port,
        )
    {
        return ResultPost {
            idempotency_key: ResultPost::key_for(job_id, &target.target_id, target.kind),
            target_id: target.target_id.clone(),
            host: target.host.clone(),
            record_id: None,
            outcome: refusal.into_outcome(target.kind),
        };
    }
    let located = locate(&creds, target, &mut net).await.and_then(|record| {
        creds.check_signature(&record, &net.host, net.port)?;
        Ok(record)
    });
    let (record_id, mut outcome) = match located {
        Ok(record) => {
            let id = record.record_id.clone();
            (
                Some(id),
                attempt(&creds, &record, target, net.clone()).await,
            )
        }
        Err(refusal) => (None, refusal.into_outcome(target.kind)),
    };
    if net.host != target.host {
        outcome.facts.insert(ADDRESS_FACT.into(), net.host.clone());
    }
    ResultPost {
        idempotency_key: ResultPost::key_for(job_id, &target.target_id, target.kind),
        target_id: target.target_id.clone(),
        host: target.host.clone(),
        record_id,
        outcome,
    }
}

/// Resolves a host-name target to the address the login will use (`net.host` becomes it) and
/// picks the record: the one the job names; for a host name, the record holding the first of
/// its addresses that any record holds (else the resolver's first address); then as
/// [`pick_record`] does.
async fn locate(
    creds: &JobCredentials,
    target: &JobTarget,
    net: &mut Target,
) -> Result<JobRecord, Refusal> {
    if target.host.parse::<IpAddr>().is_ok() {
        return pick_record(creds, target, net, &target.host).await;
    }
    let addresses = hostname::addresses(&target.host, net.port, net.timeout).await?;
    let kind = match target.kind {
        LoginKind::Unix => RecordKind::Unix,
        LoginKind::Windows => RecordKind::Windows,
    };
    let by_address = match &target.record_id {
        Some(_) => None,
        None => addresses
            .iter()
            .find_map(|a| creds.record_for_address(*a, kind).map(|r| (*a, r.clone()))),
    };
    let address = by_address.as_ref().map_or(addresses[0], |(a, _)| *a);
    net.host = address.to_string();
    match by_address {
        Some((_, record)) => Ok(record),
        None => {
            // The Windows domain probe connects: only where some signed record allows it.
            if target.record_id.is_none() {
                creds.check_any_signature(kind, &net.host, net.port)?;
            }
            let shown = format!("{} ({address})", target.host);
            pick_record(creds, target, net, &shown).await
        }
    }
}

/// The record named by the job, or for a Windows target without one, the service-selected
/// NetBIOS-domain record of the domain the server reports. `shown` names the target in
/// causes (a host name with the address it resolved to).
async fn pick_record(
    creds: &JobCredentials,
    target: &JobTarget,
    net: &Target,
    shown: &str,
) -> Result<JobRecord, Refusal> {
    if let Some(id) = &target.record_id {
        return creds.record(id).cloned().ok_or_else(|| {
            Refusal::not_attempted(
                Step::Record,
                format!("the job names record {id} for {shown} but does not carry it"),
            )
        });
    }
    match target.kind {
        LoginKind::Unix => Err(Refusal::not_attempted(
            Step::Record,
            format!("no Unix authentication record matches {shown}"),
        )),
        LoginKind::Windows => {
            let info = login::windows::probe_domain(net)
                .await
                .map_err(|f| Refusal {
                    status: Status::NotAttempted,
                    step: f.step,
                    detail: format!(
                        "no Windows record names {} and its domain could not be learned: {}",
                        shown, f.detail
                    ),
                    login_id: String::new(),
                    facts: Default::default(),
                })?;
            let Some(domain) = info.netbios_domain.filter(|d| !d.is_empty()) else {
                return Err(Refusal::not_attempted(
                    Step::Record,
                    format!(
                        "no Windows record names {shown} and the server reports no NetBIOS domain"
                    ),
                ));
            };
            creds.netbios_record_for(&domain).cloned().ok_or_else(|| {
                Refusal::not_attempted(
                    Step::Record,
                    format!(
                        "no Windows record names {shown} and the job has no service-selected \
                         NetBIOS record for its domain {domain}"
                    ),
                )
            })
        }
    }
}

async fn attempt(
    creds: &JobCredentials,
    record: &JobRecord,
    target: &JobTarget,
    net: Target,
) -> LoginOutcome {
    let kind = target.kind;
    let resolved = match creds.resolve(record, kind).await {
        Ok(r) => r,
        Err(refusal) => return refusal.into_outcome(kind),
    };
    match resolved {
        Resolved::Unix(credential) => {
            let user = credential.user.clone();
            let trust = match creds.host_key_trust(record) {
                Ok(trust) => trust,
                Err(refusal) => return refusal.into_outcome(kind),
            };
            // libssh2 blocks; the credential moves into the thread and is dropped (wiped)
            // there the moment the login returns.
            let joined = tokio::task::spawn_blocking(move || {
                let outcome = login::unix::login(&net, &credential, &trust);
                drop(credential);
                outcome
            })
            .await;
            joined.unwrap_or_else(|e| {
                LoginOutcome::not_passed(
                    kind,
                    Status::Failed,
                    Step::Session,
                    format!("the login task ended abnormally: {e}"),
                    user,
                )
            })
        }
        Resolved::Windows(mut credential) => {
            let names = record.windows.as_ref().map(|w| w.host_names.as_slice());
            login::windows::choose_service_host(
                &mut credential,
                &target.host,
                names.unwrap_or(&[]),
            )
            .await;
            let outcome = login::windows::login(&net, &credential).await;
            drop(credential);
            outcome
        }
    }
}
