//! `scripts/demo`: the README's demo, run with the real programs as a new user would run them.
//!
//! It starts real OpenSSH `sshd` and Samba `smbd` targets on loopback (the test-peer support),
//! then drives the built binaries: `sealscan-control init`, `ncsm enable` and `serve` on a
//! temporary data directory (embedded SQLite), the operator CLI `sealscan` (login, enrollment
//! token, approval, NCSM activation, records sealed on the client, scans, results), and
//! `sealscan-agent enroll` and `run`. Every command is printed as it runs, with the temporary
//! directory shown as `$DEMO`. Two scans tell the story: the right passwords pass (QIDs
//! 38307/70053), then the targets' passwords are rotated behind the records' back and the same
//! scan fails (105053/105015) with the peers' own words. On exit, even on SIGINT/SIGTERM, every
//! process it started is stopped and the temporary directory removed.
//!
//! Binaries come from `SEALSCAN_BIN_DIR`, else from the directory of this executable (cargo
//! puts every workspace binary of a profile in the same `target/<profile>/`).

use sealscan_control::password_policy::Names;
use sealscan_control::secrets::{Password, generate_password};
use sealscan_test_peers::smbd::{NETBIOS_NAME, Smbd, SmbdOptions};
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::{ensure_user, free_loopback_port};
use serde_json::Value;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const UNIX_USER: &str = "sealscan_demo";
const WIN_USER: &str = "sealscan_dwin";
const MANAGER: &str = "alice";
/// Has nothing listening: the target that shows a connection failure.
const SILENT_HOST: &str = "127.0.0.2";
/// Caps on waiting for something broken, never measurements.
const BOUND: Duration = Duration::from_secs(120);

/// Everything the demo started, so that a signal can stop it from another thread.
struct Running {
    agent: Option<Child>,
    serve: Option<Child>,
    smbd: Option<Smbd>,
    sshd: Option<Sshd>,
    work: Option<tempfile::TempDir>,
}

static RUNNING: Mutex<Running> = Mutex::new(Running {
    agent: None,
    serve: None,
    smbd: None,
    sshd: None,
    work: None,
});

fn running() -> std::sync::MutexGuard<'static, Running> {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Stops what is still running, newest first, and removes the temporary directory.
fn cleanup() {
    let mut r = running();
    if let Some(agent) = r.agent.take() {
        stop(agent, Duration::from_secs(20));
    }
    if let Some(serve) = r.serve.take() {
        stop(serve, Duration::from_secs(10));
    }
    r.smbd.take();
    r.sshd.take();
    r.work.take();
}

/// SIGTERM, then SIGKILL if the process outlives `grace`.
#[allow(unsafe_code)]
fn stop(mut child: Child, grace: Duration) -> Option<std::process::ExitStatus> {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: signals a child this process started and has not reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait().ok()
}

/// Set once a signal is being handled: the main thread's errors from then on are only the
/// echo of processes being stopped under it.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// SIGINT, SIGTERM and SIGHUP reach a thread that cleans up and exits, so an interrupted demo
/// leaves no sshd, smbd, control plane or agent behind. signal-hook's handler and self-pipe
/// rather than a blocked mask and sigwait: children inherit a blocked mask, and an agent with
/// SIGTERM blocked could not be stopped; caught signals go back to their defaults on exec.
fn handle_signals() -> Result<(), String> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| format!("cannot watch for signals: {e}"))?;
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!("\nsealscan-demo: interrupted; stopping everything it started");
            cleanup();
            std::process::exit(128 + sig);
        }
    });
    Ok(())
}

#[allow(unsafe_code)]
fn main() -> ExitCode {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "sealscan-demo: run as root: it creates two local demo users ({UNIX_USER}, {WIN_USER}) and starts sshd and smbd"
        );
        return ExitCode::FAILURE;
    }
    if let Err(e) = handle_signals() {
        eprintln!("sealscan-demo: {e}");
        return ExitCode::FAILURE;
    }
    let outcome = std::panic::catch_unwind(run);
    let code = match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(message)) => {
            if !INTERRUPTED.load(Ordering::SeqCst) {
                eprintln!("\nsealscan-demo: {message}");
            }
            ExitCode::FAILURE
        }
        // The panic message is already on stderr.
        Err(_) => ExitCode::FAILURE,
    };
    cleanup();
    code
}

