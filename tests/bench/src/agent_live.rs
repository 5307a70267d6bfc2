//! P5 and P7: the real `sealscan-agent run` binary, enrolled, approved and long-polling.
//!
//! The control plane's appliance endpoints (enrollment, approval, claims) are not in this
//! tree yet, so the agent talks to `sealscan_e2e::contract`, which serves the same appliance
//! contract (`sealscan_protocols::appliance`) over real HTTPS from memory. Every row says so;
//! once the control plane serves claims, these figures must be re-measured against it.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use sealscan_e2e::agent::{AgentHome, RunningAgent};
use sealscan_e2e::contract::{self, ContractServer, appliance_key, results_by_target};
use sealscan_e2e::{job, record_fields, seal_to, sealed, target, unix_record};
use sealscan_protocols::appliance::{RecordLogin, SecretFieldName};
use sealscan_protocols::results::LoginKind;
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::{ensure_packages, ensure_user};
use std::process::{Command, Stdio};
use std::sync::Arc;

use crate::report::{Row, median};

const TOKEN: &str = "enr_bench";
const USER: &str = "sealbench";
// The password of a local account this benchmark creates for itself on a test machine.
const PASSWORD: &str = "Bench-login-pw-9!";
const WHERE: &str = "agent vs e2e contract server";
/// A stuck run gives up after this; it bounds a hang, it is not a measurement.
const BOUND: Duration = Duration::from_secs(60);

/// Dropped in field order: the agent first, then its home, the server and its runtime.
struct Setup {
    agent: RunningAgent,
    _home: AgentHome,
    server: ContractServer,
    _runtime: tokio::runtime::Runtime,
}

fn start_agent() -> Result<Setup, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let server = runtime.block_on(contract::start(TOKEN));
    let home = AgentHome::new(&server.url(), &server.ca_pem, 4);
    let out = home.enroll(&server.url(), TOKEN, &[]);
    if !out.status.success() {
        return Err(format!(
            "sealscan-agent enroll failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    server.shared.approve_all();
    let agent = home.run();
    // The agent is long-polling once the server has handed it its credential and the
    // process is still there; give its start-up (key arena, TLS setup) a moment to finish.
    let deadline = Instant::now() + BOUND;
    while !server
        .shared
        .with(|s| s.appliances.values().all(|a| a.collected))
    {
        if Instant::now() > deadline {
            return Err("the agent never collected its appliance credential".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(2));
    Ok(Setup {
        agent,
        _home: home,
        server,
        _runtime: runtime,
    })
}

/// Process-wide counters from /proc: resident set, CPU ticks and context switches summed
/// over every thread.
#[derive(Clone, Copy, Debug)]
struct Sample {
    rss_kib: u64,
    cpu_ticks: u64,
    voluntary: u64,
    involuntary: u64,
}

fn sample(pid: u32) -> Result<Sample, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("read /proc/{pid}/status: {e}"))?;
    let field = |text: &str, name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let rss_kib = field(&status, "VmRSS:");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("read /proc/{pid}/stat: {e}"))?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th
    // fields of the line, i.e. the 12th and 13th after ") ".
    let rest = stat
        .rsplit_once(") ")
        .map(|(_, r)| r)
        .ok_or("unreadable /proc/PID/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> u64 { fields.get(i).and_then(|v| v.parse().ok()).unwrap_or(0) };
    let cpu_ticks = tick(11) + tick(12);
    let (mut voluntary, mut involuntary) = (0, 0);
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map_err(|e| format!("read /proc/{pid}/task: {e}"))?;
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("status")) {
            voluntary += field(&text, "voluntary_ctxt_switches:");
            involuntary += field(&text, "nonvoluntary_ctxt_switches:");
        }
    }
    Ok(Sample {
        rss_kib,
        cpu_ticks,
        voluntary,
        involuntary,
    })
}

