//! Host-name targets, resolved on the appliance.
//!
//! The appliance's view of DNS is the one that matters: it is where the login connects from,
//! and a scanner network often resolves names differently from the control plane's. So the
//! name is resolved here, once per target; the record is matched by that address and the login
//! connects to that address (not to the name again, which could resolve elsewhere the second
//! time), and the result reports it.

use crate::resolve::Refusal;
use sealscan_protocols::results::{Status, Step};
use std::net::IpAddr;
use std::time::Duration;

/// The fact under which a result reports the address a host-name target resolved to.
pub const ADDRESS_FACT: &str = "address";

/// The addresses `host` resolves to, in the resolver's order of preference, without repeats.
/// An IP address is its own single answer and needs no DNS.
pub async fn addresses(host: &str, port: u16, timeout: Duration) -> Result<Vec<IpAddr>, Refusal> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let failed = |status, detail: String| Refusal {
        status,
        step: Step::Resolve,
        detail,
        login_id: String::new(),
        facts: Default::default(),
    };
    let answer = tokio::time::timeout(timeout, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| {
            failed(
                Status::TimedOut,
                format!("timeout: the host name {host} did not resolve within {timeout:?}"),
            )
        })?
        .map_err(|e| {
            failed(
                Status::NotAttempted,
                format!("the host name {host} does not resolve on this appliance: {e}"),
            )
        })?;
    let mut out: Vec<IpAddr> = Vec::new();
    for addr in answer {
        if !out.contains(&addr.ip()) {
            out.push(addr.ip());
        }
    }
    if out.is_empty() {
        return Err(failed(
            Status::NotAttempted,
            format!("the host name {host} resolves to no address on this appliance"),
        ));
    }
    Ok(out)
}
