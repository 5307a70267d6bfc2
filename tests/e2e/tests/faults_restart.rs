//! The control plane restarted (its process gone, connections and all, then served again on
//! the same port and data directory) while the agent long-polls for work and while it posts a
//! job's results: the agent recovers without anyone touching it and no result is lost.

use sealscan_e2e::agent::wait_until;
use sealscan_e2e::control::BOUND;
use sealscan_e2e::faults::*;
use sealscan_test_peers::faulty::{Behaviour, FaultyTarget, loopback};
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::ensure_user;
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;

const USER: &str = "e2e_frestart";
const PASSWORD: &str = "Fr4!restart-Wx7k";
const HOSTS: u8 = 20;

fn is_real(n: u8) -> bool {
    n % 4 == 1
}

#[test]
fn control_plane_restarts_during_long_poll_and_posting_lose_nothing() {
    ensure_user(USER, PASSWORD);
    let sshd = Sshd::start(&SshdOptions::default());
    let port = sshd.port();
    let real: SocketAddr = ([127, 0, 0, 1], port).into();
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

    // 1. While the agent long-polls: its claim is cut off with the connection.
    wait_until("the agent runs", BOUND, || {
        plane.home.stderr().contains("sealscan-agent running")
    });
    std::thread::sleep(Duration::from_millis(500));
    plane.stop_control_plane();
    wait_until("the agent notices the lost long-poll", BOUND, || {
        plane.home.stderr().contains("claim failed")
    });
    plane.start_control_plane();
    let scan = plane.create_scan(json!({"title": "restarts", "targets": [range],
                                        "kinds": "unix", "ports": {"unix": port}}));

    // 2. While it posts results: the ones finished meanwhile wait in its spool.
    plane.wait_results(&scan, 4);
    plane.stop_control_plane();
    wait_until("a result kept in the spool", BOUND, || {
        plane.home.stderr().contains("kept in the spool")
    });
    plane.start_control_plane();

    let rows = plane.wait_done(&scan);
    let by_target = one_per_target(&rows);
    assert_eq!(rows.len(), usize::from(HOSTS), "{rows:#?}");
    for n in 1..=HOSTS {
        let row = by_target
            .get(&(format!("t{n}"), "unix".to_string()))
            .unwrap_or_else(|| panic!("no result for target t{n} (127.0.0.{n})"));
        assert_eq!(row["host"], format!("127.0.0.{n}"), "{row}");
        let (status, qid) = if is_real(n) {
            ("passed", 38307)
        } else {
            ("timed_out", 115263)
        };
        assert_eq!(row["status"], status, "{row}");
        assert_eq!(row["qid"], qid, "{row}");
    }
    // The agent kept its lease through both restarts: nobody had to re-queue anything.
    let view = plane.scan_view(&scan);
    assert_eq!(view["jobs"][0]["claims"], 1, "{view}");
    wait_until("an empty spool", BOUND, || plane.home.spooled().is_empty());

    // And it goes on taking work.
    let next = plane.create_scan(json!({"title": "after", "targets": ["127.0.0.1"],
                                        "kinds": "unix", "ports": {"unix": port}}));
    let rows = plane.wait_done(&next);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["qid"], 38307, "{rows:?}");
    assert!(plane.agent_alive(), "{}", plane.home.stderr());
    plane.stop_agent();
}
