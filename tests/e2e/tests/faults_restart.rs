//! The control plane restarted (its process gone, connections and all, then served again on
//! the same port and data directory) while the agent long-polls for work and while it posts a
//! job's results: the agent recovers without anyone touching it and no result is lost.

use sealscan_e2e::control_plane::*;
use sealscan_e2e::{BOUND, loopback_fleet, wait_until};
use serde_json::json;
use std::time::Duration;

const USER: &str = "e2e_frestart";
const PASSWORD: &str = "Fr4!restart-Wx7k";
const HOSTS: u8 = 20;

fn is_real(n: u8) -> bool {
    n % 4 == 1
}

#[test]
fn control_plane_restarts_during_long_poll_and_posting_lose_nothing() {
    let (peers, mut plane, mut agent) = loopback_fleet::start(USER, PASSWORD, HOSTS, is_real, 4);
    let port = peers.sshd.port();

    // 1. While the agent long-polls: its claim is cut off with the connection.
    wait_until("the agent runs", BOUND, || {
        agent.home.stderr().contains("sealscan-agent running")
    });
    std::thread::sleep(Duration::from_millis(500));
    plane.stop();
    wait_until("the agent notices the lost long-poll", BOUND, || {
        agent.home.stderr().contains("claim failed")
    });
    plane.restart();
    let scan = peers.scan(&plane, "restarts");

    // 2. While it posts results: the ones finished meanwhile wait in its spool.
    plane.wait_results(&scan, 4);
    plane.stop();
    wait_until("a result kept in the spool", BOUND, || {
        agent.home.stderr().contains("kept in the spool")
    });
    plane.restart();

    let rows = plane.wait_done(&scan);
    assert_unix_logins(&rows, HOSTS, is_real);
    // The agent kept its lease through both restarts: nobody had to re-queue anything.
    let view = plane.scan_view(&scan);
    assert_eq!(view["jobs"][0]["claims"], 1, "{view}");
    wait_until("an empty spool", BOUND, || agent.home.spooled().is_empty());

    // And it goes on taking work.
    let next = plane.scan(json!({"title": "after", "targets": ["127.0.0.1"],
                                        "kinds": "unix", "ports": {"unix": port}}));
    let rows = plane.wait_done(&next);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["qid"], 38307, "{rows:?}");
    assert!(agent.alive(), "{}", agent.home.stderr());
    agent.stop();
}
