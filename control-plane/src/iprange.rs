//! Record IP lists: single addresses, CIDR networks and `first-last` ranges, as inclusive
//! ranges so overlaps between records can be found.
use ipnet::IpNet;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    v6: bool,
    first: u128,
    last: u128,
}

fn num(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

impl IpRange {
    /// Parses one list entry; the error names the entry and the forms accepted.
    pub fn parse(entry: &str) -> Result<IpRange, String> {
        let entry = entry.trim();
        let bad = || {
            format!(
                "{entry:?} is not an IP address, a CIDR network (10.0.0.0/24) or a range (10.0.0.1-10.0.0.9)"
            )
        };
        if let Some((a, b)) = entry.split_once('-') {
            let a: IpAddr = a.trim().parse().map_err(|_| bad())?;
            let b: IpAddr = b.trim().parse().map_err(|_| bad())?;
            let ((v6a, first), (v6b, last)) = (num(a), num(b));
            if v6a != v6b {
                return Err(format!("{entry:?} mixes IPv4 and IPv6"));
            }
            if first > last {
                return Err(format!("{entry:?} ends before it starts"));
            }
            return Ok(IpRange {
                v6: v6a,
                first,
                last,
            });
        }
        if entry.contains('/') {
            let net: IpNet = entry.parse().map_err(|_| bad())?;
            let (v6, first) = num(net.network());
            let (_, last) = num(net.broadcast());
            return Ok(IpRange { v6, first, last });
        }
        let ip: IpAddr = entry.parse().map_err(|_| bad())?;
        let (v6, n) = num(ip);
        Ok(IpRange {
            v6,
            first: n,
            last: n,
        })
    }

    /// The first and last address of the range.
    pub fn bounds(&self) -> (IpAddr, IpAddr) {
        let ip = |n: u128| {
            if self.v6 {
                IpAddr::V6(n.into())
            } else {
                // A v4 range holds only values that fit 32 bits (it was built from them).
                IpAddr::V4(u32::try_from(n).unwrap_or(u32::MAX).into())
            }
        };
        (ip(self.first), ip(self.last))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let (v6, n) = num(ip);
        v6 == self.v6 && self.first <= n && n <= self.last
    }

    pub fn overlaps(&self, other: &IpRange) -> bool {
        self.v6 == other.v6 && self.first <= other.last && other.first <= self.last
    }

    /// The first address both ranges hold, for error messages.
    pub fn first_common(&self, other: &IpRange) -> Option<IpAddr> {
        if !self.overlaps(other) {
            return None;
        }
        let n = self.first.max(other.first);
        Some(if self.v6 {
            IpAddr::V6(n.into())
        } else {
            IpAddr::V4(u32::try_from(n).ok()?.into())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_overlaps() {
        let one = IpRange::parse("10.0.0.5").unwrap();
        let net = IpRange::parse("10.0.0.0/29").unwrap();
        let range = IpRange::parse("10.0.0.7 - 10.0.1.2").unwrap();
        assert!(one.overlaps(&net));
        assert_eq!(net.first_common(&range), "10.0.0.7".parse().ok());
        assert!(!one.overlaps(&IpRange::parse("::ffff:10.0.0.5").unwrap()));
        assert!(range.contains("10.0.1.0".parse().unwrap()));
        assert!(
            IpRange::parse("10.0.0.9-10.0.0.1")
                .unwrap_err()
                .contains("ends before")
        );
        assert!(IpRange::parse("host.example").unwrap_err().contains("CIDR"));
    }
}
