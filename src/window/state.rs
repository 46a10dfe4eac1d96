//! What is known of a window: its key, its totals, and its alert markers, with the arithmetic the
//! ledger builds totals from: two lower bounds of the same counts merge by field-wise maximum
//! ([`WindowState::merge`]); counts of different writers add ([`WindowState::add_counts`]); what a
//! read holds less what is known to be this container's own leaves the others' ([`WindowState::less`]).

use crate::base::time::EpochMillis;
use crate::judge::finding::{ClientErrorCode, Totals};
use crate::judge::severity::Severity;
use crate::window::marker::Marker;
use std::collections::BTreeMap;

/// A window of one log group: `(log group, window start)`.
pub type WindowKey = (String, EpochMillis);

/// The alert markers of a window: the highest level it alerted at, and whether it had its recovery
/// notice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Markers {
    /// ELEVATED or HIGH, if the window alerted.
    pub alerted: Option<Severity>,
    /// The recovery notice was sent.
    pub recovered: bool,
}

impl Markers {
    /// Both sides' markers.
    pub fn merge(&mut self, other: &Markers) {
        self.alerted = self.alerted.max(other.alerted);
        self.recovered |= other.recovered;
    }

    /// Records a marker read back, decided or written.
    pub fn mark(&mut self, m: Marker) {
        match m {
            Marker::Alerted(level) => self.alerted = self.alerted.max(Some(level)),
            Marker::Recovered => self.recovered = true,
        }
    }

    /// Markers in `self` that `written` lacks.
    pub fn missing(&self, written: &Markers) -> Vec<Marker> {
        let mut out = Vec::new();
        if let Some(level) = self.alerted.filter(|l| Some(*l) > written.alerted) {
            out.push(Marker::Alerted(level));
        }
        if self.recovered && !written.recovered {
            out.push(Marker::Recovered);
        }
        out
    }
}

/// What is known of a window: lower bounds of its totals, and its markers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowState {
    /// Requests.
    pub requests: u64,
    /// All 4xx (reads get this sum; codes come separately, and only when an alert needs them).
    pub client_errors: u64,
    /// 4xx by tracked code and `Other4xx`, as far as known (may sum to less than `client_errors`).
    pub codes: BTreeMap<ClientErrorCode, u64>,
    /// Lines with no valid status.
    pub unparsed: u64,
    /// Alert markers.
    pub markers: Markers,
    /// Another container wrote counts to it (its writer mark was read back).
    pub shared: bool,
    /// Writer marks read back: how many containers marked it before (a retried put counts twice).
    pub writers: u64,
}

impl WindowState {
    /// The merge rule for two lower bounds of the same counts: field-wise maximum, never a sum.
    pub fn merge(&mut self, other: &WindowState) {
        self.requests = self.requests.max(other.requests);
        self.client_errors = self.client_errors.max(other.client_errors);
        self.unparsed = self.unparsed.max(other.unparsed);
        for (code, n) in &other.codes {
            let e = self.codes.entry(*code).or_default();
            *e = (*e).max(*n);
        }
        self.markers.merge(&other.markers);
        self.shared |= other.shared;
        self.writers = self.writers.max(other.writers);
    }

    /// Adds `other`'s counts (another writer's, or another part of the same writer's); markers stay.
    pub fn add_counts(&mut self, other: &WindowState) {
        self.requests += other.requests;
        self.client_errors += other.client_errors;
        self.unparsed += other.unparsed;
        for (code, n) in &other.codes {
            *self.codes.entry(*code).or_default() += n;
        }
    }

    /// The counts of `self` less `other`'s, field by field, never below zero (markers stay): what
    /// a read holds beyond what is known to be this container's.
    pub fn less(&self, other: &WindowState) -> WindowState {
        let mut out = self.clone();
        out.requests = out.requests.saturating_sub(other.requests);
        out.client_errors = out.client_errors.saturating_sub(other.client_errors);
        out.unparsed = out.unparsed.saturating_sub(other.unparsed);
        for (code, n) in &mut out.codes {
            *n = n.saturating_sub(other.codes.get(code).copied().unwrap_or(0));
        }
        out.codes.retain(|_, n| *n > 0);
        out
    }

    /// The counts only: markers and writer marks cleared.
    pub fn counts(&self) -> WindowState {
        WindowState { markers: Markers::default(), shared: false, writers: 0, ..self.clone() }
    }

