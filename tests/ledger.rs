//! The window ledger against a model of CloudWatch in which counts become readable an extraction
//! delay after they are written, and alert markers and writer marks at once. Cases (a handover, a
//! cold start behind counts in flight, old windows, withheld windows decided again, the bound on
//! withholding), then a property test over random interleavings of containers, batches and
//! extraction delays: the totals every decision uses are never above the truth, and they are the
//! truth once the extraction lag has passed since the container's run began.

use apigw_4xx::base::time::EpochMillis;
use apigw_4xx::judge::finding::{ClientErrorCode, Rules, Totals};
use apigw_4xx::judge::severity::Severity;
use apigw_4xx::window::decide::{Judge, WindowDecision, Withheld};
use apigw_4xx::window::ledger::{Ledger, Plan, Reads, Stored, EXTRACTION_LAG_MS, IDLE_GAP_MS, PAGE_HORIZON_MS};
use apigw_4xx::window::marker::Marker;
use apigw_4xx::window::state::{Markers, WindowKey, WindowState};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const G: &str = "/g";
const W: EpochMillis = 1_764_000_000_000;
const SEC: EpochMillis = 1000;
const MIN: EpochMillis = 60 * SEC;
const LAG: EpochMillis = EXTRACTION_LAG_MS;

fn key(w: EpochMillis) -> WindowKey {
    (G.to_string(), w)
}

fn totals(requests: u64, c403: u64) -> Totals {
    let mut t = Totals { requests, ..Totals::default() };
    if c403 > 0 {
        t.client_errors.insert(ClientErrorCode::Status(403), c403);
    }
    t
}

fn batch(windows: &[(EpochMillis, u64, u64)]) -> BTreeMap<WindowKey, Totals> {
    windows.iter().map(|(w, r, c)| (key(*w), totals(*r, *c))).collect()
}

/// Counts written by one container in one invocation, with their tag if any.
struct Write {
    key: WindowKey,
    counts: WindowState,
    tag: Option<u32>,
    readable: EpochMillis,
}

/// CloudWatch as the ledger sees it: counts readable after their extraction delay, alert markers
/// and writer marks at once. Tagged counts are a series per tag, whoever wrote them.
#[derive(Default)]
struct Cloud {
    writes: Vec<Write>,
    marks: BTreeMap<WindowKey, Vec<u64>>,
    markers: BTreeMap<WindowKey, Markers>,
}

impl Cloud {
    /// The counts of `key` readable at `now` (all of them, when `None`), every one or those tagged
    /// `tag`.
    fn sum(&self, key: &WindowKey, now: Option<EpochMillis>, tag: Option<u32>) -> WindowState {
        let mut s = WindowState::default();
        for w in self.writes.iter().filter(|w| &w.key == key && now.is_none_or(|t| w.readable <= t)) {
            if tag.is_none() || w.tag == tag {
                s.add_counts(&w.counts);
            }
        }
        s
    }

    /// Everything written to `key`, extracted or not.
    fn truth(&self, key: &WindowKey) -> WindowState {
        self.sum(key, None, None)
    }

    /// What a read by container `me` at `now` returns, as the handler's queries do: the decision
    /// read (totals without codes, markers, writer marks) or the breakdown read (codes only).
    fn read(&self, reads: &Reads, me: u64, now: EpochMillis, decision: bool) -> Stored {
        let part = |mut state: WindowState| {
            if decision {
                state.codes.clear();
                state
            } else {
                WindowState { codes: state.codes, ..WindowState::default() }
            }
        };
        let mut s =
            Stored { keys: if decision { reads.windows.clone() } else { BTreeSet::new() }, ..Stored::default() };
        for k in &reads.windows {
            let mut state = part(self.sum(k, Some(now), None));
            if decision {
                state.markers = self.markers.get(k).copied().unwrap_or_default();
                let marks = self.marks.get(k).cloned().unwrap_or_default();
                state.shared = marks.iter().any(|w| *w != me);
                state.writers = marks.len() as u64;
            }
            s.states.insert(k.clone(), state);
        }
        for (k, tag) in &reads.own {
            s.own.insert(k.clone(), part(self.sum(k, Some(now), Some(*tag))));
        }
        s
    }
}

