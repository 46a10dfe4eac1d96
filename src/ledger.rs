//! The window ledger: what a warm container knows of each window, and what one batch needs to read,
//! decide and write. Pure: no AWS types, no clock (callers pass `now`), no I/O.
//!
//! A window's state is a set of lower bounds of the truth (totals and markers): what CloudWatch
//! returned, or what this container counted itself. Two lower bounds merge by field-wise maximum,
//! never by sum, so a window read back after this container wrote to it is not counted twice.
//!
//! Reserved concurrency 1 makes invocations serial, so a warm container that has read a window
//! knows it from then on: it reads only windows it has not seen. What it reads can lag behind what
//! a previous container wrote (EMF extraction is asynchronous), so a window read shortly after the
//! container's run began is read once more when [`EXTRACTION_LAG_MS`] has passed since that start.
//! After an idle gap longer than [`IDLE_GAP_MS`] another container may have run meanwhile: memory
//! is kept as a lower bound, but every window is read again before it decides anything.

use crate::alerting::{Action, Judge, WindowDecision};
use crate::finding::{ClientErrorCode, Totals};
use crate::metrics::Marker;
use crate::severity::Severity;
use crate::time::{previous_window, EpochMillis};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A window of one log group: `(log group, window start)`.
pub type WindowKey = (String, EpochMillis);

/// How long CloudWatch may take to make counts written as EMF readable: a window read less than
/// this after the container's run began is read once more when it has passed.
pub const EXTRACTION_LAG_MS: i64 = 2 * 60_000;
/// An idle gap after which memory may be stale (another container may have run meanwhile).
pub const IDLE_GAP_MS: i64 = 60_000;
/// Windows a warm container remembers; the least recently used are forgotten beyond it (a window
/// forgotten is read again when a batch touches it).
pub const MEMORY_WINDOWS: usize = 4096;
/// Batches a warm container remembers, to recognise a re-delivered one.
pub const MEMORY_BATCHES: usize = 1024;

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

/// What a read returned: the windows asked for (`keys`), with what CloudWatch holds for them
/// (`states`: a window asked for and absent holds nothing yet).
#[derive(Debug, Clone, Default)]
pub struct Stored {
    /// Windows read.
    pub keys: BTreeSet<WindowKey>,
    /// What CloudWatch holds for them.
    pub states: BTreeMap<WindowKey, WindowState>,
}

impl Stored {
    /// Adds the breakdown read for windows about to alert (it says nothing of their freshness).
    pub fn add_breakdown(&mut self, states: BTreeMap<WindowKey, WindowState>) {
        for (k, s) in states {
            self.states.entry(k).or_default().merge(&s);
        }
    }
}

/// What one batch will do: the decisions for the windows it touched and the markers to write.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// One per window the batch touched, ascending by log group and window.
    pub decisions: Vec<WindowDecision>,
    /// Markers to write: levels decided (now or earlier) that CloudWatch does not hold yet.
    pub markers: Vec<(WindowKey, Marker)>,
}

impl Plan {
    /// Windows about to alert (or recover) whose 4xx are not all known by code: the alert wants
    /// their breakdown read first.
    pub fn breakdown_needed(&self) -> BTreeSet<WindowKey> {
        self.decisions
            .iter()
            .filter(|d| d.action.is_some() && !d.state.breakdown_complete())
            .map(|d| d.key.clone())
            .collect()
    }