    /// True when it holds no count.
    pub fn is_empty(&self) -> bool {
        self.requests == 0 && self.client_errors == 0 && self.unparsed == 0 && self.codes.values().all(|n| *n == 0)
    }

    /// A batch's totals as counts.
    pub fn of(t: &Totals) -> WindowState {
        let mut s = WindowState::default();
        s.add(t);
        s
    }

    /// Adds a batch's totals (counted once, by this container).
    pub fn add(&mut self, t: &Totals) {
        self.requests += t.requests;
        self.unparsed += t.unparsed;
        for (code, n) in &t.client_errors {
            *self.codes.entry(*code).or_default() += n;
            self.client_errors += n;
        }
    }

    /// Records a marker read back or written.
    pub fn mark(&mut self, m: Marker) {
        self.markers.mark(m);
    }

    fn known_codes(&self) -> u64 {
        self.codes.values().sum()
    }

    /// True when every 4xx is known by code (an alert can show its breakdown without a read).
    pub fn breakdown_complete(&self) -> bool {
        self.known_codes() >= self.client_errors
    }

    /// The totals a finding is computed from: 4xx whose code is not known count as `Other4xx`, so
    /// the rate is the same with or without the breakdown.
    pub fn totals(&self) -> Totals {
        let mut client_errors: BTreeMap<ClientErrorCode, u64> =
            self.codes.iter().filter(|(_, n)| **n > 0).map(|(c, n)| (*c, *n)).collect();
        let unknown = self.client_errors.saturating_sub(self.known_codes());
        if unknown > 0 {
            *client_errors.entry(ClientErrorCode::Other4xx).or_default() += unknown;
        }
        Totals { requests: self.requests, client_errors, unparsed: self.unparsed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(requests: u64, c403: u64) -> Totals {
        let mut t = Totals { requests, ..Totals::default() };
        t.client_errors.insert(ClientErrorCode::Status(403), c403);
        t
    }

    #[test]
    fn merge_is_the_field_wise_maximum_of_lower_bounds() {
        let mut a = WindowState { requests: 10, client_errors: 2, ..Default::default() };
        a.codes.insert(ClientErrorCode::Status(403), 2);
        let mut b = WindowState { requests: 7, client_errors: 5, unparsed: 1, shared: true, ..Default::default() };
        b.codes.insert(ClientErrorCode::Status(404), 3);
        b.markers.alerted = Some(Severity::Elevated);
        a.merge(&b);
        assert_eq!((a.requests, a.client_errors, a.unparsed, a.shared), (10, 5, 1, true));
        assert_eq!(a.codes.values().sum::<u64>(), 5);
        assert_eq!(a.markers.alerted, Some(Severity::Elevated));
        let before = a.clone();
        a.merge(&before);
        assert_eq!(a, before, "merging a state with itself changes nothing (no double count)");
    }

    #[test]
    fn counts_of_writers_add_and_a_writers_share_comes_off_without_going_below_zero() {
        let mut all = WindowState::of(&totals(100, 30));
        all.markers.alerted = Some(Severity::High);
        let own = WindowState::of(&totals(40, 35));
        let others = all.less(&own);
        assert_eq!((others.requests, others.client_errors), (60, 0), "never below zero");
        assert!(others.codes.is_empty(), "codes at zero are dropped");
        assert_eq!(others.markers, all.markers, "markers stay");
        let mut sum = others.counts();
        sum.add_counts(&own);
        assert_eq!((sum.requests, sum.client_errors, sum.codes[&ClientErrorCode::Status(403)]), (100, 35, 35));
        assert_eq!(sum.markers, Markers::default(), "counts only");
        assert!(WindowState::default().is_empty() && !own.is_empty());
    }

    #[test]
    fn unknown_codes_are_other_4xx_and_make_the_breakdown_incomplete() {
        let mut s = WindowState { requests: 100, client_errors: 30, ..Default::default() };
        assert!(!s.breakdown_complete());
        s.add(&totals(10, 5));
        let t = s.totals();
        assert_eq!(t.client_errors[&ClientErrorCode::Status(403)], 5);
        assert_eq!(t.client_errors[&ClientErrorCode::Other4xx], 30);
        assert_eq!(t.requests, 110);
    }
}
