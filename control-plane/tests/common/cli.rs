//! The real binaries, as an operator runs them: `sealscan-control init` and `serve` in a temp
//! data dir, and the `sealscan` CLI with its own config dir, secrets on stdin only.
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

pub const CONTROL: &str = env!("CARGO_BIN_EXE_sealscan-control");
/// The `sealscan` CLI is another package's binary (sealscan-cli), which cargo builds beside
/// this one only when told: `scripts/test` runs `cargo build --workspace --bins` first; a narrow run
/// needs `cargo build -p sealscan-cli`.
pub static CLI: std::sync::LazyLock<std::path::PathBuf> = std::sync::LazyLock::new(|| {
    let dir = std::path::Path::new(CONTROL)
        .parent()
        .expect("the binaries' directory");
    let cli = dir.join("sealscan");
    assert!(
        cli.is_file(),
        "{} is missing: build it with `cargo build -p sealscan-cli` (scripts/test does)",
        cli.display()
    );
    cli
});
/// The Primary Contact's password in these tests.
pub const PW: &str = "Vq7!mZp4#Lw";

/// A running `sealscan-control serve`; killed when dropped.
pub struct Served {
    pub child: Child,
    /// https://127.0.0.1:PORT (without /api/v1).
    pub url: String,
    /// What the server printed before its address.
    pub printed: Vec<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `sealscan-control init` for alice (the Primary Contact), the password from stdin.
pub fn init(data: &Path, stdin: &str) -> Output {
    let mut c = Command::new(CONTROL)
        .arg("--data-dir")
        .arg(data)
        .args([
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
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sealscan-control init");
    c.stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    c.wait_with_output().expect("init output")
}

/// `sealscan-control serve` on a free loopback port, once it has printed its address.
pub fn serve(data: &Path) -> Served {
    let mut child = Command::new(CONTROL)
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn sealscan-control serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    let url = loop {
        let line = lines
            .next()
            .expect("the server prints its address before anything else happens")
            .expect("line");
        if let Some(rest) = line.strip_prefix("listening on ") {
            break rest.trim_end_matches("/api/v1").to_string();
        }
        printed.push(line);
    };
    Served {
        child,
        url,
        printed,
    }
}

pub fn init_and_serve(data: &Path) -> Served {
    let out = init(data, &format!("{PW}\n"));
    assert!(
        out.status.success(),
        "init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serve(data)
}

/// `sealscan ARGS` with `stdin` as its whole standard input.
pub fn run(cfg: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(&*CLI)
        .env("SEALSCAN_CONFIG_DIR", cfg)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sealscan");
    // A command refused before it reads its input closes the pipe first: not an error here.
    if let Err(e) = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        panic!("write stdin: {e}");
    }
    child.wait_with_output().expect("output")
}

/// `sealscan login` as alice with the test password.
pub fn login(cfg: &Path, served: &Served, ca: &Path) -> String {
    ok(&run(
        cfg,
        &[
            "login",
            "--url",
            &served.url,
            "--ca-file",
            ca.to_str().expect("utf8 path"),
            "--user",
            "alice",
        ],
        &format!("{PW}\n"),
    ))
}

/// The standard output of a command that must succeed.
#[track_caller]
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A command that must fail, saying `needle` on standard error.
#[track_caller]
pub fn fails(o: &Output, needle: &str) {
    assert!(
        !o.status.success(),
        "should fail: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(needle), "stderr {err:?} lacks {needle:?}");
}
