//! The real `sealscan-agent` binary, run as an operator would: a configuration file, a state
//! directory, `enroll`, then `run` until SIGTERM.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The agent binary: `SEALSCAN_AGENT_BIN` when set (scripts/demo builds it first), else
/// built once per process with cargo (cargo does not build another package's binaries for
/// this crate's tests) and found next to the running executable.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("SEALSCAN_AGENT_BIN") {
            return PathBuf::from(path);
        }
        let cargo = option_env!("CARGO").unwrap_or("cargo");
        let status = Command::new(cargo)
            .args(["build", "-p", "sealscan-agent", "--bin", "sealscan-agent"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap_or_else(|e| panic!("cannot run `{cargo} build -p sealscan-agent`: {e}"));
        assert!(status.success(), "building sealscan-agent failed");
        let exe = std::env::current_exe().expect("executable path");
        // Tests run from target/<profile>/deps/, binaries from target/<profile>/.
        let mut dir = exe.parent().expect("executable directory");
        if dir.ends_with("deps") {
            dir = dir.parent().expect("target/<profile> directory");
        }
        let bin = dir.join("sealscan-agent");
        assert!(bin.exists(), "no agent binary at {}", bin.display());
        bin
    })
}

/// An appliance's home: configuration, CA file, state directory and stderr log.
pub struct AgentHome {
    pub dir: tempfile::TempDir,
}

impl AgentHome {
    pub fn new(url: &str, ca_pem: &str, concurrency: u16) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("sealscan-agent-e2e-")
            .tempdir()
            .expect("temp dir");
        let home = AgentHome { dir };
        std::fs::write(home.ca_file(), ca_pem).expect("write CA file");
        let config = format!(
            "control_plane_url = \"{url}\"\nca_file = \"{}\"\nstate_dir = \"{}\"\n\
             concurrency = {concurrency}\nlog = \"stderr\"\n\n[timeouts]\nunix_secs = 5\n\
             windows_secs = 5\nvault_secs = 30\n",
            home.ca_file().display(),
            home.state_dir().display()
        );
        std::fs::write(home.config(), config).expect("write config");
        home
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("agent.toml")
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn spool_dir(&self) -> PathBuf {
        self.state_dir().join("spool")
    }

    pub fn stderr_path(&self) -> PathBuf {
        self.dir.path().join("agent.stderr")
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    /// Files waiting in the result spool.
    pub fn spooled(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.spool_dir())
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default()
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(binary());
        c.arg("--config").arg(self.config());
        c
    }

    pub fn enroll(&self, url: &str, token: &str, extra: &[&str]) -> Output {
        self.command()
            .args([
                "enroll",
                "--url",
                url,
                "--token",
                token,
                "--name",
                "e2e-agent",
            ])
            .args(extra)
            .output()
            .expect("run sealscan-agent enroll")
    }

    /// `sealscan-agent run`, its stderr appended to [`AgentHome::stderr_path`].
    pub fn run(&self) -> RunningAgent {
        self.run_with_env(&[])
    }

    /// [`AgentHome::run`] with extra environment (e.g. systemd's `NOTIFY_SOCKET`).
    pub fn run_with_env(&self, env: &[(&str, &str)]) -> RunningAgent {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.stderr_path())
            .expect("stderr log");
        let child = self
            .command()
            .arg("run")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start sealscan-agent run");
        RunningAgent { child: Some(child) }
    }
}

/// A running agent; killed if a test ends without stopping it.
pub struct RunningAgent {
    child: Option<Child>,
}

impl RunningAgent {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Sends SIGTERM and waits for the exit, which the agent bounds by its shutdown grace.
    pub fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running agent");
        if let Ok(pid) = i32::try_from(child.id()) {
            // SAFETY: signals the child this handle started and still owns.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        child.wait().expect("wait for the agent")
    }

    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Waits until `done` holds. `bound` caps how long a broken run can hang the suite; it is not
/// a measurement, and the message says what never happened.
pub fn wait_until(what: &str, bound: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + bound;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every writable mapping of process `pid` searched for each needle; returns the hits as
/// (needle index, address, mapping). Unreadable mappings are skipped but counted so the
/// caller can see the heap and stack were covered.
pub fn scan_memory(pid: u32, needles: &[&[u8]]) -> (Vec<(usize, usize, String)>, MemCoverage) {
    use std::os::unix::fs::FileExt;
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("read maps");
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).expect("open /proc/PID/mem");
    let mut hits = Vec::new();
    let mut coverage = MemCoverage::default();
    let longest = needles.iter().map(|n| n.len()).max().unwrap_or(1);
    let mut chunk = vec![0u8; 1 << 20];
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let (Some(range), Some(perms)) = (parts.next(), parts.next()) else {
            continue;
        };
        if !perms.starts_with("rw") {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        let mut at = start;
        let mut readable = true;
        while at < end {
            let len = chunk.len().min(end - at);
            let buf = &mut chunk[..len];
            if mem.read_exact_at(buf, at as u64).is_err() {
                readable = false;
                break;
            }
            coverage.bytes += len;
            for (i, needle) in needles.iter().enumerate() {
                let Some(&first) = needle.first() else {
                    continue;
                };
                let mut offset = 0;
                while let Some(found) = buf[offset..].iter().position(|b| *b == first) {
                    let pos = offset + found;
                    if buf[pos..].starts_with(needle) {
                        hits.push((i, at + pos, line.to_string()));
                    }
                    offset = pos + 1;
                }
            }
            if at + len >= end {
                break;
            }
            at += len - (longest - 1);
        }
        if readable {
            coverage.heap |= line.ends_with("[heap]");
            coverage.stack |= line.ends_with("[stack]");
        } else {
            coverage.unreadable.push(line.to_string());
        }
    }
    (hits, coverage)
}

#[derive(Debug, Default)]
pub struct MemCoverage {
    pub bytes: usize,
    pub heap: bool,
    pub stack: bool,
    pub unreadable: Vec<String>,
}
