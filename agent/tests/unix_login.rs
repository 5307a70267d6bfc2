//! Unix logins against a real OpenSSH sshd on loopback, started per test from a temporary
//! configuration. Each test proves both what the agent reports and, from sshd's own log,
//! what reached the server.

use sealscan_agent::login::Target;
use sealscan_agent::login::unix::{HostKeyTrust, UnixCredential, UnixSecret};
use sealscan_protocols::results::{LoginOutcome, Status, Step};
use sealscan_protocols::secret::SecretBytes;
use sealscan_test_peers::sshd::{KeyFormat, Sshd, SshdOptions, TestKey, generate_key};
use sealscan_test_peers::system::{closed_loopback_port, ensure_user, expire_password, lock_user};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

#[path = "support/canary.rs"]
mod canary;
use canary::Canary;

const PASSWORD_USER: &str = "ssu_pw";
const PASSWORD: &str = "ssu-Correct-Horse-7";
const KEY_USER: &str = "ssu_key";
const LOCKED_USER: &str = "ssu_locked";
const PASSPHRASE: &str = "ssu-key-passphrase-3";

fn target(port: u16) -> Target {
    Target {
        host: "127.0.0.1".into(),
        port,
        // A bound for a stuck peer, not a measurement: loopback logins take a fraction of it.
        timeout: Duration::from_secs(30),
    }
}

/// The login these tests are about, with host keys not checked; the host-key tests below
/// name their trust.
fn login(target: &Target, credential: &UnixCredential) -> LoginOutcome {
    sealscan_agent::login::unix::login(target, credential, &HostKeyTrust::Off)
}

fn with_password(user: &str, password: &str) -> UnixCredential {
    UnixCredential {
        user: user.into(),
        secret: UnixSecret::Password(SecretBytes::copy_from(password.as_bytes())),
        elevation: None,
    }
}

fn with_key(user: &str, key: &TestKey, passphrase: Option<&str>) -> UnixCredential {
    UnixCredential {
        user: user.into(),
        secret: UnixSecret::PrivateKey {
            key: SecretBytes::copy_from(&key.private),
            passphrase: passphrase.map(|p| SecretBytes::copy_from(p.as_bytes())),
            certificate: None,
        },
        elevation: None,
    }
}

fn detail(outcome: &LoginOutcome) -> &str {
    outcome
        .cause
        .as_ref()
        .map(|c| c.detail.as_str())
        .unwrap_or("")
}

fn assert_failed(outcome: &LoginOutcome, step: Step, words: &[&str]) {
    // Shown with --nocapture or when the test fails: the causes an operator would read.
    eprintln!(
        "{:?} {:?}: {}",
        outcome.status,
        outcome.method,
        detail(outcome)
    );
    assert_eq!(outcome.status, Status::Failed, "{outcome:#?}");
    assert_eq!(outcome.qid, 105053, "{outcome:#?}");
    let cause = outcome.cause.as_ref().expect("a failure has a cause");
    assert_eq!(cause.step, step, "{outcome:#?}");
    for word in words {
        assert!(cause.detail.contains(word), "{word:?} not in {outcome:#?}");
    }
    for secret in [PASSWORD, PASSPHRASE] {
        assert!(
            !format!("{outcome:?}").contains(secret),
            "secret in {outcome:#?}"
        );
    }
}

