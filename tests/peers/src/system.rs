//! What every peer needs from the machine: its Debian packages, a free loopback port and
//! local user accounts.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Serialises apt-get and user management between test threads of one process; `flock` on
/// a shared file does the same between test binaries running at once.
static MACHINE: Mutex<()> = Mutex::new(());
const LOCK_FILE: &str = "/tmp/sealscan-test-peers.lock";

fn with_machine_lock<T>(f: impl FnOnce() -> T) -> T {
    let _guard = MACHINE.lock().unwrap_or_else(|e| e.into_inner());
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(LOCK_FILE)
        .unwrap_or_else(|e| panic!("cannot open {LOCK_FILE}: {e}"));
    // SAFETY: flock on a descriptor we own for the duration of the call.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    let out = f();
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
    out
}

fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// Makes sure the Debian `packages` are installed, installing the missing ones with apt-get.
/// Panics with the list of what is missing when that is not possible (not root, no network):
/// a test that needs a peer must fail loudly, never skip.
pub fn ensure_packages(packages: &[&str]) {
    with_machine_lock(|| {
        let missing: Vec<&str> = packages
            .iter()
            .copied()
            .filter(|p| !is_installed(p))
            .collect();
        if missing.is_empty() {
            return;
        }
        if unsafe { libc::geteuid() } != 0 {
            panic!(
                "these tests need the Debian packages {missing:?}; install them as root \
                 (scripts/install-test-deps does) and run the tests again"
            );
        }
        let update = Command::new("apt-get").args(["update", "-qq"]).status();
        let install = Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status();
        match (update, install) {
            (Ok(_), Ok(s)) if s.success() => {}
            (_, other) => {
                panic!("apt-get install {missing:?} failed ({other:?}); these tests need them")
            }
        }
    })
}

/// A TCP port on 127.0.0.1 that was free a moment ago. The kernel hands out ephemeral ports
/// in sequence, so a peer started right after this call gets it in practice.
pub fn free_loopback_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// Creates the local account `name` (no home directory, no login shell change) unless it
/// exists, and sets its password. Needs root.
pub fn ensure_user(name: &str, password: &str) {
    with_machine_lock(|| {
        let exists = Command::new("id")
            .arg(name)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !exists {
            let status = Command::new("useradd")
                .args(["-M", "-s", "/bin/sh", name])
                .status()
                .unwrap_or_else(|e| panic!("useradd {name}: {e} (tests need root)"));
            assert!(status.success(), "useradd {name} failed (tests need root)");
        }
        let mut child = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("chpasswd: {e}"));
        let mut stdin = child.stdin.take().expect("chpasswd stdin");
        writeln!(stdin, "{name}:{password}").expect("write to chpasswd");
        drop(stdin);
        assert!(
            child.wait().expect("chpasswd").success(),
            "chpasswd for {name} failed"
        );
    })
}

/// Locks the local account `name` (`usermod -L`: its password can no longer be used, and an
/// sshd without PAM refuses the account for every method). `ensure_user` unlocks it again by
/// setting a fresh password. Needs root.
pub fn lock_user(name: &str) {
    with_machine_lock(|| {
        let status = Command::new("usermod")
            .args(["-L", name])
            .status()
            .unwrap_or_else(|e| panic!("usermod -L {name}: {e} (tests need root)"));
        assert!(status.success(), "usermod -L {name} failed");
    })
}
