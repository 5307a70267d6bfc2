//! Finding a realm's KDCs through DNS SRV records, as Windows does, for records that list
//! no KDC: `_kerberos._tcp.<realm>` (then `_kerberos._udp.<realm>`: its hosts are KDCs too,
//! and AD's listen on TCP as well), ordered by priority and weight (`srv_order.rs`), each
//! target's addresses from the same DNS.
//!
//! The DNS servers are the system's (`/etc/resolv.conf`) unless the agent's configuration
//! names its own (`dns_servers`, set once at start-up through [`use_dns_servers`]).

use super::srv_order::{self, SrvRecord};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use rand_core::{OsRng, RngCore};
use std::net::SocketAddr;
use std::sync::RwLock;

/// The agent's own DNS servers for KDC discovery; empty: the system's.
static DNS_SERVERS: RwLock<Vec<SocketAddr>> = RwLock::new(Vec::new());

/// Uses `servers` (not the system's resolvers) for KDC discovery from now on; an empty list
/// goes back to the system's `/etc/resolv.conf`.
pub fn use_dns_servers(servers: &[SocketAddr]) {
    *DNS_SERVERS.write().unwrap_or_else(|e| e.into_inner()) = servers.to_vec();
}

/// The KDC addresses for `realm`, in the order to try them, or why there are none (naming
/// the SRV names queried and the DNS servers asked).
pub async fn discover(realm: &str) -> Result<Vec<SocketAddr>, String> {
    let servers = DNS_SERVERS
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let asked = if servers.is_empty() {
        "the system's DNS servers (/etc/resolv.conf)".to_string()
    } else {
        let list: Vec<String> = servers.iter().map(ToString::to_string).collect();
        format!("DNS servers {}", list.join(", "))
    };
    let resolver = resolver(&servers).map_err(|e| format!("no KDC found in DNS: {e}"))?;
    let domain = realm.trim_end_matches('.').to_ascii_lowercase();
    let mut tried = Vec::new();
    for proto in ["_tcp", "_udp"] {
        let name = format!("_kerberos.{proto}.{domain}.");
        let records = match resolver.srv_lookup(name.as_str()).await {
            Ok(lookup) => lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::SRV(srv) => Some(SrvRecord {
                        priority: srv.priority,
                        weight: srv.weight,
                        port: srv.port,
                        target: srv.target.to_ascii().trim_end_matches('.').to_string(),
                    }),
                    _ => None,
                })
                .collect(),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Vec::new(),
            Err(e) => {
                tried.push(format!("{}: {e}", name.trim_end_matches('.')));
                continue;
            }
        };
        let ordered = srv_order::order(records, |n| OsRng.next_u64() % n);
        if ordered.is_empty() {
            tried.push(format!("{}: no SRV record", name.trim_end_matches('.')));
            continue;
        }
        let mut addresses = Vec::new();
        for srv in &ordered {
            match resolver.lookup_ip(format!("{}.", srv.target)).await {
                Ok(ips) => addresses.extend(ips.iter().map(|ip| SocketAddr::new(ip, srv.port))),
                Err(e) => tried.push(format!("{} (from {name}): {e}", srv.target)),
            }
        }
        if !addresses.is_empty() {
            return Ok(addresses);
        }
    }
    Err(format!(
        "no KDC found in DNS for realm {} ({}; asked {asked})",
        realm.to_ascii_uppercase(),
        tried.join("; ")
    ))
}

fn resolver(servers: &[SocketAddr]) -> Result<TokioResolver, String> {
    let builder = if servers.is_empty() {
        TokioResolver::builder_tokio().map_err(|e| {
            format!("cannot read the system's DNS configuration (/etc/resolv.conf): {e}")
        })?
    } else {
        let name_servers = servers
            .iter()
            .map(|s| {
                let mut ns = NameServerConfig::udp_and_tcp(s.ip());
                for c in &mut ns.connections {
                    c.port = s.port();
                }
                ns
            })
            .collect();
        TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(name_servers),
            TokioRuntimeProvider::default(),
        )
    };
    builder
        .build()
        .map_err(|e| format!("cannot set up the DNS resolver: {e}"))
}
