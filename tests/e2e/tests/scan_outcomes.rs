//! The login-outcome matrix through the real control plane: records and a scan created through
//! its API, the job claimed by the real agent binary, every result read back from the results
//! API with its QID, cause, login id, method and facts. The peers are real: OpenSSH sshd and
//! Samba smbd on loopback high ports.
//!
//! A scan names one port per login kind, and the control plane matches each target address to
//! its own record, so the scenarios sit on distinct loopback addresses 127.0.0.x sharing the
//! peers' ports. The peers bind 127.0.0.1 only; a plain TCP relay on 127.0.0.x forwards to the
//! same port on 127.0.0.1, so every scenario reaches the same real server, and the relay's
//! count of accepted connections shows whether anything reached the peer from that address.

use reqwest::Method;
use sealscan_e2e::agent::AgentSettings;
use sealscan_e2e::control_plane::*;
use sealscan_e2e::seal_to;
use sealscan_protocols::appliance::SecretFieldName;
use sealscan_protocols::envelope::Binding;
use sealscan_test_peers::faulty::{FaultyTarget, loopback as ip, unanswered};
use sealscan_test_peers::smbd::{Smbd, SmbdOptions};
use sealscan_test_peers::sshd::{KeyFormat, Sshd, SshdOptions, generate_key};
use sealscan_test_peers::system::{ensure_user, lock_user};
use serde_json::{Value, json};

const UNIX_USER: &str = "e2e_so_unix";
const UNIX_PW: &str = "e2e-So-Unix-Pw-38";
const LOCKED_USER: &str = "e2e_so_locked";
const KEY_USER: &str = "e2e_so_key";
const KEY_PASSPHRASE: &str = "so-Key-Phrase-72";
const WIN_USER: &str = "e2e_so_win";
const WIN_PW: &str = "e2e-So-Win-Pw-51";

