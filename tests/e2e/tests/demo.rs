//! `scripts/demo`'s driver, `sealscan-demo`, run as the script runs it, so the README's demo
//! cannot rot unnoticed: the real `sealscan-control`, `sealscan` and `sealscan-agent` binaries
//! of this build against real sshd and smbd. The driver checks its own story (it exits 1 when
//! a row is off); this test checks the exit status, the rows it printed, and that it left
//! nothing behind: no process it started, no listening port, no temporary directory.
//!
//! The three binaries belong to other packages, so `cargo test -p sealscan-e2e` alone does not
//! build them; `cargo test --workspace` does, into the same directory as `sealscan-demo`.
#![allow(unsafe_code)]

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A cap on a hung demo, never a measurement: a run takes about ten seconds.
const BOUND: Duration = Duration::from_secs(300);
/// How long processes killed at the demo's exit may take to disappear (smbd's children get
/// SIGTERM through their process group and are not waited for).
const GRACE: Duration = Duration::from_secs(10);

#[test]
fn the_readme_demo_runs_and_tells_its_story() {
    assert!(
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() } == 0,
        "the demo test must run as root: sealscan-demo creates two local users and starts sshd and smbd (CI runs the tests as root)"
    );
    let demo = PathBuf::from(env!("CARGO_BIN_EXE_sealscan-demo"));
    let bins = demo
        .parent()
        .expect("sealscan-demo has a directory")
        .to_path_buf();
    let missing: Vec<&str> = ["sealscan-control", "sealscan", "sealscan-agent"]
        .into_iter()
        .filter(|b| !bins.join(b).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "{} missing in {}: `cargo test --workspace` builds them, or run `cargo build -p sealscan-control -p sealscan-cli -p sealscan-agent` first",
        missing.join(", "),
        bins.display()
    );

    // The demo's processes are stopped at its exit; any that outlive it (an smbd child, an
    // agent it failed to stop) are reparented to this process instead of init, where the
    // check below finds them.
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER only sets a flag on this process.
    let subreaper = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(
        subreaper,
        0,
        "prctl(PR_SET_CHILD_SUBREAPER): {}",
        std::io::Error::last_os_error()
    );

    let started = Instant::now();
    let mut child = Command::new(&demo)
        .env("SEALSCAN_BIN_DIR", &bins)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", demo.display()));
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let status = wait_bounded(&mut child);
    let stdout = stdout.join().expect("stdout reader");
    let stderr = stderr.join().expect("stderr reader");
    // Shown by the harness when an assertion fails.
    println!(
        "sealscan-demo ran {:.1} s, {status}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        started.elapsed().as_secs_f64()
    );
    let leftovers = orphans_after_grace();
    assert!(
        status.success(),
        "sealscan-demo failed ({status}); its output is above"
    );

    let rows = result_rows(&stdout);
    let position = |status: &str, kind: &str, qid: &str| {
        rows.iter()
            .position(|r| r == &["127.0.0.1", kind, status, qid])
            .unwrap_or_else(|| {
                panic!("no {status} {kind} row with QID {qid} for 127.0.0.1 in {rows:?}")
            })
    };
    let passed = [
        position("passed", "unix", "38307"),
        position("passed", "windows", "70053"),
    ];
    let failed = [
        position("failed", "unix", "105053"),
        position("failed", "windows", "105015"),
    ];
    assert!(
        passed.iter().max() < failed.iter().min(),
        "the passing scan must come before the rotation's failing one: {rows:?}"
    );

    assert!(
        leftovers.is_empty(),
        "processes the demo started outlived it: {leftovers:?}"
    );
    let work = demo_dir(&stdout);
    assert!(
        !work.exists(),
        "the demo left its temporary directory {}",
        work.display()
    );
    for port in listen_ports(&stdout) {
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + GRACE;
        while TcpStream::connect(&addr).is_ok() {
            assert!(
                Instant::now() < deadline,
                "something still listens on {addr}, a port the demo used"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn drain(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = from.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Waits for the demo; past `BOUND` it gets SIGTERM (it then stops what it started), and the
/// test fails.
fn wait_bounded(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + BOUND;
    loop {
        if let Some(status) = child.try_wait().expect("waiting for sealscan-demo") {
            return status;
        }
        if Instant::now() > deadline {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: signals the child this test started and has not reaped.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            let stop = Instant::now() + Duration::from_secs(30);
            while Instant::now() < stop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "sealscan-demo did not finish within {} s; stopped it",
                BOUND.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Descendants of the demo still alive after `GRACE` (pid and name); reaps those that exit
/// meanwhile and kills the rest, so a failing run leaves nothing either.
fn orphans_after_grace() -> Vec<(i32, String)> {
    let deadline = Instant::now() + GRACE;
    loop {
        // SAFETY: reaps exited children of this process; the demo itself is already reaped.
        while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
        let alive = live_children();
        if alive.is_empty() || Instant::now() > deadline {
            for (pid, _) in &alive {
                // SAFETY: these are orphans of the demo, reparented to this process.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
            return alive;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// This process's children that are not zombies, from /proc/PID/stat.
fn live_children() -> Vec<(i32, String)> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        let Some((head, tail)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = tail.split_whitespace().collect();
        if fields.get(1) == Some(&me.as_str()) && fields.first() != Some(&"Z") {
            let comm = head.split_once('(').map_or("", |(_, c)| c).to_string();
            out.push((pid, comm));
        }
    }
    out
}

/// The results tables' rows as [target, kind, status, QID].
fn result_rows(stdout: &str) -> Vec<[String; 4]> {
    stdout
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split_whitespace().take(4).collect();
            let [host, kind, status, qid] = cells[..] else {
                return None;
            };
            let is_row = host.starts_with("127.0.0.")
                && ["unix", "windows"].contains(&kind)
                && qid.parse::<u32>().is_ok();
            is_row.then(|| [host, kind, status, qid].map(str::to_string))
        })
        .collect()
}

/// `$DEMO`, from the demo's first line.
fn demo_dir(stdout: &str) -> PathBuf {
    let dir = stdout
        .lines()
        .find_map(|l| l.split_once("DEMO=").map(|(_, d)| d.trim()))
        .unwrap_or_else(|| panic!("the demo did not print DEMO=: {stdout}"));
    assert!(
        Path::new(dir).is_absolute(),
        "DEMO={dir} is not an absolute path"
    );
    PathBuf::from(dir)
}

/// The loopback ports sshd, smbd and the control plane listened on, as the demo printed them.
fn listen_ports(stdout: &str) -> Vec<u16> {
    let mut ports = Vec::new();
    for line in stdout.lines() {
        let t = line.trim_start();
        let addr = if t.starts_with("sshd ") || t.starts_with("smbd ") {
            t.split_whitespace().nth(1)
        } else {
            t.split_once("--listen ")
                .and_then(|(_, rest)| rest.split_whitespace().next())
        };
        if let Some(port) = addr
            .and_then(|a| a.strip_prefix("127.0.0.1:"))
            .and_then(|p| p.parse().ok())
        {
            ports.push(port);
        }
    }
    assert_eq!(
        ports.len(),
        3,
        "expected the sshd, smbd and control plane ports in the demo's output, found {ports:?}"
    );
    ports
}
