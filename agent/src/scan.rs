//! One target of a job: pick its record, resolve the credential, log in, and wipe the
//! credential as soon as the login is over.

use crate::config::Timeouts;
use crate::login::{self, Target};
use crate::resolve::{JobCredentials, Refusal, Resolved};
use sealscan_protocols::appliance::{JobRecord, JobTarget, ResultPost};
use sealscan_protocols::results::{LoginKind, LoginOutcome, Status, Step};
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
    let net = network_target(target, timeouts);
    let (record_id, outcome) = match pick_record(&creds, target, &net).await {
        Ok(record) => {
            let id = record.record_id.clone();
            (Some(id), attempt(&creds, &record, target.kind, net).await)
        }
        Err(refusal) => (None, refusal.into_outcome(target.kind)),
    };
    ResultPost {
        idempotency_key: ResultPost::key_for(job_id, &target.target_id, target.kind),
        target_id: target.target_id.clone(),
        host: target.host.clone(),
        record_id,
        outcome,
    }
}

/// The record named by the job, or for a Windows target without one, the service-selected
/// NetBIOS-domain record of the domain the server reports.
async fn pick_record(
    creds: &JobCredentials,
    target: &JobTarget,
    net: &Target,
) -> Result<JobRecord, Refusal> {
    if let Some(id) = &target.record_id {
        return creds.record(id).cloned().ok_or_else(|| {
            Refusal::not_attempted(
                Step::Record,
                format!(
                    "the job names record {id} for {} but does not carry it",
                    target.host
                ),
            )
        });
    }
    match target.kind {
        LoginKind::Unix => Err(Refusal::not_attempted(
            Step::Record,
            format!("no Unix authentication record matches {}", target.host),
        )),
        LoginKind::Windows => {
            let info = login::windows::probe_domain(net)
                .await
                .map_err(|f| Refusal {
                    status: Status::NotAttempted,
                    step: f.step,
                    detail: format!(
                        "no Windows record names {} and its domain could not be learned: {}",
                        target.host, f.detail
                    ),
                    login_id: String::new(),
                    facts: Default::default(),
                })?;
            let Some(domain) = info.netbios_domain.filter(|d| !d.is_empty()) else {
                return Err(Refusal::not_attempted(
                    Step::Record,
                    format!(
                        "no Windows record names {} and the server reports no NetBIOS domain",
                        target.host
                    ),
                ));
            };
            creds.netbios_record_for(&domain).cloned().ok_or_else(|| {
                Refusal::not_attempted(
                    Step::Record,
                    format!(
                        "no Windows record names {} and the job has no service-selected \
                         NetBIOS record for its domain {domain}",
                        target.host
                    ),
                )
            })
        }
    }
}

async fn attempt(
    creds: &JobCredentials,
    record: &JobRecord,
    kind: LoginKind,
    net: Target,
) -> LoginOutcome {
    let resolved = match creds.resolve(record, kind).await {
        Ok(r) => r,
        Err(refusal) => return refusal.into_outcome(kind),
    };
    match resolved {
        Resolved::Unix(credential) => {
            let user = credential.user.clone();
            // libssh2 blocks; the credential moves into the thread and is dropped (wiped)
            // there the moment the login returns.
            let joined = tokio::task::spawn_blocking(move || {
                let outcome = login::unix::login(&net, &credential);
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
        Resolved::Windows(credential) => {
            let outcome = login::windows::login(&net, &credential).await;
            drop(credential);
            outcome
        }
    }
}
