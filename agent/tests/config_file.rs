//! The agent configuration: what is accepted, what is refused and how the refusal reads.

use sealscan_agent::config::{Config, DEFAULT_STATE_DIR, LogTarget};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA file the parser accepts: one PEM certificate block (its DER is not inspected here).
fn ca_file(dir: &Path) -> PathBuf {
    let path = dir.join("ca.pem");
    std::fs::write(
        &path,
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQm9ndXNDZXJ0\n-----END CERTIFICATE-----\n",
    )
    .expect("write ca");
    path
}

fn minimal(ca: &Path) -> String {
    format!(
        "control_plane_url = \"https://cp.example.net:8443\"\nca_file = \"{}\"\n",
        ca.display()
    )
}

fn parse(text: &str) -> Result<Config, String> {
    Config::parse(text, Path::new("/etc/sealscan/agent.toml")).map_err(|e| e.to_string())
}

#[test]
fn minimal_file_gets_the_documented_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = ca_file(dir.path());
    let config = parse(&minimal(&ca)).expect("valid");
    assert_eq!(
        config.control_plane_url.as_str(),
        "https://cp.example.net:8443/"
    );
    assert_eq!(config.ca_file, ca);
    assert_eq!(config.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
    assert_eq!(config.concurrency, 8);
    assert_eq!(
        (
            config.timeouts.unix_secs,
            config.timeouts.windows_secs,
            config.timeouts.vault_secs
        ),
        (30, 30, 30)
    );
    assert_eq!(config.log, LogTarget::Auto);
}

#[test]
fn every_key_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = ca_file(dir.path());
    let text = format!(
        "{}state_dir = \"/srv/agent\"\nconcurrency = 256\nlog = \"stderr\"\n\
         [timeouts]\nunix_secs = 1\nwindows_secs = 600\nvault_secs = 300\n",
        minimal(&ca)
    );
    let config = parse(&text).expect("valid");
    assert_eq!(config.state_dir, PathBuf::from("/srv/agent"));
    assert_eq!(config.concurrency, 256);
    assert_eq!(config.log, LogTarget::Stderr);
    assert_eq!(
        (
            config.timeouts.unix_secs,
            config.timeouts.windows_secs,
            config.timeouts.vault_secs
        ),
        (1, 600, 300)
    );
    assert_eq!(
        parse(&format!("{}log = \"journal\"\n", minimal(&ca)))
            .expect("journal")
            .log,
        LogTarget::Journal
    );
}

/// Each case: the file's text, the key the error must name, and a phrase it must contain.
#[test]
fn bad_values_are_refused_naming_the_key_and_what_is_expected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = ca_file(dir.path());
    let ca_line = format!("ca_file = \"{}\"\n", ca.display());
    let url_line = "control_plane_url = \"https://cp.example.net\"\n";
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").expect("write");
    let with = |extra: &str| format!("{url_line}{ca_line}{extra}");

    let cases: Vec<(String, &str, &str)> = vec![
        (ca_line.clone(), "control_plane_url", "is missing"),
        (
            format!("control_plane_url = \"http://cp.example.net\"\n{ca_line}"),
            "control_plane_url",
            "only https:// is allowed",
        ),
        (
            format!("control_plane_url = \"cp.example.net\"\n{ca_line}"),
            "control_plane_url",
            "is not a URL",
        ),
        (
            format!("control_plane_url = \"https://user:pw@cp.example.net\"\n{ca_line}"),
            "control_plane_url",
            "user name or password",
        ),
        (
            format!("control_plane_url = \"https://cp.example.net/?a=b\"\n{ca_line}"),
            "control_plane_url",
            "query or fragment",
        ),
        (url_line.to_owned(), "ca_file", "is missing"),
        (
            format!("{url_line}ca_file = \"ca.pem\"\n"),
            "ca_file",
            "not an absolute path",
        ),
        (
            format!("{url_line}ca_file = \"/nonexistent/ca.pem\"\n"),
            "ca_file",
            "cannot be read",
        ),
        (
            format!("{url_line}ca_file = \"{}\"\n", empty.display()),
            "ca_file",
            "holds no PEM certificate",
        ),
        (
            with("state_dir = \"var/lib/x\"\n"),
            "state_dir",
            "not an absolute path",
        ),
        (
            with("concurrency = 0\n"),
            "concurrency",
            "expected an integer from 1 to 256",
        ),
        (
            with("concurrency = 257\n"),
            "concurrency",
            "expected an integer from 1 to 256",
        ),
        (
            with("concurrency = \"8\"\n"),
            "concurrency",
            "= \"8\" is a string, not a whole number: expected an integer from 1 to 256",
        ),
        (
            with("[timeouts]\nunix_secs = 2.5\n"),
            "timeouts.unix_secs",
            "is a float, not a whole number",
        ),
        (
            with("[timeouts]\nunix_secs = 0\n"),
            "timeouts.unix_secs",
            "from 1 to 600",
        ),
        (
            with("[timeouts]\nwindows_secs = 601\n"),
            "timeouts.windows_secs",
            "from 1 to 600",
        ),
        (
            with("[timeouts]\nvault_secs = 301\n"),
            "timeouts.vault_secs",
            "from 1 to 300",
        ),
        (
            with("[timeouts]\nvault_secs = -5\n"),
            "timeouts.vault_secs",
            "from 1 to 300",
        ),
        (
            with("log = \"syslog\"\n"),
            "log",
            "expected one of `auto`, `journal`, `stderr`",
        ),
        (
            with("concurency = 4\n"),
            "concurency",
            "unknown field `concurency`",
        ),
        (
            with("[timeouts]\nssh_secs = 4\n"),
            "ssh_secs",
            "unknown field `ssh_secs`",
        ),
        (
            with("[vault]\nurl = \"x\"\n"),
            "vault",
            "unknown field `vault`",
        ),
        (
            with("concurrency = 4\nconcurrency = 5\n"),
            "concurrency",
            "duplicate key",
        ),
    ];
    for (text, key, phrase) in cases {
        let err = parse(&text).expect_err(&format!("accepted:\n{text}"));
        assert!(
            err.contains(key),
            "error does not name {key}:\n{err}\nfor:\n{text}"
        );
        assert!(
            err.contains(phrase),
            "error lacks {phrase:?}:\n{err}\nfor:\n{text}"
        );
        assert!(err.starts_with("/etc/sealscan/agent.toml"), "{err}");
    }
}

