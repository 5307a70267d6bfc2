//! Vault records end to end through the real control plane: a Secret Server vault record (the
//! simulator over HTTPS with its CA bundle) and Unix and Windows records of login type vault,
//! created through the operator's API; the real agent resolves the credentials live through the
//! simulator and logs in to real sshd and smbd on loopback. Then each way the vault can fail
//! shows up as 105053 (Unix) and 105015 (Windows) with its precise cause, and Secret Server
//! faults (issue 8) fail only the vault targets, after bounded retries.
//!
//! Records match targets by IP. sshd and smbd listen on 127.0.0.1 only, so the passing records
//! are for 127.0.0.1 and each failure case gets its own loopback address (127.0.0.2, ...): a
//! target whose credential cannot be had is never logged in to, so nothing need listen there.

use sealscan_e2e::agent::AgentSettings;
use sealscan_e2e::control_plane::*;
use sealscan_e2e::vault::*;
use sealscan_e2e::{BOUND, contains, random_hex, wait_until, walk};
use sealscan_test_peers::faulty::FaultyTarget;
use sealscan_test_peers::smbd::{Smbd, SmbdOptions};
use sealscan_test_peers::sshd::{KeyFormat, Sshd, SshdOptions, generate_key};
use sealscan_test_peers::system::{closed_loopback_port, ensure_user};
use serde_json::{Value, json};

const UNIX_SECRET_ID: i64 = 10;
const WIN_SECRET_ID: i64 = 11;
const CHECKED_OUT_ID: i64 = 40;

/// Secrets for the scanner (`svc_pw` is its web-service password): the Unix and Windows
/// accounts of the real peers, two secrets sharing a name, and one that needs a check-out.
fn seed_for(svc_pw: &str, p: &Peers) -> secret_server_sim::Seed {
    seed(&seed_json_for(svc_pw, p))
}

fn seed_json_for(svc_pw: &str, p: &Peers) -> Value {
    let (unix_user, unix_pw) = (p.unix_user.as_str(), p.unix_pw.as_str());
    let (win_user, win_pw) = (p.win_user.as_str(), p.win_pw.as_str());
    json!({
        "users": [
            {"username": SVC_USER, "password": svc_pw},
            {"username": OTHER_USER, "password": OTHER_PW}
        ],
        "folders": [
            {"id": 2, "name": "Unix"}, {"id": 3, "name": "Windows"}, {"id": 4, "name": "Lab"}
        ],
        "secrets": [
            {"id": UNIX_SECRET_ID, "name": "e2e-unix", "folderId": 2,
             "template": "Unix Account (SSH)",
             "fields": {"machine": "127.0.0.1", "username": unix_user, "password": unix_pw},
             "readers": [SVC_USER]},
            {"id": WIN_SECRET_ID, "name": "e2e-win", "folderId": 3, "template": "Windows Account",
             "fields": {"machine": "127.0.0.1", "username": win_user, "password": win_pw},
             "readers": [SVC_USER]},
            {"id": 20, "name": "e2e-dup", "folderId": 2, "template": "Password",
             "fields": {"username": "a", "password": "pa"}, "readers": [SVC_USER]},
            {"id": 21, "name": "e2e-dup", "folderId": 4, "template": "Password",
             "fields": {"username": "b", "password": "pb"}, "readers": [SVC_USER]},
            {"id": CHECKED_OUT_ID, "name": "e2e-checkout", "folderId": 2, "template": "Password",
             "fields": {"username": unix_user, "password": unix_pw},
             "readers": [SVC_USER, OTHER_USER], "checkOutEnabled": true}
        ]
    })
}

/// Real sshd and smbd with an account each; `tag` keeps the accounts of parallel tests apart.
struct Peers {
    sshd: Sshd,
    smbd: Smbd,
    unix_user: String,
    unix_pw: String,
    win_user: String,
    win_pw: String,
}

