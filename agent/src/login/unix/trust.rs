//! Host-key trust: the presented key is checked right after the handshake, before the user
//! name, a password, a key signature or any keyboard-interactive answer is sent.

use super::host_cert;
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
    /// Only these keys, or a host certificate signed by one of these CAs.
    Known {
        keys: Vec<HostKey>,
        authorities: Vec<HostKey>,
    },
    /// Not checked; said so in the result.
    Off,
}

impl std::fmt::Debug for HostKeyTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostKeyTrust::Pin(_) => f.write_str("Pin"),
            HostKeyTrust::Known { keys, authorities } => f
                .debug_struct("Known")
                .field("keys", keys)
                .field("authorities", authorities)
                .finish(),
            HostKeyTrust::Off => f.write_str("Off"),
        }
    }
}

impl HostKeyTrust {
    /// The host key algorithms to offer: certificates only when a host CA can vouch for one.
    pub(super) fn algorithms(&self) -> &'static str {
        match self {
            HostKeyTrust::Known { authorities, .. } if !authorities.is_empty() => {
                host_cert::WITH_CERTIFICATES
            }
            _ => host_cert::PLAIN_KEYS,
        }
    }
}

/// The fact that says how the host key was trusted.
pub(super) const CHECK_FACT: &str = "host_key_check";

pub(super) fn check(
    trust: &HostKeyTrust,
    target: &Target,
    presented: &HostKey,
    names: &[String],
    facts: &mut BTreeMap<String, String>,
) -> Result<(), Stop> {
    let place = known_hosts::place(&target.host, target.port);
    let nothing_sent = "nothing was sent to it (no user name, password, key or answer)";
    let (fact, refusal) = match trust {
        HostKeyTrust::Off => (
            "off: not checked (the record's host_key_policy is off)".into(),
            None,
        ),
        HostKeyTrust::Known { keys, authorities } => {
            known(keys, authorities, presented, &place, names, nothing_sent)
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

/// The `known` policy: one of the record's keys, or a certificate one of its CAs vouches for.
/// Returns the fact and, when refused, the cause.
fn known(
    keys: &[HostKey],
    authorities: &[HostKey],
    presented: &HostKey,
    place: &str,
    names: &[String],
    nothing_sent: &str,
) -> (String, Option<String>) {
    if keys.contains(presented) {
        return ("known: one of the record's host keys".to_string(), None);
    }
    let mut why = String::new();
    if host_cert::is_certificate(presented) && !authorities.is_empty() {
        match host_cert::check(presented, authorities, names) {
            Ok(trusted) => {
                return (
                    format!(
                        "known: a host certificate for {} signed by the record's host CA {}",
                        trusted.principal, trusted.authority
                    ),
                    None,
                );
            }
            Err(refused) => {
                // As OpenSSH does, a certificate no CA vouches for may still carry a listed key.
                if let Some(inner) = refused.inner.filter(|k| keys.contains(k)) {
                    return (
                        format!(
                            "known: the certificate's key {inner} is one of the record's host                              keys (the certificate itself: {})",
                            refused.reason
                        ),
                        None,
                    );
                }
                why = format!(" The certificate is refused: {}.", refused.reason);
            }
        }
    }
    let mut expected: Vec<String> = keys.iter().map(HostKey::to_string).collect();
    expected.extend(
        authorities
            .iter()
            .map(|ca| format!("a host certificate signed by the CA {ca}")),
    );
    (
        "known: not one of the record's host keys or host CAs".to_string(),
        Some(format!(
            "{place} presented the host key {presented}, which the record does not trust \
             (expected: {}); {nothing_sent}.{why} If the target's key changed on purpose, add \
             the new key (or its CA) to the record",
            expected.join(", ")
        )),
    )
}
