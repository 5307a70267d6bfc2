//! Tried as a new user would: records, vaults and the NCSM migration from the real `sealscan`
//! CLI against the real `sealscan-control` server, with a test client standing in for the
//! agent; afterwards no test secret is anywhere in the SQLite file or its WAL.
mod common;
mod records_support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::cli::*;
use records_support::{db, db_files_holding, ncsm_enable};
use sealscan_protocols::envelope::{self, Binding, Envelope, PrivateKey};
use serde_json::{Value, json};

const SECRETS: [&str; 6] = [
    "Cli-Legacy-Pass-1",
    "Cli-Legacy-Vault-1",
    "Cli-Sealed-Pass-2",
    "Cli-Sealed-Pass-3",
    "Cli-Sealed-Vault-2",
    "Cli-Legacy-Pass-4",
];

/// The agent's enrollment call, as a plain HTTPS client of the real server.
fn enroll(ca: &std::path::Path, url: &str, body: Value) -> Value {
    let pem = std::fs::read(ca).expect("ca");
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("pem"))
        .build()
        .expect("client");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let resp = http
            .post(format!("{url}/api/v1/appliance/enroll"))
            .json(&body)
            .send()
            .await
            .expect("reaches the server");
        assert!(resp.status().is_success(), "enroll: {}", resp.status());
        resp.json().await.expect("json")
    })
}

fn json_out(o: &std::process::Output) -> Value {
    serde_json::from_str(&ok(o)).expect("json output")
}

