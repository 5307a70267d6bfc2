//! The agent side of the end-to-end tests: the real `sealscan-agent` binary, run as an operator
//! would (a configuration file, a state directory, `enroll`, then `run` until SIGTERM), and an
//! enrolled appliance whose process a test stops, kills with SIGKILL and starts again. The
//! control plane it talks to is [`crate::control_plane`].

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;

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

/// What a test sets in the agent's configuration.
#[derive(Clone, Copy, Debug)]
pub struct AgentSettings {
    /// Targets at once.
    pub concurrency: u16,
    /// Per-target login bounds (seconds): short, so silent targets end quickly.
    pub unix_secs: u32,
    pub windows_secs: u32,
}

impl AgentSettings {
    /// `concurrency` targets at once, 5 s login bounds.
    pub fn concurrency(concurrency: u16) -> Self {
        Self {
            concurrency,
            unix_secs: 5,
            windows_secs: 5,
        }
    }
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self::concurrency(2)
    }
}

/// An appliance's home: configuration, CA file, state directory and stderr log.
pub struct AgentHome {
    pub dir: tempfile::TempDir,
}

impl AgentHome {
    /// [`AgentHome::with_settings`] with `concurrency` and 5 s login bounds.
    pub fn new(url: &str, ca_pem: &str, concurrency: u16) -> Self {
        Self::with_settings(url, ca_pem, AgentSettings::concurrency(concurrency))
    }

    pub fn with_settings(url: &str, ca_pem: &str, settings: AgentSettings) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("sealscan-agent-e2e-")
            .tempdir()
            .expect("temp dir");
        let home = AgentHome { dir };
        std::fs::write(home.ca_file(), ca_pem).expect("write CA file");
        let config = format!(
            "control_plane_url = \"{url}\"\nca_file = \"{}\"\nstate_dir = \"{}\"\n\
             concurrency = {}\nlog = \"stderr\"\n\n[timeouts]\nunix_secs = {}\n\
             windows_secs = {}\nvault_secs = 30\n",
            home.ca_file().display(),
            home.state_dir().display(),
            settings.concurrency,
            settings.unix_secs,
            settings.windows_secs,
        );
        std::fs::write(home.config(), config).expect("write config");
        home
    }

    /// Sets the Unix login bound (seconds) in the configuration, for the next `run`.
    pub fn set_unix_timeout(&self, secs: u32) {
        let config = std::fs::read_to_string(self.config()).expect("config");
        let config: String = config
            .lines()
            .map(|l| {
                if l.starts_with("unix_secs = ") {
                    format!("unix_secs = {secs}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(self.config(), config).expect("config");
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
    #[allow(unsafe_code)]
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

/// An enrolled, approved appliance and its `run` process, which a test may stop (SIGTERM),
/// kill (SIGKILL) and start again on the same home. Made by
/// [`crate::control_plane::ControlPlane::running_agent`].
pub struct Agent {
    pub home: AgentHome,
    pub appliance_id: String,
    process: Option<RunningAgent>,
}

impl Agent {
    /// `home`, enrolled as `appliance_id`, not yet running.
    pub fn new(home: AgentHome, appliance_id: String) -> Self {
        Self {
            home,
            appliance_id,
            process: None,
        }
    }

    pub fn start(&mut self) {
        assert!(self.process.is_none(), "the agent is already running");
        self.process = Some(self.home.run());
    }

    /// SIGKILL: no grace, no spool flush, nothing the agent can do about it.
    pub fn kill(&mut self) {
        let process = self.process.take().expect("a running agent");
        // Dropping the handle kills with SIGKILL and reaps the process.
        drop(process);
    }

    /// SIGTERM; the exit status must be 0.
    pub fn stop(&mut self) {
        if let Some(process) = self.process.take() {
            let status = process.terminate();
            assert_eq!(status.code(), Some(0), "{}", self.home.stderr());
        }
    }

    /// The agent is running and has not exited on its own.
    pub fn alive(&mut self) -> bool {
        self.process.as_mut().is_some_and(|p| p.exited().is_none())
    }

    pub fn pid(&self) -> u32 {
        self.process.as_ref().map_or(0, RunningAgent::pid)
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
