//! Unix logins over SSH (ssh2 / libssh2).
//!
//! One TCP connection per attempt: SSH handshake, then the methods the server offers for the
//! user (`userauth_list`) decide what is tried. A password goes to `password` when offered,
//! else to `keyboard-interactive` (many servers accept passwords only that way); a private
//! key goes to `publickey`, from memory. After login, `uname -a` and `/etc/os-release` are the
//! proof of session. Every way this can end is a `LoginOutcome` with its QID and a cause that
//! names the step and what the server said; nothing here returns an error or panics on what a
//! peer sends.
//!
//! Secrets: the password, key and passphrase stay in `SecretBytes`; the calls that carry them
//! go through `auth`, which passes pointers and lengths to libssh2 instead of the `String` /
//! `CString` copies ssh2's safe wrappers would make and drop unwiped.

mod auth;
mod delegate;
mod host_cert;
mod keyfile;
mod proof;
mod trust;
mod watchdog;

pub use delegate::{Elevation, SudoPassword};
pub use trust::HostKeyTrust;

use super::Target;
use crate::secret::SecretBytes;
use keyfile::KeyInfo;
use libssh2_sys as raw;
use sealscan_protocols::host_key::HostKey;
use sealscan_protocols::results::{LoginKind, LoginOutcome, Status, Step};
use ssh2::{ErrorCode, MethodType, Session};
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

const WATCHDOG_GRACE: Duration = Duration::from_millis(500);

/// A resolved Unix credential: the login id and its secret.
#[derive(Debug)]
pub struct UnixCredential {
    pub user: String,
    pub secret: UnixSecret,
    /// How to become root after the login; None stays the login user.
    pub elevation: Option<Elevation>,
}

#[derive(Debug)]
pub enum UnixSecret {
    Password(SecretBytes),
    /// A private key file's contents (OpenSSH, PKCS#8 or traditional PEM armour), with the
    /// passphrase when the key is encrypted.
    PrivateKey {
        key: SecretBytes,
        passphrase: Option<SecretBytes>,
        /// An OpenSSH certificate for the key (`ssh-ed25519-cert-v01@openssh.com AAAA...`),
        /// offered instead of the bare public key.
        certificate: Option<String>,
    },
}

/// Logs in to `target` with `credential`, bounded by `target.timeout`, after checking the
/// server's host key as `trust` says. Blocking: the agent runs it on a blocking thread.
pub fn login(target: &Target, credential: &UnixCredential, trust: &HostKeyTrust) -> LoginOutcome {
    let mut facts = BTreeMap::new();
    match attempt(target, credential, trust, &mut facts) {
        Ok(method) => {
            let mut outcome = LoginOutcome::passed(LoginKind::Unix, &credential.user, method);
            outcome.facts = facts;
            outcome
        }
        Err(stop) => {
            let mut outcome = LoginOutcome::not_passed(
                LoginKind::Unix,
                stop.status,
                stop.step,
                stop.detail,
                &credential.user,
            );
            outcome.method = stop.method.unwrap_or_default();
            outcome.facts = facts;
            outcome
        }
    }
}

/// Why an attempt stopped.
struct Stop {
    status: Status,
    step: Step,
    detail: String,
    /// The method that was being tried, when one was.
    method: Option<String>,
}

impl Stop {
    fn new(status: Status, step: Step, detail: impl Into<String>) -> Self {
        Self {
            status,
            step,
            detail: detail.into(),
            method: None,
        }
    }

    fn failed(step: Step, detail: impl Into<String>) -> Self {
        Self::new(Status::Failed, step, detail)
    }

    /// The deadline cut the connection while this step waited: a timeout, whatever libssh2
    /// made of the closed socket (its words would only describe the cut).
    fn ran_out(self, deadline: &Deadline) -> Self {
        Self {
            status: Status::TimedOut,
            detail: format!(
                "{} ran out during the {} step; the connection was cut",
                deadline.describe(),
                self.step
            ),
            ..self
        }
    }

    fn with_method(mut self, method: &str) -> Self {
        self.method = Some(method.to_string());
        self
    }
}

/// What is known about the secret before any packet is sent.
enum Plan<'a> {
    Password(&'a SecretBytes),
    Key {
        key: &'a SecretBytes,
        passphrase: Option<&'a SecretBytes>,
        certificate: Option<&'a str>,
        info: KeyInfo,
    },
}

