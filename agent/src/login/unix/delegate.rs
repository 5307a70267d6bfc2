//! Root delegation after the login: `sudo`, `su -` or `sudo su -`, proven by `id -u` printing
//! 0 in the elevated session.
//!
//! A password goes to the program's standard input only after the program itself asked for it,
//! never into a command line or a shell: sudo runs with `-S -p` and a prompt of our own, which
//! nothing else prints; su reads root's password from a terminal, so it gets a pseudo-terminal,
//! and the password is written once the prompt (in one of the common locales) is on screen, with
//! su having turned echo off. A second prompt means the password was refused: it is not sent
//! again. What the target printed is kept in a zeroizing buffer and quoted, bounded, in a cause.

use super::proof::printable;
use crate::secret::SecretBytes;
use ssh2::{Channel, ExtendedData, Session};
use std::io::{Read, Write};
use zeroize::Zeroizing;

/// sudo's prompt, set with `-p`: nothing on the target prints it but sudo asking us.
const SUDO_PROMPT: &str = "[sealscan-sudo-password]";
/// Output of an elevation is bounded; a real one prints a few lines.
const MAX_OUTPUT: usize = 16 * 1024;

/// How to become root, with the secret it needs.
#[derive(Debug)]
pub enum Elevation {
    Sudo(SudoPassword),
    /// `su -` with root's password.
    Su(SecretBytes),
    /// `sudo su -`: sudo's password, then su as root.
    SudoSu(SudoPassword),
}

/// What answers sudo's prompt.
#[derive(Debug)]
pub enum SudoPassword {
    /// The login password (the credential's own).
    Login,
    Own(SecretBytes),
    /// The account has NOPASSWD: a prompt is a failure.
    None,
}

impl Elevation {
    pub fn name(&self) -> &'static str {
        match self {
            Elevation::Sudo(_) => "sudo",
            Elevation::Su(_) => "su",
            Elevation::SudoSu(_) => "sudo su -",
        }
    }
}

pub(super) struct Refused {
    pub timed_out: bool,
    pub detail: String,
}

/// Ends the proof of session's output when it runs on the delegation's channel.
const PROOF_END: &str = "@@sealscan-proof-end@@";

/// Whether the proof of session can run on the elevation's channel: sudo's (no terminal, the
/// password on standard input after our own prompt). su needs a terminal, which would mix
/// the proof's output with its echo handling, so it keeps a channel of its own.
pub(super) fn takes_proof(elevation: &Elevation) -> bool {
    !matches!(elevation, Elevation::Su(_))
}

/// Runs the elevation, after `proof` (the proof-of-session command) on the same channel when
/// given: one exec channel for both is one round trip to the server fewer per login. Returns
/// what the proof printed (when it ran here) and the elevation's verdict: Ok holds the fact to
/// report (`sudo: uid 0`).
pub(super) fn elevate<'a>(
    session: &Session,
    elevation: &'a Elevation,
    login_password: Option<&'a SecretBytes>,
    proof: Option<&str>,
) -> (Option<String>, Result<String, Refused>) {
    let mut printed = None;
    let verdict = run_elevation(session, elevation, login_password, proof, &mut printed);
    (printed, verdict)
}

fn run_elevation<'a>(
    session: &Session,
    elevation: &'a Elevation,
    login_password: Option<&'a SecretBytes>,
    proof: Option<&str>,
    printed: &mut Option<String>,
) -> Result<String, Refused> {
    let sudo_password = |p: &'a SudoPassword| match p {
        SudoPassword::Login => login_password,
        SudoPassword::Own(own) => Some(own),
        SudoPassword::None => None,
    };
    let (command, password, prompt, pty) = match elevation {
        Elevation::Sudo(p) => (
            format!("LC_ALL=C sudo -S -p '{SUDO_PROMPT}' -- id -u"),
            sudo_password(p),
            Prompt::Sudo,
            false,
        ),
        Elevation::SudoSu(p) => (
            format!("LC_ALL=C sudo -S -p '{SUDO_PROMPT}' -- su - root -c 'id -u'"),
            sudo_password(p),
            Prompt::Sudo,
            false,
        ),
        Elevation::Su(root) => (
            "LC_ALL=C su - root -c 'id -u'".to_string(),
            Some(root),
            Prompt::Su,
            true,
        ),
    };
    let proof = proof.filter(|_| !pty);
    let command = match proof {
        Some(proof) => format!("{proof}; echo '{PROOF_END}'; {command}"),
        None => command,
    };
    let name = elevation.name();
    let fail = |what: &str, e: ssh2::Error| Refused {
        timed_out: super::is_timeout(&e),
        detail: format!("{name}: {what}: {}", e.message()),
    };
    let mut channel = session
        .channel_session()
        .map_err(|e| fail("cannot open a session channel", e))?;
    if pty {
        channel
            .request_pty("dumb", None, Some((200, 24, 0, 0)))
            .map_err(|e| fail("the server refused a terminal", e))?;
    } else {
        channel
            .handle_extended_data(ExtendedData::Merge)
            .map_err(|e| fail("cannot merge its error output", e))?;
    }
    channel
        .exec(&command)
        .map_err(|e| fail("the server refused to run it", e))?;
    let mut said = converse(&mut channel, password, prompt).map_err(|e| Refused {
        timed_out: e.kind() == std::io::ErrorKind::TimedOut,
        detail: format!("{name}: reading its output failed: {e}"),
    })?;
    let _ = channel.wait_close();
    let status = channel.exit_status().unwrap_or(-1);
    if proof.is_some() {
        *printed = Some(split_proof(&mut said));
    }
    judge(name, &said, status, password.is_some())
}

