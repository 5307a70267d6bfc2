//! A record whose password is a random canary, created through the real control plane's API
//! and scanned by the real agent: afterwards the canary is nowhere, not in the control plane's
//! database (SQLite file and WAL), not in the agent's memory, stderr or state directory.
//!
//! The logins are real and pass: OpenSSH sshd and Samba smbd on loopback high ports, named by
//! the scan's port overrides, with the canary as the accounts' password.

use sealscan_e2e::agent::{AgentSettings, scan_memory};
use sealscan_e2e::control_plane::*;
use sealscan_e2e::{BOUND, contains, random_hex, wait_until, walk};
use sealscan_test_peers::smbd::{Smbd, SmbdOptions};
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::ensure_user;
use serde_json::json;

#[test]
fn a_scan_through_the_real_control_plane_leaves_no_canary_anywhere() {
    let canary = format!("Cnry-cp-{}-z", random_hex(12));
    ensure_user("e2e_cp", &canary);
    let sshd = Sshd::start(&SshdOptions::default());
    let smbd = Smbd::start(SmbdOptions::default());
    smbd.add_user("e2e_cpwin", &canary);
    let plane = ControlPlane::start();
    let mut agent = plane.running_agent(AgentSettings::default());
    // Records whose password is the canary, legacy model (NCSM is not activated here): the
    // control plane keeps it encrypted at rest and hands it to the agent inside the job.
    for (kind, user) in [("unix", "e2e_cp"), ("windows", "e2e_cpwin")] {
        let title = format!("loopback {kind}");
        plane.record(password_record(
            kind,
            &title,
            user,
            &["127.0.0.1"],
            canary.as_bytes(),
        ));
    }
    let rows = plane.run_scan(
        json!({"title": "canary", "targets": ["127.0.0.1"], "kinds": "both",
               "ports": {"unix": sshd.port(), "windows": smbd.port()}}),
        2,
    );
    let unix = row(&rows, "127.0.0.1", "unix");
    assert_eq!(unix["status"], "passed", "{unix}");
    assert_eq!(unix["qid"], 38307, "{unix}");
    assert_eq!(unix["login_id"], "e2e_cp", "{unix}");
    let windows = row(&rows, "127.0.0.1", "windows");
    assert_eq!(windows["status"], "passed", "{windows}");
    assert_eq!(windows["qid"], 70053, "{windows}");
    assert_eq!(
        windows["facts"]["server_netbios_domain"], "TARGET1",
        "{windows}"
    );
    assert_eq!(sshd.accepted_for("e2e_cp").len(), 1, "{}", sshd.auth_log());
    wait_until("an empty spool", BOUND, || agent.home.spooled().is_empty());
    wait_until("the job ends on the agent", BOUND, || {
        agent.home.stderr().contains(" done")
    });

    // The canary: not in the agent's memory while it still runs...
    let utf16: Vec<u8> = canary.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let (hits, coverage) = scan_memory(agent.pid(), &[canary.as_bytes(), &utf16]);
    assert!(coverage.heap && coverage.stack, "{coverage:?}");
    assert!(hits.is_empty(), "canary in the agent's memory: {hits:#x?}");
    agent.stop();
    // ...nor its stderr or state directory...
    assert!(!agent.home.stderr().contains(&canary));
    for file in walk(agent.home.state_dir()) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(!contains(&bytes, canary.as_bytes()), "{}", file.display());
    }
    // ...nor the control plane's database, WAL included, while the server still runs.
    let mut db_files = 0;
    for file in walk(plane.data.path().to_path_buf()) {
        let name = file.to_string_lossy().into_owned();
        if name.contains("control.db") {
            db_files += 1;
        }
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !contains(&bytes, canary.as_bytes()) && !contains(&bytes, &utf16),
            "canary in {name}"
        );
    }
    assert!(db_files >= 2, "the database and its WAL were checked");
}