struct Container {
    id: u64,
    ledger: Ledger,
    batches: u64,
    /// What the last invocation read for the breakdown.
    breakdown: Reads,
}

impl Container {
    fn new(id: u64) -> Container {
        Container { id, ledger: Ledger::new(5), batches: 0, breakdown: Reads::default() }
    }

    /// One whole invocation at `now`, as the handler runs it: read, plan, breakdown, publish,
    /// markers and writer marks, counts (readable `delay` later), commit.
    fn invoke(&mut self, cloud: &mut Cloud, b: &BTreeMap<WindowKey, Totals>, now: EpochMillis, delay: i64) -> Plan {
        let rules = Rules::default();
        let judge = Judge { rules: &rules, notify_recovery: true, groups: None };
        self.ledger.begin(now);
        let reads = self.ledger.reads(b.keys(), now);
        let stored = cloud.read(&reads, self.id, now, true);
        let mut plan = self.ledger.plan(b, &stored, &judge, now);
        self.breakdown = plan.breakdown_needed();
        plan.add_breakdown(&judge, &cloud.read(&self.breakdown, self.id, now, false));
        self.ledger.published(plan.decisions.iter(), now);
        for (k, m) in plan.markers() {
            cloud.markers.entry(k).or_default().mark(m);
        }
        for k in plan.writer_marks() {
            cloud.marks.entry(k.clone()).or_default().push(self.id);
        }
        for (k, t) in b {
            let counts = WindowState::of(t);
            if !counts.is_empty() {
                cloud.writes.push(Write { key: k.clone(), counts, tag: plan.tag(k), readable: now + delay });
            }
        }
        self.batches += 1;
        self.ledger.commit(&plan, &stored, self.id << 32 | self.batches, now);
        plan
    }
}

fn decision(plan: &Plan, w: EpochMillis) -> &WindowDecision {
    plan.decisions.iter().find(|d| d.key == key(w)).expect("window decided")
}

fn same_counts(a: &WindowState, b: &WindowState) -> bool {
    (a.requests, a.client_errors, a.unparsed) == (b.requests, b.client_errors, b.unparsed)
}

#[test]
fn a_handover_totals_the_others_as_read_plus_its_own_as_held() {
    // The probe: A counts most of a window and is replaced while its last counts are extracted.
    let mut cloud = Cloud::default();
    let (mut a, mut b) = (Container::new(1), Container::new(2));
    for i in 0..5 {
        a.invoke(&mut cloud, &batch(&[(W, 100, 9)]), W + i * 10 * SEC, 15 * SEC);
    }
    let born = W + 45 * SEC;
    let first = b.invoke(&mut cloud, &batch(&[(W, 30, 3)]), born, 15 * SEC);
    let d = decision(&first, W);
    assert_eq!(d.withheld, Some(Withheld::Partial { until: born + LAG }), "A's last batch is still in flight");
    assert_eq!(d.state.requests, 430, "A's 400 extracted + B's 30: a lower bound");
    assert_eq!(first.tag(&key(W)), Some(1), "B tags its counts of a window A wrote to: its second writer");
    let mut paged = None;
    for i in 1..=20 {
        let now = born + i * 10 * SEC;
        let plan = b.invoke(&mut cloud, &batch(&[(W, 10, 3)]), now, 15 * SEC);
        let d = decision(&plan, W);
        let truth = cloud.truth(&key(W));
        assert!(d.state.requests <= truth.requests && d.state.client_errors <= truth.client_errors);
        if now >= born + LAG {
            assert!(same_counts(&d.state, &truth), "at {i}: {:?} vs {:?}", d.state, truth);
            assert_eq!(d.withheld, None);
        }
        if d.action.is_some() {
            paged.get_or_insert((now, d.finding.rate.client_errors, d.finding.rate.requests));
        }
    }
    // 530 + 10 per batch requests, 48 + 3 per batch 4xx: ELEVATED (over 10%) from B's third batch on
    // (57 of 560), which B's hold (two minutes from its start) delays to its twelfth: 84 of 650.
    let (at, errors, requests) = paged.expect("paged");
    assert_eq!((errors, requests), (84, 650), "the true counts when paged");
    assert_eq!(at, born + LAG, "the first batch after the hold, since the truth crossed during it");
}

