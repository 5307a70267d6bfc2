//! The real `sealscan-agent` binary end to end: enroll, wait for approval, claim a job by
//! long-poll, log in to real sshd and smbd, post results, keep unacknowledged results in its
//! spool across a restart, stop cleanly on SIGTERM, and leave no trace of a secret.
//!
//! The control plane's appliance endpoints are being built in parallel; until they land these
//! tests serve the fixed contract (`sealscan_protocols::appliance`) from `contract.rs` over
//! real HTTPS.

use sealscan_e2e::agent::{AgentHome, scan_memory, wait_until};
use sealscan_e2e::contract::{self, ContractServer, results_by_target};
use sealscan_e2e::*;
use sealscan_protocols::appliance::{Job, SecretFieldName, WindowsDomainType};
use sealscan_protocols::results::{LoginKind, Status, Step};
use sealscan_test_peers::smbd::{Smbd, SmbdOptions};
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::{closed_loopback_port, ensure_user};
use std::net::TcpListener;
use std::time::Duration;

const USER: &str = "e2e_daemon";
const PW: &str = "e2e-Daemon-Pw-83";
const TOKEN: &str = "enr_e2e_token";
/// Caps on waiting for a broken run, never measurements.
const BOUND: Duration = Duration::from_secs(120);

fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn start_contract(rt: &tokio::runtime::Runtime) -> ContractServer {
    rt.block_on(contract::start(TOKEN))
}

fn pw(value: &str) -> Vec<sealscan_protocols::appliance::SecretField> {
    vec![legacy(SecretFieldName::Password, value.as_bytes())]
}

fn with_id(mut job: Job, id: &str) -> Job {
    job.job_id = id.into();
    job
}