fn os_release_id() -> String {
    std::fs::read_to_string("/etc/os-release")
        .expect("read /etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("ID="))
        .expect("ID= in /etc/os-release")
        .trim_matches('"')
        .to_string()
}

#[test]
fn right_password_passes_with_facts() {
    ensure_user(PASSWORD_USER, PASSWORD);
    let sshd = Sshd::start(&SshdOptions::default());
    let outcome = login(
        &target(sshd.port()),
        &with_password(PASSWORD_USER, PASSWORD),
    );
    assert_eq!(outcome.status, Status::Passed, "{outcome:#?}");
    assert_eq!(outcome.qid, 38307);
    assert_eq!(outcome.cause, None);
    assert_eq!(outcome.login_id, PASSWORD_USER);
    assert_eq!(outcome.method, "password");
    let facts = &outcome.facts;
    assert!(facts["uname"].starts_with("Linux "), "{facts:?}");
    assert_eq!(facts["os_id"], os_release_id());
    assert!(facts.contains_key("os_version_id"), "{facts:?}");
    assert!(facts.contains_key("os_pretty_name"), "{facts:?}");
    assert_eq!(
        facts["host_key"],
        format!("ssh-ed25519 {}", sshd.host_key_fingerprint())
    );
    assert!(facts["banner"].starts_with("SSH-2.0-OpenSSH_"), "{facts:?}");
    sshd.wait_for_attempt(PASSWORD_USER, "Accepted password");
}

#[test]
fn wrong_password_and_unknown_user_fail_and_reach_the_server() {
    ensure_user(PASSWORD_USER, PASSWORD);
    let sshd = Sshd::start(&SshdOptions::default());
    let outcome = login(
        &target(sshd.port()),
        &with_password(PASSWORD_USER, "ssu-wrong-password"),
    );
    assert_failed(
        &outcome,
        Step::Authentication,
        &[
            "refused the password for ssu_pw",
            "methods offered: publickey,password",
        ],
    );
    assert_eq!(outcome.method, "password");
    assert!(!detail(&outcome).contains("ssu-wrong-password"));
    sshd.wait_for_attempt(PASSWORD_USER, "Failed password");

    let outcome = login(&target(sshd.port()), &with_password("ssu_nobody", PASSWORD));
    assert_failed(
        &outcome,
        Step::Authentication,
        &["refused the password for ssu_nobody"],
    );
    sshd.wait_for_attempt("ssu_nobody", "Invalid user");
    assert!(sshd.accepted_for("ssu_nobody").is_empty());
}

#[test]
fn keyboard_interactive_only_server_takes_the_password_there() {
    ensure_user(PASSWORD_USER, PASSWORD);
    let sshd = Sshd::start(&SshdOptions::keyboard_interactive_only());
    let outcome = login(
        &target(sshd.port()),
        &with_password(PASSWORD_USER, PASSWORD),
    );
    assert_eq!(outcome.status, Status::Passed, "{outcome:#?}");
    assert_eq!(outcome.method, "keyboard-interactive");
    assert!(outcome.facts["uname"].starts_with("Linux "));
    sshd.wait_for_attempt(PASSWORD_USER, "Accepted keyboard-interactive");

    let outcome = login(
        &target(sshd.port()),
        &with_password(PASSWORD_USER, "ssu-wrong-password"),
    );
    assert_failed(
        &outcome,
        Step::Authentication,
        &[
            "refused the password given to its keyboard-interactive prompt for ssu_pw",
            "methods offered: publickey,keyboard-interactive",
        ],
    );
    assert_eq!(outcome.method, "keyboard-interactive");
    sshd.wait_for_attempt(PASSWORD_USER, "Failed keyboard-interactive");
}

#[test]
fn password_to_a_publickey_only_server_names_the_methods_offered() {
    ensure_user(PASSWORD_USER, PASSWORD);
    let sshd = Sshd::start(&SshdOptions {
        password: false,
        keyboard_interactive: false,
        ..SshdOptions::default()
    });
    let outcome = login(
        &target(sshd.port()),
        &with_password(PASSWORD_USER, PASSWORD),
    );
    assert_failed(
        &outcome,
        Step::Authentication,
        &[
            "neither password nor keyboard-interactive",
            "methods offered: publickey",
        ],
    );
}

#[test]
fn keys_of_every_type_and_armour_log_in_from_memory() {
    ensure_user(KEY_USER, "ssu-key-user-password-1");
    let dir = tempfile::tempdir().expect("temp dir");
    let sshd = Sshd::start(&SshdOptions::default());
    let cases = [
        ("ed25519", KeyFormat::OpenSsh, "", "publickey (ssh-ed25519)"),
        (
            "ed25519",
            KeyFormat::OpenSsh,
            PASSPHRASE,
            "publickey (ssh-ed25519)",
        ),
        (
            "ecdsa",
            KeyFormat::OpenSsh,
            "",
            "publickey (ecdsa-sha2-nistp256)",
        ),
        (
            "ecdsa",
            KeyFormat::OpenSsh,
            PASSPHRASE,
            "publickey (ecdsa-sha2-nistp256)",
        ),
        ("rsa", KeyFormat::OpenSsh, "", "publickey (ssh-rsa)"),
        ("rsa", KeyFormat::OpenSsh, PASSPHRASE, "publickey (ssh-rsa)"),
        ("rsa", KeyFormat::Pkcs8, "", "publickey (ssh-rsa)"),
        (
            "ecdsa",
            KeyFormat::Pkcs8,
            "",
            "publickey (ecdsa-sha2-nistp256)",
        ),
        ("rsa", KeyFormat::Pkcs8, PASSPHRASE, "publickey"),
        ("rsa", KeyFormat::Pem, PASSPHRASE, "publickey (ssh-rsa)"),
        (
            "ecdsa",
            KeyFormat::Pem,
            "",
            "publickey (ecdsa-sha2-nistp256)",
        ),
    ];
    for (key_type, format, passphrase, method) in cases {
        let key = generate_key(dir.path(), key_type, format, passphrase);
        sshd.authorize_key(KEY_USER, &key.public);
        let passphrase = Some(passphrase).filter(|p| !p.is_empty());
        let outcome = login(&target(sshd.port()), &with_key(KEY_USER, &key, passphrase));
        assert_eq!(
            outcome.status,
            Status::Passed,
            "{key_type} {format:?} passphrase={}: {outcome:#?}",
            passphrase.is_some()
        );
        assert_eq!(outcome.method, method, "{key_type} {format:?}");
        assert!(outcome.facts["uname"].starts_with("Linux "));
    }
    sshd.wait_for_line(|l| l.contains("Accepted publickey for ssu_key") && l.contains("ED25519"));
    sshd.wait_for_line(|l| l.contains("Accepted publickey for ssu_key") && l.contains("ECDSA"));
    sshd.wait_for_line(|l| l.contains("Accepted publickey for ssu_key") && l.contains("RSA"));
}

#[test]
fn wrong_passphrase_is_named_and_never_reaches_the_server() {
    ensure_user(KEY_USER, "ssu-key-user-password-1");
    let dir = tempfile::tempdir().expect("temp dir");
    let sshd = Sshd::start(&SshdOptions::default());
    for (key_type, format) in [
        ("ed25519", KeyFormat::OpenSsh),
        ("rsa", KeyFormat::Pkcs8),
        ("ecdsa", KeyFormat::Pem),
    ] {
        let key = generate_key(dir.path(), key_type, format, PASSPHRASE);
        sshd.authorize_key(KEY_USER, &key.public);
        let outcome = login(
            &target(sshd.port()),
            &with_key(KEY_USER, &key, Some("ssu-not-the-passphrase")),
        );
        assert_failed(&outcome, Step::Authentication, &["wrong key passphrase"]);
        assert!(!detail(&outcome).contains("ssu-not-the-passphrase"));
    }
    // The key is decrypted before any publickey request is sent: three connections, none
    // of them carried a key.
    sshd.settle_log();
    assert_eq!(sshd.connections(), 3, "{}", sshd.auth_log());
    assert!(
        sshd.attempts_for(KEY_USER)
            .iter()
            .all(|l| !l.contains("publickey")),
        "{}",
        sshd.auth_log()
    );
}

#[test]
fn unusable_key_material_fails_before_connecting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sshd = Sshd::start(&SshdOptions::default());
    let encrypted = generate_key(dir.path(), "ed25519", KeyFormat::OpenSsh, PASSPHRASE);
    let outcome = login(&target(sshd.port()), &with_key(KEY_USER, &encrypted, None));
    assert_failed(
        &outcome,
        Step::Authentication,
        &["OpenSSH private key is encrypted and the credential has no passphrase"],
    );
    let garbage = TestKey {
        private: b"not a key at all".to_vec(),
        public: String::new(),
    };
    let outcome = login(&target(sshd.port()), &with_key(KEY_USER, &garbage, None));
    assert_failed(
        &outcome,
        Step::Authentication,
        &["private key cannot be used"],
    );
    assert!(!detail(&outcome).contains("not a key at all"));
    sshd.settle_log();
    assert_eq!(sshd.connections(), 0, "{}", sshd.auth_log());
    assert!(sshd.attempts_for(KEY_USER).is_empty());
}

