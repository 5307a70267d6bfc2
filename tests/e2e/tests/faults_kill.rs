//! kill -9 of the agent in the middle of a job with many targets, then a restart: every
//! target ends with exactly one result in the control plane, none lost, none doubled.
//!
//! The job: 30 Unix targets on loopback, every fifth a real OpenSSH login (a relay on its
//! address to the real sshd), the others a listener that accepts and never answers, so the
//! job is still running, with results posted and targets in flight, when the agent dies.
//! The dead agent's lease runs out on the control plane's clock (moved, not waited for), and
//! the restarted agent posts what it had spooled and claims the rest.

use sealscan_e2e::agent::wait_until;
use sealscan_e2e::control::BOUND;
use sealscan_e2e::faults::*;
use sealscan_test_peers::faulty::{Behaviour, FaultyTarget, loopback};
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::ensure_user;
use serde_json::json;
use std::net::SocketAddr;

const USER: &str = "e2e_fkill";
const PASSWORD: &str = "Fk4!kill-Zq9w";
const HOSTS: u8 = 30;

fn is_real(n: u8) -> bool {
    n % 5 == 1
}

#[test]
fn kill_9_mid_job_then_restart_leaves_exactly_one_result_per_target() {
    ensure_user(USER, PASSWORD);
    let sshd = Sshd::start(&SshdOptions::default());
    let port = sshd.port();
    let real: SocketAddr = ([127, 0, 0, 1], port).into();
    // 127.0.0.1 is sshd itself; the other real targets relay to it.
    let _targets: Vec<FaultyTarget> = (2..=HOSTS)
        .map(|n| {
            let behaviour = if is_real(n) {
                Behaviour::Relay(real)
            } else {
                Behaviour::Silent
            };
            FaultyTarget::start(loopback(n), port, behaviour)
        })
        .collect();
    let mut plane = Plane::start(AgentSettings {
        concurrency: 4,
        unix_secs: 2,
        windows_secs: 2,
    });
    let range = format!("127.0.0.1-127.0.0.{HOSTS}");
    plane.call(
        reqwest::Method::POST,
        "/api/v1/records",
        Some(unix_record(&[&range], USER, PASSWORD)),
    );
    let scan = plane.create_scan(json!({"title": "kill -9", "targets": [range],
                                        "kinds": "unix", "ports": {"unix": port}}));

    // Mid-job: some results recorded, the rest not yet.
    let before = plane.wait_results(&scan, 8);
    plane.kill_agent();
    let recorded = plane.results(&scan).len();
    eprintln!(
        "killed with {} results recorded ({} seen before)",
        recorded,
        before.len()
    );
    assert!(
        recorded < usize::from(HOSTS),
        "the job had finished before the kill"
    );
    let spooled = plane.home.spooled();
    eprintln!("left in the spool: {spooled:?}");

    // The dead agent's lease runs out (the control plane's clock moves past it).
    let view = plane.scan_view(&scan);
    assert_eq!(view["jobs"][0]["state"], "leased", "{view}");
    plane
        .clock
        .advance(sealscan_control::api::jobs::LEASE_SECS as i64 + 1);
    plane.start_agent();

    let rows = plane.wait_done(&scan);
    let by_target = one_per_target(&rows);
    assert_eq!(rows.len(), usize::from(HOSTS), "{rows:#?}");
    for n in 1..=HOSTS {
        let key = (format!("t{n}"), "unix".to_string());
        let row = by_target
            .get(&key)
            .unwrap_or_else(|| panic!("no result for target t{n} (127.0.0.{n})"));
        assert_eq!(row["host"], format!("127.0.0.{n}"), "{row}");
        if is_real(n) {
            assert_eq!(row["status"], "passed", "{row}");
            assert_eq!(row["qid"], 38307, "{row}");
        } else {
            assert_eq!(row["status"], "timed_out", "{row}");
            assert_eq!(row["qid"], 115263, "{row}");
        }
    }
    let view = plane.scan_view(&scan);
    let job = &view["jobs"][0];
    assert_eq!(job["state"], "done", "{view}");
    assert_eq!(
        job["claims"], 2,
        "claimed once before the kill, once after: {view}"
    );
    assert_eq!(job["targets_done"], i64::from(HOSTS), "{view}");
    wait_until("an empty spool", BOUND, || plane.home.spooled().is_empty());
    plane.stop_agent();
}

/// The crash windows the spool exists for, made certain rather than hoped for: results that
/// were spooled but never posted when the agent died (the control plane was down), and
/// results posted but still in the spool (the agent died between the post and the removal;
/// reproduced by putting the agent's own spool files back). After each restart every target
/// has exactly one result.
#[test]
fn kill_9_with_results_only_in_the_spool_then_reposts_record_each_once() {
    const N: u8 = 8;
    ensure_user(USER, PASSWORD);
    let sshd = Sshd::start(&SshdOptions::default());
    let port = sshd.port();
    let real: SocketAddr = ([127, 0, 0, 1], port).into();
    let _targets: Vec<FaultyTarget> = (2..=N)
        .map(|n| {
            let behaviour = if n % 2 == 1 {
                Behaviour::Relay(real)
            } else {
                Behaviour::Silent
            };
            FaultyTarget::start(loopback(n), port, behaviour)
        })
        .collect();
    let mut plane = Plane::start(AgentSettings {
        concurrency: 2,
        unix_secs: 2,
        windows_secs: 2,
    });
    let range = format!("127.0.0.1-127.0.0.{N}");
    plane.call(
        reqwest::Method::POST,
        "/api/v1/records",
        Some(unix_record(&[&range], USER, PASSWORD)),
    );
    let scan = plane.create_scan(json!({"title": "spool", "targets": [range],
                                        "kinds": "unix", "ports": {"unix": port}}));
    plane.wait_results(&scan, 1);
    plane.stop_control_plane();
    wait_until("two results waiting in the spool", BOUND, || {
        plane.home.spooled().len() >= 2
    });
    plane.kill_agent();
    let saved = tempfile::tempdir().expect("temp dir");
    let spooled: Vec<_> = plane
        .home
        .spooled()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    for file in &spooled {
        std::fs::copy(file, saved.path().join(file.file_name().expect("name"))).expect("copy");
    }
    eprintln!("{} results only in the spool at the kill", spooled.len());

    plane.start_control_plane();
    plane
        .clock
        .advance(i64::from(sealscan_control::api::jobs::LEASE_SECS) + 1);
    plane.start_agent();
    let rows = plane.wait_done(&scan);
    let by_target = one_per_target(&rows);
    assert_eq!(rows.len(), usize::from(N), "{rows:#?}");
    for n in 1..=N {
        let row = &by_target[&(format!("t{n}"), "unix".to_string())];
        let qid = if n % 2 == 1 { 38307 } else { 115263 };
        assert_eq!(row["qid"], qid, "{row}");
    }
    wait_until("an empty spool", BOUND, || plane.home.spooled().is_empty());

    // Posted and acknowledged, yet back in the spool: re-posted at the next start, recorded
    // as duplicates, and removed.
    plane.stop_agent();
    for file in &spooled {
        let name = file.file_name().expect("name");
        std::fs::copy(saved.path().join(name), file).expect("restore");
    }
    plane.start_agent();
    wait_until(
        "the restored results acknowledged as duplicates",
        BOUND,
        || plane.home.stderr().matches("was already recorded").count() >= spooled.len(),
    );
    wait_until("an empty spool", BOUND, || plane.home.spooled().is_empty());
    let again = plane.results(&scan);
    one_per_target(&again);
    assert_eq!(again.len(), usize::from(N), "{again:#?}");
    plane.stop_agent();
}
