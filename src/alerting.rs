//! Per window: add the batch to the running totals, classify, and decide whether to alert (a level
//! newly crossed), send a recovery notice (the window after an alerted one is OK), or stay quiet.

use crate::finding::{Finding, Rules, Totals};
use crate::metrics::WindowState;
use crate::severity::Severity;
use crate::tally::Evidence;
use crate::time::EpochMillis;
use std::collections::BTreeMap;

/// A window of one log group.
pub type WindowKey = (String, EpochMillis);

/// What to send about a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A level newly crossed: OK→ELEVATED, OK→HIGH or ELEVATED→HIGH.
    Alert(Severity),
    /// The window after an alerted one is OK again.
    Recovery,
}

/// The verdict on one window after a batch.
#[derive(Debug, Clone)]
pub struct WindowDecision {
    /// Log group and window start.
    pub key: WindowKey,
    /// Totals and markers after this batch (markers include `action`'s).
    pub state: WindowState,
    /// The finding over the window's totals.
    pub finding: Finding,
    /// What to send, if anything.
    pub action: Option<Action>,
}

/// Decides every window a batch touched. `known` holds what is known of windows so far (read from
/// metrics, merged with this container's memory), including the windows just before them.
/// `evidence` (per log group, from this batch: metrics keep no routes) sharpens the findings.
pub fn decide(
    batch: &BTreeMap<WindowKey, Totals>,
    known: &BTreeMap<WindowKey, WindowState>,
    evidence: &BTreeMap<String, BTreeMap<u16, Evidence>>,
    rules: &Rules,
    window_minutes: u32,
    notify_recovery: bool,
) -> Vec<WindowDecision> {
    let width = i64::from(window_minutes) * 60_000;
    batch
        .iter()
        .map(|(key, add)| {
            let mut state = known.get(key).cloned().unwrap_or_default();
            state.totals.add(add);
            let finding = Finding::new(&state.totals, evidence.get(&key.0).unwrap_or(&BTreeMap::new()), rules);
            let severity = finding.severity;
            let previous_alerted =
                known.get(&(key.0.clone(), key.1 - width)).is_some_and(|p| p.alerted.is_some() && !p.recovered);
            let action = if severity.is_alerting() && state.alerted.is_none_or(|a| severity > a) {
                state.alerted = Some(severity);
                Some(Action::Alert(severity))
            } else if notify_recovery
                && severity == Severity::Ok
                && previous_alerted
                && state.alerted.is_none()
                && !state.recovered
            {
                state.recovered = true;
                Some(Action::Recovery)
            } else {
                None
            };
            WindowDecision { key: key.clone(), state, finding, action }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::ClientErrorCode;

    fn totals(requests: u64, c403: u64) -> Totals {
        let mut t = Totals { requests, ..Totals::default() };
        t.client_errors.insert(ClientErrorCode::Status(403), c403);
        t
    }

    fn one(batch: Totals, known: &[(EpochMillis, WindowState)]) -> WindowDecision {
        let key = ("/g".to_string(), 600_000);
        let known = known.iter().map(|(w, s)| (("/g".to_string(), *w), s.clone())).collect();
        decide(&BTreeMap::from([(key, batch)]), &known, &BTreeMap::new(), &Rules::default(), 5, true).remove(0)
    }

    fn state(t: Totals, alerted: Option<Severity>) -> WindowState {
        WindowState { totals: t, alerted, recovered: false }
    }

    #[test]
    fn crossings_alert_once_per_level() {
        assert_eq!(one(totals(100, 20), &[]).action, Some(Action::Alert(Severity::Elevated)));
        assert_eq!(one(totals(100, 30), &[]).action, Some(Action::Alert(Severity::High)));
        let elevated = state(totals(100, 20), Some(Severity::Elevated));
        assert_eq!(one(totals(100, 80), &[(600_000, elevated.clone())]).action, Some(Action::Alert(Severity::High)));
        assert_eq!(one(totals(100, 20), &[(600_000, elevated)]).action, None, "same level: no repeat");
        let high = state(totals(100, 30), Some(Severity::High));
        assert_eq!(one(totals(100, 15), &[(600_000, high)]).action, None, "no alert on the way down");
        assert_eq!(one(totals(10, 10), &[]).action, None, "below the minimum volume");
    }

    #[test]
    fn running_totals_decide_not_the_batch_alone() {
        let d = one(totals(60, 30), &[(600_000, state(totals(60, 0), None))]);
        assert_eq!((d.state.totals.requests, d.finding.rate.client_errors), (120, 30));
        assert_eq!(d.action, Some(Action::Alert(Severity::Elevated)), "30 of 120 = 25%: ELEVATED, not HIGH");
    }

    #[test]
    fn recovery_after_an_alerted_window() {
        let prev = state(totals(100, 40), Some(Severity::High));
        let d = one(totals(200, 2), &[(300_000, prev.clone())]);
        assert_eq!(d.action, Some(Action::Recovery));
        assert!(d.state.recovered);
        let already = WindowState { recovered: true, ..state(totals(100, 0), None) };
        assert_eq!(one(totals(100, 1), &[(300_000, prev.clone()), (600_000, already)]).action, None);
        assert_eq!(one(totals(50, 0), &[(300_000, prev)]).action, None, "too few requests to call it recovered");
        assert_eq!(one(totals(200, 2), &[]).action, None, "nothing to recover from");
    }
}
