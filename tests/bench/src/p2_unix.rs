//! P2: Unix logins per second against a loopback sshd, the agent's login (handshake,
//! password, `uname -a` and `/etc/os-release`) beside the OpenSSH client doing the same work
//! through sshpass, at the same concurrency and the same number of logins; then the same with
//! root delegation (sudo) against a container target.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use sealscan_agent::known_hosts::KnownHosts;
use sealscan_agent::login::Target;
use sealscan_agent::login::unix::{
    Elevation, HostKeyTrust, SudoPassword, UnixCredential, UnixSecret, login,
};
use sealscan_protocols::results::Status;
use sealscan_protocols::secret::SecretBytes;
use sealscan_test_peers::root_target::{self, Account, RootTarget};
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::{ensure_packages, ensure_user};

use crate::report::{Row, Verdict, median, rate};

const USER: &str = "sealbench";
// The password of a local account this benchmark creates for itself on a test machine.
const PASSWORD: &str = "Bench-login-pw-9!";
const PROOF: &str = "uname -a; cat /etc/os-release";
// root's password in the benchmark's own container target.
const ROOT_PASSWORD: &str = "Bench-root-pw-4!";
const SSH_OPTIONS: [&str; 12] = [
    "ssh",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "PubkeyAuthentication=no",
    "-o",
    "PreferredAuthentications=password",
    "-oNumberOfPasswordPrompts=1",
];

/// Pinned, as records are by default: the first login learns the key, the rest check it.
static TRUST: LazyLock<HostKeyTrust> =
    LazyLock::new(|| HostKeyTrust::Pin(Arc::new(KnownHosts::in_memory())));

/// (concurrency, logins) per level.
pub const LEVELS: [(usize, usize); 3] = [(1, 64), (8, 256), (32, 256)];

pub fn run(levels: &[(usize, usize)]) -> Result<Vec<Row>, String> {
    ensure_packages(&["openssh-server", "openssh-client", "sshpass"]);
    ensure_user(USER, PASSWORD);
    // MaxStartups 1000:30:1000 in the harness config: sshd does not throttle unauthenticated
    // connections at these levels, so it is not the limit being measured.
    let sshd = Sshd::start(&SshdOptions::default());
    let port = sshd.port();
    // One login each way first, so a broken setup fails here with its reason.
    agent_login(port)?;
    openssh_login(port)?;

    let mut rows = Vec::new();
    for &(concurrency, logins) in levels {
        rows.push(level(
            ("P2", "logins/s", "sshpass+ssh"),
            concurrency,
            logins,
            || agent_login(port),
            || openssh_login(port),
        )?);
    }
    drop(sshd);
    rows.extend(run_with_sudo(levels)?);
    Ok(rows)
}

/// P2 with root delegation: the same logins followed by `sudo -S id -u` with the login
/// password, against the systemd container target (sudoers set there), beside `sshpass ssh
/// ... sudo -S id -u` doing the same work. c=32 is left out: the container's sshd and sudo,
/// not the clients, are the limit there.
fn run_with_sudo(levels: &[(usize, usize)]) -> Result<Vec<Row>, String> {
    RootTarget::start(
        ROOT_PASSWORD,
        &[Account {
            name: USER,
            password: PASSWORD,
            sudoers: Some("ALL=(ALL) ALL"),
            requiretty: false,
        }],
    );
    let (host, port) = (root_target::ADDRESS, root_target::PORT);
    sudo_login(host, port)?;
    openssh_sudo(host, port)?;
    let mut rows = Vec::new();
    for &(concurrency, logins) in levels.iter().filter(|(c, _)| *c <= 8) {
        rows.push(level(
            ("P2 sudo", "logins+sudo/s", "sshpass+ssh+sudo -S"),
            concurrency,
            logins.min(128).max(concurrency),
            || sudo_login(host, port),
            || openssh_sudo(host, port),
        )?);
    }
    Ok(rows)
}

fn sudo_login(host: &str, port: u16) -> Result<(), String> {
    let target = Target {
        host: host.into(),
        port,
        timeout: Duration::from_secs(60),
    };
    let credential = UnixCredential {
        user: USER.into(),
        secret: UnixSecret::Password(SecretBytes::copy_from(PASSWORD.as_bytes())),
        elevation: Some(Elevation::Sudo(SudoPassword::Login)),
    };
    let outcome = login(&target, &credential, &TRUST);
    if outcome.status == Status::Passed {
        Ok(())
    } else {
        Err(format!(
            "agent login with sudo did not pass: {:?} {:?}",
            outcome.status, outcome.cause
        ))
    }
}

