//! The operator's session, in order: the steps of docs/packaging.md's "Installing", then what
//! an installed system must survive. Mirrors the demo (tests/e2e/src/bin/sealscan-demo.rs) with
//! the packaged programs under systemd.

use crate::container::Container;
use crate::{check, install, rpm, service, step, wait_for};
use sealscan_control::password_policy::Names;
use sealscan_control::secrets::{Password, generate_password};
use sealscan_test_peers::faulty::{FaultyTarget, unanswered};
use sealscan_test_peers::smbd::{NETBIOS_NAME, Smbd, SmbdOptions};
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::{ensure_user, free_loopback_port};
use serde_json::Value;
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::Duration;

pub const UNIX_USER: &str = "sealscan_sys";
pub const WIN_USER: &str = "sealscan_syswin";
const MANAGER: &str = "alice";
/// Nothing listens here: the Unix login that fails (QID 105053) at `connect`.
pub const SILENT_HOST: &str = "127.0.0.2";
/// Relays to sshd, under a record with a stale password: the Unix login that fails (105053).
pub const STALE_HOST: &str = "127.0.0.4";
/// Accepts TCP and never answers: a login that runs until the agent's timeout.
pub const SLOW_HOST: &str = "127.0.0.3";
pub const CA: &str = "/var/lib/sealscan-control/tls/cert.pem";
/// Caps on waiting for something broken, never measurements.
pub const BOUND: Duration = Duration::from_secs(90);

/// The peers, where a signal or the deadline can stop them from another thread: smbd runs in
/// its own process group, out of reach of a kill of this program's group.
static PEERS: Mutex<Option<(Sshd, Smbd)>> = Mutex::new(None);

/// Stops sshd and smbd (their `Drop`) and removes their directories.
pub fn stop_peers() {
    let peers = PEERS.lock().unwrap_or_else(|e| e.into_inner()).take();
    drop(peers);
}

pub struct Session<'a> {
    pub ct: &'a Container,
    pub url: String,
    pub port: u16,
    manager_pw: Password,
    pub target_pw: Password,
    pub ssh_port: u16,
    pub smb_port: u16,
    pub unix_record: String,
    pub stale_record: String,
}

pub fn run(ct: &Container) -> Result<(), String> {
    step("targets on the host's loopback: OpenSSH sshd and Samba smbd, with a local user each");
    let target_pw = generate_password(
        16,
        &Names {
            first: "System",
            last: "Target",
        },
    );
    ensure_user(UNIX_USER, target_pw.expose());
    let sshd = Sshd::start(&SshdOptions::default());
    let smbd = Smbd::start(SmbdOptions::default());
    smbd.add_user(WIN_USER, target_pw.expose());
    let (ssh_port, smb_port) = (sshd.port(), smbd.port());
    *PEERS.lock().unwrap_or_else(|e| e.into_inner()) = Some((sshd, smbd));
    println!("    sshd 127.0.0.1:{ssh_port}, smbd 127.0.0.1:{smb_port}");

    install::install(ct)?;

    let port = free_loopback_port();
    let mut s = Session {
        ct,
        url: format!("https://127.0.0.1:{port}"),
        port,
        manager_pw: generate_password(
            20,
            &Names {
                first: "Alice",
                last: "Smith",
            },
        ),
        target_pw,
        ssh_port,
        smb_port,
        unix_record: String::new(),
        stale_record: String::new(),
    };
    control_plane(&s)?;
    let fingerprint = enroll(&s)?;
    service::start_agent(&s, &fingerprint)?;
    approve(&s, &fingerprint)?;
    records(&mut s)?;

    step("a scan: 127.0.0.1 (sshd, smbd), 127.0.0.2 (nothing listens), 127.0.0.4 (stale password)");
    let relay = FaultyTarget::relay(STALE_HOST.parse().expect("an IPv4 address"), s.ssh_port);
    let targets = [
        "127.0.0.1".to_string(),
        SILENT_HOST.to_string(),
        STALE_HOST.to_string(),
        "--kinds".into(),
        "both".into(),
    ];
    let (first, rows) = scan(&s, &targets)?;
    drop(relay);
    expect(&rows, "127.0.0.1", "unix", "passed", 38307)?;
    expect(&rows, "127.0.0.1", "windows", "passed", 70053)?;
    expect(&rows, SILENT_HOST, "unix", "not_attempted", 105297)?;
    expect(&rows, STALE_HOST, "unix", "failed", 105053)?;
    service::journal_fields(&s, &first, &rows)?;
    service::no_secret_in_journal(&s, &[&s.target_pw, &s.manager_pw])?;

    service::hardening(ct)?;
    service::memlock_too_small(ct)?;

    // A non-empty spool for the watchdog: a scan whose slow target outlasts the control plane.
    let slow = unanswered(SLOW_HOST, s.ssh_port);
    let spooled = service::watchdog_keeps_spool(&s)?;
    drop(slow);
    service::clean_stop(&s, &spooled)?;

    install::upgrade(&s)?;
    step("after the upgrade the same appliance scans: identity and enrollment kept");
    let (_, rows) = scan(&s, &["127.0.0.1".into(), "--kinds".into(), "unix".into()])?;
    expect(&rows, "127.0.0.1", "unix", "passed", 38307)?;

    install::remove_and_purge(ct)?;
    rpm::rpm(&s)?;
    stop_peers();
    Ok(())
}

