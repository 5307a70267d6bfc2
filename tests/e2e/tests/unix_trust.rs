//! Host-key trust and root delegation end to end: records made through the control plane's API
//! with their `unix` options, scans claimed by the real agent binary, results read back.
//!
//! Targets: OpenSSH sshd on 127.0.0.64 (a second one with another host key on the same address
//! and port plays the replaced machine), and a systemd container on 127.0.0.63:22 whose root
//! password and sudoers the test sets (`sealscan_test_peers::root_target`).

use sealscan_e2e::agent::AgentSettings;
use sealscan_e2e::control_plane::*;
use sealscan_e2e::random_hex;
use sealscan_e2e::vault::{SVC_USER, create_vault, create_vault_record_with, seed, start_sim};
use sealscan_test_peers::root_target::{self, Account, RootTarget};
use sealscan_test_peers::sshd::{HostCertificate, KeyFormat, Sshd, SshdOptions, generate_key};
use sealscan_test_peers::system::ensure_user;
use serde_json::json;

const USER: &str = "e2e_hk";
const PASSWORD: &str = "e2e-hk-Pinned-Key-6";
/// Root's password in the container: one for the whole file, whose tests run in parallel.
const ROOT: &str = "e2e-Root-Password-2";

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

/// Vault records (Secret Server, the simulator over HTTPS): the login comes from one secret and
/// su's root password, or sudo's own password, from a second secret of the same vault.
#[test]
fn vault_records_delegate_with_a_second_secret() {
    const SUDOER: &str = "e2e_vsudo";
    RootTarget::start(
        ROOT,
        &[Account {
            name: SUDOER,
            password: PASSWORD,
            sudoers: Some("ALL=(ALL) ALL"),
            requiretty: false,
        }],
    );
    let plane = ControlPlane::start();
    let _agent = plane.running_agent(AgentSettings::default());
    let svc_pw = format!("Svc-{}-pw", random_hex(10));
    let secret = |id: i64, name: &str, user: &str, password: &str| {
        json!({"id": id, "name": name, "folderId": 2, "template": "Unix Account (SSH)",
               "fields": {"machine": root_target::ADDRESS, "username": user,
                          "password": password},
               "readers": [SVC_USER]})
    };
    let sim = start_sim(
        &plane,
        seed(&json!({
            "users": [{"username": SVC_USER, "password": svc_pw}],
            "folders": [{"id": 2, "name": "Unix"}],
            "secrets": [
                secret(60, "ct-sudoer", SUDOER, PASSWORD),
                secret(61, "ct-root", "root", ROOT),
                secret(62, "ct-root-stale", "root", "e2e-stale-root"),
                secret(63, "ct-sudoer-again", SUDOER, PASSWORD),
            ],
        })),
    );
    let ca = sim.ca_pem().expect("CA");
    let vault = create_vault(&plane, "secret server", &sim.base_url(), &ca, &svc_pw);
    let address = root_target::ADDRESS;

    // su on a vault record without the second secret: refused when the record is made.
    let (status, body) = plane.try_call(
        reqwest::Method::POST,
        "/api/v1/records",
        Some(
            json!({"kind": "unix", "title": "no root secret", "ips": [address],
                    "login_type": "vault", "vault_id": vault, "user": SUDOER,
                    "secret_id": 60, "unix": {"delegation": "su"}}),
        ),
    );
    assert_eq!(status, 400, "{body:#}");
    assert!(
        body.to_string()
            .contains("record.delegation-secret-required"),
        "{body:#}"
    );

    let id = create_vault_record_with(
        &plane,
        json!({"kind": "unix", "ip": address, "user": SUDOER, "vault_id": vault,
               "secret_id": 60,
               "unix": {"delegation": "su", "delegation_secret": {"secret_name": "ct-root"}}}),
    );
    let shown = plane.call(reqwest::Method::GET, &format!("/api/v1/records/{id}"), None);
    assert_eq!(
        shown["unix"]["delegation_secret"]["secret_name"], "ct-root",
        "{shown:#}"
    );
    let scan = |label: &str| {
        let rows = plane.run_scan(
            json!({"title": label, "targets": [address], "kinds": "unix"}),
            1,
        );
        row(&rows, address, "unix").clone()
    };
    let r = scan("vault su");
    assert_eq!(r["status"], "passed", "{r:#}");
    assert_eq!(r["method"], "password + su", "{r:#}");
    assert_eq!(r["facts"]["delegation"], "su: uid 0", "{r:#}");

    let patch = |body: serde_json::Value| {
        let (status, answer) = plane.try_call(
            reqwest::Method::PATCH,
            &format!("/api/v1/records/{id}"),
            Some(body),
        );
        assert!(status.is_success(), "{answer:#}");
    };
    // A stale root secret: the login passes, the delegation does not.
    patch(json!({"unix": {"delegation_secret": {"secret_path": "\\Unix\\ct-root-stale"}}}));
    assert_row(
        &scan("vault su stale"),
        "failed",
        105053,
        "delegation",
        &["logged in as", "wrong password"],
    );
    // su with a secret of another account: refused before the target gets it.
    patch(json!({"unix": {"delegation_secret": {"secret_id": 63}}}));
    assert_row(
        &scan("vault su not root"),
        "failed",
        105053,
        "secret fetch",
        &["id 63", "su needs root's password"],
    );
    // sudo with its own password from the second secret.
    patch(
        json!({"unix": {"delegation": "sudo", "delegation_password": "separate",
                          "delegation_secret": {"secret_id": 63}}}),
    );
    let r = scan("vault sudo separate");
    assert_eq!(r["status"], "passed", "{r:#}");
    assert_eq!(r["method"], "password + sudo", "{r:#}");
}

