//! Timestamps as Secret Server writes them: no zone suffix, fractional seconds.

use time::OffsetDateTime;

fn format(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond() / 100
    )
}

/// Local and UTC "now" for the health body; the simulator's local time is UTC.
pub(crate) fn now_pair() -> (String, String) {
    let now = format(OffsetDateTime::now_utc());
    (format!("{now}+00:00"), format!("{now}Z"))
}

/// A fixed moment used for seeded secrets' heartbeat and creation times, so responses are
/// stable across runs.
pub(crate) const SEEDED_AT: &str = "2024-05-01T10:00:00.443";
pub(crate) const NEVER: &str = "0001-01-01T00:00:00";