/// The control plane: init as the service user, a drop-in for a free loopback port, then
/// `systemctl enable --now` and the CLI's login.
fn control_plane(s: &Session) -> Result<(), String> {
    let ct = s.ct;
    step("the control plane: init as its service user, a port drop-in, systemctl enable --now");
    ct.must(
        &[
            "runuser",
            "-u",
            "sealscan-control",
            "--",
            "sealscan-control",
            "init",
            "--username",
            MANAGER,
            "--first-name",
            "Alice",
            "--last-name",
            "Smith",
            "--email",
            "alice@example.com",
            "--password-stdin",
        ],
        Some(s.manager_pw.expose().as_bytes()),
    )?;
    ct.must(
        &[
            "runuser",
            "-u",
            "sealscan-control",
            "--",
            "sealscan-control",
            "ncsm",
            "enable",
        ],
        None,
    )?;
    // What `systemctl edit sealscan-control` writes (docs/packaging.md): another listen address.
    ct.sh(&format!(
        "mkdir -p /etc/systemd/system/sealscan-control.service.d && \
         printf '[Service]\\nExecStart=\\nExecStart=/usr/bin/sealscan-control serve --data-dir /var/lib/sealscan-control --listen 127.0.0.1:{}\\n' \
         > /etc/systemd/system/sealscan-control.service.d/override.conf && systemctl daemon-reload",
        s.port
    ))?;
    ct.must(&["systemctl", "enable", "--now", "sealscan-control"], None)?;
    let addr = format!("127.0.0.1:{}", s.port);
    wait_for("the control plane to listen", BOUND, || {
        Ok(TcpStream::connect(&addr).is_ok())
    })?;
    let journal = ct.must(
        &[
            "journalctl",
            "-u",
            "sealscan-control",
            "--no-pager",
            "-o",
            "cat",
        ],
        None,
    )?;
    println!("{}", indent(&journal));
    // docs/packaging.md sends the operator here for the fingerprint `sealscan login` shows.
    check(
        journal
            .lines()
            .any(|l| l.contains("fingerprint") && l.matches(':').count() >= 31),
        || "the control plane's journal shows no TLS certificate fingerprint".into(),
    )?;
    step("the operator signs in with the packaged CLI");
    ct.must(
        &[
            "sealscan",
            "login",
            "--url",
            &s.url,
            "--ca-file",
            CA,
            "--user",
            MANAGER,
            "--password-stdin",
        ],
        Some(s.manager_pw.expose().as_bytes()),
    )?;
    Ok(())
}

