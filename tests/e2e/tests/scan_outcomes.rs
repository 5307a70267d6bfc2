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

use sealscan_e2e::control::*;
use sealscan_e2e::seal_to;
use sealscan_protocols::appliance::{BindingFields, SecretFieldName};
use sealscan_test_peers::smbd::{Smbd, SmbdOptions};
use sealscan_test_peers::sshd::{KeyFormat, Sshd, SshdOptions, generate_key};
use sealscan_test_peers::system::{ensure_user, lock_user};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};

const UNIX_USER: &str = "e2e_so_unix";
const UNIX_PW: &str = "e2e-So-Unix-Pw-38";
const LOCKED_USER: &str = "e2e_so_locked";
const KEY_USER: &str = "e2e_so_key";
const KEY_PASSPHRASE: &str = "so-Key-Phrase-72";
const WIN_USER: &str = "e2e_so_win";
const WIN_PW: &str = "e2e-So-Win-Pw-51";

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// Forwards every connection to `ip:port` to the real peer on 127.0.0.1:`port`.
struct Relay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    fn start(ip: Ipv4Addr, port: u16) -> Relay {
        let listener = TcpListener::bind((ip, port))
            .unwrap_or_else(|e| panic!("relay cannot listen on {ip}:{port}: {e}"));
        let addr = listener.local_addr().expect("relay address");
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, accepted) = (stop.clone(), accepted.clone());
            thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let Ok(upstream) = TcpStream::connect(("127.0.0.1", port)) else {
                        continue;
                    };
                    pipe(&client, &upstream);
                    pipe(&upstream, &client);
                }
            })
        };
        Relay {
            addr,
            stop,
            accepted,
            thread: Some(thread),
        }
    }

    /// Connections that reached the peer through this address.
    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Copies `from` to `to` until `from` closes, then closes `to`'s sending side.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The result row for `host` and `kind`.
fn row(rows: &[Value], host: Ipv4Addr, kind: &str) -> Value {
    let host = host.to_string();
    rows.iter()
        .find(|r| r["host"] == host.as_str() && r["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} result for {host} in {rows:#?}"))
        .clone()
}

/// Asserts a row's status, QID, step and words of its cause; prints what an operator reads.
fn expect(row: &Value, status: &str, qid: u32, step: &str, words: &[&str]) {
    eprintln!(
        "{} {} {} {} | {}",
        row["host"], row["kind"], row["status"], row["qid"], row["cause"]
    );
    assert_eq!(row["status"], status, "{row:#}");
    assert_eq!(row["qid"], qid, "{row:#}");
    assert_eq!(row["step"], step, "{row:#}");
    let cause = row["cause"].as_str().unwrap_or_default();
    assert!(cause.starts_with(&format!("{step}: ")), "{row:#}");
    for w in words {
        assert!(cause.contains(w), "{w:?} not in the cause: {row:#}");
    }
}

fn legacy_secret(field: &str, value: &[u8]) -> Value {
    json!({"field": field, "value": {"model": "legacy", "value": b64(value)}})
}

fn sealed_secret(field: &str, envelope: &str) -> Value {
    json!({"field": field, "value": {"model": "sealed", "envelope": envelope}})
}

