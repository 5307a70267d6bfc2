//! The real `sealscan-agent` binary end to end against the real control plane (in process:
//! HTTPS, SQLite), driven through its API as an operator does: enroll, wait for approval, claim
//! a scan's job by long-poll, log in to real sshd and smbd, post results the control plane
//! shows with their QIDs and causes, keep unacknowledged results in its spool across a
//! restart (a re-post is harmless), and stop cleanly on SIGTERM.

use sealscan_e2e::agent::AgentHome;
use sealscan_e2e::control_plane::*;
use sealscan_e2e::{BOUND, wait_until};
use sealscan_test_peers::faulty::unanswered;
use sealscan_test_peers::smbd::{Smbd, SmbdOptions};
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::ensure_user;
use serde_json::json;

const USER: &str = "e2e_daemon";
const PW: &str = "e2e-Daemon-Pw-83";
const WIN_USER: &str = "e2e_dwin";

#[test]
fn enroll_approve_scan_and_stop_on_sigterm() {
    ensure_user(USER, PW);
    let sshd = Sshd::start(&SshdOptions::default());
    let smbd = Smbd::start(SmbdOptions::default());
    smbd.add_user(WIN_USER, PW);
    // 127.0.0.3 accepts TCP on both login ports and never answers.
    let _silent_ssh = unanswered("127.0.0.3", sshd.port());
    let _silent_smb = unanswered("127.0.0.3", smbd.port());
    let plane = ControlPlane::start();
    let home = AgentHome::new(&plane.url(), &plane.ca_pem, 4);
    let token = plane.enrollment_token();

    let out = home.enroll(&plane.url(), &token, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The fingerprint the operator compares is the one of the key the control plane got.
    let appliance = plane.appliance_in(&stdout);
    let id = appliance["id"].as_str().expect("id").to_string();
    assert_eq!(appliance["name"], "e2e-agent", "{appliance}");
    assert_eq!(appliance["state"], "pending", "{appliance}");
    assert!(stdout.contains(&id), "{stdout}");
    for f in ["enrollment.json", "identity.key"] {
        assert_eq!(file_mode(&home.state_dir().join(f)), 0o600, "{f}");
    }
    // The same key again is refused naming its appliance; a used token, by its status.
    let again = home.enroll(&plane.url(), &token, &[]);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr).into_owned();
    assert!(err.contains("HTTP 409") && err.contains(&id), "{err}");
    let other = AgentHome::new(&plane.url(), &plane.ca_pem, 1);
    let used = other.enroll(&plane.url(), &token, &[]);
    assert!(!used.status.success());
    let err = String::from_utf8_lossy(&used.stderr).into_owned();
    assert!(err.contains("HTTP 401"), "{err}");
    assert_eq!(plane.appliances().len(), 1);

    // `run` before approval waits for it.
    let agent = home.run();
    wait_until("the agent polls for approval", BOUND, || {
        home.stderr().contains("waiting for a Manager to approve")
    });
    plane.approve(&id);
    wait_until("the agent stores its credential", BOUND, || {
        home.state_dir().join("credential").exists()
    });
    assert_eq!(file_mode(&home.state_dir().join("credential")), 0o600);

    // The right Unix password, a wrong Windows one, and a host that never answers.
    plane.unix_password_record("unix", USER, &["127.0.0.1", "127.0.0.3"], PW);
    plane.record(password_record(
        "windows",
        "windows",
        WIN_USER,
        &["127.0.0.1", "127.0.0.3"],
        b"nope",
    ));
    let scan = plane.scan(
        json!({"title": "daemon", "targets": ["127.0.0.1", "127.0.0.3"],
                                 "kinds": "both",
                                 "ports": {"unix": sshd.port(), "windows": smbd.port()}}),
    );
    let rows = plane.wait_results(&scan, 4);
    let right = row(&rows, "127.0.0.1", "unix");
    assert_eq!(right["status"], "passed", "{right}");
    assert_eq!(right["qid"], 38307, "{right}");
    assert_eq!(right["login_id"], USER, "{right}");
    assert_eq!(right["appliance_id"], id.as_str(), "{right}");
    assert!(
        right["facts"].to_string().contains("Linux"),
        "uname -a in the facts: {right}"
    );
    let wrong = row(&rows, "127.0.0.1", "windows");
    assert_eq!(wrong["status"], "failed", "{wrong}");
    assert_eq!(wrong["qid"], 105015, "{wrong}");
    assert_eq!(wrong["step"], "authentication", "{wrong}");
    assert!(
        wrong["cause"]
            .as_str()
            .is_some_and(|c| c.contains("STATUS_LOGON_FAILURE")),
        "{wrong}"
    );
    for (kind, qid) in [("unix", 115263), ("windows", 105015)] {
        let silent = row(&rows, "127.0.0.3", kind);
        assert_eq!(silent["status"], "timed_out", "{silent}");
        assert_eq!(silent["qid"], qid, "{silent}");
        assert_eq!(silent["step"], "negotiate", "{silent}");
    }
    assert_eq!(plane.scan_view(&scan)["state"], "done");
    wait_until("an empty spool", BOUND, || home.spooled().is_empty());

    let status = agent.terminate();
    assert_eq!(status.code(), Some(0), "{}", home.stderr());
    let log = home.stderr();
    assert!(log.contains("QID=38307"), "{log}");
    assert!(log.contains("SIGTERM received"), "{log}");
    assert!(!log.contains(PW), "the password reached stderr:\n{log}");
}