/// The demo's temporary directory and the binaries it runs.
struct Demo {
    work: PathBuf,
    bins: PathBuf,
}

impl Demo {
    fn data_dir(&self) -> PathBuf {
        self.work.join("control")
    }

    fn agent_config(&self) -> PathBuf {
        self.work.join("agent/agent.toml")
    }

    fn agent_log(&self) -> PathBuf {
        self.work.join("agent/agent.log")
    }

    fn serve_log(&self) -> PathBuf {
        self.work.join("control/serve.log")
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new(self.bins.join(program));
        c.args(args)
            .current_dir(&self.work)
            // The operator CLI keeps its profile and session token here, not in root's home.
            .env("SEALSCAN_CONFIG_DIR", self.work.join("cli"));
        c
    }

    /// The command as a user would type it, with `$DEMO` for the temporary directory.
    fn shown(&self, program: &str, args: &[&str], stdin_note: Option<&str>) -> String {
        let work = self.work.display().to_string();
        let mut line = String::from("    $ ");
        if let Some(note) = stdin_note {
            line.push_str(note);
            line.push_str(" | ");
        }
        line.push_str(program);
        for a in args {
            line.push(' ');
            let a = a.replace(&work, "$DEMO");
            if a.contains(' ') || a.contains('(') {
                line.push('"');
                line.push_str(&a);
                line.push('"');
            } else {
                line.push_str(&a);
            }
        }
        line
    }

