//! Host-key trust and root delegation end to end: records made through the control plane's API
//! with their `unix` options, scans claimed by the real agent binary, results read back.
//!
//! Targets: OpenSSH sshd on 127.0.0.64 (a second one with another host key on the same address
//! and port plays the replaced machine), and a systemd container on 127.0.0.63:22 whose root
//! password and sudoers the test sets (`sealscan_test_peers::root_target`).

use sealscan_e2e::agent::AgentSettings;
use sealscan_e2e::control_plane::*;
use sealscan_test_peers::root_target::{self, Account, RootTarget};
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::ensure_user;
use serde_json::json;

const USER: &str = "e2e_hk";
const PASSWORD: &str = "e2e-hk-Pinned-Key-6";

fn fingerprint(sshd: &Sshd) -> String {
    sshd.host_key_fingerprint()
}

#[test]
fn a_replaced_host_gets_no_password_until_the_operator_accepts_its_key() {
    ensure_user(USER, PASSWORD);
    let plane = ControlPlane::start();
    let mut agent = plane.running_agent(AgentSettings::default());
    let address = "127.0.0.64";
    let id = plane.record(json!({
        "kind": "unix", "title": "pinned", "user": USER, "ips": [address],
        "secrets": [legacy_secret("password", PASSWORD.as_bytes())],
    }));
    let shown = plane.call(reqwest::Method::GET, &format!("/api/v1/records/{id}"), None);
    assert_eq!(shown["unix"]["host_key_policy"], "pin", "{shown:#}");

    let first = Sshd::start_at(&SshdOptions::default(), address, None);
    let port = first.port();
    let scan = |label: &str| {
        plane.run_scan(
            json!({"title": label, "targets": [address], "kinds": "unix",
                   "ports": {"unix": port}}),
            1,
        )
    };
    let rows = scan("first contact");
    let r = row(&rows, address, "unix");
    assert_eq!(r["status"], "passed", "{r:#}");
    assert_eq!(
        r["facts"]["host_key_check"],
        "pin: learned on this first contact"
    );
    let (old, new) = {
        let old = fingerprint(&first);
        drop(first);
        let impostor = Sshd::start_at(&SshdOptions::default(), address, Some(port));
        let new = fingerprint(&impostor);
        let rows = scan("replaced host");
        let r = row(&rows, address, "unix");
        let place = format!("[{address}]:{port}");
        assert_row(r, "failed", 105053, "host key", &[&old, &new, &place]);
        impostor.settle_log();
        assert!(
            impostor.attempts_for(USER).is_empty(),
            "{}",
            impostor.auth_log()
        );
        assert!(!impostor.auth_log().contains("Failed password"));

        // The operator checks the fingerprint with the target's owner and accepts it.
        let accepted = agent
            .home
            .command()
            .args(["known-hosts", "accept", &place, &new])
            .output()
            .expect("run sealscan-agent known-hosts accept");
        assert!(accepted.status.success(), "{accepted:?}");
        let rows = scan("accepted");
        let r = row(&rows, address, "unix");
        assert_eq!(r["status"], "passed", "{r:#}");
        assert_eq!(r["facts"]["host_key_check"], "pin: matches the pinned key");
        (old, new)
    };
    assert_ne!(old, new);

    // `off` is visible in the record and in the result.
    plane.call(
        reqwest::Method::PATCH,
        &format!("/api/v1/records/{id}"),
        Some(json!({"unix": {"host_key_policy": "off"}})),
    );
    let shown = plane.call(reqwest::Method::GET, &format!("/api/v1/records/{id}"), None);
    assert_eq!(shown["unix"]["host_key_policy"], "off", "{shown:#}");
    agent.stop();
}

#[test]
fn delegation_through_the_control_plane() {
    const ROOT: &str = "e2e-Root-Password-2";
    const SUDOER: &str = "e2e_sudo";
    const OTHER: &str = "e2e_nosudo";
    RootTarget::start(
        ROOT,
        &[
            Account {
                name: SUDOER,
                password: PASSWORD,
                sudoers: Some("ALL=(ALL) ALL"),
                requiretty: false,
            },
            Account {
                name: OTHER,
                password: PASSWORD,
                sudoers: None,
                requiretty: false,
            },
        ],
    );
    let plane = ControlPlane::start();
    let mut agent = plane.running_agent(AgentSettings::default());
    let address = root_target::ADDRESS;
    let id = plane.record(json!({
        "kind": "unix", "title": "sudo", "user": SUDOER, "ips": [address],
        "unix": {"delegation": "sudo"},
        "secrets": [legacy_secret("password", PASSWORD.as_bytes())],
    }));
    let scan = |label: &str| {
        plane.run_scan(
            json!({"title": label, "targets": [address], "kinds": "unix"}),
            1,
        )
    };
    let rows = scan("sudo");
    let r = row(&rows, address, "unix");
    assert_eq!(r["status"], "passed", "{r:#}");
    assert_eq!(r["method"], "password + sudo", "{r:#}");
    assert_eq!(r["facts"]["delegation"], "sudo: uid 0", "{r:#}");

    // su needs root's password as its own secret: refused without it, then given.
    let patch = |body: serde_json::Value| {
        plane.try_call(
            reqwest::Method::PATCH,
            &format!("/api/v1/records/{id}"),
            Some(body),
        )
    };
    let (status, body) = patch(json!({"unix": {"delegation": "su"}}));
    assert_eq!(status, 400, "{body:#}");
    assert!(body.to_string().contains("delegation_password"), "{body:#}");
    let (status, body) = patch(json!({"unix": {"delegation": "su"},
        "secrets": [legacy_secret("delegation_password", b"e2e-wrong-root")]}));
    assert!(status.is_success(), "{body:#}");
    let rows = scan("su wrong");
    assert_row(
        row(&rows, address, "unix"),
        "failed",
        105053,
        "delegation",
        &["logged in as", "wrong password"],
    );
    let (status, body) = patch(json!({
        "secrets": [legacy_secret("delegation_password", ROOT.as_bytes())]}));
    assert!(status.is_success(), "{body:#}");
    let rows = scan("su right");
    let r = row(&rows, address, "unix");
    assert_eq!(r["status"], "passed", "{r:#}");
    assert_eq!(r["method"], "password + su", "{r:#}");

    // A user not in sudoers: the login passes, the result does not.
    let (status, body) = patch(json!({"user": OTHER, "unix": {"delegation": "sudo"},
        "secrets": [legacy_secret("password", PASSWORD.as_bytes())]}));
    assert!(status.is_success(), "{body:#}");
    let rows = scan("not a sudoer");
    assert_row(
        row(&rows, address, "unix"),
        "failed",
        105053,
        "delegation",
        &["not in the target's sudoers"],
    );
    agent.stop();
}
