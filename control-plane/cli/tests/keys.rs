//! `sealscan keys create|show` as a person runs them: the key file is made in the profile
//! directory from a passphrase read on stdin, shown without it, and never made twice.

use std::io::Write;
use std::process::{Command, Stdio};

fn sealscan(dir: &std::path::Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealscan"))
        .args(args)
        .env("SEALSCAN_CONFIG_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sealscan");
    // A command refused before it reads its input closes the pipe first: not this call's failure.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn keys_create_then_show() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = sealscan(dir.path(), &["keys", "show"], "");
    assert!(!ok && err.contains("sealscan keys create"), "{err}");
    let (ok, _, err) = sealscan(
        dir.path(),
        &["--password-stdin", "keys", "create"],
        "short\n",
    );
    assert!(!ok && err.contains("shorter than"), "{err}");
    let pass = "a long enough passphrase\n";
    let (ok, out, err) = sealscan(dir.path(), &["--password-stdin", "keys", "create"], pass);
    assert!(ok, "{err}");
    assert!(out.contains("fingerprint: "), "{out}");
    assert!(!out.contains("a long enough") && !err.contains("a long enough"));
    let fingerprint = out
        .lines()
        .find(|l| l.starts_with("fingerprint"))
        .unwrap()
        .to_string();
    let (ok, shown, err) = sealscan(dir.path(), &["keys", "show"], "");
    assert!(ok, "{err}");
    assert!(shown.contains(&fingerprint), "{shown}");
    let (ok, _, err) = sealscan(dir.path(), &["--password-stdin", "keys", "create"], pass);
    assert!(!ok && err.contains("already exists"), "{err}");
}
