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

use crate::base::time::{previous_window, EpochMillis, MINUTE_MS};
use crate::judge::baseline::{Baseline, SpikeFactor};
use crate::judge::finding::Totals;
use crate::judge::severity::Severity;
use crate::window::decide::{Judge, WindowDecision};
use crate::window::marker::Marker;
use crate::window::state::{Markers, WindowKey, WindowState};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How long CloudWatch may take to make counts written as EMF readable: a window read less than
/// this after the container's run began is read once more when it has passed.
pub const EXTRACTION_LAG_MS: i64 = 2 * MINUTE_MS;
/// An idle gap after which memory may be stale (another container may have run meanwhile).
pub const IDLE_GAP_MS: i64 = MINUTE_MS;
/// Windows a warm container remembers; the least recently used are forgotten beyond it (a window
/// forgotten is read again when a batch touches it).
pub const MEMORY_WINDOWS: usize = 4096;
/// Batches a warm container remembers, to recognise a re-delivered one.
pub const MEMORY_BATCHES: usize = 1024;

/// What a read returned: the windows asked for (`keys`), with what CloudWatch holds for them
/// (`states`: a window asked for and absent holds nothing yet).
#[derive(Debug, Clone, Default)]
pub struct Stored {
    /// Windows read.
    pub keys: BTreeSet<WindowKey>,
    /// What CloudWatch holds for them.
    pub states: BTreeMap<WindowKey, WindowState>,
}

/// What one batch will do: the decisions for the windows it touched, and so the markers to write.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// One per window the batch touched, ascending by log group and window.
    pub decisions: Vec<WindowDecision>,
}

impl Plan {
    /// Markers to write: levels decided (now or earlier) that CloudWatch does not hold yet.
    pub fn markers(&self) -> Vec<(WindowKey, Marker)> {
        self.decisions.iter().flat_map(|d| d.missing_markers().into_iter().map(|m| (d.key.clone(), m))).collect()
    }

    /// Windows under the fixed levels that have 4xx: those `SPIKE_FACTOR` may lift.
    pub fn quiet_with_client_errors(&self) -> impl Iterator<Item = &WindowDecision> {
        self.decisions.iter().filter(|d| d.finding.severity == Severity::Ok && d.finding.rate.client_errors > 0)
    }

    /// Applies `SPIKE_FACTOR` with the baselines known per log group.
    pub fn lift(&mut self, judge: &Judge<'_>, factor: SpikeFactor, baselines: &BTreeMap<String, Baseline>) {
        for d in &mut self.decisions {
            if let Some(b) = baselines.get(&d.key.0) {
                judge.lift(d, factor, b);
            }
        }
    }

    /// Adds the breakdown read for windows about to alert; `batch` is what this batch adds to each.
    pub fn add_breakdown(
        &mut self,
        judge: &Judge<'_>,
        breakdown: &BTreeMap<WindowKey, WindowState>,
        batch: &BTreeMap<WindowKey, Totals>,
    ) {
        for d in &mut self.decisions {
            if let Some(stored) = breakdown.get(&d.key) {
                judge.add_breakdown(d, stored, batch.get(&d.key));
            }
        }
    }

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
            let mut d = judge.decide(key, &known, previous.as_ref(), add);
            d.written = self.memory.get(key).map(|e| e.written).unwrap_or_default();
            if let Some(s) = stored.states.get(key) {
                d.written.merge(&s.markers);
            }
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
            e.state.mark(action);
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
