//! The agent as systemd runs it: READY and STATUS, its journal fields, the hardening in effect
//! on the running process, the memory-lock limit, the watchdog, and a clean stop.

use crate::container::Container;
use crate::flow::{self, BOUND, SLOW_HOST, STALE_HOST, Session, UNIX_USER, indent, text};
use crate::{check, step, wait_for};
use sealscan_control::secrets::Password;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const AGENT: &str = "sealscan-agent";

/// `systemctl start` returns once the agent sent READY: the unit is active and already shows
/// the status line READY carried.
pub fn start_agent(s: &Session, fingerprint: &str) -> Result<(), String> {
    let ct = s.ct;
    step("systemctl enable --now sealscan-agent: returns after READY, with the status line");
    check(ct.prop(AGENT, "Type")? == "notify", || {
        "the agent's unit is not Type=notify".into()
    })?;
    ct.must(&["systemctl", "enable", "--now", AGENT], None)?;
    let (active, sub, status) = (
        ct.prop(AGENT, "ActiveState")?,
        ct.prop(AGENT, "SubState")?,
        ct.prop(AGENT, "StatusText")?,
    );
    check(active == "active" && sub == "running", || {
        format!("right after `systemctl start` the agent is {active}/{sub}, not active/running")
    })?;
    let wanted = format!("waiting for approval (fingerprint {fingerprint})");
    check(status == wanted, || {
        format!("right after `systemctl start` the status line is {status:?}, expected {wanted:?}")
    })?;
    let shown = ct.must(&["systemctl", "status", "--no-pager", AGENT], None)?;
    println!("{}", indent(&shown));
    check(shown.contains(&format!("Status: \"{wanted}\"")), || {
        "`systemctl status sealscan-agent` does not show the status line".into()
    })
}

/// The outcome lines of `scan` in the real journal, filtered by QID, with their fields.
pub fn journal_fields(s: &Session, scan: &Value, rows: &[Value]) -> Result<(), String> {
    let ct = s.ct;
    step("journalctl -u sealscan-agent QID=38307 and QID=105053: the outcome lines and fields");
    let job = rows
        .iter()
        .find_map(|r| r.get("job_id").filter(|v| !v.is_null()).map(text));
    let passed = outcome_line(ct, 38307, "127.0.0.1")?;
    let failed = outcome_line(ct, 105053, STALE_HOST)?;
    let field =
        |line: &BTreeMap<String, String>, key: &str| line.get(key).cloned().unwrap_or_default();
    for (line, status, priority, record) in [
        (&passed, "passed", "5", &s.unix_record),
        (&failed, "failed", "4", &s.stale_record),
    ] {
        for (key, want) in [
            ("LOGIN_KIND", "unix"),
            ("STATUS", status),
            ("PRIORITY", priority),
            ("RECORD_ID", record.as_str()),
            ("LOGIN_ID", UNIX_USER),
            ("SYSLOG_IDENTIFIER", AGENT),
            ("_SYSTEMD_UNIT", "sealscan-agent.service"),
        ] {
            check(field(line, key) == want, || {
                format!(
                    "journal line {:?}: {key} is {:?}, expected {want:?}",
                    field(line, "MESSAGE"),
                    field(line, key)
                )
            })?;
        }
        check(!field(line, "JOB_ID").is_empty(), || {
            format!("journal line {:?} has no JOB_ID", field(line, "MESSAGE"))
        })?;
        if let Some(job) = &job {
            check(&field(line, "JOB_ID") == job, || {
                format!(
                    "JOB_ID {} is not the scan's job {job}",
                    field(line, "JOB_ID")
                )
            })?;
        }
    }
    check(
        field(&passed, "MESSAGE") == "unix login to 127.0.0.1 passed (QID 38307)",
        || format!("the passed line reads {:?}", field(&passed, "MESSAGE")),
    )?;
    check(
        field(&failed, "CAUSE").starts_with("authentication: "),
        || {
            format!(
                "the failed line's CAUSE is {:?}, expected authentication: ...",
                field(&failed, "CAUSE")
            )
        },
    )?;
    check(!passed.contains_key("CAUSE"), || {
        "a passed login has a CAUSE".into()
    })?;
    // The examples of docs/journal.md, as an operator runs them.
    let verbose = ct.must(
        &[
            "journalctl",
            "-u",
            AGENT,
            "-o",
            "verbose",
            "--no-pager",
            "QID=105053",
        ],
        None,
    )?;
    println!("{}", indent(&verbose));
    let fields = ct.must(
        &[
            "journalctl",
            "-u",
            AGENT,
            "-o",
            "json",
            "--output-fields=JOB_ID,TARGET,QID,STATUS,CAUSE,RECORD_ID",
            "--no-pager",
            "QID=105053",
        ],
        None,
    )?;
    println!("{}", indent(&fields));
    let qids = ct.must(&["journalctl", "-u", AGENT, "-F", "QID"], None)?;
    for qid in ["38307", "70053", "105053", "105297"] {
        check(qids.lines().any(|l| l == qid), || {
            format!("`journalctl -u sealscan-agent -F QID` lacks {qid}: {qids}")
        })?;
    }
    println!(
        "      scan {} logged by the agent under systemd",
        text(&scan["id"])
    );
    Ok(())
}

