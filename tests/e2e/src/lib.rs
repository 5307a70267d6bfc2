//! Shared pieces of the end-to-end tests: jobs as the control plane hands them to the agent
//! (`sealscan_protocols::appliance`), and running them through the agent's own job code; the
//! real control plane for tests ([`control_plane`]) and the real agent binary run against it
//! ([`agent`]); many loopback targets for the fault tests ([`loopback_fleet`]); vault records
//! and the Secret Server simulator ([`vault`]).

use sealscan_agent::arena::Arena;
use sealscan_agent::config::Timeouts;
use sealscan_agent::identity::IdentityKey;
use sealscan_agent::resolve::{self, JobCredentials};
use sealscan_agent::scan;
use sealscan_protocols::appliance::{
    Job, JobRecord, JobTarget, JobVault, RecordKind, RecordLogin, ResultPost, SecretField,
    SecretFieldName, SecretValue, WindowsDomainType, WindowsOptions, WireSecret,
};
use sealscan_protocols::envelope::{self, Binding};
use sealscan_protocols::results::{LoginKind, LoginOutcome, Status, Step};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A legacy-model secret field, as the control plane puts it in a job before NCSM.
pub fn legacy(field: SecretFieldName, value: &[u8]) -> SecretField {
    SecretField {
        field,
        value: SecretValue::Legacy {
            value: WireSecret::new(value),
        },
    }
}

/// A sealed field holding `envelope` (its text form).
pub fn sealed(field: SecretFieldName, envelope: &str) -> SecretField {
    SecretField {
        field,
        value: SecretValue::Sealed {
            envelope: envelope.to_string(),
        },
    }
}

pub fn unix_record(id: &str, user: &str, secrets: Vec<SecretField>) -> JobRecord {
    JobRecord {
        record_id: id.into(),
        title: format!("unix {id}"),
        kind: RecordKind::Unix,
        user: user.into(),
        domain: None,
        windows: None,
        unix: None,
        login: RecordLogin::Basic { secrets },
        address_ranges: Vec::new(),
    }
}

pub fn windows_options(domain_type: WindowsDomainType, service_selected: bool) -> WindowsOptions {
    WindowsOptions {
        domain_type,
        service_selected,
        ntlmv2: true,
        require_signing: false,
        min_smb_version: "2.0.2".into(),
    }
}

pub fn windows_record(
    id: &str,
    user: &str,
    domain: Option<&str>,
    options: WindowsOptions,
    login: RecordLogin,
) -> JobRecord {
    JobRecord {
        record_id: id.into(),
        title: format!("windows {id}"),
        kind: RecordKind::Windows,
        user: user.into(),
        domain: domain.map(Into::into),
        windows: Some(options),
        unix: None,
        login,
        address_ranges: Vec::new(),
    }
}

pub fn vault_login(vault_id: &str, secret_name: &str) -> RecordLogin {
    RecordLogin::Vault {
        vault_id: vault_id.into(),
        secret_name: secret_name.into(),
        folder: None,
        secret_id: None,
        unix_auth: None,
    }
}

/// A Secret Server vault whose web-service password travels as a legacy secret.
pub fn vault(id: &str, url: &str, user: &str, password: &[u8]) -> JobVault {
    JobVault {
        vault_id: id.into(),
        title: format!("vault {id}"),
        url: url.into(),
        user: user.into(),
        domain: None,
        organization: None,
        verify_tls: true,
        ca_pem: None,
        api: "rest".into(),
        password: SecretValue::Legacy {
            value: WireSecret::new(password),
        },
    }
}

pub fn target(id: &str, kind: LoginKind, port: u16, record_id: Option<&str>) -> JobTarget {
    JobTarget {
        target_id: id.into(),
        host: "127.0.0.1".into(),
        kind,
        port: Some(port),
        record_id: record_id.map(Into::into),
    }
}

pub fn job(targets: Vec<JobTarget>, records: Vec<JobRecord>, vaults: Vec<JobVault>) -> Job {
    Job {
        job_id: "job-e2e".into(),
        scan_id: "scan-e2e".into(),
        lease_secs: 60,
        targets,
        records,
        vaults,
    }
}

/// Bounds for stuck peers, not measurements: loopback logins take a fraction of them.
pub fn timeouts() -> Timeouts {
    Timeouts {
        unix_secs: 30,
        windows_secs: 30,
        vault_secs: 30,
    }
}

/// An appliance identity held as the agent holds it: in a locked arena.
pub struct Appliance {
    _arena: Arena,
    pub identity: Arc<IdentityKey>,
}

