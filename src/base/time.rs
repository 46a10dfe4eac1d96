//! UTC timestamps: ISO-8601 in (exports), ISO-8601 out (windows), with no time-zone database.

/// Milliseconds since the Unix epoch.
pub type EpochMillis = i64;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

/// Digits at `r` of `b` as a number, if all are digits.
fn digits(b: &[u8], r: std::ops::Range<usize>) -> Option<i64> {
    let part = b.get(r)?;
    part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0i64, |a, c| a * 10 + i64::from(c - b'0')))
}

/// A UTC offset `+hhmm`, `-hhmm`, `+hh:mm` or `-hh:mm` at `at`, in minutes.
fn offset_minutes(b: &[u8], at: usize) -> Option<i64> {
    let sign = match b.get(at)? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let minutes_at = if b.get(at + 3) == Some(&b':') { at + 4 } else { at + 3 };
    Some(sign * (digits(b, at + 1..at + 3)? * 60 + digits(b, minutes_at..minutes_at + 2)?))
}

/// A civil time with a UTC offset (minutes) in epoch milliseconds, if the fields are in range.
#[allow(clippy::too_many_arguments)]
fn civil_millis(y: i64, mo: i64, d: i64, h: i64, mi: i64, sec: i64, millis: i64, offset: i64) -> Option<EpochMillis> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    Some(((days_from_civil(y, mo, d) * 24 + h) * 60 + mi - offset) * 60_000 + sec * 1000 + millis)
}

/// Parses `2026-11-25T10:00:00.123Z`, `2026-11-25T10:00:00Z`, `2026-11-25 10:00:00.123` (Logs
/// Insights) or with a `+hh:mm` offset. Returns `None` for anything else.
pub fn parse_iso8601(s: &str) -> Option<EpochMillis> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| digits(b, r);
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut millis = 0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start + b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
        let frac = &b[start..i.min(start + 3)];
        millis = frac.iter().fold(0i64, |a, c| a * 10 + i64::from(c - b'0')) * 10i64.pow(3 - frac.len() as u32);
    }
    let offset = match b.get(i) {
        None | Some(b'Z') => 0,
        Some(_) => offset_minutes(b, i)?,
    };
    civil_millis(y, mo, d, h, mi, sec, millis, offset)
}

/// `$context.requestTime` (`25/Nov/2026:10:00:00 +0000`, the CLF date) or `$context.requestTimeEpoch`
/// (milliseconds, or seconds when it is too small to be milliseconds), the console's test-invoke
/// date (`Tue Jun 23 05:56:11 UTC 2020`), or ISO-8601.
pub fn parse_request_time(s: &str) -> Option<EpochMillis> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s.parse().ok()?;
        return Some(if n < 100_000_000_000 { n * 1000 } else { n });
    }
    let b = s.as_bytes();
    if b.len() == 28 && b[3] == b' ' && b[7] == b' ' {
        return parse_test_invoke_date(b);
    }
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return parse_iso8601(s);
    }
    let month = month_number(&b[3..6])?;
    if b[14] != b':' || b[17] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| digits(b, r);
    civil_millis(num(7..11)?, month, num(0..2)?, num(12..14)?, num(15..17)?, num(18..20)?, 0, offset_minutes(b, 21)?)
}

