//! What is known of a window: its key, lower bounds of its totals, and its alert markers. The merge
//! rule lives here: two lower bounds of the truth merge by field-wise maximum, never by sum.

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
}

impl WindowState {
    /// The merge rule: field-wise maximum, since both sides are lower bounds of the truth.
    pub fn merge(&mut self, other: &WindowState) {
        self.requests = self.requests.max(other.requests);
        self.client_errors = self.client_errors.max(other.client_errors);
        self.unparsed = self.unparsed.max(other.unparsed);
        for (code, n) in &other.codes {
            let e = self.codes.entry(*code).or_default();
            *e = (*e).max(*n);
        }
        self.markers.merge(&other.markers);
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
        match m {
            Marker::Alerted(level) => self.markers.alerted = self.markers.alerted.max(Some(level)),
            Marker::Recovered => self.markers.recovered = true,
        }
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