/// The newest journal line with this QID for this host; waits for journald to have it.
fn outcome_line(ct: &Container, qid: u32, host: &str) -> Result<BTreeMap<String, String>, String> {
    let mut found = None;
    let shown = format!("journalctl -u sealscan-agent QID={qid} -o json");
    println!("    # {shown}");
    wait_for(
        &format!("{shown} to show {host}"),
        Duration::from_secs(15),
        || {
            let out = ct.quiet(&format!("{shown} --no-pager"))?;
            for line in out.lines().rev() {
                let v: Value = serde_json::from_str(line).map_err(|e| {
                    format!("journalctl -o json printed a line that is not JSON: {e}")
                })?;
                let mut map = BTreeMap::new();
                for (k, val) in v.as_object().into_iter().flatten() {
                    // A field logged twice comes as an array: TARGET must be one value, the host.
                    let Some(one) = val.as_str() else {
                        return Err(format!("journal field {k} is not a single string: {val}"));
                    };
                    map.insert(k.clone(), one.to_string());
                }
                if map.get("TARGET").map(String::as_str) == Some(host) {
                    found = Some(map);
                    return Ok(true);
                }
            }
            Ok(false)
        },
    )?;
    found.ok_or_else(|| "no line".into())
}

/// No password the test used appears anywhere in the container's journal.
pub fn no_secret_in_journal(s: &Session, secrets: &[&Password]) -> Result<(), String> {
    let all = s.ct.quiet("journalctl -o export --no-pager")?;
    for secret in secrets {
        check(!all.contains(secret.expose()), || {
            "a password the test used appears in the journal".into()
        })?;
    }
    Ok(())
}

/// The sandbox as it is in effect: systemd's own rating of the loaded unit, and the running
/// process's credentials, seccomp mode and locked memory.
pub fn hardening(ct: &Container) -> Result<(), String> {
    step("hardening in effect: systemd-analyze security, /proc/PID/status, locked memory");
    for unit in [AGENT, "sealscan-control"] {
        let out = ct.must(&["systemd-analyze", "security", "--no-pager", unit], None)?;
        let overall = out
            .lines()
            .find(|l| l.contains("Overall exposure level"))
            .ok_or_else(|| format!("systemd-analyze security {unit} printed no overall level"))?;
        println!("      {}", overall.trim());
        let level: f64 = overall
            .split(": ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("cannot read the level in {overall:?}"))?;
        check(level <= 1.5, || {
            format!("{unit} is rated {level}, above 1.5")
        })?;

        let pid = ct.prop(unit, "MainPID")?;
        let status = ct.sh(&format!("cat /proc/{pid}/status"))?;
        let get = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}:")))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        for (key, want) in [
            ("NoNewPrivs", "1"),
            ("Seccomp", "2"),
            ("CapInh", "0000000000000000"),
            ("CapPrm", "0000000000000000"),
            ("CapEff", "0000000000000000"),
            ("CapBnd", "0000000000000000"),
            ("CapAmb", "0000000000000000"),
        ] {
            check(get(key) == want, || {
                format!(
                    "{unit} (pid {pid}): {key} is {:?}, expected {want}",
                    get(key)
                )
            })?;
        }
        let uid = ct.sh(&format!("id -u {unit}"))?;
        check(
            get("Uid").split_whitespace().all(|u| u == uid.trim()),
            || {
                format!(
                    "{unit} runs as uid {:?}, not its service user {}",
                    get("Uid"),
                    uid.trim()
                )
            },
        )?;
        if unit == AGENT {
            let locked_kib: u64 = get("VmLck")
                .trim_end_matches("kB")
                .trim()
                .parse()
                .map_err(|_| format!("no VmLck in /proc/{pid}/status"))?;
            let limits = ct.sh(&format!("cat /proc/{pid}/limits"))?;
            let line = limits
                .lines()
                .find(|l| l.starts_with("Max locked memory"))
                .ok_or("no locked-memory line in /proc/PID/limits")?;
            let soft: u64 = line
                .split_whitespace()
                .nth(3)
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("cannot read {line:?}"))?;
            println!(
                "      agent: VmLck {locked_kib} kB within the granted limit of {} kB (unit asks {}; {line})",
                soft / 1024,
                ct.prop(AGENT, "LimitMEMLOCK")?
            );
            check(locked_kib >= 256 && locked_kib * 1024 <= soft, || {
                format!(
                    "the agent locks {locked_kib} kB; expected the 256 KiB arena within {soft} bytes"
                )
            })?;
        }
    }
    Ok(())
}

