//! `scripts/test-system`: the packages installed and run under a real systemd.
//!
//! scripts/test-system builds the packages (`/root/packages/1` and, a newer build of the same
//! version, `/root/packages/2` inside the container) and boots the container; this program
//! drives it through `systemd-container exec` as an operator would, with the real sshd and
//! smbd targets on the host's loopback (the container shares the host's network):
//! install, control plane and CLI, enrollment, `systemctl start` on READY, a scan and its
//! journal fields, the hardening in effect, the memory-lock limit, the watchdog with a
//! non-empty spool, a clean stop, upgrade, remove, purge, then the .rpm. Each check names
//! what was wrong; the first failure ends the run with the units' journals.
//!
//! Past `--deadline` seconds, or on SIGINT, SIGTERM or SIGHUP, it stops sshd and smbd and kills
//! its own process group (it runs under setsid): nothing it started outlives it.

mod container;
mod flow;
mod install;
mod rpm;
mod service;

use container::Container;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let mut tool = None;
    let mut dir = None;
    let mut deadline = 900u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--tool", Some(v)) => tool = Some(PathBuf::from(v)),
            ("--dir", Some(v)) => dir = Some(PathBuf::from(v)),
            ("--deadline", Some(v)) => match v.parse() {
                Ok(n) => deadline = n,
                Err(_) => return usage("--deadline needs a number of seconds"),
            },
            _ => return usage(&format!("unexpected argument {a}")),
        }
    }
    let (Some(tool), Some(dir)) = (tool, dir) else {
        return usage("--tool and --dir are required");
    };
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(deadline));
        abandon(&format!("gave up after {deadline} s"), 124);
    });
    if let Err(e) = handle_signals() {
        eprintln!("sealscan-system-test: {e}");
        return ExitCode::FAILURE;
    }
    let ct = Container { tool, dir };
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(|| flow::run(&ct));
    flow::stop_peers();
    match outcome {
        Ok(Ok(())) => {
            println!(
                "\nsealscan-system-test: every check passed in {:.0} s",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Ok(Err(message)) => {
            eprintln!("\nsealscan-system-test: FAILED: {message}");
            for unit in ["sealscan-agent", "sealscan-control"] {
                if let Ok(tail) = ct.quiet(&format!("journalctl -u {unit} -n 25 --no-pager")) {
                    eprintln!("--- journalctl -u {unit} (last lines):\n{tail}");
                }
            }
            ExitCode::FAILURE
        }
        Err(_) => ExitCode::FAILURE,
    }
}

/// Stops the peers, then every other process of this program's group (the commands running
/// in the container through nsenter), itself included.
#[allow(unsafe_code)]
fn abandon(why: &str, code: i32) {
    eprintln!("sealscan-system-test: {why}; stopping every process it started");
    flow::stop_peers();
    // SAFETY: signals this process's own group (setsid made it the leader); SIGKILL cannot be
    // caught, so nothing runs after it.
    unsafe { libc::kill(0, libc::SIGKILL) };
    std::process::exit(code);
}

/// SIGINT, SIGTERM and SIGHUP reach a thread that stops sshd and smbd before the program ends
/// (signal-hook's handler and self-pipe, not a blocked mask, which the peers would inherit;
/// caught signals go back to their defaults on exec).
fn handle_signals() -> Result<(), String> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| format!("cannot watch for signals: {e}"))?;
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            abandon(&format!("signal {sig}"), 128 + sig);
        }
    });
    Ok(())
}

fn usage(why: &str) -> ExitCode {
    eprintln!(
        "sealscan-system-test: {why}\nusage: sealscan-system-test --tool PATH --dir DIR [--deadline SECS] (scripts/test-system runs it)"
    );
    ExitCode::from(2)
}

/// Polls `done` every 250 ms until it holds or `bound` runs out; says what never happened.
pub fn wait_for(
    what: &str,
    bound: Duration,
    mut done: impl FnMut() -> Result<bool, String>,
) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        if done()? {
            return Ok(start.elapsed());
        }
        if start.elapsed() > bound {
            return Err(format!(
                "gave up waiting for {what} after {} s",
                bound.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Fails with `message` unless `cond` holds.
pub fn check(cond: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(message()) }
}

pub fn step(text: &str) {
    println!("\n==> {text}");
}
