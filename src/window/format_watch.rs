//! Groups whose lines mostly do not parse: the format-mismatch check, one per group, that replaces
//! an alarm per group. The warm container adds each batch's lines per group to the hour they
//! arrived in (processing time); when a group's hour is over and most of at least [`MIN_LINES`]
//! lines did not parse, the group is due a notice, at most once a day. Pure: callers pass the clock.
//! A cold start begins the hour afresh: the check needs an hour of one container's batches.

use crate::base::time::{EpochMillis, DAY_MS, HOUR_MS};
use std::collections::HashMap;

/// Fewer lines than this in an hour: no verdict (a few odd lines are no format mismatch).
pub const MIN_LINES: u64 = 100;

/// A group's lines in one hour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Hour {
    start: EpochMillis,
    unparsed: u64,
    lines: u64,
}

/// A group due a notice: most of its lines in the hour from `hour` did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The group.
    pub group: String,
    /// The hour's start.
    pub hour: EpochMillis,
    /// Lines that did not parse.
    pub unparsed: u64,
    /// Lines in all.
    pub lines: u64,
}

/// Each group's current hour, and when each was last told.
#[derive(Debug, Default)]
pub struct FormatWatch {
    hours: HashMap<String, Hour>,
    told: HashMap<String, EpochMillis>,
}

impl FormatWatch {
    /// Adds a batch's lines of `group` (`unparsed` of them did not parse) at `now`. When the group's
    /// previous hour is over, returns it if it is due a notice.
    pub fn observe(&mut self, group: &str, unparsed: u64, lines: u64, now: EpochMillis) -> Option<Mismatch> {
        let start = now - now.rem_euclid(HOUR_MS);
        let hour = self.hours.entry(group.to_string()).or_insert(Hour { start, ..Hour::default() });
        let mut closed = None;
        if hour.start != start {
            closed = Some(*hour);
            *hour = Hour { start, ..Hour::default() };
        }
        hour.unparsed += unparsed;
        hour.lines += lines;
        let done = closed?;
        let recently = self.told.get(group).is_some_and(|t| now - t < DAY_MS);
        (done.lines >= MIN_LINES && done.unparsed * 2 > done.lines && !recently).then(|| Mismatch {
            group: group.to_string(),
            hour: done.start,
            unparsed: done.unparsed,
            lines: done.lines,
        })
    }

    /// Notes that `group` was told at `now` (not again for a day).
    pub fn told(&mut self, group: &str, now: EpochMillis) {
        self.told.insert(group.to_string(), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: EpochMillis = 1_764_000_000_000 - 1_764_000_000_000 % HOUR_MS;

    #[test]
    fn told_once_the_hour_is_over_and_once_a_day() {
        let mut w = FormatWatch::default();
        assert_eq!(w.observe("/g", 80, 100, H + 1), None);
        assert_eq!(w.observe("/g", 60, 100, H + HOUR_MS - 1), None, "the hour is not over");
        let due = w.observe("/g", 0, 10, H + HOUR_MS).unwrap();
        assert_eq!((due.hour, due.unparsed, due.lines), (H, 140, 200));
        w.told("/g", H + HOUR_MS);
        assert_eq!(w.observe("/g", 500, 500, H + 2 * HOUR_MS + 5), None, "hour 2: 10 lines, too few");
        assert_eq!(w.observe("/g", 0, 1, H + 3 * HOUR_MS), None, "told less than a day ago");
        assert_eq!(w.observe("/g", 500, 500, H + 25 * HOUR_MS), None);
        assert!(w.observe("/g", 0, 1, H + 26 * HOUR_MS).is_some(), "a day later, told again");
    }

    #[test]
    fn half_or_fewer_or_few_lines_is_no_mismatch() {
        let mut w = FormatWatch::default();
        w.observe("/half", 50, 100, H);
        w.observe("/few", 99, 99, H);
        w.observe("/ok", 1, 1_000, H);
        for g in ["/half", "/few", "/ok"] {
            assert_eq!(w.observe(g, 0, 1, H + HOUR_MS), None, "{g}");
        }
    }
}
