//! OpenSSH sshd on loopback: a foreground server on a free high port, started as root from a
//! temporary sshd_config and host key, so tests never touch the machine's own sshd setup.
//!
//! sshd runs with `-D -e`: everything it logs (LogLevel VERBOSE, per-connection children
//! included) arrives on its stderr, which a reader thread copies into `sshd.log` in the
//! temporary directory. That log is what tests read to prove whether an attempt reached the
//! peer at all.

use crate::system::{ensure_packages, free_loopback_port, is_root};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

const SSHD: &str = "/usr/sbin/sshd";
const READY: &str = "Server listening on";

/// How the server is configured. Public-key authentication is always on.
#[derive(Clone, Debug)]
pub struct SshdOptions {
    /// `PasswordAuthentication`.
    pub password: bool,
    /// `KbdInteractiveAuthentication` through PAM (`UsePAM yes`). With PAM on, a locked
    /// account is no longer refused by sshd itself, so leave this off for lock-out tests.
    pub keyboard_interactive: bool,
    /// `ForceCommand`: what every session runs instead of the client's command, to play a
    /// restricted or misbehaving shell.
    pub force_command: Option<String>,
    /// `HostCertificate`: the host key, signed at start by this CA, is also presented as an
    /// OpenSSH host certificate.
    pub host_certificate: Option<HostCertificate>,
}

/// How [`SshdOptions::host_certificate`] is signed (`ssh-keygen -s CA -h -n PRINCIPALS -V
/// VALIDITY`).
#[derive(Clone)]
pub struct HostCertificate {
    /// The CA's private key file.
    pub ca_private: Vec<u8>,
    /// Comma-separated principals (host names or addresses).
    pub principals: String,
    /// ssh-keygen's `-V` interval, e.g. `-5m:+1h` or `20200101:20200102`.
    pub validity: String,
}

impl std::fmt::Debug for HostCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostCertificate")
            .field("principals", &self.principals)
            .field("validity", &self.validity)
            .finish_non_exhaustive()
    }
}

impl Default for SshdOptions {
    fn default() -> Self {
        Self {
            password: true,
            keyboard_interactive: false,
            force_command: None,
            host_certificate: None,
        }
    }
}

impl SshdOptions {
    /// A server that accepts passwords only through keyboard-interactive (PAM), as many
    /// hardened servers do.
    pub fn keyboard_interactive_only() -> Self {
        Self {
            password: false,
            keyboard_interactive: true,
            force_command: None,
            host_certificate: None,
        }
    }
}

/// A running sshd; killed when dropped.
pub struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
    address: String,
    port: u16,
    log: Arc<Log>,
    /// Source ports of `settle_log` probes, left out of `connections`.
    probes: Mutex<Vec<u16>>,
}

/// sshd's stderr as it arrives, for tests that wait for a line instead of sleeping.
#[derive(Default)]
struct Log {
    state: Mutex<LogState>,
    changed: Condvar,
}

#[derive(Default)]
struct LogState {
    lines: Vec<String>,
    ready: bool,
    closed: bool,
}

impl Sshd {
    /// Installs openssh-server if needed, writes the configuration and starts sshd; returns
    /// once it prints "Server listening on". Panics with sshd's own words when it does not
    /// come up.
    pub fn start(options: &SshdOptions) -> Sshd {
        Self::start_at(options, "127.0.0.1", None)
    }