fn peers(tag: &str) -> Peers {
    let unix_user = format!("e2e_vault{tag}");
    let win_user = format!("e2e_vaultwin{tag}");
    let unix_pw = format!("Ux-{tag}-{}", random_hex(8));
    let win_pw = format!("Wn-{tag}-{}", random_hex(8));
    ensure_user(&unix_user, &unix_pw);
    let sshd = Sshd::start(&SshdOptions::default());
    let smbd = Smbd::start(SmbdOptions::default());
    smbd.add_user(&win_user, &win_pw);
    Peers {
        sshd,
        smbd,
        unix_user,
        unix_pw,
        win_user,
        win_pw,
    }
}

fn scan(plane: &ControlPlane, title: &str, targets: Value, p: &Peers, count: usize) -> Vec<Value> {
    plane.run_scan(
        json!({"title": title, "targets": targets, "kinds": "both",
               "ports": {"unix": p.sshd.port(), "windows": p.smbd.port()}}),
        count,
    )
}

#[test]
fn vault_records_resolve_live_and_each_vault_failure_has_its_cause() {
    let p = peers("a");
    let svc_pw = format!("Svc-{}-pw", random_hex(10));
    let plane = ControlPlane::start();
    let _agent = plane.running_agent(AgentSettings::default());
    let sim = start_sim(&plane, seed_for(&svc_pw, &p));
    let ca = sim.ca_pem().expect("CA");
    let url = sim.base_url();

    // The good vault, and a Unix and a Windows record that log in through it.
    let good = create_vault(&plane, "secret server", &url, &ca, &svc_pw);
    // A vault record names the account its secret holds (issue 17).
    create_vault_record_with(
        &plane,
        json!({"kind": "unix", "ip": "127.0.0.1", "user": p.unix_user,
               "vault_id": good, "secret_name": "e2e-unix"}),
    );
    create_vault_record_with(
        &plane,
        json!({"kind": "windows", "ip": "127.0.0.1", "user": p.win_user,
               "vault_id": good, "secret_name": "e2e-win"}),
    );

    sim.clear_requests();
    let rows = scan(&plane, "vault pass", json!(["127.0.0.1"]), &p, 2);
    let unix = row(&rows, "127.0.0.1", "unix");
    assert_eq!(unix["status"], "passed", "{unix:#}");
    assert_eq!(unix["qid"], 38307, "{unix:#}");
    assert_eq!(unix["login_id"], p.unix_user, "{unix:#}");
    let windows = row(&rows, "127.0.0.1", "windows");
    assert_eq!(windows["status"], "passed", "{windows:#}");
    assert_eq!(windows["qid"], 70053, "{windows:#}");
    assert_eq!(
        p.sshd.accepted_for(&p.unix_user).len(),
        1,
        "{}",
        p.sshd.auth_log()
    );
    // One job: one token, one lookup and one fetch per distinct secret, one revoke at the end.
    wait_until("the token revoked at the job's end", BOUND, || {
        count(&sim.requests(), "POST", "/api/v1/oauth-expiration") == 1
    });
    let log = sim.requests();
    let figure = [
        ("token", count(&log, "POST", "/oauth2/token")),
        ("lookups", count(&log, "GET", "/api/v1/secrets")),
        (
            "fetches",
            count(&log, "GET", &format!("/api/v1/secrets/{UNIX_SECRET_ID}"))
                + count(&log, "GET", &format!("/api/v1/secrets/{WIN_SECRET_ID}")),
        ),
        ("revoke", count(&log, "POST", "/api/v1/oauth-expiration")),
    ];
    println!("Secret Server requests for a job of 2 targets, 2 distinct secrets: {figure:?}");
    assert_eq!(
        figure,
        [("token", 1), ("lookups", 2), ("fetches", 2), ("revoke", 1)],
        "{log:#?}"
    );
    assert_eq!(log.len(), 6, "no other request: {log:#?}");

    // Each failure on its own address, as a Unix and a Windows record.
    let other_sim = start_sim(&plane, seed_for(&svc_pw, &p));
    let wrong_ca = other_sim.ca_pem().expect("CA");
    let (_closed, closed_port) = closed_loopback_port();
    let bad_pw = create_vault(&plane, "wrong password", &url, &ca, "not-the-Svc-pw");
    let gone = create_vault(
        &plane,
        "unreachable",
        &format!("https://127.0.0.1:{closed_port}/SecretServer"),
        &ca,
        &svc_pw,
    );
    let untrusted = create_vault(&plane, "wrong CA", &url, &wrong_ca, &svc_pw);
    check_out_as_other(&plane, &sim, CHECKED_OUT_ID);
    let cases: [(&str, &str, &str, &str, &[&str]); 6] = [
        (
            "127.0.0.2",
            good.as_str(),
            "no-such-secret",
            "secret lookup",
            &["secret \"no-such-secret\" not found or access denied"],
        ),
        (
            "127.0.0.3",
            bad_pw.as_str(),
            "e2e-unix",
            "vault login",
            &[
                "web-service login failed for user \"svc-scan\"",
                "Login failed.",
            ],
        ),
        (
            "127.0.0.4",
            gone.as_str(),
            "e2e-unix",
            "vault login",
            &[
                "vault unreachable at https://127.0.0.1:",
                "connection refused",
            ],
        ),
        (
            "127.0.0.5",
            untrusted.as_str(),
            "e2e-unix",
            "vault login",
            &["TLS failure talking to", "certificate"],
        ),
        (
            "127.0.0.6",
            good.as_str(),
            "e2e-dup",
            "secret lookup",
            &[
                "secret \"e2e-dup\" is ambiguous: 2 secrets have that name; name its folder or its id (the matching ids are in the result's facts)",
            ],
        ),
        (
            "127.0.0.7",
            good.as_str(),
            "e2e-checkout",
            "secret fetch",
            &["secret \"e2e-checkout\" is checked out by someone else"],
        ),
    ];
    for (ip, vault, secret, _, _) in &cases {
        create_vault_record(&plane, "unix", ip, vault, secret);
        create_vault_record(&plane, "windows", ip, vault, secret);
    }
    sim.clear_requests();
    let rows = scan(
        &plane,
        "vault failures",
        json!(["127.0.0.2-127.0.0.7"]),
        &p,
        2 * cases.len(),
    );
    for (ip, _, _, step, words) in &cases {
        assert_row(row(&rows, ip, "unix"), "failed", 105053, step, words);
        assert_row(row(&rows, ip, "windows"), "failed", 105015, step, words);
    }
    // The ambiguous name's matching ids are facts of the result, not part of its cause.
    for kind in ["unix", "windows"] {
        let r = row(&rows, "127.0.0.6", kind);
        assert_eq!(r["facts"]["vault_matching_ids"], "20, 21", "{r:#}");
    }
    // The failed login is not retried per target: one token request for the wrong password,
    // and one for the good vault serving its three failing secrets.
    wait_until("the job's sessions ended", BOUND, || {
        count(&sim.requests(), "POST", "/api/v1/oauth-expiration") == 1
    });
    let log = sim.requests();
    assert_eq!(count(&log, "POST", "/oauth2/token"), 2, "{log:#?}");
    assert_eq!(
        p.sshd.accepted_for(&p.unix_user).len(),
        1,
        "no login was attempted with a failed vault credential: {}",
        p.sshd.auth_log()
    );

    // The web-service password, like any record secret, is nowhere in the control plane's
    // database, WAL included.
    for file in walk(plane.data.path().to_path_buf()) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !contains(&bytes, svc_pw.as_bytes()),
            "web-service password in {}",
            file.display()
        );
    }
}