pub fn p5(seconds: u64) -> Result<Vec<Row>, String> {
    let setup = start_agent()?;
    let pid = setup.agent.pid();
    let before = sample(pid)?;
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds.max(1)));
    let after = sample(pid)?;
    let elapsed = started.elapsed().as_secs_f64();
    let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0);
    let claims = setup.server.shared.with(|s| s.claimed.len());
    drop(setup);

    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu_secs = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / hz;
    let cpu_pct = 100.0 * cpu_secs / elapsed;
    let wakeups = after.voluntary.saturating_sub(before.voluntary);
    let preempted = after.involuntary.saturating_sub(before.involuntary);
    let per_minute = wakeups as f64 * 60.0 / elapsed;
    let rss_mib = after.rss_kib as f64 / 1024.0;
    // Long-polls of 30 s: two a minute, each a handful of thread wake-ups (the request, TLS
    // records, the response). Any periodic timer of 1 Hz or faster would add 60+ a minute, so
    // fewer than 60 a minute means nothing wakes the agent but its long-poll.
    let polls = elapsed / 30.0;
    let rss = Row::new(
        "P5 idle RSS",
        format!("{rss_mib:.1} MiB, {threads} threads ({WHERE})"),
        "-",
        "≤ 16 MiB",
        Row::verdict_for(rss_mib <= 16.0),
    );
    let cpu = Row::new(
        "P5 idle wake-ups",
        format!(
            "{wakeups} in {elapsed:.0} s ({per_minute:.0}/min), {cpu_pct:.3}% CPU, \
             {preempted} preempted"
        ),
        format!("≈{polls:.1} long-polls of 30 s in the window"),
        "< 60/min: long-poll only",
        Row::verdict_for(per_minute < 60.0),
    );
    rss.print();
    cpu.print();
    if claims > 0 {
        return Err(format!("the idle agent claimed {claims} job(s)"));
    }
    Ok(vec![rss, cpu])
}

pub fn p7(jobs: usize) -> Result<Vec<Row>, String> {
    ensure_packages(&["openssh-server", "openssh-client", "sshpass"]);
    ensure_user(USER, PASSWORD);
    let sshd = Arc::new(Sshd::start(&SshdOptions::default()));
    let setup = start_agent()?;
    let key = appliance_key(&setup.server);

    let mut ours = Vec::new();
    for n in 1..=jobs {
        let mut record = unix_record("bench-unix", USER, vec![]);
        let envelope = seal_to(
            &key,
            &record_fields(&record, SecretFieldName::Password),
            PASSWORD.as_bytes(),
        );
        record.login = RecordLogin::Basic {
            secrets: vec![sealed(SecretFieldName::Password, &envelope)],
        };
        let mut scan = job(
            vec![target(
                &format!("t{n}"),
                LoginKind::Unix,
                sshd.port(),
                Some("bench-unix"),
            )],
            vec![record],
            vec![],
        );
        scan.job_id = format!("bench-job-{n}");
        let arrived = connection_watch(&sshd);
        let created = Instant::now();
        setup.server.shared.push_job(scan);
        let at = arrived
            .recv_timeout(BOUND)
            .map_err(|_| format!("job {n}: no connection reached sshd"))?;
        ours.push(at.duration_since(created).as_secs_f64() * 1000.0);
        let deadline = Instant::now() + BOUND;
        while results_by_target(&setup.server.shared).len() < n {
            if Instant::now() > deadline {
                return Err(format!("job {n}: no result came back"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Back in its long-poll before the next job is created.
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(setup);

    // Baseline: how long the OpenSSH client takes from being started to reaching sshd.
    let mut base = Vec::new();
    for _ in 0..jobs {
        let arrived = connection_watch(&sshd);
        let started = Instant::now();
        let mut child = Command::new("sshpass")
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
                "-p",
            ])
            .arg(sshd.port().to_string())
            .arg(format!("{USER}@127.0.0.1"))
            .arg("true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run sshpass/ssh: {e}"))?;
        let at = arrived
            .recv_timeout(BOUND)
            .map_err(|_| "ssh never reached sshd".to_string())?;
        base.push(at.duration_since(started).as_secs_f64() * 1000.0);
        let _ = child.wait();
    }
    let worst = ours.iter().copied().fold(0.0, f64::max);
    let (ours, base) = (median(ours), median(base));
    let row = Row::new(
        "P7 job→login",
        format!("{ours:.1} ms median, {worst:.1} ms max of {jobs} ({WHERE})"),
        format!("{base:.1} ms ssh start→connect"),
        "≤ 100 ms",
        Row::verdict_for(worst <= 100.0),
    );
    row.print();
    Ok(vec![row])
}

/// The moment sshd logs its next connection, from a thread waiting on sshd's log.
fn connection_watch(sshd: &Arc<Sshd>) -> mpsc::Receiver<Instant> {
    let count = sshd.connections() + 1;
    let (tx, rx) = mpsc::channel();
    let sshd = Arc::clone(sshd);
    std::thread::spawn(move || {
        sshd.wait_for_lines(|l| l.contains("Connection from"), count);
        let _ = tx.send(Instant::now());
    });
    rx
}