#[test]
fn a_key_not_authorised_for_the_account_is_refused_by_the_server() {
    ensure_user(KEY_USER, "ssu-key-user-password-1");
    let dir = tempfile::tempdir().expect("temp dir");
    let sshd = Sshd::start(&SshdOptions::default());
    let authorised = generate_key(dir.path(), "ed25519", KeyFormat::OpenSsh, "");
    sshd.authorize_key(KEY_USER, &authorised.public);
    let locked_out = generate_key(dir.path(), "ecdsa", KeyFormat::OpenSsh, "");
    let outcome = login(&target(sshd.port()), &with_key(KEY_USER, &locked_out, None));
    assert_failed(
        &outcome,
        Step::Authentication,
        &[
            "refused the key for ssu_key",
            "methods offered: publickey,password",
        ],
    );
    assert_eq!(outcome.method, "publickey (ecdsa-sha2-nistp256)");
    sshd.wait_for_line(|l| l.contains("Failed publickey for ssu_key") && l.contains("ECDSA"));
    assert!(sshd.accepted_for(KEY_USER).is_empty());
}

#[test]
fn a_locked_account_is_refused_for_password_and_key() {
    ensure_user(LOCKED_USER, PASSWORD);
    lock_user(LOCKED_USER);
    let dir = tempfile::tempdir().expect("temp dir");
    let sshd = Sshd::start(&SshdOptions::default());
    let outcome = login(&target(sshd.port()), &with_password(LOCKED_USER, PASSWORD));
    assert_failed(
        &outcome,
        Step::Authentication,
        &["refused the password for ssu_locked"],
    );
    let key = generate_key(dir.path(), "ed25519", KeyFormat::OpenSsh, "");
    sshd.authorize_key(LOCKED_USER, &key.public);
    let outcome = login(&target(sshd.port()), &with_key(LOCKED_USER, &key, None));
    assert_failed(
        &outcome,
        Step::Authentication,
        &["refused the key for ssu_locked"],
    );
    sshd.wait_for_line(|l| l.contains("User ssu_locked not allowed because account is locked"));
    assert!(sshd.accepted_for(LOCKED_USER).is_empty());
}