#[test]
fn url_password_is_not_echoed_in_the_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = ca_file(dir.path());
    let text = format!(
        "control_plane_url = \"https://admin:Hunter2Secret@cp.example.net\"\nca_file = \"{}\"\n",
        ca.display()
    );
    let err = parse(&text).expect_err("refused");
    assert!(!err.contains("Hunter2Secret"), "{err}");
}

#[test]
fn shipped_example_is_valid_once_its_ca_file_exists() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/agent.toml");
    let text = std::fs::read_to_string(&example).expect("packaging/agent.toml");
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = ca_file(dir.path());
    let text = text.replace("/etc/sealscan/ca.pem", &ca.display().to_string());
    let config = parse(&text).expect("the example parses");
    assert_eq!(config.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
}

fn agent() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sealscan-agent"))
}

#[test]
fn check_config_reports_ok_in_one_line_or_the_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = ca_file(dir.path());
    let good = dir.path().join("good.toml");
    std::fs::write(&good, minimal(&ca)).expect("write");
    let out = agent()
        .arg("--config")
        .arg(&good)
        .arg("check-config")
        .output()
        .expect("run agent");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with(&format!(
            "OK: {}: control plane https://cp.example.net:8443/",
            good.display()
        )),
        "{stdout}"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, format!("{}concurrency = 0\n", minimal(&ca))).expect("write");
    let out = agent()
        .args(["check-config", "--config"])
        .arg(&bad)
        .output()
        .expect("run agent");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains("`concurrency` = 0 is out of range: expected an integer from 1 to 256"),
        "{stderr}"
    );

    let missing = dir.path().join("missing.toml");
    let out = agent()
        .arg("--config")
        .arg(&missing)
        .arg("check-config")
        .output()
        .expect("run agent");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr.contains("cannot read the configuration"), "{stderr}");
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
}

fn check_config(config: &Path) -> std::process::Output {
    agent()
        .arg("--config")
        .arg(config)
        .arg("check-config")
        .output()
        .expect("run agent")
}

#[test]
fn wrong_types_are_named_in_the_files_terms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = ca_file(dir.path());
    for (extra, key, phrase) in [
        ("timeouts = 5\n", "`timeouts`", "not a table"),
        (
            "log = 5\n",
            "`log`",
            "is not a string (it is of type integer): expected one of `auto`",
        ),
        (
            "log = \"syslog\"\n",
            "`log`",
            "\"syslog\" is not a log target",
        ),
        (
            "[timeouts]\nunix = 5\n",
            "[timeouts]",
            "unknown field `unix`",
        ),
    ] {
        let err = parse(&format!("{}{extra}", minimal(&ca))).expect_err("refused");
        assert!(err.contains(key), "{err}");
        assert!(err.contains(phrase), "{phrase:?} missing in {err}");
        for internal in [
            "RawTimeouts",
            "RawConfig",
            "LogTarget",
            "wanted string or table",
        ] {
            assert!(!err.contains(internal), "{internal} in {err}");
        }
    }
}

#[test]
fn url_with_a_password_is_shown_with_scheme_host_and_port() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = ca_file(dir.path());
    let text = format!(
        "control_plane_url = \"https://admin:Hunter2Secret@cp.example.net:8443/api\"\n\
         ca_file = \"{}\"\n",
        ca.display()
    );
    let err = parse(&text).expect_err("refused");
    assert!(!err.contains("Hunter2Secret"), "{err}");
    assert!(!err.contains("admin"), "{err}");
    assert!(err.contains("https://cp.example.net:8443/api"), "{err}");
}

#[test]
fn a_directory_or_non_utf8_config_is_not_told_to_be_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = check_config(dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr.contains("is a directory"), "{stderr}");
    assert!(!stderr.contains("Create it"), "{stderr}");

    let latin1 = dir.path().join("latin1.toml");
    std::fs::write(&latin1, b"# r\xe9seau\nconcurrency = 4\n").expect("write");
    let out = check_config(&latin1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr.contains("is not UTF-8"), "{stderr}");
    assert!(!stderr.contains("Create it"), "{stderr}");
}

#[test]
fn check_config_refuses_an_identity_key_others_can_read_as_run_does() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = ca_file(dir.path());
    let state = dir.path().join("state");
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!("{}state_dir = \"{}\"\n", minimal(&ca), state.display()),
    )
    .expect("write");

    let out = check_config(&config);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no identity key yet"),
        "{out:?}"
    );

    // `check-config | head -0`: a reader that has gone is no error and no panic.
    let (reader, writer) = nix::unistd::pipe().expect("pipe");
    drop(reader);
    let out = agent()
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .stdout(std::process::Stdio::from(writer))
        .output()
        .expect("run agent");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");

    let keygen = agent()
        .arg("--config")
        .arg(&config)
        .arg("keygen")
        .output()
        .expect("keygen");
    assert!(keygen.status.success(), "{keygen:?}");
    assert!(check_config(&config).status.success());

    let key = state.join("identity.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = check_config(&config);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(
        stderr.contains(&format!("chmod 600 {}", key.display())),
        "{stderr}"
    );
}