#[test]
fn a_cold_start_behind_in_flight_counts_does_not_page_on_its_own_batch() {
    let mut cloud = Cloud::default();
    let (mut a, mut b) = (Container::new(1), Container::new(2));
    a.invoke(&mut cloud, &batch(&[(W, 1000, 50)]), W + 10 * SEC, 60 * SEC);
    let plan = b.invoke(&mut cloud, &batch(&[(W, 150, 20)]), W + 20 * SEC, 60 * SEC);
    let d = decision(&plan, W);
    assert_eq!((d.action, d.unsent), (None, Some(Marker::Alerted(Severity::Elevated))), "20 of 150 looks ELEVATED");
    assert!(plan.markers().is_empty());
    // Two minutes later a batch of another window: the withheld one is read and decided again.
    let later = b.invoke(&mut cloud, &batch(&[(W + 5 * MIN, 10, 0)]), W + 20 * SEC + LAG, 60 * SEC);
    let d = decision(&later, W);
    assert_eq!((d.state.requests, d.state.client_errors), (1150, 70), "the whole window: 6.1%");
    assert_eq!((d.action, d.unsent, d.withheld), (None, None, None));
    let again = b.invoke(&mut cloud, &batch(&[(W + 5 * MIN, 10, 0)]), W + 30 * SEC + LAG, 60 * SEC);
    assert!(again.decisions.iter().all(|d| d.key != key(W)), "decided again once only");
}

#[test]
fn a_window_only_this_container_wrote_to_is_paged_at_once_and_read_once() {
    let mut cloud = Cloud::default();
    let mut c = Container::new(1);
    let plan = c.invoke(&mut cloud, &batch(&[(W, 100, 60)]), W + 10 * SEC, 60 * SEC);
    assert_eq!(decision(&plan, W).action, Some(Marker::Alerted(Severity::High)), "no other writer: no hold");
    assert_eq!(plan.writer_marks(), [key(W)], "its writer mark goes out before its first counts");
    assert_eq!(plan.tag(&key(W)), None, "not shared: untagged");
    let next = c.invoke(&mut cloud, &batch(&[(W, 10, 0)]), W + 20 * SEC, 60 * SEC);
    assert!(next.writer_marks().is_empty(), "one mark per window");
    assert!(c.ledger.reads([key(W)].iter(), W + 30 * SEC + LAG).is_empty(), "not shared: no second read");
    let after_gap = c.ledger.reads([key(W)].iter(), W + 20 * SEC + IDLE_GAP_MS + 1);
    assert!(after_gap.is_empty(), "reads() alone does not start a run");
    c.ledger.begin(W + 20 * SEC + IDLE_GAP_MS + 1);
    let r = c.ledger.reads([key(W)].iter(), W + 20 * SEC + IDLE_GAP_MS + 1);
    assert_eq!(r.windows, BTreeSet::from([key(W), key(W - 5 * MIN)]), "after a pause: read again");
    assert!(r.own.is_empty(), "nothing written tagged");
}