/// With a memory-lock limit below the arena, the agent says so and exits: no READY, no panic.
pub fn memlock_too_small(ct: &Container) -> Result<(), String> {
    step("LimitMEMLOCK=64K (a drop-in): the start fails with a clear error, not a crash");
    let since = ct.quiet("date +%s")?.trim().to_string();
    ct.sh("mkdir -p /run/systemd/system/sealscan-agent.service.d && \
           printf '[Service]\\nLimitMEMLOCK=64K\\n' > /run/systemd/system/sealscan-agent.service.d/memlock.conf && \
           systemctl daemon-reload")?;
    let ran = ct.run(&["systemctl", "restart", AGENT], None)?;
    let result = (
        ct.prop(AGENT, "Result")?,
        ct.prop(AGENT, "ExecMainCode")?,
        ct.prop(AGENT, "ExecMainStatus")?,
    );
    let journal = ct.quiet(&format!(
        "journalctl -u sealscan-agent -o cat --no-pager --since @{since}"
    ))?;
    println!("{}", indent(&journal));
    ct.sh(
        "rm -r /run/systemd/system/sealscan-agent.service.d && systemctl daemon-reload && \
           systemctl reset-failed sealscan-agent; systemctl start sealscan-agent",
    )?;
    check(!ran.ok, || {
        "`systemctl restart` succeeded with a 64 KiB lock limit".into()
    })?;
    // ExecMainCode 1 is CLD_EXITED: an exit with a status, not a signal (a panic aborts with
    // status 101).
    check(
        result.0 == "exit-code" && result.1 == "1" && result.2 == "1",
        || {
            format!(
                "with a 64 KiB lock limit the agent ended as Result={} code={} status={}, expected exit-code, exited, 1",
                result.0, result.1, result.2
            )
        },
    )?;
    check(
        journal.contains("cannot lock the 256 KiB key arena"),
        || "the journal does not say the arena could not be locked".into(),
    )?;
    check(!journal.contains("panicked"), || {
        "the agent panicked".into()
    })?;
    wait_for("the agent to run again without the drop-in", BOUND, || {
        Ok(ct.prop(AGENT, "StatusText")? == "waiting for jobs")
    })?;
    Ok(())
}

fn spool(ct: &Container) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let dir = ct.root().join("var/lib/sealscan-agent/spool");
    let mut files = BTreeMap::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(format!("reading {}: {e}", dir.display())),
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") {
            let bytes = std::fs::read(e.path()).map_err(|err| format!("reading {name}: {err}"))?;
            files.insert(name, bytes);
        }
    }
    Ok(files)
}