/// `Jan` → 1 … `Dec` → 12.
fn month_number(name: &[u8]) -> Option<i64> {
    const MONTHS: [&[u8]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    Some(MONTHS.iter().position(|m| *m == name)? as i64 + 1)
}

/// The console's test-invoke date, Java's `Date.toString()` in UTC: `Tue Jun 23 05:56:11 UTC 2020`
/// (`GMT` taken too; any other zone is not read: no time-zone database).
fn parse_test_invoke_date(b: &[u8]) -> Option<EpochMillis> {
    if b[10] != b' ' || b[13] != b':' || b[16] != b':' || b[19] != b' ' || b[23] != b' ' {
        return None;
    }
    if !matches!(&b[20..23], b"UTC" | b"GMT") {
        return None;
    }
    let num = |r: std::ops::Range<usize>| digits(b, r);
    civil_millis(num(24..28)?, month_number(&b[4..7])?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?, 0, 0)
}

/// `2026-11-25T10:05:00Z`.
pub fn format_iso8601(t: EpochMillis) -> String {
    let secs = t.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// A minute in milliseconds.
pub const MINUTE_MS: EpochMillis = 60_000;
/// An hour in milliseconds.
pub const HOUR_MS: EpochMillis = 60 * MINUTE_MS;
/// A day in milliseconds.
pub const DAY_MS: EpochMillis = 24 * HOUR_MS;

/// Narrowest window, in minutes.
pub const MIN_WINDOW_MINUTES: u32 = 1;
/// Widest window, in minutes: a day.
pub const MAX_WINDOW_MINUTES: u32 = 1440;
/// The window unless configured otherwise, in minutes.
pub const DEFAULT_WINDOW_MINUTES: u32 = 5;

/// The width of a window of `minutes`, in milliseconds (at least one minute).
pub fn window_width(minutes: u32) -> EpochMillis {
    i64::from(minutes.max(1)) * MINUTE_MS
}

/// The start of the tumbling window of `minutes` (aligned to the epoch) that holds `t`.
pub fn window_start(t: EpochMillis, minutes: u32) -> EpochMillis {
    let w = window_width(minutes);
    t.div_euclid(w) * w
}

/// The end (exclusive) of the window starting at `start`.
pub fn window_end(start: EpochMillis, minutes: u32) -> EpochMillis {
    start + window_width(minutes)
}

/// The start of the window just before the one starting at `start`.
pub fn previous_window(start: EpochMillis, minutes: u32) -> EpochMillis {
    start - window_width(minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip_and_forms() {
        let t = 1_764_000_000_000;
        assert_eq!(format_iso8601(t), "2025-11-24T16:00:00Z");
        assert_eq!(parse_iso8601("2025-11-24T16:00:00Z"), Some(t));
        assert_eq!(parse_iso8601("2025-11-24T16:00:00.250Z"), Some(t + 250));
        assert_eq!(parse_iso8601("2025-11-24 16:00:00.5"), Some(t + 500));
        assert_eq!(parse_iso8601("2025-11-24T17:00:00+01:00"), Some(t));
        for bad in ["2025-13-24T16:00:00Z", "yesterday", "2025-11-24T16:00", "2025-11-24T16:00:00Q"] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn request_times_as_api_gateway_logs_them() {
        let t = 1_764_000_000_000;
        assert_eq!(parse_request_time("24/Nov/2025:16:00:00 +0000"), Some(t));
        assert_eq!(parse_request_time("24/Nov/2025:17:30:00 +0130"), Some(t));
        assert_eq!(parse_request_time("1764000000000"), Some(t));
        assert_eq!(parse_request_time("1764000000"), Some(t));
        assert_eq!(parse_request_time("Mon Nov 24 16:00:00 UTC 2025"), Some(t), "the console's test invoke");
        assert_eq!(parse_request_time("Mon Nov 24 16:00:00 GMT 2025"), Some(t));
        for bad in [
            "24/Foo/2025:16:00:00 +0000",
            "-",
            "",
            "24/Nov/2025",
            "Mon Nov 24 16:00:00 PST 2025",
            "Mon Xyz 24 16:00:00 UTC 2025",
        ] {
            assert_eq!(parse_request_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn windows_align_to_the_epoch() {
        assert_eq!(window_start(1_764_000_299_999, 5), 1_764_000_000_000);
        assert_eq!(window_start(1_764_000_300_000, 5), 1_764_000_300_000);
        assert_eq!(window_start(-1, 5), -300_000);
        assert_eq!(window_end(1_764_000_000_000, 5), 1_764_000_300_000);
        assert_eq!(previous_window(1_764_000_000_000, 5), 1_763_999_700_000);
        assert_eq!(window_width(0), 60_000, "a zero width would divide by zero");
    }
}
