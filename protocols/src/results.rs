//! What a login attempt reports: one result per target and login kind, with the QIDs that
//! scanner users already know and a cause precise enough to act on.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Which login a result is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum LoginKind {
    Unix,
    Windows,
}

/// How the attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    NotAttempted,
    TimedOut,
}

/// The step at which an attempt stopped; named in every cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Resolving the target's host name to an address (DNS) failed: nothing was attempted.
    Resolve,
    /// No authentication record matched the target.
    Record,
    /// Opening the sealed credential (or its binding check).
    Envelope,
    VaultLogin,
    SecretLookup,
    SecretFetch,
    Connect,
    /// Protocol negotiation before authentication (SSH banner/kex, SMB negotiate).
    Negotiate,
    HostKey,
    Authentication,
    /// The proof-of-session read after a successful login.
    Session,
    /// Becoming root after the login (sudo, su), as the record asks.
    Delegation,
    /// The record's signed statement (docs/signed-records.md) refused the job's record or
    /// target: nothing was opened or connected to.
    RecordSignature,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Step::Resolve => "name resolution",
            Step::Record => "record",
            Step::Envelope => "envelope",
            Step::VaultLogin => "vault login",
            Step::SecretLookup => "secret lookup",
            Step::SecretFetch => "secret fetch",
            Step::Connect => "connect",
            Step::Negotiate => "negotiate",
            Step::HostKey => "host key",
            Step::Authentication => "authentication",
            Step::Session => "session",
            Step::Delegation => "delegation",
            Step::RecordSignature => "record signature",
        };
        f.write_str(name)
    }
}

/// Why an attempt did not pass: the step and, where the peer said something, its own words
/// (SSH methods offered, an NT STATUS name, a vault `errorCode`). Never holds a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Cause {
    pub step: Step,
    pub detail: String,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.detail)
    }
}

/// QIDs reported for authentication outcomes.
pub mod qid {
    pub const UNIX_AUTH_METHOD: u32 = 38307;
    pub const WINDOWS_AUTH_METHOD: u32 = 70053;
    pub const UNIX_AUTH_FAILED: u32 = 105053;
    pub const WINDOWS_AUTH_FAILED: u32 = 105015;
    pub const UNIX_AUTH_NOT_ATTEMPTED: u32 = 105297;
    pub const UNIX_AUTH_TIMEOUT: u32 = 115263;
}

/// The QID for an outcome, following the table in DESIGN.md. Windows has no QID of its own
/// for "not attempted"; it reports the failure QID so the row still appears under 105015.
pub fn qid_for(kind: LoginKind, status: Status) -> u32 {
    match (kind, status) {
        (LoginKind::Unix, Status::Passed) => qid::UNIX_AUTH_METHOD,
        (LoginKind::Unix, Status::Failed) => qid::UNIX_AUTH_FAILED,
        (LoginKind::Unix, Status::NotAttempted) => qid::UNIX_AUTH_NOT_ATTEMPTED,
        (LoginKind::Unix, Status::TimedOut) => qid::UNIX_AUTH_TIMEOUT,
        (LoginKind::Windows, Status::Passed) => qid::WINDOWS_AUTH_METHOD,
        (LoginKind::Windows, _) => qid::WINDOWS_AUTH_FAILED,
    }
}

/// The outcome of one login attempt against one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct LoginOutcome {
    pub kind: LoginKind,
    pub status: Status,
    pub qid: u32,
    /// Present unless `status` is `Passed`.
    pub cause: Option<Cause>,
    /// The login id used (`user`, or `DOMAIN\user`); empty when no credential was resolved.
    pub login_id: String,
    /// How the login was made, e.g. `password`, `keyboard-interactive`, `publickey (ssh-ed25519)`,
    /// `NTLMv2 (SMB 3.1.1, signed)`.
    pub method: String,
    /// Proof-of-session facts: Unix `uname`, `os-release` fields; Windows server OS and domain
    /// names from the session setup.
    pub facts: BTreeMap<String, String>,
}

impl LoginOutcome {
    pub fn passed(kind: LoginKind, login_id: impl Into<String>, method: impl Into<String>) -> Self {
        Self {
            kind,
            status: Status::Passed,
            qid: qid_for(kind, Status::Passed),
            cause: None,
            login_id: login_id.into(),
            method: method.into(),
            facts: BTreeMap::new(),
        }
    }

    pub fn not_passed(
        kind: LoginKind,
        status: Status,
        step: Step,
        detail: impl Into<String>,
        login_id: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            status,
            qid: qid_for(kind, status),
            cause: Some(Cause {
                step,
                detail: detail.into(),
            }),
            login_id: login_id.into(),
            method: String::new(),
            facts: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qids_follow_the_design_table() {
        assert_eq!(qid_for(LoginKind::Unix, Status::Passed), 38307);
        assert_eq!(qid_for(LoginKind::Unix, Status::Failed), 105053);
        assert_eq!(qid_for(LoginKind::Unix, Status::NotAttempted), 105297);
        assert_eq!(qid_for(LoginKind::Unix, Status::TimedOut), 115263);
        assert_eq!(qid_for(LoginKind::Windows, Status::Passed), 70053);
        assert_eq!(qid_for(LoginKind::Windows, Status::Failed), 105015);
        assert_eq!(qid_for(LoginKind::Windows, Status::TimedOut), 105015);
    }
}
