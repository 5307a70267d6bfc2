//! Samba smbd on loopback: a standalone server on a free high port, started from a
//! temporary smb.conf with its own passdb, so tests never touch the machine's Samba setup.

use crate::system::{ensure_packages, ensure_user, free_loopback_port};
use std::io::Write;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How the server is configured.
#[derive(Clone, Debug)]
pub struct SmbdOptions {
    /// `server min protocol`, e.g. `SMB2_02`, `SMB3_00`, `SMB3` (3.1.1 only).
    pub min_protocol: String,
    /// `server max protocol`, e.g. `SMB2_10`; `None` leaves Samba's default (3.1.1).
    pub max_protocol: Option<String>,
    /// `server signing`: `default`, `auto`, `mandatory` or `disabled`.
    pub signing: String,
}

impl Default for SmbdOptions {
    fn default() -> Self {
        Self {
            min_protocol: "SMB2_02".into(),
            max_protocol: None,
            signing: "default".into(),
        }
    }
}

/// A running smbd; stopped (its whole process group) when dropped.
pub struct Smbd {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

/// NetBIOS workgroup and name the server announces.
pub const WORKGROUP: &str = "TESTDOM";
pub const NETBIOS_NAME: &str = "TARGET1";

impl Smbd {
    /// Installs samba if needed, writes the configuration and starts smbd; returns once the
    /// port accepts connections. Panics with smbd's log when it does not come up.
    pub fn start(options: SmbdOptions) -> Smbd {
        ensure_packages(&["samba"]);
        let dir = tempfile::Builder::new()
            .prefix("sealscan-smbd-")
            .tempdir()
            .expect("temp dir for smbd");
        for sub in [
            "private",
            "lock",
            "state",
            "cache",
            "pid",
            "state/ncalrpc",
            "share",
        ] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("smbd sub-directory");
        }
        let port = free_loopback_port();
        let conf = config_text(dir.path(), port, &options);
        std::fs::write(dir.path().join("smb.conf"), conf).expect("write smb.conf");

        // smbd with --no-process-group signals its own group when it stops: give it a group
        // of its own so that never reaches the test runner.
        let child = Command::new("smbd")
            .args(["-F", "--no-process-group", "-s"])
            .arg(dir.path().join("smb.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("stderr.log")).expect("stderr log"),
            ))
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start smbd (package samba): {e}"));
        let mut smbd = Smbd { child, dir, port };
        smbd.wait_ready();
        smbd
    }

    fn wait_ready(&mut self) {
        // A bound on waiting for a peer to come up, not an assertion about its speed.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "smbd exited ({status}) before listening on 127.0.0.1:{}:\n{}\n{}",
                    self.port,
                    self.read("stderr.log"),
                    self.log()
                );
            }
            assert!(
                Instant::now() <= deadline,
                "smbd did not listen on 127.0.0.1:{} in 60 s:\n{}",
                self.port,
                self.log()
            );
            sleep(Duration::from_millis(50));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("smb.conf")
    }

    /// Creates the local account (needs root) and adds it to this server's passdb.
    pub fn add_user(&self, name: &str, password: &str) {
        ensure_user(name, password);
        let mut child = Command::new("smbpasswd")
            .arg("-c")
            .arg(self.config_path())
            .args(["-s", "-a", name])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("smbpasswd: {e}"));
        let mut stdin = child.stdin.take().expect("smbpasswd stdin");
        write!(stdin, "{password}\n{password}\n").expect("write to smbpasswd");
        drop(stdin);
        let out = child.wait_with_output().expect("smbpasswd");
        assert!(
            out.status.success(),
            "smbpasswd -a {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Disables the account in this server's passdb (`smbpasswd -d`).
    pub fn disable_user(&self, name: &str) {
        let out = Command::new("smbpasswd")
            .arg("-c")
            .arg(self.config_path())
            .args(["-d", name])
            .output()
            .unwrap_or_else(|e| panic!("smbpasswd -d: {e}"));
        assert!(
            out.status.success(),
            "smbpasswd -d {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// smbd's log, with the auth_audit lines that show whether an attempt reached it.
    pub fn log(&self) -> String {
        self.read("log.smbd")
    }

    /// The auth_audit lines, one per authentication that reached smbd (`Auth: [SMB2,...]
    /// user [DOMAIN]\\[user] ... status [NT_STATUS_...]`). smbd writes them before it answers
    /// the SESSION_SETUP, so a test that got its answer can read them at once.
    pub fn auth_lines(&self) -> Vec<String> {
        self.log()
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("Auth: ["))
            .map(str::to_owned)
            .collect()
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

impl Drop for Smbd {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: signals the process group we created for smbd and its children.
            unsafe { libc::kill(-pid, libc::SIGTERM) };
        }
        let _ = self.child.wait();
    }
}

fn config_text(dir: &Path, port: u16, o: &SmbdOptions) -> String {
    let d = dir.display();
    let max = o
        .max_protocol
        .as_deref()
        .map(|m| format!("server max protocol = {m}\n"))
        .unwrap_or_default();
    format!(
        "[global]\n\
workgroup = {WORKGROUP}\n\
netbios name = {NETBIOS_NAME}\n\
server role = standalone server\n\
smb ports = {port}\n\
interfaces = lo\n\
bind interfaces only = yes\n\
private dir = {d}/private\n\
lock directory = {d}/lock\n\
state directory = {d}/state\n\
cache directory = {d}/cache\n\
pid directory = {d}/pid\n\
ncalrpc dir = {d}/state/ncalrpc\n\
passdb backend = tdbsam:{d}/private/passdb.tdb\n\
log file = {d}/log.smbd\n\
log level = 1 auth_audit:3\n\
server min protocol = {min}\n\
{max}server signing = {signing}\n\
ntlm auth = ntlmv2-only\n\
map to guest = never\n\
load printers = no\n\
printcap name = /dev/null\n\
disable spoolss = yes\n\
rpc start on demand helpers = no\n\
\n\
[share]\n\
path = {d}/share\n\
read only = yes\n",
        min = o.min_protocol,
        signing = o.signing,
    )
}