/// Token, CA and config for the agent, then `sealscan-agent enroll` as the service user; the
/// fingerprint it printed.
fn enroll(s: &Session) -> Result<String, String> {
    let ct = s.ct;
    step("the appliance: CA file, control_plane_url, check-config, enroll as sealscan-agent");
    let token = json(
        ct,
        &["appliances", "tokens", "create", "--label", "system test"],
    )?;
    let token = Password::new(
        token["token"]
            .as_str()
            .ok_or("`sealscan appliances tokens create` answered no token")?
            .to_string(),
    );
    ct.must(&["install", "-m", "0644", CA, "/etc/sealscan/ca.pem"], None)?;
    // The operator's edits: the control plane's URL, and a shorter Unix timeout (which the
    // upgrade must keep).
    ct.sh(&format!(
        "sed -i -e 's|^control_plane_url = .*|control_plane_url = \"{}\"|' \
         -e 's|^unix_secs = .*|unix_secs = 8|' /etc/sealscan/agent.toml",
        s.url
    ))?;
    ct.must(&["sealscan-agent", "check-config"], None)?;
    // The token reaches the agent on stdin, through its environment variable, never argv.
    let out = ct.must(
        &[
            "runuser",
            "-u",
            "sealscan-agent",
            "--",
            "sh",
            "-c",
            &format!(
                "read -r SEALSCAN_ENROLL_TOKEN && export SEALSCAN_ENROLL_TOKEN && \
                 exec sealscan-agent enroll --url {} --name system-test",
                s.url
            ),
        ],
        Some(token.expose().as_bytes()),
    )?;
    println!("{}", indent(&out));
    let fingerprint = out
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint:"))
        .map(|f| f.trim().to_string())
        .ok_or_else(|| format!("enroll printed no fingerprint: {out}"))?;
    let key = ct.sh("stat -c '%a %U' /var/lib/sealscan-agent/identity.key")?;
    check(key.trim() == "600 sealscan-agent", || {
        format!("identity.key is {key}, expected 600 sealscan-agent")
    })?;
    Ok(fingerprint)
}

fn approve(s: &Session, fingerprint: &str) -> Result<(), String> {
    let ct = s.ct;
    step("the operator approves the appliance; the agent collects its credential; NCSM goes live");
    let list = json(ct, &["appliances", "list"])?;
    let id = list
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|a| a["fingerprint"].as_str() == Some(fingerprint))
        })
        .map(|a| text(&a["id"]))
        .ok_or_else(|| format!("no appliance with fingerprint {fingerprint}: {list}"))?;
    ct.must(&["sealscan", "appliances", "approve", "--yes", &id], None)?;
    wait_for("the agent to say it waits for jobs", BOUND, || {
        Ok(ct.prop("sealscan-agent", "StatusText")? == "waiting for jobs")
    })?;
    check(
        ct.root().join("var/lib/sealscan-agent/credential").exists(),
        || "the agent says it waits for jobs but holds no credential".into(),
    )?;
    ct.must(&["sealscan", "ncsm", "start", "--yes"], None)?;
    // Sessions opened before the activation may not change records: sign in again.
    ct.must(
        &[
            "sealscan",
            "login",
            "--url",
            &s.url,
            "--ca-file",
            CA,
            "--user",
            MANAGER,
            "--password-stdin",
        ],
        Some(s.manager_pw.expose().as_bytes()),
    )?;
    Ok(())
}

