//! Host certificates for the `known` policy, against real sshd servers with `HostCertificate`:
//! a certificate signed by one of the record's host CAs, valid now and naming the target, is
//! accepted; one signed by another CA, an expired one, one for other principals, and a plain
//! key when the record lists only CAs are refused before anything is sent (105053, with the
//! presented and the expected fingerprints). libssh2 checks none of this itself; the agent does.

use sealscan_agent::known_hosts::KnownHosts;
use sealscan_agent::login::Target;
use sealscan_agent::login::unix::{HostKeyTrust, UnixCredential, UnixSecret, login};
use sealscan_protocols::host_key::HostKey;
use sealscan_protocols::results::{LoginOutcome, Status, Step};
use sealscan_protocols::secret::SecretBytes;
use sealscan_test_peers::sshd::{
    HostCertificate, KeyFormat, Sshd, SshdOptions, TestKey, generate_key,
};
use sealscan_test_peers::system::ensure_user;
use std::sync::Arc;
use std::time::Duration;

const USER: &str = "ssu_hc";
const PASSWORD: &str = "ssu-hc-Host-Cert-7";

struct Cas {
    _dir: tempfile::TempDir,
    /// Trusted by the record.
    rsa: TestKey,
    ecdsa: TestKey,
    /// Not trusted.
    other: TestKey,
}

fn cas() -> Cas {
    let dir = tempfile::tempdir().expect("temp dir");
    Cas {
        rsa: generate_key(dir.path(), "rsa", KeyFormat::OpenSsh, ""),
        ecdsa: generate_key(dir.path(), "ecdsa", KeyFormat::OpenSsh, ""),
        other: generate_key(dir.path(), "ed25519", KeyFormat::OpenSsh, ""),
        _dir: dir,
    }
}

fn ca_key(ca: &TestKey) -> HostKey {
    HostKey::parse(&ca.public).expect("the CA's public key parses")
}

fn record_trust(cas: &Cas) -> HostKeyTrust {
    HostKeyTrust::Known {
        keys: Vec::new(),
        authorities: vec![ca_key(&cas.ecdsa), ca_key(&cas.rsa)],
    }
}

fn with_certificate(ca: &TestKey, principals: &str, validity: &str) -> Sshd {
    Sshd::start(&SshdOptions {
        host_certificate: Some(HostCertificate {
            ca_private: ca.private.clone(),
            principals: principals.into(),
            validity: validity.into(),
        }),
        ..SshdOptions::default()
    })
}

