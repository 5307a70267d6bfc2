//! `sealscan-agent root show|pin` as an operator runs them.

use std::process::Command;

fn agent(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sealscan-agent"))
        .args(args)
        .output()
        .expect("run sealscan-agent");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn pin_once_show_and_refuse_another_root() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (ok, out, _) = agent(&["root", "--state-dir", d, "show"]);
    assert!(ok && out.contains("no root is pinned"), "{out}");
    let fp = "ab".repeat(32);
    let (ok, out, err) = agent(&["root", "--state-dir", d, "pin", &fp]);
    assert!(ok, "{err}");
    assert!(out.contains("pinned root abab-abab"), "{out}");
    let (ok, out, _) = agent(&["root", "--state-dir", d, "show"]);
    assert!(
        ok && out.contains("root abab-abab") && out.contains("trust list 0"),
        "{out}"
    );
    let (ok, out, _) = agent(&["root", "--state-dir", d, "pin", &fp]);
    assert!(ok && out.contains("already pinned"), "{out}");
    let other = "cd".repeat(32);
    let (ok, _, err) = agent(&["root", "--state-dir", d, "pin", &other]);
    assert!(!ok && err.contains("already has the root"), "{err}");
    let (ok, _, err) = agent(&[
        "root",
        "--state-dir",
        d,
        "pin",
        &other,
        "--change",
        "sgn1:AAAA",
    ]);
    assert!(!ok && err.contains("root change is refused"), "{err}");
    let (ok, _, err) = agent(&["root", "--state-dir", d, "pin", "xyz"]);
    assert!(!ok && err.contains("not a root fingerprint"), "{err}");
}
