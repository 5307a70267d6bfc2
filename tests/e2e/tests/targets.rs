//! Jobs as the control plane hands them over, run through the agent's own job code against
//! real OpenSSH sshd, Samba smbd and the Secret Server simulator on loopback: record choice,
//! credential resolution (legacy, sealed, vault), the login, and the result with its QID.

use sealscan_e2e::*;
use sealscan_protocols::appliance::{RecordLogin, SecretFieldName, WindowsDomainType};
use sealscan_protocols::results::{LoginKind, Status, Step};
use sealscan_test_peers::smbd::{Smbd, SmbdOptions};
use sealscan_test_peers::sshd::{KeyFormat, Sshd, SshdOptions, generate_key};
use sealscan_test_peers::system::{closed_loopback_port, ensure_user, lock_user};
use secret_server_sim::{Seed, Sim, SimConfig};
use std::net::TcpListener;

const UNIX_USER: &str = "e2e_unix";
const UNIX_PW: &str = "e2e-Unix-Pw-31";
const LOCKED_USER: &str = "e2e_locked";
const WIN_USER: &str = "e2e_win";
const WIN_PW: &str = "e2e-Win-Pw-47";
const SVC_PW: &str = "svc-Vault-Pw-5";

#[test]
fn unix_passwords_right_wrong_and_unknown_user() {
    ensure_user(UNIX_USER, UNIX_PW);
    let sshd = Sshd::start(&SshdOptions::default());
    let port = sshd.port();
    let pw = |v: &str| vec![legacy(SecretFieldName::Password, v.as_bytes())];
    let job = job(
        vec![
            target("right", LoginKind::Unix, port, Some("r-right")),
            target("wrong", LoginKind::Unix, port, Some("r-wrong")),
            target("unknown", LoginKind::Unix, port, Some("r-unknown")),
            target("no-record", LoginKind::Unix, port, None),
        ],
        vec![
            unix_record("r-right", UNIX_USER, pw(UNIX_PW)),
            unix_record("r-wrong", UNIX_USER, pw("not-the-password")),
            unix_record("r-unknown", "e2e_nobody", pw(UNIX_PW)),
        ],
        vec![],
    );
    let posts = run_job(&job, timeouts());

    let ok = result(&posts, "right");
    assert_eq!(ok.status, Status::Passed, "{ok:#?}");
    assert_eq!(ok.qid, 38307);
    assert_eq!(ok.login_id, UNIX_USER);
    assert!(ok.facts.keys().any(|k| k.contains("uname")), "{ok:#?}");
    assert!(ok.facts.keys().any(|k| k.starts_with("os_")), "{ok:#?}");

    assert_outcome(
        result(&posts, "wrong"),
        Status::Failed,
        105053,
        Step::Authentication,
        &[UNIX_USER],
    );
    assert_outcome(
        result(&posts, "unknown"),
        Status::Failed,
        105053,
        Step::Authentication,
        &["e2e_nobody"],
    );
    let none = result(&posts, "no-record");
    assert_outcome(
        none,
        Status::NotAttempted,
        105297,
        Step::Record,
        &["no Unix authentication record"],
    );
    // The record each result used is reported with it.
    let used: Vec<_> = posts.iter().map(|p| p.record_id.as_deref()).collect();
    assert_eq!(
        used,
        [Some("r-right"), Some("r-wrong"), Some("r-unknown"), None]
    );
    assert_eq!(posts[0].idempotency_key, "job-e2e/right/unix");
    for p in &posts {
        let shown = format!("{p:?}");
        assert!(!shown.contains(UNIX_PW), "secret in {shown}");
    }
    assert_eq!(sshd.accepted_for(UNIX_USER).len(), 1, "{}", sshd.auth_log());
}