fn target(host: &str, sshd: &Sshd) -> Target {
    Target {
        host: host.into(),
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

fn cause(outcome: &LoginOutcome) -> String {
    outcome
        .cause
        .as_ref()
        .map(|c| c.detail.clone())
        .unwrap_or_default()
}

/// 105053 at the host-key step, naming `words`, and sshd saw the connection but no
/// authentication attempt.
fn assert_refused_before_auth(outcome: &LoginOutcome, sshd: &Sshd, words: &[&str]) {
    eprintln!("{:?}: {}", outcome.status, cause(outcome));
    assert_eq!(outcome.status, Status::Failed, "{outcome:#?}");
    assert_eq!(outcome.qid, 105053, "{outcome:#?}");
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
    for word in ["Failed password", "Accepted", "Postponed"] {
        assert!(!log.contains(word), "{word:?} in sshd's log:\n{log}");
    }
}

#[test]
fn a_certificate_by_a_trusted_ca_naming_the_target_is_accepted() {
    ensure_user(USER, PASSWORD);
    let cas = cas();
    let sshd = with_certificate(&cas.rsa, "scan-target.example,127.0.0.1", "-5m:+1h");
    let outcome = login(
        &target("127.0.0.1", &sshd),
        &credential(),
        &record_trust(&cas),
    );
    assert_eq!(outcome.status, Status::Passed, "{outcome:#?}");
    let fact = &outcome.facts["host_key_check"];
    assert!(
        fact.contains("host certificate for 127.0.0.1")
            && fact.contains(&ca_key(&cas.rsa).fingerprint()),
        "{fact}"
    );
    assert!(
        outcome.facts["host_key"].starts_with("ssh-ed25519-cert-v01@openssh.com SHA256:"),
        "{outcome:#?}"
    );

    // By name: the certificate names the host as the record does, not by address.
    let named = with_certificate(&cas.ecdsa, "localhost", "-5m:+1h");
    let outcome = login(
        &target("localhost", &named),
        &credential(),
        &record_trust(&cas),
    );
    assert_eq!(outcome.status, Status::Passed, "{outcome:#?}");
    assert!(
        outcome.facts["host_key_check"].contains("host certificate for localhost"),
        "{outcome:#?}"
    );
}

#[test]
fn a_certificate_by_another_ca_is_refused_before_anything_is_sent() {
    ensure_user(USER, PASSWORD);
    let cas = cas();
    let sshd = with_certificate(&cas.other, "127.0.0.1", "-5m:+1h");
    let outcome = login(
        &target("127.0.0.1", &sshd),
        &credential(),
        &record_trust(&cas),
    );
    assert_refused_before_auth(
        &outcome,
        &sshd,
        &[
            "ssh-ed25519-cert-v01@openssh.com SHA256:",
            &format!(
                "signed by the CA {}, which is not one of the record's host CAs",
                ca_key(&cas.other).fingerprint()
            ),
            &format!("a host certificate signed by the CA {}", ca_key(&cas.rsa)),
            &ca_key(&cas.ecdsa).fingerprint(),
        ],
    );
}

#[test]
fn an_expired_certificate_is_refused() {
    ensure_user(USER, PASSWORD);
    let cas = cas();
    let sshd = with_certificate(&cas.rsa, "127.0.0.1", "20200101:20200102");
    let outcome = login(
        &target("127.0.0.1", &sshd),
        &credential(),
        &record_trust(&cas),
    );
    assert_refused_before_auth(&outcome, &sshd, &["it expired at 2020-01-02"]);
}

#[test]
fn a_certificate_for_other_principals_is_refused() {
    ensure_user(USER, PASSWORD);
    let cas = cas();
    let sshd = with_certificate(&cas.rsa, "other.example,127.0.0.2", "-5m:+1h");
    let outcome = login(
        &target("127.0.0.1", &sshd),
        &credential(),
        &record_trust(&cas),
    );
    assert_refused_before_auth(
        &outcome,
        &sshd,
        &["its principals [\"other.example\", \"127.0.0.2\"] name neither 127.0.0.1"],
    );
}

#[test]
fn a_plain_key_is_refused_when_the_record_lists_only_cas() {
    ensure_user(USER, PASSWORD);
    let cas = cas();
    let sshd = Sshd::start(&SshdOptions::default());
    let outcome = login(
        &target("127.0.0.1", &sshd),
        &credential(),
        &record_trust(&cas),
    );
    let presented = HostKey::parse(&sshd.host_public_key()).expect("host key");
    assert_refused_before_auth(
        &outcome,
        &sshd,
        &[
            &format!("presented the host key {presented}"),
            &ca_key(&cas.rsa).fingerprint(),
        ],
    );

    // A listed key still works beside the CAs.
    let mut trust = record_trust(&cas);
    if let HostKeyTrust::Known { keys, .. } = &mut trust {
        keys.push(presented);
    }
    let outcome = login(&target("127.0.0.1", &sshd), &credential(), &trust);
    assert_eq!(outcome.status, Status::Passed, "{outcome:#?}");
}

#[test]
fn pin_compares_the_plain_key_of_a_server_with_a_certificate() {
    // Without a host CA the agent does not ask for certificates: a renewed certificate on the
    // same key must not read as a changed host key.
    ensure_user(USER, PASSWORD);
    let cas = cas();
    let sshd = with_certificate(&cas.rsa, "127.0.0.1", "-5m:+1h");
    let trust = HostKeyTrust::Pin(Arc::new(KnownHosts::in_memory()));
    let outcome = login(&target("127.0.0.1", &sshd), &credential(), &trust);
    assert_eq!(outcome.status, Status::Passed, "{outcome:#?}");
    let presented = HostKey::parse(&sshd.host_public_key()).expect("host key");
    assert_eq!(outcome.facts["host_key"], presented.to_string());
}