#[test]
fn a_closed_port_is_not_attempted() {
    // Bound but not listening: the port stays ours, so no peer another test starts can take
    // it, and a connection to it is refused.
    let (_socket, port) = closed_loopback_port();
    let outcome = login(&target(port), &with_password(PASSWORD_USER, PASSWORD));
    assert_eq!(outcome.status, Status::NotAttempted, "{outcome:#?}");
    assert_eq!(outcome.qid, 105297);
    let cause = outcome.cause.expect("cause");
    assert_eq!(cause.step, Step::Connect);
    assert!(cause.detail.contains("connection refused"), "{cause:?}");
}

#[test]
fn a_listener_that_never_answers_times_out() {
    // Accepted by the kernel's backlog, never read or answered.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut silent = target(port);
    silent.timeout = Duration::from_secs(2);
    let outcome = login(&silent, &with_password(PASSWORD_USER, PASSWORD));
    assert_eq!(outcome.status, Status::TimedOut, "{outcome:#?}");
    assert_eq!(outcome.qid, 115263);
    let cause = outcome.cause.expect("cause");
    assert_eq!(cause.step, Step::Negotiate);
    assert!(
        cause.detail.contains("did not complete an SSH handshake"),
        "{cause:?}"
    );
    drop(listener);
}

#[test]
fn a_listener_that_answers_garbage_fails_at_negotiation() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        let mut sink = [0u8; 256];
        let _ = stream.read(&mut sink);
        // Dropping the stream closes the connection, as a web server would.
    });
    let outcome = login(&target(port), &with_password(PASSWORD_USER, PASSWORD));
    server.join().expect("garbage server");
    assert_failed(
        &outcome,
        Step::Negotiate,
        &["does not answer as an SSH server"],
    );
}