fn attempt(
    target: &Target,
    credential: &UnixCredential,
    trust: &HostKeyTrust,
    facts: &mut BTreeMap<String, String>,
) -> Result<String, Stop> {
    let deadline = Deadline::new(target.timeout);
    // Credential problems are found before connecting, so they never reach the peer.
    let plan = plan(credential)?;
    let stream = connect(target, &deadline)?;
    let Some(left) = deadline.remaining() else {
        return Err(deadline.expired(Step::Negotiate));
    };
    // libssh2's own timeout normally ends a stuck call first, with its precise words; the
    // watchdog is the backstop for many calls in a row, so it waits a little longer.
    let watchdog = watchdog::Watchdog::arm(&stream, left + WATCHDOG_GRACE);
    let elevation = credential.elevation.as_ref();
    if let (
        Some(Elevation::Sudo(SudoPassword::Login) | Elevation::SudoSu(SudoPassword::Login)),
        Plan::Key { .. },
    ) = (elevation, &plan)
    {
        return Err(Stop::failed(
            Step::Delegation,
            "the record gives sudo the login password, but it logs in with a key: give sudo \
             its own password or NOPASSWD",
        ));
    }
    let result = converse(target, credential, &plan, trust, stream, &deadline, facts);
    match result {
        Err(stop) if watchdog.fired() && stop.status != Status::TimedOut => {
            Err(stop.ran_out(&deadline))
        }
        other => other,
    }
}

/// Everything after the TCP connection: handshake, authentication, proof of session.
fn converse(
    target: &Target,
    credential: &UnixCredential,
    plan: &Plan<'_>,
    trust: &HostKeyTrust,
    stream: TcpStream,
    deadline: &Deadline,
    facts: &mut BTreeMap<String, String>,
) -> Result<String, Stop> {
    let user = credential.user.as_str();
    let elevation = credential.elevation.as_ref();
    let mut session = Session::new().map_err(|e| {
        Stop::failed(
            Step::Negotiate,
            format!("cannot create an SSH session: {}", e.message()),
        )
    })?;
    // A host certificate names the target by the record's name or by address.
    let mut names = vec![target.host.clone()];
    if let Ok(peer) = stream.peer_addr() {
        let address = peer.ip().to_string();
        if !names.contains(&address) {
            names.push(address);
        }
    }
    session.set_tcp_stream(stream);
    deadline.apply(&session, Step::Negotiate)?;
    session
        .method_pref(MethodType::HostKey, trust.algorithms())
        .map_err(|e| {
            Stop::failed(
                Step::Negotiate,
                format!("cannot set the host key algorithms: {}", e.message()),
            )
        })?;
    session
        .handshake()
        .map_err(|e| handshake_failure(target, deadline, &e))?;
    proof::server_facts(&session, facts);
    let Some(presented) = session
        .host_key()
        .and_then(|(blob, _)| HostKey::from_blob(blob))
    else {
        return Err(Stop::failed(
            Step::HostKey,
            "the server presented no host key",
        ));
    };
    trust::check(trust, target, &presented, &names, facts)?;

    deadline.apply(&session, Step::Authentication)?;
    let offered = match session.auth_methods(user) {
        Ok(list) => list.to_string(),
        // The `none` method itself succeeded: the server lets this user in without a secret.
        Err(_) if session.authenticated() => "none".to_string(),
        Err(e) => {
            return Err(ssh_failure(
                &e,
                Step::Authentication,
                deadline,
                format!("the server did not list its methods for {user}"),
            ));
        }
    };
    let method = if offered == "none" {
        "none".to_string()
    } else {
        authenticate(&session, user, plan, &offered, deadline)?
    };

    deadline
        .apply(&session, Step::Session)
        .map_err(|s| s.with_method(&method))?;
    // After the login, every failure says that the login itself worked.
    let after_login = |step: Step, timed_out: bool, what: &str, detail: &str| {
        let status = if timed_out {
            Status::TimedOut
        } else {
            Status::Failed
        };
        Stop::new(
            status,
            step,
            format!("logged in as {user} with {method}, but {what}: {detail}"),
        )
        .with_method(&method)
    };
    let proof_failed = |e: proof::ProofError| {
        after_login(
            Step::Session,
            e.timed_out,
            "the proof-of-session read failed",
            &e.detail,
        )
    };
    // With sudo, the proof runs on the delegation's channel (one round trip fewer).
    let folded = elevation.is_some_and(delegate::takes_proof);
    if !folded {
        proof::session_facts(&session, facts).map_err(proof_failed)?;
    }
    let method = match elevation {
        None => method,
        Some(elevation) => {
            deadline
                .apply(&session, Step::Delegation)
                .map_err(|s| s.with_method(&method))?;
            let login_password = match plan {
                Plan::Password(p) => Some(*p),
                Plan::Key { .. } => None,
            };
            let proof_command = folded.then(proof::command);
            // The login worked; the result still fails, because a scan without root is not
            // the authenticated scan the record asks for (docs/unix-logins.md).
            let (printed, verdict) = delegate::elevate(
                &session,
                elevation,
                login_password,
                proof_command.as_deref(),
            );
            // What the proof printed is judged first: a session that cannot run `uname`
            // fails at the session step, whatever sudo said after it.
            if let Some(printed) = printed {
                proof::read_facts(&printed, "", None, facts).map_err(proof_failed)?;
            }
            let fact = verdict.map_err(|e| {
                after_login(
                    Step::Delegation,
                    e.timed_out,
                    "root delegation failed",
                    &e.detail,
                )
            })?;
            facts.insert("delegation".into(), fact);
            format!("{method} + {}", elevation.name())
        }
    };
    let _ = session.disconnect(None, "sealscan: done", None);
    Ok(method)
}