#[test]
fn enroll_approve_scan_and_stop_on_sigterm() {
    ensure_user(USER, PW);
    let sshd = Sshd::start(&SshdOptions::default());
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    let rt = server_runtime();
    let cp = start_contract(&rt);
    let home = AgentHome::new(&cp.url(), &cp.ca_pem, 4);

    let out = home.enroll(&cp.url(), TOKEN, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (id, appliance) = cp
        .shared
        .with(|s| s.appliances.clone().into_iter().next())
        .expect("an enrolled appliance");
    assert_eq!(appliance.name, "e2e-agent");
    // The fingerprint the operator compares is the one of the key the control plane got.
    let key = base64_decode(&appliance.public_key);
    let fingerprint = sealscan_protocols::identity::fingerprint(&key);
    assert!(stdout.contains(&fingerprint), "{stdout}");
    assert!(stdout.contains(&id), "{stdout}");
    for f in ["enrollment.json", "identity.key"] {
        let mode = file_mode(&home.state_dir().join(f));
        assert_eq!(mode, 0o600, "{f}");
    }
    // A used token is refused by name.
    let again = home.enroll(&cp.url(), TOKEN, &[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("HTTP 401"));

    // `run` before approval waits for it.
    let agent = home.run();
    wait_until("the agent polls for approval", BOUND, || {
        home.stderr().contains("waiting for a Manager to approve")
    });
    cp.shared.approve_all();
    wait_until("the agent stores its credential", BOUND, || {
        home.state_dir().join("credential").exists()
    });
    assert_eq!(file_mode(&home.state_dir().join("credential")), 0o600);

    let mut job = job(
        vec![
            target("right", LoginKind::Unix, sshd.port(), Some("r1")),
            target("wrong", LoginKind::Unix, sshd.port(), Some("r2")),
            target("silent", LoginKind::Unix, silent_port, Some("r1")),
        ],
        vec![
            unix_record("r1", USER, pw(PW)),
            unix_record("r2", USER, pw("nope")),
        ],
        vec![],
    );
    // A short lease: the silent target's timeout outlasts a heartbeat interval.
    job.lease_secs = 3;
    cp.shared.push_job(with_id(job, "job-1"));
    wait_until("three results", BOUND, || {
        results_by_target(&cp.shared).len() == 3
    });
    let results = results_by_target(&cp.shared);
    let right = &results["right"];
    assert_eq!(right.outcome.status, Status::Passed, "{right:#?}");
    assert_eq!(right.outcome.qid, 38307);
    assert_eq!(right.record_id.as_deref(), Some("r1"));
    assert_eq!(right.idempotency_key, "job-1/right/unix");
    assert_outcome(
        &results["wrong"].outcome,
        Status::Failed,
        105053,
        Step::Authentication,
        &[USER],
    );
    assert_outcome(
        &results["silent"].outcome,
        Status::TimedOut,
        115263,
        Step::Negotiate,
        &[],
    );
    assert!(cp.shared.with(|s| s.heartbeats) >= 1, "no heartbeat");
    wait_until("an empty spool", BOUND, || home.spooled().is_empty());

    let status = agent.terminate();
    assert_eq!(status.code(), Some(0), "{}", home.stderr());
    let log = home.stderr();
    assert!(
        log.contains("QID=38307") || log.contains("QID 38307"),
        "{log}"
    );
    assert!(log.contains("SIGTERM received"), "{log}");
    assert!(!log.contains(PW), "the password reached stderr:\n{log}");
}

#[test]
fn unacknowledged_results_stay_spooled_and_are_reposted_once_after_a_restart() {
    ensure_user(USER, PW);
    let sshd = Sshd::start(&SshdOptions::default());
    let (_closed, closed_port) = closed_loopback_port();
    let rt = server_runtime();
    let cp = start_contract(&rt);
    let home = AgentHome::new(&cp.url(), &cp.ca_pem, 2);

    // `enroll --wait` returns once a Manager approves.
    let mut enroll = home
        .command()
        .args(["enroll", "--url", &cp.url(), "--token", TOKEN, "--wait"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("enroll --wait");
    wait_until("the enrollment reaches the control plane", BOUND, || {
        cp.shared.with(|s| !s.appliances.is_empty())
    });
    cp.shared.approve_all();
    let status = enroll.wait().expect("enroll exits");
    assert!(status.success(), "enroll --wait failed");
    assert!(home.state_dir().join("credential").exists());

    // The control plane records each result but the acknowledgement never arrives.
    cp.shared.with(|s| s.lose_acks = true);
    cp.shared.push_job(with_id(
        job(
            vec![
                target("ok", LoginKind::Unix, sshd.port(), Some("r1")),
                target("closed", LoginKind::Unix, closed_port, Some("r1")),
            ],
            vec![unix_record("r1", USER, pw(PW))],
            vec![],
        ),
        "job-2",
    ));
    let agent = home.run();
    wait_until("both results reach the control plane", BOUND, || {
        results_by_target(&cp.shared).len() == 2
    });
    wait_until("both results are spooled", BOUND, || {
        home.spooled().len() == 2
    });
    let status = agent.terminate();
    assert_eq!(status.code(), Some(0), "{}", home.stderr());
    assert_eq!(home.spooled().len(), 2, "unacknowledged results must stay");
    for file in home.spooled() {
        let text = std::fs::read_to_string(&file).expect("spool entry");
        assert!(!text.contains(PW), "secret in the spool: {text}");
        assert_eq!(file_mode(&file), 0o600);
    }

    cp.shared.with(|s| s.lose_acks = false);
    let agent = home.run();
    wait_until("the spool drains after the restart", BOUND, || {
        home.spooled().is_empty()
    });
    let status = agent.terminate();
    assert_eq!(status.code(), Some(0), "{}", home.stderr());
    let (recorded, duplicates) = cp.shared.with(|s| (s.results.len(), s.duplicates));
    assert_eq!(recorded, 2, "each result recorded once");
    assert!(duplicates >= 2, "the re-posts were recognised as repeats");
    let results = results_by_target(&cp.shared);
    assert_eq!(results["ok"].outcome.qid, 38307);
    assert_outcome(
        &results["closed"].outcome,
        Status::NotAttempted,
        105297,
        Step::Connect,
        &["connection refused"],
    );
}

#[test]
fn a_canary_secret_leaves_no_trace_in_memory_stderr_or_spool() {
    // Distinctive and random per run, so a hit can only come from this job.
    let canary = format!("Cnry-{}-x9", random_hex(12));
    let unix_user = "e2e_canary";
    let win_user = "e2e_cwin";
    ensure_user(unix_user, &canary);
    let sshd = Sshd::start(&SshdOptions::default());
    let smbd = Smbd::start(SmbdOptions::default());
    smbd.add_user(win_user, &canary);
    let rt = server_runtime();
    let cp = start_contract(&rt);
    let home = AgentHome::new(&cp.url(), &cp.ca_pem, 2);
    let out = home.enroll(&cp.url(), TOKEN, &[]);
    assert!(out.status.success());
    cp.shared.approve_all();
    let mut agent = home.run();
    // The Unix secret arrives sealed to the agent's key (NCSM), the Windows one as a legacy
    // secret inside the job: both models are covered.
    let agent_key = cp
        .shared
        .with(|s| s.appliances.values().next().map(|a| a.public_key.clone()))
        .expect("appliance");
    let mut unix = unix_record("ru", unix_user, vec![]);
    let envelope = seal_to(
        &base64_decode(&agent_key),
        &record_fields(&unix, SecretFieldName::Password),
        canary.as_bytes(),
    );
    unix.login = sealscan_protocols::appliance::RecordLogin::Basic {
        secrets: vec![sealed(SecretFieldName::Password, &envelope)],
    };
    cp.shared.push_job(with_id(
        job(
            vec![
                target("u", LoginKind::Unix, sshd.port(), Some("ru")),
                target("w", LoginKind::Windows, smbd.port(), Some("rw")),
            ],
            vec![
                unix,
                windows_record(
                    "rw",
                    win_user,
                    None,
                    windows_options(WindowsDomainType::None, false),
                    sealscan_protocols::appliance::RecordLogin::Basic {
                        secrets: pw(&canary),
                    },
                ),
            ],
            vec![],
        ),
        "job-canary",
    ));
    wait_until("both results", BOUND, || {
        results_by_target(&cp.shared).len() == 2
    });
    wait_until("an empty spool", BOUND, || home.spooled().is_empty());
    wait_until("the job ends", BOUND, || {
        home.stderr().contains("job job-canary done")
    });
    let results = results_by_target(&cp.shared);
    for id in ["u", "w"] {
        let o = &results[id].outcome;
        assert_eq!(o.status, Status::Passed, "{id}: {}", cause_text(o));
    }
    assert!(agent.exited().is_none(), "the agent must still be running");

    let utf16: Vec<u8> = canary.encode_utf16().flat_map(u16::to_le_bytes).collect();
    // A positive control: the appliance credential the running agent holds must be found,
    // or the scan proves nothing.
    let credential = cp
        .shared
        .with(|s| s.appliances.values().next().map(|a| a.credential.clone()))
        .expect("appliance");
    let (hits, coverage) = scan_memory(
        agent.pid(),
        &[canary.as_bytes(), &utf16, credential.as_bytes()],
    );
    let (control, hits): (Vec<_>, Vec<_>) = hits.into_iter().partition(|h| h.0 == 2);
    assert!(
        !control.is_empty(),
        "the scan did not find the live credential"
    );
    eprintln!(
        "scanned {} bytes of writable memory (heap {}, stack {}); unreadable: {:?}",
        coverage.bytes, coverage.heap, coverage.stack, coverage.unreadable
    );
    assert!(coverage.heap && coverage.stack, "{coverage:?}");
    assert!(
        hits.is_empty(),
        "the canary is still in the agent's memory after the job: {hits:#x?}"
    );
    let status = agent.terminate();
    assert_eq!(status.code(), Some(0));

    let log = home.stderr();
    assert!(!log.contains(&canary), "canary in stderr:\n{log}");
    for entry in walk(home.state_dir()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !contains(&bytes, canary.as_bytes()) && !contains(&bytes, &utf16),
            "canary in {}",
            entry.display()
        );
    }
}

fn walk(dir: std::path::PathBuf) -> Vec<std::path::PathBuf> {
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

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn random_hex(n: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("/dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn file_mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn base64_decode(text: &str) -> [u8; 32] {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64 public key");
    <[u8; 32]>::try_from(bytes.as_slice()).expect("32-byte key")
}
