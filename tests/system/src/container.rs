//! Commands inside the booted container, through `systemd-container exec` (nsenter into every
//! namespace of the container's PID 1). Each command is printed as it runs, so the log reads as
//! the operator's session the documentation quotes.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub struct Container {
    pub tool: PathBuf,
    pub dir: PathBuf,
}

/// What a command printed, and whether it succeeded.
pub struct Ran {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Container {
    /// The container's root directory, as the host sees it.
    pub fn root(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// Runs `args` inside; `stdin` (a secret, a token) is written to its standard input and
    /// never appears on a command line or in this log.
    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<Ran, String> {
        println!("    # {}", args.join(" "));
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
            .map_err(|e| format!("cannot run {}: {e}", self.tool.display()))?;
        if let Some(bytes) = stdin {
            let mut pipe = child.stdin.take().ok_or("no stdin pipe")?;
            pipe.write_all(bytes)
                .and_then(|()| pipe.write_all(b"\n"))
                .map_err(|e| format!("writing to the stdin of `{}`: {e}", args.join(" ")))?;
        }
        let Output {
            status,
            stdout,
            stderr,
        } = child
            .wait_with_output()
            .map_err(|e| format!("waiting for `{}`: {e}", args.join(" ")))?;
        Ok(Ran {
            ok: status.success(),
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    /// Runs `args` inside and fails, with its output, unless it succeeds; its stdout.
    pub fn must(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<String, String> {
        let ran = self.run(args, stdin)?;
        if !ran.ok {
            return Err(format!(
                "`{}` failed ({:?}):\n{}{}",
                args.join(" "),
                ran.code,
                ran.stdout,
                ran.stderr
            ));
        }
        Ok(ran.stdout)
    }

    /// A shell command line inside (for pipes and redirections); fails unless it succeeds.
    pub fn sh(&self, script: &str) -> Result<String, String> {
        self.must(&["sh", "-c", script], None)
    }

    /// The same, not printed: for polling.
    pub fn quiet(&self, script: &str) -> Result<String, String> {
        let out = Command::new(&self.tool)
            .arg("exec")
            .arg(&self.dir)
            .args(["sh", "-c", script])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.tool.display()))?;
        if !out.status.success() {
            return Err(format!(
                "`{script}` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// One property of a unit (`systemctl show -P`), quietly.
    pub fn prop(&self, unit: &str, property: &str) -> Result<String, String> {
        Ok(self
            .quiet(&format!("systemctl show -P {property} {unit}"))?
            .trim()
            .to_string())
    }
}