#[test]
fn locked_out_key_closed_port_and_silent_target() {
    ensure_user(LOCKED_USER, UNIX_PW);
    let dir = tempfile::tempdir().expect("temp dir");
    let sshd = Sshd::start(&SshdOptions::default());
    let key = generate_key(dir.path(), "ed25519", KeyFormat::OpenSsh, "");
    sshd.authorize_key(LOCKED_USER, &key.public);
    lock_user(LOCKED_USER);
    let (_closed, closed_port) = closed_loopback_port();
    // Accepted by the kernel's backlog, never read or answered.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();

    let job = job(
        vec![
            target("locked", LoginKind::Unix, sshd.port(), Some("r-key")),
            target("closed", LoginKind::Unix, closed_port, Some("r-key")),
            target("silent", LoginKind::Unix, silent_port, Some("r-key")),
            target("closed-win", LoginKind::Windows, closed_port, None),
        ],
        vec![unix_record(
            "r-key",
            LOCKED_USER,
            vec![legacy(SecretFieldName::PrivateKey, &key.private)],
        )],
        vec![],
    );
    let mut short = timeouts();
    short.unix_secs = 2;
    short.windows_secs = 2;
    let posts = run_job(&job, short);
    assert_outcome(
        result(&posts, "locked"),
        Status::Failed,
        105053,
        Step::Authentication,
        &["refused the key for e2e_locked"],
    );
    assert_outcome(
        result(&posts, "closed"),
        Status::NotAttempted,
        105297,
        Step::Connect,
        &["connection refused"],
    );
    assert_outcome(
        result(&posts, "silent"),
        Status::TimedOut,
        115263,
        Step::Negotiate,
        &["did not complete an SSH handshake"],
    );
    // A Windows target no record names, whose domain cannot be learned: not attempted.
    assert_outcome(
        result(&posts, "closed-win"),
        Status::NotAttempted,
        105015,
        Step::Connect,
        &["no Windows record names 127.0.0.1"],
    );
    assert!(sshd.accepted_for(LOCKED_USER).is_empty());
}

#[test]
fn windows_logins_and_the_netbios_domain_record() {
    let smbd = Smbd::start(SmbdOptions::default());
    smbd.add_user(WIN_USER, WIN_PW);
    let port = smbd.port();
    let pw = |v: &str| RecordLoginExt::basic(v);
    let local = windows_options(WindowsDomainType::None, false);
    let job = job(
        vec![
            target("right", LoginKind::Windows, port, Some("w-right")),
            target("wrong", LoginKind::Windows, port, Some("w-wrong")),
            target("wrong-domain", LoginKind::Windows, port, Some("w-domain")),
            // No record names it: the server reports TARGET1 (a standalone Samba's NetBIOS
            // domain is its machine name) and the job's service-selected record for it is used.
            target("by-domain", LoginKind::Windows, port, None),
        ],
        vec![
            windows_record("w-right", WIN_USER, None, local.clone(), pw(WIN_PW)),
            windows_record("w-wrong", WIN_USER, None, local.clone(), pw("nope-Nope-1")),
            windows_record(
                "w-domain",
                WIN_USER,
                Some("OTHERDOM"),
                windows_options(WindowsDomainType::Netbios, false),
                pw(WIN_PW),
            ),
            windows_record(
                "w-netbios",
                WIN_USER,
                Some("target1"),
                windows_options(WindowsDomainType::Netbios, true),
                pw(WIN_PW),
            ),
        ],
        vec![],
    );
    let posts = run_job(&job, timeouts());
    let ok = result(&posts, "right");
    assert_eq!(ok.status, Status::Passed, "{}", cause_text(ok));
    assert_eq!(ok.qid, 70053);
    assert_eq!(ok.facts["server_netbios_domain"], "TARGET1");
    assert_outcome(
        result(&posts, "wrong"),
        Status::Failed,
        105015,
        Step::Authentication,
        &["STATUS_LOGON_FAILURE"],
    );
    // A standalone server checks any domain against its own accounts: the login passes and
    // the result says the record's domain is not the server's.
    let dom = result(&posts, "wrong-domain");
    assert_eq!(dom.status, Status::Passed, "{}", cause_text(dom));
    assert!(
        dom.facts["domain_mismatch"].contains("OTHERDOM"),
        "{dom:#?}"
    );
    let by = posts
        .iter()
        .find(|p| p.target_id == "by-domain")
        .expect("by-domain");
    assert_eq!(by.record_id.as_deref(), Some("w-netbios"));
    assert_eq!(
        by.outcome.status,
        Status::Passed,
        "{}",
        cause_text(&by.outcome)
    );
    assert_eq!(by.outcome.login_id, format!("target1\\{WIN_USER}"));
}

