//! `sealscan-agent run`: the long-running loop.
//!
//! Start: hardening, the locked arena and the identity key before anything else (no arena,
//! no agent), then the enrollment and, if approval is still pending, a wait for it. Then:
//! re-post whatever the spool holds, do rewrap work when the control plane has some, and
//! claim jobs by long-poll. A job's targets run with bounded concurrency while a heartbeat
//! keeps its lease; each result is spooled before it is posted. Losing the control plane
//! means back-off with jitter, never exit. SIGTERM stops claiming, gives in-flight targets a
//! bounded grace, and exits 0; abandoned targets come back to the queue when their lease
//! expires.

use crate::arena::{Arena, ArenaError};
use crate::client::{ApiClient, ClientError};
use crate::config::{Config, Timeouts};
use crate::enrollment::{self, Enrollment, EnrollmentError};
use crate::hardening::{self, HardeningError};
use crate::identity::{self, IdentityError, IdentityKey};
use crate::known_hosts::KnownHosts;
use crate::logging::{self, LoggingError, OutcomeContext};
use crate::resolve::JobCredentials;
use crate::secret::SecretText;
use crate::spool::{Spool, SpoolError, Spooled};
use crate::trust::SignatureGate;
use crate::{notify, scan, sealed};
use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use sealscan_protocols::appliance::{
    EnrollPollRequest, EnrollState, Job, ResultPost, RewrapSubmit, RewrappedItem,
};
use sealscan_protocols::signing::JobSignatures;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// How long a claim waits for work before asking again.
const CLAIM_WAIT_SECS: u32 = 30;
/// The systemd STATUS line while the agent is approved and idle.
const WAITING_FOR_JOBS: &str = "waiting for jobs";
/// In-flight targets get this long to finish after SIGTERM; then they are abandoned.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Hardening(#[from] HardeningError),
    #[error(transparent)]
    Arena(#[from] ArenaError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Enrollment(#[from] EnrollmentError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error(transparent)]
    Logging(#[from] LoggingError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the control plane rejected this appliance: {0}; enroll again with a new token")]
    Rejected(String),
    #[error("this appliance was revoked in the control plane; enroll again with a new token")]
    Revoked,
    #[error(
        "the appliance credential was already collected but is not in {}; enroll again \
         with a new token",
        .0.display()
    )]
    CredentialLost(std::path::PathBuf),
    #[error(
        "the control plane reports fingerprint {theirs} for our key {ours}: refusing this \
         enrollment (is the URL right?)"
    )]
    FingerprintMismatch { ours: String, theirs: String },
    #[error("stopped before the appliance was approved")]
    StoppedWaiting,
    #[error("the SSH known-hosts store is unusable: {0}")]
    KnownHosts(String),
}

