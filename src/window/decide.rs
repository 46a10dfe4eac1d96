//! The verdict on one window after a batch: add the batch to what is known, classify, and decide
//! whether to alert (a level newly crossed), send a recovery notice (the window after an alerted
//! one is OK), or stay quiet. Which windows are known, and how, is the ledger's business
//! ([`crate::window::ledger`]); this module only judges.
//!
//! A decision is made once, then refined by what only some windows need: a quiet window with 4xx
//! may be lifted by `SPIKE_FACTOR` once its group's baseline is known ([`Judge::lift`]), and a
//! window about to alert gets the breakdown by code read for it ([`Judge::add_breakdown`]). Both
//! go through the same action rule, so a refined decision is the one a single pass would make.
//!
//! A decision can be withheld ([`Withheld`]): the ledger says its totals may still lack another
//! container's counts, or the window is too old to page. A withheld decision keeps the action it
//! would take in [`WindowDecision::unsent`] and sends nothing, so it leaves no marker.

use crate::base::time::EpochMillis;
use crate::judge::baseline::{Baseline, SpikeFactor};
use crate::judge::finding::{Finding, Rules, Totals};
use crate::judge::group_rules::GroupRules;
use crate::judge::severity::Severity;
use crate::window::marker::Marker;
use crate::window::state::{Markers, WindowKey, WindowState};
use std::collections::BTreeMap;

/// Why a window's action is not sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withheld {
    /// Its totals may lack another container's counts still being extracted: it is read and
    /// decided again from `until` on, and sent then if it still holds.
    Partial {
        /// When everything the other containers wrote is readable.
        until: EpochMillis,
    },
    /// It began too long ago to be paged (see [`crate::window::ledger::PAGE_HORIZON_MS`]): never
    /// sent; a message about newer windows of its log group lists it.
    Old,
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
    /// What to send, if anything (the marker it leaves).
    pub action: Option<Marker>,
    /// The markers the window had before this batch decided anything.
    pub before: Markers,
    /// The window just before it alerted and has not recovered (a recovery notice is due if OK).
    pub previous_alerted: bool,
    /// The markers CloudWatch is known to hold for it (what need not be written again).
    pub written: Markers,
    /// Why the action is not sent now, if it is not.
    pub withheld: Option<Withheld>,
    /// The action a withheld decision would take.
    pub unsent: Option<Marker>,
}

impl WindowDecision {
    /// Markers decided that CloudWatch does not hold yet.
    pub fn missing_markers(&self) -> Vec<Marker> {
        self.state.markers.missing(&self.written)
    }
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
}