#[test]
fn old_windows_are_decided_but_never_paged_and_get_no_writer_mark() {
    let mut cloud = Cloud::default();
    let mut c = Container::new(1);
    let now = W + PAGE_HORIZON_MS + 5 * SEC;
    let plan = c.invoke(&mut cloud, &batch(&[(W, 100, 60), (W + 5 * MIN, 100, 60)]), now, 0);
    let (old, young) = (decision(&plan, W), decision(&plan, W + 5 * MIN));
    assert_eq!(
        (old.action, old.unsent, old.withheld),
        (None, Some(Marker::Alerted(Severity::High)), Some(Withheld::Old))
    );
    assert_eq!(young.action, Some(Marker::Alerted(Severity::High)), "2 h 40 min old: paged");
    assert_eq!(plan.writer_marks(), [key(W + 5 * MIN)]);
    assert_eq!(plan.markers(), vec![(key(W + 5 * MIN), Marker::Alerted(Severity::High))]);
    assert_eq!(plan.withheld(true).count(), 1);
    // A cold container later: still not paged.
    let mut cold = Container::new(2);
    let again = cold.invoke(&mut cloud, &batch(&[(W, 10, 10)]), now + 10 * MIN, 0);
    assert_eq!(decision(&again, W).action, None);
}

#[test]
fn withholding_is_bounded_when_every_batch_follows_a_pause() {
    // A shared window and a container whose every batch follows a pause (each starts a run).
    let mut cloud = Cloud::default();
    let (mut a, mut b) = (Container::new(1), Container::new(2));
    a.invoke(&mut cloud, &batch(&[(W, 100, 0)]), W, 60 * SEC);
    let t0 = W + 10 * SEC;
    assert!(decision(&b.invoke(&mut cloud, &batch(&[(W, 100, 40)]), t0, 0), W).withheld.is_some());
    let t1 = t0 + 70 * SEC;
    let d1 = b.invoke(&mut cloud, &batch(&[(W, 100, 40)]), t1, 0);
    assert!(decision(&d1, W).withheld.is_some(), "read before t0 + lag: still withheld");
    let t2 = t1 + 70 * SEC;
    let plan = b.invoke(&mut cloud, &batch(&[(W, 100, 40)]), t2, 0);
    let d = decision(&plan, W);
    assert_eq!(d.withheld, None, "read after t0 + lag: everything A wrote is in");
    assert_eq!((d.state.requests, d.action), (400, Some(Marker::Alerted(Severity::High))));
}

#[test]
fn an_alert_writes_its_marker_and_a_warm_retry_repairs_a_lost_one() {
    let mut l = Ledger::new(5);
    let rules = Rules::default();
    let judge = Judge { rules: &rules, notify_recovery: true, groups: None };
    let b = batch(&[(W, 100, 60)]);
    let stored = |reads: &Reads| Stored { keys: reads.windows.clone(), ..Stored::default() };
    l.begin(W);
    let reads = l.reads(b.keys(), W);
    let plan = l.plan(&b, &stored(&reads), &judge, W);
    assert_eq!(plan.decisions[0].action, Some(Marker::Alerted(Severity::High)));
    assert_eq!(plan.markers(), vec![(key(W), Marker::Alerted(Severity::High))]);
    l.published(plan.decisions.iter(), W);
    // The marker put fails: no commit. Lambda retries the batch on the same container.
    l.begin(W + 60_000);
    let reads = l.reads(b.keys(), W + 60_000);
    assert!(reads.windows.contains(&key(W)), "the counts were never written: read again");
    let retry = l.plan(&b, &stored(&reads), &judge, W + 60_000);
    assert_eq!(retry.decisions[0].action, None, "published once: not again");
    assert_eq!(retry.decisions[0].state.requests, 100, "the failed attempt's counts are not remembered");
    assert_eq!(retry.markers(), vec![(key(W), Marker::Alerted(Severity::High))], "but its marker is still owed");
    assert_eq!(retry.writer_marks(), [key(W)], "and its writer mark");
    l.commit(&retry, &stored(&reads), 1, W + 60_000);
    let again = l.plan(&b, &Stored::default(), &judge, W + 61_000);
    assert!(again.markers().is_empty() && again.writer_marks().is_empty(), "written once");
}

