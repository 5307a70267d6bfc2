//! Calendar arithmetic for "expires N months after the last change" without a date crate.

use sealscan_protocols::calendar::civil_from_days;

const DAY: i64 = 86_400;

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The same time of day, `months` calendar months later; the day is clamped to the month's
/// length (Jan 31 + 1 month = Feb 28/29).
pub fn add_months(ts: i64, months: u32) -> i64 {
    let days = ts.div_euclid(DAY);
    let secs = ts.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    let total = y * 12 + i64::from(m - 1) + i64::from(months);
    let ny = total.div_euclid(12);
    let nm = (total.rem_euclid(12) + 1) as u32;
    let nd = d.min(days_in_month(ny, nm));
    days_from_civil(ny, nm, nd) * DAY + secs
}

/// RFC 3339 UTC text for API responses.
pub fn rfc3339(ts: i64) -> String {
    let (y, m, d) = civil_from_days(ts.div_euclid(DAY));
    let s = ts.rem_euclid(DAY);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// RFC 5322 date for email headers, in UTC.
pub fn rfc2822(ts: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = ts.div_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    let s = ts.rem_euclid(DAY);
    let wd = DAYS[days.rem_euclid(7) as usize];
    let mon = MONTHS[(m as usize).saturating_sub(1) % 12];
    format!(
        "{wd}, {d:02} {mon} {y:04} {:02}:{:02}:{:02} +0000",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_clamp_and_roll_over_years() {
        // 2024-01-31T10:00:00Z
        let jan31 = days_from_civil(2024, 1, 31) * DAY + 36_000;
        assert_eq!(rfc3339(add_months(jan31, 1)), "2024-02-29T10:00:00Z");
        assert_eq!(rfc3339(add_months(jan31, 13)), "2025-02-28T10:00:00Z");
        assert_eq!(rfc3339(add_months(jan31, 0)), "2024-01-31T10:00:00Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822(jan31), "Wed, 31 Jan 2024 10:00:00 +0000");
    }
}
