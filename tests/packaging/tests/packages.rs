//! The packages operators install: built once per test run with `scripts/package`, then
//! listed, linted, and the agent's .deb installed on this machine with `dpkg -i`.
//!
//! The build uses a quick profile (`pkgtest`, the dev profile without debug info, defined
//! through cargo's environment) rather than release: the packages' layout, metadata and
//! scripts are the same, and a release build takes too long on a small CI machine.

use sealscan_packaging_tests::repo_root;
use sealscan_test_peers::system::ensure_packages;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};

const VERSION: &str = env!("CARGO_PKG_VERSION");

struct Packages {
    agent_deb: PathBuf,
    control_deb: PathBuf,
    agent_rpm: PathBuf,
    control_rpm: PathBuf,
}

/// Builds the four packages once for all the tests in this file.
fn packages() -> &'static Packages {
    static PACKAGES: OnceLock<Packages> = OnceLock::new();
    PACKAGES.get_or_init(|| {
        ensure_packages(&["rpm", "lintian"]);
        let out = repo_root().join("target/packages-test");
        let _ = std::fs::remove_dir_all(&out);
        let status = Command::new(repo_root().join("scripts/package"))
            .args(["--profile", "pkgtest", "--out"])
            .arg(&out)
            .env("CARGO_PROFILE_PKGTEST_INHERITS", "dev")
            .env("CARGO_PROFILE_PKGTEST_DEBUG", "0")
            .status()
            .expect("running scripts/package");
        assert!(
            status.success(),
            "scripts/package failed ({status}); it needs cargo-deb and cargo-generate-rpm \
             (scripts/install-test-deps installs them)"
        );
        let file = |name: String| {
            let path = out.join(&name);
            assert!(path.is_file(), "scripts/package did not make {name}");
            path
        };
        Packages {
            agent_deb: file(format!("sealscan-agent_{VERSION}-1_amd64.deb")),
            control_deb: file(format!("sealscan-control_{VERSION}-1_amd64.deb")),
            agent_rpm: file(format!("sealscan-agent-{VERSION}-1.x86_64.rpm")),
            control_rpm: file(format!("sealscan-control-{VERSION}-1.x86_64.rpm")),
        }
    })
}

fn run(program: &str, args: &[&str], path: &Path) -> Output {
    let out = Command::new(program)
        .args(args)
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} {} failed: {}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `dpkg-deb -c` lines as (mode, path without the leading ".").
fn deb_listing(deb: &Path) -> Vec<(String, String)> {
    stdout(&run("dpkg-deb", &["-c"], deb))
        .lines()
        .filter_map(|line| {
            let mode = line.split_whitespace().next()?;
            let path = line.split_whitespace().last()?;
            Some((mode.to_owned(), path.trim_start_matches('.').to_owned()))
        })
        .collect()
}

fn assert_files(listing: &[(String, String)], expected: &[(&str, &str)], package: &str) {
    for (path, mode) in expected {
        let found = listing.iter().find(|(_, p)| p == path);
        match found {
            Some((m, _)) => assert_eq!(m, mode, "{package}: mode of {path}"),
            None => panic!("{package} lacks {path}; it holds {listing:#?}"),
        }
    }
}

fn has_man_page(paths: &[String], dir: &str, page: &str) -> bool {
    paths.iter().any(|p| p == &format!("{dir}/{page}.gz"))
}

