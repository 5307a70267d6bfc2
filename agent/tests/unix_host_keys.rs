//! Host-key trust against real sshd servers on a dedicated loopback address: a pinned key
//! learned on first contact, a second sshd with another key on the same address and port
//! (nothing secret reaches it), the operator's `known-hosts accept`, a record's known keys, and
//! the explicit `off`.

use sealscan_agent::known_hosts::{self, KnownHosts};
use sealscan_agent::login::Target;
use sealscan_agent::login::unix::{HostKeyTrust, UnixCredential, UnixSecret, login};
use sealscan_protocols::host_key::HostKey;
use sealscan_protocols::results::{LoginOutcome, Status, Step};
use sealscan_protocols::secret::SecretBytes;
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::ensure_user;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const USER: &str = "ssu_hk";
const PASSWORD: &str = "ssu-hk-Pinned-Key-4";

fn target(sshd: &Sshd) -> Target {
    Target {
        host: sshd.address().into(),
        port: sshd.port(),
        timeout: Duration::from_secs(30),
    }
}

fn credential() -> UnixCredential {
    UnixCredential {
        user: USER.into(),
        secret: UnixSecret::Password(SecretBytes::copy_from(PASSWORD.as_bytes())),
        elevation: None,
    }
}

fn host_key(sshd: &Sshd) -> HostKey {
    HostKey::parse(&sshd.host_public_key()).expect("sshd's host key parses")
}

fn cause(outcome: &LoginOutcome) -> String {
    outcome
        .cause
        .as_ref()
        .map(|c| c.detail.clone())
        .unwrap_or_default()
}

/// A refused host key: 105053 at the host-key step, and sshd logged the connection but no
/// authentication decision, so neither the user name nor the password reached it.
fn assert_refused_before_auth(outcome: &LoginOutcome, sshd: &Sshd, words: &[&str]) {
    eprintln!("{:?}: {}", outcome.status, cause(outcome));
    assert_eq!(outcome.status, Status::Failed, "{outcome:#?}");
    assert_eq!(outcome.qid, 105053);
    assert_eq!(outcome.cause.as_ref().unwrap().step, Step::HostKey);
    for word in words {
        assert!(
            cause(outcome).contains(word),
            "{word:?} not in {outcome:#?}"
        );
    }
    assert!(!format!("{outcome:?}").contains(PASSWORD));
    sshd.settle_log();
    let log = sshd.auth_log();
    assert!(sshd.connections() >= 1, "the attempt reached sshd:\n{log}");
    assert!(
        sshd.attempts_for(USER).is_empty(),
        "sshd saw an attempt:\n{log}"
    );
    for word in [
        "Failed password",
        "Accepted",
        "keyboard-interactive",
        "Postponed",
    ] {
        assert!(!log.contains(word), "{word:?} in sshd's log:\n{log}");
    }
}

#[test]
fn a_pinned_key_is_learned_then_a_changed_key_gets_nothing_until_accepted() {
    ensure_user(USER, PASSWORD);
    let state = tempfile::tempdir().unwrap();
    let store = Arc::new(KnownHosts::open(state.path()).unwrap());
    let trust = HostKeyTrust::Pin(store.clone());

    let first = Sshd::start_at(&SshdOptions::default(), "127.0.0.60", None);
    let port = first.port();
    let original = host_key(&first);
    let outcome = login(&target(&first), &credential(), &trust);
    assert_eq!(outcome.status, Status::Passed, "{outcome:#?}");
    assert_eq!(
        outcome.facts["host_key_check"],
        "pin: learned on this first contact"
    );
    let outcome = login(&target(&first), &credential(), &trust);
    assert_eq!(
        outcome.facts["host_key_check"],
        "pin: matches the pinned key"
    );
    drop(first);

    // Another machine answering on the same address and port, with another key.
    let impostor = Sshd::start_at(&SshdOptions::default(), "127.0.0.60", Some(port));
    let replaced = host_key(&impostor);
    assert_ne!(original, replaced);
    let outcome = login(&target(&impostor), &credential(), &trust);
    let place = known_hosts::place("127.0.0.60", port);
    assert_refused_before_auth(
        &outcome,
        &impostor,
        &[
            &original.fingerprint(),
            &replaced.fingerprint(),
            &format!(
                "sealscan-agent known-hosts accept '{place}' {}",
                replaced.fingerprint()
            ),
        ],
    );

    // The operator's command: a wrong fingerprint changes nothing, the right one pins.
    let agent = env!("CARGO_BIN_EXE_sealscan-agent");
    let run = |args: &[&str]| {
        Command::new(agent)
            .args(["known-hosts", "--state-dir"])
            .arg(state.path())
            .args(args)
            .output()
            .expect("run sealscan-agent known-hosts")
    };
    let listed = run(&["list"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains(&format!("pinned   {place} {original}")),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("refused  {place} {replaced}")),
        "{listed}"
    );
    let wrong = run(&["accept", &place, &original.fingerprint()]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains(&replaced.fingerprint()));
    let bad_place = run(&["accept", "127.0.0.60", &replaced.fingerprint()]);
    assert!(!bad_place.status.success());
    assert!(String::from_utf8_lossy(&bad_place.stderr).contains("[HOST]:PORT"));
    let accepted = run(&["accept", &place, &replaced.fingerprint()]);
    assert!(accepted.status.success(), "{accepted:?}");
    let audit = String::from_utf8_lossy(&accepted.stderr).to_string()
        + &String::from_utf8_lossy(&accepted.stdout);
    assert!(audit.contains(&format!("pinned {replaced}")), "{audit}");

    let outcome = login(&target(&impostor), &credential(), &trust);
    assert_eq!(outcome.status, Status::Passed, "{outcome:#?}");
    assert_eq!(
        outcome.facts["host_key_check"],
        "pin: matches the pinned key"
    );
}

#[test]
fn known_keys_accept_only_the_records_keys() {
    ensure_user(USER, PASSWORD);
    let sshd = Sshd::start_at(&SshdOptions::default(), "127.0.0.61", None);
    let other = Sshd::start_at(&SshdOptions::default(), "127.0.0.61", None);
    let outcome = login(
        &target(&sshd),
        &credential(),
        &HostKeyTrust::Known {
            keys: vec![host_key(&other), host_key(&sshd)],
            authorities: Vec::new(),
        },
    );
    assert_eq!(outcome.status, Status::Passed, "{outcome:#?}");
    assert_eq!(
        outcome.facts["host_key_check"],
        "known: one of the record's host keys"
    );
    let outcome = login(
        &target(&other),
        &credential(),
        &HostKeyTrust::Known {
            keys: vec![host_key(&sshd)],
            authorities: Vec::new(),
        },
    );
    assert_refused_before_auth(
        &outcome,
        &other,
        &[
            &host_key(&sshd).fingerprint(),
            &host_key(&other).fingerprint(),
            "which the record does not trust",
        ],
    );
}

#[test]
fn off_is_explicit_in_the_result() {
    ensure_user(USER, PASSWORD);
    let sshd = Sshd::start_at(&SshdOptions::default(), "127.0.0.62", None);
    let outcome = login(&target(&sshd), &credential(), &HostKeyTrust::Off);
    assert_eq!(outcome.status, Status::Passed, "{outcome:#?}");
    assert!(
        outcome.facts["host_key_check"].starts_with("off: not checked"),
        "{outcome:#?}"
    );
}
