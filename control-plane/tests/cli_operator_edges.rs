//! Rough edges a new operator met with the real binaries: a password changed without asking,
//! a reset email naming a command that does not exist, a non-PEM CA file reported as
//! `UnknownIssuer`, `allowlist set --disable` erasing the list, approvals and NCSM activation
//! without confirmation, and approvals missing from the server log.
mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::cli::*;
use sealscan_protocols::envelope::PrivateKey;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// `sealscan-control serve` with its log (stderr) collected in the background.
struct Logged {
    served: Served,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

fn serve_logged(data: &Path) -> Logged {
    let mut child = Command::new(CONTROL)
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sealscan-control serve");
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let stderr = child.stderr.take().expect("stderr");
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut l = sink.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the server prints its address")
            .expect("line");
        if let Some(rest) = line.strip_prefix("listening on ") {
            break rest.trim_end_matches("/api/v1").to_string();
        }
    };
    Logged {
        served: Served {
            child,
            url,
            printed: Vec::new(),
        },
        log,
    }
}

fn enroll(ca: &Path, url: &str, token: &str, name: &str) -> Value {
    let pem = std::fs::read(ca).expect("ca");
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("pem"))
        .build()
        .expect("client");
    let key = PrivateKey::generate().expect("key");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let resp = http
            .post(format!("{url}/api/v1/appliance/enroll"))
            .json(&json!({"token": token, "name": name,
                          "public_key": STANDARD.encode(key.public_key())}))
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

fn new_appliance(cfg: &Path, ca: &Path, url: &str, name: &str) -> (String, String) {
    let token = json_out(&run(cfg, &["--json", "appliances", "tokens", "create"], ""));
    let e = enroll(ca, url, token["token"].as_str().expect("token"), name);
    (
        e["appliance_id"].as_str().expect("id").to_string(),
        e["fingerprint"].as_str().expect("fp").to_string(),
    )
}

fn state_of(cfg: &Path, id: &str) -> String {
    let list = json_out(&run(cfg, &["--json", "appliances", "list"], ""));
    let all = list
        .as_array()
        .or_else(|| list["appliances"].as_array())
        .expect("list");
    all.iter()
        .find(|a| a["id"] == id)
        .and_then(|a| a["state"].as_str())
        .expect("listed")
        .to_string()
}

#[test]
fn approval_and_ncsm_start_ask_first_and_approvals_reach_the_server_log() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let cfg = tmp.path().join("cfg");
    let out = init(&data, &format!("{PW}\n"));
    assert!(out.status.success());
    let logged = serve_logged(&data);
    let ca = data.join("tls/cert.pem");
    login(&cfg, &logged.served, &ca);
    let url = logged.served.url.clone();

    let (id, fingerprint) = new_appliance(&cfg, &ca, &url, "scanner-1");
    // No answer (a script without --yes) and "n": nothing approved; the question showed the
    // fingerprint it asks about.
    for answer in ["", "n\n"] {
        let refused = run(&cfg, &["appliances", "approve", &id], answer);
        fails(&refused, "not approved");
        fails(&refused, &fingerprint);
        assert_eq!(state_of(&cfg, &id), "pending");
    }
    let approved = ok(&run(&cfg, &["appliances", "approve", &id], "y\n"));
    assert!(approved.contains("is now approved"), "{approved}");
    let (id2, _) = new_appliance(&cfg, &ca, &url, "scanner-2");
    ok(&run(&cfg, &["appliances", "approve", "--yes", &id2], ""));
    assert_eq!(state_of(&cfg, &id2), "approved");
    let log = logged.log.lock().unwrap().clone();
    assert!(
        log.lines().any(|l| l.contains(id.as_str())
            && l.contains("approved by alice")
            && l.contains(fingerprint.as_str())),
        "no approval line in the server log:\n{log}"
    );
    assert!(log.contains(&format!("appliance {id2}")), "{log}");

    // NCSM start asks too (one way); --yes for scripts.
    let enable = Command::new(CONTROL)
        .arg("--data-dir")
        .arg(&data)
        .args(["ncsm", "enable"])
        .output()
        .expect("ncsm enable");
    assert!(enable.status.success());
    let refused = run(&cfg, &["ncsm", "start"], "");
    fails(&refused, "not started");
    fails(&refused, "cannot be turned off");
    assert!(ok(&run(&cfg, &["ncsm", "status"], "")).contains("NCSM: off"));
    ok(&run(&cfg, &["ncsm", "start"], "yes\n"));
    assert!(!ok(&run(&cfg, &["ncsm", "status"], "")).contains("NCSM: off"));
}