fn create_record(w: &World, body: Value) {
    w.call(reqwest::Method::POST, "/api/v1/records", Some(body));
}

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
    let unix_relays: Vec<Relay> = (2..=5).map(|n| Relay::start(ip(n), p)).collect();
    let win_relays: Vec<Relay> = (2..=4).map(|n| Relay::start(ip(n), q)).collect();
    let _silent = TcpListener::bind((ip(7), p)).expect("bind the silent target");

    let w = world();
    let unix_pw = |id: &str, last: u8, user: &str, pw: &str| {
        json!({"id": id, "kind": "unix", "title": id, "user": user,
               "ips": [ip(last).to_string()], "secrets": [legacy_secret("password", pw.as_bytes())]})
    };
    create_record(&w, unix_pw("u-right", 1, UNIX_USER, UNIX_PW));
    create_record(&w, unix_pw("u-wrong", 2, UNIX_USER, "not-The-Pw-93"));
    create_record(&w, unix_pw("u-unknown", 3, "e2e_so_nobody", UNIX_PW));
    // The closed (.6) and silent (.7) targets need a record too, or they would stop at "no
    // record"; they never get as far as using its key.
    create_record(
        &w,
        json!({"id": "u-locked", "kind": "unix", "title": "u-locked", "user": LOCKED_USER,
               "ips": ["127.0.0.4", "127.0.0.6", "127.0.0.7"], "unix_auth": "private_key",
               "secrets": [legacy_secret("private_key", &locked_key.private)]}),
    );
    create_record(
        &w,
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
    create_record(&w, win("w-right", 1, local.clone(), WIN_PW));
    create_record(&w, win("w-wrong", 2, local.clone(), "nope-Nope-61"));
    create_record(
        &w,
        win(
            "w-domain",
            3,
            json!({"domain_type": "netbios", "domain": "OTHERDOM"}),
            WIN_PW,
        ),
    );
    create_record(&w, win("w-closed", 6, local, WIN_PW));
    // No record names 127.0.0.4 for Windows: the server there reports its NetBIOS domain
    // TARGET1, and the control plane ships the service-selected record for it in the job.
    create_record(
        &w,
        json!({"id": "w-netbios", "kind": "windows", "title": "w-netbios", "user": WIN_USER,
               "windows": {"domain_type": "netbios", "domain": "target1", "service_selected": true},
               "secrets": [legacy_secret("password", WIN_PW.as_bytes())]}),
    );

    let rows = w.scan(
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
    expect(
        &row(&rows, ip(2), "unix"),
        "failed",
        105053,
        "authentication",
        &[
            &format!("refused the password for {UNIX_USER}"),
            "methods offered: publickey,password",
        ],
    );
    expect(
        &row(&rows, ip(3), "unix"),
        "failed",
        105053,
        "authentication",
        &["refused the password for e2e_so_nobody", "methods offered"],
    );
    expect(
        &row(&rows, ip(4), "unix"),
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
    expect(
        &row(&rows, ip(6), "unix"),
        "not_attempted",
        105297,
        "connect",
        &["connection refused by 127.0.0.6"],
    );
    expect(
        &row(&rows, ip(7), "unix"),
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
    expect(
        &wrong,
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
    expect(
        &row(&rows, ip(6), "windows"),
        "not_attempted",
        105015,
        "connect",
        &["cannot connect to 127.0.0.6", "connection refused"],
    );
    for last in [5, 7] {
        expect(
            &row(&rows, ip(last), "windows"),
            "not_attempted",
            105015,
            "connect",
            &[&format!("no Windows record names 127.0.0.{last}")],
        );
    }

    // Each scenario reached the peers through its own address, once per login.
    for r in &unix_relays {
        assert_eq!(r.accepted(), 1, "{}: {}", r.addr, sshd.auth_log());
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
    let agent_log = w.home.stderr();
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

/// An operator's session of its own: after NCSM completes, sessions opened before it may not
/// change records, and a refusal must be read rather than asserted away.
struct Operator {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Operator {
    fn sign_in(w: &World) -> Operator {
        let server = w.server.as_ref().expect("control plane running");
        let base = format!("https://127.0.0.1:{}", server.addr.port());
        let ca = std::fs::read(w.data.path().join("tls/cert.pem")).expect("CA");
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA"))
            .build()
            .expect("client");
        let mut op = Operator {
            client,
            base,
            token: String::new(),
        };
        let (status, body) = op.send(
            w,
            reqwest::Method::POST,
            "/api/v1/session",
            Some(json!({"username": MANAGER, "password": MANAGER_PW})),
        );
        assert!(status.is_success(), "sign in: {status} {body}");
        op.token = body["token"].as_str().expect("session token").to_string();
        op
    }

    fn send(
        &self,
        w: &World,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (reqwest::StatusCode, Value) {
        w.rt.block_on(async {
            let mut request = self
                .client
                .request(method, format!("{}{path}", self.base))
                .bearer_auth(&self.token);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.expect("control plane reachable");
            let status = response.status();
            (status, response.json().await.unwrap_or(Value::Null))
        })
    }

    fn ok(&self, w: &World, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.send(w, method.clone(), path, body);
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }
}

/// Turns NCSM on as the control plane's operator and its Primary Contact do, waits for the
/// (empty) migration to complete, and signs in again so records may be changed.
fn activate_ncsm(w: &World) -> Operator {
    let server = w.server.as_ref().expect("control plane running");
    // `sealscan-control ncsm enable`: the operator's switch, written to the same database.
    server
        .state
        .store
        .write(|tx| {
            let mut features = tx.require_subscription()?.features;
            features.ncsm = true;
            tx.save_features(&features)
        })
        .expect("enable NCSM");
    let op = Operator::sign_in(w);
    op.ok(
        w,
        reqwest::Method::POST,
        "/api/v1/ncsm/start",
        Some(json!({})),
    );
    sealscan_e2e::agent::wait_until("NCSM in force", BOUND, || {
        op.ok(w, reqwest::Method::GET, "/api/v1/ncsm", None)["state"] == "complete"
    });
    Operator::sign_in(w)
}

/// The one approved appliance's public key, as `sealscan records create` fetches it.
fn appliance_key(w: &World, op: &Operator) -> [u8; 32] {
    use base64::Engine as _;
    let list = op.ok(w, reqwest::Method::GET, "/api/v1/ncsm/recipients", None);
    let recipients = list["recipients"].as_array().expect("recipients");
    assert_eq!(recipients.len(), 1, "{list}");
    let key = base64::engine::general_purpose::STANDARD
        .decode(recipients[0]["public_key"].as_str().expect("public key"))
        .expect("base64 key");
    key.try_into().expect("a 32-byte X25519 key")
}

/// What a record's password is bound to, as the CLI seals it.
fn password_binding(kind: &str, id: &str, user: &str) -> BindingFields {
    BindingFields {
        record_kind: kind.into(),
        record_id: id.into(),
        field: SecretFieldName::Password,
        user: user.into(),
        domain: None,
        vault_url: None,
        secret_name: None,
    }
}

#[test]
fn tampered_and_repointed_envelopes_fail_without_reaching_the_peers() {
    ensure_user(UNIX_USER, UNIX_PW);
    let sshd = Sshd::start(&SshdOptions::default());
    let smbd = Smbd::start(SmbdOptions::default());
    smbd.add_user(WIN_USER, WIN_PW);
    let (p, q) = (sshd.port(), smbd.port());
    let unix_relays: Vec<Relay> = (2..=3).map(|n| Relay::start(ip(n), p)).collect();
    let win_relays: Vec<Relay> = (2..=3).map(|n| Relay::start(ip(n), q)).collect();

    let w = world();
    let op = activate_ncsm(&w);
    let key = appliance_key(&w, &op);

    // Per kind: .1 holds a good envelope, .2 a correctly bound one with a ciphertext byte
    // flipped (the control plane checks only that it parses, its binding and recipients, which
    // a flipped ciphertext byte leaves intact), .3 the envelope of .1's record.
    for (kind, user, pw) in [("unix", UNIX_USER, UNIX_PW), ("windows", WIN_USER, WIN_PW)] {
        let record = |id: &str, last: u8, envelope: &str| {
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
        op.ok(
            &w,
            reqwest::Method::POST,
            "/api/v1/records",
            Some(record(&ok_id, 1, &ok_envelope)),
        );
        let tampered = sealscan_e2e::tamper(&seal(&tampered_id));
        op.ok(
            &w,
            reqwest::Method::POST,
            "/api/v1/records",
            Some(record(&tampered_id, 2, &tampered)),
        );
        // Through the API, another record's envelope is refused...
        let (status, body) = op.send(
            &w,
            reqwest::Method::POST,
            "/api/v1/records",
            Some(record(&moved_id, 3, &ok_envelope)),
        );
        assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["rule"], "ncsm.binding-mismatch", "{body}");
        // ...so it takes a control plane whose database is in someone else's hands: the record
        // is created with its own envelope, which is then swapped for .1's in the database.
        op.ok(
            &w,
            reqwest::Method::POST,
            "/api/v1/records",
            Some(record(&moved_id, 3, &seal(&moved_id))),
        );
        let server = w.server.as_ref().expect("control plane running");
        server
            .state
            .store
            .write(|tx| tx.put_sealed_secret(kind, &moved_id, "password", &ok_envelope, now()))
            .expect("swap the envelope in the database");
    }

    let rows = w.scan(
        json!({"title": "sealed", "targets": ["127.0.0.1-127.0.0.3"], "kinds": "both",
               "ports": {"unix": p, "windows": q}}),
        6,
    );
    for kind in ["unix", "windows"] {
        let ok = row(&rows, ip(1), kind);
        assert_eq!(ok["status"], "passed", "{ok:#}");
        assert_eq!(ok["record_id"], format!("s{kind}-ok"), "{ok:#}");
    }
    expect(
        &row(&rows, ip(2), "unix"),
        "failed",
        105053,
        "envelope",
        &["password of unix sunix-tampered", "failed authentication"],
    );
    expect(
        &row(&rows, ip(2), "windows"),
        "failed",
        105015,
        "envelope",
        &[
            "password of windows swindows-tampered",
            "failed authentication",
        ],
    );
    expect(
        &row(&rows, ip(3), "unix"),
        "failed",
        105053,
        "envelope",
        &["sunix-moved", "record_id"],
    );
    expect(
        &row(&rows, ip(3), "windows"),
        "failed",
        105015,
        "envelope",
        &["swindows-moved", "record_id"],
    );

    // Nothing of the refused envelopes reached either peer: no connection from their
    // addresses, and the peers' logs hold the good logins only.
    for r in unix_relays.iter().chain(&win_relays) {
        assert_eq!(r.accepted(), 0, "a connection through {}", r.addr);
    }
    sshd.settle_log();
    assert_eq!(sshd.connections(), 1, "{}", sshd.auth_log());
    assert_eq!(sshd.accepted_for(UNIX_USER).len(), 1, "{}", sshd.auth_log());
    assert_eq!(sshd.attempts_for(UNIX_USER).len(), 1, "{}", sshd.auth_log());
    // The agent's log carries each refusal with its structured fields, and no secret.
    let agent_log = w.home.stderr();
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
