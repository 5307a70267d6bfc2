//! The running agent under systemd and through control-plane trouble: sd_notify READY,
//! WATCHDOG and STOPPING; a control plane that goes away and comes back; rewrap work.

use sealscan_e2e::agent::{AgentHome, wait_until};
use sealscan_e2e::contract::{self, ContractServer, appliance_key, enroll_and_approve};
use sealscan_e2e::*;
use sealscan_protocols::appliance::{BindingFields, RewrapItem, RewrapWork, SecretFieldName};
use sealscan_protocols::envelope::{self, Envelope, PrivateKey};
use sealscan_protocols::results::{LoginKind, Status};
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::ensure_user;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

const TOKEN: &str = "enr_resilience";
const USER: &str = "e2e_resil";
const PW: &str = "e2e-Resil-Pw-29";
/// Caps on waiting for a broken run, never measurements.
const BOUND: Duration = Duration::from_secs(120);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn start(rt: &tokio::runtime::Runtime) -> ContractServer {
    rt.block_on(contract::start(TOKEN))
}

#[test]
fn systemd_hears_ready_watchdog_and_stopping() {
    let rt = runtime();
    let cp = start(&rt);
    let home = AgentHome::new(&cp.url(), &cp.ca_pem, 2);
    enroll_and_approve(&home, &cp, TOKEN);
    let socket_path = home.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("notify socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("read timeout");
    let agent = home.run_with_env(&[
        ("NOTIFY_SOCKET", socket_path.to_str().expect("utf-8 path")),
        // 400 ms: the agent pings every 200 ms.
        ("WATCHDOG_USEC", "400000"),
    ]);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let mut receive = |seen: &mut Vec<String>, wanted: &str| {
        while !seen.iter().any(|m| m.contains(wanted)) {
            let n = socket
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("no {wanted} from the agent ({e}); got {seen:?}"));
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    };
    receive(&mut seen, "READY=1");
    receive(&mut seen, "WATCHDOG=1");
    let status = agent.terminate();
    receive(&mut seen, "STOPPING=1");
    assert_eq!(status.code(), Some(0), "{}", home.stderr());
    let ready = seen.iter().position(|m| m.contains("READY=1"));
    let stopping = seen.iter().position(|m| m.contains("STOPPING=1"));
    assert!(ready < stopping, "{seen:?}");
}

#[test]
fn losing_the_control_plane_means_back_off_and_retry_not_exit() {
    ensure_user(USER, PW);
    let sshd = Sshd::start(&SshdOptions::default());
    let rt = runtime();
    let cp = start(&rt);
    let home = AgentHome::new(&cp.url(), &cp.ca_pem, 2);
    enroll_and_approve(&home, &cp, TOKEN);
    let mut agent = home.run();
    wait_until("the agent is running", BOUND, || {
        home.stderr().contains("sealscan-agent running")
    });

    cp.stop();
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

    rt.block_on(cp.resume());
    cp.shared.push_job(job(
        vec![target("t", LoginKind::Unix, sshd.port(), Some("r"))],
        vec![unix_record(
            "r",
            USER,
            vec![legacy(SecretFieldName::Password, PW.as_bytes())],
        )],
        vec![],
    ));
    wait_until("the job runs once the control plane is back", BOUND, || {
        !contract::results_by_target(&cp.shared).is_empty()
    });
    let results = contract::results_by_target(&cp.shared);
    assert_eq!(results["t"].outcome.status, Status::Passed);
    let log = home.stderr();
    assert!(log.contains("retrying in"), "{log}");
    assert_eq!(agent.terminate().code(), Some(0));
}

#[test]
fn rewrap_adds_the_new_appliance_without_touching_the_payload() {
    let rt = runtime();
    let cp = start(&rt);
    let home = AgentHome::new(&cp.url(), &cp.ca_pem, 2);
    enroll_and_approve(&home, &cp, TOKEN);
    let ours = appliance_key(&cp);
    let newcomer = PrivateKey::generate().expect("key");
    let fields = |id: &str| BindingFields {
        record_kind: "unix".into(),
        record_id: id.into(),
        field: SecretFieldName::Password,
        user: "root".into(),
        domain: None,
        vault_url: None,
        secret_name: None,
    };
    let good = seal_to(&ours, &fields("r1"), b"rewrap-me");
    // The control plane claims a different binding than the envelope carries: refused.
    let mislabelled = seal_to(&ours, &fields("r2"), b"keep-out");
    cp.shared.with(|s| {
        s.rewrap = Some(RewrapWork {
            new_appliance_id: "app_new".into(),
            new_public_key: b64(&newcomer.public_key()),
            items: vec![
                RewrapItem {
                    item_id: "i1".into(),
                    binding: fields("r1"),
                    envelope: good.clone(),
                },
                RewrapItem {
                    item_id: "i2".into(),
                    binding: fields("r9"),
                    envelope: mislabelled,
                },
            ],
        });
    });
    let agent = home.run();
    wait_until("the rewrap is submitted", BOUND, || {
        cp.shared.with(|s| !s.rewrapped.is_empty())
    });
    assert_eq!(agent.terminate().code(), Some(0));
    let submit = cp.shared.with(|s| s.rewrapped[0].clone());
    assert_eq!(submit.new_appliance_id, "app_new");
    let ids: Vec<&str> = submit.items.iter().map(|i| i.item_id.as_str()).collect();
    assert_eq!(
        ids,
        ["i1"],
        "only the envelope bound as claimed is rewrapped"
    );
    let original = Envelope::from_text(&good).expect("original");
    let rewrapped = Envelope::from_text(&submit.items[0].envelope).expect("rewrapped");
    assert!(envelope::same_payload(&original, &rewrapped));
    let opened = envelope::open(
        &rewrapped,
        &sealscan_agent::sealed::binding(&fields("r1")),
        newcomer.as_bytes(),
    )
    .expect("the new appliance opens it");
    assert_eq!(&opened[..], b"rewrap-me");
    assert!(
        home.stderr().contains("rewrap of item i2"),
        "{}",
        home.stderr()
    );
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn a_cancelled_job_starts_no_further_target() {
    let rt = runtime();
    let cp = start(&rt);
    // One target at a time; each silent target holds its slot for the 5 s Unix timeout.
    let home = AgentHome::new(&cp.url(), &cp.ca_pem, 1);
    enroll_and_approve(&home, &cp, TOKEN);
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    cp.shared.with(|s| s.cancel = true);
    let targets: Vec<_> = (0..5)
        .map(|i| target(&format!("t{i}"), LoginKind::Unix, port, Some("r")))
        .collect();
    let mut j = job(
        targets,
        vec![unix_record(
            "r",
            USER,
            vec![legacy(SecretFieldName::Password, PW.as_bytes())],
        )],
        vec![],
    );
    // Heartbeats every second: the cancel arrives while the first target is still running.
    j.lease_secs = 3;
    cp.shared.push_job(j);
    let agent = home.run();
    wait_until("the job ends", BOUND, || home.stderr().contains("done"));
    let log = home.stderr();
    assert!(log.contains("cancelled by the control plane"), "{log}");
    let posted = contract::results_by_target(&cp.shared).len();
    assert!(
        posted < 5,
        "a cancelled job kept starting targets ({posted} results)"
    );
    assert_eq!(agent.terminate().code(), Some(0));
}

#[test]
fn enroll_refuses_what_it_cannot_trust_by_name() {
    let rt = runtime();
    let cp = start(&rt);
    let home = AgentHome::new(&cp.url(), &cp.ca_pem, 1);
    let plain = home.enroll("http://127.0.0.1:1", TOKEN, &[]);
    assert!(!plain.status.success());
    assert!(String::from_utf8_lossy(&plain.stderr).contains("must be an https:// URL"));
    let missing = home.enroll(&cp.url(), TOKEN, &["--ca-file", "/nonexistent/ca.pem"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/ca.pem"));
    // A CA that did not sign the server: a TLS failure, and the token is still unused.
    let other = rt.block_on(contract::start("other"));
    let wrong_ca = home.dir.path().join("other-ca.pem");
    std::fs::write(&wrong_ca, &other.ca_pem).expect("write CA");
    let untrusted = home.enroll(
        &cp.url(),
        TOKEN,
        &["--ca-file", wrong_ca.to_str().expect("path")],
    );
    assert!(!untrusted.status.success());
    let err = String::from_utf8_lossy(&untrusted.stderr).into_owned();
    assert!(
        err.contains("unreachable") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
    assert!(cp.shared.with(|s| s.appliances.is_empty()));
    assert!(home.enroll(&cp.url(), TOKEN, &[]).status.success());
}

/// Server-side sockets of `port` the kernel holds as ESTABLISHED (accepted or waiting in the
/// backlog): the agent's open connections to a listener that never answers.
fn established_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let wanted = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.get(1).is_some_and(|local| local.ends_with(&wanted)) && cols.get(3) == Some(&"01")
        })
        .count()
}

#[test]
fn targets_run_with_bounded_concurrency() {
    let rt = runtime();
    let cp = start(&rt);
    let home = AgentHome::new(&cp.url(), &cp.ca_pem, 2);
    enroll_and_approve(&home, &cp, TOKEN);
    // Never accepted or answered: each connection stays open until its 5 s login timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let targets: Vec<_> = (0..6)
        .map(|i| target(&format!("t{i}"), LoginKind::Unix, port, Some("r")))
        .collect();
    cp.shared.push_job(job(
        targets,
        vec![unix_record(
            "r",
            USER,
            vec![legacy(SecretFieldName::Password, PW.as_bytes())],
        )],
        vec![],
    ));
    let agent = home.run();
    let mut most = 0;
    wait_until("all six results", BOUND, || {
        most = most.max(established_to(port));
        contract::results_by_target(&cp.shared).len() == 6
    });
    assert_eq!(
        most, 2,
        "at most `concurrency` logins at once, and that many in parallel"
    );
    for r in contract::results_by_target(&cp.shared).values() {
        assert_eq!(r.outcome.status, Status::TimedOut, "{r:#?}");
    }
    assert_eq!(agent.terminate().code(), Some(0));
}

#[test]
fn sigterm_abandons_a_target_that_outlasts_the_grace_and_exits_0() {
    let rt = runtime();
    let cp = start(&rt);
    let home = AgentHome::new(&cp.url(), &cp.ca_pem, 1);
    // A login bound (60 s) longer than the agent's shutdown grace (15 s).
    let config = std::fs::read_to_string(home.config()).expect("config");
    std::fs::write(
        home.config(),
        config.replace("unix_secs = 5", "unix_secs = 60"),
    )
    .expect("config");
    enroll_and_approve(&home, &cp, TOKEN);
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    cp.shared.push_job(job(
        vec![target("stuck", LoginKind::Unix, port, Some("r"))],
        vec![unix_record(
            "r",
            USER,
            vec![legacy(SecretFieldName::Password, PW.as_bytes())],
        )],
        vec![],
    ));
    let agent = home.run();
    wait_until("the login is in flight", BOUND, || {
        established_to(port) == 1
    });
    let status = agent.terminate();
    assert_eq!(status.code(), Some(0), "{}", home.stderr());
    let log = home.stderr();
    assert!(log.contains("abandoning 1 unfinished targets"), "{log}");
    // Nothing was reported for it: the control plane re-queues it when the lease ends.
    assert!(contract::results_by_target(&cp.shared).is_empty());
    assert!(home.spooled().is_empty());
}