#[test]
fn a_windows_target_without_a_record_for_its_domain_is_not_attempted() {
    let smbd = Smbd::start(SmbdOptions::default());
    let job = job(
        vec![target("t", LoginKind::Windows, smbd.port(), None)],
        vec![windows_record(
            "w-elsewhere",
            WIN_USER,
            Some("ELSEWHERE"),
            windows_options(WindowsDomainType::Netbios, true),
            RecordLoginExt::basic(WIN_PW),
        )],
        vec![],
    );
    let posts = run_job(&job, timeouts());
    assert_outcome(
        result(&posts, "t"),
        Status::NotAttempted,
        105015,
        Step::Record,
        &["no service-selected NetBIOS record for its domain TARGET1"],
    );
    assert!(smbd.auth_lines().is_empty(), "{:?}", smbd.auth_lines());
}

#[test]
fn sealed_secrets_open_and_tampered_or_repointed_ones_never_reach_the_peer() {
    ensure_user(UNIX_USER, UNIX_PW);
    let sshd = Sshd::start(&SshdOptions::default());
    let smbd = Smbd::start(SmbdOptions::default());
    smbd.add_user(WIN_USER, WIN_PW);
    let appliance = Appliance::new();
    let local = windows_options(WindowsDomainType::None, false);

    // Sealed by the operator for the records as they were created.
    let mut u_ok = unix_record("u-ok", UNIX_USER, vec![]);
    let u_env = appliance.seal(
        &record_fields(&u_ok, SecretFieldName::Password),
        UNIX_PW.as_bytes(),
    );
    u_ok.login = RecordLogin::Basic {
        secrets: vec![sealed(SecretFieldName::Password, &u_env)],
    };
    // A correctly bound envelope with one ciphertext byte flipped.
    let mut u_tampered = u_ok.clone();
    u_tampered.record_id = "u-tampered".into();
    let t_env = appliance.seal(
        &record_fields(&u_tampered, SecretFieldName::Password),
        UNIX_PW.as_bytes(),
    );
    u_tampered.login = RecordLogin::Basic {
        secrets: vec![sealed(SecretFieldName::Password, &tamper(&t_env))],
    };
    // The control plane re-points the record at another user, keeping the envelope.
    let mut u_repointed = u_ok.clone();
    u_repointed.user = "root".into();
    let mut w_ok = windows_record(
        "w-ok",
        WIN_USER,
        None,
        local.clone(),
        RecordLogin::Basic { secrets: vec![] },
    );
    let w_env = appliance.seal(
        &record_fields(&w_ok, SecretFieldName::Password),
        WIN_PW.as_bytes(),
    );
    w_ok.login = RecordLogin::Basic {
        secrets: vec![sealed(SecretFieldName::Password, &w_env)],
    };
    // An envelope moved from one record to another.
    let mut w_moved = w_ok.clone();
    w_moved.record_id = "w-moved".into();
    // Sealed to another appliance only.
    let other = Appliance::new();
    let mut w_foreign = w_ok.clone();
    w_foreign.record_id = "w-foreign".into();
    w_foreign.login = RecordLogin::Basic {
        secrets: vec![sealed(
            SecretFieldName::Password,
            &other.seal(
                &record_fields(&w_foreign, SecretFieldName::Password),
                WIN_PW.as_bytes(),
            ),
        )],
    };

    let job = job(
        vec![
            target("u-ok", LoginKind::Unix, sshd.port(), Some("u-ok")),
            target("w-ok", LoginKind::Windows, smbd.port(), Some("w-ok")),
        ],
        vec![u_ok, w_ok],
        vec![],
    );
    let posts = run_job_as(&appliance, &job, timeouts());
    for id in ["u-ok", "w-ok"] {
        let o = result(&posts, id);
        assert_eq!(o.status, Status::Passed, "{id}: {}", cause_text(o));
    }
    sshd.settle_log();
    let (ssh_before, smb_before) = (sshd.connections(), smbd.auth_lines().len());

    let job = job_with_records(
        vec![
            target(
                "u-tampered",
                LoginKind::Unix,
                sshd.port(),
                Some("u-tampered"),
            ),
            target("u-repointed", LoginKind::Unix, sshd.port(), Some("u-ok")),
            target("w-moved", LoginKind::Windows, smbd.port(), Some("w-moved")),
            target(
                "w-foreign",
                LoginKind::Windows,
                smbd.port(),
                Some("w-foreign"),
            ),
        ],
        vec![u_tampered, u_repointed, w_moved, w_foreign],
    );
    let posts = run_job_as(&appliance, &job, timeouts());
    assert_outcome(
        result(&posts, "u-tampered"),
        Status::Failed,
        105053,
        Step::Envelope,
        &["password of unix u-tampered", "failed authentication"],
    );
    assert_outcome(
        result(&posts, "u-repointed"),
        Status::Failed,
        105053,
        Step::Envelope,
        &["user"],
    );
    assert_outcome(
        result(&posts, "w-moved"),
        Status::Failed,
        105015,
        Step::Envelope,
        &["record_id"],
    );
    assert_outcome(
        result(&posts, "w-foreign"),
        Status::Failed,
        105015,
        Step::Envelope,
        &["password of windows w-foreign"],
    );
    // Nothing of the refused attempts reached either server.
    sshd.settle_log();
    assert_eq!(sshd.connections(), ssh_before, "{}", sshd.auth_log());
    assert!(sshd.attempts_for("root").is_empty(), "{}", sshd.auth_log());
    assert_eq!(
        smbd.auth_lines().len(),
        smb_before,
        "{:?}",
        smbd.auth_lines()
    );
}

