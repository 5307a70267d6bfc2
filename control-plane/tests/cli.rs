//! Tried as a new user would: the real `sealscan-control init` and `serve` binaries, then the
//! `sealscan` CLI against them, with secrets on stdin only.
mod common;

use common::cli::*;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

#[test]
fn init_serve_login_and_the_cli_commands() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let cfg = tmp.path().join("cfg");
    let init = |stdin: &str| init(&data, stdin);
    let weak = init("alice123\n");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password."));
    assert!(init(&format!("{PW}\n")).status.success());
    let again = init(&format!("{PW}\n"));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a subscription"));

    let served = serve(&data);
    assert!(
        served
            .printed
            .iter()
            .any(|l| l.contains("SHA-256 fingerprint")),
        "{:?}",
        served.printed
    );
    assert!(
        served
            .printed
            .iter()
            .any(|l| l.contains("created a self-signed certificate")),
        "{:?}",
        served.printed
    );
    let ca = data.join("tls/cert.pem");
    let ca = ca.to_str().expect("utf8");

    fails(&run(&cfg, &["whoami"], ""), "sealscan login");
    fails(
        &run(
            &cfg,
            &[
                "login",
                "--url",
                &served.url,
                "--ca-file",
                ca,
                "--user",
                "alice",
            ],
            "Wrong!pw9x\n",
        ),
        "login.failed",
    );
    fails(
        &run(
            &cfg,
            &[
                "login",
                "--url",
                &served.url.replace("https", "http"),
                "--ca-file",
                ca,
                "--user",
                "alice",
            ],
            "x\n",
        ),
        "https://",
    );
    let out = ok(&run(
        &cfg,
        &[
            "login",
            "--url",
            &served.url,
            "--ca-file",
            ca,
            "--user",
            "alice",
        ],
        &format!("{PW}\n"),
    ));
    assert!(out.contains("signed in"), "{out}");
    let mode = std::fs::metadata(cfg.join("session"))
        .expect("session file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let who = ok(&run(&cfg, &["whoami"], ""));
    assert!(who.contains("alice") && who.contains("manager"), "{who}");
    let created = ok(&run(
        &cfg,
        &[
            "--json",
            "users",
            "create",
            "--username",
            "bob",
            "--first-name",
            "Bob",
            "--last-name",
            "Jones",
            "--email",
            "bob@example.com",
            "--role",
            "scanner",
        ],
        "",
    ));
    let created: serde_json::Value = serde_json::from_str(&created).expect("json");
    assert!(
        created["generated_password"]
            .as_str()
            .is_some_and(|p| p.len() >= 16)
    );
    fails(
        &run(
            &cfg,
            &[
                "users",
                "create",
                "--username",
                "bad",
                "--first-name",
                "B",
                "--last-name",
                "J",
                "--email",
                "b@example.com",
                "--role",
                "boss",
            ],
            "",
        ),
        "unknown role",
    );
    fails(
        &run(
            &cfg,
            &[
                "users",
                "create",
                "--username",
                "eve",
                "--first-name",
                "Eve",
                "--last-name",
                "J",
                "--email",
                "not-an-email",
                "--role",
                "reader",
            ],
            "",
        ),
        "user.email-invalid",
    );
    let list = ok(&run(&cfg, &["users", "list"], ""));
    assert!(
        list.lines().next().is_some_and(|h| h.starts_with("ID")),
        "{list}"
    );
    assert!(list.contains("bob") && list.contains("scanner"));
    ok(&run(&cfg, &["users", "show", "bob"], ""));
    fails(
        &run(&cfg, &["users", "show", "nobody"], ""),
        "user.not-found",
    );
    assert!(ok(&run(&cfg, &["users", "lock", "bob"], "")).contains("locked"));
    assert!(ok(&run(&cfg, &["users", "unlock", "bob"], "")).contains("active"));
    assert!(ok(&run(&cfg, &["users", "set-role", "bob", "reader"], "")).contains("reader"));
    // The records permission: only a Unit Manager holds it; show and list say so.
    fails(
        &run(&cfg, &["users", "records-permission", "bob", "on"], ""),
        "records-permission.role",
    );
    ok(&run(
        &cfg,
        &["users", "set-role", "bob", "unit-manager"],
        "",
    ));
    assert!(
        ok(&run(
            &cfg,
            &["users", "records-permission", "bob", "on"],
            ""
        ))
        .contains("records permission on")
    );
    let shown = ok(&run(&cfg, &["users", "show", "bob"], ""));
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("records_permission ") && l.trim_end().ends_with("true")),
        "{shown}"
    );
    let list = ok(&run(&cfg, &["users", "list"], ""));
    assert!(
        list.lines()
            .any(|l| l.contains("bob") && l.contains("records")),
        "{list}"
    );
    ok(&run(
        &cfg,
        &["users", "records-permission", "bob", "off"],
        "",
    ));
    ok(&run(&cfg, &["users", "set-role", "bob", "reader"], ""));
    ok(&run(
        &cfg,
        &[
            "security",
            "set",
            "--user-defined-passwords",
            "true",
            "--lockout-failed-logins",
            "5",
            "--role-session-timeout",
            "reader=20",
        ],
        "",
    ));
    // User-defined passwords are on now: the CLI asks for the new user's password.
    let carol = ok(&run(
        &cfg,
        &[
            "users",
            "create",
            "--username",
            "carol",
            "--first-name",
            "Carol",
            "--last-name",
            "King",
            "--email",
            "carol@example.com",
            "--role",
            "reader",
        ],
        "Pk3@vNs7!Yq\n",
    ));
    assert!(
        carol.contains("created user carol") && !carol.contains("generated"),
        "{carol}"
    );
    fails(
        &run(&cfg, &["security", "set", "--session-timeout", "5"], ""),
        "session-timeout.range",
    );
    fails(&run(&cfg, &["security", "set"], ""), "nothing to change");
    let show = ok(&run(&cfg, &["security", "show"], ""));
    assert!(
        show.contains("lockout_failed_logins") && show.contains('5'),
        "{show}"
    );
    fails(
        &run(
            &cfg,
            &["security", "allowlist", "set", "--enable", "10.0.0.0/8"],
            "",
        ),
        "allowlist.excludes-caller",
    );
    ok(&run(
        &cfg,
        &["security", "allowlist", "set", "--enable", "127.0.0.0/8"],
        "",
    ));
    assert!(ok(&run(&cfg, &["security", "allowlist", "show"], "")).contains("127.0.0.0/8"));
    fails(
        &run(&cfg, &["password", "check"], "abc\n"),
        "breaks the rules",
    );
    ok(&run(&cfg, &["password", "check"], "Tr7!kq9Lm\n"));
    ok(&run(
        &cfg,
        &["users", "reset-password", "bob", "--set-password"],
        "Gt5%nRw8!Kd\n",
    ));

    // Bob signs in with his own profile: the reset forces a change at this login.
    let bob_cfg = tmp.path().join("bob");
    let out = ok(&run(
        &bob_cfg,
        &[
            "login",
            "--url",
            &served.url,
            "--ca-file",
            ca,
            "--user",
            "bob",
        ],
        "Gt5%nRw8!Kd\nHb6#xTq2!Vm\n",
    ));
    assert!(out.contains("signed in"), "{out}");
    fails(&run(&bob_cfg, &["users", "list"], ""), "role.forbidden");

    // 2FA enrolment: read the secret the CLI prints, answer with the current code.
    let mut child = Command::new(&*CLI)
        .env("SEALSCAN_CONFIG_DIR", &bob_cfg)
        .args(["2fa", "enroll"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("2fa");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let secret = loop {
        let line = lines.next().expect("a secret line").expect("line");
        if let Some(s) = line.trim().strip_prefix("secret: ") {
            break s.to_string();
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    let code = sealscan_control::api::twofa::code_for(&secret, now).expect("code");
    writeln!(stdin, "{code}").expect("code");
    drop(stdin);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(child.wait().expect("exit").success(), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("two-factor login is on")),
        "{rest:?}"
    );

    assert!(ok(&run(&cfg, &["audit"], "")).contains("user.locked"));
    ok(&run(&cfg, &["logout"], ""));
    fails(&run(&cfg, &["whoami"], ""), "sealscan login");
}