#[test]
fn a_cold_takeover_of_an_alerted_window_does_not_alert_again() {
    let mut cloud = Cloud::default();
    let (mut a, mut b) = (Container::new(1), Container::new(2));
    let plan = a.invoke(&mut cloud, &batch(&[(W, 200, 100)]), W + 10 * SEC, 0);
    assert_eq!(decision(&plan, W).action, Some(Marker::Alerted(Severity::High)));
    for (i, now) in [W + 20 * SEC, W + 20 * SEC + LAG].into_iter().enumerate() {
        let plan = b.invoke(&mut cloud, &batch(&[(W, 100, 100)]), now, 0);
        let d = decision(&plan, W);
        assert_eq!((d.action, d.state.requests), (None, 300 + 100 * i as u64));
        assert!(plan.markers().is_empty(), "the marker is already stored");
    }
}

#[test]
fn recovery_compares_with_the_previous_window_read_or_remembered() {
    let mut cloud = Cloud::default();
    let mut c = Container::new(1);
    c.invoke(&mut cloud, &batch(&[(W, 100, 60)]), W, 0);
    let plan = c.invoke(&mut cloud, &batch(&[(W + 5 * MIN, 200, 1)]), W + 5 * MIN, 0);
    assert_eq!(plan.decisions[0].action, Some(Marker::Recovered));
    assert_eq!(plan.markers(), vec![(key(W + 5 * MIN), Marker::Recovered)]);
}

#[test]
fn a_shared_window_reads_the_others_codes_once_as_it_settles() {
    let mut cloud = Cloud::default();
    let (mut a, mut b) = (Container::new(1), Container::new(2));
    let mut mixed = totals(100, 5);
    mixed.client_errors.insert(ClientErrorCode::Status(404), 4);
    let a_batch = BTreeMap::from([(key(W), mixed)]);
    a.invoke(&mut cloud, &a_batch, W, 30 * SEC);
    b.invoke(&mut cloud, &batch(&[(W, 50, 2)]), W + 10 * SEC, 30 * SEC);
    assert!(b.breakdown.is_empty(), "withheld: nothing to show yet");
    for t in [60, 100] {
        b.invoke(&mut cloud, &batch(&[(W + 5 * MIN, 1, 0)]), W + t * SEC, 30 * SEC);
    }
    let plan = b.invoke(&mut cloud, &batch(&[(W, 50, 2)]), W + 10 * SEC + LAG, 30 * SEC);
    assert_eq!(b.breakdown.windows, BTreeSet::from([key(W)]), "settling: the others' codes are read");
    assert_eq!(b.breakdown.own, BTreeMap::from([(key(W), 1)]), "with its own tagged codes");
    let d = decision(&plan, W);
    assert_eq!(
        d.state.codes[&ClientErrorCode::Status(403)],
        9,
        "A's 5 + B's 2 + 2 (the reread's counts were in flight)"
    );
    assert_eq!(d.state.codes[&ClientErrorCode::Status(404)], 4);
    assert!(d.state.breakdown_complete());
    let later = b.invoke(&mut cloud, &batch(&[(W, 50, 50)]), W + 20 * SEC + LAG, 30 * SEC);
    assert_eq!(decision(&later, W).action, Some(Marker::Alerted(Severity::High)), "63 of 250");
    assert!(b.breakdown.is_empty(), "codes known since: no read even for an alert");
}