/// Exponential back-off with jitter, so a fleet of appliances does not return in step after a
/// control-plane outage.
#[derive(Debug)]
pub struct Backoff {
    attempt: u32,
    base: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            attempt: 0,
            base,
            max,
        }
    }

    /// The next delay: base·2ⁿ capped at max, then a random point in its upper half.
    pub fn next_delay(&mut self) -> Duration {
        let exp = self.base.saturating_mul(1u32 << self.attempt.min(16));
        let capped = exp.min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = capped / 2;
        let jitter_ms = u64::from(OsRng.next_u32()) % (half.as_millis().max(1) as u64);
        half + Duration::from_millis(jitter_ms)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// Resolves once `rx` holds true; never, if its sender is gone without saying so.
async fn until_set(mut rx: watch::Receiver<bool>) {
    if rx.wait_for(|v| *v).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Sleeps `delay` unless stopped first; true when stopped.
async fn sleep_or_stop(delay: Duration, stop: &watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => *stop.borrow(),
        () = until_set(stop.clone()) => true,
    }
}

/// Hardening and the locked arena come before the key is touched: a process that cannot
/// protect the key does not read it.
pub(crate) fn secure_arena() -> Result<Arena, DaemonError> {
    hardening::harden_process()?;
    Ok(Arena::new()?)
}

/// `sealscan-agent run`.
pub fn run(config: &Config) -> Result<(), DaemonError> {
    let arena = secure_arena()?;
    let identity = Arc::new(IdentityKey::load(
        &arena,
        &identity::key_path(&config.state_dir),
    )?);
    logging::init(config.log, log::LevelFilter::Info)?;
    crate::login::windows::use_dns_servers(&config.dns_servers);
    let enrollment = Enrollment::load(&config.state_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(DaemonError::Runtime)?;
    let result = runtime.block_on(run_async(config, &enrollment, identity));
    // Blocking SSH logins abandoned at shutdown end on their own deadline; do not wait.
    runtime.shutdown_timeout(Duration::from_secs(1));
    drop(arena);
    result
}

async fn run_async(
    config: &Config,
    enrollment: &Enrollment,
    identity: Arc<IdentityKey>,
) -> Result<(), DaemonError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    spawn_signal_handler(stop_tx)?;
    let url = config.control_plane_url.as_str();
    if url.trim_end_matches('/') != enrollment.url.trim_end_matches('/') {
        log::warn!(
            "control_plane_url {url} differs from the URL this appliance enrolled with ({}); \
             using the configuration's",
            enrollment.url
        );
    }
    let client = ApiClient::new(url, &config.ca_file)?;
    let stored = enrollment::load_credential(&config.state_dir)?;
    // READY comes as soon as the agent is up, approved or not: under Type=notify a unit that
    // waited for a Manager's approval would hold `systemctl start` (and boot) hostage. The
    // watchdog starts with it, so a loop stuck while waiting is restarted too.
    let waiting = format!(
        "waiting for approval (fingerprint {})",
        identity.fingerprint()
    );
    notify::ready(if stored.is_some() {
        WAITING_FOR_JOBS
    } else {
        &waiting
    });
    let watchdog = notify::spawn_watchdog();
    let credential = match stored {
        Some(c) => c,
        None => {
            log::info!(
                "waiting for a Manager to approve appliance {} (fingerprint {})",
                enrollment.appliance_id,
                identity.fingerprint()
            );
            match wait_for_approval(&client, enrollment, &config.state_dir, &stop_rx).await {
                Ok(credential) => credential,
                // SIGTERM while waiting is an ordinary stop, not a failure of the unit.
                Err(DaemonError::StoppedWaiting) => {
                    notify::stopping();
                    log::info!("sealscan-agent stopping before approval");
                    if let Some(w) = watchdog {
                        w.abort();
                    }
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
    };
    let daemon = Daemon {
        client: client.with_credential(credential),
        identity,
        spool: Spool::open(&config.state_dir)?,
        known_hosts: Arc::new(
            KnownHosts::open(&config.state_dir).map_err(DaemonError::KnownHosts)?,
        ),
        state_dir: config.state_dir.clone(),
        concurrency: usize::from(config.concurrency.max(1)),
        timeouts: config.timeouts,
        stop: stop_rx,
    };
    notify::status(WAITING_FOR_JOBS);
    log::info!(
        "sealscan-agent running: appliance {}, control plane {url}, concurrency {}",
        enrollment.appliance_id,
        daemon.concurrency
    );
    daemon.main_loop().await;
    notify::stopping();
    log::info!("sealscan-agent stopping");
    daemon.flush_spool_bounded().await;
    if let Some(w) = watchdog {
        w.abort();
    }
    Ok(())
}

fn spawn_signal_handler(stop: watch::Sender<bool>) -> Result<(), DaemonError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Runtime)?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Runtime)?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => log::info!("SIGTERM received"),
            _ = int.recv() => log::info!("SIGINT received"),
        }
        let _ = stop.send(true);
    });
    Ok(())
}