fn records(s: &mut Session) -> Result<(), String> {
    let ct = s.ct;
    step("records: the targets' password, sealed by the packaged CLI to the appliance's key");
    let unix = ct.must(
        &[
            "sealscan",
            "--json",
            "records",
            "create",
            "--kind",
            "unix",
            "--title",
            "lab unix",
            "--user",
            UNIX_USER,
            "--ip",
            "127.0.0.1",
            "--ip",
            SILENT_HOST,
            "--ip",
            SLOW_HOST,
            "--password-stdin",
        ],
        Some(s.target_pw.expose().as_bytes()),
    )?;
    let unix: Value = serde_json::from_str(&unix)
        .map_err(|e| format!("`sealscan --json records create` printed no JSON: {e}"))?;
    s.unix_record = text(&unix["id"]);
    // The same account under a password the target never had.
    let stale = generate_password(
        16,
        &Names {
            first: "Stale",
            last: "Record",
        },
    );
    let stale = ct.must(
        &[
            "sealscan",
            "--json",
            "records",
            "create",
            "--kind",
            "unix",
            "--title",
            "lab unix, stale password",
            "--user",
            UNIX_USER,
            "--ip",
            STALE_HOST,
            "--password-stdin",
        ],
        Some(stale.expose().as_bytes()),
    )?;
    let stale: Value = serde_json::from_str(&stale)
        .map_err(|e| format!("`sealscan --json records create` printed no JSON: {e}"))?;
    s.stale_record = text(&stale["id"]);
    ct.must(
        &[
            "sealscan",
            "records",
            "create",
            "--kind",
            "windows",
            "--title",
            "lab windows",
            "--user",
            WIN_USER,
            "--domain-type",
            "netbios",
            "--domain",
            NETBIOS_NAME,
            "--service-selected",
            "--password-stdin",
        ],
        Some(s.target_pw.expose().as_bytes()),
    )?;
    Ok(())
}

/// Creates a scan with the peers' ports and `targets` (hosts and options); waits until every
/// login has its result. The scan and its rows.
pub fn scan(s: &Session, targets: &[String]) -> Result<(Value, Vec<Value>), String> {
    let created = create_scan(s, targets)?;
    let rows = wait_results(s, &created, BOUND)?;
    for r in &rows {
        println!(
            "      {:<10} {:<8} {:<8} {:<7} {}",
            text(&r["host"]),
            text(&r["kind"]),
            text(&r["status"]),
            text(&r["qid"]),
            text(&r["cause"])
        );
    }
    Ok((created, rows))
}

pub fn create_scan(s: &Session, targets: &[String]) -> Result<Value, String> {
    let (unix, windows) = (s.ssh_port.to_string(), s.smb_port.to_string());
    let mut args = vec!["scans", "create"];
    args.extend(targets.iter().map(String::as_str));
    args.extend([
        "--unix-port",
        &unix,
        "--windows-port",
        &windows,
        "--title",
        "system test",
    ]);
    json(s.ct, &args)
}

/// Waits until the scan has a result for each of its logins; the rows.
pub fn wait_results(s: &Session, scan: &Value, bound: Duration) -> Result<Vec<Value>, String> {
    let id = text(&scan["id"]);
    let total = scan["targets_total"].as_u64().unwrap_or(0) as usize;
    let mut rows = Vec::new();
    wait_for(&format!("the results of scan {id}"), bound, || {
        rows = results(s.ct, &id)?;
        Ok(total > 0 && rows.len() >= total)
    })?;
    Ok(rows)
}

pub fn results(ct: &Container, scan_id: &str) -> Result<Vec<Value>, String> {
    let out = ct.quiet(&format!("sealscan --json scans results {scan_id}"))?;
    let v: Value = serde_json::from_str(&out)
        .map_err(|e| format!("`sealscan --json scans results` printed no JSON: {e}"))?;
    Ok(v.as_array().cloned().unwrap_or_default())
}

pub fn expect(
    rows: &[Value],
    host: &str,
    kind: &str,
    status: &str,
    qid: u64,
) -> Result<(), String> {
    let row = rows
        .iter()
        .find(|r| r["host"] == host && r["kind"] == kind)
        .ok_or_else(|| format!("no {kind} result for {host}"))?;
    check(
        row["status"] == status && row["qid"].as_u64() == Some(qid),
        || format!("expected {kind} on {host} to be {status} with QID {qid}, got: {row}"),
    )
}

/// `sealscan --json ARGS` inside the container, parsed.
pub fn json(ct: &Container, args: &[&str]) -> Result<Value, String> {
    let mut all = vec!["sealscan", "--json"];
    all.extend_from_slice(args);
    let out = ct.must(&all, None)?;
    serde_json::from_str(&out).map_err(|e| format!("`{}` printed no JSON: {e}", all.join(" ")))
}

pub fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

pub fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