#[test]
fn memory_is_bounded() {
    let mut l = Ledger::with_capacity(1, 100);
    let mut cloud = Cloud::default();
    let rules = Rules::default();
    let judge = Judge { rules: &rules, notify_recovery: true, groups: None };
    for i in 0..300 {
        let now = W + i * 1000;
        let b = BTreeMap::from([(key(W + i * MIN), totals(1, 0))]);
        l.begin(now);
        let stored = cloud.read(&l.reads(b.keys(), now), 1, now, true);
        let plan = l.plan(&b, &stored, &judge, now);
        l.commit(&plan, &stored, i as u64, now);
        cloud.writes.clear();
    }
    assert!(l.len() <= 100, "{}", l.len());
    assert!(l.reads([key(W + 299 * MIN)].iter(), W + 300 * 1000).is_empty(), "the most recent windows are kept");
    assert!(l.seen_batch(299) && !l.seen_batch(1_000_000));
}

/// Who runs a step: the container that ran the last one, a new (cold) one, or an earlier one
/// resumed (after a pause longer than the idle gap, as reserved concurrency 1 allows).
#[derive(Debug, Clone)]
enum Who {
    Same,
    New,
    Resume(usize),
}

#[derive(Debug, Clone)]
struct Step {
    dt: i64,
    who: Who,
    windows: Vec<(i64, u64, u64)>,
    delay: i64,
}

fn step() -> impl Strategy<Value = Step> {
    let who = prop_oneof![6 => Just(Who::Same), 2 => Just(Who::New), 2 => (0usize..8).prop_map(Who::Resume)];
    let window = (0i64..3, 0u64..60, 0u64..=100).prop_map(|(w, r, pct)| (w, r, r * pct / 100));
    (0i64..150_000, who, prop::collection::vec(window, 1..3), 0..=LAG).prop_map(|(dt, who, windows, delay)| Step {
        dt,
        who,
        windows,
        delay,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn totals_are_never_above_the_truth_and_are_the_truth_once_the_lag_has_passed(
        steps in prop::collection::vec(step(), 1..40)
    ) {
        let handovers_only = steps.iter().all(|s| !matches!(s.who, Who::Resume(_)));
        let mut cloud = Cloud::default();
        let mut containers = vec![Container::new(1)];
        // When each container's current run began, and its last invocation (as Ledger::begin sees it).
        let mut runs: Vec<Option<(EpochMillis, EpochMillis)>> = vec![];
        let (mut cur, mut now) = (0, W + 2 * MIN);
        for s in steps {
            now += s.dt;
            cur = match s.who {
                Who::New => {
                    containers.push(Container::new(containers.len() as u64 + 1));
                    containers.len() - 1
                }
                Who::Resume(i) if s.dt > IDLE_GAP_MS => i % containers.len(),
                _ => cur,
            };
            runs.resize(containers.len(), None);
            let since = match runs[cur] {
                Some((since, last)) if now - last <= IDLE_GAP_MS => since,
                _ => now,
            };
            runs[cur] = Some((since, now));
            let mut b: BTreeMap<WindowKey, Totals> = BTreeMap::new();
            for (w, r, c) in &s.windows {
                b.entry(key(W + w * 5 * MIN)).or_default().add(&totals(*r, *c));
            }
            let plan = containers[cur].invoke(&mut cloud, &b, now, s.delay);
            for d in &plan.decisions {
                let truth = cloud.truth(&d.key);
                let used = &d.state;
                prop_assert!(used.requests <= truth.requests && used.client_errors <= truth.client_errors
                    && used.unparsed <= truth.unparsed, "above the truth: {used:?} > {truth:?}");
                for (code, n) in &used.codes {
                    prop_assert!(*n <= truth.codes.get(code).copied().unwrap_or(0), "code {code:?} above the truth");
                }
                prop_assert_ne!(d.withheld, Some(Withheld::Old));
                if now >= since + LAG {
                    prop_assert!(same_counts(used, &truth), "lag passed, not the truth: {used:?} vs {truth:?}");
                    prop_assert_eq!(&used.codes, &truth.codes);
                    prop_assert_eq!(d.withheld, None);
                }
                if handovers_only && d.action.is_some() {
                    prop_assert!(same_counts(used, &truth), "paged on a partial total: {used:?} vs {truth:?}");
                }
            }
        }
    }
}
