//! The identity commands through the real `sealscan-agent` binary, as an operator runs them.
#![allow(unsafe_code)]

use base64::Engine as _;
use sealscan_protocols::identity::fingerprint;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

fn agent() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sealscan-agent"))
}

fn run(args: &[&str], state_dir: &Path) -> Output {
    agent()
        .args(args)
        .arg("--state-dir")
        .arg(state_dir)
        .output()
        .expect("run sealscan-agent")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The value printed after `label` on its own line.
fn field<'a>(stdout: &'a str, label: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{stdout}"))
}

fn nobody() -> (u32, u32) {
    let user = nix::unistd::User::from_name("nobody")
        .expect("passwd lookup")
        .expect("the nobody user exists on Debian");
    (user.uid.as_raw(), user.gid.as_raw())
}

/// Runs `command` as `nobody`, without root's CAP_IPC_LOCK, with `memlock` bytes of lockable
/// memory (None keeps the inherited limit).
fn as_nobody(command: &mut Command, memlock: Option<u64>) -> Output {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test switches to the nobody user; run the tests as root"
    );
    let (uid, gid) = nobody();
    // SAFETY: only async-signal-safe syscalls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if let Some(bytes) = memlock {
                let limit = libc::rlimit {
                    rlim_cur: bytes,
                    rlim_max: bytes,
                };
                if libc::setrlimit(libc::RLIMIT_MEMLOCK, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.output().expect("run sealscan-agent as nobody")
}

#[test]
fn new_operator_runs_keygen_then_fingerprint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");

    let out = run(&["keygen"], &state);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("created a new identity key in"), "{stdout}");
    let created_fp = field(&stdout, "fingerprint:").to_owned();

    let key_file = state.join("identity.key");
    let meta = std::fs::metadata(&key_file).expect("key file exists");
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(
        std::fs::metadata(&state).expect("state dir").mode() & 0o777,
        0o700
    );

    let out = run(&["fingerprint"], &state);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(field(&stdout, "fingerprint:"), created_fp);
    let public = base64::engine::general_purpose::STANDARD
        .decode(field(&stdout, "public key:"))
        .expect("public key is base64");
    let public: [u8; 32] = public.try_into().expect("32-byte public key");
    assert_eq!(
        fingerprint(&public),
        created_fp,
        "fingerprint of the printed key"
    );
    assert_eq!(field(&stdout, "key file:"), key_file.display().to_string());
}

#[test]
fn second_keygen_keeps_the_key_and_there_is_no_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = run(&["keygen"], dir.path());
    assert!(first.status.success(), "{first:?}");
    let before = std::fs::read(dir.path().join("identity.key")).expect("key");

    let again = run(&["keygen"], dir.path());
    let stdout = text(&again.stdout);
    assert!(again.status.success(), "{again:?}");
    assert!(stdout.contains("already exists"), "{stdout}");
    assert!(stdout.contains("keeping it"), "{stdout}");
    assert_eq!(
        field(&stdout, "fingerprint:"),
        field(&text(&first.stdout), "fingerprint:")
    );

    // Replacing the identity would orphan every sealed record, so no flag does it.
    let forced = run(&["keygen", "--force"], dir.path());
    assert_eq!(forced.status.code(), Some(2), "{forced:?}");
    assert_eq!(
        std::fs::read(dir.path().join("identity.key")).expect("key"),
        before
    );
}

#[test]
fn fingerprint_without_a_key_says_to_run_keygen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(&["fingerprint"], dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr.contains("run `sealscan-agent keygen`"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        std::fs::read_dir(dir.path()).expect("dir").next().is_none(),
        "fingerprint created nothing"
    );
}

#[test]
fn world_readable_key_is_refused_with_the_chmod_to_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(run(&["keygen"], dir.path()).status.success());
    let key_file = dir.path().join("identity.key");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let before = std::fs::read(&key_file).expect("key");

    for command in ["fingerprint", "keygen"] {
        let out = run(&[command], dir.path());
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {out:?}");
        assert!(
            stderr.contains(&format!("chmod 600 {}", key_file.display())),
            "{command}: {stderr}"
        );
        assert!(stderr.contains("mode 0644"), "{command}: {stderr}");
    }
    let meta = std::fs::metadata(&key_file).expect("key");
    assert_eq!(meta.mode() & 0o777, 0o644, "the agent changes nothing");
    assert_eq!(std::fs::read(&key_file).expect("key"), before);
}

#[test]
fn agent_refuses_to_start_when_memory_cannot_be_locked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (uid, gid) = nobody();
    std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
    let mut command = agent();
    command.arg("keygen").arg("--state-dir").arg(dir.path());
    let out = as_nobody(&mut command, Some(64 * 1024));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    for phrase in [
        "cannot lock the 256 KiB key arena in memory",
        "mlock failed with ENOMEM",
        "RLIMIT_MEMLOCK is 64 KiB (soft) / 64 KiB (hard)",
        "LimitMEMLOCK=16M",
        "ulimit -l",
        "refuses to start",
    ] {
        assert!(stderr.contains(phrase), "{phrase:?} missing in:\n{stderr}");
    }
    assert!(
        std::fs::read_dir(dir.path()).expect("dir").next().is_none(),
        "no key was generated without locked memory"
    );

    let mut command = agent();
    command
        .arg("fingerprint")
        .arg("--state-dir")
        .arg(dir.path());
    let out = as_nobody(&mut command, Some(0));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr.contains("RLIMIT_MEMLOCK is 0 KiB (soft) / 0 KiB (hard)"),
        "{stderr}"
    );
}