    /// The decisions with an action, per log group: one message each.
    pub fn alerts_by_group(&self) -> BTreeMap<&str, Vec<&WindowDecision>> {
        let mut out: BTreeMap<&str, Vec<&WindowDecision>> = BTreeMap::new();
        for d in self.decisions.iter().filter(|d| d.action.is_some()) {
            out.entry(d.key.0.as_str()).or_default().push(d);
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freshness {
    /// Not read in this container's current run: read before deciding.
    Unread,
    /// Read early in the run: read once more from this time on.
    RereadFrom(EpochMillis),
    /// Known: this container has seen every write since it was read.
    Settled,
}

#[derive(Debug, Clone)]
struct Entry {
    state: WindowState,
    /// Markers known to be in CloudWatch (read back, or written by this container).
    written: Markers,
    fresh: Freshness,
    /// When a batch last touched or read it (eviction order).
    used: EpochMillis,
}

impl Entry {
    fn new(now: EpochMillis) -> Entry {
        Entry { state: WindowState::default(), written: Markers::default(), fresh: Freshness::Unread, used: now }
    }
}

/// A stretch of invocations without an idle gap.
#[derive(Debug, Clone, Copy)]
struct Run {
    since: EpochMillis,
    last: EpochMillis,
}

/// A warm container's memory of windows and batches.
#[derive(Debug, Clone)]
pub struct Ledger {
    window_minutes: u32,
    capacity: usize,
    memory: BTreeMap<WindowKey, Entry>,
    batches: VecDeque<u64>,
    run: Option<Run>,
}

impl Ledger {
    /// An empty ledger (a cold container) for windows of `window_minutes`.
    pub fn new(window_minutes: u32) -> Ledger {
        Ledger::with_capacity(window_minutes, MEMORY_WINDOWS)
    }

    /// An empty ledger remembering at most `capacity` windows.
    pub fn with_capacity(window_minutes: u32, capacity: usize) -> Ledger {
        Ledger { window_minutes, capacity, memory: BTreeMap::new(), batches: VecDeque::new(), run: None }
    }

    /// Windows remembered.
    pub fn len(&self) -> usize {
        self.memory.len()
    }

    /// True when nothing is remembered (a cold container).
    pub fn is_empty(&self) -> bool {
        self.memory.is_empty()
    }

    /// An invocation begins at `now`. After an idle gap (or on the first call) a new run begins:
    /// every remembered window must be read again before it is decided.
    pub fn begin(&mut self, now: EpochMillis) {
        match &mut self.run {
            Some(run) if now >= run.last && now - run.last <= IDLE_GAP_MS => run.last = now,
            _ => {
                self.run = Some(Run { since: now, last: now });
                for e in self.memory.values_mut() {
                    e.fresh = Freshness::Unread;
                }
            }
        }
    }

    /// True when this container already counted a batch with this fingerprint.
    pub fn seen_batch(&self, fingerprint: u64) -> bool {
        self.batches.contains(&fingerprint)
    }

    /// The window before `key`'s: the one a recovery notice compares with.
    pub fn previous(&self, key: &WindowKey) -> WindowKey {
        (key.0.clone(), previous_window(key.1, self.window_minutes))
    }

    /// The windows to read before deciding `touched`: those, and the ones just before them, that
    /// this container has not read in its current run, or whose re-read is due.
    pub fn reads<'a>(&self, touched: impl IntoIterator<Item = &'a WindowKey>, now: EpochMillis) -> BTreeSet<WindowKey> {
        let mut out = BTreeSet::new();
        for key in touched {
            for k in [key.clone(), self.previous(key)] {
                let due = match self.memory.get(&k).map(|e| e.fresh) {
                    None | Some(Freshness::Unread) => true,
                    Some(Freshness::RereadFrom(t)) => now >= t,
                    Some(Freshness::Settled) => false,
                };
                if due {
                    out.insert(k);
                }
            }
        }
        out
    }

    /// What is known of `key`: memory merged with what was just read. `None` when neither holds it.
    fn known(&self, key: &WindowKey, stored: &Stored) -> Option<WindowState> {
        let remembered = self.memory.get(key).map(|e| &e.state);
        let read = stored.states.get(key).or(stored.keys.contains(key).then_some(&EMPTY));
        match (remembered, read) {
            (None, None) => None,
            (Some(s), None) | (None, Some(s)) => Some(s.clone()),
            (Some(a), Some(b)) => {
                let mut s = a.clone();
                s.merge(b);
                Some(s)
            }
        }
    }

    /// Decides every window of `batch` (the batch's totals per window) from what is remembered and
    /// what was read (`stored`), and lists the markers to write.
    pub fn plan(&self, batch: &BTreeMap<WindowKey, Totals>, stored: &Stored, judge: &Judge<'_>) -> Plan {
        let mut plan = Plan::default();
        for (key, add) in batch {
            let known = self.known(key, stored).unwrap_or_default();
            let previous = self.known(&self.previous(key), stored);
            let d = judge.decide(key, &known, previous.as_ref(), add);
            let mut written = self.memory.get(key).map(|e| e.written).unwrap_or_default();
            if let Some(s) = stored.states.get(key) {
                written.merge(&s.markers);
            }
            plan.markers.extend(d.state.markers.missing(&written).into_iter().map(|m| (key.clone(), m)));
            plan.decisions.push(d);
        }
        plan
    }

    /// Records alerts that went out, before anything else is written: a warm retry of a batch whose
    /// later steps failed does not send them again. Only markers are recorded (the batch's counts
    /// are not written yet).
    pub fn published<'a>(&mut self, decisions: impl IntoIterator<Item = &'a WindowDecision>, now: EpochMillis) {
        for d in decisions {
            let Some(action) = d.action else { continue };
            let e = self.memory.entry(d.key.clone()).or_insert_with(|| Entry::new(now));
            e.state.mark(match action {
                Action::Alert(level) => Marker::Alerted(level),
                Action::Recovery => Marker::Recovered,
            });
        }
    }

    /// Records a completed batch: what was read, the decided states (counts included: they are
    /// written) and the markers written. Then forgets the least recently used windows beyond
    /// capacity.
    pub fn commit(&mut self, plan: &Plan, stored: &Stored, fingerprint: u64, now: EpochMillis) {
        let since = self.run.map_or(now, |r| r.since);
        let fresh = if now < since + EXTRACTION_LAG_MS {
            Freshness::RereadFrom(since + EXTRACTION_LAG_MS)
        } else {
            Freshness::Settled
        };
        for key in &stored.keys {
            let e = self.memory.entry(key.clone()).or_insert_with(|| Entry::new(now));
            if let Some(s) = stored.states.get(key) {
                e.state.merge(s);
                e.written.merge(&s.markers);
            }
            e.fresh = fresh;
            e.used = now;
        }
        for d in &plan.decisions {
            let e = self.memory.entry(d.key.clone()).or_insert_with(|| Entry::new(now));
            e.state.merge(&d.state);
            e.written.merge(&d.state.markers);
            e.used = now;
        }
        self.evict();
        self.batches.push_back(fingerprint);
        while self.batches.len() > MEMORY_BATCHES {
            self.batches.pop_front();
        }
    }

    fn evict(&mut self) {
        let excess = self.memory.len().saturating_sub(self.capacity);
        if excess == 0 {
            return;
        }
        let mut order: Vec<(EpochMillis, EpochMillis, WindowKey)> =
            self.memory.iter().map(|(k, e)| (e.used, k.1, k.clone())).collect();
        order.sort_unstable();
        for (_, _, key) in order.into_iter().take(excess) {
            self.memory.remove(&key);
        }
    }
}

static EMPTY: WindowState = WindowState {
    requests: 0,
    client_errors: 0,
    codes: BTreeMap::new(),
    unparsed: 0,
    markers: Markers { alerted: None, recovered: false },
};

#[cfg(test)]
mod tests;
