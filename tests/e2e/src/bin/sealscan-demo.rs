//! `scripts/demo`: an appliance API on HTTPS, the real agent binary, and real sshd and smbd
//! targets on loopback. Enrolls and approves the agent, seals credentials to its key, runs a
//! scan, prints the results table with QIDs, and cleans everything up.
//!
//! The control plane's appliance endpoints are still being built, so this demo serves the
//! appliance contract (`sealscan_protocols::appliance`) from `sealscan_e2e::contract`; the
//! agent, the envelopes, the logins and the targets are the real ones.

use sealscan_e2e::agent::{AgentHome, wait_until};
use sealscan_e2e::contract::{self, appliance_key, results_by_target};
use sealscan_e2e::*;
use sealscan_protocols::appliance::{RecordLogin, SecretFieldName, WindowsDomainType};
use sealscan_protocols::results::{LoginKind, Status};
use sealscan_test_peers::smbd::{Smbd, SmbdOptions};
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::{closed_loopback_port, ensure_user};
use std::process::ExitCode;
use std::time::Duration;

const UNIX_USER: &str = "sealscan_demo";
const WIN_USER: &str = "sealscan_dwin";
const TOKEN: &str = "enr_demo";

fn main() -> ExitCode {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("sealscan-demo: run as root (it creates local demo users and starts sshd/smbd)");
        return ExitCode::FAILURE;
    }
    let password = format!("Demo-{}-pw", random_hex(6));
    step("starting targets: OpenSSH sshd and Samba smbd on loopback");
    ensure_user(UNIX_USER, &password);
    let sshd = Sshd::start(&SshdOptions::default());
    let smbd = Smbd::start(SmbdOptions::default());
    smbd.add_user(WIN_USER, &password);
    let (_closed, closed_port) = closed_loopback_port();
    println!(
        "    sshd 127.0.0.1:{}, smbd 127.0.0.1:{}",
        sshd.port(),
        smbd.port()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    step("starting the appliance API (HTTPS, throwaway CA) and a one-time enrollment token");
    let cp = rt.block_on(contract::start(TOKEN));
    println!("    {}", cp.url());

    step("sealscan-agent enroll");
    let home = AgentHome::new(&cp.url(), &cp.ca_pem, 4);
    let out = home.enroll(&cp.url(), TOKEN, &[]);
    print_indented(&String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        return ExitCode::FAILURE;
    }
    step("a Manager compares the fingerprint and approves the appliance");
    cp.shared.approve_all();
    step("sealscan-agent run");
    let agent = home.run();

    step("records sealed on the operator's side to the appliance key (NCSM envelopes)");
    let key = appliance_key(&cp);
    let seal = |record: &mut sealscan_protocols::appliance::JobRecord, secret: &str| {
        let envelope = seal_to(
            &key,
            &record_fields(record, SecretFieldName::Password),
            secret.as_bytes(),
        );
        record.login = RecordLogin::Basic {
            secrets: vec![sealed(SecretFieldName::Password, &envelope)],
        };
    };
    let mut unix_ok = unix_record("unix-right", UNIX_USER, vec![]);
    seal(&mut unix_ok, &password);
    let mut unix_bad = unix_record("unix-wrong", UNIX_USER, vec![]);
    seal(&mut unix_bad, "not-the-password");
    let mut unix_tampered = unix_record("unix-tampered", UNIX_USER, vec![]);
    seal(&mut unix_tampered, &password);
    if let RecordLogin::Basic { secrets } = &mut unix_tampered.login
        && let Some(sealscan_protocols::appliance::SecretField {
            value: sealscan_protocols::appliance::SecretValue::Sealed { envelope },
            ..
        }) = secrets.first_mut()
    {
        *envelope = tamper(envelope);
    }
    let local = windows_options(WindowsDomainType::None, false);
    let empty = || RecordLogin::Basic { secrets: vec![] };
    let mut win_ok = windows_record("win-right", WIN_USER, None, local.clone(), empty());
    seal(&mut win_ok, &password);
    let mut win_bad = windows_record("win-wrong", WIN_USER, None, local, empty());
    seal(&mut win_bad, "Wrong-pw-1");
    // A standalone Samba reports its machine name (TARGET1) as its NetBIOS domain.
    let mut win_domain = windows_record(
        "win-netbios-target1",
        WIN_USER,
        Some("TARGET1"),
        windows_options(WindowsDomainType::Netbios, true),
        empty(),
    );
    seal(&mut win_domain, &password);
    for r in [
        &unix_ok,
        &unix_bad,
        &unix_tampered,
        &win_ok,
        &win_bad,
        &win_domain,
    ] {
        println!("    {:<22} user {}", r.record_id, r.user);
    }

    step("scan: one job, seven targets");
    let (ssh, smb) = (sshd.port(), smbd.port());
    let mut scan = job(
        vec![
            target("ssh-right", LoginKind::Unix, ssh, Some("unix-right")),
            target("ssh-wrong", LoginKind::Unix, ssh, Some("unix-wrong")),
            target("ssh-tampered", LoginKind::Unix, ssh, Some("unix-tampered")),
            target(
                "ssh-closed",
                LoginKind::Unix,
                closed_port,
                Some("unix-right"),
            ),
            target("smb-right", LoginKind::Windows, smb, Some("win-right")),
            target("smb-wrong", LoginKind::Windows, smb, Some("win-wrong")),
            target("smb-by-domain", LoginKind::Windows, smb, None),
        ],
        vec![
            unix_ok,
            unix_bad,
            unix_tampered,
            win_ok,
            win_bad,
            win_domain,
        ],
        vec![],
    );
    scan.job_id = "demo-job".into();
    let targets = scan.targets.clone();
    cp.shared.push_job(scan);
    wait_until("the scan's results", Duration::from_secs(180), || {
        results_by_target(&cp.shared).len() == targets.len()
    });
    let results = results_by_target(&cp.shared);

    step("results");
    println!(
        "{:<14} {:<8} {:<13} {:<6} {:<20} {:<21} CAUSE / METHOD",
        "TARGET", "KIND", "STATUS", "QID", "RECORD", "LOGIN"
    );
    let mut passed = 0;
    for t in &targets {
        let Some(r) = results.get(&t.target_id) else {
            continue;
        };
        let o = &r.outcome;
        let status = match o.status {
            Status::Passed => {
                passed += 1;
                "passed"
            }
            Status::Failed => "failed",
            Status::NotAttempted => "not attempted",
            Status::TimedOut => "timed out",
        };
        let kind = match o.kind {
            LoginKind::Unix => "unix",
            LoginKind::Windows => "windows",
        };
        let what = match &o.cause {
            Some(c) => c.to_string(),
            None => o.method.clone(),
        };
        println!(
            "{:<14} {:<8} {:<13} {:<6} {:<20} {:<21} {}",
            t.target_id,
            kind,
            status,
            o.qid,
            r.record_id.as_deref().unwrap_or("-"),
            if o.login_id.is_empty() {
                "-"
            } else {
                &o.login_id
            },
            what
        );
        for key in [
            "os_pretty_name",
            "uname",
            "server_netbios_domain",
            "smb_dialect",
        ] {
            if let Some(v) = o.facts.get(key) {
                println!("{:<14} {key}: {v}", "");
            }
        }
    }

    step("stopping the agent (SIGTERM) and cleaning up");
    let status = agent.terminate();
    println!("    agent exited with {status}");
    drop(cp);
    drop(home);
    println!(
        "\n{passed} of {} logins passed; every other row names its step and the peer's words.",
        targets.len()
    );
    ExitCode::SUCCESS
}

fn step(text: &str) {
    println!("\n==> {text}");
}

fn print_indented(text: &str) {
    for line in text.lines() {
        println!("    {line}");
    }
}

fn random_hex(n: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("/dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