impl Appliance {
    pub fn new() -> Self {
        let arena = Arena::new().expect("locked arena (tests run as root)");
        let identity = Arc::new(IdentityKey::generate(&arena).expect("identity key"));
        Self {
            _arena: arena,
            identity,
        }
    }

    /// Seals `plaintext` to this appliance as the operator's CLI would, bound to `fields`.
    pub fn seal(&self, fields: &Binding, plaintext: &[u8]) -> String {
        seal_to(self.identity.public_key(), fields, plaintext)
    }
}

impl Default for Appliance {
    fn default() -> Self {
        Self::new()
    }
}

/// Seals `plaintext` to `public_key`, bound to `fields`; the envelope's text form.
pub fn seal_to(public_key: &[u8; 32], fields: &Binding, plaintext: &[u8]) -> String {
    envelope::seal(plaintext, fields, &[*public_key])
        .expect("seal")
        .to_text()
}

/// The envelope with one ciphertext byte flipped: still well-formed, no longer authentic.
pub fn tamper(envelope_text: &str) -> String {
    let envelope = envelope::Envelope::from_text(envelope_text).expect("envelope");
    let mut bytes = envelope.to_bytes();
    // The payload is a 12-byte nonce, a u32 length, then the ciphertext (docs/ncsm-envelope.md,
    // section 4): flip the ciphertext's first byte.
    let at = envelope.header_bytes().len() + 12 + 4;
    if let Some(b) = bytes.get_mut(at) {
        *b ^= 0x01;
    }
    envelope::Envelope::from_bytes(&bytes)
        .expect("a flipped ciphertext byte still parses")
        .to_text()
}

/// What a record's secret is bound to (`record_kind` "unix"/"windows", as the contract says).
pub fn record_fields(record: &JobRecord, field: SecretFieldName) -> Binding {
    resolve::record_binding(record, field)
}

/// What a vault's web-service password is bound to.
pub fn vault_fields(vault: &JobVault) -> Binding {
    resolve::vault_binding(vault)
}

/// Runs every target of `job` as the daemon does (one credential source per job, vault
/// sessions finished at the end) with a fresh appliance key.
pub fn run_job(job: &Job, timeouts: Timeouts) -> Vec<ResultPost> {
    run_job_as(&Appliance::new(), job, timeouts)
}

/// [`run_job`] as `appliance`, which envelopes in the job may be sealed to.
pub fn run_job_as(appliance: &Appliance, job: &Job, timeouts: Timeouts) -> Vec<ResultPost> {
    let identity = appliance.identity.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let creds = Arc::new(JobCredentials::new(job, identity));
        let mut tasks = Vec::new();
        for t in &job.targets {
            let (creds, t, job_id) = (creds.clone(), t.clone(), job.job_id.clone());
            tasks.push(tokio::spawn(async move {
                scan::run_target(&job_id, creds, &t, &timeouts).await
            }));
        }
        let mut posts = Vec::new();
        for task in tasks {
            posts.push(task.await.expect("target task"));
        }
        creds.finish().await;
        posts
    })
}

/// The result for `target_id`.
pub fn result<'a>(posts: &'a [ResultPost], target_id: &str) -> &'a LoginOutcome {
    &posts
        .iter()
        .find(|p| p.target_id == target_id)
        .unwrap_or_else(|| panic!("no result for {target_id}"))
        .outcome
}

pub fn cause_text(o: &LoginOutcome) -> String {
    o.cause
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// Asserts status, QID, step and words of the cause; prints the cause an operator reads.
pub fn assert_outcome(o: &LoginOutcome, status: Status, qid: u32, step: Step, words: &[&str]) {
    eprintln!("{:?} {} {}", o.status, o.qid, cause_text(o));
    assert_eq!(o.status, status, "{o:#?}");
    assert_eq!(o.qid, qid, "{o:#?}");
    let cause = o
        .cause
        .as_ref()
        .expect("a result that did not pass has a cause");
    assert_eq!(cause.step, step, "{o:#?}");
    for w in words {
        assert!(cause.detail.contains(w), "{w:?} not in {o:#?}");
    }
}

/// Caps on waiting for a broken run, never measurements.
pub const BOUND: Duration = Duration::from_secs(120);

/// Waits until `done` holds. `bound` caps how long a broken run can hang the suite; it is not
/// a measurement, and the message says what never happened.
pub fn wait_until(what: &str, bound: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + bound;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `n` random bytes as hex: canaries and passwords no other test shares.
pub fn random_hex(n: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("/dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every file below `dir`.
pub fn walk(dir: std::path::PathBuf) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

pub mod agent;
pub mod control_plane;
pub mod loopback_fleet;
pub mod vault;