fn plan(credential: &UnixCredential) -> Result<Plan<'_>, Stop> {
    let user = credential.user.as_str();
    let bad = |detail: String| Stop::failed(Step::Authentication, detail);
    if user.is_empty() {
        return Err(bad("the credential has an empty login id".into()));
    }
    if user.contains('\0') || user.chars().any(char::is_control) {
        return Err(bad("the login id contains control characters".into()));
    }
    match &credential.secret {
        UnixSecret::Password(password) => Ok(Plan::Password(password)),
        UnixSecret::PrivateKey {
            key,
            passphrase,
            certificate,
        } => {
            let info = keyfile::inspect(key)
                .map_err(|e| bad(format!("the private key cannot be used: {e}")))?;
            if info.encrypted && passphrase.is_none() {
                return Err(bad(format!(
                    "the {} private key is encrypted and the credential has no passphrase",
                    info.armour.name()
                )));
            }
            if passphrase.as_ref().is_some_and(|p| p.expose().contains(&0)) {
                return Err(bad("the key passphrase contains a NUL byte".into()));
            }
            let certificate = certificate.as_deref().map(str::trim);
            if let Some(cert) = certificate {
                let kind = cert.split_whitespace().next().unwrap_or_default();
                if !kind.ends_with("-cert-v01@openssh.com") || cert.contains('\0') {
                    return Err(bad("the certificate is not an OpenSSH certificate line \
                         (TYPE-cert-v01@openssh.com BASE64, as ssh-keygen -s writes it)"
                        .into()));
                }
            }
            Ok(Plan::Key {
                key,
                passphrase: passphrase.as_ref(),
                certificate,
                info,
            })
        }
    }
}

fn connect(target: &Target, deadline: &Deadline) -> Result<TcpStream, Stop> {
    let place = format!("{}:{}", target.host, target.port);
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| {
            Stop::new(
                Status::NotAttempted,
                Step::Connect,
                format!("cannot resolve {}: {e}", target.host),
            )
        })?
        .collect();
    let mut last = Stop::new(
        Status::NotAttempted,
        Step::Connect,
        format!("{} resolves to no address", target.host),
    );
    for addr in addrs {
        let Some(remaining) = deadline.remaining() else {
            return Err(deadline.expired(Step::Connect));
        };
        match TcpStream::connect_timeout(&addr, remaining) {
            Ok(stream) => return Ok(stream),
            Err(e) => {
                last = match e.kind() {
                    ErrorKind::TimedOut | ErrorKind::WouldBlock => Stop::new(
                        Status::TimedOut,
                        Step::Connect,
                        format!(
                            "no answer to the TCP connection to {place} within {}",
                            deadline.describe()
                        ),
                    ),
                    ErrorKind::ConnectionRefused => Stop::new(
                        Status::NotAttempted,
                        Step::Connect,
                        format!("connection refused by {addr}: nothing listens on that port"),
                    ),
                    ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => Stop::new(
                        Status::NotAttempted,
                        Step::Connect,
                        format!("{addr} is unreachable: {e}"),
                    ),
                    _ => Stop::new(
                        Status::NotAttempted,
                        Step::Connect,
                        format!("cannot connect to {addr}: {e}"),
                    ),
                }
            }
        }
    }
    Err(last)
}

