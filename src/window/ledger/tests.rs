use super::*;
use crate::judge::finding::{ClientErrorCode, Rules};
use crate::judge::severity::Severity;

const G: &str = "/g";
const W: EpochMillis = 1_764_000_000_000;
const MIN: EpochMillis = 60_000;

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

fn stored(keys: &BTreeSet<WindowKey>, states: &[(EpochMillis, WindowState)]) -> Stored {
    Stored { keys: keys.clone(), states: states.iter().map(|(w, s)| (key(*w), s.clone())).collect() }
}

/// One whole invocation against the ledger: read what it asks for from `cloud`, plan, publish,
/// commit. Returns the plan and the windows read.
fn invoke(
    l: &mut Ledger,
    b: &BTreeMap<WindowKey, Totals>,
    cloud: &BTreeMap<WindowKey, WindowState>,
    now: EpochMillis,
) -> (Plan, BTreeSet<WindowKey>) {
    let rules = Rules::default();
    let judge = Judge { rules: &rules, notify_recovery: true, groups: None };
    l.begin(now);
    let reads = l.reads(b.keys(), now);
    let s = Stored {
        keys: reads.clone(),
        states: cloud.iter().filter(|(k, _)| reads.contains(*k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
    };
    let plan = l.plan(b, &s, &judge);
    l.published(plan.decisions.iter(), now);
    l.commit(&plan, &s, now as u64, now);
    (plan, reads)
}

#[test]
fn merge_is_the_field_wise_maximum_of_lower_bounds() {
    let mut a = WindowState { requests: 10, client_errors: 2, ..Default::default() };
    a.codes.insert(ClientErrorCode::Status(403), 2);
    let mut b = WindowState { requests: 7, client_errors: 5, unparsed: 1, ..Default::default() };
    b.codes.insert(ClientErrorCode::Status(404), 3);
    b.markers.alerted = Some(Severity::Elevated);
    a.merge(&b);
    assert_eq!((a.requests, a.client_errors, a.unparsed), (10, 5, 1));
    assert_eq!(a.codes.values().sum::<u64>(), 5);
    assert_eq!(a.markers.alerted, Some(Severity::Elevated));
    let before = a.clone();
    a.merge(&before);
    assert_eq!(a, before, "merging a state with itself changes nothing (no double count)");
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

#[test]
fn a_warm_container_reads_each_window_once_and_rereads_once_after_the_lag() {
    let mut l = Ledger::new(5);
    let b = batch(&[(W, 10, 0)]);
    let none = BTreeMap::new();
    let start = W + 2 * MIN;
    let (_, r) = invoke(&mut l, &b, &none, start);
    assert_eq!(r, BTreeSet::from([key(W), key(W - 5 * MIN)]), "cold: the window and the one before");
    let (_, r) = invoke(&mut l, &b, &none, start + 30_000);
    assert!(r.is_empty(), "warm: nothing to read");
    let (_, r) = invoke(&mut l, &b, &none, start + EXTRACTION_LAG_MS);
    assert_eq!(r.len(), 2, "one re-read once the extraction lag has passed since the cold start");
    let (_, r) = invoke(&mut l, &b, &none, start + EXTRACTION_LAG_MS + 30_000);
    assert!(r.is_empty(), "and only one");
    // A new window, after the lag: read once (an old container may have counted in it), no re-read.
    let next = batch(&[(W + 5 * MIN, 10, 0)]);
    let (_, r) = invoke(&mut l, &next, &none, W + 5 * MIN + 1000);
    assert_eq!(r, BTreeSet::from([key(W + 5 * MIN)]), "the previous window is known");
    let (_, r) = invoke(&mut l, &next, &none, W + 5 * MIN + 50_000);
    assert!(r.is_empty());
}

#[test]
fn after_an_idle_gap_every_window_is_read_again() {
    let mut l = Ledger::new(5);
    let b = batch(&[(W, 10, 0)]);
    let none = BTreeMap::new();
    invoke(&mut l, &b, &none, W);
    invoke(&mut l, &b, &none, W + EXTRACTION_LAG_MS);
    let (_, r) = invoke(&mut l, &b, &none, W + EXTRACTION_LAG_MS + IDLE_GAP_MS + 1);
    assert_eq!(r.len(), 2, "another container may have run meanwhile");
}

#[test]
fn stored_and_remembered_totals_merge_without_double_counting() {
    let mut l = Ledger::new(5);
    let none = BTreeMap::new();
    invoke(&mut l, &batch(&[(W, 60, 0)]), &none, W);
    // CloudWatch now holds our 60 and another container's late 40; the re-read sees 100.
    let cloud = BTreeMap::from([(key(W), WindowState { requests: 100, ..Default::default() })]);
    let (plan, r) = invoke(&mut l, &batch(&[(W, 10, 0)]), &cloud, W + EXTRACTION_LAG_MS);
    assert!(r.contains(&key(W)));
    assert_eq!(plan.decisions[0].state.requests, 110, "max(60, 100) + 10, not 60 + 100 + 10");
}

#[test]
fn an_alert_writes_its_marker_and_a_warm_retry_repairs_a_lost_one() {
    let mut l = Ledger::new(5);
    let rules = Rules::default();
    let judge = Judge { rules: &rules, notify_recovery: true, groups: None };
    let b = batch(&[(W, 100, 60)]);
    l.begin(W);
    let reads = l.reads(b.keys(), W);
    let s = stored(&reads, &[]);
    let plan = l.plan(&b, &s, &judge);
    assert_eq!(plan.decisions[0].action, Some(Marker::Alerted(Severity::High)));
    assert_eq!(plan.markers(), vec![(key(W), Marker::Alerted(Severity::High))]);
    l.published(plan.decisions.iter(), W);
    // The marker put fails: no commit. Lambda retries the batch on the same container.
    l.begin(W + 60_000);
    let reads = l.reads(b.keys(), W + 60_000);
    assert!(reads.contains(&key(W)), "the counts were never written: read again");
    let retry = l.plan(&b, &stored(&reads, &[]), &judge);
    assert_eq!(retry.decisions[0].action, None, "published once: not again");
    assert_eq!(retry.decisions[0].state.requests, 100, "the failed attempt's counts are not remembered");
    assert_eq!(retry.markers(), vec![(key(W), Marker::Alerted(Severity::High))], "but its marker is still owed");
    l.commit(&retry, &stored(&reads, &[]), 1, W + 60_000);
    let again = l.plan(&b, &Stored::default(), &judge);
    assert!(again.markers().is_empty(), "written markers are not written twice");
}

#[test]
fn a_cold_takeover_of_an_alerted_window_does_not_alert_again() {
    let mut cold = Ledger::new(5);
    let alerted = WindowState {
        requests: 200,
        client_errors: 100,
        markers: Markers { alerted: Some(Severity::High), recovered: false },
        ..Default::default()
    };
    let cloud = BTreeMap::from([(key(W), alerted)]);
    let (plan, _) = invoke(&mut cold, &batch(&[(W, 100, 100)]), &cloud, W + 1000);
    assert_eq!(plan.decisions[0].action, None);
    assert!(plan.markers().is_empty(), "the marker is already stored");
    assert_eq!(plan.decisions[0].state.requests, 300);
}

#[test]
fn recovery_compares_with_the_previous_window_read_or_remembered() {
    let mut l = Ledger::new(5);
    let none = BTreeMap::new();
    invoke(&mut l, &batch(&[(W, 100, 60)]), &none, W);
    let (plan, _) = invoke(&mut l, &batch(&[(W + 5 * MIN, 200, 1)]), &none, W + 5 * MIN);
    assert_eq!(plan.decisions[0].action, Some(Marker::Recovered));
    assert_eq!(plan.markers(), vec![(key(W + 5 * MIN), Marker::Recovered)]);
}

#[test]
fn breakdown_is_wanted_only_when_an_alert_lacks_codes() {
    let l = Ledger::new(5);
    let rules = Rules::default();
    let judge = Judge { rules: &rules, notify_recovery: true, groups: None };
    let b = batch(&[(W, 100, 60), (W + 5 * MIN, 100, 0)]);
    let keys: BTreeSet<_> = b.keys().cloned().collect();
    let plan = l.plan(&b, &stored(&keys, &[]), &judge);
    assert!(plan.breakdown_needed().is_empty(), "every 4xx is this batch's own: codes known");
    let old = WindowState { requests: 100, client_errors: 40, ..Default::default() };
    let plan = l.plan(&b, &stored(&keys, &[(W, old)]), &judge);
    assert_eq!(plan.breakdown_needed(), BTreeSet::from([key(W)]));
    assert_eq!(plan.alerts_by_group()[G].len(), 1);
}

#[test]
fn memory_is_bounded() {
    let mut l = Ledger::with_capacity(1, 100);
    let none = BTreeMap::new();
    for i in 0..300 {
        invoke(&mut l, &batch(&[(W + i * MIN, 1, 0)]), &none, W + i * 1000);
    }
    assert!(l.len() <= 100, "{}", l.len());
    let (_, r) = invoke(&mut l, &batch(&[(W + 299 * MIN, 1, 0)]), &none, W + 300 * 1000);
    assert!(r.is_empty(), "the most recent windows are kept");
}

#[test]
fn batches_are_recognised() {
    let mut l = Ledger::new(5);
    invoke(&mut l, &batch(&[(W, 1, 0)]), &BTreeMap::new(), W);
    assert!(l.seen_batch(W as u64));
    assert!(!l.seen_batch(7));
}
