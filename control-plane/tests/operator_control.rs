//! `sealscan-control` as the operator runs it: the data directory's permissions under a
//! loose umask, break-glass commands beside a running server and a stopped one, init without
//! a terminal, a closed stdout, and the server log's sign-in events.
mod common;

use common::cli::{CONTROL, PW};
use common::{Harness, PC_PASSWORD, PC_USER};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// `sealscan-control ARGS` under umask 022, as a shell with the distribution default runs it.
fn control_umask_022(data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(CONTROL)
        .arg("--data-dir")
        .arg(data)
        .args(args);
    c
}

fn init_args() -> Vec<&'static str> {
    vec![
        "init",
        "--username",
        "alice",
        "--first-name",
        "Alice",
        "--last-name",
        "Smith",
        "--email",
        "alice@example.com",
        "--password-stdin",
    ]
}

fn with_stdin(mut c: Command, stdin: &str) -> Output {
    use std::io::Write;
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    child.wait_with_output().expect("output")
}

/// Starts `serve` on a free port; returns the child and its URL once it listens.
fn serve(mut c: Command, stderr: Stdio) -> (std::process::Child, String) {
    let mut child = c
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("serve prints its address")
            .expect("line");
        if let Some(rest) = line.strip_prefix("listening on ") {
            break rest.trim_end_matches("/api/v1").to_string();
        }
    };
    // Keep reading so a later print never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, url)
}

#[test]
fn the_data_directory_is_private_whatever_the_umask() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let out = with_stdin(
        {
            let mut c = control_umask_022(&data, &[]);
            c.args(init_args());
            c
        },
        &format!("{PW}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (mut child, _url) = serve(control_umask_022(&data, &[]), Stdio::inherit());
    let expect = [
        ("", 0o700),
        ("control.db", 0o600),
        ("control.db-wal", 0o600),
        ("control.db-shm", 0o600),
        ("keys", 0o700),
        ("keys/control.key", 0o600),
        ("tls", 0o700),
        ("tls/key.pem", 0o600),
    ];
    let found: Vec<(&str, u32)> = expect
        .iter()
        .map(|(f, _)| (*f, mode(&data.join(f))))
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    let found_text: Vec<String> = found.iter().map(|(f, m)| format!("{f}={m:o}")).collect();
    let want_text: Vec<String> = expect.iter().map(|(f, m)| format!("{f}={m:o}")).collect();
    assert_eq!(found_text, want_text);

    // A directory others can read: serve refuses, naming the path and the mode.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = control_umask_022(&data, &["serve", "--listen", "127.0.0.1:0"])
        .output()
        .expect("serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&data.display().to_string())
            && err.contains("0755")
            && err.contains("chmod 700"),
        "{err}"
    );
}

#[tokio::test]
async fn break_glass_unlocks_the_primary_contact_and_disables_the_allowlist() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.security(&pc, json!({"lockout_failed_logins": 3})).await;
    for _ in 0..3 {
        h.login_reply(PC_USER, "Nope!123x").await;
    }
    h.login_reply(PC_USER, PC_PASSWORD)
        .await
        .expect_refused(403, "account.locked");
    let glass = |what: &str| {
        Command::new(CONTROL)
            .arg("--data-dir")
            .arg(h.dir.path())
            .args(["break-glass", what])
            .output()
            .expect("break-glass")
    };
    // The server is running and writing: the command waits for its turn, then commits.
    let out = glass("unlock-primary-contact");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("unlocked the Manager Primary Contact alice")
    );
    let pc = h.pc().await;

    let from2 = h.client_from("127.0.0.2");
    h.call_with(
        &from2,
        "put",
        "/api/v1/security/allowlist",
        Some(&pc),
        Some(json!({"enabled": true, "entries": ["127.0.0.2/32"]})),
    )
    .await
    .expect_ok();
    h.login_reply(PC_USER, PC_PASSWORD)
        .await
        .expect_refused(403, "allowlist.denied");
    // Keep the server writing (each request touches its session) while the operator acts.
    let busy = async {
        for _ in 0..40 {
            h.call_with(&from2, "get", "/api/v1/session", Some(&pc), None)
                .await
                .expect_ok();
        }
    };
    let (out, ()) = tokio::join!(
        tokio::task::spawn_blocking({
            let dir = h.dir.path().to_path_buf();
            move || {
                Command::new(CONTROL)
                    .arg("--data-dir")
                    .arg(dir)
                    .args(["break-glass", "disable-allowlist"])
                    .output()
                    .expect("break-glass")
            }
        }),
        busy
    );
    let out = out.expect("join");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    h.pc().await;
    let log = h
        .call("get", "/api/v1/audit", Some(&pc), None)
        .await
        .expect_ok();
    let glass_entries: Vec<&serde_json::Value> = log
        .as_array()
        .expect("audit")
        .iter()
        .filter(|e| e["actor"] == "operator" && e["detail"].to_string().contains("break_glass"))
        .collect();
    assert_eq!(glass_entries.len(), 2, "{log}");

    // With the server stopped, the same commands work on the data directory alone.
    let Harness { server, dir, .. } = h;
    server.stop().await;
    let glass = |what: &str| {
        Command::new(CONTROL)
            .arg("--data-dir")
            .arg(dir.path())
            .args(["break-glass", what])
            .output()
            .expect("break-glass")
    };
    let out = glass("unlock-primary-contact");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("was not locked"));
    let out = glass("disable-allowlist");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("already off"));
}

