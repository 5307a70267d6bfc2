//! The order to try a service's SRV targets in (RFC 2782), sans-I/O: lowest priority first;
//! within one priority, a weighted random draw, so a realm's KDCs share the load the way its
//! administrator weighted them (as Windows and MIT clients do).
//!
//! No DNS here and no `super::`/`crate::` paths: `fuzz/fuzz_targets/kdc_messages.rs`
//! compiles this file as it is. The random source is the caller's.

/// One SRV record's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrvRecord {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    /// The target host name, without the trailing dot; `.` (RFC 2782: "the service is
    /// decidedly not available at this domain") is dropped by [`order`].
    pub target: String,
}

/// `records` in the order to try them. `below(n)` returns a random number in `0..n` (`n` is
/// never 0). Records whose target is `.` or empty are dropped.
pub fn order(records: Vec<SrvRecord>, mut below: impl FnMut(u64) -> u64) -> Vec<SrvRecord> {
    let mut records: Vec<SrvRecord> = records
        .into_iter()
        .filter(|r| !r.target.is_empty() && r.target != ".")
        .collect();
    // Stable: within a priority the zero-weight records come first, as RFC 2782 asks, so a
    // draw of 0 can pick them.
    records.sort_by_key(|r| (r.priority, r.weight != 0));
    let mut ordered = Vec::with_capacity(records.len());
    let mut rest = records.as_slice();
    while let Some(first) = rest.first() {
        let same = rest
            .iter()
            .take_while(|r| r.priority == first.priority)
            .count();
        let (group, tail) = rest.split_at(same);
        let mut group = group.to_vec();
        while !group.is_empty() {
            let total: u64 = group.iter().map(|r| u64::from(r.weight)).sum();
            let draw = below(total + 1).min(total);
            let mut running = 0u64;
            let pick = group
                .iter()
                .position(|r| {
                    running += u64::from(r.weight);
                    running >= draw
                })
                .unwrap_or(group.len() - 1);
            ordered.push(group.remove(pick));
        }
        rest = tail;
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port: 88,
            target: target.into(),
        }
    }

    fn targets(records: &[SrvRecord]) -> Vec<&str> {
        records.iter().map(|r| r.target.as_str()).collect()
    }

    #[test]
    fn lower_priority_comes_first_whatever_the_weights() {
        let records = vec![srv(10, 100, "b"), srv(0, 0, "a"), srv(20, 65535, "c")];
        for draw in [0u64, 1, 1000] {
            let got = order(records.clone(), |n| draw % n);
            assert_eq!(targets(&got), ["a", "b", "c"]);
        }
    }

    #[test]
    fn within_a_priority_the_draw_follows_the_weights() {
        let records = vec![srv(0, 1, "light"), srv(0, 9, "heavy"), srv(0, 0, "zero")];
        // Running sums in RFC order: zero 0, light 1, heavy 10.
        assert_eq!(targets(&order(records.clone(), |_| 0))[0], "zero");
        assert_eq!(targets(&order(records.clone(), |_| 1))[0], "light");
        assert_eq!(targets(&order(records.clone(), |n| n - 1))[0], "heavy");
        // Over every draw, "heavy" comes first nine times out of eleven.
        let heavy_first = (0..11)
            .filter(|d| order(records.clone(), |n| d % n)[0].target == "heavy")
            .count();
        assert_eq!(heavy_first, 9);
    }

    #[test]
    fn the_no_service_target_is_dropped_and_nothing_is_lost() {
        let records = vec![
            srv(0, 0, "."),
            srv(1, 5, "kdc1"),
            srv(1, 5, "kdc2"),
            srv(2, 0, ""),
        ];
        let got = order(records, |n| n / 2);
        let mut names = targets(&got);
        names.sort_unstable();
        assert_eq!(names, ["kdc1", "kdc2"]);
        assert!(order(Vec::new(), |_| 0).is_empty());
    }

    #[test]
    fn a_random_source_out_of_range_cannot_panic() {
        let records = vec![srv(0, 65535, "a"), srv(0, 65535, "b")];
        assert_eq!(order(records, |_| u64::MAX).len(), 2);
    }
}
