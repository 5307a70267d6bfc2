//! Logging in to targets: Unix over SSH, Windows over SMB2/3 with NTLMv2.
//!
//! Each login takes a resolved credential (plaintext only inside `SecretBytes`) and returns a
//! `LoginOutcome` with its QID and cause; it never returns an error for a peer's refusal.

pub mod unix;
pub mod windows;

use std::time::Duration;

/// Where to log in. `host` is an IP address or a host name; `port` is usually 22 or 445, but
/// tests use high loopback ports.
#[derive(Clone, Debug)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// Bound on the whole attempt: connect, negotiate, authenticate and the session read.
    pub timeout: Duration,
}