fn authenticate(
    session: &Session,
    user: &str,
    plan: &Plan<'_>,
    offered: &str,
    deadline: &Deadline,
) -> Result<String, Stop> {
    let offers = |name: &str| offered.split(',').any(|m| m.trim() == name);
    let refused = |method: &str, e: &ssh2::Error, what: String| {
        ssh_failure(e, Step::Authentication, deadline, what).with_method(method)
    };
    match plan {
        Plan::Password(password) if offers("password") => {
            let method = "password";
            auth::password(session, user, password).map_err(|e| {
                let what = match code(&e) {
                    raw::LIBSSH2_ERROR_AUTHENTICATION_FAILED => format!(
                        "the server refused the password for {user} (methods offered: \
                         {offered}); a wrong password, an unknown user and a locked account \
                         look alike from the client, the server's auth log tells them apart"
                    ),
                    raw::LIBSSH2_ERROR_PASSWORD_EXPIRED => format!(
                        "the password of {user} has expired and the server asks for a new one"
                    ),
                    _ => format!("password authentication for {user} failed"),
                };
                refused(method, &e, what)
            })?;
            Ok(method.to_string())
        }
        Plan::Password(password) if offers("keyboard-interactive") => {
            let method = "keyboard-interactive";
            let (result, conversation) = auth::keyboard_interactive(session, user, password);
            result.map_err(|e| {
                let asked = if conversation.unanswered.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; the server also asked for {:?}, which a password cannot answer",
                        conversation.unanswered
                    )
                };
                let what = if conversation.rounds == 0 {
                    format!("the server sent no prompt to {user} (methods offered: {offered})")
                } else if !conversation.answered {
                    format!(
                        "the server never asked {user} for a hidden password (methods offered: \
                         {offered}){asked}"
                    )
                } else if !conversation.unanswered.is_empty() {
                    format!(
                        "after the password, the server asked {user} for more than a password \
                         can answer: {:?} (a password change or a second factor)",
                        conversation.unanswered
                    )
                } else {
                    format!(
                        "the server refused the password given to its keyboard-interactive \
                         prompt for {user} (methods offered: {offered}); a wrong password, an \
                         unknown user and a locked account look alike from the client"
                    )
                };
                refused(method, &e, what)
            })?;
            Ok(method.to_string())
        }
        Plan::Password(_) => Err(Stop::failed(
            Step::Authentication,
            format!(
                "the server offers neither password nor keyboard-interactive to {user} \
                 (methods offered: {offered})"
            ),
        )),
        Plan::Key {
            key,
            passphrase,
            certificate,
            info,
        } => {
            let method = match (certificate, info.key_type) {
                (Some(cert), _) => format!(
                    "publickey ({})",
                    cert.split_whitespace().next().unwrap_or_default()
                ),
                (None, Some(kind)) => format!("publickey ({kind})"),
                (None, None) => "publickey".to_string(),
            };
            if !offers("publickey") {
                return Err(Stop::failed(
                    Step::Authentication,
                    format!(
                        "the server does not offer publickey to {user} (methods offered: \
                         {offered})"
                    ),
                )
                .with_method(&method));
            }
            let armour = info.armour.name();
            // An unencrypted key ignores a passphrase; libssh2 would too, but say so plainly.
            let passphrase = passphrase.filter(|_| info.encrypted);
            auth::publickey(session, user, key, passphrase, *certificate).map_err(|e| {
                let what = match code(&e) {
                    // libssh2 says -16 for OpenSSH and PEM keys, -48 for PKCS#8 ones.
                    raw::LIBSSH2_ERROR_FILE | raw::LIBSSH2_ERROR_KEYFILE_AUTH_FAILED
                        if info.encrypted =>
                    {
                        format!(
                            "wrong key passphrase: the encrypted {armour} private key could not \
                             be decrypted"
                        )
                    }
                    raw::LIBSSH2_ERROR_FILE => {
                        format!("the SSH library could not read the {armour} private key")
                    }
                    raw::LIBSSH2_ERROR_METHOD_NONE => {
                        format!("the SSH library does not support this {armour} key type")
                    }
                    raw::LIBSSH2_ERROR_AUTHENTICATION_FAILED => format!(
                        "the server refused the key for {user}: it is not authorised for that \
                         account, or the account is locked or unknown (methods offered: \
                         {offered})"
                    ),
                    raw::LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED => {
                        format!("the server accepted the key for {user} but not its signature")
                    }
                    _ => format!("publickey authentication for {user} failed"),
                };
                refused(&method, &e, what)
            })?;
            Ok(method)
        }
    }
}