#[test]
fn init_with_a_piped_password_but_no_password_stdin_says_what_to_do() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let mut c = Command::new(CONTROL);
    c.arg("--data-dir").arg(&data).args(
        init_args()
            .into_iter()
            .filter(|a| *a != "--password-stdin")
            .collect::<Vec<_>>(),
    );
    let out = with_stdin(c, &format!("{PW}\n"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--password-stdin"), "{err}");
    assert!(!data.join("control.db").exists());
}

#[test]
fn a_closed_stdout_is_no_panic() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let out = common::cli::init(&data, &format!("{PW}\n"));
    assert!(out.status.success());
    for args in [
        vec!["outbox"],
        vec!["break-glass", "disable-allowlist"],
        vec!["ncsm", "enable"],
    ] {
        let mut child = Command::new(CONTROL)
            .arg("--data-dir")
            .arg(&data)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // The reader is gone before the program prints anything, like `| head -0`.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("output");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(out.status.success(), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn the_server_log_records_sign_ins_failures_and_lockouts_without_secrets() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let out = common::cli::init(&data, &format!("{PW}\n"));
    assert!(out.status.success());
    let log_path = tmp.path().join("server.log");
    let log_file = std::fs::File::create(&log_path).expect("log");
    let mut c = Command::new(CONTROL);
    c.arg("--data-dir").arg(&data);
    let (mut child, url) = serve(c, Stdio::from(log_file));
    let ca = std::fs::read(data.join("tls/cert.pem")).expect("cert");
    let client = common::make_client(&ca, None);
    let login = async |user: &str, password: &str| {
        let r = client
            .post(format!("{url}/api/v1/session"))
            .json(&json!({"username": user, "password": password}))
            .send()
            .await
            .expect("send");
        let status = r.status();
        (status, r.json::<serde_json::Value>().await.expect("json"))
    };
    let (status, body) = login("alice", PW).await;
    assert!(status.is_success());
    let token = body["token"].as_str().expect("token").to_string();
    let r = client
        .put(format!("{url}/api/v1/security"))
        .bearer_auth(&token)
        .json(&json!({"lockout_failed_logins": 2}))
        .send()
        .await
        .expect("security");
    assert!(r.status().is_success());
    let typed_in_the_wrong_field = "Wr0ng!Field#42";
    login(typed_in_the_wrong_field, PW).await;
    login("alice", "Bad!guess#1").await;
    login("alice", "Bad!guess#2").await;
    login("alice", PW).await;
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).expect("read log");
    for needle in [
        "signed in: alice from 127.0.0.1",
        "failed sign-in for an unknown user name from 127.0.0.1",
        "failed sign-in for alice from 127.0.0.1: wrong password",
        "user alice locked after 2 failed logins",
        "refused sign-in for locked user alice",
    ] {
        assert!(log.contains(needle), "the log lacks {needle:?}:\n{log}");
    }
    for secret in [
        PW,
        "Bad!guess#1",
        "Bad!guess#2",
        typed_in_the_wrong_field,
        &token,
    ] {
        assert!(!log.contains(secret), "the log holds a secret:\n{log}");
    }
}
