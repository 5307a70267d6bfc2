//! The real control plane (its HTTPS server and SQLite store, in process) and the real agent
//! binary: a Manager creates an enrollment token, the agent enrolls, the Manager compares the
//! fingerprint and approves it, and scans 127.0.0.1 for Unix and Windows logins. The agent
//! claims the job by long-poll and the control plane shows one result per login with its QID.
//!
//! Scans without port overrides send the logins to 127.0.0.1:22 and :445, where nothing
//! listens on the test machine. Passing logins against real sshd/smbd on high ports, through
//! the scans' port overrides, are in daemon.rs, resilience.rs and control_plane_canary.rs.

use sealscan_e2e::agent::AgentSettings;
use sealscan_e2e::control_plane::*;
use sealscan_e2e::{BOUND, wait_until};
use sealscan_test_peers::smbd::{Smbd, SmbdOptions};
use serde_json::json;

#[test]
fn enroll_approve_and_scan_through_the_real_control_plane() {
    let plane = ControlPlane::start();
    let mut agent = plane.running_agent(AgentSettings::default());
    // No record names 127.0.0.1: Unix is not attempted for want of a record; for Windows the
    // agent first asks the server for its domain, and nothing listens on 445.
    let rows = plane.run_scan(
        json!({"title": "no records", "targets": ["127.0.0.1"], "kinds": "both"}),
        2,
    );
    let unix = row(&rows, "127.0.0.1", "unix");
    assert_eq!(unix["status"], "not_attempted", "{unix}");
    assert_eq!(unix["qid"], 105297, "{unix}");
    assert_eq!(unix["step"], "record", "{unix}");
    let windows = row(&rows, "127.0.0.1", "windows");
    assert_eq!(windows["status"], "not_attempted", "{windows}");
    assert_eq!(windows["qid"], 105015, "{windows}");
    // The scan's port override sends the Windows login to a real smbd: the agent learns the
    // server's NetBIOS domain from its SMB session setup, and the job has no record for it.
    let smbd = Smbd::start(SmbdOptions::default());
    let rows = plane.run_scan(
        json!({"title": "ports", "targets": ["127.0.0.1"], "kinds": "windows",
               "ports": {"windows": smbd.port()}}),
        1,
    );
    let windows = row(&rows, "127.0.0.1", "windows");
    assert_eq!(windows["status"], "not_attempted", "{windows}");
    assert_eq!(windows["step"], "record", "{windows}");
    assert!(
        windows["cause"]
            .as_str()
            .is_some_and(|c| c.contains("TARGET1")),
        "{windows}"
    );
    assert!(smbd.auth_lines().is_empty(), "{:?}", smbd.auth_lines());
    wait_until("an empty spool", BOUND, || agent.home.spooled().is_empty());
    agent.stop();
}