/// A `known` record with a host CA: the target's host certificate by that CA passes; with
/// another CA in the record, the same target is refused before the password is sent.
#[test]
fn host_certificates_through_the_control_plane() {
    ensure_user(USER, PASSWORD);
    let keys = tempfile::tempdir().expect("key dir");
    let ca = generate_key(keys.path(), "ed25519", KeyFormat::OpenSsh, "");
    let other = generate_key(keys.path(), "ecdsa", KeyFormat::OpenSsh, "");
    let address = "127.0.0.1";
    let sshd = Sshd::start(&SshdOptions {
        host_certificate: Some(HostCertificate {
            ca_private: ca.private.clone(),
            principals: address.into(),
            validity: "-5m:+1h".into(),
        }),
        ..SshdOptions::default()
    });
    let plane = ControlPlane::start();
    let _agent = plane.running_agent(AgentSettings::default());
    let id = plane.record(json!({
        "kind": "unix", "title": "host ca", "user": USER, "ips": [address],
        "unix": {"host_key_policy": "known", "host_ca_keys": [ca.public.trim()]},
        "secrets": [legacy_secret("password", PASSWORD.as_bytes())],
    }));
    let scan = |label: &str| {
        let rows = plane.run_scan(
            json!({"title": label, "targets": [address], "kinds": "unix",
                   "ports": {"unix": sshd.port()}}),
            1,
        );
        row(&rows, address, "unix").clone()
    };
    let r = scan("trusted CA");
    assert_eq!(r["status"], "passed", "{r:#}");
    let fact = r["facts"]["host_key_check"].as_str().unwrap_or_default();
    assert!(fact.contains("host certificate for 127.0.0.1"), "{r:#}");

    let (status, body) = plane.try_call(
        reqwest::Method::PATCH,
        &format!("/api/v1/records/{id}"),
        Some(json!({"unix": {"host_ca_keys": [other.public.trim()]}})),
    );
    assert!(status.is_success(), "{body:#}");
    sshd.settle_log();
    let before = sshd.attempts_for(USER).len();
    let r = scan("other CA");
    assert_row(
        &r,
        "failed",
        105053,
        "host key",
        &[
            "which is not one of the record's host CAs",
            "ecdsa-sha2-nistp256 SHA256:",
        ],
    );
    sshd.settle_log();
    assert_eq!(sshd.attempts_for(USER).len(), before, "{}", sshd.auth_log());
}