#[test]
fn records_vaults_and_ncsm_from_the_cli() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let cfg = tmp.path().join("cfg");
    let served = init_and_serve(&data);
    let ca = data.join("tls/cert.pem");
    login(&cfg, &served, &ca);
    let secret = |s: &str| format!("{s}\n");

    // Legacy model: secrets travel over TLS and are encrypted at rest.
    let out = ok(&run(
        &cfg,
        &[
            "--password-stdin",
            "records",
            "create",
            "--kind",
            "unix",
            "--title",
            "Linux A",
            "--user",
            "scan",
            "--ip",
            "10.3.0.0/24",
        ],
        &secret(SECRETS[0]),
    ));
    assert!(out.contains("legacy model"), "{out}");
    let out = ok(&run(
        &cfg,
        &[
            "--password-stdin",
            "vaults",
            "create",
            "--title",
            "SS",
            "--url",
            "https://ss.example",
            "--user",
            "svc",
        ],
        &secret(SECRETS[1]),
    ));
    assert!(out.contains("created vault"), "{out}");
    let listed = ok(&run(&cfg, &["records", "list"], ""));
    assert!(listed.contains("Linux A"), "{listed}");
    let vaults = ok(&run(&cfg, &["vaults", "list"], ""));
    assert!(
        vaults.contains("SS") && vaults.contains("ss.example"),
        "{vaults}"
    );
    // The same IP twice is refused, naming the IP and the record holding it.
    let refused = run(
        &cfg,
        &[
            "--password-stdin",
            "records",
            "create",
            "--kind",
            "unix",
            "--title",
            "Linux B",
            "--user",
            "scan",
            "--ip",
            "10.3.0.9",
        ],
        &secret(SECRETS[5]),
    );
    fails(&refused, "record.ip-taken");
    fails(&refused, "Linux A");

    // An appliance enrolls with its own key and is approved from the CLI.
    let token = json_out(&run(
        &cfg,
        &["--json", "appliances", "tokens", "create"],
        "",
    ));
    let key = PrivateKey::generate().expect("key");
    let enrolled = enroll(
        &ca,
        &served.url,
        json!({"token": token["token"], "name": "scanner-1",
               "public_key": STANDARD.encode(key.public_key())}),
    );
    let appliance = enrolled["appliance_id"].as_str().expect("id").to_string();
    let fingerprint = enrolled["fingerprint"].as_str().expect("fp").to_string();
    ok(&run(
        &cfg,
        &["appliances", "approve", "--yes", &appliance],
        "",
    ));

    // NCSM: the operator enables it; status shows what will move; start shows progress.
    ncsm_enable(&data);
    let status = ok(&run(&cfg, &["ncsm", "status"], ""));
    assert!(status.contains("NCSM: off"), "{status}");
    assert!(
        status.contains("to migrate: 1 record(s), 1 vault(s)"),
        "{status}"
    );
    let started = run(&cfg, &["ncsm", "start", "--yes"], "");
    let progress = String::from_utf8_lossy(&started.stderr).into_owned();
    let out = ok(&started);
    assert!(
        progress.contains("migrating [") && progress.contains("2/2"),
        "{progress}"
    );
    assert!(out.contains("NCSM: complete"), "{out}");
    // Activated at the next sign-in.
    login(&cfg, &served, &ca);

    // A sealed record: the appliance's fingerprint is shown, the secret read from stdin.
    let created = run(
        &cfg,
        &[
            "--password-stdin",
            "--json",
            "records",
            "create",
            "--kind",
            "unix",
            "--title",
            "Linux C",
            "--user",
            "ops",
            "--ip",
            "10.4.0.1",
        ],
        &secret(SECRETS[2]),
    );
    let shown = String::from_utf8_lossy(&created.stderr).into_owned();
    assert!(
        shown.contains("sealing to 1 approved appliance") && shown.contains(&fingerprint),
        "{shown}"
    );
    let rec = json_out(&created);
    assert_eq!(rec["secrets"][0]["model"], "sealed", "{rec}");
    let id = rec["id"].as_str().expect("id").to_string();

    // Updates: plain fields alone; a new user needs the secret again, sealed for it.
    let out = ok(&run(
        &cfg,
        &["records", "update", &id, "--comments", "rack 7"],
        "",
    ));
    assert!(out.contains("secrets unchanged"), "{out}");
    fails(
        &run(&cfg, &["records", "update", &id, "--user", "deploy"], ""),
        "record.secrets-rebind-required",
    );
    fails(
        &run(&cfg, &["records", "update", &id], ""),
        "nothing to change",
    );
    let out = ok(&run(
        &cfg,
        &[
            "--password-stdin",
            "records",
            "update",
            &id,
            "--user",
            "deploy",
            "--password",
        ],
        &secret(SECRETS[3]),
    ));
    assert!(out.contains("sealed on this machine"), "{out}");
    let shown = json_out(&run(&cfg, &["--json", "records", "show", &id], ""));
    assert_eq!(shown["username"], "deploy");
    assert_eq!(shown["comments"], "rack 7");
    let vault_id = json_out(&run(&cfg, &["--json", "vaults", "list"], ""))["vaults"][0]["id"]
        .as_str()
        .expect("vault id")
        .to_string();
    let out = ok(&run(
        &cfg,
        &[
            "--password-stdin",
            "vaults",
            "update",
            &vault_id,
            "--password",
        ],
        &secret(SECRETS[4]),
    ));
    assert!(out.contains("password sealed on this machine"), "{out}");

    // The stored envelope opens with the appliance's key, for the new user only.
    let env: String = db(&data)
        .query_row(
            "SELECT envelope FROM sealed_secrets WHERE record_id = ?1 AND field = 'password'",
            [&id],
            |r| r.get(0),
        )
        .expect("envelope");
    let env = Envelope::from_text(&env).expect("parses");
    let binding = |user: &str| Binding {
        record_kind: "unix".into(),
        record_id: id.clone(),
        field: "password".into(),
        user: user.into(),
        ..Default::default()
    };
    let plain = envelope::open(&env, &binding("deploy"), key.as_bytes()).expect("opens");
    assert_eq!(plain.expose(), SECRETS[3].as_bytes());
    assert!(envelope::open(&env, &binding("ops"), key.as_bytes()).is_err());

    // A second appliance, approved after the record was sealed: a scan pinned to it says why
    // it waits, naming the record and the appliance.
    let token = json_out(&run(
        &cfg,
        &["--json", "appliances", "tokens", "create"],
        "",
    ));
    let key2 = PrivateKey::generate().expect("key");
    let second = enroll(
        &ca,
        &served.url,
        json!({"token": token["token"], "name": "scanner-2",
               "public_key": STANDARD.encode(key2.public_key())}),
    );
    let second = second["appliance_id"].as_str().expect("id").to_string();
    ok(&run(&cfg, &["appliances", "approve", "--yes", &second], ""));
    let created = ok(&run(
        &cfg,
        &[
            "scans",
            "create",
            "10.4.0.1",
            "--kinds",
            "unix",
            "--appliance",
            &second,
        ],
        "",
    ));
    assert!(created.contains("scan 1 queued"), "{created}");
    let shown = ok(&run(&cfg, &["scans", "show", "1"], ""));
    for needle in [
        "waiting for rewrap",
        "\"Linux C\"",
        "scanner-2",
        "10.4.0.1",
        "WAITING BECAUSE",
    ] {
        assert!(shown.contains(needle), "{needle} missing from\n{shown}");
    }
    let list = ok(&run(&cfg, &["scans", "list"], ""));
    assert!(list.contains("queued (waiting)"), "{list}");

    // An Active Directory record logs in with Kerberos by default; `records show` says so.
    let created = json_out(&run(
        &cfg,
        &[
            "--password-stdin",
            "--json",
            "records",
            "create",
            "--kind",
            "windows",
            "--title",
            "CORP",
            "--user",
            "scansvc",
            "--ip",
            "10.6.0.1",
            "--domain-type",
            "active_directory",
            "--domain",
            "corp.example",
            "--kdc",
            "dc1.corp.example",
            "--host-name",
            "fs1.corp.example",
        ],
        &secret(SECRETS[5]),
    ));
    let win_id = created["id"].as_str().expect("id").to_string();
    let shown = ok(&run(&cfg, &["records", "show", &win_id], ""));
    assert!(
        shown.contains(
            "login: Kerberos only (realm CORP.EXAMPLE, KDC dc1.corp.example); never NTLM"
        ),
        "{shown}"
    );

    // No test secret anywhere in the database files, while serving and after.
    for s in SECRETS {
        assert!(
            db_files_holding(&data, s.as_bytes()).is_empty(),
            "{s} in the database"
        );
    }
    drop(served);
    for s in SECRETS {
        assert!(
            db_files_holding(&data, s.as_bytes()).is_empty(),
            "{s} in the database after shutdown"
        );
    }
}