fn code(e: &ssh2::Error) -> i32 {
    match e.code() {
        ErrorCode::Session(c) | ErrorCode::SFTP(c) => c,
    }
}

pub(super) fn is_timeout(e: &ssh2::Error) -> bool {
    matches!(
        e.code(),
        ErrorCode::Session(raw::LIBSSH2_ERROR_TIMEOUT | raw::LIBSSH2_ERROR_SOCKET_TIMEOUT)
    )
}

/// A libssh2 error at `step`: a timeout, a dropped connection, or `what` with the library's
/// own words.
fn ssh_failure(e: &ssh2::Error, step: Step, deadline: &Deadline, what: String) -> Stop {
    if is_timeout(e) {
        return Stop::new(
            Status::TimedOut,
            step,
            format!(
                "the server stopped answering within {} ({what})",
                deadline.describe()
            ),
        );
    }
    let detail = match code(e) {
        raw::LIBSSH2_ERROR_SOCKET_DISCONNECT
        | raw::LIBSSH2_ERROR_SOCKET_RECV
        | raw::LIBSSH2_ERROR_SOCKET_SEND => {
            format!("the server closed the connection: {what}")
        }
        _ => what,
    };
    Stop::failed(
        step,
        format!("{detail} [libssh2 {}: {}]", code(e), e.message()),
    )
}

fn handshake_failure(target: &Target, deadline: &Deadline, e: &ssh2::Error) -> Stop {
    let place = format!("{}:{}", target.host, target.port);
    if is_timeout(e) {
        return Stop::new(
            Status::TimedOut,
            Step::Negotiate,
            format!(
                "{place} accepted the TCP connection but did not complete an SSH handshake \
                 within {}",
                deadline.describe()
            ),
        );
    }
    let (step, what) = match code(e) {
        raw::LIBSSH2_ERROR_HOSTKEY_INIT | raw::LIBSSH2_ERROR_HOSTKEY_SIGN => (
            Step::HostKey,
            format!("the host key of {place} could not be verified"),
        ),
        raw::LIBSSH2_ERROR_KEX_FAILURE | raw::LIBSSH2_ERROR_METHOD_NOT_SUPPORTED => (
            Step::Negotiate,
            // libssh2 reports a key-exchange packet it cannot parse with the same code as
            // an algorithm mismatch, so the cause names both rather than guess.
            format!(
                "no key exchange, cipher or MAC algorithm in common with {place}, or its \
                 key-exchange messages are not SSH"
            ),
        ),
        raw::LIBSSH2_ERROR_BANNER_RECV
        | raw::LIBSSH2_ERROR_SOCKET_DISCONNECT
        | raw::LIBSSH2_ERROR_SOCKET_RECV
        | raw::LIBSSH2_ERROR_PROTO => (
            Step::Negotiate,
            format!("{place} does not answer as an SSH server"),
        ),
        _ => (
            Step::Negotiate,
            format!("the SSH handshake with {place} failed"),
        ),
    };
    Stop::failed(
        step,
        format!("{what} [libssh2 {}: {}]", code(e), e.message()),
    )
}

/// The bound on the whole attempt, re-applied before each step so that the sum of the
/// steps, not each one, stays within `target.timeout`.
struct Deadline {
    timeout: Duration,
    end: Instant,
}

impl Deadline {
    fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            end: Instant::now() + timeout,
        }
    }

    fn remaining(&self) -> Option<Duration> {
        self.end
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    fn describe(&self) -> String {
        format!("the {:.1} s timeout", self.timeout.as_secs_f64())
    }

    fn expired(&self, step: Step) -> Stop {
        Stop::new(
            Status::TimedOut,
            step,
            format!("{} ran out before this step", self.describe()),
        )
    }

    /// Sets libssh2's per-call timeout to what is left; 0 would mean "no timeout".
    fn apply(&self, session: &Session, step: Step) -> Result<(), Stop> {
        let remaining = self.remaining().ok_or_else(|| self.expired(step))?;
        let ms = u32::try_from(remaining.as_millis())
            .unwrap_or(u32::MAX)
            .max(1);
        session.set_timeout(ms);
        Ok(())
    }
}