#[test]
fn a_peer_that_drips_bytes_is_cut_off_at_the_deadline() {
    // Every byte arrives well within the timeout, so the connection never goes quiet; the
    // attempt must still end, as a timeout.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        while stream.write_all(b"x").is_ok() {
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let mut dripping = target(port);
    dripping.timeout = Duration::from_secs(2);
    let outcome = login(&dripping, &with_password(PASSWORD_USER, PASSWORD));
    assert_eq!(outcome.status, Status::TimedOut, "{outcome:#?}");
    assert_eq!(outcome.qid, 115263);
    let cause = outcome.cause.expect("cause");
    assert_eq!(cause.step, Step::Negotiate, "{cause:?}");
    assert!(cause.detail.contains("2.0 s timeout"), "{cause:?}");
    server.join().expect("drip server");
}

#[test]
fn a_shell_that_refuses_commands_fails_the_session_step() {
    ensure_user(PASSWORD_USER, PASSWORD);
    let sshd = Sshd::start(&SshdOptions {
        force_command: Some("exit 3".into()),
        ..SshdOptions::default()
    });
    let outcome = login(
        &target(sshd.port()),
        &with_password(PASSWORD_USER, PASSWORD),
    );
    assert_failed(
        &outcome,
        Step::Session,
        &[
            "logged in as ssu_pw with password",
            "`uname -a` printed nothing usable (the command exited with status 3)",
        ],
    );
    assert_eq!(outcome.method, "password");
    sshd.wait_for_attempt(PASSWORD_USER, "Accepted password");
}

#[test]
fn a_session_that_drips_output_is_cut_off_at_the_deadline() {
    // Output keeps coming, so no single read waits long; only the bound on the whole attempt
    // can end it.
    ensure_user(PASSWORD_USER, PASSWORD);
    let sshd = Sshd::start(&SshdOptions {
        force_command: Some("while :; do echo x; sleep 0.2; done".into()),
        ..SshdOptions::default()
    });
    let mut dripping = target(sshd.port());
    dripping.timeout = Duration::from_secs(3);
    let outcome = login(&dripping, &with_password(PASSWORD_USER, PASSWORD));
    assert_eq!(outcome.status, Status::TimedOut, "{outcome:#?}");
    assert_eq!(outcome.qid, 115263);
    assert_eq!(outcome.method, "password");
    let cause = outcome.cause.expect("cause");
    assert_eq!(cause.step, Step::Session, "{cause:?}");
    assert!(
        cause
            .detail
            .contains("3.0 s timeout ran out during the session step"),
        "{cause:?}"
    );
}

#[test]
fn thirty_two_logins_at_once_all_pass() {
    // The agent's default concurrency against one server: MaxStartups must not refuse any.
    ensure_user(PASSWORD_USER, PASSWORD);
    let sshd = Sshd::start(&SshdOptions::default());
    let port = sshd.port();
    let outcomes: Vec<LoginOutcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..32)
            .map(|_| {
                scope.spawn(move || login(&target(port), &with_password(PASSWORD_USER, PASSWORD)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("login thread"))
            .collect()
    });
    for outcome in &outcomes {
        assert_eq!(outcome.status, Status::Passed, "{outcome:#?}");
    }
    let accepted = sshd.wait_for_lines(
        |l| l.contains("Accepted password for ssu_pw"),
        outcomes.len(),
    );
    assert_eq!(accepted.len(), 32);
}

