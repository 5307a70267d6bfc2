//! The running agent under systemd and through control-plane trouble, against the real control
//! plane (in process: HTTPS, SQLite): sd_notify READY (before approval), STATUS, WATCHDOG and
//! STOPPING; a control plane that goes away and comes back; rewrap work for a newly approved
//! appliance; leases that expire; bounded concurrency; SIGTERM with a login in flight.

use reqwest::Method;
use sealscan_control::clock::Clock;
use sealscan_e2e::agent::{AgentHome, RunningAgent, scan_memory};
use sealscan_e2e::control_plane::*;
use sealscan_e2e::{BOUND, contains, random_hex, wait_until, walk};
use sealscan_protocols::appliance::{EnrollPollRequest, EnrollRequest, EnrollState, Job};
use sealscan_protocols::envelope::PrivateKey;
use sealscan_test_peers::faulty::{established_to, unanswered_on_each};
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::ensure_user;
use serde_json::json;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// The job lease of the tests that wait for a heartbeat.
const LEASE: u32 = 6;

const USER: &str = "e2e_resil";
const PW: &str = "e2e-Resil-Pw-29";

/// What the agent told the notify socket, in order.
struct Notifications {
    socket: UnixDatagram,
    path: String,
    seen: Vec<String>,
}

impl Notifications {
    fn bind(home: &AgentHome) -> Self {
        let path = home.dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("notify socket");
        socket
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("read timeout");
        Notifications {
            socket,
            path: path.to_str().expect("utf-8 path").to_string(),
            seen: Vec::new(),
        }
    }

    /// `run` as systemd starts a Type=notify unit with WatchdogSec.
    fn run(&self, home: &AgentHome) -> RunningAgent {
        // 400 ms: the agent pings every 200 ms.
        home.run_with_env(&[("NOTIFY_SOCKET", &self.path), ("WATCHDOG_USEC", "400000")])
    }

    /// Reads datagrams until one satisfies `wanted`; returns it.
    fn until(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let mut buf = [0u8; 4096];
        loop {
            let n = self.socket.recv(&mut buf).unwrap_or_else(|e| {
                let last: Vec<_> = self.seen.iter().rev().take(10).collect();
                panic!("no {what} from the agent ({e}); last: {last:?}")
            });
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            self.seen.push(message.clone());
            if wanted(&message) {
                return message;
            }
        }
    }
}

