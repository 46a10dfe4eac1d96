//! The time range of a CloudWatch Logs read, from the command line: `--since 1h` (up to now), or
//! `--start` with an optional `--end`, each ISO-8601 or epoch milliseconds.

use crate::base::time::{parse_request_time, EpochMillis, DAY_MS, HOUR_MS, MINUTE_MS};

/// From `start` to `end`, both inclusive (as FilterLogEvents reads them), epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// The first millisecond.
    pub start: EpochMillis,
    /// The last millisecond.
    pub end: EpochMillis,
}

impl TimeRange {
    /// The milliseconds of any of `spans`, as few sorted, disjoint spans (overlapping and adjacent
    /// ones joined).
    pub fn union(mut spans: Vec<TimeRange>) -> Vec<TimeRange> {
        spans.sort_by_key(|s| s.start);
        let mut out: Vec<TimeRange> = Vec::with_capacity(spans.len());
        for s in spans {
            match out.last_mut() {
                Some(last) if s.start <= last.end.saturating_add(1) => last.end = last.end.max(s.end),
                _ => out.push(s),
            }
        }
        out
    }
}

/// Why a time range is not valid.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimeRangeError {
    /// `--since` is not a duration.
    #[error("--since {0}: expected a duration such as 90s, 15m, 1h, 2d or 1h30m")]
    Duration(String),
    /// `--start` or `--end` is not a time.
    #[error("--{option} {value}: expected ISO-8601 (2026-11-25T10:00:00Z) or epoch milliseconds")]
    Time {
        /// `start` or `end`.
        option: &'static str,
        /// As given.
        value: String,
    },
    /// The range is empty.
    #[error("--start must be before --end")]
    Backwards,
    /// Neither `--since` nor `--start`.
    #[error("--log-group needs --since DURATION or --start TIME")]
    Missing,
}

/// A duration such as `90s`, `15m`, `1h`, `2d`, `1w` or `1h30m`, in milliseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let n: i64 = rest[..digits].parse().ok()?;
        let unit_len = rest[digits..].bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit_ms = match &rest[digits..digits + unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" | "min" => MINUTE_MS,
            "h" => HOUR_MS,
            "d" => DAY_MS,
            "w" => 7 * DAY_MS,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit_ms)?)?;
        rest = &rest[digits + unit_len..];
    }
    (total > 0).then_some(total)
}

/// The range the options ask for, at `now`.
pub fn resolve(
    since: Option<&str>,
    start: Option<&str>,
    end: Option<&str>,
    now: EpochMillis,
) -> Result<TimeRange, TimeRangeError> {
    let time = |option, value: &str| {
        parse_request_time(value).ok_or_else(|| TimeRangeError::Time { option, value: value.to_string() })
    };
    let end = end.map(|e| time("end", e)).transpose()?.unwrap_or(now);
    let start = match (since, start) {
        (Some(d), _) => end - parse_duration(d).ok_or_else(|| TimeRangeError::Duration(d.to_string()))?,
        (None, Some(s)) => time("start", s)?,
        (None, None) => return Err(TimeRangeError::Missing),
    };
    if start >= end {
        return Err(TimeRangeError::Backwards);
    }
    Ok(TimeRange { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: EpochMillis = 1_764_000_000_000; // 2025-11-24T16:00:00Z

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(90_000));
        assert_eq!(parse_duration("15m"), Some(900_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("2d"), Some(172_800_000));
        for bad in ["", "1", "h", "1y", "-1h", "0s", "1h x", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn since_ends_now_and_start_end_take_both_forms() {
        assert_eq!(resolve(Some("1h"), None, None, NOW), Ok(TimeRange { start: NOW - 3_600_000, end: NOW }));
        assert_eq!(
            resolve(None, Some("2025-11-24T15:00:00Z"), Some("1764000000000"), NOW + 5),
            Ok(TimeRange { start: NOW - 3_600_000, end: NOW })
        );
        assert_eq!(resolve(None, Some("2025-11-24T15:30:00.500Z"), None, NOW).map(|r| r.start), Ok(NOW - 1_799_500));
    }

    #[test]
    fn bad_ranges_say_which_option() {
        assert_eq!(resolve(None, None, None, NOW), Err(TimeRangeError::Missing));
        assert_eq!(resolve(Some("soon"), None, None, NOW), Err(TimeRangeError::Duration("soon".into())));
        assert_eq!(
            resolve(None, Some("yesterday"), None, NOW),
            Err(TimeRangeError::Time { option: "start", value: "yesterday".into() })
        );
        assert_eq!(resolve(None, Some("1764000000000"), Some("1763999999999"), NOW), Err(TimeRangeError::Backwards));
    }
}