#[test]
fn agent_deb_holds_binary_unit_snippets_config_and_man_pages() {
    let deb = &packages().agent_deb;
    let listing = deb_listing(deb);
    assert_files(
        &listing,
        &[
            ("/usr/bin/sealscan-agent", "-rwxr-xr-x"),
            ("/etc/sealscan/agent.toml", "-rw-r--r--"),
            ("/lib/systemd/system/sealscan-agent.service", "-rw-r--r--"),
            ("/usr/lib/sysusers.d/sealscan-agent.conf", "-rw-r--r--"),
            ("/usr/lib/tmpfiles.d/sealscan-agent.conf", "-rw-r--r--"),
            ("/usr/share/doc/sealscan-agent/journal.md", "-rw-r--r--"),
            ("/usr/share/doc/sealscan-agent/copyright", "-rw-r--r--"),
        ],
        "sealscan-agent.deb",
    );
    let paths: Vec<String> = listing.into_iter().map(|(_, p)| p).collect();
    for page in ["sealscan-agent.8", "sealscan-agent-check-config.8"] {
        assert!(
            has_man_page(&paths, "/usr/share/man/man8", page),
            "no {page} in {paths:#?}"
        );
    }
    assert!(
        !paths.iter().any(|p| p.contains("sealscan-control")),
        "control-plane files in the agent package: {paths:#?}"
    );

    let conffiles = Command::new("dpkg-deb")
        .arg("--info")
        .arg(deb)
        .arg("conffiles")
        .output()
        .expect("dpkg-deb --info");
    assert_eq!(stdout(&conffiles).trim(), "/etc/sealscan/agent.toml");

    let info = stdout(&run("dpkg-deb", &["--field"], deb));
    assert!(info.contains("Package: sealscan-agent"), "{info}");
    assert!(info.contains("systemd | adduser"), "{info}");
}

