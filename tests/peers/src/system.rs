//! What every peer needs from the machine: its Debian packages, a free loopback port and
//! local user accounts.
#![allow(unsafe_code)]

use std::fs::OpenOptions;
use std::io::Write;
use std::net::TcpListener;
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
    file.lock()
        .unwrap_or_else(|e| panic!("cannot lock {LOCK_FILE}: {e}"));
    let out = f();
    // Closing the file would release the lock too; unlocking says when.
    let _ = file.unlock();
    out
}

/// Whether this process runs as root (the peers install packages and log in as other users).
pub fn is_root() -> bool {
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
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
        assert!(
            is_root(),
            "these tests need the Debian packages {missing:?}; install them as root \
             (scripts/install-test-deps does) and run the tests again"
        );
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

/// A loopback port on which connections are refused, and stays so while the returned socket
/// lives: it is bound but never listens, so no peer started meanwhile can take the port (as
/// it could one from `free_loopback_port`).
pub fn closed_loopback_port() -> (std::os::fd::OwnedFd, u16) {
    use std::os::fd::{FromRawFd, OwnedFd};
    // SAFETY: plain socket calls on a descriptor this function owns from the start, with
    // address structures of the sizes passed.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket(): {}", std::io::Error::last_os_error());
        let socket = OwnedFd::from_raw_fd(fd);
        let mut address: libc::sockaddr_in = std::mem::zeroed();
        address.sin_family = libc::AF_INET as libc::sa_family_t;
        address.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let bound = libc::bind(fd, (&raw const address).cast::<libc::sockaddr>(), len);
        assert!(bound == 0, "bind(): {}", std::io::Error::last_os_error());
        let named = libc::getsockname(fd, (&raw mut address).cast::<libc::sockaddr>(), &mut len);
        assert!(
            named == 0,
            "getsockname(): {}",
            std::io::Error::last_os_error()
        );
        (socket, u16::from_be(address.sin_port))
    }
}

/// Marks the password of `name` as expired (`chage -d 0`): the next login must change it.
/// `ensure_user` does not undo this; call `ensure_user` and then `chage` again as needed.
pub fn expire_password(name: &str) {
    with_machine_lock(|| {
        let status = Command::new("chage")
            .args(["-d", "0", name])
            .status()
            .unwrap_or_else(|e| panic!("chage -d 0 {name}: {e} (tests need root)"));
        assert!(status.success(), "chage -d 0 {name} failed");
    })
}

/// Adds `address name` to /etc/hosts unless `name` is there already. Needs root.
pub fn ensure_hosts_line(address: &str, name: &str) {
    with_machine_lock(|| {
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let known = hosts
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .any(|l| l.split_whitespace().skip(1).any(|n| n == name));
        if known {
            return;
        }
        let mut file = OpenOptions::new()
            .append(true)
            .open("/etc/hosts")
            .unwrap_or_else(|e| panic!("cannot open /etc/hosts to add {name}: {e} (needs root)"));
        writeln!(file, "{address} {name}").expect("append to /etc/hosts");
    })
}