#[test]
fn systemd_hears_ready_before_approval_then_status_watchdog_and_stopping() {
    ensure_user(USER, PW);
    let sshd = Sshd::start(&SshdOptions::default());
    let plane = ControlPlane::start();
    plane.unix_password_record("resil", USER, &["127.0.0.1"], PW);
    let (home, id) = plane.enroll(2);
    let fingerprint = plane.appliances()[0]["fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_string();
    let mut notes = Notifications::bind(&home);

    // Unapproved: READY at once (systemctl start returns), saying what it waits for, and the
    // watchdog fed while it waits. SIGTERM then is an ordinary stop.
    let agent = notes.run(&home);
    let ready = notes.until("READY=1", |m| m.contains("READY=1"));
    assert!(
        ready.contains(&format!(
            "STATUS=waiting for approval (fingerprint {fingerprint})"
        )),
        "{ready:?}"
    );
    notes.until("WATCHDOG=1 while waiting", |m| m.contains("WATCHDOG=1"));
    assert_eq!(plane.appliances()[0]["state"], "pending");
    let status = agent.terminate();
    notes.until("STOPPING=1", |m| m.contains("STOPPING=1"));
    assert_eq!(status.code(), Some(0), "{}", home.stderr());
    assert!(!home.state_dir().join("credential").exists());

    // Started again, approved while it runs: STATUS follows approval and the job's progress.
    let agent = notes.run(&home);
    notes.until("READY=1", |m| {
        m.contains("READY=1") && m.contains("waiting for approval")
    });
    plane.approve(&id);
    notes.until("STATUS=waiting for jobs", |m| {
        m.contains("STATUS=waiting for jobs")
    });
    let scan = plane.scan(
        json!({"title": "notify", "targets": ["127.0.0.1"], "kinds": "unix",
                                 "ports": {"unix": sshd.port()}}),
    );
    notes.until("the job's progress", |m| {
        m.contains("STATUS=running job") && m.contains(": 1/1 targets")
    });
    notes.until("idle again", |m| m.contains("STATUS=waiting for jobs"));
    let rows = plane.wait_results(&scan, 1);
    assert_eq!(row(&rows, "127.0.0.1", "unix")["qid"], 38307, "{rows:?}");
    notes.until("WATCHDOG=1 while approved", |m| m.contains("WATCHDOG=1"));
    let status = agent.terminate();
    notes.until("STOPPING=1", |m| m.contains("STOPPING=1"));
    assert_eq!(status.code(), Some(0), "{}", home.stderr());
    let started = notes.seen.iter().position(|m| m.contains("running job"));
    let stopping = notes.seen.iter().rposition(|m| m.contains("STOPPING=1"));
    assert!(started < stopping, "{:?}", notes.seen);
}

#[test]
fn losing_the_control_plane_means_back_off_and_retry_not_exit() {
    ensure_user(USER, PW);
    let sshd = Sshd::start(&SshdOptions::default());
    let mut plane = ControlPlane::start();
    plane.unix_password_record("resil", USER, &["127.0.0.1"], PW);
    let (home, _) = plane.enroll_approved(2);
    let mut agent = home.run();
    wait_until("the agent is running", BOUND, || {
        home.stderr().contains("sealscan-agent running")
    });

    plane.stop();
    wait_until("the agent notices and backs off", BOUND, || {
        home.stderr().contains("claim failed")
    });
    wait_until("a second retry", BOUND, || {
        home.stderr().matches("claim failed").count() >= 2
    });
    assert!(
        agent.exited().is_none(),
        "the agent exited:\n{}",
        home.stderr()
    );

    plane.restart();
    let scan = plane.scan(
        json!({"title": "back", "targets": ["127.0.0.1"], "kinds": "unix",
                                 "ports": {"unix": sshd.port()}}),
    );
    let rows = plane.wait_results(&scan, 1);
    let unix = row(&rows, "127.0.0.1", "unix");
    assert_eq!(unix["status"], "passed", "{unix}");
    assert_eq!(unix["qid"], 38307, "{unix}");
    assert!(home.stderr().contains("retrying in"), "{}", home.stderr());
    assert_eq!(agent.terminate().code(), Some(0));
}

#[test]
fn rewrap_lets_a_newly_approved_appliance_open_the_sealed_records() {
    // The record's password is a random canary: after the second appliance's scan it must be
    // in neither agent's stderr or state, nor in the second agent's memory.
    let canary = format!("Cnry-rw-{}-q", random_hex(10));
    let user = "e2e_rewrap";
    ensure_user(user, &canary);
    let sshd = Sshd::start(&SshdOptions::default());
    let mut plane = ControlPlane::start();
    let (first, _) = plane.enroll_approved(2);
    let first_agent = first.run();
    wait_until("the first agent is running", BOUND, || {
        first.stderr().contains("sealscan-agent running")
    });
    let record = plane.record(password_record(
        "unix",
        "sealed",
        user,
        &["127.0.0.1"],
        canary.as_bytes(),
    ));
    // NCSM: the migration seals the password to the one approved appliance.
    plane.activate_ncsm();
    let recipients = |plane: &ControlPlane| {
        let view = plane.call(Method::GET, &format!("/api/v1/records/{record}"), None);
        let text = view.to_string();
        assert!(text.contains("\"sealed\""), "{view}");
        assert!(!text.contains(&canary));
        view["secrets"][0]["recipients"]
            .as_array()
            .map_or(0, Vec::len)
    };
    assert_eq!(recipients(&plane), 1);

    let (second, second_id) = plane.enroll(2);
    let approval = plane.approve(&second_id);
    assert_eq!(approval["rewrap_pending"], 1, "{approval}");
    // The first agent, woken from its long-poll by the approval, adds the newcomer's entry.
    wait_until("the first agent rewraps", BOUND, || {
        first
            .stderr()
            .contains(&format!("rewrapped 1 envelopes for appliance {second_id}"))
    });
    assert_eq!(recipients(&plane), 2);

    // A scan pinned to the newcomer: it opens the rewrapped envelope and logs in.
    let second_agent = second.run();
    let scan = plane.scan(json!({"title": "rewrapped", "targets": ["127.0.0.1"],
                                 "kinds": "unix", "appliance": second_id,
                                 "ports": {"unix": sshd.port()}}));
    let rows = plane.wait_results(&scan, 1);
    let unix = row(&rows, "127.0.0.1", "unix");
    assert_eq!(unix["status"], "passed", "{unix}");
    assert_eq!(unix["appliance_id"], second_id.as_str(), "{unix}");
    assert_eq!(sshd.accepted_for(user).len(), 1, "{}", sshd.auth_log());
    wait_until("the job ends on the second agent", BOUND, || {
        second.stderr().contains(" done")
    });
    let utf16: Vec<u8> = canary.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let (hits, coverage) = scan_memory(second_agent.pid(), &[canary.as_bytes(), &utf16]);
    assert!(coverage.heap && coverage.stack, "{coverage:?}");
    assert!(hits.is_empty(), "canary in the agent's memory: {hits:#x?}");
    assert_eq!(second_agent.terminate().code(), Some(0));
    assert_eq!(first_agent.terminate().code(), Some(0));
    for home in [&first, &second] {
        assert!(!home.stderr().contains(&canary));
        for file in walk(home.state_dir()) {
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(!contains(&bytes, canary.as_bytes()), "{}", file.display());
        }
    }
}

/// Enrolls a second appliance the way the agent does, over the appliance API, approves it,
/// and claims once without waiting: the job it gets, if any.
fn claim_as_another_appliance(plane: &ControlPlane) -> Option<Job> {
    let key = PrivateKey::generate().expect("key");
    let (status, enrolled) = plane.request(
        Method::POST,
        "/api/v1/appliance/enroll",
        None,
        Some(
            serde_json::to_value(EnrollRequest {
                token: plane.enrollment_token(),
                name: "other".into(),
                public_key: b64(&key.public_key()),
            })
            .expect("json"),
        ),
    );
    assert!(status.is_success(), "{status} {enrolled}");
    let appliance_id = enrolled["appliance_id"].as_str().expect("id").to_string();
    plane.approve(&appliance_id);
    let poll = EnrollPollRequest {
        appliance_id,
        poll_secret: enrolled["poll_secret"].as_str().expect("secret").into(),
    };
    let (_, state) = plane.request(
        Method::POST,
        "/api/v1/appliance/enroll/poll",
        None,
        Some(serde_json::to_value(poll).expect("json")),
    );
    let Ok(EnrollState::Approved { credential }) = serde_json::from_value(state.clone()) else {
        panic!("no credential: {state}");
    };
    let (status, job) = plane.request(
        Method::POST,
        "/api/v1/appliance/jobs/claim",
        Some(&credential),
        Some(json!({"wait_secs": 0})),
    );
    assert!(status.is_success(), "{status} {job}");
    serde_json::from_value(job).ok()
}

#[test]
fn an_expired_lease_goes_to_another_appliance_and_the_holder_starts_no_further_target() {
    // A 6 s lease: the agent heartbeats every 2 s (a third of the lease the claim carries).
    let plane = ControlPlane::with_manual_clock_and_lease(LEASE);
    // One target at a time, each held by a silent listener for the 5 s login bound, so a
    // heartbeat comes while the first target runs.
    let (home, _) = plane.enroll_approved(1);
    home.set_unix_timeout(5);
    let hosts = [
        "127.0.0.21",
        "127.0.0.22",
        "127.0.0.23",
        "127.0.0.24",
        "127.0.0.25",
    ];
    let (_silent, port) = unanswered_on_each(&hosts);
    plane.unix_password_record("lease", USER, &["127.0.0.21-127.0.0.25"], PW);
    let agent = home.run();
    let scan = plane.scan(
        json!({"title": "lease", "targets": ["127.0.0.21-127.0.0.25"],
                                 "kinds": "unix", "ports": {"unix": port}}),
    );
    plane.wait_claimed(&scan);
    wait_until("the first login is in flight", BOUND, || {
        established_to(port) == 1
    });
    // The holder's lease runs out; another appliance claims the job's unfinished targets.
    plane.advance(i64::from(LEASE) + 1);
    let job = claim_as_another_appliance(&plane).expect("the re-queued job");
    assert_eq!(job.targets.len(), 5, "{job:?}");
    wait_until("the holder's heartbeat hears of it", BOUND, || {
        home.stderr().contains("cancelled by the control plane")
    });
    wait_until("the holder's job ends", BOUND, || {
        home.stderr().contains(" done")
    });
    let log = home.stderr();
    let started = log.matches("QID=115263").count();
    assert!(
        started < hosts.len(),
        "a cancelled job kept starting targets ({started} logins):\n{log}"
    );
    // The holder's late results are not the new holder's: nothing is recorded for them.
    wait_until("the holder's spool drains", BOUND, || {
        home.spooled().is_empty()
    });
    assert!(
        plane.results(&scan).is_empty(),
        "{:?}",
        plane.results(&scan)
    );
    assert_eq!(agent.terminate().code(), Some(0));
}

#[test]
fn enroll_refuses_what_it_cannot_trust_by_name() {
    let plane = ControlPlane::start();
    let token = plane.enrollment_token();
    let home = AgentHome::new(&plane.url(), &plane.ca_pem, 1);
    let plain = home.enroll("http://127.0.0.1:1", &token, &[]);
    assert!(!plain.status.success());
    assert!(String::from_utf8_lossy(&plain.stderr).contains("must be an https:// URL"));
    let missing = home.enroll(&plane.url(), &token, &["--ca-file", "/nonexistent/ca.pem"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/ca.pem"));
    // A CA that did not sign the server (another control plane's): a TLS failure, and the
    // token is still unused.
    let other = ControlPlane::start();
    let wrong_ca = home.dir.path().join("other-ca.pem");
    std::fs::write(&wrong_ca, &other.ca_pem).expect("write CA");
    let untrusted = home.enroll(
        &plane.url(),
        &token,
        &["--ca-file", wrong_ca.to_str().expect("path")],
    );
    assert!(!untrusted.status.success());
    let err = String::from_utf8_lossy(&untrusted.stderr).into_owned();
    assert!(
        err.contains("unreachable") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
    assert!(plane.appliances().is_empty());
    let out = home.enroll(&plane.url(), &token, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(plane.appliances().len(), 1);
}

#[test]
fn targets_run_with_bounded_concurrency() {
    let plane = ControlPlane::start();
    let (home, _) = plane.enroll_approved(2);
    // Never accepted or answered: each connection stays open until its 5 s login bound.
    let hosts = [
        "127.0.0.31",
        "127.0.0.32",
        "127.0.0.33",
        "127.0.0.34",
        "127.0.0.35",
        "127.0.0.36",
    ];
    let (_silent, port) = unanswered_on_each(&hosts);
    plane.unix_password_record("bounded", USER, &["127.0.0.31-127.0.0.36"], PW);
    let agent = home.run();
    let scan = plane.scan(
        json!({"title": "bounded", "targets": ["127.0.0.31-127.0.0.36"],
                                 "kinds": "unix", "ports": {"unix": port}}),
    );
    let mut most = 0;
    let mut rows = Vec::new();
    wait_until("all six results", BOUND, || {
        most = most.max(established_to(port));
        rows = plane.results(&scan);
        rows.len() == hosts.len()
    });
    assert_eq!(
        most, 2,
        "at most `concurrency` logins at once, and that many in parallel"
    );
    for r in &rows {
        assert_eq!(r["status"], "timed_out", "{r}");
        assert_eq!(r["qid"], 115263, "{r}");
    }
    assert_eq!(agent.terminate().code(), Some(0));
}

#[test]
fn sigterm_abandons_a_login_that_outlasts_the_grace_and_the_lease_brings_it_back() {
    let plane = ControlPlane::with_manual_clock();
    let (home, _) = plane.enroll_approved(1);
    // A login bound (60 s) longer than the agent's shutdown grace (15 s).
    home.set_unix_timeout(60);
    let (silent, port) = unanswered_on_each(&["127.0.0.41"]);
    plane.unix_password_record("stuck", USER, &["127.0.0.41"], PW);
    let agent = home.run();
    let scan = plane.scan(json!({"title": "stuck", "targets": ["127.0.0.41"],
                                 "kinds": "unix", "ports": {"unix": port}}));
    wait_until("the login is in flight", BOUND, || {
        established_to(port) == 1
    });
    let status = agent.terminate();
    assert_eq!(status.code(), Some(0), "{}", home.stderr());
    let log = home.stderr();
    assert!(log.contains("abandoning 1 unfinished targets"), "{log}");
    // Nothing was reported for it...
    assert!(plane.results(&scan).is_empty());
    assert!(home.spooled().is_empty());
    // ...and when the lease ends the control plane hands it out again: the restarted agent
    // finds the port closed this time.
    drop(silent);
    plane.advance(121);
    let agent = home.run();
    let rows = plane.wait_results(&scan, 1);
    let r = row(&rows, "127.0.0.41", "unix");
    assert_eq!(r["status"], "not_attempted", "{r}");
    assert_eq!(r["qid"], 105297, "{r}");
    assert!(
        r["cause"]
            .as_str()
            .is_some_and(|c| c.contains("connection refused")),
        "{r}"
    );
    assert_eq!(agent.terminate().code(), Some(0));
}

/// An agent killed mid-job and started again at once gets its job back on its first claim, on
/// a control-plane clock that never moves (so the dead process's lease never runs out): the
/// job finishes with exactly one result per target, claimed twice.
#[test]
fn an_agent_restarted_after_kill_9_gets_its_job_back_before_the_lease_ends() {
    const HOSTS: u8 = 16;
    let real = |n: u8| n % 4 == 1;
    let (_peers, plane, mut agent, scan) = sealscan_e2e::loopback_fleet::scan(
        "e2e_rehand",
        "Rh4!hand-Zq9w",
        "re-hand",
        HOSTS,
        real,
        4,
    );
    plane.wait_results(&scan, 4);
    agent.kill();
    let view = plane.scan_view(&scan);
    let job = &view["jobs"][0];
    assert_eq!(job["state"], "leased", "{view}");
    assert_eq!(job["claims"], 1, "{view}");
    let lease_until = job["lease_expires_at"].clone();
    assert!(
        job["targets_done"]
            .as_i64()
            .is_some_and(|d| d < i64::from(HOSTS)),
        "the job had finished before the kill: {view}"
    );

    agent.start();
    let rows = plane.wait_done(&scan);
    assert_unix_logins(&rows, HOSTS, real);
    let view = plane.scan_view(&scan);
    let job = &view["jobs"][0];
    assert_eq!(job["state"], "done", "{view}");
    assert_eq!(
        job["claims"], 2,
        "claimed before the kill and re-handed to the restarted agent: {view}"
    );
    assert!(
        lease_until.as_i64().is_some_and(|t| t > plane
            .manual
            .as_ref()
            .expect("manual clock")
            .now()),
        "the dead process's lease ({lease_until}) had not run out"
    );
    wait_until("an empty spool", BOUND, || agent.home.spooled().is_empty());
    agent.stop();
}