/// Polls the enrollment until a Manager decides; stores and returns the credential.
pub async fn wait_for_approval(
    client: &ApiClient,
    enrollment: &Enrollment,
    state_dir: &Path,
    stop: &watch::Receiver<bool>,
) -> Result<SecretText, DaemonError> {
    let request = EnrollPollRequest {
        appliance_id: enrollment.appliance_id.clone(),
        poll_secret: enrollment.poll_secret.clone(),
    };
    let mut pending = Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
    loop {
        let delay = match client.enroll_poll(&request).await {
            Ok(EnrollState::Approved { credential }) => {
                let credential = SecretText::new(credential);
                enrollment::save_credential(state_dir, credential.expose())?;
                log::info!("appliance {} approved", enrollment.appliance_id);
                return Ok(credential);
            }
            Ok(EnrollState::Pending) => pending.next_delay(),
            Ok(EnrollState::Rejected { reason }) => return Err(DaemonError::Rejected(reason)),
            Ok(EnrollState::Revoked) => return Err(DaemonError::Revoked),
            Ok(EnrollState::AlreadyCollected) => {
                return Err(DaemonError::CredentialLost(enrollment::credential_path(
                    state_dir,
                )));
            }
            Err(e) if e.is_transient() => {
                log::warn!("enrollment poll: {e}; retrying");
                pending.next_delay()
            }
            Err(e) => return Err(e.into()),
        };
        if sleep_or_stop(delay, stop).await {
            return Err(DaemonError::StoppedWaiting);
        }
    }
}

struct Daemon {
    client: ApiClient,
    identity: Arc<IdentityKey>,
    spool: Spool,
    known_hosts: Arc<KnownHosts>,
    /// Where the pinned signing root and the accepted versions live (crate::trust).
    state_dir: std::path::PathBuf,
    concurrency: usize,
    timeouts: Timeouts,
    stop: watch::Receiver<bool>,
}

enum Next {
    Job(Box<(Job, JobSignatures)>),
    Idle,
    Stop,
}

impl Daemon {
    async fn main_loop(&self) {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut troubled = false;
        // Until a claim is answered, a job lease this appliance still holds was a previous
        // process's (killed, or restarted by systemd): the control plane re-hands it at once.
        let mut after_start = true;
        while !*self.stop.borrow() {
            self.flush_spool().await;
            self.rewrap().await;
            let next = tokio::select! {
                claimed = self.client.claim(CLAIM_WAIT_SECS, after_start) => match claimed {
                    Ok(Some(job)) => {
                        after_start = false;
                        Next::Job(Box::new(job))
                    }
                    Ok(None) => {
                        after_start = false;
                        Next::Idle
                    }
                    Err(e) => {
                        let delay = backoff.next_delay();
                        if e.is_unauthorized() {
                            log::error!(
                                "claim refused: {e}; the appliance may have been revoked \
                                 (retrying in {delay:?})"
                            );
                        } else {
                            log::warn!("claim failed: {e}; retrying in {delay:?}");
                        }
                        notify::status(&format!(
                            "cannot claim jobs from the control plane; retrying in {}s",
                            delay.as_secs().max(1)
                        ));
                        troubled = true;
                        if sleep_or_stop(delay, &self.stop).await {
                            Next::Stop
                        } else {
                            continue;
                        }
                    }
                },
                () = until_set(self.stop.clone()) => Next::Stop,
            };
            match next {
                Next::Job(job) => {
                    backoff.reset();
                    troubled = false;
                    let (job, signatures) = *job;
                    self.run_job(job, signatures).await;
                }
                Next::Idle => {
                    backoff.reset();
                    if std::mem::take(&mut troubled) {
                        notify::status(WAITING_FOR_JOBS);
                    }
                }
                Next::Stop => break,
            }
        }
    }