#[test]
fn service_user_keygen_owns_its_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (uid, gid) = nobody();
    std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
    let mut command = agent();
    command.arg("keygen").arg("--state-dir").arg(dir.path());
    let out = as_nobody(&mut command, None);
    assert!(out.status.success(), "{out:?}");
    let meta = std::fs::metadata(dir.path().join("identity.key")).expect("key file");
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (uid, gid, 0o600)
    );

    // Root (an operator) can read it back; the fingerprint is the same.
    let root = run(&["fingerprint"], dir.path());
    assert!(root.status.success(), "{root:?}");
    assert_eq!(
        field(&text(&root.stdout), "fingerprint:"),
        field(&text(&out.stdout), "fingerprint:")
    );
}

#[test]
fn keygen_without_config_or_state_dir_says_what_to_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = agent()
        .arg("--config")
        .arg(dir.path().join("absent.toml"))
        .arg("keygen")
        .output()
        .expect("run");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr.contains("cannot read the configuration"), "{stderr}");
    assert!(stderr.contains("--state-dir DIR"), "{stderr}");
}

#[test]
fn version_is_printed() {
    let out = agent().arg("--version").output().expect("run");
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).trim(),
        format!("sealscan-agent {}", env!("CARGO_PKG_VERSION"))
    );
}

/// The real agent process, caught while it holds the key: its stdout is a pipe the test has
/// filled beforehand, so the agent blocks in its first write, after hardening and loading.
#[test]
fn running_agent_is_non_dumpable_and_holds_the_key_in_a_locked_arena() {
    use std::io::{ErrorKind, Read, Write};
    use std::os::fd::AsRawFd;

    let dir = tempfile::tempdir().expect("tempdir");
    let (uid, gid) = nobody();
    std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
    let mut keygen = agent();
    keygen.arg("keygen").arg("--state-dir").arg(dir.path());
    assert!(as_nobody(&mut keygen, None).status.success());

    let (read_end, write_end) = nix::unistd::pipe().expect("pipe");
    let mut filler = std::fs::File::from(write_end.try_clone().expect("dup"));
    let set_nonblocking = |on: bool| {
        let fd = write_end.as_raw_fd();
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            let flags = if on {
                flags | libc::O_NONBLOCK
            } else {
                flags & !libc::O_NONBLOCK
            };
            assert_eq!(libc::fcntl(fd, libc::F_SETFL, flags), 0);
        }
    };
    set_nonblocking(true);
    let mut filled = 0usize;
    loop {
        match filler.write(&[b'.'; 4096]) {
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("filling the pipe: {e}"),
        }
    }
    drop(filler);
    set_nonblocking(false);

    let mut command = agent();
    command
        .arg("fingerprint")
        .arg("--state-dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::from(write_end))
        .stderr(std::process::Stdio::null());
    let (uid_nobody, gid_nobody) = (uid, gid);
    // SAFETY: only async-signal-safe syscalls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(gid_nobody) != 0
                || libc::setuid(uid_nobody) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().expect("spawn the agent");
    drop(command);
    let pid = child.id();

    // Wait until the agent sits in write(1, ...): syscall 1 on x86-64, with fd 1.
    let blocked_in_write = format!("{} 0x1 ", libc::SYS_write);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("the agent exited before blocking on stdout: {status}");
        }
        let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        if syscall.starts_with(&blocked_in_write) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }

    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.contains(&uid.to_string())),
        "the agent runs as nobody:\n{status}"
    );
    // The kernel gives a non-dumpable process's /proc entries to root.
    let owner = std::fs::metadata(format!("/proc/{pid}/status"))
        .expect("stat")
        .uid();
    assert_eq!(
        owner, 0,
        "/proc/{pid} is owned by uid {owner}: PR_SET_DUMPABLE is not 0"
    );
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .expect("core line");
    assert_eq!(
        core.split_whitespace().skip(4).take(2).collect::<Vec<_>>(),
        ["0", "0"],
        "{core}"
    );
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).expect("smaps");
    let arena_flags = smaps.split("\nVmFlags:").skip(1).any(|rest| {
        let flags: Vec<&str> = rest
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        ["lo", "dd", "wf"].iter().all(|f| flags.contains(f))
    });
    assert!(arena_flags, "no lo+dd+wf mapping in the agent:\n{smaps}");
    let vm_lck = status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .expect("VmLck")
        .trim()
        .to_owned();
    assert_eq!(vm_lck, "256 kB", "only the arena is locked");

    let mut reader = std::fs::File::from(read_end);
    let mut output = Vec::new();
    reader.read_to_end(&mut output).expect("drain stdout");
    assert!(child.wait().expect("wait").success());
    let printed = text(&output[filled..]);
    assert!(printed.contains("fingerprint: "), "{printed}");
}

/// Runs the agent with `args` and a standard output whose reader has already gone, as
/// `sealscan-agent ARGS | head -0` does.
fn with_closed_stdout(args: &[&std::ffi::OsStr]) -> Output {
    let (reader, writer) = nix::unistd::pipe().expect("pipe");
    drop(reader);
    agent()
        .args(args)
        .stdout(std::process::Stdio::from(writer))
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run sealscan-agent")
}

#[test]
fn identity_commands_end_cleanly_when_stdout_is_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().as_os_str();
    for command in ["keygen", "keygen", "fingerprint"] {
        let out = with_closed_stdout(&[command.as_ref(), "--state-dir".as_ref(), state]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{command}: {out:?}");
        assert!(!stderr.contains("panicked"), "{command}: {stderr}");
        assert!(stderr.is_empty(), "{command}: {stderr}");
    }
    assert!(
        dir.path().join("identity.key").exists(),
        "keygen still made the key"
    );

    // A stdout that fails for another reason is an error that says so, not a panic.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = agent()
        .args(["fingerprint", "--state-dir"])
        .arg(dir.path())
        .stdout(full)
        .output()
        .expect("run sealscan-agent");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr.contains("cannot write to standard output"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
