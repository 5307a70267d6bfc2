//! Root delegation (sudo, su, sudo su -) against a real Debian target whose root password and
//! sudoers this test sets: a systemd container with its sshd on 127.0.0.63:22
//! (`sealscan_test_peers::root_target`).

use sealscan_agent::login::Target;
use sealscan_agent::login::unix::{
    Elevation, HostKeyTrust, SudoPassword, UnixCredential, UnixSecret, login,
};
use sealscan_protocols::results::{LoginOutcome, Status, Step};
use sealscan_protocols::secret::SecretBytes;
use sealscan_test_peers::root_target::{ADDRESS, Account, PORT, RootTarget};
use std::sync::OnceLock;
use std::time::Duration;

#[path = "support/canary.rs"]
mod canary;
use canary::Canary;

const ROOT_PASSWORD: &str = "dl-Root-Password-8";
const SUDO: &str = "dl_sudo";
const NOPASSWD: &str = "dl_nopw";
const TTY: &str = "dl_tty";
const NONE: &str = "dl_none";
const PASSWORD: &str = "dl-User-Password-5";

fn target() -> &'static RootTarget {
    static TARGET: OnceLock<RootTarget> = OnceLock::new();
    TARGET.get_or_init(|| {
        let account = |name, sudoers, requiretty| Account {
            name,
            password: PASSWORD,
            sudoers,
            requiretty,
        };
        RootTarget::start(
            ROOT_PASSWORD,
            &[
                account(SUDO, Some("ALL=(ALL) ALL"), false),
                account(NOPASSWD, Some("ALL=(ALL) NOPASSWD: ALL"), false),
                account(TTY, Some("ALL=(ALL) ALL"), true),
                account(NONE, None, false),
            ],
        )
    })
}

fn run(user: &str, password: &str, elevation: Elevation) -> LoginOutcome {
    target();
    let credential = UnixCredential {
        user: user.into(),
        secret: UnixSecret::Password(SecretBytes::copy_from(password.as_bytes())),
        elevation: Some(elevation),
    };
    let net = Target {
        host: ADDRESS.into(),
        port: PORT,
        timeout: Duration::from_secs(30),
    };
    let outcome = login(&net, &credential, &HostKeyTrust::Off);
    eprintln!(
        "{user} {:?} {}: {:?}",
        outcome.status,
        outcome.method,
        outcome.cause.as_ref().map(|c| &c.detail)
    );
    outcome
}

fn own(password: &str) -> SudoPassword {
    SudoPassword::Own(SecretBytes::copy_from(password.as_bytes()))
}

fn assert_root(outcome: &LoginOutcome, method: &str) {
    assert_eq!(outcome.status, Status::Passed, "{outcome:#?}");
    assert_eq!(outcome.qid, 38307);
    assert_eq!(outcome.method, method);
    assert!(
        outcome.facts["delegation"].ends_with("uid 0"),
        "{outcome:#?}"
    );
    // The proof of session is read too, on the delegation's channel for sudo.
    assert!(
        outcome.facts["uname"].starts_with("Linux "),
        "{outcome:#?}"
    );
    assert_eq!(outcome.facts["os_id"], "debian", "{outcome:#?}");
}

fn assert_refused(outcome: &LoginOutcome, words: &str) {
    assert_eq!(outcome.status, Status::Failed, "{outcome:#?}");
    assert_eq!(outcome.qid, 105053);
    let cause = outcome.cause.as_ref().expect("a cause");
    assert_eq!(cause.step, Step::Delegation, "{outcome:#?}");
    assert!(cause.detail.contains("logged in as"), "{outcome:#?}");
    assert!(
        cause.detail.contains(words),
        "{words:?} not in {outcome:#?}"
    );
    for secret in [PASSWORD, ROOT_PASSWORD, "dl-wrong"] {
        assert!(!format!("{outcome:?}").contains(secret), "{outcome:#?}");
    }
}

#[test]
fn sudo_with_the_login_password_own_password_or_nopasswd_proves_root() {
    assert_root(
        &run(SUDO, PASSWORD, Elevation::Sudo(SudoPassword::Login)),
        "password + sudo",
    );
    assert_root(
        &run(SUDO, PASSWORD, Elevation::Sudo(own(PASSWORD))),
        "password + sudo",
    );
    assert_root(
        &run(NOPASSWD, PASSWORD, Elevation::Sudo(SudoPassword::None)),
        "password + sudo",
    );
    assert_root(
        &run(SUDO, PASSWORD, Elevation::SudoSu(SudoPassword::Login)),
        "password + sudo su -",
    );
}

#[test]
fn sudo_failures_carry_the_targets_words() {
    assert_refused(
        &run(SUDO, PASSWORD, Elevation::Sudo(own("dl-wrong-sudo"))),
        "wrong password",
    );
    assert_refused(
        &run(NONE, PASSWORD, Elevation::Sudo(SudoPassword::Login)),
        "not in the target's sudoers",
    );
    assert_refused(
        &run(TTY, PASSWORD, Elevation::Sudo(SudoPassword::Login)),
        "requiretty",
    );
    assert_refused(
        &run(SUDO, PASSWORD, Elevation::Sudo(SudoPassword::None)),
        "gives none",
    );
}

#[test]
fn su_with_roots_password() {
    assert_root(
        &run(
            NONE,
            PASSWORD,
            Elevation::Su(SecretBytes::copy_from(ROOT_PASSWORD.as_bytes())),
        ),
        "password + su",
    );
    assert_refused(
        &run(
            NONE,
            PASSWORD,
            Elevation::Su(SecretBytes::copy_from(b"dl-wrong-root")),
        ),
        "wrong password",
    );
}

#[test]
fn no_copy_of_the_delegation_password_outlives_the_login() {
    let root = Canary::new();
    let sudo = Canary::new();
    // A wrong root password (su) and a wrong sudo password: both reach the target's programs.
    let outcome = run(
        NONE,
        PASSWORD,
        Elevation::Su(SecretBytes::copy_from(root.as_str().as_bytes())),
    );
    assert_eq!(outcome.status, Status::Failed, "{outcome:#?}");
    let outcome = run(
        SUDO,
        PASSWORD,
        Elevation::Sudo(SudoPassword::Own(SecretBytes::copy_from(
            sudo.as_str().as_bytes(),
        ))),
    );
    assert_eq!(outcome.status, Status::Failed, "{outcome:#?}");
    for canary in [&root, &sudo] {
        let copies = canary.copies_in_memory();
        assert!(
            copies.is_empty(),
            "a delegation password is still in memory at {copies:#?}"
        );
    }
}