#[test]
fn agent_deb_ships_the_tree_files_unchanged() {
    let deb = &packages().agent_deb;
    let dir = tempfile_dir("agent-deb");
    let status = Command::new("dpkg-deb")
        .arg("-x")
        .arg(deb)
        .arg(&dir)
        .status()
        .expect("dpkg-deb -x");
    assert!(status.success());
    for (shipped, source) in [
        (
            "lib/systemd/system/sealscan-agent.service",
            "systemd/sealscan-agent.service",
        ),
        (
            "usr/lib/sysusers.d/sealscan-agent.conf",
            "systemd/sealscan-agent.sysusers.conf",
        ),
        (
            "usr/lib/tmpfiles.d/sealscan-agent.conf",
            "systemd/sealscan-agent.tmpfiles.conf",
        ),
        ("etc/sealscan/agent.toml", "packaging/agent.toml"),
    ] {
        let a = std::fs::read(dir.join(shipped)).expect(shipped);
        let b = std::fs::read(repo_root().join(source)).expect(source);
        assert!(a == b, "{shipped} in the package differs from {source}");
    }
    let unit = std::fs::read_to_string(dir.join("lib/systemd/system/sealscan-agent.service"))
        .expect("unit");
    assert!(
        unit.contains("ExecStart=/usr/bin/sealscan-agent "),
        "the unit must start the packaged binary"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir(name: &str) -> PathBuf {
    let dir = repo_root()
        .join("target/packages-test")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn control_deb_holds_server_cli_unit_snippets_and_man_pages() {
    let deb = &packages().control_deb;
    let listing = deb_listing(deb);
    assert_files(
        &listing,
        &[
            ("/usr/bin/sealscan-control", "-rwxr-xr-x"),
            ("/usr/bin/sealscan", "-rwxr-xr-x"),
            ("/lib/systemd/system/sealscan-control.service", "-rw-r--r--"),
            ("/usr/lib/sysusers.d/sealscan-control.conf", "-rw-r--r--"),
            ("/usr/lib/tmpfiles.d/sealscan-control.conf", "-rw-r--r--"),
        ],
        "sealscan-control.deb",
    );
    let paths: Vec<String> = listing.into_iter().map(|(_, p)| p).collect();
    assert!(has_man_page(
        &paths,
        "/usr/share/man/man8",
        "sealscan-control.8"
    ));
    assert!(has_man_page(
        &paths,
        "/usr/share/man/man8",
        "sealscan-control-serve.8"
    ));
    assert!(has_man_page(&paths, "/usr/share/man/man1", "sealscan.1"));
    // The server reads no configuration file, so none is shipped (or marked as one).
    assert!(!paths.iter().any(|p| p.starts_with("/etc/")), "{paths:#?}");
}

fn rpm_query(rpm: &Path, args: &[&str]) -> String {
    let mut all = vec!["-qp"];
    all.extend_from_slice(args);
    stdout(&run("rpm", &all, rpm))
}

#[test]
fn agent_rpm_holds_the_same_files_and_marks_the_config_noreplace() {
    let rpm = &packages().agent_rpm;
    let files = rpm_query(rpm, &["-l"]);
    for path in [
        "/usr/bin/sealscan-agent",
        "/etc/sealscan/agent.toml",
        "/usr/lib/systemd/system/sealscan-agent.service",
        "/usr/lib/sysusers.d/sealscan-agent.conf",
        "/usr/lib/tmpfiles.d/sealscan-agent.conf",
        "/usr/share/man/man8/sealscan-agent.8.gz",
        "/usr/share/doc/sealscan-agent/journal.md",
    ] {
        assert!(files.lines().any(|l| l == path), "{path} missing: {files}");
    }
    let config = rpm_query(rpm, &["-c"]);
    assert_eq!(config.trim(), "/etc/sealscan/agent.toml");
    // fflags: c = %config, n = noreplace.
    let flags = rpm_query(rpm, &["--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]"]);
    let line = flags
        .lines()
        .find(|l| l.starts_with("/etc/sealscan/agent.toml "))
        .unwrap_or_else(|| panic!("{flags}"));
    assert!(
        line.ends_with(" cn"),
        "agent.toml is not %config(noreplace): {line}"
    );
    let modes = rpm_query(rpm, &["--qf", "[%{FILENAMES} %{FILEMODES:perms}\n]"]);
    assert!(
        modes.contains("/usr/bin/sealscan-agent -rwxr-xr-x"),
        "{modes}"
    );

    let scripts = rpm_query(rpm, &["--scripts"]);
    for needle in [
        "postinstall scriptlet",
        "systemd-sysusers sealscan-agent.conf",
        "useradd --system",
        "preuninstall scriptlet",
        "disable --now sealscan-agent.service",
        "postuninstall scriptlet",
    ] {
        assert!(scripts.contains(needle), "{needle:?} missing: {scripts}");
    }
}

#[test]
fn control_rpm_holds_server_cli_and_unit() {
    let rpm = &packages().control_rpm;
    let files = rpm_query(rpm, &["-l"]);
    for path in [
        "/usr/bin/sealscan-control",
        "/usr/bin/sealscan",
        "/usr/lib/systemd/system/sealscan-control.service",
        "/usr/lib/sysusers.d/sealscan-control.conf",
        "/usr/lib/tmpfiles.d/sealscan-control.conf",
        "/usr/share/man/man8/sealscan-control.8.gz",
        "/usr/share/man/man1/sealscan.1.gz",
    ] {
        assert!(files.lines().any(|l| l == path), "{path} missing: {files}");
    }
    let scripts = rpm_query(rpm, &["--scripts"]);
    assert!(
        scripts.contains("systemd-sysusers sealscan-control.conf"),
        "{scripts}"
    );
}

#[test]
fn lintian_reports_no_errors() {
    let p = packages();
    for deb in [&p.agent_deb, &p.control_deb] {
        let out = Command::new("lintian")
            .args(["--fail-on", "error", "--allow-root"])
            .arg(deb)
            .output()
            .expect("lintian (Debian package lintian) must be installed");
        let report = String::from_utf8_lossy(&out.stdout);
        println!("{}:\n{report}", deb.display());
        assert!(
            out.status.success() && !report.lines().any(|l| l.starts_with("E:")),
            "lintian errors for {}:\n{report}{}",
            deb.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// dpkg allows one installer at a time, and the installs below share the machine's /etc.
static DPKG: Mutex<()> = Mutex::new(());

/// Holds the lock file `sealscan_test_peers::system::ensure_packages` takes around apt-get,
/// so a dpkg run here never meets another test binary's apt-get install.
struct MachineLock {
    // Kept open for the lock's lifetime; closing the file releases the lock.
    _file: std::fs::File,
}

impl MachineLock {
    fn take() -> Self {
        let path = "/tmp/sealscan-test-peers.lock";
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
        // std's lock is flock(2) on Linux, the same lock the test peers take; closing the
        // file releases it.
        file.lock().unwrap_or_else(|e| panic!("flock {path}: {e}"));
        Self { _file: file }
    }
}

/// Purges a package when dropped, so a failed assertion leaves the machine as it was.
struct Installed(&'static str);

impl Drop for Installed {
    fn drop(&mut self) {
        purge(self.0);
    }
}

fn purge(package: &str) {
    let _ = Command::new("dpkg")
        .args(["--purge", package])
        .stdin(Stdio::null())
        .output();
}

fn dpkg_install(deb: &Path) {
    run("dpkg", &["-i"], deb);
}

fn agent(args: &[&str]) -> Output {
    Command::new("/usr/bin/sealscan-agent")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running the installed /usr/bin/sealscan-agent")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const CA_PATH: &str = "/etc/sealscan/ca.pem";
const CONFIG_PATH: &str = "/etc/sealscan/agent.toml";

#[test]
fn agent_deb_installs_runs_keeps_an_edited_config_and_purges() {
    let deb = &packages().agent_deb;
    let _dpkg = DPKG.lock().unwrap_or_else(|e| e.into_inner());
    let _machine = MachineLock::take();
    purge("sealscan-agent");
    let _ = std::fs::remove_file(CA_PATH);
    let installed = Installed("sealscan-agent");
    dpkg_install(deb);

    // The maintainer scripts made the service user and its private state directory.
    let user = Command::new("getent")
        .args(["passwd", "sealscan-agent"])
        .output()
        .expect("getent");
    assert!(
        user.status.success(),
        "no sealscan-agent user after install"
    );
    let passwd = String::from_utf8_lossy(&user.stdout).into_owned();
    assert!(passwd.contains(":/var/lib/sealscan-agent:"), "{passwd}");
    let state = std::fs::metadata("/var/lib/sealscan-agent").expect("state directory");
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(state.permissions().mode() & 0o7777, 0o700);
    let uid: u32 = passwd
        .split(':')
        .nth(2)
        .and_then(|u| u.parse().ok())
        .expect("uid in passwd line");
    assert_eq!(state.uid(), uid, "state directory owner");

    let version = agent(&["--version"]);
    assert!(version.status.success(), "{}", text(&version));
    assert_eq!(text(&version).trim(), format!("sealscan-agent {VERSION}"));

    // The shipped config names a CA file the operator provides: until it exists,
    // check-config says what is wrong.
    let missing = agent(&["check-config"]);
    assert!(!missing.status.success(), "{}", text(&missing));
    assert!(text(&missing).contains("ca_file"), "{}", text(&missing));

    std::fs::write(
        CA_PATH,
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQm9ndXNDZXJ0\n-----END CERTIFICATE-----\n",
    )
    .expect("write the CA file");
    let ok = agent(&["check-config"]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        text(&ok).starts_with(&format!("OK: {CONFIG_PATH}")),
        "{}",
        text(&ok)
    );

    // An operator's edit survives reinstalling the package (dpkg conffile).
    let shipped = std::fs::read_to_string(CONFIG_PATH).expect("installed config");
    let edited = shipped.replace("concurrency = 8", "concurrency = 3");
    assert_ne!(edited, shipped, "the shipped config sets concurrency = 8");
    std::fs::write(CONFIG_PATH, &edited).expect("edit the config");
    dpkg_install(deb);
    assert_eq!(
        std::fs::read_to_string(CONFIG_PATH).expect("config after reinstall"),
        edited,
        "reinstalling replaced an edited /etc/sealscan/agent.toml"
    );
    let ok = agent(&["check-config"]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("concurrency 3,"), "{}", text(&ok));

    assert!(Path::new("/usr/share/man/man8/sealscan-agent.8.gz").is_file());

    std::fs::remove_file(CA_PATH).expect("remove the test CA file");
    drop(installed);
    assert!(
        !Path::new("/usr/bin/sealscan-agent").exists(),
        "binary left after purge"
    );
    assert!(!Path::new(CONFIG_PATH).exists(), "config left after purge");
    assert!(
        !Path::new("/var/lib/sealscan-agent").exists(),
        "state directory left after purge"
    );
}

#[test]
fn control_deb_installs_and_its_binaries_run() {
    let deb = &packages().control_deb;
    let _dpkg = DPKG.lock().unwrap_or_else(|e| e.into_inner());
    let _machine = MachineLock::take();
    purge("sealscan-control");
    let installed = Installed("sealscan-control");
    dpkg_install(deb);
    for binary in ["/usr/bin/sealscan-control", "/usr/bin/sealscan"] {
        let out = Command::new(binary)
            .arg("--version")
            .output()
            .unwrap_or_else(|e| panic!("running {binary}: {e}"));
        assert!(out.status.success(), "{binary}: {}", text(&out));
        assert!(
            text(&out).trim().ends_with(VERSION),
            "{binary}: {}",
            text(&out)
        );
    }
    let state = std::fs::metadata("/var/lib/sealscan-control").expect("data directory");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(state.permissions().mode() & 0o7777, 0o700);
    drop(installed);
    assert!(!Path::new("/usr/bin/sealscan-control").exists());
    assert!(!Path::new("/var/lib/sealscan-control").exists());
}

/// Every system call the packaged agent makes must pass the unit's `SystemCallFilter=`:
/// the agent runs its commands under strace (key generation in the locked arena, config
/// check, an enrollment attempt over TLS to a loopback listener that hangs up, the daemon
/// start without an enrollment), and each call seen is checked against the filter's groups
/// as this machine's systemd expands them.
#[test]
fn agent_system_calls_pass_the_unit_filter() {
    let deb = &packages().agent_deb;
    ensure_packages(&["strace", "systemd"]);
    let dir = tempfile_dir("agent-syscalls");
    let root = dir.join("root");
    let status = Command::new("dpkg-deb")
        .arg("-x")
        .arg(deb)
        .arg(&root)
        .status()
        .expect("dpkg-deb -x");
    assert!(status.success());
    let binary = root.join("usr/bin/sealscan-agent");
    let unit = std::fs::read_to_string(root.join("lib/systemd/system/sealscan-agent.service"))
        .expect("packaged unit");
    let allowed = unit_allowed_syscalls(&unit);
    // The expansion itself: what the arena needs is in, what the deny list names is out.
    for call in ["mlock", "madvise", "prctl", "setrlimit", "connect"] {
        assert!(allowed.contains(call), "{call} not allowed by the unit");
    }
    for call in ["mount", "reboot", "ptrace", "setuid", "init_module"] {
        assert!(!allowed.contains(call), "{call} allowed by the unit");
    }

    let state = dir.join("state");
    std::fs::create_dir(&state).expect("state dir");
    let ca = dir.join("ca.pem");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    std::fs::write(&ca, cert.cert.pem()).expect("write CA");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("port").port();
    // Hang up on whoever connects: the agent's TLS client gets as far as its handshake.
    let hangup = std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            drop(stream);
        }
    });
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "control_plane_url = \"https://127.0.0.1:{port}\"\nca_file = \"{}\"\n\
             state_dir = \"{}\"\nlog = \"stderr\"\n",
            ca.display(),
            state.display()
        ),
    )
    .expect("write config");

    // A host name, so the enrollment resolves it as it would a real control plane's.
    let url = format!("https://localhost:{port}");
    let config_arg = config.display().to_string();
    let state_arg = state.display().to_string();
    let runs: [(&str, Vec<&str>); 4] = [
        ("keygen", vec!["keygen", "--state-dir", &state_arg]),
        (
            "check-config",
            vec!["--config", &config_arg, "check-config"],
        ),
        (
            "enroll",
            vec![
                "--config",
                &config_arg,
                "enroll",
                "--url",
                &url,
                "--token",
                "not-a-real-token",
            ],
        ),
        ("run", vec!["--config", &config_arg, "run"]),
    ];
    let mut seen = std::collections::BTreeMap::<String, &str>::new();
    let mut families = std::collections::BTreeMap::<String, &str>::new();
    for (name, args) in &runs {
        let trace = dir.join(format!("{name}.trace"));
        let out = Command::new("strace")
            .args(["-f", "-qq", "-o"])
            .arg(&trace)
            .arg(&binary)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("strace (Debian package strace) must be installed");
        println!("{name}: {}\n{}", out.status, text(&out));
        if *name == "keygen" || *name == "check-config" {
            assert!(out.status.success(), "{name}: {}", text(&out));
        }
        let trace = std::fs::read_to_string(&trace).expect("strace output");
        for call in traced_calls(&trace) {
            seen.entry(call).or_insert(name);
        }
        for family in socket_families(&trace) {
            families.entry(family).or_insert(name);
        }
    }
    let _ = hangup.join();
    let permitted = unit_address_families(&unit);
    assert!(
        families.contains_key("AF_INET"),
        "no TCP socket traced: {families:?}"
    );
    let refused: Vec<String> = families
        .iter()
        .filter(|(family, _)| !permitted.iter().any(|p| p == *family))
        .map(|(family, run)| format!("{family} (in {run})"))
        .collect();
    assert!(
        refused.is_empty(),
        "socket families the unit's RestrictAddressFamilies refuses: {refused:?}"
    );
    assert!(
        seen.contains_key("mlock"),
        "the arena was not traced: {seen:?}"
    );
    assert!(
        seen.contains_key("connect"),
        "the enrollment did not connect: {seen:?}"
    );
    let refused: Vec<String> = seen
        .iter()
        .filter(|(call, _)| !allowed.contains(call.as_str()))
        .map(|(call, run)| format!("{call} (in {run})"))
        .collect();
    assert!(
        refused.is_empty(),
        "system calls the unit's SystemCallFilter refuses: {refused:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// System-call names in `strace -f` output (`PID name(args) = result`).
fn traced_calls(trace: &str) -> Vec<String> {
    trace
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ');
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let is_call = !name.is_empty() && rest[name.len()..].starts_with('(');
            is_call.then_some(name)
        })
        .collect()
}

/// Address families of the `socket(AF_..., ...)` calls in strace output.
fn socket_families(trace: &str) -> Vec<String> {
    trace
        .lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once(" socket(")?;
            let family = rest.split([',', ')']).next()?;
            Some(family.trim().to_owned())
        })
        .collect()
}

/// The families `RestrictAddressFamilies=` allows (an allow list, as the units use).
fn unit_address_families(unit: &str) -> Vec<String> {
    let families: Vec<String> = unit
        .lines()
        .filter_map(|line| line.strip_prefix("RestrictAddressFamilies="))
        .flat_map(|value| value.split_whitespace().map(str::to_owned))
        .collect();
    assert!(
        !families.is_empty() && !families.iter().any(|f| f.starts_with('~')),
        "the unit should allow-list its address families: {families:?}"
    );
    families
}

/// The calls `SystemCallFilter=` lines allow: the union of the allow lists minus the union
/// of the `~` deny lists, with groups expanded by `systemd-analyze syscall-filter`.
fn unit_allowed_syscalls(unit: &str) -> std::collections::BTreeSet<String> {
    let out = Command::new("systemd-analyze")
        .args(["syscall-filter", "--no-pager"])
        .output()
        .expect("systemd-analyze (Debian package systemd) must be installed");
    assert!(out.status.success(), "{}", text(&out));
    let mut groups = std::collections::BTreeMap::<String, Vec<String>>::new();
    let mut current: Option<String> = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let item = line.trim();
        if item.is_empty() || item.starts_with('#') {
            continue;
        }
        if line.starts_with('@') {
            current = Some(item.to_owned());
            groups.entry(item.to_owned()).or_default();
        } else if let Some(group) = &current {
            groups
                .entry(group.clone())
                .or_default()
                .push(item.to_owned());
        }
    }
    fn expand(
        item: &str,
        groups: &std::collections::BTreeMap<String, Vec<String>>,
        into: &mut std::collections::BTreeSet<String>,
    ) {
        match groups.get(item) {
            Some(members) => {
                for member in members {
                    expand(member, groups, into);
                }
            }
            None if item.starts_with('@') => panic!("unknown syscall group {item}"),
            None => {
                into.insert(item.to_owned());
            }
        }
    }
    let mut allow = std::collections::BTreeSet::new();
    let mut deny = std::collections::BTreeSet::new();
    for line in unit.lines() {
        let Some(value) = line.strip_prefix("SystemCallFilter=") else {
            continue;
        };
        let (set, items) = match value.strip_prefix('~') {
            Some(items) => (&mut deny, items),
            None => (&mut allow, value),
        };
        for item in items.split_whitespace() {
            expand(item, &groups, set);
        }
    }
    assert!(
        !allow.is_empty(),
        "the unit has no SystemCallFilter allow list"
    );
    allow.difference(&deny).cloned().collect()
}