fn job_with_records(
    targets: Vec<sealscan_protocols::appliance::JobTarget>,
    records: Vec<sealscan_protocols::appliance::JobRecord>,
) -> sealscan_protocols::appliance::Job {
    job(targets, records, vec![])
}

fn seed() -> Seed {
    let json = serde_json::json!({
        "users": [{"username": "svc-scan", "password": SVC_PW, "domain": null}],
        "folders": [{"id": 2, "name": "Scan", "parentId": null}],
        "secrets": [
            {"id": 10, "name": "unix-login", "folderId": 2, "template": "Unix Account (SSH)",
             "fields": {"machine": "127.0.0.1", "username": UNIX_USER, "password": UNIX_PW},
             "readers": ["svc-scan"]},
            {"id": 11, "name": "win-login", "folderId": 2, "template": "Windows Account",
             "fields": {"machine": "127.0.0.1", "username": WIN_USER, "password": WIN_PW},
             "readers": ["svc-scan"]},
            {"id": 12, "name": "win-stale", "folderId": 2, "template": "Windows Account",
             "fields": {"machine": "127.0.0.1", "username": WIN_USER, "password": "stale-Pw-1"},
             "readers": ["svc-scan"]}
        ]
    });
    Seed::from_json(&json.to_string()).expect("seed")
}

/// The simulator on its own runtime, so it keeps serving while a job blocks this thread.
fn start_sim() -> (tokio::runtime::Runtime, Sim) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt
        .block_on(secret_server_sim::start(SimConfig::new(seed())))
        .expect("simulator");
    (rt, sim)
}

