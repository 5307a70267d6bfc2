//! OpenSSH user certificates: a key whose public half is in no authorized_keys file logs in
//! with a certificate signed by a CA the server trusts (`TrustedUserCAKeys`); one signed by
//! another CA is refused. Every key type, in OpenSSH, PKCS#8 and PEM armour, with and without
//! a passphrase.

use sealscan_agent::login::Target;
use sealscan_agent::login::unix::{HostKeyTrust, UnixCredential, UnixSecret, login};
use sealscan_protocols::results::{LoginOutcome, Status, Step};
use sealscan_protocols::secret::SecretBytes;
use sealscan_test_peers::sshd::{
    KeyFormat, Sshd, SshdOptions, TestKey, generate_key, sign_user_certificate,
};
use sealscan_test_peers::system::ensure_user;
use std::time::Duration;

const USER: &str = "ssu_cert";
const PASSPHRASE: &str = "ssu-cert-passphrase-2";

fn with_certificate(key: &TestKey, passphrase: &str, certificate: &str) -> UnixCredential {
    UnixCredential {
        user: USER.into(),
        secret: UnixSecret::PrivateKey {
            key: SecretBytes::copy_from(&key.private),
            passphrase: (!passphrase.is_empty())
                .then(|| SecretBytes::copy_from(passphrase.as_bytes())),
            certificate: Some(certificate.to_string()),
        },
        elevation: None,
    }
}

fn run(sshd: &Sshd, credential: &UnixCredential) -> LoginOutcome {
    let target = Target {
        host: "127.0.0.1".into(),
        port: sshd.port(),
        timeout: Duration::from_secs(30),
    };
    login(&target, credential, &HostKeyTrust::Off)
}

#[test]
fn a_certificate_from_the_trusted_ca_logs_in_and_another_cas_is_refused() {
    ensure_user(USER, "ssu-cert-user-password-7");
    let dir = tempfile::tempdir().expect("temp dir");
    let sshd = Sshd::start(&SshdOptions::default());
    // The CAs' keys in a directory of their own: generate_key names files by type and format.
    let cas = tempfile::tempdir().expect("temp dir");
    let ca = generate_key(cas.path(), "ed25519", KeyFormat::OpenSsh, "");
    let rogue = generate_key(cas.path(), "ecdsa", KeyFormat::OpenSsh, "");
    sshd.trust_user_ca(&ca.public);
    for (key_type, format, passphrase, cert_type) in [
        (
            "ed25519",
            KeyFormat::OpenSsh,
            "",
            "ssh-ed25519-cert-v01@openssh.com",
        ),
        (
            "ed25519",
            KeyFormat::OpenSsh,
            PASSPHRASE,
            "ssh-ed25519-cert-v01@openssh.com",
        ),
        (
            "ecdsa",
            KeyFormat::Pkcs8,
            PASSPHRASE,
            "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        ),
        (
            "ecdsa",
            KeyFormat::Pem,
            "",
            "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        ),
        ("rsa", KeyFormat::Pkcs8, "", "ssh-rsa-cert-v01@openssh.com"),
        (
            "rsa",
            KeyFormat::Pem,
            PASSPHRASE,
            "ssh-rsa-cert-v01@openssh.com",
        ),
    ] {
        let key = generate_key(dir.path(), key_type, format, passphrase);
        let certificate = sign_user_certificate(dir.path(), &ca, &key, USER);
        assert!(certificate.starts_with(cert_type), "{certificate}");
        let outcome = run(&sshd, &with_certificate(&key, passphrase, &certificate));
        eprintln!(
            "{key_type} {format:?} {:?}: {:?}",
            outcome.status, outcome.cause
        );
        assert_eq!(
            outcome.status,
            Status::Passed,
            "{key_type} {format:?}: {outcome:#?}"
        );
        assert_eq!(outcome.method, format!("publickey ({cert_type})"));
        assert!(!format!("{outcome:?}").contains(PASSPHRASE));

        let untrusted = sign_user_certificate(dir.path(), &rogue, &key, USER);
        let outcome = run(&sshd, &with_certificate(&key, passphrase, &untrusted));
        assert_eq!(outcome.status, Status::Failed, "{outcome:#?}");
        assert_eq!(outcome.cause.as_ref().unwrap().step, Step::Authentication);
        assert!(
            outcome
                .cause
                .as_ref()
                .unwrap()
                .detail
                .contains("refused the key"),
            "{outcome:#?}"
        );
    }
    let accepted = sshd.accepted_for(USER);
    assert_eq!(accepted.len(), 6, "{}", sshd.auth_log());
    assert!(accepted.iter().all(|l| l.contains("CERT")), "{accepted:#?}");
}

#[test]
fn a_certificate_that_is_not_one_fails_before_connecting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = generate_key(dir.path(), "ed25519", KeyFormat::OpenSsh, "");
    let sshd = Sshd::start(&SshdOptions::default());
    let outcome = run(&sshd, &with_certificate(&key, "", &key.public));
    assert_eq!(outcome.status, Status::Failed, "{outcome:#?}");
    assert!(
        outcome
            .cause
            .as_ref()
            .unwrap()
            .detail
            .contains("not an OpenSSH certificate"),
        "{outcome:#?}"
    );
    sshd.settle_log();
    assert_eq!(sshd.connections(), 0, "{}", sshd.auth_log());
}
