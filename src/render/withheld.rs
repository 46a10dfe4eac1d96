//! The line a message adds about windows of its log group that crossed a level but began too long
//! ago to be paged ([`crate::window::ledger::PAGE_HORIZON_MS`]): reported, never paged.

use crate::base::numbers::thousands;
use crate::base::time::{format_iso8601, window_end, HOUR_MS, MINUTE_MS};
use crate::window::decide::WindowDecision;
use crate::window::ledger::PAGE_HORIZON_MS;
use crate::window::marker::Marker;

/// Old windows listed in one line; the rest are counted.
pub const MAX_LISTED_OLD: usize = 10;

/// `Not paged: …` for the old windows among `decisions` that would act, or `None` when none would.
pub fn old_windows_line(decisions: &[&WindowDecision], window_minutes: u32) -> Option<String> {
    let old: Vec<String> = decisions
        .iter()
        .filter_map(|d| {
            let level = d.unsent.map(Marker::level)?;
            Some(format!(
                "{} to {} {level} {} ({} of {} requests)",
                format_iso8601(d.key.1),
                format_iso8601(window_end(d.key.1, window_minutes)),
                d.finding.rate.percent_text(),
                thousands(d.finding.rate.client_errors),
                thousands(d.finding.rate.requests)
            ))
        })
        .collect();
    if old.is_empty() {
        return None;
    }
    let (h, m) = (PAGE_HORIZON_MS / HOUR_MS, PAGE_HORIZON_MS % HOUR_MS / MINUTE_MS);
    let mut line = format!(
        "Not paged, began more than {h} h {m} min before this batch (CloudWatch can take hours to make their alert markers readable): {}",
        old.iter().take(MAX_LISTED_OLD).cloned().collect::<Vec<_>>().join("; ")
    );
    if old.len() > MAX_LISTED_OLD {
        line.push_str(&format!("; and {} more", old.len() - MAX_LISTED_OLD));
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::finding::{ClientErrorCode, Rules, Totals};
    use crate::window::decide::{Judge, Withheld};
    use crate::window::state::WindowState;

    #[test]
    fn old_windows_that_would_act_are_listed_with_their_counts() {
        let rules = Rules::default();
        let judge = Judge { rules: &rules, notify_recovery: true, groups: None };
        let mut t = Totals { requests: 300, ..Totals::default() };
        t.client_errors.insert(ClientErrorCode::Status(403), 100);
        let decide = |w, t: &Totals| {
            let mut d = judge.decide(&("/g".into(), w), &WindowState::default(), None, t);
            judge.withhold(&mut d, Withheld::Old);
            d
        };
        let (high, quiet) = (decide(1_764_000_000_000, &t), decide(1_764_000_300_000, &Totals::default()));
        let line = old_windows_line(&[&high, &quiet], 5).unwrap();
        assert!(line.starts_with("Not paged, began more than 2 h 45 min before this batch"), "{line}");
        assert!(
            line.ends_with("2025-11-24T16:00:00Z to 2025-11-24T16:05:00Z HIGH 33.3% (100 of 300 requests)"),
            "{line}"
        );
        assert_eq!(old_windows_line(&[&quiet], 5), None);
    }
}
