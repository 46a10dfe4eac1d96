//! The verdict on one window after a batch: add the batch to what is known, classify, and decide
//! whether to alert (a level newly crossed), send a recovery notice (the window after an alerted
//! one is OK), or stay quiet. Which windows are known, and how, is the ledger's business
//! ([`crate::ledger`]); this module only judges.

use crate::baseline::{Baseline, SpikeFactor};
use crate::finding::{Finding, Rules, Totals};
use crate::group_rules::GroupRules;
use crate::ledger::{WindowKey, WindowState};
use crate::severity::Severity;
use std::collections::BTreeMap;

/// What to send about a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A level newly crossed: OK→ELEVATED, OK→HIGH or ELEVATED→HIGH.
    Alert(Severity),
    /// The window after an alerted one is OK again.
    Recovery,
}

impl Action {
    /// `ELEVATED`, `HIGH` or `RECOVERED`: the `Severity` of the marker and the message attribute.
    pub fn level(self) -> &'static str {
        match self {
            Action::Alert(s) => s.as_str(),
            Action::Recovery => crate::metrics::RECOVERED,
        }
    }
}

/// The verdict on one window after a batch.
#[derive(Debug, Clone)]
pub struct WindowDecision {
    /// Log group and window start.
    pub key: WindowKey,
    /// What is known of the window after this batch (markers include `action`'s).
    pub state: WindowState,
    /// The finding over the window's totals.
    pub finding: Finding,
    /// What to send, if anything.
    pub action: Option<Action>,
}

/// How windows are judged.
#[derive(Debug, Clone, Copy)]
pub struct Judge<'a> {
    /// Levels, minimum volume, ignored codes.
    pub rules: &'a Rules,
    /// Send a notice when the window after an alerted one is OK.
    pub notify_recovery: bool,
    /// Levels per log group (`GROUP_RULES`), over `rules`.
    pub groups: Option<&'a GroupRules>,
    /// `SPIKE_FACTOR` and the baselines known for it, per log group.
    pub spike: Option<(SpikeFactor, &'a BTreeMap<String, Baseline>)>,
}

impl Judge<'_> {
    /// Decides one window: `known` is what is known of it before the batch, `previous` what is known
    /// of the window just before it (if anything), `add` the batch's totals for it. The finding
    /// carries no evidence (routes, methods): a message adds the batch's when it is written, so a
    /// batch touching thousands of windows does not copy it thousands of times.
    pub fn decide(
        &self,
        key: &WindowKey,
        known: &WindowState,
        previous: Option<&WindowState>,
        add: &Totals,
    ) -> WindowDecision {
        let mut state = known.clone();
        state.add(add);
        let own;
        let rules = match self.groups {
            Some(g) => {
                own = g.for_group(&key.0);
                &own
            }
            None => self.rules,
        };
        let mut finding = Finding::new(&state.totals(), &BTreeMap::new(), rules);
        if let Some(baseline) = self.spike.and_then(|(f, b)| b.get(&key.0).map(|b| (f, b))) {
            let lifted = baseline.0.apply(finding.severity, finding.rate, baseline.1);
            if lifted != finding.severity {
                finding = finding.escalated(lifted, &BTreeMap::new());
            }
        }
        let severity = finding.severity;
        let previous_alerted = previous.is_some_and(|p| p.markers.alerted.is_some() && !p.markers.recovered);
        let action = if severity.is_alerting() && state.markers.alerted.is_none_or(|a| severity > a) {
            state.markers.alerted = Some(severity);
            Some(Action::Alert(severity))
        } else if self.notify_recovery
            && severity == Severity::Ok
            && previous_alerted
            && state.markers.alerted.is_none()
            && !state.markers.recovered
        {
            state.markers.recovered = true;
            Some(Action::Recovery)
        } else {
            None
        };
        WindowDecision { key: key.clone(), state, finding, action }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::ClientErrorCode;
    use crate::ledger::Markers;

    fn totals(requests: u64, c403: u64) -> Totals {
        let mut t = Totals { requests, ..Totals::default() };
        t.client_errors.insert(ClientErrorCode::Status(403), c403);
        t
    }

    fn state(t: Totals, alerted: Option<Severity>) -> WindowState {
        let mut s = WindowState { markers: Markers { alerted, recovered: false }, ..WindowState::default() };
        s.add(&t);
        s
    }

    fn one(batch: Totals, known: Option<WindowState>, previous: Option<WindowState>) -> WindowDecision {
        let rules = Rules::default();
        let judge = Judge { rules: &rules, notify_recovery: true, groups: None, spike: None };
        let key = ("/g".to_string(), 600_000);
        judge.decide(&key, &known.unwrap_or_default(), previous.as_ref(), &batch)
    }

    #[test]
    fn crossings_alert_once_per_level() {
        assert_eq!(one(totals(100, 20), None, None).action, Some(Action::Alert(Severity::Elevated)));
        assert_eq!(one(totals(100, 30), None, None).action, Some(Action::Alert(Severity::High)));
        let elevated = state(totals(100, 20), Some(Severity::Elevated));
        assert_eq!(one(totals(100, 80), Some(elevated.clone()), None).action, Some(Action::Alert(Severity::High)));
        assert_eq!(one(totals(100, 20), Some(elevated), None).action, None, "same level: no repeat");
        let high = state(totals(100, 30), Some(Severity::High));
        assert_eq!(one(totals(100, 15), Some(high), None).action, None, "no alert on the way down");
        assert_eq!(one(totals(10, 10), None, None).action, None, "below the minimum volume");
    }

    #[test]
    fn running_totals_decide_not_the_batch_alone() {
        let d = one(totals(60, 30), Some(state(totals(60, 0), None)), None);
        assert_eq!((d.state.requests, d.finding.rate.client_errors), (120, 30));
        assert_eq!(d.action, Some(Action::Alert(Severity::Elevated)), "30 of 120 = 25%: ELEVATED, not HIGH");
    }

    #[test]
    fn totals_known_only_in_sum_still_decide() {
        // A window read back from CloudWatch: 4xx known in total, not by code.
        let known = WindowState { requests: 100, client_errors: 30, ..WindowState::default() };
        let d = one(totals(0, 0), Some(known), None);
        assert_eq!(d.action, Some(Action::Alert(Severity::High)));
        assert_eq!(d.finding.breakdown, vec![(ClientErrorCode::Other4xx, 30)], "unknown codes show as other 4xx");
    }

    #[test]
    fn recovery_after_an_alerted_window() {
        let prev = state(totals(100, 40), Some(Severity::High));
        let d = one(totals(200, 2), None, Some(prev.clone()));
        assert_eq!(d.action, Some(Action::Recovery));
        assert!(d.state.markers.recovered);
        let already =
            WindowState { markers: Markers { alerted: None, recovered: true }, ..state(totals(100, 0), None) };
        assert_eq!(one(totals(100, 1), Some(already), Some(prev.clone())).action, None);
        assert_eq!(one(totals(50, 0), None, Some(prev)).action, None, "too few requests to call it recovered");
        assert_eq!(one(totals(200, 2), None, None).action, None, "nothing to recover from");
    }
}