/// Issue 8: Secret Server failing with 500s fails the vault targets after bounded retries,
/// while a basic-login target of the same job passes; resets, slow answers and a token that
/// expires mid-job are absorbed.
#[test]
fn secret_server_faults_fail_only_the_vault_targets() {
    let p = peers("b");
    let svc_pw = format!("Svc-{}-pw", random_hex(10));
    let plane = ControlPlane::start();
    let _agent = plane.running_agent(AgentSettings::default());
    let sim = start_sim(&plane, seed_for(&svc_pw, &p));
    let ca = sim.ca_pem().expect("CA");
    let good = create_vault(&plane, "secret server", &sim.base_url(), &ca, &svc_pw);
    create_vault_record_with(
        &plane,
        json!({"kind": "unix", "ip": "127.0.0.1", "user": p.unix_user,
               "vault_id": good, "secret_name": "e2e-unix"}),
    );
    // The Windows record of the same target is a basic login: no vault involved.
    plane.record(password_record(
        "windows",
        "basic windows",
        &p.win_user,
        &["127.0.0.1"],
        p.win_pw.as_bytes(),
    ));

    // Every Secret Server answer is a 500.
    sim.faults().fail_next_with_500(1_000);
    let rows = scan(&plane, "vault 500s", json!(["127.0.0.1"]), &p, 2);
    assert_row(
        row(&rows, "127.0.0.1", "unix"),
        "failed",
        105053,
        "vault login",
        &["vault error", "HTTP 500", "An error has occurred."],
    );
    let windows = row(&rows, "127.0.0.1", "windows");
    assert_eq!(windows["status"], "passed", "{windows:#}");
    assert_eq!(windows["qid"], 70053, "{windows:#}");
    // Bounded: the agent's attempts per request (4), for the one login of the job.
    let log = sim.requests();
    assert_eq!(count(&log, "POST", "/oauth2/token"), 4, "{log:#?}");
    assert!(log.iter().all(|r| r.status == 500), "{log:#?}");

    // Resets, slow answers and a token that dies after two calls: retried and renewed.
    sim.faults().fail_next_with_500(0);
    sim.faults().reset_next_connections(2);
    sim.faults()
        .set_delay(std::time::Duration::from_millis(300));
    sim.faults().expire_tokens_after_calls(Some(1));
    sim.clear_requests();
    let rows = scan(&plane, "vault flaky", json!(["127.0.0.1"]), &p, 2);
    let unix = row(&rows, "127.0.0.1", "unix");
    assert_eq!(unix["status"], "passed", "{unix:#}");
    assert_eq!(unix["qid"], 38307, "{unix:#}");
    let windows = row(&rows, "127.0.0.1", "windows");
    assert_eq!(windows["status"], "passed", "{windows:#}");
    let log = sim.requests();
    // The lookup used up the first token; the fetch met 403 and logged in once more.
    assert_eq!(count(&log, "POST", "/oauth2/token"), 2, "{log:#?}");
    assert!(
        log.iter().any(|r| r.status == 403),
        "the token expired mid-job: {log:#?}"
    );
    sim.faults().set_delay(std::time::Duration::ZERO);
}

