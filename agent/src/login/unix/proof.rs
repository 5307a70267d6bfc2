//! Proof of session: what the server showed before login (banner, host key) and one harmless
//! read after it (`uname -a`, `/etc/os-release`).

use sealscan_protocols::host_key::HostKey;
use ssh2::Session;
use std::collections::BTreeMap;
use std::io::Read;

/// Commands' output is bounded so a hostile server cannot make us buffer without end.
const MAX_OUTPUT: u64 = 64 * 1024;
const MAX_STDERR: u64 = 1024;

/// `host_key` as `ssh-ed25519 SHA256:...` (OpenSSH's fingerprint form) and `banner`.
pub(super) fn server_facts(session: &Session, facts: &mut BTreeMap<String, String>) {
    if let Some(banner) = session.banner() {
        facts.insert("banner".into(), printable(banner));
    }
    if let Some(key) = session
        .host_key()
        .and_then(|(blob, _)| HostKey::from_blob(blob))
    {
        facts.insert("host_key".into(), printable(&key.to_string()));
    }
}

/// Why the proof-of-session read failed.
pub(super) struct ProofError {
    pub timed_out: bool,
    pub detail: String,
}

/// Between `uname -a`'s output and `/etc/os-release` in the one command that reads both.
const OS_RELEASE_MARK: &str = "@@sealscan-os-release@@";

/// `uname -a` (required) and `/etc/os-release` (optional: not every Unix has it), in one
/// command: each exec channel is a round trip to the server (open, exec, close). It uses only
/// `;`, which sh, csh and fish all read the same way, so its exit status is cat's: uname's
/// output decides. A sudo delegation appends itself to it (delegate.rs), so that a login with
/// sudo also takes a single channel.
pub(super) fn command() -> String {
    format!("uname -a; echo '{OS_RELEASE_MARK}'; cat /etc/os-release")
}

/// Runs [`command`] on its own channel and reads the facts from it.
pub(super) fn session_facts(
    session: &Session,
    facts: &mut BTreeMap<String, String>,
) -> Result<(), ProofError> {
    let (status, output, stderr) = run(session, &command())?;
    read_facts(&output, &stderr, Some(status), facts)
}

/// The facts from what [`command`] printed; `status` is its exit status when it ran alone.
pub(super) fn read_facts(
    output: &str,
    stderr: &str,
    status: Option<i32>,
    facts: &mut BTreeMap<String, String>,
) -> Result<(), ProofError> {
    let (uname, release) = match output.split_once(OS_RELEASE_MARK) {
        Some((uname, release)) => (uname.trim(), Some(release)),
        None => (output.trim(), None),
    };
    if uname.is_empty() {
        let said = printable(stderr.trim());
        let said = if said.is_empty() {
            String::new()
        } else {
            format!("; it said: \"{said}\"")
        };
        let status = status
            .map(|s| format!(" (the command exited with status {s})"))
            .unwrap_or_default();
        return Err(ProofError {
            timed_out: false,
            detail: format!("`uname -a` printed nothing usable{status}{said}"),
        });
    }
    facts.insert("uname".into(), printable(uname));
    if let Some(text) = release {
        let release = parse_os_release(text);
        for (key, fact) in [
            ("ID", "os_id"),
            ("VERSION_ID", "os_version_id"),
            ("PRETTY_NAME", "os_pretty_name"),
        ] {
            if let Some(value) = release.get(key) {
                facts.insert(fact.into(), printable(value));
            }
        }
    }
    Ok(())
}

/// Runs `command`; returns its exit status, stdout and stderr (each bounded).
fn run(session: &Session, command: &str) -> Result<(i32, String, String), ProofError> {
    let fail = |what: &str, e: ssh2::Error| ProofError {
        timed_out: super::is_timeout(&e),
        detail: format!("`{command}`: {what}: {}", e.message()),
    };
    let mut channel = session
        .channel_session()
        .map_err(|e| fail("cannot open a session channel", e))?;
    channel
        .exec(command)
        .map_err(|e| fail("the server refused to run it", e))?;
    let mut bytes = Vec::new();
    channel
        .by_ref()
        .take(MAX_OUTPUT)
        .read_to_end(&mut bytes)
        .map_err(|e| ProofError {
            timed_out: e.kind() == std::io::ErrorKind::TimedOut,
            detail: format!("`{command}`: reading its output failed: {e}"),
        })?;
    let mut errors = Vec::new();
    // What the server's side said goes into a cause, so a short prefix is enough.
    let _ = channel.stderr().take(MAX_STDERR).read_to_end(&mut errors);
    let _ = channel.send_eof();
    channel
        .wait_close()
        .map_err(|e| fail("closing the channel failed", e))?;
    let status = channel
        .exit_status()
        .map_err(|e| fail("no exit status", e))?;
    Ok((
        status,
        String::from_utf8_lossy(&bytes).into_owned(),
        String::from_utf8_lossy(&errors).into_owned(),
    ))
}

/// `KEY=value` lines, values optionally quoted (os-release(5)).
fn parse_os_release(text: &str) -> BTreeMap<&str, String> {
    text.lines()
        .filter_map(|line| line.trim().split_once('='))
        .filter(|(key, _)| !key.starts_with('#'))
        .map(|(key, value)| {
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            (key.trim(), unquoted.replace("\\\"", "\""))
        })
        .collect()
}

/// Peer text for a fact or a cause: line breaks become spaces, other control characters
/// are dropped, length bounded.
pub(super) fn printable(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .take(512)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_values_are_unquoted() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n\
                    VERSION_ID='12'\n# comment=x\nbroken line\n";
        let parsed = parse_os_release(text);
        assert_eq!(parsed["PRETTY_NAME"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(parsed["ID"], "debian");
        assert_eq!(parsed["VERSION_ID"], "12");
        assert!(!parsed.contains_key("# comment"));
    }

    #[test]
    fn printable_drops_control_characters() {
        assert_eq!(printable("a\u{1b}[31mb\r\nc"), "a[31mb  c");
    }
}
