//! A Debian container with systemd as PID 1, through the shared `systemd-container` tool:
//! for peers that must not run on the test machine itself (Samba's AD DC would fight the
//! plain smbd the other tests start). The container shares the host's network, so a daemon
//! inside that binds one loopback address is reachable from the tests as it is.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The tool's name under `shared/tools`.
const TOOL: &str = "systemd-container";

/// One container directory (`DIR/rootfs` is its cached root file system).
pub struct Container {
    tool: PathBuf,
    dir: PathBuf,
}

/// Where the tool lives: `SEALSCAN_CONTAINER_TOOL`, else `shared/tools/` in the nearest
/// directory above the workspace that has one (the clone's sibling in CI, the project's
/// root for a worktree).
fn find_tool() -> PathBuf {
    if let Some(p) = std::env::var_os("SEALSCAN_CONTAINER_TOOL") {
        return PathBuf::from(p);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let workspace = workspace.canonicalize().unwrap_or(workspace);
    workspace
        .ancestors()
        .map(|d| d.join("shared/tools").join(TOOL))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the {TOOL} tool is not in shared/tools above {} (set SEALSCAN_CONTAINER_TOOL)",
                workspace.display()
            )
        })
}

impl Container {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            tool: find_tool(),
            dir: dir.into(),
        }
    }

    /// The container's root directory, as the host sees it.
    pub fn root(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// Boots the container (its root copied from the shared Debian base the first time); a
    /// no-op when it runs.
    pub fn up(&self) {
        self.seed();
        let out = Command::new(&self.tool)
            .arg("up")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.tool.display()));
        assert!(
            out.status.success(),
            "{TOOL} up {} failed ({}):\n{}",
            self.dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Gives a new container its root file system from the Debian base all test containers
    /// share (`scripts/debian-base`): one debootstrap per machine instead of one per container.
    pub fn seed(&self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/debian-base");
        let out = Command::new(&script)
            .arg(&self.dir)
            .env("SEALSCAN_CONTAINER_TOOL", &self.tool)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "scripts/debian-base {} failed ({}):\n{}",
            self.dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Powers the container off; its root file system stays for the next start.
    pub fn down(&self) {
        let _ = Command::new(&self.tool)
            .arg("down")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .output();
    }

    /// Runs the shell `script` inside with `env` set, `stdin` written to its standard input.
    pub fn sh(&self, script: &str, env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
        let assignments: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut args = vec!["env"];
        args.extend(assignments.iter().map(String::as_str));
        args.extend(["sh", "-c", script]);
        self.exec(&args, stdin)
    }

    /// Runs the command `args` inside, `stdin` written to its standard input.
    pub fn exec(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut child = Command::new(&self.tool)
            .arg("exec")
            .arg(&self.dir)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.tool.display()));
        if let Some(bytes) = stdin {
            let mut pipe = child.stdin.take().expect("stdin pipe");
            // A command that exits without reading its input is not this call's failure.
            let _ = pipe.write_all(bytes);
        }
        child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("waiting for {TOOL} exec: {e}"))
    }

    /// [`Container::sh`] that must succeed; its standard output.
    pub fn must(&self, script: &str, env: &[(&str, &str)]) -> String {
        let out = self.sh(script, env, None);
        assert!(
            out.status.success(),
            "inside {}: `{}` failed ({}):\n{}{}",
            self.dir.display(),
            script.lines().next().unwrap_or(""),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