/// Issue 17 (items 5-8) end to end: vault records addressing their secret by id, by folder path
/// and by name; the record choosing the secret's password or its private key (the default
/// takes the key); a record whose user is not the secret's refused before any login, its
/// result naming the record's account; an ambiguous name with the ids as facts. Real control
/// plane, real agent, the simulator over HTTPS, real sshd (reached on 127.0.0.2-4 through
/// relays).
#[test]
fn vault_records_by_id_path_and_name_choose_password_or_key_and_keep_their_account() {
    let p = peers("c");
    let keys = tempfile::tempdir().expect("key dir");
    let key = generate_key(keys.path(), "ed25519", KeyFormat::OpenSsh, "");
    p.sshd.authorize_key(&p.unix_user, &key.public);
    let svc_pw = format!("Svc-{}-pw", random_hex(10));
    let plane = ControlPlane::start();
    let _agent = plane.running_agent(AgentSettings::default());
    let mut seed_json = seed_json_for(&svc_pw, &p);
    seed_json["secrets"]
        .as_array_mut()
        .expect("secrets")
        .push(json!({"id": 50, "name": "e2e-both", "folderId": 2,
            "template": "Unix Account (SSH)",
            "fields": {"username": p.unix_user, "password": p.unix_pw,
                       "private-key": {"fileName": "id_ed25519",
                                       "content": String::from_utf8(key.private.clone()).expect("ascii key")}},
            "readers": [SVC_USER]}));
    let sim = start_sim(&plane, seed(&seed_json));
    let ca = sim.ca_pem().expect("CA");
    let good = create_vault(&plane, "secret server", &sim.base_url(), &ca, &svc_pw);
    let relays: Vec<FaultyTarget> = (2..=4)
        .map(|n| FaultyTarget::relay(std::net::Ipv4Addr::new(127, 0, 0, n), p.sshd.port()))
        .collect();
    let user = p.unix_user.as_str();
    let records = [
        // By id, with the password although the secret holds a key.
        json!({"ip": "127.0.0.1", "user": user, "secret_id": 50, "unix_auth": "password"}),
        // By folder path, with the key.
        json!({"ip": "127.0.0.2", "user": user, "secret_path": "\\Unix\\e2e-both",
               "unix_auth": "private_key"}),
        // By name, nothing chosen: the key, as before.
        json!({"ip": "127.0.0.3", "user": user, "secret_name": "e2e-both"}),
        // Another user than the secret's: refused, no login.
        json!({"ip": "127.0.0.4", "user": "root", "secret_id": 50}),
        // Two secrets share the name.
        json!({"ip": "127.0.0.5", "user": user, "secret_name": "e2e-dup"}),
        // By id, one the scanner may not read (or that is not there).
        json!({"ip": "127.0.0.6", "user": user, "secret_id": 999}),
    ];
    for mut spec in records {
        spec["kind"] = json!("unix");
        spec["vault_id"] = json!(good);
        create_vault_record_with(&plane, spec);
    }
    // What the operator sees: each record's vault and secret in the table.
    let listed = plane.call(reqwest::Method::GET, "/api/v1/records", None);
    let shown: Vec<(String, String)> = listed["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            (
                r["ips"][0].as_str().unwrap_or("").to_string(),
                r["secret"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for (ip, secret) in [
        ("127.0.0.1", "id 50"),
        ("127.0.0.2", "\\Unix\\e2e-both"),
        ("127.0.0.3", "e2e-both"),
    ] {
        assert!(
            shown.contains(&(ip.to_string(), secret.to_string())),
            "{shown:?}"
        );
    }

    let rows = plane.run_scan(
        json!({"title": "vault refs", "targets": ["127.0.0.1-127.0.0.6"], "kinds": "unix",
               "ports": {"unix": p.sshd.port()}}),
        6,
    );
    for (ip, method) in [
        ("127.0.0.1", "password"),
        ("127.0.0.2", "publickey"),
        ("127.0.0.3", "publickey"),
    ] {
        let r = row(&rows, ip, "unix");
        assert_eq!(r["status"], "passed", "{r:#}");
        assert_eq!(r["qid"], 38307, "{r:#}");
        assert_eq!(r["login_id"], user, "{r:#}");
        assert!(
            r["method"].as_str().is_some_and(|m| m.starts_with(method)),
            "{ip}: {r:#}"
        );
    }
    let other = row(&rows, "127.0.0.4", "unix");
    assert_row(
        other,
        "failed",
        105053,
        "secret fetch",
        &["vault secret id 50 holds the account of another user than the record's user \"root\""],
    );
    assert_eq!(other["login_id"], "root", "{other:#}");
    let dup = row(&rows, "127.0.0.5", "unix");
    assert_row(
        dup,
        "failed",
        105053,
        "secret lookup",
        &["secret \"e2e-dup\" is ambiguous: 2 secrets have that name; name its folder or its id"],
    );
    assert!(dup["cause"].to_string().len() < 250, "{dup:#}");
    assert_eq!(dup["facts"]["vault_matching_ids"], "20, 21", "{dup:#}");
    assert_row(
        row(&rows, "127.0.0.6", "unix"),
        "failed",
        105053,
        "secret lookup",
        &["secret id 999 not found or access denied"],
    );
    // Nothing tried to log in as root, or as anyone for the refused records.
    assert!(
        p.sshd.attempts_for("root").is_empty(),
        "{}",
        p.sshd.auth_log()
    );
    assert_eq!(p.sshd.accepted_for(user).len(), 3, "{}", p.sshd.auth_log());
    drop(relays);
}