    /// [`Sshd::start`] listening on `address` (a loopback address), on `port` when given
    /// (e.g. the port of an sshd that was stopped, to play a replaced host on the same
    /// address and port), else on a free port. Each start makes a new host key.
    pub fn start_at(options: &SshdOptions, address: &str, port: Option<u16>) -> Sshd {
        ensure_packages(&["openssh-server"]);
        assert!(
            is_root(),
            "the sshd peer must run as root: an unprivileged sshd can only log in as its own user"
        );
        // sshd refuses to start without its privilege-separation directory.
        fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        let dir = tempfile::Builder::new()
            .prefix("sealscan-sshd-")
            .tempdir()
            .expect("temp dir for sshd");
        // Public-key checks read the authorized_keys file as the target user, who must be
        // able to reach it.
        set_mode(dir.path(), 0o755);
        let keys_dir = dir.path().join("authorized_keys");
        fs::create_dir(&keys_dir).expect("create authorized_keys dir");
        set_mode(&keys_dir, 0o755);
        // sshd reads it at each certificate login: empty until a test trusts a CA.
        fs::write(dir.path().join("user_ca.pub"), "").expect("write user_ca.pub");
        let host_key = dir.path().join("hostkey");
        let status = Command::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "sealscan-test-host",
                "-f",
            ])
            .arg(&host_key)
            .status()
            .expect("run ssh-keygen for the host key");
        assert!(status.success(), "ssh-keygen for the host key failed");
        if let Some(cert) = &options.host_certificate {
            sign_host_certificate(dir.path(), cert);
        }

        // The port is free a moment before sshd binds it; another process may take it in
        // between, so a bind failure gets a fresh port.
        let mut last_words = String::new();
        for _ in 0..5 {
            let port = port.unwrap_or_else(free_loopback_port);
            let config = dir.path().join("sshd_config");
            fs::write(&config, config_text(options, dir.path(), address, port))
                .expect("write sshd_config");
            match spawn(&config, &dir.path().join("sshd.log")) {
                Ok((child, log)) => {
                    return Sshd {
                        child,
                        dir,
                        address: address.to_string(),
                        port,
                        log,
                        probes: Mutex::new(Vec::new()),
                    };
                }
                Err(words) => last_words = words,
            }
        }
        panic!("sshd did not start; it said:\n{last_words}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// The temporary directory holding the configuration, host key and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's host public key line (`ssh-ed25519 AAAA... comment`).
    pub fn host_public_key(&self) -> String {
        fs::read_to_string(self.dir.path().join("hostkey.pub")).expect("read host public key")
    }

    /// The SHA-256 fingerprint of the host key as OpenSSH prints it (`SHA256:...`).
    pub fn host_key_fingerprint(&self) -> String {
        let out = Command::new("ssh-keygen")
            .args(["-E", "sha256", "-l", "-f"])
            .arg(self.dir.path().join("hostkey.pub"))
            .output()
            .expect("run ssh-keygen -l");
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .nth(1)
            .unwrap_or_else(|| panic!("unexpected ssh-keygen -l output: {text}"))
            .to_string()
    }

    /// Lets `public_key_line` (an `authorized_keys` line) log in as `user`.
    pub fn authorize_key(&self, user: &str, public_key_line: &str) {
        let path = self.dir.path().join("authorized_keys").join(user);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("open authorized_keys file");
        writeln!(file, "{}", public_key_line.trim()).expect("write authorized_keys");
        set_mode(&path, 0o644);
    }

    /// Trusts `ca_public_line` to sign user certificates (`TrustedUserCAKeys`).
    pub fn trust_user_ca(&self, ca_public_line: &str) {
        let path = self.dir.path().join("user_ca.pub");
        fs::write(&path, format!("{}\n", ca_public_line.trim())).expect("write user_ca.pub");
        set_mode(&path, 0o644);
    }

    /// Everything sshd has logged so far (LogLevel VERBOSE).
    pub fn auth_log(&self) -> String {
        let state = self.log.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = state.lines.join("\n");
        text.push('\n');
        text
    }

    /// Blocks until sshd logs a line for which `wanted` holds, and returns it. sshd's children
    /// log on their own schedule, so a test reads a decision this way rather than racing it.
    /// Panics with the whole log if sshd exits first.
    pub fn wait_for_line(&self, wanted: impl Fn(&str) -> bool) -> String {
        self.wait_for_lines(wanted, 1).swap_remove(0)
    }

    /// Blocks until sshd has logged at least `count` lines for which `wanted` holds, and
    /// returns them all.
    pub fn wait_for_lines(&self, wanted: impl Fn(&str) -> bool, count: usize) -> Vec<String> {
        let mut state = self.log.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let found: Vec<String> = state.lines.iter().filter(|l| wanted(l)).cloned().collect();
            if found.len() >= count.max(1) {
                return found;
            }
            assert!(
                !state.closed,
                "sshd exited before logging {count} expected line(s); its log:\n{}",
                state.lines.join("\n")
            );
            state = self
                .log
                .changed
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Blocks until sshd has logged an authentication decision about `user` containing
    /// `word` (e.g. "Accepted", "Failed", "Invalid user", "not allowed"), and returns it.
    pub fn wait_for_attempt(&self, user: &str, word: &str) -> String {
        self.wait_for_line(|line| is_attempt_for(line, user) && line.contains(word))
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("sshd.log")
    }

    /// The log lines that record an authentication decision about `user`: accepted or failed
    /// methods, unknown users, refused accounts. Connection-level lines are left out.
    pub fn attempts_for(&self, user: &str) -> Vec<String> {
        self.auth_log()
            .lines()
            .filter(|line| is_attempt_for(line, user))
            .map(str::to_string)
            .collect()
    }

    /// Lines with `Accepted ... for user`: successful logins.
    pub fn accepted_for(&self, user: &str) -> Vec<String> {
        self.attempts_for(user)
            .into_iter()
            .filter(|l| l.contains("Accepted"))
            .collect()
    }

    /// How many TCP connections reached sshd ("Connection from" lines), `settle_log` probes
    /// left out.
    pub fn connections(&self) -> usize {
        let probes = self
            .probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.auth_log()
            .lines()
            .filter(|l| l.contains("Connection from"))
            .filter(|l| !probes.iter().any(|p| l.contains(&probe_marker(*p))))
            .count()
    }

    /// Returns once sshd's log holds everything sshd wrote before this call, so a test can
    /// assert that something was *not* logged. sshd logs an authentication decision before
    /// it answers the client, so once a client has its answer, a probe connection made
    /// afterwards is logged after that decision, and the log is a FIFO pipe.
    pub fn settle_log(&self) {
        let probe =
            TcpStream::connect((self.address.as_str(), self.port)).expect("probe connection");
        let port = probe.local_addr().expect("probe address").port();
        self.probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(port);
        drop(probe);
        let marker = probe_marker(port);
        self.wait_for_line(|l| l.contains("Connection from") && l.contains(&marker));
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection's line names the client's port before the server's address (`Connection from
/// 127.0.0.1 port P on 127.0.0.61 port 22`); clients to any loopback address come from
/// 127.0.0.1.
fn probe_marker(port: u16) -> String {
    format!(" port {port} on ")
}

fn is_attempt_for(line: &str, user: &str) -> bool {
    let about_user = [
        format!("for {user} from"),
        format!("for invalid user {user} from"),
        format!("Invalid user {user} from"),
        format!("User {user} not allowed"),
    ]
    .iter()
    .any(|m| line.contains(m.as_str()));
    about_user
        && [
            "Accepted",
            "Failed",
            "Invalid user",
            "not allowed",
            "Postponed",
        ]
        .iter()
        .any(|w| line.contains(w))
}

fn config_text(options: &SshdOptions, dir: &Path, address: &str, port: u16) -> String {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let dir = dir.display();
    let force = options
        .force_command
        .as_ref()
        .map(|c| format!("ForceCommand {c}\n"))
        .unwrap_or_default();
    let host_certificate = if options.host_certificate.is_some() {
        format!("HostCertificate {dir}/hostkey-cert.pub\n")
    } else {
        String::new()
    };
    let text = format!(
        "Port {port}\n\
         ListenAddress {address}\n\
         HostKey {dir}/hostkey\n\
         PidFile {dir}/sshd.pid\n\
         LogLevel VERBOSE\n\
         PasswordAuthentication {password}\n\
         KbdInteractiveAuthentication {kbd}\n\
         UsePAM {kbd}\n\
         PubkeyAuthentication yes\n\
         AuthorizedKeysFile {dir}/authorized_keys/%u\n\
         TrustedUserCAKeys {dir}/user_ca.pub\n\
         StrictModes no\n\
         PermitRootLogin no\n\
         MaxStartups 1000:30:1000\n\
         MaxSessions 100\n\
         MaxAuthTries 10\n\
         LoginGraceTime 60\n\
         UseDNS no\n\
         X11Forwarding no\n\
         AllowTcpForwarding no\n\
         PrintMotd no\n\
         Subsystem sftp internal-sftp\n",
        password = yes_no(options.password),
        kbd = yes_no(options.keyboard_interactive),
    );
    text + &force + &host_certificate
}

/// Signs `dir/hostkey.pub` as a host certificate into `dir/hostkey-cert.pub`.
fn sign_host_certificate(dir: &Path, cert: &HostCertificate) {
    let ca_path = dir.join("host-ca");
    fs::write(&ca_path, &cert.ca_private).expect("write the host CA key");
    set_mode(&ca_path, 0o600);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(&ca_path)
        .args([
            "-h",
            "-I",
            "sealscan-test-host",
            "-n",
            &cert.principals,
            "-V",
            &cert.validity,
        ])
        .arg(dir.join("hostkey.pub"))
        .stdin(Stdio::null())
        .output()
        .expect("run ssh-keygen -s -h");
    assert!(
        out.status.success(),
        "ssh-keygen -s -h failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The CA's private key has no business next to the server once it signed.
    let _ = fs::remove_file(&ca_path);
}

/// Starts sshd and waits for its "Server listening on" line; on early exit returns what it
/// said. No clock is involved: either the line arrives or stderr closes.
fn spawn(config: &Path, log_path: &Path) -> Result<(Child, Arc<Log>), String> {
    let mut child = Command::new(SSHD)
        .args(["-D", "-e", "-f"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {SSHD}: {e}"))?;
    let stderr = child.stderr.take().ok_or("sshd stderr missing")?;
    let mut file = File::create(log_path).map_err(|e| format!("create sshd.log: {e}"))?;
    let log = Arc::new(Log::default());
    let writer = Arc::clone(&log);
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(file, "{line}");
            let mut state = writer.state.lock().unwrap_or_else(|e| e.into_inner());
            state.ready |= line.contains(READY);
            state.lines.push(line);
            writer.changed.notify_all();
        }
        let mut state = writer.state.lock().unwrap_or_else(|e| e.into_inner());
        state.closed = true;
        writer.changed.notify_all();
    });
    let mut state = log.state.lock().unwrap_or_else(|e| e.into_inner());
    while !state.ready && !state.closed {
        state = log.changed.wait(state).unwrap_or_else(|e| e.into_inner());
    }
    let (ready, words) = (state.ready, state.lines.join("\n"));
    drop(state);
    if ready {
        Ok((child, log))
    } else {
        let _ = child.kill();
        let _ = child.wait();
        Err(words)
    }
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// Private-key file formats `ssh-keygen -m` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFormat {
    /// `-----BEGIN OPENSSH PRIVATE KEY-----` (the default).
    OpenSsh,
    /// PKCS#8: `BEGIN PRIVATE KEY`, or `BEGIN ENCRYPTED PRIVATE KEY` with a passphrase.
    Pkcs8,
    /// Traditional PEM: `BEGIN RSA PRIVATE KEY` / `BEGIN EC PRIVATE KEY`.
    Pem,
}

/// A client key made by ssh-keygen for a test.
pub struct TestKey {
    /// The private key file's bytes, as a vault or an envelope would hand them over.
    pub private: Vec<u8>,
    /// The `authorized_keys` line.
    pub public: String,
}

/// Generates a client key with ssh-keygen in `dir`: `key_type` is `ed25519`, `ecdsa` or
/// `rsa`; an empty `passphrase` leaves it unencrypted.
pub fn generate_key(dir: &Path, key_type: &str, format: KeyFormat, passphrase: &str) -> TestKey {
    let format_name = match format {
        KeyFormat::OpenSsh => "RFC4716",
        KeyFormat::Pkcs8 => "PKCS8",
        KeyFormat::Pem => "PEM",
    };
    let name = format!("{key_type}-{format_name}-{}", passphrase.len());
    let path = dir.join(name);
    let mut command = Command::new("ssh-keygen");
    command.args([
        "-q",
        "-t",
        key_type,
        "-N",
        passphrase,
        "-C",
        "sealscan-test",
    ]);
    if format != KeyFormat::OpenSsh {
        command.args(["-m", format_name]);
    }
    if key_type == "rsa" {
        command.args(["-b", "2048"]);
    }
    let status = command
        .arg("-f")
        .arg(&path)
        .stdin(Stdio::null())
        .status()
        .expect("run ssh-keygen");
    assert!(status.success(), "ssh-keygen -t {key_type} failed");
    TestKey {
        private: fs::read(&path).expect("read private key"),
        public: fs::read_to_string(format!("{}.pub", path.display())).expect("read public key"),
    }
}

/// Signs `key`'s public half with the CA key `ca` (ssh-keygen -s) as a user certificate for
/// `principal`; returns the certificate line.
pub fn sign_user_certificate(dir: &Path, ca: &TestKey, key: &TestKey, principal: &str) -> String {
    let ca_path = dir.join(format!("ca-{}", ca.public.len()));
    fs::write(&ca_path, &ca.private).expect("write the CA key");
    set_mode(&ca_path, 0o600);
    let public = dir.join("to-sign.pub");
    fs::write(&public, &key.public).expect("write the public key");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(&ca_path)
        .args(["-I", "sealscan-test", "-n", principal, "-V", "-5m:+1h"])
        .arg(&public)
        .stdin(Stdio::null())
        .output()
        .expect("run ssh-keygen -s");
    assert!(
        out.status.success(),
        "ssh-keygen -s failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::read_to_string(dir.join("to-sign-cert.pub")).expect("read the certificate")
}
