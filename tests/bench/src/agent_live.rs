//! P5 and P7: the real `sealscan-agent run` binary against the real control plane
//! (in-process, its own runtime, real SQLite and HTTPS): enrolled with a one-time token,
//! approved by a Manager through the API, holding its credential and long-polling for jobs.

use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sealscan_e2e::agent::{AgentHome, RunningAgent};
use serde_json::{Value, json};

use crate::control_plane::ControlPlane;
use crate::report::{Row, median};

/// A stuck run gives up after this; it bounds a hang, it is not a measurement.
const BOUND: Duration = Duration::from_secs(60);

/// Dropped in field order: the agent first, then its home, the control plane, the runtime.
struct Setup {
    agent: RunningAgent,
    _home: AgentHome,
    cp: ControlPlane,
    runtime: tokio::runtime::Runtime,
}

fn start_agent() -> Result<Setup, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let mut cp = ControlPlane::start()?;
    runtime.block_on(cp.login())?;
    let token = runtime.block_on(cp.enrollment_token())?;
    let ca = String::from_utf8_lossy(&cp.ca_pem).into_owned();
    let home = AgentHome::new(&cp.base, &ca, 4);
    let out = home.enroll(&cp.base, &token, &[]);
    if !out.status.success() {
        return Err(format!(
            "sealscan-agent enroll failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    for a in appliances(&runtime, &cp)? {
        if a.get("state").and_then(Value::as_str) != Some("approved") {
            let id = a.get("id").and_then(Value::as_str).unwrap_or_default();
            runtime.block_on(cp.approve(id))?;
        }
    }
    let agent = home.run();
    // Long-polling once it has collected its credential; then a moment for its first claim.
    let deadline = Instant::now() + BOUND;
    loop {
        let collected = appliances(&runtime, &cp)?
            .iter()
            .all(|a| a.get("credential_collected").and_then(Value::as_bool) == Some(true));
        if collected {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the agent never collected its credential; its stderr:\n{}",
                home.stderr()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));
    Ok(Setup {
        agent,
        _home: home,
        cp,
        runtime,
    })
}

fn appliances(runtime: &tokio::runtime::Runtime, cp: &ControlPlane) -> Result<Vec<Value>, String> {
    let list = runtime.block_on(cp.manager_call("GET", "/api/v1/appliances", None))?;
    list.as_array()
        .cloned()
        .ok_or_else(|| "the appliance list is not an array".into())
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
    // utime and stime are fields 14 and 15 of the line: the 12th and 13th after the
    // parenthesised command name.
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

#[allow(unsafe_code)]
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
    let peak_kib = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    drop(setup);

    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu_secs = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / hz;
    let cpu_pct = 100.0 * cpu_secs / elapsed;
    let wakeups = after.voluntary.saturating_sub(before.voluntary);
    let preempted = after.involuntary.saturating_sub(before.involuntary);
    let per_minute = wakeups as f64 * 60.0 / elapsed;
    let rss_mib = after.rss_kib as f64 / 1024.0;
    let peak_mib = peak_kib as f64 / 1024.0;
    // Long-polls of 30 s: two a minute, each a handful of thread wake-ups (the request, TLS
    // records, the response). Any periodic timer of 1 Hz or faster would add 60+ a minute, so
    // fewer than 60 a minute means nothing wakes the agent but its long-poll.
    let polls = elapsed / 30.0;
    let rss = Row::new(
        "P5 idle RSS",
        format!("{rss_mib:.1} MiB (peak {peak_mib:.1}), {threads} threads"),
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
    Ok(vec![rss, cpu])
}

/// P7: from sending the scan to the control plane to the agent's TCP connection reaching
/// the target (a listener on a loopback port 22 that records each arrival and hangs up, so
/// the attempt ends at once). The baseline is the OpenSSH client's own start-to-connect time
/// against the same listener.
pub fn p7(jobs: usize) -> Result<Vec<Row>, String> {
    let (target, arrivals) = target_listener()?;
    let setup = start_agent()?;
    let host = target.ip().to_string();
    let password = base64::engine::general_purpose::STANDARD.encode("Bench-target-pw-3!");
    setup.runtime.block_on(setup.cp.manager_call(
        "POST",
        "/api/v1/records",
        Some(json!({
            "kind": "unix", "title": "bench target", "user": "sealbench", "ips": [host],
            "secrets": [{"field": "password", "value": {"model": "legacy", "value": password}}]
        })),
    ))?;

    let mut ours = Vec::new();
    for n in 1..=jobs {
        while arrivals.try_recv().is_ok() {}
        let created = Instant::now();
        let scan = setup.runtime.block_on(setup.cp.manager_call(
            "POST",
            "/api/v1/scans",
            Some(json!({"title": format!("bench p7 {n}"), "targets": [host], "kinds": "unix"})),
        ))?;
        let at = arrivals
            .recv_timeout(BOUND)
            .map_err(|_| format!("scan {n}: the agent never reached the target"))?;
        ours.push(at.duration_since(created).as_secs_f64() * 1000.0);
        let id = scan
            .get("id")
            .and_then(Value::as_str)
            .ok_or("the scan has no id")?
            .to_string();
        // The job finishes (its result posted) before the next scan is created, so every
        // measurement starts with the agent back in its long-poll.
        let deadline = Instant::now() + BOUND;
        loop {
            let view = setup.runtime.block_on(setup.cp.manager_call(
                "GET",
                &format!("/api/v1/scans/{id}"),
                None,
            ))?;
            if view.get("state").and_then(Value::as_str) == Some("done") {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("scan {n} never finished: {view}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(setup);

    let mut base = Vec::new();
    for _ in 0..jobs {
        while arrivals.try_recv().is_ok() {}
        let started = Instant::now();
        let mut child = Command::new("ssh")
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=QUIET",
            ])
            .arg(format!("sealbench@{host}"))
            .arg("true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run ssh: {e}"))?;
        let at = arrivals
            .recv_timeout(BOUND)
            .map_err(|_| "ssh never reached the target".to_string())?;
        base.push(at.duration_since(started).as_secs_f64() * 1000.0);
        let _ = child.wait();
    }
    let worst = ours.iter().copied().fold(0.0, f64::max);
    let (ours, base) = (median(ours), median(base));
    let row = Row::new(
        "P7 job→login",
        format!("{ours:.1} ms median, {worst:.1} ms max of {jobs}"),
        format!("{base:.1} ms ssh start→connect"),
        "≤ 100 ms",
        Row::verdict_for(worst <= 100.0),
    );
    row.print();
    Ok(vec![row])
}

/// A listener on port 22 of a loopback address nothing else uses (the control plane sends
/// no port, so the agent dials 22), reporting the moment of every connection.
fn target_listener() -> Result<(SocketAddr, mpsc::Receiver<Instant>), String> {
    let mut last = String::new();
    for last_octet in 90..110u8 {
        let address = SocketAddr::from(([127, 0, 0, last_octet], 22));
        match TcpListener::bind(address) {
            Ok(listener) => {
                let (tx, rx) = mpsc::channel();
                std::thread::spawn(move || {
                    for stream in listener.incoming() {
                        let at = Instant::now();
                        drop(stream);
                        if tx.send(at).is_err() {
                            break;
                        }
                    }
                });
                return Ok((address, rx));
            }
            Err(e) => last = format!("{address}: {e}"),
        }
    }
    Err(format!(
        "no free loopback port 22 for the P7 target ({last})"
    ))
}
