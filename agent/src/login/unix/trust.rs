//! Host-key trust: the presented key is checked right after the handshake, before the user
//! name, a password, a key signature or any keyboard-interactive answer is sent.

use super::{Stop, Target};
use crate::known_hosts::{self, KnownHosts, Verdict};
use sealscan_protocols::host_key::HostKey;
use sealscan_protocols::results::Step;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How a login trusts the server's host key (the record's `host_key_policy`).
#[derive(Clone)]
pub enum HostKeyTrust {
    /// Learned on first contact in the appliance's store, refused when it changes.
    Pin(Arc<KnownHosts>),
    /// Only these keys.
    Known(Vec<HostKey>),
    /// Not checked; said so in the result.
    Off,
}

impl std::fmt::Debug for HostKeyTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostKeyTrust::Pin(_) => f.write_str("Pin"),
            HostKeyTrust::Known(keys) => f.debug_tuple("Known").field(keys).finish(),
            HostKeyTrust::Off => f.write_str("Off"),
        }
    }
}

/// The fact that says how the host key was trusted.
pub(super) const CHECK_FACT: &str = "host_key_check";

pub(super) fn check(
    trust: &HostKeyTrust,
    target: &Target,
    presented: &HostKey,
    facts: &mut BTreeMap<String, String>,
) -> Result<(), Stop> {
    let place = known_hosts::place(&target.host, target.port);
    let nothing_sent = "nothing was sent to it (no user name, password, key or answer)";
    let (fact, refusal) = match trust {
        HostKeyTrust::Off => (
            "off: not checked (the record's host_key_policy is off)".into(),
            None,
        ),
        HostKeyTrust::Known(keys) => {
            if keys.contains(presented) {
                ("known: one of the record's host keys".to_string(), None)
            } else {
                let expected: Vec<String> = keys.iter().map(HostKey::to_string).collect();
                (
                    "known: not one of the record's host keys".to_string(),
                    Some(format!(
                        "{place} presented the host key {presented}, which is none of the \
                         record's accepted host keys [{}]; {nothing_sent}. If the target's key \
                         changed on purpose, add the new key to the record",
                        expected.join(", ")
                    )),
                )
            }
        }
        HostKeyTrust::Pin(store) => match store.check(&place, presented) {
            Ok(Verdict::Learned) => ("pin: learned on this first contact".to_string(), None),
            Ok(Verdict::Matches) => ("pin: matches the pinned key".to_string(), None),
            Ok(Verdict::Mismatch { pinned }) => (
                "pin: does not match the pinned key".to_string(),
                Some(format!(
                    "{place} presented the host key {presented}, but the appliance pinned \
                     {pinned} for it; {nothing_sent}. If the target's key changed on purpose, \
                     accept it on the appliance: sealscan-agent known-hosts accept '{place}' {}",
                    presented.fingerprint()
                )),
            ),
            // Without the store, a first contact could not be remembered and a changed key
            // not recognised: refuse rather than log in unchecked.
            Err(e) => (
                "pin: the known-hosts store failed".to_string(),
                Some(format!(
                    "the appliance's known-hosts store could not check {place}: {e}; \
                     {nothing_sent}"
                )),
            ),
        },
    };
    facts.insert(CHECK_FACT.into(), fact);
    match refusal {
        Some(detail) => Err(Stop::failed(Step::HostKey, detail)),
        None => Ok(()),
    }
}
