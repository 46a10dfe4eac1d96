//! The window ledger: what a warm container knows of each window, and what one batch needs to read,
//! decide and write. Pure: no AWS types, no clock (callers pass `now`), no I/O.
//!
//! # A window's total
//!
//! A window's total is *the other writers' counts as read* plus *this container's own counts as
//! held*, never a maximum of the two and never a read of its own counts added to what it holds:
//!
//! - **own**: what this container counted and printed for the window, exact, kept in memory;
//! - **others**: what CloudWatch holds for the window less what it holds of this container's own.
//!   A read returns every writer's extracted counts; this container's extracted share is known
//!   because a window another container also wrote to is *shared*, and this container's counts for
//!   a shared window carry its position among the window's writers as an extra dimension
//!   ("tagged"; unique per window), read back beside the totals. Own counts written untagged
//!   (before the window was known to be shared) are taken as extracted. Others' counts only grow,
//!   so two reads of them merge by field-wise maximum.
//!
//! Every read is then a lower bound of the truth (a count in flight is missing, none is counted
//! twice), and it is the truth once every count written before it is extracted.
//!
//! # When another container's counts may be in flight
//!
//! A container marks each window before its first counts for it ([`Plan::writer_marks`]: a
//! PutMetricData datum, readable at once), so a window another container wrote to is known to be
//! shared from the first read on. Reserved concurrency 1 makes invocations serial: other containers
//! write only before this one's current run began (a run is a stretch of invocations without an
//! idle gap longer than [`IDLE_GAP_MS`]), so everything they wrote is readable
//! [`EXTRACTION_LAG_MS`] after the run began. A shared window read before then is *partial*: its
//! action is withheld ([`Withheld::Partial`]), it is read and decided again once the lag has passed
//! (touched by a batch or not). A window only this container wrote to is never partial. Withholding
//! is bounded: once a read made the lag after the window was first withheld is in hand, the window
//! is decided on it (everything written before the withholding began is in it), even if a pause
//! since then means another container may have written again.
//!
//! # Old windows
//!
//! CloudWatch makes data points 3 to 24 hours old readable only up to two hours after they are put
//! (PutMetricData API reference), so an alert marker or a writer mark for such a window could not be
//! read back by the next container in time. Windows that began more than [`PAGE_HORIZON_MS`] before
//! the batch are counted and decided but never paged ([`Withheld::Old`]) and get no writer mark.

use crate::base::time::{previous_window, EpochMillis, HOUR_MS, MINUTE_MS};
use crate::judge::baseline::{Baseline, SpikeFactor};
use crate::judge::finding::Totals;
use crate::judge::severity::Severity;
use crate::window::decide::{Judge, WindowDecision, Withheld};
use crate::window::marker::Marker;
use crate::window::state::{Markers, WindowKey, WindowState};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How long CloudWatch may take to make counts written as EMF readable: another container's counts
/// are all readable this long after this container's run began.
pub const EXTRACTION_LAG_MS: i64 = 2 * MINUTE_MS;
/// An idle gap after which another container may have run meanwhile.
pub const IDLE_GAP_MS: i64 = MINUTE_MS;
/// PutMetricData data points 3 hours old or older can take up to two hours to become readable (API
/// reference); a window is paged only while a marker written for it, by the end of the invocation
/// (Lambda runs one for at most 15 minutes), is younger than that.
pub const PAGE_HORIZON_MS: i64 = 3 * HOUR_MS - 15 * MINUTE_MS;
/// Windows a warm container remembers; the least recently used are forgotten beyond it (a window
/// forgotten is read again when a batch touches it).
pub const MEMORY_WINDOWS: usize = 4096;
/// Batches a warm container remembers, to recognise a re-delivered one.
pub const MEMORY_BATCHES: usize = 1024;

/// What to read: windows, and among them those whose own tagged counts are read too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reads {
    /// Windows read (every writer's counts, markers, writer marks).
    pub windows: BTreeSet<WindowKey>,
    /// Windows whose counts this container wrote tagged are read too, with its position among
    /// each window's writers (the tag).
    pub own: BTreeMap<WindowKey, u32>,
}