#[test]
fn passwords_allowlist_ca_file_and_the_reset_email() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let cfg = tmp.path().join("cfg");
    let served = init_and_serve(&data);
    let ca = data.join("tls/cert.pem");
    login(&cfg, &served, &ca);

    // A CA file that is no PEM certificate is named as such, not reported as UnknownIssuer.
    let junk = tmp.path().join("not-a-cert.der");
    std::fs::write(&junk, b"\x30\x82\x01\x0a this is not PEM").expect("junk");
    let other = tmp.path().join("other");
    let bad = run(
        &other,
        &[
            "login",
            "--url",
            &served.url,
            "--ca-file",
            junk.to_str().unwrap(),
            "--user",
            "alice",
        ],
        &format!("{PW}\n"),
    );
    fails(&bad, "holds no PEM certificate");
    fails(&bad, "not-a-cert.der");
    assert!(!String::from_utf8_lossy(&bad.stderr).contains("UnknownIssuer"));

    // The allowlist: --disable keeps the list; --enable alone turns the saved one on again.
    ok(&run(
        &cfg,
        &[
            "security",
            "allowlist",
            "set",
            "--enable",
            "127.0.0.0/8",
            "10.9.0.0/16",
        ],
        "",
    ));
    ok(&run(
        &cfg,
        &["security", "allowlist", "set", "--disable"],
        "",
    ));
    let shown = json_out(&run(&cfg, &["--json", "security", "allowlist", "show"], ""));
    assert_eq!(shown["enabled"], false, "{shown}");
    assert_eq!(
        shown["entries"],
        json!(["127.0.0.0/8", "10.9.0.0/16"]),
        "{shown}"
    );
    ok(&run(
        &cfg,
        &["security", "allowlist", "set", "--enable"],
        "",
    ));
    let shown = json_out(&run(&cfg, &["--json", "security", "allowlist", "show"], ""));
    assert_eq!(shown["enabled"], true, "{shown}");
    assert_eq!(
        shown["entries"],
        json!(["127.0.0.0/8", "10.9.0.0/16"]),
        "{shown}"
    );

    // Business units from the CLI.
    assert!(ok(&run(&cfg, &["users", "unit", "alice"], "")).contains("alice: no unit"));
    assert!(ok(&run(&cfg, &["users", "unit", "alice", "east"], "")).contains("alice: unit east"));
    assert!(ok(&run(&cfg, &["users", "unit", "alice"], "")).contains("alice: unit east"));
    assert!(ok(&run(&cfg, &["users", "unit", "alice", "--none"], "")).contains("alice: no unit"));
    fails(
        &run(&cfg, &["records", "unit", "r-missing", "east"], ""),
        "unit.owner-unknown",
    );
    fails(&run(&cfg, &["vaults", "unit", "v-missing"], ""), "<UNIT>");

    // Each password rule and the notice channel are options of `security set`.
    ok(&run(
        &cfg,
        &[
            "security",
            "set",
            "--password-rule",
            "uppercase=off",
            "--password-rule",
            "no_names=off",
            "--expiry-notice-email",
            "false",
        ],
        "",
    ));
    let shown = json_out(&run(&cfg, &["--json", "security", "show"], ""));
    let sec = &shown["security"];
    assert_eq!(
        (
            &sec["password_rules"]["uppercase"],
            &sec["password_rules"]["no_names"]
        ),
        (&json!(false), &json!(false)),
        "{shown}"
    );
    assert_eq!(sec["password_rules"]["digit"], true, "{shown}");
    assert_eq!(
        (&sec["expiry_notice_email"], &sec["expiry_notice_ui"]),
        (&json!(false), &json!(true))
    );
    fails(
        &run(
            &cfg,
            &["security", "set", "--password-rule", "uppercase"],
            "",
        ),
        "RULE=on or RULE=off",
    );
    fails(
        &run(
            &cfg,
            &["security", "set", "--password-rule", "emoji=off"],
            "",
        ),
        "emoji",
    );

    // User-defined passwords off: `password change` asks for the new password, and when the
    // control plane must generate it, says so and changes nothing without --generate.
    ok(&run(
        &cfg,
        &["security", "set", "--user-defined-passwords", "false"],
        "",
    ));
    let asked = run(
        &cfg,
        &["password", "change"],
        &format!("{PW}\nHb6#xTq2!Vm\n"),
    );
    fails(&asked, "--generate");
    fails(&asked, "Nothing changed");
    assert!(!String::from_utf8_lossy(&asked.stdout).contains("generated password"));
    // Nothing changed: the old password still signs in.
    login(&tmp.path().join("relogin"), &served, &ca);
    let generated = ok(&run(
        &cfg,
        &["password", "change", "--generate"],
        &format!("{PW}\n"),
    ));
    assert!(generated.contains("generated password"), "{generated}");

    // The reset email names the real command, which works with the token as the email says.
    ok(&run(&cfg, &["password", "forgot", "--user", "alice"], ""));
    let store = sealscan_control::server::open_store(&data).expect("store");
    let mail = store
        .read(|tx| tx.list_outbox())
        .expect("outbox")
        .into_iter()
        .find(|m| m.kind == "password_reset")
        .expect("reset email");
    assert!(!mail.body.contains("--token"), "{}", mail.body);
    let command = mail
        .body
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("sealscan "))
        .expect("a command in the email")
        .to_string();
    let token = mail
        .body
        .split_whitespace()
        .find(|w| w.starts_with("rst_"))
        .expect("token")
        .to_string();
    let mut args: Vec<&str> = command.split_whitespace().skip(1).collect();
    args.extend(["--url", &served.url, "--ca-file", ca.to_str().unwrap()]);
    // User-defined passwords still off: the command says to generate, and the token survives.
    let fresh = tmp.path().join("fresh");
    let typed = run(&fresh, &args, &format!("{token}\nZq8!pLm3#Tv\n"));
    fails(&typed, "password reset --generate");
    args.push("--generate");
    let generated = ok(&run(&fresh, &args, &format!("{token}\n")));
    assert!(generated.contains("generated password"), "{generated}");
}