impl Judge<'_> {
    /// The rules of `log_group`'s windows.
    pub fn rules_for(&self, log_group: &str) -> Rules {
        match self.groups {
            Some(g) => g.for_group(log_group),
            None => self.rules.clone(),
        }
    }

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
        let finding = Finding::new(&state.totals(), &BTreeMap::new(), &self.rules_for(&key.0));
        let mut d = WindowDecision {
            key: key.clone(),
            before: state.markers,
            state,
            finding,
            action: None,
            previous_alerted: previous.is_some_and(|p| p.markers.alerted.is_some() && !p.markers.recovered),
            written: Markers::default(),
            withheld: None,
            unsent: None,
        };
        self.act(&mut d);
        d
    }

    /// Withholds the decision's action for `why`: it stays in `unsent`, nothing is sent or marked.
    pub fn withhold(&self, d: &mut WindowDecision, why: Withheld) {
        d.withheld = Some(why);
        self.act(d);
    }

    /// `SPIKE_FACTOR`: a window under the fixed levels whose rate is `factor` times its group's
    /// `baseline` becomes ELEVATED, and its action is decided again.
    pub fn lift(&self, d: &mut WindowDecision, factor: SpikeFactor, baseline: &Baseline) {
        let lifted = factor.apply(d.finding.severity, d.finding.rate, baseline);
        if lifted != d.finding.severity {
            d.finding = d.finding.clone().escalated(lifted, &BTreeMap::new());
            self.act(d);
        }
    }

    /// Adds the per-code breakdown of the window's whole total (`codes`: what CloudWatch holds of
    /// other writers' codes plus this container's own, this batch included): each code is the
    /// larger of the two lower bounds. The rate, and so the verdict and action, stay: codes not
    /// known before were already counted as other 4xx.
    pub fn add_breakdown(&self, d: &mut WindowDecision, codes: &WindowState) {
        for (code, n) in &codes.codes {
            let e = d.state.codes.entry(*code).or_default();
            *e = (*e).max(*n);
        }
        let severity = d.finding.severity;
        let mut finding = Finding::new(&d.state.totals(), &BTreeMap::new(), &self.rules_for(&d.key.0));
        if finding.severity != severity {
            finding = finding.escalated(severity, &BTreeMap::new());
        }
        d.finding = finding;
    }

    /// The action rule: alert when a level is newly crossed; send a recovery notice when the window
    /// after an alerted one is OK (once); otherwise nothing. A withheld decision keeps the action
    /// in `unsent` and sends nothing.
    fn act(&self, d: &mut WindowDecision) {
        let before = d.before;
        d.state.markers = before;
        let severity = d.finding.severity;
        let action = if severity.is_alerting() && before.alerted.is_none_or(|a| severity > a) {
            Some(Marker::Alerted(severity))
        } else if self.notify_recovery
            && severity == Severity::Ok
            && d.previous_alerted
            && before.alerted.is_none()
            && !before.recovered
        {
            Some(Marker::Recovered)
        } else {
            None
        };
        (d.action, d.unsent) = if d.withheld.is_some() { (None, action) } else { (action, None) };
        if let Some(m) = d.action {
            d.state.mark(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::finding::ClientErrorCode;
    use crate::window::state::Markers;

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
        let judge = Judge { rules: &rules, notify_recovery: true, groups: None };
        let key = ("/g".to_string(), 600_000);
        judge.decide(&key, &known.unwrap_or_default(), previous.as_ref(), &batch)
    }

    #[test]
    fn crossings_alert_once_per_level() {
        assert_eq!(one(totals(100, 20), None, None).action, Some(Marker::Alerted(Severity::Elevated)));
        assert_eq!(one(totals(100, 30), None, None).action, Some(Marker::Alerted(Severity::High)));
        let elevated = state(totals(100, 20), Some(Severity::Elevated));
        assert_eq!(one(totals(100, 80), Some(elevated.clone()), None).action, Some(Marker::Alerted(Severity::High)));
        assert_eq!(one(totals(100, 20), Some(elevated), None).action, None, "same level: no repeat");
        let high = state(totals(100, 30), Some(Severity::High));
        assert_eq!(one(totals(100, 15), Some(high), None).action, None, "no alert on the way down");
        assert_eq!(one(totals(10, 10), None, None).action, None, "below the minimum volume");
    }

    #[test]
    fn running_totals_decide_not_the_batch_alone() {
        let d = one(totals(60, 30), Some(state(totals(60, 0), None)), None);
        assert_eq!((d.state.requests, d.finding.rate.client_errors), (120, 30));
        assert_eq!(d.action, Some(Marker::Alerted(Severity::Elevated)), "30 of 120 = 25%: ELEVATED, not HIGH");
    }

    #[test]
    fn totals_known_only_in_sum_still_decide() {
        // A window read back from CloudWatch: 4xx known in total, not by code.
        let known = WindowState { requests: 100, client_errors: 30, ..WindowState::default() };
        let d = one(totals(0, 0), Some(known), None);
        assert_eq!(d.action, Some(Marker::Alerted(Severity::High)));
        assert_eq!(d.finding.breakdown, vec![(ClientErrorCode::Other4xx, 30)], "unknown codes show as other 4xx");
    }

    #[test]
    fn recovery_after_an_alerted_window() {
        let prev = state(totals(100, 40), Some(Severity::High));
        let d = one(totals(200, 2), None, Some(prev.clone()));
        assert_eq!(d.action, Some(Marker::Recovered));
        assert!(d.state.markers.recovered);
        let already =
            WindowState { markers: Markers { alerted: None, recovered: true }, ..state(totals(100, 0), None) };
        assert_eq!(one(totals(100, 1), Some(already), Some(prev.clone())).action, None);
        assert_eq!(one(totals(50, 0), None, Some(prev)).action, None, "too few requests to call it recovered");
        assert_eq!(one(totals(200, 2), None, None).action, None, "nothing to recover from");
    }

    #[test]
    fn a_withheld_decision_keeps_its_action_unsent_and_leaves_no_marker() {
        let rules = Rules::default();
        let judge = Judge { rules: &rules, notify_recovery: true, groups: None };
        let key = ("/g".to_string(), 600_000);
        for why in [Withheld::Old, Withheld::Partial { until: 700_000 }] {
            let mut d = judge.decide(&key, &WindowState::default(), None, &totals(100, 30));
            judge.withhold(&mut d, why);
            assert_eq!((d.action, d.unsent), (None, Some(Marker::Alerted(Severity::High))), "{why:?}");
            assert!(d.missing_markers().is_empty(), "{why:?}: nothing sent, nothing marked");
        }
    }
}