impl Reads {
    /// True when there is nothing to read.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}

/// What a read returned: the windows asked for (`keys`), with what CloudWatch holds for them
/// (`states`: a window asked for and absent holds nothing yet) and what it holds of this container's
/// tagged counts (`own`).
#[derive(Debug, Clone, Default)]
pub struct Stored {
    /// Windows read.
    pub keys: BTreeSet<WindowKey>,
    /// Every writer's counts, the markers, and whether another writer marked the window.
    pub states: BTreeMap<WindowKey, WindowState>,
    /// This container's tagged counts, as extracted so far.
    pub own: BTreeMap<WindowKey, WindowState>,
}

impl Stored {
    /// What the read shows of other writers' counts of `key`: everything less this container's
    /// tagged counts as read and its untagged ones (taken as extracted: a lower bound if they are
    /// not yet).
    fn others(&self, key: &WindowKey, untagged: &WindowState) -> WindowState {
        let all = self.states.get(key).unwrap_or(&EMPTY);
        all.counts().less(self.own.get(key).unwrap_or(&EMPTY)).less(untagged)
    }
}

/// This container's own counts of a window: exact, split by whether they were written tagged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Own {
    tagged: WindowState,
    untagged: WindowState,
}

impl Own {
    fn total(&self) -> WindowState {
        let mut t = self.tagged.clone();
        t.add_counts(&self.untagged);
        t
    }

    fn add(&mut self, counts: &WindowState, tagged: bool) {
        if tagged { &mut self.tagged } else { &mut self.untagged }.add_counts(counts);
    }
}

/// How one decision's total was made, for the breakdown and the commit.
#[derive(Debug, Clone)]
struct Part {
    /// Own counts before the batch.
    own: Own,
    /// The batch's counts.
    add: WindowState,
    /// The batch's counts go out tagged (the window is shared).
    tag: bool,
    /// Shared and decided without withholding (every other writer's count readable): its others'
    /// codes are read if not known.
    settled: bool,
    /// This container's position among the window's writers, once it marked it (or marks it now).
    position: Option<u32>,
}

impl Part {
    fn own_after(&self) -> Own {
        let mut own = self.own.clone();
        own.add(&self.add, self.tag);
        own
    }
}

/// What one batch will do: the decisions for the windows it touched (and the withheld windows due
/// again), the markers to write, and how its counts go out.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// One per window decided, ascending by log group and window.
    pub decisions: Vec<WindowDecision>,
    parts: Vec<Part>,
    marks: Vec<WindowKey>,
    /// Windows whose counts go out tagged, with this container's position among their writers.
    tagged: BTreeMap<WindowKey, u32>,
}

impl Plan {
    /// Markers to write: levels decided (now or earlier) that CloudWatch does not hold yet.
    pub fn markers(&self) -> Vec<(WindowKey, Marker)> {
        self.decisions.iter().flat_map(|d| d.missing_markers().into_iter().map(|m| (d.key.clone(), m))).collect()
    }

    /// Windows this container writes counts to for the first time: their writer marks go out
    /// before the counts.
    pub fn writer_marks(&self) -> &[WindowKey] {
        &self.marks
    }