#[test]
fn unacknowledged_results_stay_spooled_and_are_reposted_once_after_a_restart() {
    ensure_user(USER, PW);
    let sshd = Sshd::start(&SshdOptions::default());
    let _a = unanswered("127.0.0.4", sshd.port());
    let _b = unanswered("127.0.0.5", sshd.port());
    let mut plane = ControlPlane::start();
    let home = AgentHome::new(&plane.url(), &plane.ca_pem, 3);
    // Long enough for the control plane to be gone before the silent logins give up.
    home.set_unix_timeout(10);

    // `enroll --wait` returns once a Manager approves.
    let mut enroll = home
        .command()
        .args([
            "enroll",
            "--url",
            &plane.url(),
            "--token",
            &plane.enrollment_token(),
            "--wait",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("enroll --wait");
    let mut pending = Vec::new();
    wait_until("the enrollment reaches the control plane", BOUND, || {
        pending = plane.appliances();
        !pending.is_empty()
    });
    plane.approve(pending[0]["id"].as_str().expect("id"));
    let status = enroll.wait().expect("enroll exits");
    assert!(status.success(), "enroll --wait failed");
    assert!(home.state_dir().join("credential").exists());

    plane.unix_password_record("spool", USER, &["127.0.0.1", "127.0.0.4", "127.0.0.5"], PW);
    let agent = home.run();
    let scan = plane.scan(json!({"title": "spool",
                                 "targets": ["127.0.0.1", "127.0.0.4", "127.0.0.5"],
                                 "kinds": "unix", "ports": {"unix": sshd.port()}}));
    // The quick login is acknowledged; the control plane dies while the other two hang.
    let rows = plane.wait_results(&scan, 1);
    assert_eq!(row(&rows, "127.0.0.1", "unix")["qid"], 38307);
    plane.stop();
    wait_until("both silent results are spooled", BOUND, || {
        home.spooled().len() == 2 && home.stderr().matches("kept in the spool").count() >= 2
    });
    let status = agent.terminate();
    assert_eq!(status.code(), Some(0), "{}", home.stderr());
    let spooled = home.spooled();
    assert_eq!(spooled.len(), 2, "unacknowledged results must stay");
    let saved = tempfile::tempdir().expect("temp dir");
    for file in &spooled {
        let text = std::fs::read_to_string(file).expect("spool entry");
        assert!(!text.contains(PW), "secret in the spool: {text}");
        assert_eq!(file_mode(file), 0o600);
        std::fs::copy(file, saved.path().join(file.file_name().expect("name"))).expect("copy");
    }

    plane.restart();
    let agent = home.run();
    wait_until("the spool drains after the restart", BOUND, || {
        home.spooled().is_empty()
    });
    let rows = plane.wait_results(&scan, 3);
    for host in ["127.0.0.4", "127.0.0.5"] {
        let r = row(&rows, host, "unix");
        assert_eq!(r["status"], "timed_out", "{r}");
        assert_eq!(r["qid"], 115263, "{r}");
    }
    assert_eq!(agent.terminate().code(), Some(0), "{}", home.stderr());

    // An agent that died between the post and the spool removal posts again: harmless.
    for entry in std::fs::read_dir(saved.path()).expect("saved") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), home.spool_dir().join(entry.file_name())).expect("copy");
    }
    let agent = home.run();
    wait_until("the re-posted spool drains", BOUND, || {
        home.spooled().is_empty()
    });
    assert_eq!(agent.terminate().code(), Some(0), "{}", home.stderr());
    assert_eq!(
        home.stderr().matches("was already recorded").count(),
        2,
        "{}",
        home.stderr()
    );
    assert_eq!(plane.results(&scan).len(), 3, "each result recorded once");
}