    async fn run_job(&self, job: Job, signatures: JobSignatures) {
        let job_id = job.job_id.clone();
        log::info!(
            "job {job_id} (scan {}): {} targets",
            job.scan_id,
            job.targets.len()
        );
        let creds = Arc::new(
            JobCredentials::with_vault_timeout(
                &job,
                self.identity.clone(),
                Duration::from_secs(u64::from(self.timeouts.vault_secs)),
            )
            .with_known_hosts(self.known_hosts.clone())
            .with_signature_gate(SignatureGate::for_job(&self.state_dir, signatures)),
        );
        let (cancel_tx, cancel_rx) = watch::channel(false);
        let heartbeat = tokio::spawn(heartbeat_loop(
            self.client.clone(),
            job_id.clone(),
            job.lease_secs,
            cancel_tx,
        ));
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let total = job.targets.len();
        let finished = Arc::new(AtomicUsize::new(0));
        notify::status(&format!("running job {job_id}: 0/{total} targets"));
        let mut running = JoinSet::new();
        for target in job.targets {
            let permit = tokio::select! {
                p = permits.clone().acquire_owned() => p,
                () = until_set(cancel_rx.clone()) => break,
                () = until_set(self.stop.clone()) => break,
            };
            let Ok(permit) = permit else { break };
            let (client, spool, creds, job_id, timeouts, finished) = (
                self.client.clone(),
                self.spool.clone(),
                creds.clone(),
                job_id.clone(),
                self.timeouts,
                finished.clone(),
            );
            running.spawn(async move {
                let post = scan::run_target(&job_id, creds, &target, &timeouts).await;
                drop(permit);
                deliver(&client, &spool, &job_id, post).await;
                let n = finished.fetch_add(1, Ordering::SeqCst) + 1;
                notify::status(&format!("running job {job_id}: {n}/{total} targets"));
            });
            while running.try_join_next().is_some() {}
        }
        let stopped = loop {
            let stop = self.stop.clone();
            let joined = tokio::select! {
                next = running.join_next() => next.is_some(),
                () = until_set(stop) => break true,
            };
            if !joined {
                break false;
            }
        };
        if stopped {
            let drain = async { while running.join_next().await.is_some() {} };
            if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
                log::warn!(
                    "job {job_id}: abandoning {} unfinished targets at shutdown; the control \
                     plane re-queues them when the lease ends",
                    running.len()
                );
                running.abort_all();
            }
        }
        heartbeat.abort();
        creds.finish().await;
        log::info!("job {job_id} done");
        notify::status(WAITING_FOR_JOBS);
    }

    /// Posts every spooled result; what cannot be delivered now stays for the next round.
    async fn flush_spool(&self) {
        let pending = match self.spool.pending() {
            Ok(p) => p,
            Err(e) => {
                log::error!("{e}");
                return;
            }
        };
        for entry in pending {
            match entry {
                Ok(entry) => {
                    if !post_spooled(&self.client, &self.spool, &entry).await {
                        return;
                    }
                }
                Err(e) => log::error!("{e}; left in place"),
            }
        }
    }

    async fn flush_spool_bounded(&self) {
        if tokio::time::timeout(Duration::from_secs(5), self.flush_spool())
            .await
            .is_err()
        {
            log::warn!(
                "results still in {} are posted at the next start",
                self.spool.dir().display()
            );
        }
    }

    /// Adds the new appliance as a recipient of every envelope the control plane asks about.
    async fn rewrap(&self) {
        let (work, signatures) = match self.client.rewrap_work().await {
            Ok(Some(work)) => work,
            Ok(None) => return,
            Err(e) => {
                log::debug!("rewrap work: {e}");
                return;
            }
        };
        let key = base64::engine::general_purpose::STANDARD
            .decode(work.new_public_key.as_bytes())
            .ok()
            .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok());
        let Some(new_key) = key else {
            log::error!(
                "rewrap for appliance {}: its public key is not 32 bytes of base64",
                work.new_appliance_id
            );
            return;
        };
        if let Err(why) = crate::trust::job::rewrap_allowed(
            &self.state_dir,
            &signatures,
            &work.new_appliance_id,
            &new_key,
        ) {
            log::error!(
                "rewrap for appliance {} refused: {why}",
                work.new_appliance_id
            );
            return;
        }
        let mut items = Vec::new();
        for item in &work.items {
            match sealed::add_recipient_as(
                &item.envelope,
                &item.binding,
                &self.identity.recipient(),
                &new_key,
            ) {
                Ok(envelope) => items.push(RewrappedItem {
                    item_id: item.item_id.clone(),
                    envelope,
                }),
                Err(detail) => log::warn!("rewrap of item {}: {detail}", item.item_id),
            }
        }
        if items.is_empty() {
            return;
        }
        let count = items.len();
        let submit = RewrapSubmit {
            new_appliance_id: work.new_appliance_id.clone(),
            items,
        };
        match self.client.rewrap_submit(&submit).await {
            Ok(()) => log::info!(
                "rewrapped {count} envelopes for appliance {}",
                work.new_appliance_id
            ),
            Err(e) => log::warn!("rewrap submission: {e}"),
        }
    }
}