#[test]
fn unix_and_windows_outcomes_through_the_real_control_plane() {
    ensure_user(UNIX_USER, UNIX_PW);
    ensure_user(LOCKED_USER, UNIX_PW);
    ensure_user(KEY_USER, UNIX_PW);
    let keys = tempfile::tempdir().expect("key dir");
    let sshd = Sshd::start(&SshdOptions::default());
    let locked_key = generate_key(keys.path(), "ed25519", KeyFormat::OpenSsh, "");
    sshd.authorize_key(LOCKED_USER, &locked_key.public);
    // A valid, authorized key the server refuses because the account is locked.
    lock_user(LOCKED_USER);
    let key = generate_key(keys.path(), "ecdsa", KeyFormat::Pkcs8, KEY_PASSPHRASE);
    sshd.authorize_key(KEY_USER, &key.public);
    let smbd = Smbd::start(SmbdOptions::default());
    smbd.add_user(WIN_USER, WIN_PW);
    let (p, q) = (sshd.port(), smbd.port());

    // 127.0.0.1 is the peers themselves; .2-.5 relay to them; .6 has nothing on either port;
    // .7 accepts TCP on the SSH port and never answers (the kernel's backlog completes the
    // handshake; nothing reads).
    let unix_relays: Vec<FaultyTarget> = (2..=5).map(|n| FaultyTarget::relay(ip(n), p)).collect();
    let win_relays: Vec<FaultyTarget> = (2..=4).map(|n| FaultyTarget::relay(ip(n), q)).collect();
    let _silent = unanswered("127.0.0.7", p);

    let plane = ControlPlane::start();
    let agent = plane.running_agent(AgentSettings::default());
    let unix_pw = |id: &str, last: u8, user: &str, pw: &str| {
        json!({"id": id, "kind": "unix", "title": id, "user": user,
               "ips": [ip(last).to_string()], "secrets": [legacy_secret("password", pw.as_bytes())]})
    };
    plane.record(unix_pw("u-right", 1, UNIX_USER, UNIX_PW));
    plane.record(unix_pw("u-wrong", 2, UNIX_USER, "not-The-Pw-93"));
    plane.record(unix_pw("u-unknown", 3, "e2e_so_nobody", UNIX_PW));
    // The closed (.6) and silent (.7) targets need a record too, or they would stop at "no
    // record"; they never get as far as using its key.
    plane.record(
        json!({"id": "u-locked", "kind": "unix", "title": "u-locked", "user": LOCKED_USER,
               "ips": ["127.0.0.4", "127.0.0.6", "127.0.0.7"], "unix_auth": "private_key",
               "secrets": [legacy_secret("private_key", &locked_key.private)]}),
    );
    plane.record(
        json!({"id": "u-key", "kind": "unix", "title": "u-key", "user": KEY_USER,
               "ips": ["127.0.0.5"], "unix_auth": "private_key",
               "secrets": [legacy_secret("private_key", &key.private),
                           legacy_secret("passphrase", KEY_PASSPHRASE.as_bytes())]}),
    );
    let win = |id: &str, last: u8, windows: Value, pw: &str| {
        json!({"id": id, "kind": "windows", "title": id, "user": WIN_USER,
               "ips": [ip(last).to_string()], "windows": windows,
               "secrets": [legacy_secret("password", pw.as_bytes())]})
    };
    let local = json!({"domain_type": "none"});
    plane.record(win("w-right", 1, local.clone(), WIN_PW));
    plane.record(win("w-wrong", 2, local.clone(), "nope-Nope-61"));
    plane.record(win(
        "w-domain",
        3,
        json!({"domain_type": "netbios", "domain": "OTHERDOM"}),
        WIN_PW,
    ));
    plane.record(win("w-closed", 6, local, WIN_PW));
    // No record names 127.0.0.4 for Windows: the server there reports its NetBIOS domain
    // TARGET1, and the control plane ships the service-selected record for it in the job.
    plane.record(
        json!({"id": "w-netbios", "kind": "windows", "title": "w-netbios", "user": WIN_USER,
               "windows": {"domain_type": "netbios", "domain": "target1", "service_selected": true},
               "secrets": [legacy_secret("password", WIN_PW.as_bytes())]}),
    );

    let rows = plane.run_scan(
        json!({"title": "outcomes", "targets": ["127.0.0.1-127.0.0.7"], "kinds": "both",
               "ports": {"unix": p, "windows": q}}),
        14,
    );

    // Unix.
    let ok = row(&rows, ip(1), "unix");
    assert_eq!(ok["status"], "passed", "{ok:#}");
    assert_eq!(ok["qid"], 38307, "{ok:#}");
    assert_eq!(ok["login_id"], UNIX_USER, "{ok:#}");
    assert_eq!(ok["method"], "password", "{ok:#}");
    assert_eq!(ok["record_id"], "u-right", "{ok:#}");
    assert!(ok["cause"].is_null(), "{ok:#}");
    assert!(
        ok["facts"]["uname"]
            .as_str()
            .is_some_and(|u| u.starts_with("Linux ")),
        "{ok:#}"
    );
    let facts = ok["facts"].as_object().expect("facts");
    assert!(facts.keys().any(|k| k.starts_with("os_")), "{ok:#}");
    assert_row(
        row(&rows, ip(2), "unix"),
        "failed",
        105053,
        "authentication",
        &[
            &format!("refused the password for {UNIX_USER}"),
            "methods offered: publickey,password",
        ],
    );
    assert_row(
        row(&rows, ip(3), "unix"),
        "failed",
        105053,
        "authentication",
        &["refused the password for e2e_so_nobody", "methods offered"],
    );
    assert_row(
        row(&rows, ip(4), "unix"),
        "failed",
        105053,
        "authentication",
        &[&format!("refused the key for {LOCKED_USER}")],
    );
    let key_row = row(&rows, ip(5), "unix");
    assert_eq!(key_row["status"], "passed", "{key_row:#}");
    assert_eq!(key_row["qid"], 38307, "{key_row:#}");
    assert_eq!(key_row["login_id"], KEY_USER, "{key_row:#}");
    // An encrypted PKCS#8 key hides its type until it is decrypted, so the method is
    // reported without one.
    assert_eq!(key_row["method"], "publickey", "{key_row:#}");
    assert_row(
        row(&rows, ip(6), "unix"),
        "not_attempted",
        105297,
        "connect",
        &["connection refused by 127.0.0.6"],
    );
    assert_row(
        row(&rows, ip(7), "unix"),
        "timed_out",
        115263,
        "negotiate",
        &["did not complete an SSH handshake"],
    );

    // Windows.
    let ok = row(&rows, ip(1), "windows");
    assert_eq!(ok["status"], "passed", "{ok:#}");
    assert_eq!(ok["qid"], 70053, "{ok:#}");
    assert_eq!(ok["login_id"], WIN_USER, "{ok:#}");
    assert!(
        ok["method"]
            .as_str()
            .is_some_and(|m| m.starts_with("NTLMv2")),
        "{ok:#}"
    );
    assert_eq!(ok["facts"]["server_netbios_domain"], "TARGET1", "{ok:#}");
    assert_eq!(ok["facts"]["server_netbios_name"], "TARGET1", "{ok:#}");
    let wrong = row(&rows, ip(2), "windows");
    assert_row(
        wrong,
        "failed",
        105015,
        "authentication",
        &["STATUS_LOGON_FAILURE"],
    );
    assert_eq!(wrong["login_id"], WIN_USER, "{wrong:#}");
    // A standalone server checks any domain against its own accounts, so the login passes;
    // the result says the record's domain is not the server's.
    let dom = row(&rows, ip(3), "windows");
    assert_eq!(dom["status"], "passed", "{dom:#}");
    assert_eq!(dom["login_id"], format!("OTHERDOM\\{WIN_USER}"), "{dom:#}");
    assert!(
        dom["facts"]["domain_mismatch"]
            .as_str()
            .is_some_and(|m| m.contains("OTHERDOM") && m.contains("TARGET1")),
        "{dom:#}"
    );
    let by = row(&rows, ip(4), "windows");
    assert_eq!(by["status"], "passed", "{by:#}");
    assert_eq!(by["record_id"], "w-netbios", "{by:#}");
    assert_eq!(by["login_id"], format!("target1\\{WIN_USER}"), "{by:#}");
    assert_row(
        row(&rows, ip(6), "windows"),
        "not_attempted",
        105015,
        "connect",
        &["cannot connect to 127.0.0.6", "connection refused"],
    );
    for last in [5, 7] {
        assert_row(
            row(&rows, ip(last), "windows"),
            "not_attempted",
            105015,
            "connect",
            &[&format!("no Windows record names 127.0.0.{last}")],
        );
    }

    // Each scenario reached the peers through its own address, once per login.
    for r in &unix_relays {
        assert_eq!(r.accepted(), 1, "{}: {}", r.addr(), sshd.auth_log());
    }
    // Every decision sshd made before this is in its log now, so a missing line fails here
    // instead of being waited for.
    sshd.settle_log();
    assert_eq!(sshd.accepted_for(UNIX_USER).len(), 1, "{}", sshd.auth_log());
    assert_eq!(sshd.accepted_for(KEY_USER).len(), 1, "{}", sshd.auth_log());
    assert!(sshd.accepted_for(LOCKED_USER).is_empty());
    // The client cannot tell a wrong password, an unknown user and a locked account apart (the
    // causes say so); the peers' own logs show each scenario reached them as intended.
    let log = sshd.auth_log();
    let logged = |user: &str, word: &str| sshd.attempts_for(user).iter().any(|l| l.contains(word));
    assert!(logged(UNIX_USER, "Failed password"), "{log}");
    assert!(logged("e2e_so_nobody", "Invalid user"), "{log}");
    assert!(logged(LOCKED_USER, "not allowed"), "{log}");
    let auth = smbd.auth_lines();
    let status_for = |user: &str| {
        auth.iter()
            .filter(|l| l.contains(&format!("user [{user}]\\[{WIN_USER}]")))
            .map(|l| l.split("status [").nth(1).unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(status_for("").len(), 2, "{auth:#?}");
    assert!(
        status_for("")
            .iter()
            .any(|s| s.starts_with("NT_STATUS_WRONG_PASSWORD")),
        "{auth:#?}"
    );
    assert!(
        status_for("OTHERDOM")[0].starts_with("NT_STATUS_OK"),
        "{auth:#?}"
    );
    assert!(
        status_for("target1")[0].starts_with("NT_STATUS_OK"),
        "{auth:#?}"
    );
    assert!(win_relays.iter().all(|r| r.accepted() >= 1));
    // No secret anywhere in what the control plane serves.
    let shown = serde_json::to_string(&rows).expect("rows");
    let agent_log = agent.home.stderr();
    for secret in [
        UNIX_PW,
        WIN_PW,
        KEY_PASSPHRASE,
        "not-The-Pw-93",
        "nope-Nope-61",
    ] {
        assert!(!shown.contains(secret), "a secret in the results");
        assert!(!agent_log.contains(secret), "a secret in the agent's log");
    }
}

/// The one approved appliance's public key, as `sealscan records create` fetches it.
fn appliance_key(plane: &ControlPlane) -> [u8; 32] {
    use base64::Engine as _;
    let list = plane.call(Method::GET, "/api/v1/ncsm/recipients", None);
    let recipients = list["recipients"].as_array().expect("recipients");
    assert_eq!(recipients.len(), 1, "{list}");
    let key = base64::engine::general_purpose::STANDARD
        .decode(recipients[0]["public_key"].as_str().expect("public key"))
        .expect("base64 key");
    key.try_into().expect("a 32-byte X25519 key")
}

/// What a record's password is bound to, as the CLI seals it.
fn password_binding(kind: &str, id: &str, user: &str) -> Binding {
    Binding::for_record(kind, id, SecretFieldName::Password, user, None, false)
}

#[test]
fn tampered_and_repointed_envelopes_fail_without_reaching_the_peers() {
    ensure_user(UNIX_USER, UNIX_PW);
    let sshd = Sshd::start(&SshdOptions::default());
    let smbd = Smbd::start(SmbdOptions::default());
    smbd.add_user(WIN_USER, WIN_PW);
    let (p, q) = (sshd.port(), smbd.port());
    let unix_relays: Vec<FaultyTarget> = (2..=3).map(|n| FaultyTarget::relay(ip(n), p)).collect();
    let win_relays: Vec<FaultyTarget> = (2..=3).map(|n| FaultyTarget::relay(ip(n), q)).collect();

    let mut plane = ControlPlane::start();
    let agent = plane.running_agent(AgentSettings::default());
    // NCSM in force (its migration has nothing to seal yet), and a session opened after it, as
    // changing records then requires.
    plane.activate_ncsm();
    let key = appliance_key(&plane);

    // Per kind: .1 holds a good envelope, .2 a correctly bound one with a ciphertext byte
    // flipped (the control plane checks only that it parses, its binding and recipients, which
    // a flipped ciphertext byte leaves intact), .3 the envelope of .1's record.
    for (kind, user, pw) in [("unix", UNIX_USER, UNIX_PW), ("windows", WIN_USER, WIN_PW)] {
        let body = |id: &str, last: u8, envelope: &str| {
            let mut body = json!({"id": id, "kind": kind, "title": id, "user": user,
                                  "ips": [ip(last).to_string()],
                                  "secrets": [sealed_secret("password", envelope)]});
            if kind == "windows" {
                body["windows"] = json!({"domain_type": "none"});
            }
            body
        };
        let seal = |id: &str| seal_to(&key, &password_binding(kind, id, user), pw.as_bytes());
        let (ok_id, tampered_id, moved_id) = (
            format!("s{kind}-ok"),
            format!("s{kind}-tampered"),
            format!("s{kind}-moved"),
        );
        let ok_envelope = seal(&ok_id);
        plane.record(body(&ok_id, 1, &ok_envelope));
        let tampered = sealscan_e2e::tamper(&seal(&tampered_id));
        plane.record(body(&tampered_id, 2, &tampered));
        // Through the API, another record's envelope is refused...
        let (status, refusal) = plane.try_call(
            Method::POST,
            "/api/v1/records",
            Some(body(&moved_id, 3, &ok_envelope)),
        );
        assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{refusal}");
        assert_eq!(
            refusal["error"]["rule"], "ncsm.binding-mismatch",
            "{refusal}"
        );
        // ...so it takes a control plane whose database is in someone else's hands: the record
        // is created with its own envelope, which is then swapped for .1's in the database.
        plane.record(body(&moved_id, 3, &seal(&moved_id)));
        plane
            .store()
            .write(|tx| tx.put_sealed_secret(kind, &moved_id, "password", &ok_envelope, now()))
            .expect("swap the envelope in the database");
    }

    let rows = plane.run_scan(
        json!({"title": "sealed", "targets": ["127.0.0.1-127.0.0.3"], "kinds": "both",
               "ports": {"unix": p, "windows": q}}),
        6,
    );
    for kind in ["unix", "windows"] {
        let ok = row(&rows, ip(1), kind);
        assert_eq!(ok["status"], "passed", "{ok:#}");
        assert_eq!(ok["record_id"], format!("s{kind}-ok"), "{ok:#}");
    }
    assert_row(
        row(&rows, ip(2), "unix"),
        "failed",
        105053,
        "envelope",
        &["password of unix sunix-tampered", "failed authentication"],
    );
    assert_row(
        row(&rows, ip(2), "windows"),
        "failed",
        105015,
        "envelope",
        &[
            "password of windows swindows-tampered",
            "failed authentication",
        ],
    );
    assert_row(
        row(&rows, ip(3), "unix"),
        "failed",
        105053,
        "envelope",
        &["sunix-moved", "record_id"],
    );
    assert_row(
        row(&rows, ip(3), "windows"),
        "failed",
        105015,
        "envelope",
        &["swindows-moved", "record_id"],
    );

    // Nothing of the refused envelopes reached either peer: no connection from their
    // addresses, and the peers' logs hold the good logins only.
    for r in unix_relays.iter().chain(&win_relays) {
        assert_eq!(r.accepted(), 0, "a connection through {}", r.addr());
    }
    sshd.settle_log();
    assert_eq!(sshd.connections(), 1, "{}", sshd.auth_log());
    assert_eq!(sshd.accepted_for(UNIX_USER).len(), 1, "{}", sshd.auth_log());
    assert_eq!(sshd.attempts_for(UNIX_USER).len(), 1, "{}", sshd.auth_log());
    // The agent's log carries each refusal with its structured fields, and no secret.
    let agent_log = agent.home.stderr();
    for id in [
        "sunix-tampered",
        "swindows-tampered",
        "sunix-moved",
        "swindows-moved",
    ] {
        assert!(
            agent_log.lines().any(|l| l.contains(&format!("RECORD_ID={id}"))
                && l.contains("CAUSE=\"envelope: ")),
            "{agent_log}"
        );
    }
    for secret in [UNIX_PW, WIN_PW] {
        assert!(!agent_log.contains(secret), "a secret in the agent's log");
    }
    let auth = smbd.auth_lines();
    assert_eq!(auth.len(), 1, "{auth:#?}");
    assert!(auth[0].contains("status [NT_STATUS_OK]"), "{auth:#?}");
}
