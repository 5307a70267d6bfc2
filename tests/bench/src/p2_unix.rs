//! P2: Unix logins per second against a loopback sshd, the agent's login (handshake,
//! password, `uname -a` and `/etc/os-release`) beside the OpenSSH client doing the same work
//! through sshpass, at the same concurrency and the same number of logins.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use sealscan_agent::known_hosts::KnownHosts;
use sealscan_agent::login::Target;
use sealscan_agent::login::unix::{HostKeyTrust, UnixCredential, UnixSecret, login};
use sealscan_agent::secret::SecretBytes;
use sealscan_protocols::results::Status;
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::{ensure_packages, ensure_user};

use crate::report::{Row, Verdict, median, rate};

const USER: &str = "sealbench";
// The password of a local account this benchmark creates for itself on a test machine.
const PASSWORD: &str = "Bench-login-pw-9!";
const PROOF: &str = "uname -a; cat /etc/os-release";

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
        // Alternating rounds so drift on the machine touches both sides alike.
        let mut ours = Vec::new();
        let mut base = Vec::new();
        for _ in 0..2 {
            ours.push(pool(concurrency, logins, || agent_login(port))?);
            base.push(pool(concurrency, logins, || openssh_login(port))?);
        }
        let (ours, base) = (median(ours), median(base));
        let ratio = ours / base;
        let (target, verdict) = if concurrency >= 8 {
            ("≥ 1.5x OpenSSH", Row::verdict_for(ratio >= 1.5))
        } else {
            ("(none at c=1)", Verdict::Info)
        };
        let row = Row::new(
            format!("P2 c={concurrency}"),
            format!("{ours:.1} logins/s ({ratio:.2}x), {logins} logins"),
            format!("{base:.1} logins/s (sshpass+ssh)"),
            target,
            verdict,
        );
        row.print();
        rows.push(row);
    }
    drop(sshd);
    Ok(rows)
}

/// `logins` attempts spread over `concurrency` threads; logins per second over the whole
/// batch. Every attempt must pass, or the figure would count failures as work.
fn pool(
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
    // Pinned, as records are by default: the first login learns the key, the rest check it.
    static TRUST: LazyLock<HostKeyTrust> =
        LazyLock::new(|| HostKeyTrust::Pin(Arc::new(KnownHosts::in_memory())));
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
    let status = Command::new("sshpass")
        .arg("-e")
        .env("SSHPASS", PASSWORD)
        .args([
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
            "-o",
            "NumberOfPasswordPrompts=1",
            "-p",
        ])
        .arg(port.to_string())
        .arg(format!("{USER}@127.0.0.1"))
        .arg(PROOF)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run sshpass/ssh: {e}"))?;
    if status.status.success() {
        Ok(())
    } else {
        Err(format!(
            "sshpass+ssh login failed ({}): {}",
            status.status,
            String::from_utf8_lossy(&status.stderr).trim()
        ))
    }
}