    /// Runs `program args`, printing the command; with `secret`, writes it and a newline to
    /// the program's stdin (for `--password-stdin`), never to argv. Fails with the
    /// program's stderr when it fails.
    fn run(
        &self,
        program: &str,
        args: &[&str],
        secret: Option<(&Password, &str)>,
        echo: bool,
    ) -> Result<Output, String> {
        if echo {
            println!(
                "{}",
                self.shown(program, args, secret.map(|(_, note)| note))
            );
        }
        let mut child = self
            .command(program, args)
            .stdin(if secret.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        if let Some((password, _)) = secret {
            let mut stdin = child.stdin.take().ok_or("no stdin")?;
            stdin
                .write_all(password.expose().as_bytes())
                .and_then(|()| stdin.write_all(b"\n"))
                .map_err(|e| format!("writing to {program}'s stdin: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("waiting for {program}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`{}` failed ({}):\n{}{}",
                self.shown(program, args, None).trim_start_matches("    $ "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(out)
    }

    /// Runs a command and prints its output, indented.
    fn show(
        &self,
        program: &str,
        args: &[&str],
        secret: Option<(&Password, &str)>,
    ) -> Result<(), String> {
        let out = self.run(program, args, secret, true)?;
        // Progress and notices go to stderr first, as on a terminal.
        indent(&String::from_utf8_lossy(&out.stderr));
        indent(&String::from_utf8_lossy(&out.stdout));
        Ok(())
    }

    /// `sealscan --json ...`, parsed; the command is printed but its JSON is not.
    fn json(&self, args: &[&str]) -> Result<Value, String> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run("sealscan", &all, None, true)?;
        serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("`sealscan {}` printed no JSON: {e}", all.join(" ")))
    }

    /// The same `sealscan --json ...`, quietly (for polling).
    fn json_quiet(&self, args: &[&str]) -> Result<Value, String> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run("sealscan", &all, None, false)?;
        serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("`sealscan {}` printed no JSON: {e}", all.join(" ")))
    }

    fn tail(&self, path: &Path, lines: usize) -> String {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

fn run() -> Result<(), String> {
    let started = Instant::now();
    let bins = binaries_dir()?;
    let work = tempfile::Builder::new()
        .prefix("sealscan-demo-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let demo = Demo {
        work: work.path().to_path_buf(),
        bins,
    };
    running().work = Some(work);
    for sub in ["control", "cli", "agent"] {
        std::fs::create_dir_all(demo.work.join(sub))
            .map_err(|e| format!("cannot create $DEMO/{sub}: {e}"))?;
    }
    println!(
        "sealscan demo: every program below is the real one; DEMO={}",
        demo.work.display()
    );
    println!(
        "secrets reach the programs on stdin (shown as `echo $NAME |`), never on a command line"
    );

    step("1. targets: OpenSSH sshd and Samba smbd on loopback, with a local demo user each");
    let target_names = Names {
        first: "Demo",
        last: "Target",
    };
    let target_pw = generate_password(16, &target_names);
    ensure_user(UNIX_USER, target_pw.expose());
    let sshd = Sshd::start(&SshdOptions::default());
    let smbd = Smbd::start(SmbdOptions::default());
    smbd.add_user(WIN_USER, target_pw.expose());
    let (ssh_port, smb_port) = (sshd.port(), smbd.port());
    {
        let mut r = running();
        r.sshd = Some(sshd);
        r.smbd = Some(smbd);
    }
    println!("    sshd  127.0.0.1:{ssh_port}   user {UNIX_USER}");
    println!(
        "    smbd  127.0.0.1:{smb_port}   user {WIN_USER}, NetBIOS name {NETBIOS_NAME} (a standalone server reports it as its domain)"
    );
    println!("    {SILENT_HOST} has nothing listening on either port");

    step("2. the control plane: a subscription on its embedded SQLite, then its HTTPS API");
    let data = demo.data_dir().display().to_string();
    let manager_pw = generate_password(
        20,
        &Names {
            first: "Alice",
            last: "Smith",
        },
    );
    let stdin_pw = "echo $MANAGER_PASSWORD";
    demo.show(
        "sealscan-control",
        &[
            "--data-dir",
            &data,
            "init",
            "--subscription",
            "demo",
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
        Some((&manager_pw, stdin_pw)),
    )?;
    // Credentials are sealed on the operator's machine only under NCSM; the operator enables
    // it, the Primary Contact activates it once an appliance is approved (step 5).
    demo.show(
        "sealscan-control",
        &["--data-dir", &data, "ncsm", "enable"],
        None,
    )?;
    let url = serve(&demo, &data)?;
    let ca = demo.data_dir().join("tls/cert.pem").display().to_string();

    step("3. the operator signs in with the CLI and makes a one-time enrollment token");
    let login = [
        "login",
        "--url",
        &url,
        "--ca-file",
        &ca,
        "--user",
        MANAGER,
        "--password-stdin",
    ];
    demo.show("sealscan", &login, Some((&manager_pw, stdin_pw)))?;
    let token = demo.json(&[
        "appliances",
        "tokens",
        "create",
        "--label",
        "demo appliance",
    ])?;
    let token = Password::new(
        token["token"]
            .as_str()
            .ok_or("`sealscan appliances tokens create` answered no token")?
            .to_string(),
    );
    println!("    (the token went into $TOKEN)");

    step("4. the appliance: sealscan-agent enroll, then run (it waits for the approval)");
    let agent_config = demo.agent_config();
    std::fs::write(
        &agent_config,
        format!(
            "control_plane_url = \"{url}\"\nca_file = \"{ca}\"\nstate_dir = \"{}\"\n\
             concurrency = 4\nlog = \"stderr\"\n\n[timeouts]\nunix_secs = 10\nwindows_secs = 10\n",
            demo.work.join("agent/state").display()
        ),
    )
    .map_err(|e| format!("cannot write the agent's configuration: {e}"))?;
    println!("    $DEMO/agent/agent.toml:");
    indent(
        &std::fs::read_to_string(&agent_config)
            .unwrap_or_default()
            .replace(&demo.work.display().to_string(), "$DEMO"),
    );
    let config = agent_config.display().to_string();
    let enroll_args = [
        "--config",
        &config,
        "enroll",
        "--url",
        &url,
        "--name",
        "demo-appliance",
    ];
    println!(
        "{}",
        demo.shown("sealscan-agent", &enroll_args, None)
            .replace("$ ", "$ SEALSCAN_ENROLL_TOKEN=$TOKEN ")
    );
    let enrolled = demo
        .command("sealscan-agent", &enroll_args)
        .env("SEALSCAN_ENROLL_TOKEN", token.expose())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start sealscan-agent: {e}"))?;
    drop(token);
    let enroll_out = String::from_utf8_lossy(&enrolled.stdout).into_owned();
    indent(&enroll_out);
    if !enrolled.status.success() {
        return Err(format!(
            "sealscan-agent enroll failed ({}):\n{}",
            enrolled.status,
            String::from_utf8_lossy(&enrolled.stderr)
        ));
    }
    let run_args = ["--config", config.as_str(), "run"];
    println!(
        "{}   (in the background; its log: $DEMO/agent/agent.log)",
        demo.shown("sealscan-agent", &run_args, None)
    );
    let log = std::fs::File::create(demo.agent_log())
        .map_err(|e| format!("cannot create the agent's log: {e}"))?;
    let agent = demo
        .command("sealscan-agent", &run_args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start sealscan-agent run: {e}"))?;
    running().agent = Some(agent);

    step("5. the operator compares the fingerprint and approves the appliance; NCSM goes live");
    let appliances = demo.json(&["appliances", "list"])?;
    let appliance = appliances
        .as_array()
        .and_then(|list| {
            list.iter().find(|a| {
                a["fingerprint"]
                    .as_str()
                    .is_some_and(|f| enroll_out.contains(f))
            })
        })
        .ok_or_else(|| {
            format!("no pending appliance has the fingerprint enroll printed: {appliances}")
        })?;
    let appliance_id = text(&appliance["id"]);
    println!(
        "    pending: {} {}  fingerprint {}  (the same as the agent printed)",
        appliance_id,
        text(&appliance["name"]),
        text(&appliance["fingerprint"])
    );
    demo.show(
        "sealscan",
        &["appliances", "approve", "--yes", &appliance_id],
        None,
    )?;
    wait_for(&demo, "the agent to collect its credential", || {
        Ok(demo.work.join("agent/state/credential").exists())
    })?;
    println!("    the agent collected its credential and is waiting for jobs");
    demo.show("sealscan", &["ncsm", "start", "--yes"], None)?;
    // Sessions opened before the activation may not change records: sign in again.
    demo.show("sealscan", &login, Some((&manager_pw, stdin_pw)))?;

    step("6. records: the targets' passwords, sealed on this machine to the appliance's key");
    let stdin_target = "echo $TARGET_PASSWORD";
    demo.show(
        "sealscan",
        &[
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
            "--password-stdin",
        ],
        Some((&target_pw, stdin_target)),
    )?;
    demo.show(
        "sealscan",
        &[
            "records",
            "create",
            "--kind",
            "windows",
            "--title",
            "lab windows (NetBIOS domain TARGET1)",
            "--user",
            WIN_USER,
            "--domain-type",
            "netbios",
            "--domain",
            NETBIOS_NAME,
            "--service-selected",
            "--password-stdin",
        ],
        Some((&target_pw, stdin_target)),
    )?;
    demo.show("sealscan", &["records", "list"], None)?;

    let ports = [ssh_port.to_string(), smb_port.to_string()];
    let scan_args = |title: &'static str| {
        vec![
            "scans".to_string(),
            "create".into(),
            "127.0.0.1".into(),
            SILENT_HOST.into(),
            "--kinds".into(),
            "both".into(),
            "--unix-port".into(),
            ports[0].clone(),
            "--windows-port".into(),
            ports[1].clone(),
            "--title".into(),
            title.into(),
        ]
    };

    step("7. a scan of 127.0.0.1 and 127.0.0.2, Unix and Windows logins");
    let first = scan(&demo, &scan_args("first scan"))?;
    expect(&first, "127.0.0.1", "unix", "passed", 38307)?;
    expect(&first, "127.0.0.1", "windows", "passed", 70053)?;

    step("8. the targets' passwords change behind the records' back; the same scan again");
    let rotated = generate_password(16, &target_names);
    ensure_user(UNIX_USER, rotated.expose());
    if let Some(smbd) = running().smbd.as_ref() {
        smbd.add_user(WIN_USER, rotated.expose());
    }
    println!(
        "    new passwords for {UNIX_USER} (sshd) and {WIN_USER} (smbd); the records still hold the old ones"
    );
    let second = scan(&demo, &scan_args("after the rotation"))?;
    expect(&second, "127.0.0.1", "unix", "failed", 105053)?;
    expect(&second, "127.0.0.1", "windows", "failed", 105015)?;

    step("9. stopping the agent (SIGTERM) and the control plane; removing $DEMO");
    let agent = running().agent.take();
    if let Some(agent) = agent {
        match stop(agent, Duration::from_secs(20)) {
            Some(status) if status.code().is_some() => {
                println!("    sealscan-agent exited: {status}");
            }
            other => {
                return Err(format!(
                    "sealscan-agent did not exit within 20 s of SIGTERM ({other:?}); its log ends:\n{}",
                    demo.tail(&demo.agent_log(), 10)
                ));
            }
        }
    }
    let serve = running().serve.take();
    if let Some(serve) = serve {
        stop(serve, Duration::from_secs(10));
        println!("    sealscan-control serve stopped");
    }
    let rows: Vec<&Value> = first.iter().chain(second.iter()).collect();
    let passed = rows.iter().filter(|r| r["status"] == "passed").count();
    println!(
        "\n{} logins in 2 scans: {passed} passed, {} did not; each of those names its step and the peer's words. ({:.0} s)",
        rows.len(),
        rows.len() - passed,
        started.elapsed().as_secs_f64()
    );
    println!(
        "The local demo users {UNIX_USER} and {WIN_USER} stay (userdel {UNIX_USER}; userdel {WIN_USER})."
    );
    Ok(())
}

/// `sealscan-control serve` on a free loopback port, in the background; its URL once it
/// accepts connections.
fn serve(demo: &Demo, data: &str) -> Result<String, String> {
    let listen = format!("127.0.0.1:{}", free_loopback_port());
    let args = ["--data-dir", data, "serve", "--listen", &listen];
    println!(
        "{}   (in the background; its log: $DEMO/control/serve.log)",
        demo.shown("sealscan-control", &args, None)
    );
    let log = std::fs::File::create(demo.serve_log())
        .map_err(|e| format!("cannot create the control plane's log: {e}"))?;
    let err = log
        .try_clone()
        .map_err(|e| format!("control plane log: {e}"))?;
    let serve = demo
        .command("sealscan-control", &args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start sealscan-control serve: {e}"))?;
    running().serve = Some(serve);
    wait_for(demo, "the control plane to listen", || {
        if let Some(status) = running()
            .serve
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
        {
            return Err(format!(
                "sealscan-control serve exited ({status}):\n{}",
                demo.tail(&demo.serve_log(), 20)
            ));
        }
        Ok(TcpStream::connect(&listen).is_ok())
    })?;
    indent(&demo.tail(&demo.serve_log(), 5));
    Ok(format!("https://{listen}"))
}

/// Creates the scan, waits until every target has its result, prints the CLI's results
/// table; the rows.
fn scan(demo: &Demo, args: &[String]) -> Result<Vec<Value>, String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let created = demo.json(&args)?;
    let id = text(&created["id"]);
    let total = created["targets_total"].as_u64().unwrap_or(0) as usize;
    println!("    scan {id} queued: {total} logins to try");
    let mut rows = Vec::new();
    wait_for(demo, &format!("the results of scan {id}"), || {
        rows = demo
            .json_quiet(&["scans", "results", &id])?
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(total > 0 && rows.len() >= total)
    })?;
    let rows = demo
        .json(&["scans", "results", &id])?
        .as_array()
        .cloned()
        .unwrap_or_default();
    println!("      (in short; `sealscan scans results {id}` prints every fact)");
    print_results(&rows);
    Ok(rows)
}

/// The results as a short table: one row per login, the cause when it did not pass, else
/// the method and what the session showed. `sealscan scans results ID` prints every fact.
fn print_results(rows: &[Value]) {
    let mut rows: Vec<&Value> = rows.iter().collect();
    rows.sort_by_key(|r| (text(&r["host"]), text(&r["kind"])));
    let line = |cells: [&str; 6]| {
        println!(
            "      {:<10} {:<8} {:<14} {:<7} {:<22} {}",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]
        );
    };
    line([
        "TARGET",
        "KIND",
        "STATUS",
        "QID",
        "LOGIN",
        "CAUSE, or METHOD and what the session showed",
    ]);
    for r in rows {
        let facts = &r["facts"];
        let what = if r["status"] == "passed" {
            let seen = ["os_pretty_name", "server_netbios_domain"]
                .iter()
                .filter_map(|k| facts[k].as_str().map(|v| format!("{k}={v}")))
                .collect::<Vec<_>>()
                .join(", ");
            format!("{}; {seen}", text(&r["method"]))
        } else {
            text(&r["cause"])
        };
        let login = text(&r["login_id"]);
        line([
            &text(&r["host"]),
            &text(&r["kind"]),
            &text(&r["status"]),
            &text(&r["qid"]),
            if login.is_empty() || login == "null" {
                "-"
            } else {
                &login
            },
            &what,
        ]);
    }
}

/// The demo's story holds: the row for `host`/`kind` has this status and QID.
fn expect(rows: &[Value], host: &str, kind: &str, status: &str, qid: u64) -> Result<(), String> {
    let row = rows
        .iter()
        .find(|r| r["host"] == host && r["kind"] == kind)
        .ok_or_else(|| format!("no {kind} result for {host}"))?;
    if row["status"] != status || row["qid"].as_u64() != Some(qid) {
        return Err(format!(
            "expected {kind} on {host} to be {status} with QID {qid}, got: {row}"
        ));
    }
    Ok(())
}

/// Polls `done` until it holds; on giving up, says what never happened and shows the tail of
/// the agent's and the control plane's logs.
fn wait_for(
    demo: &Demo,
    what: &str,
    mut done: impl FnMut() -> Result<bool, String>,
) -> Result<(), String> {
    let deadline = Instant::now() + BOUND;
    loop {
        if done()? {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "gave up waiting for {what} after {} s\nagent log:\n{}\ncontrol plane log:\n{}",
                BOUND.as_secs(),
                demo.tail(&demo.agent_log(), 20),
                demo.tail(&demo.serve_log(), 20)
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn binaries_dir() -> Result<PathBuf, String> {
    let dir = match std::env::var_os("SEALSCAN_BIN_DIR") {
        Some(d) => PathBuf::from(d),
        None => std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf))
            .ok_or("cannot tell where this executable lives; set SEALSCAN_BIN_DIR")?,
    };
    let missing: Vec<&str> = ["sealscan-control", "sealscan", "sealscan-agent"]
        .into_iter()
        .filter(|b| !dir.join(b).is_file())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} missing in {}: build them with `cargo build -p sealscan-control -p sealscan-cli -p sealscan-agent` (scripts/demo does), or set SEALSCAN_BIN_DIR",
            missing.join(", "),
            dir.display()
        ));
    }
    Ok(dir)
}

fn step(text: &str) {
    println!("\n==> {text}");
}

fn indent(text: &str) {
    for line in text.lines() {
        println!("      {line}");
    }
}

fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}