async fn heartbeat_loop(
    client: ApiClient,
    job_id: String,
    lease_secs: u32,
    cancel: watch::Sender<bool>,
) {
    let mut lease = lease_secs.max(3);
    loop {
        tokio::time::sleep(Duration::from_secs(u64::from(lease / 3).max(1))).await;
        match client.heartbeat(&job_id).await {
            Ok(answer) => {
                lease = answer.lease_secs.max(3);
                if answer.cancel {
                    log::info!("job {job_id} cancelled by the control plane");
                    let _ = cancel.send(true);
                    return;
                }
            }
            Err(
                e @ ClientError::Refused {
                    status: 404 | 409 | 410,
                    ..
                },
            ) => {
                log::warn!("job {job_id}: {e}; stopping the job");
                let _ = cancel.send(true);
                return;
            }
            Err(e) => log::warn!("heartbeat for job {job_id}: {e}"),
        }
    }
}

/// Logs, spools and posts one result.
async fn deliver(client: &ApiClient, spool: &Spool, job_id: &str, post: ResultPost) {
    logging::log_outcome(
        &OutcomeContext {
            job_id,
            target: &post.host,
            record_id: post.record_id.as_deref(),
        },
        &post.outcome,
    );
    let entry = Spooled {
        job_id: job_id.to_string(),
        post,
    };
    if let Err(e) = spool.put(&entry) {
        log::error!("{e}; posting without a spooled copy");
    }
    post_spooled(client, spool, &entry).await;
}

/// Posts a spooled result; true when it left the spool (acknowledged, or refused for good).
async fn post_spooled(client: &ApiClient, spool: &Spool, entry: &Spooled) -> bool {
    let key = &entry.post.idempotency_key;
    let done = match client.post_result(&entry.job_id, &entry.post).await {
        Ok(ack) => {
            if ack.duplicate {
                log::info!("result {key} was already recorded");
            }
            true
        }
        // The job is gone, is another appliance's now (403 `job.not-yours`: its lease ran
        // out and the target runs again there), or the body was refused: re-posting cannot
        // change that, and keeping it would re-post it forever.
        Err(
            e @ ClientError::Refused {
                status: 400 | 403 | 404 | 409 | 410 | 422,
                ..
            },
        ) => {
            log::error!("result {key} refused for good: {e}; dropped from the spool");
            true
        }
        Err(e) => {
            log::warn!("result {key} kept in the spool: {e}");
            false
        }
    };
    if done && let Err(e) = spool.remove(key) {
        log::error!("{e}");
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter_in_the_upper_half() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1));
        for _ in 0..20 {
            assert!(b.next_delay() <= Duration::from_secs(60));
        }
        let capped = b.next_delay();
        assert!(capped >= Duration::from_secs(30), "{capped:?}");
        b.reset();
        assert!(b.next_delay() <= Duration::from_secs(1));
    }
}