    /// The tag the batch's counts of `key` carry (this container's position among the window's
    /// writers), when the window is shared.
    pub fn tag(&self, key: &WindowKey) -> Option<u32> {
        self.tagged.get(key).copied()
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

    /// Windows whose per-code breakdown is read: those about to alert (or recover) whose 4xx are
    /// not all known by code, and shared windows decided without withholding whose other writers'
    /// codes are not known (read once, while every count, this container's own too, is readable).
    pub fn breakdown_needed(&self) -> Reads {
        let mut out = Reads::default();
        for (d, p) in self.decisions.iter().zip(&self.parts) {
            let wanted = d.action.is_some() || p.settled;
            if wanted && !d.state.breakdown_complete() {
                out.windows.insert(d.key.clone());
                if let Some(position) = p.position.filter(|_| p.own.tagged.client_errors > 0) {
                    out.own.insert(d.key.clone(), position);
                }
            }
        }
        out
    }

    /// Adds the per-code breakdown read (`read`): each code's total is the other writers' as read
    /// plus this container's own, this batch included.
    pub fn add_breakdown(&mut self, judge: &Judge<'_>, read: &Stored) {
        for (d, p) in self.decisions.iter_mut().zip(&self.parts) {
            if read.states.contains_key(&d.key) {
                let mut codes = read.others(&d.key, &p.own.untagged);
                codes.add_counts(&p.own_after().total());
                judge.add_breakdown(d, &codes);
            }
        }
    }

    /// The decisions with an action, per log group: one message each.
    pub fn alerts_by_group(&self) -> BTreeMap<&str, Vec<&WindowDecision>> {
        let mut out: BTreeMap<&str, Vec<&WindowDecision>> = BTreeMap::new();
        for d in self.decisions.iter().filter(|d| d.action.is_some()) {
            out.entry(d.key.0.as_str()).or_default().push(d);
        }
        out
    }

    /// Decisions that would act but are withheld: too old to page (`old`), or partial.
    pub fn withheld(&self, old: bool) -> impl Iterator<Item = &WindowDecision> {
        self.decisions.iter().filter(move |d| {
            d.unsent.is_some()
                && match d.withheld {
                    Some(Withheld::Old) => old,
                    Some(Withheld::Partial { .. }) => !old,
                    None => false,
                }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freshness {
    /// Not read in this container's current run: read before deciding.
    Unread,
    /// Shared, read early in the run: read once more from this time on.
    RereadFrom(EpochMillis),
    /// Known: this container has seen every write since it was read.
    Settled,
}

#[derive(Debug, Clone)]
struct Entry {
    /// A lower bound of other writers' counts (counts only).
    others: WindowState,
    own: Own,
    /// Markers known: read back, decided, or published.
    markers: Markers,
    /// Markers known to be in CloudWatch (read back, or written by this container).
    written: Markers,
    /// Another container wrote counts to it.
    shared: bool,
    /// This container's writer mark is in CloudWatch, at this position among the window's writers.
    position: Option<u32>,
    /// Writer marks read back (the next writer's position).
    writers: u64,
    fresh: Freshness,
    /// A partial decision: decided again from then on, touched by a batch or not.
    due: Option<EpochMillis>,
    /// When the decisions on it began to be withheld as partial (the bound on withholding).
    first_withheld: Option<EpochMillis>,
    /// When it was last read.
    read_at: Option<EpochMillis>,
    /// When a batch last touched or read it (eviction order).
    used: EpochMillis,
}

impl Entry {
    fn new(now: EpochMillis) -> Entry {
        Entry {
            others: WindowState::default(),
            own: Own::default(),
            markers: Markers::default(),
            written: Markers::default(),
            shared: false,
            position: None,
            writers: 0,
            fresh: Freshness::Unread,
            due: None,
            first_withheld: None,
            read_at: None,
            used: now,
        }
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

    /// When the current run began (`now` before any).
    fn since(&self, now: EpochMillis) -> EpochMillis {
        self.run.map_or(now, |r| r.since)
    }

    /// True when this container already counted a batch with this fingerprint.
    pub fn seen_batch(&self, fingerprint: u64) -> bool {
        self.batches.contains(&fingerprint)
    }

    /// The window before `key`'s: the one a recovery notice compares with.
    pub fn previous(&self, key: &WindowKey) -> WindowKey {
        (key.0.clone(), previous_window(key.1, self.window_minutes))
    }

    /// Partial windows whose second decision is due at `now`.
    fn due<'a>(&'a self, now: EpochMillis) -> impl Iterator<Item = &'a WindowKey> + 'a {
        self.memory.iter().filter(move |(_, e)| e.due.is_some_and(|t| now >= t)).map(|(k, _)| k)
    }

    /// The windows to decide: those the batch touched, and the partial ones due again.
    fn decided<'a>(&'a self, batch: &'a BTreeMap<WindowKey, Totals>, now: EpochMillis) -> BTreeSet<&'a WindowKey> {
        batch.keys().chain(self.due(now)).collect()
    }

    /// The windows to read before deciding `touched` (and the partial windows due again): those, and
    /// the ones just before them, that this container has not read in its current run, or whose
    /// second read is due; with their own tagged counts where this container wrote some.
    pub fn reads<'a>(&self, touched: impl IntoIterator<Item = &'a WindowKey>, now: EpochMillis) -> Reads {
        let mut out = Reads::default();
        let touched: Vec<&WindowKey> = touched.into_iter().collect();
        for key in touched.into_iter().chain(self.due(now)) {
            for k in [key.clone(), self.previous(key)] {
                let entry = self.memory.get(&k);
                let due = match entry.map(|e| e.fresh) {
                    None | Some(Freshness::Unread) => true,
                    Some(Freshness::RereadFrom(t)) => now >= t,
                    Some(Freshness::Settled) => false,
                };
                if due {
                    if let Some(position) = entry.filter(|e| !e.own.tagged.is_empty()).and_then(|e| e.position) {
                        out.own.insert(k.clone(), position);
                    }
                    out.windows.insert(k);
                }
            }
        }
        out
    }

    /// What is known of `key` (others' counts, own counts, markers) from memory and what was just
    /// read. `None` when neither holds it.
    fn known(&self, key: &WindowKey, stored: &Stored) -> Option<(WindowState, Own)> {
        let entry = self.memory.get(key);
        let read = stored.keys.contains(key);
        if entry.is_none() && !read {
            return None;
        }
        let own = entry.map(|e| e.own.clone()).unwrap_or_default();
        let mut others = entry.map(|e| e.others.clone()).unwrap_or_default();
        others.markers = entry.map(|e| e.markers).unwrap_or_default();
        others.shared = entry.is_some_and(|e| e.shared);
        others.writers = entry.map_or(0, |e| e.writers);
        if read {
            let all = stored.states.get(key).unwrap_or(&EMPTY);
            others.merge(&stored.others(key, &own.untagged));
            others.markers.merge(&all.markers);
            others.shared |= all.shared;
            others.writers = others.writers.max(all.writers);
        }
        Some((others, own))
    }

    /// Decides every window of `batch` (the batch's totals per window), and the partial windows
    /// due again, from what is remembered and what was read (`stored`) at `now`; lists the markers
    /// and writer marks to write.
    pub fn plan(
        &self,
        batch: &BTreeMap<WindowKey, Totals>,
        stored: &Stored,
        judge: &Judge<'_>,
        now: EpochMillis,
    ) -> Plan {
        let none = Totals::default();
        let since = self.since(now);
        let mut plan = Plan::default();
        for key in self.decided(batch, now) {
            let add = batch.get(key).unwrap_or(&none);
            let entry = self.memory.get(key);
            let (others, own) = self.known(key, stored).unwrap_or_default();
            let mut known = own.total();
            known.add_counts(&others);
            known.markers = others.markers;
            let previous = self.known(&self.previous(key), stored).map(|(mut o, own)| {
                o.add_counts(&own.total());
                o
            });
            let read = stored.keys.contains(key);
            let partial_until = match entry.map(|e| e.fresh) {
                _ if read => (now < since + EXTRACTION_LAG_MS).then_some(since + EXTRACTION_LAG_MS),
                Some(Freshness::RereadFrom(t)) => Some(t),
                _ => None,
            };
            // Withheld since `f`, and read since `f` + lag: everything written before `f` is in.
            let read_at = if read { Some(now) } else { entry.and_then(|e| e.read_at) };
            let bounded =
                entry.and_then(|e| e.first_withheld).zip(read_at).is_some_and(|(f, r)| r >= f + EXTRACTION_LAG_MS);
            let old = now - key.1 > PAGE_HORIZON_MS;
            let withheld = if old {
                Some(Withheld::Old)
            } else {
                partial_until.filter(|_| others.shared && !bounded).map(|until| Withheld::Partial { until })
            };
            let mut d = judge.decide(key, &known, previous.as_ref(), add);
            if let Some(why) = withheld {
                judge.withhold(&mut d, why);
            }
            d.written = entry.map(|e| e.written).unwrap_or_default();
            if let Some(s) = stored.states.get(key) {
                d.written.merge(&s.markers);
            }
            let counts = WindowState::of(add);
            let writes = !counts.is_empty();
            let mut position = entry.and_then(|e| e.position);
            if writes && !old && position.is_none() {
                // Marks read so far are this container's predecessors on the window.
                position = Some(u32::try_from(others.writers).unwrap_or(u32::MAX));
                plan.marks.push(key.clone());
            }
            let tag = others.shared && position.is_some();
            if let Some(p) = position.filter(|_| writes && tag) {
                plan.tagged.insert(key.clone(), p);
            }
            let settled = others.shared && withheld.is_none();
            plan.parts.push(Part { own, add: counts, tag, settled, position });
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
            self.memory.entry(d.key.clone()).or_insert_with(|| Entry::new(now)).markers.mark(action);
        }
    }

    /// Records a completed batch: what was read, the counts written (own, tagged or not), the
    /// markers and writer marks written, and the partial windows to decide again. Then forgets the
    /// least recently used windows beyond capacity.
    pub fn commit(&mut self, plan: &Plan, stored: &Stored, fingerprint: u64, now: EpochMillis) {
        let since = self.since(now);
        let reread = since + EXTRACTION_LAG_MS;
        for key in &stored.keys {
            let e = self.memory.entry(key.clone()).or_insert_with(|| Entry::new(now));
            let others = stored.others(key, &e.own.untagged);
            e.others.merge(&others);
            if let Some(s) = stored.states.get(key) {
                e.markers.merge(&s.markers);
                e.written.merge(&s.markers);
                e.shared |= s.shared;
                e.writers = e.writers.max(s.writers);
            }
            e.fresh = if e.shared && now < reread { Freshness::RereadFrom(reread) } else { Freshness::Settled };
            e.read_at = Some(now);
            e.used = now;
        }
        for (d, p) in plan.decisions.iter().zip(&plan.parts) {
            let e = self.memory.entry(d.key.clone()).or_insert_with(|| Entry::new(now));
            let own = p.own_after();
            // What the decision knows beyond this container's own (the breakdown read included).
            e.others.merge(&d.state.counts().less(&own.total()));
            e.own = own;
            e.position = p.position;
            e.markers.merge(&d.state.markers);
            e.written.merge(&d.state.markers);
            (e.due, e.first_withheld) = match d.withheld {
                Some(Withheld::Partial { until }) => (Some(until), Some(e.first_withheld.unwrap_or(now))),
                _ => (None, None),
            };
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
    shared: false,
    writers: 0,
};