/// The baseline: sshpass gives ssh the login password, and sudo reads the same password from
/// the session's standard input (`-S`), as a shell script would do it.
fn openssh_sudo(host: &str, port: u16) -> Result<(), String> {
    let mut child = Command::new("sshpass")
        .arg("-e")
        .env("SSHPASS", PASSWORD)
        .args(SSH_OPTIONS)
        .arg("-p")
        .arg(port.to_string())
        .arg(format!("{USER}@{host}"))
        .arg(format!("{PROOF}; sudo -S -p '' id -u"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run sshpass/ssh: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(format!("{PASSWORD}\n").as_bytes())
            .map_err(|e| format!("cannot write to ssh: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for ssh: {e}"))?;
    let uid = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .map(str::trim)
        .map(str::to_string);
    if out.status.success() && uid.as_deref() == Some("0") {
        Ok(())
    } else {
        Err(format!(
            "sshpass+ssh+sudo failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// One level: `logins` each way in two alternating rounds (so drift on the machine touches
/// both sides alike), the medians side by side. `names` is (figure, unit, baseline).
fn level(
    names: (&str, &str, &str),
    concurrency: usize,
    logins: usize,
    ours: impl Fn() -> Result<(), String> + Sync,
    baseline: impl Fn() -> Result<(), String> + Sync,
) -> Result<Row, String> {
    let (figure, unit, base_name) = names;
    let mut ours_rounds = Vec::new();
    let mut base_rounds = Vec::new();
    for _ in 0..2 {
        ours_rounds.push(pool(concurrency, logins, &ours)?);
        base_rounds.push(pool(concurrency, logins, &baseline)?);
    }
    let (ours, base) = (median(ours_rounds), median(base_rounds));
    let ratio = ours / base;
    let (target, verdict) = if concurrency >= 8 {
        ("≥ 1.5x OpenSSH", Row::verdict_for(ratio >= 1.5))
    } else {
        ("(none at c=1)", Verdict::Info)
    };
    let row = Row::new(
        format!("{figure} c={concurrency}"),
        format!("{ours:.1} {unit} ({ratio:.2}x), {logins} logins"),
        format!("{base:.1} {unit} ({base_name})"),
        target,
        verdict,
    );
    row.print();
    Ok(row)
}

/// `logins` attempts spread over `concurrency` threads; logins per second over the whole
/// batch. Every attempt must pass, or the figure would count failures as work.
pub(crate) fn pool(
    concurrency: usize,
    logins: usize,
    one: impl Fn() -> Result<(), String> + Sync,
) -> Result<f64, String> {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let outcomes: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                scope.spawn(|| {
                    while next.fetch_add(1, Ordering::Relaxed) < logins {
                        one()?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err("a login thread panicked".into()))
            })
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    outcomes.into_iter().collect::<Result<Vec<()>, String>>()?;
    Ok(rate(logins, elapsed))
}

fn agent_login(port: u16) -> Result<(), String> {
    let target = Target {
        host: "127.0.0.1".into(),
        port,
        timeout: Duration::from_secs(60),
    };
    let credential = UnixCredential {
        user: USER.into(),
        secret: UnixSecret::Password(SecretBytes::copy_from(PASSWORD.as_bytes())),
        elevation: None,
    };
    let outcome = login(&target, &credential, &TRUST);
    if outcome.status == Status::Passed {
        Ok(())
    } else {
        Err(format!(
            "agent login did not pass: {:?} {:?}",
            outcome.status, outcome.cause
        ))
    }
}

fn openssh_login(port: u16) -> Result<(), String> {
    let mut command = Command::new("sshpass");
    command
        .arg("-e")
        .env("SSHPASS", PASSWORD)
        .args(SSH_OPTIONS)
        .arg("-p")
        .arg(port.to_string())
        .arg(format!("{USER}@127.0.0.1"))
        .arg(PROOF);
    run_quiet(&mut command, "sshpass+ssh")
}

/// Runs a baseline client with no input and its output discarded; its error output names a
/// failure.
pub(crate) fn run_quiet(command: &mut Command, what: &str) -> Result<(), String> {
    let out = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} login failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