/// Takes the proof's output (up to [`PROOF_END`]) off the front of what the channel printed;
/// without the marker, all of it is the proof's (the shell stopped before the elevation).
fn split_proof(said: &mut Said) -> String {
    let marker = PROOF_END.as_bytes();
    let at = said.text.windows(marker.len()).position(|w| w == marker);
    let (proof, rest) = match at {
        Some(at) => (
            String::from_utf8_lossy(&said.text[..at]).into_owned(),
            said.text[at + marker.len()..].to_vec(),
        ),
        None => (String::from_utf8_lossy(&said.text).into_owned(), Vec::new()),
    };
    // The rest keeps its zeroizing buffer: the old bytes are wiped as it is replaced.
    said.text = Zeroizing::new(rest);
    proof
}

#[derive(Clone, Copy)]
enum Prompt {
    Sudo,
    Su,
}

impl Prompt {
    fn asked(self, tail: &str) -> bool {
        match self {
            Prompt::Sudo => tail.ends_with(SUDO_PROMPT),
            Prompt::Su => is_password_prompt(tail),
        }
    }
}

/// What the elevation printed, and how many times it asked for a password.
struct Said {
    text: Zeroizing<Vec<u8>>,
    prompts: u32,
}

fn converse(
    channel: &mut Channel,
    password: Option<&SecretBytes>,
    prompt: Prompt,
) -> std::io::Result<Said> {
    // Allocated once at its final size: what a target echoes (it should not) is wiped too.
    let mut text = Zeroizing::new(Vec::with_capacity(MAX_OUTPUT));
    let mut prompts = 0;
    let mut chunk = Zeroizing::new([0u8; 1024]);
    // Where the text after the last answered prompt starts.
    let mut since = 0;
    loop {
        let n = channel.read(&mut chunk[..])?;
        if n == 0 {
            break;
        }
        let room = MAX_OUTPUT - text.len();
        text.extend_from_slice(&chunk[..n.min(room)]);
        let tail = String::from_utf8_lossy(&text[since..]);
        if prompt.asked(tail.trim_end()) {
            prompts += 1;
            since = text.len();
            match password {
                Some(p) if prompts == 1 => {
                    channel.write_all(p.expose())?;
                    channel.write_all(b"\n")?;
                    channel.flush()?;
                }
                // No password to give, or the first was refused: it is not sent again.
                _ => {
                    let _ = channel.send_eof();
                    let _ = channel.close();
                }
            }
        }
        if text.len() >= MAX_OUTPUT {
            let _ = channel.close();
            break;
        }
    }
    if let Some(p) = password {
        mask(&mut text, p.expose());
    }
    Ok(Said { text, prompts })
}

/// Overwrites every copy of `secret` in `text` with `*`: a target that echoes the password
/// (a hostile one would, to see it come back in the scan's result) must not get it quoted
/// into the cause the control plane stores.
fn mask(text: &mut [u8], secret: &[u8]) {
    if secret.is_empty() {
        return;
    }
    let mut i = 0;
    while i + secret.len() <= text.len() {
        if text[i..i + secret.len()] == *secret {
            text[i..i + secret.len()].fill(b'*');
            i += secret.len();
        } else {
            i += 1;
        }
    }
}