#[test]
fn no_copy_of_the_password_outlives_the_login() {
    const USER: &str = "ssu_canary";
    let canary = Canary::new();
    ensure_user(USER, canary.as_str());
    for options in [
        SshdOptions::default(),
        SshdOptions::keyboard_interactive_only(),
    ] {
        let sshd = Sshd::start(&options);
        let outcome = login(&target(sshd.port()), &with_password(USER, canary.as_str()));
        assert_eq!(outcome.status, Status::Passed, "{outcome:#?}");
        assert!(!format!("{outcome:?}").contains(canary.as_str()));
    }
    let wrong = Canary::new();
    let sshd = Sshd::start(&SshdOptions::default());
    let outcome = login(&target(sshd.port()), &with_password(USER, wrong.as_str()));
    assert_eq!(outcome.status, Status::Failed, "{outcome:#?}");
    let copies = canary.copies_in_memory();
    assert!(
        copies.is_empty(),
        "the password is still in memory at {copies:#?}"
    );
    let copies = wrong.copies_in_memory();
    assert!(
        copies.is_empty(),
        "the wrong password is still in memory at {copies:#?}"
    );
}

#[test]
fn no_copy_of_the_key_passphrase_outlives_the_login() {
    ensure_user(KEY_USER, "ssu-key-user-password-1");
    let passphrase = Canary::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let sshd = Sshd::start(&SshdOptions::default());
    // OpenSSH armour is decrypted by libssh2, PKCS#8 and PEM by OpenSSL (which leaves a copy
    // in a stack buffer unless the login scrubs the stack after it).
    for (key_type, format) in [
        ("ed25519", ""),
        ("ecdsa", ""),
        ("rsa", ""),
        ("ecdsa", "PKCS8"),
        ("rsa", "PKCS8"),
        ("rsa", "PEM"),
        ("ecdsa", "PEM"),
    ] {
        // The passphrase reaches ssh-keygen through a pipe, never as an argument that this
        // process would copy.
        let path = dir.path().join(format!("canary-{key_type}-{format}"));
        let mut keygen = std::process::Command::new("sh")
            .arg("-c")
            .arg(r#"ssh-keygen -q -t "$1" ${2:+-m "$2"} -C canary -f "$3" -N "$(cat)""#)
            .args(["sh", key_type, format])
            .arg(&path)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("run ssh-keygen");
        let mut stdin = keygen.stdin.take().expect("stdin");
        stdin
            .write_all(passphrase.as_str().as_bytes())
            .expect("write passphrase");
        drop(stdin);
        assert!(keygen.wait().expect("ssh-keygen").success());
        let key = TestKey {
            private: std::fs::read(&path).expect("read key"),
            public: std::fs::read_to_string(format!("{}.pub", path.display())).expect("pub"),
        };
        sshd.authorize_key(KEY_USER, &key.public);
        let outcome = login(
            &target(sshd.port()),
            &with_key(KEY_USER, &key, Some(passphrase.as_str())),
        );
        assert_eq!(outcome.status, Status::Passed, "{key_type}: {outcome:#?}");
    }
    let copies = passphrase.copies_in_memory();
    assert!(
        copies.is_empty(),
        "the passphrase is still in memory at {copies:#?}"
    );
}

#[test]
fn an_expired_password_is_named_by_what_the_server_said() {
    const USER: &str = "ssu_expired";
    ensure_user(USER, PASSWORD);
    expire_password(USER);
    // Without PAM, sshd lets the login through and then demands a change instead of
    // running the command.
    let sshd = Sshd::start(&SshdOptions::default());
    let outcome = login(&target(sshd.port()), &with_password(USER, PASSWORD));
    assert_failed(
        &outcome,
        Step::Session,
        &[
            "logged in as ssu_expired with password",
            "Your password has expired",
        ],
    );
    // Through PAM, the change is demanded in the keyboard-interactive conversation.
    let sshd = Sshd::start(&SshdOptions::keyboard_interactive_only());
    let outcome = login(&target(sshd.port()), &with_password(USER, PASSWORD));
    assert_failed(
        &outcome,
        Step::Authentication,
        &[
            "after the password, the server asked ssu_expired for more",
            "You are required to change your password",
        ],
    );
    sshd.wait_for_attempt(USER, "Failed keyboard-interactive");
}
