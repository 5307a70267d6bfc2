//! Scan targets as users write them: IP addresses, CIDR ranges, `first-last` address ranges and
//! host names, expanded to a bounded, de-duplicated host list.
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// The most hosts one scan may name after expansion.
pub const MAX_HOSTS: usize = 4096;

/// Expands `specs` in order, dropping repeats; the error names the offending entry.
pub fn expand(specs: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut push = |host: String| -> Result<(), String> {
        if seen.insert(host.clone()) {
            if out.len() >= MAX_HOSTS {
                return Err(format!("the targets expand to more than {MAX_HOSTS} hosts"));
            }
            out.push(host);
        }
        Ok(())
    };
    if specs.is_empty() {
        return Err("name at least one target".into());
    }
    for raw in specs {
        let spec = raw.trim();
        if let Ok(ip) = spec.parse::<IpAddr>() {
            push(ip.to_string())?;
        } else if spec.contains('/') {
            let net: IpNet = spec
                .parse()
                .map_err(|_| format!("{raw:?} is not a valid CIDR range"))?;
            let size = range_size(net.network(), net.broadcast());
            if size > MAX_HOSTS as u128 {
                return Err(format!("{raw:?} holds more than {MAX_HOSTS} addresses"));
            }
            // A single-address or point-to-point net has no network/broadcast to skip.
            if size <= 2 {
                for ip in [net.network(), net.broadcast()] {
                    push(ip.to_string())?;
                }
            } else {
                for ip in net.hosts() {
                    push(ip.to_string())?;
                }
            }
        } else if let Some((a, b)) = spec.split_once('-').and_then(|(a, b)| {
            Some((
                a.trim().parse::<IpAddr>().ok()?,
                b.trim().parse::<IpAddr>().ok()?,
            ))
        }) {
            if a.is_ipv4() != b.is_ipv4() || a > b {
                return Err(format!(
                    "{raw:?}: a range runs from a lower to a higher address of one family"
                ));
            }
            if range_size(a, b) > MAX_HOSTS as u128 {
                return Err(format!("{raw:?} holds more than {MAX_HOSTS} addresses"));
            }
            let mut ip = a;
            loop {
                push(ip.to_string())?;
                if ip == b {
                    break;
                }
                ip = next(ip).ok_or_else(|| format!("{raw:?} runs past the address space"))?;
            }
        } else if is_host_name(spec) {
            push(spec.to_ascii_lowercase())?;
        } else {
            return Err(format!(
                "{raw:?} is neither an IP address, a CIDR range, a first-last range nor a host name"
            ));
        }
    }
    Ok(out)
}

fn as_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn range_size(a: IpAddr, b: IpAddr) -> u128 {
    as_u128(b).saturating_sub(as_u128(a)).saturating_add(1)
}

fn next(ip: IpAddr) -> Option<IpAddr> {
    Some(match ip {
        IpAddr::V4(v4) => IpAddr::V4(u32::from(v4).checked_add(1)?.into()),
        IpAddr::V6(v6) => IpAddr::V6(u128::from(v6).checked_add(1)?.into()),
    })
}

/// RFC 1123 host names; an all-numeric name would be a mistyped address.
fn is_host_name(s: &str) -> bool {
    let labels_ok = s.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    !s.is_empty()
        && s.len() <= 253
        && labels_ok
        && !s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(specs: &[&str]) -> Result<Vec<String>, String> {
        expand(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn addresses_ranges_and_names() {
        assert_eq!(
            ex(&[
                "127.0.0.1",
                "127.0.0.2-127.0.0.4",
                "127.0.1.0/30",
                "Host-A.example",
                "127.0.0.3"
            ])
            .unwrap(),
            [
                "127.0.0.1",
                "127.0.0.2",
                "127.0.0.3",
                "127.0.0.4",
                "127.0.1.1",
                "127.0.1.2",
                "host-a.example"
            ]
        );
        assert_eq!(ex(&["127.0.0.9/32"]).unwrap(), ["127.0.0.9"]);
        assert_eq!(ex(&["::1"]).unwrap(), ["::1"]);
    }

    #[test]
    fn bad_entries_are_named() {
        for bad in [
            "10.0.0.300",
            "10.0.0.5-10.0.0.1",
            "10.0.0.0/8",
            "bad_name",
            "-x",
            "1.2.3",
            "",
        ] {
            let err = ex(&[bad]).unwrap_err();
            assert!(
                err.contains(&format!("{bad:?}")) || err.contains("more than"),
                "{bad}: {err}"
            );
        }
        assert!(ex(&[]).is_err());
        assert!(
            ex(&["10.0.0.0-10.0.255.255"])
                .unwrap_err()
                .contains("more than")
        );
    }
}