/// Decides from what the elevation printed and its exit status.
fn judge(name: &str, said: &Said, status: i32, had_password: bool) -> Result<String, Refused> {
    let text = String::from_utf8_lossy(&said.text)
        .replace(SUDO_PROMPT, "")
        .replace('\r', "");
    let uid = text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_string);
    let quoted = {
        let words = printable(text.trim());
        if words.is_empty() {
            String::new()
        } else {
            format!("; it said: \"{words}\"")
        }
    };
    if status == 0 && uid.as_deref() == Some("0") {
        return Ok(format!("{name}: uid 0"));
    }
    let lower = text.to_lowercase();
    let why = if lower.contains("must have a tty") || lower.contains("terminal is required") {
        "the target's sudoers require a terminal (requiretty); allow the account without one \
         (`Defaults:USER !requiretty`)"
            .to_string()
    } else if lower.contains("not in the sudoers file")
        || lower.contains("is not allowed to run sudo")
        || lower.contains("is not allowed to execute")
    {
        "the account is not in the target's sudoers (or may not run `id -u` as root)".into()
    } else if said.prompts >= 2
        || lower.contains("sorry, try again")
        || lower.contains("incorrect password")
        || lower.contains("authentication failure")
    {
        "the target refused the password (wrong password); it was sent once".into()
    } else if said.prompts == 1 && !had_password {
        format!(
            "{name} asked for a password and the record gives none (NOPASSWD is not set for \
             this account on the target)"
        )
    } else if lower.contains("command not found") || lower.contains("not found") {
        format!("{name} is not installed on the target")
    } else if let Some(uid) = uid {
        format!("the elevated session runs as uid {uid}, not root")
    } else if said.prompts == 0 && matches!(name, "su") {
        "su never showed a password prompt it could be given (an unrecognised prompt)".into()
    } else {
        format!("{name} did not prove root (exit status {status})")
    };
    Err(Refused {
        timed_out: false,
        detail: format!("{why}{quoted}"),
    })
}

/// A password prompt in one of the common locales: the last line ends with a colon and names
/// a password.
fn is_password_prompt(tail: &str) -> bool {
    let line = tail.rsplit('\n').next().unwrap_or("").trim().to_lowercase();
    let words = [
        "password",
        "passwort",
        "mot de passe",
        "contraseña",
        "senha",
        "wachtwoord",
        "lösenord",
        "hasło",
        "пароль",
        "密码",
        "パスワード",
        "parola",
        "heslo",
    ];
    (line.ends_with(':') || line.ends_with('：')) && words.iter().any(|w| line.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_password_prompts_in_common_locales() {
        for prompt in [
            "Password:",
            "Passwort:",
            "Mot de passe :",
            "Contraseña:",
            "motd line\nPassword:",
            "密码：",
        ] {
            assert!(is_password_prompt(prompt), "{prompt}");
        }
        assert!(!is_password_prompt("Password changed\n"));
        assert!(!is_password_prompt("Last login: today"));
    }

    fn said(text: &str, prompts: u32) -> Said {
        Said {
            text: Zeroizing::new(text.as_bytes().to_vec()),
            prompts,
        }
    }

    #[test]
    fn names_what_the_target_said() {
        assert_eq!(
            judge("sudo", &said("[sealscan-sudo-password]\n0\n", 1), 0, true).ok(),
            Some("sudo: uid 0".into())
        );
        let cases = [
            (
                "sudo: sorry, you must have a tty to run sudo\n",
                0,
                "requiretty",
            ),
            (
                "scan is not in the sudoers file.\n",
                0,
                "not in the target's sudoers",
            ),
            (
                "[sealscan-sudo-password]\nSorry, try again.\n[sealscan-sudo-password]",
                2,
                "wrong password",
            ),
            ("[sealscan-sudo-password]", 1, "gives none"),
            ("1000\n", 0, "uid 1000"),
        ];
        for (text, prompts, words) in cases {
            let e = judge("sudo", &said(text, prompts), 1, words != "gives none")
                .err()
                .unwrap();
            assert!(e.detail.contains(words), "{words}: {}", e.detail);
            assert!(!e.detail.contains(SUDO_PROMPT), "{}", e.detail);
        }
    }

    #[test]
    fn an_echoed_password_never_reaches_the_cause() {
        let mut text = b"Password: Tr0ub4dor&3\nTr0ub4dor&3 su: Authentication failure\n".to_vec();
        mask(&mut text, b"Tr0ub4dor&3");
        let said = Said {
            text: Zeroizing::new(text),
            prompts: 1,
        };
        let e = judge("su", &said, 1, true).expect_err("refused");
        assert!(!e.detail.contains("Tr0ub4dor"), "{}", e.detail);
        assert!(e.detail.contains("Authentication failure"), "{}", e.detail);
    }
}