/// A result the control plane could not take waits in the spool; `kill -STOP` freezes the
/// agent, systemd restarts it after WatchdogSec, the spool is still there, and once the control
/// plane is back each result arrives once.
pub fn watchdog_keeps_spool(s: &Session) -> Result<Value, String> {
    let ct = s.ct;
    step("a result in the spool: the control plane stops while a slow login runs");
    let scan = flow::create_scan(
        s,
        &[
            "127.0.0.1".into(),
            SLOW_HOST.into(),
            "--kinds".into(),
            "unix".into(),
        ],
    )?;
    wait_for("the agent to claim the job", BOUND, || {
        Ok(ct.prop(AGENT, "StatusText")?.starts_with("running job"))
    })?;
    ct.must(&["systemctl", "stop", "sealscan-control"], None)?;
    // The slow target times out after unix_secs (8 s); its result (QID 115263) cannot be posted.
    wait_for("the timed-out result in the spool", BOUND, || {
        Ok(spool(ct)?
            .values()
            .any(|b| String::from_utf8_lossy(b).contains("115263")))
    })?;
    let before = spool(ct)?;
    println!("      spool: {:?}", before.keys().collect::<Vec<_>>());

    step("the watchdog: kill -STOP the agent; systemd restarts it after WatchdogSec=30s");
    let pid = ct.prop(AGENT, "MainPID")?;
    let restarts: u32 = ct.prop(AGENT, "NRestarts")?.parse().unwrap_or(0);
    let since = ct.quiet("date +%s")?.trim().to_string();
    ct.must(
        &[
            "systemctl",
            "kill",
            "--kill-whom=main",
            "--signal=SIGSTOP",
            AGENT,
        ],
        None,
    )?;
    let took = wait_for(
        "systemd to restart the stopped agent",
        Duration::from_secs(120),
        || {
            let now = ct.prop(AGENT, "MainPID")?;
            Ok(now != pid && now != "0" && ct.prop(AGENT, "ActiveState")? == "active")
        },
    )?;
    println!("      restarted after {:.0} s", took.as_secs_f64());
    // systemd counts WatchdogSec from the last ping (sent every 15 s), so the stop comes 15 to
    // 30 s before the timeout, and RestartSec=5s after it.
    check(took >= Duration::from_secs(19), || {
        format!("the agent was replaced after {took:?}, before WatchdogSec ran out")
    })?;
    let after: u32 = ct.prop(AGENT, "NRestarts")?.parse().unwrap_or(0);
    check(after == restarts + 1, || {
        format!("NRestarts went from {restarts} to {after}")
    })?;
    let journal = ct.quiet(&format!(
        "journalctl -u sealscan-agent -o cat --no-pager --since @{since}"
    ))?;
    println!("{}", indent(&journal));
    check(journal.contains("Watchdog timeout"), || {
        "systemd did not log a watchdog timeout".into()
    })?;
    let kept = spool(ct)?;
    check(kept == before, || {
        format!(
            "the spool changed across the restart: {:?} then {:?}",
            before.keys(),
            kept.keys()
        )
    })?;

    step("the control plane comes back: the spooled result is posted, each result once");
    ct.must(&["systemctl", "start", "sealscan-control"], None)?;
    wait_for("the spool to empty", BOUND, || Ok(spool(ct)?.is_empty()))?;
    let rows = flow::wait_results(s, &scan, BOUND)?;
    flow::expect(&rows, SLOW_HOST, "unix", "timed_out", 115263)?;
    flow::expect(&rows, "127.0.0.1", "unix", "passed", 38307)?;
    check(rows.len() == 2, || {
        format!("scan with 2 logins has {} results: {rows:?}", rows.len())
    })?;
    Ok(scan)
}

/// `systemctl stop`: SIGTERM, a clean exit 0 within the stop timeout, nothing left in the
/// spool and no result posted twice; then started again.
pub fn clean_stop(s: &Session, scan: &Value) -> Result<(), String> {
    let ct = s.ct;
    step("systemctl stop sealscan-agent: a clean exit; started again, nothing re-posted");
    let since = ct.quiet("date +%s")?.trim().to_string();
    let t = Instant::now();
    ct.must(&["systemctl", "stop", AGENT], None)?;
    let took = t.elapsed();
    let (result, code, status) = (
        ct.prop(AGENT, "Result")?,
        ct.prop(AGENT, "ExecMainCode")?,
        ct.prop(AGENT, "ExecMainStatus")?,
    );
    check(result == "success" && code == "1" && status == "0", || {
        format!(
            "after systemctl stop: Result={result} code={code} status={status}, expected success, exited, 0"
        )
    })?;
    check(took < Duration::from_secs(10), || {
        format!("stopping took {took:?}")
    })?;
    let journal = ct.quiet(&format!(
        "journalctl -u sealscan-agent -o cat --no-pager --since @{since}"
    ))?;
    println!("{}", indent(&journal));
    check(journal.contains("sealscan-agent stopping"), || {
        "the agent did not log that it was stopping".into()
    })?;
    check(spool(ct)?.is_empty(), || {
        "the spool is not empty after a clean stop".into()
    })?;
    ct.must(&["systemctl", "start", AGENT], None)?;
    check(ct.prop(AGENT, "StatusText")? == "waiting for jobs", || {
        "after a restart the agent does not wait for jobs".into()
    })?;
    // The restarted agent's first round re-posts whatever its spool holds: nothing.
    std::thread::sleep(Duration::from_secs(3));
    let rows = flow::results(ct, &text(&scan["id"]))?;
    check(rows.len() == 2, || {
        format!("after a restart the scan has {} results, not 2", rows.len())
    })
}