#[test]
fn vault_records_resolve_live_through_the_simulator() {
    ensure_user(UNIX_USER, UNIX_PW);
    let sshd = Sshd::start(&SshdOptions::default());
    let smbd = Smbd::start(SmbdOptions::default());
    smbd.add_user(WIN_USER, WIN_PW);
    let (_rt, sim) = start_sim();
    let url = sim.base_url();
    // The vault's own web-service password travels sealed like any other secret.
    let appliance = Appliance::new();
    let mut ss = vault("ss", &url, "svc-scan", b"");
    ss.password = sealscan_protocols::appliance::SecretValue::Sealed {
        envelope: appliance.seal(&vault_fields(&ss), SVC_PW.as_bytes()),
    };
    let local = windows_options(WindowsDomainType::None, false);
    let job = job(
        vec![
            target("u1", LoginKind::Unix, sshd.port(), Some("v-unix")),
            target("u2", LoginKind::Unix, sshd.port(), Some("v-unix")),
            target("w", LoginKind::Windows, smbd.port(), Some("v-win")),
            target("stale", LoginKind::Windows, smbd.port(), Some("v-stale")),
            target("missing", LoginKind::Unix, sshd.port(), Some("v-missing")),
            target("bad-vault", LoginKind::Unix, sshd.port(), Some("v-badpw")),
        ],
        vec![
            unix_record_vault("v-unix", "ss", "unix-login"),
            // A vault record names the account its secret holds (issue 17).
            windows_record(
                "v-win",
                WIN_USER,
                None,
                local.clone(),
                vault_login("ss", "win-login"),
            ),
            windows_record(
                "v-stale",
                WIN_USER,
                None,
                local,
                vault_login("ss", "win-stale"),
            ),
            unix_record_vault("v-missing", "ss", "no-such-secret"),
            unix_record_vault("v-badpw", "ss-bad", "unix-login"),
        ],
        vec![ss, vault("ss-bad", &url, "svc-scan", b"wrong-Vault-pw")],
    );
    let posts = run_job_as(&appliance, &job, timeouts());
    for id in ["u1", "u2"] {
        let o = result(&posts, id);
        assert_eq!(o.status, Status::Passed, "{id}: {}", cause_text(o));
        assert_eq!(o.qid, 38307);
        assert_eq!(o.login_id, UNIX_USER);
    }
    let w = result(&posts, "w");
    assert_eq!(w.status, Status::Passed, "{}", cause_text(w));
    assert_eq!(w.qid, 70053);
    assert_outcome(
        result(&posts, "stale"),
        Status::Failed,
        105015,
        Step::Authentication,
        &["STATUS_LOGON_FAILURE"],
    );
    assert_outcome(
        result(&posts, "missing"),
        Status::Failed,
        105053,
        Step::SecretLookup,
        &["no-such-secret"],
    );
    assert_outcome(
        result(&posts, "bad-vault"),
        Status::Failed,
        105053,
        Step::VaultLogin,
        &["svc-scan"],
    );
    // One job: one token per vault, the shared secret fetched once for both Unix targets,
    // every token revoked at the end.
    let log = sim.requests();
    let count = |method: &str, path: &str| {
        log.iter()
            .filter(|r| r.method == method && r.path.ends_with(path))
            .count()
    };
    assert_eq!(count("POST", "/oauth2/token"), 2, "{log:#?}");
    assert_eq!(count("GET", "/api/v1/secrets/10"), 1, "{log:#?}");
    assert_eq!(count("POST", "/api/v1/oauth-expiration"), 1, "{log:#?}");
    for p in &posts {
        let shown = format!("{p:?}");
        for secret in [UNIX_PW, WIN_PW, SVC_PW] {
            assert!(!shown.contains(secret), "secret in {shown}");
        }
    }
}

fn unix_record_vault(
    id: &str,
    vault_id: &str,
    secret: &str,
) -> sealscan_protocols::appliance::JobRecord {
    let mut r = unix_record(id, UNIX_USER, vec![]);
    r.login = vault_login(vault_id, secret);
    r
}

/// Builds a basic record login holding one legacy password.
struct RecordLoginExt;

impl RecordLoginExt {
    fn basic(password: &str) -> sealscan_protocols::appliance::RecordLogin {
        sealscan_protocols::appliance::RecordLogin::Basic {
            secrets: vec![legacy(SecretFieldName::Password, password.as_bytes())],
        }
    }
}
