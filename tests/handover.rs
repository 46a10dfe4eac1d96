//! Container handovers on the emulator, on the test's clock: one container counts part of a window
//! and is replaced by a cold one while its last counts are still being extracted (the collector's
//! delay), a cold start behind counts in flight, and an old window whose alert marker CloudWatch
//! makes readable only late. The function's real edges (CloudWatch through the CBOR translator,
//! SNS) and its EMF output handed to the collector as CloudWatch Logs would extract it.

mod support;

use apigw_4xx::base::numbers::thousands;
use apigw_4xx::base::time::{window_start, EpochMillis, HOUR_MS};
use apigw_4xx::function::{IncomingEvent, Invocation, Summary};
use apigw_4xx::judge::finding::{ClientErrorCode, Finding, Rules, Totals};
use apigw_4xx::judge::severity::Severity;
use apigw_4xx::window::ledger::EXTRACTION_LAG_MS;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use std::collections::BTreeMap;
use support::emulator::{Emulator, SentMessage};
use support::env::{run_at, Deployed, Env};
use support::*;

const SEC: EpochMillis = 1000;

/// Invokes `f` at `now` on the test's clock (what falls due by then is extracted first) with lines
/// answered `statuses` from `events_at`; what it prints is extracted the collector's delay later.
async fn run(env: &Env, f: &Deployed, statuses: &[u16], events_at: EpochMillis, now: EpochMillis) -> Summary {
    Emulator::shared().clock(now);
    run_at(f, &env.event(statuses, events_at, 1), Invocation::at(now)).await.unwrap()
}

/// The verdict on a window's true totals.
fn severity(requests: u64, client_errors: u64) -> Severity {
    let mut t = Totals { requests, ..Totals::default() };
    t.client_errors.insert(ClientErrorCode::Status(403), client_errors);
    Finding::new(&t, &BTreeMap::new(), &Rules::default()).severity
}

/// Batch `i` of the handover scenario: 20 requests, one 4xx until batch 20, six from then on.
fn batch(i: usize) -> Vec<u16> {
    let errors = if i < 20 { 1 } else { 6 };
    statuses(&[(200, 20 - errors), (403, errors)])
}

const BATCHES: usize = 58;
const EVERY: EpochMillis = 5 * SEC;

/// One handover: container A handles batches `..h`, a cold B the rest, one every 5 s in one window,
/// its counts extracted `lag` after they are printed. Returns the batch whose invocation published,
/// and the message.
async fn handover(name: &str, h: usize, lag: f64) -> (Vec<usize>, Vec<SentMessage>, Env, EpochMillis) {
    let env = Env::new(name).await;
    Emulator::shared().emf_delay(lag);
    let w = recent_window();
    let (a, b) = (env.function(&[]), env.function(&[]));
    let mut published = Vec::new();
    for i in 0..BATCHES {
        let now = w + 2 * SEC + i as i64 * EVERY;
        let f = if i < h { &a } else { &b };
        if run(&env, f, &batch(i), now - SEC, now).await.alerts > 0 {
            published.push(i);
        }
    }
    (published, env.alerts(), env, w)
}

#[tokio::test]
async fn a_handover_pages_when_the_true_total_crosses_with_the_true_counts() {
    let _x = Emulator::exclusive();
    // The true total first crosses ELEVATED at batch 25 (56 of 520, 10.8%).
    let (mut requests, mut errors) = (0, 0);
    let truth: Vec<(u64, u64)> = (0..BATCHES)
        .map(|i| {
            requests += 20;
            errors += batch(i).iter().filter(|s| **s == 403).count() as u64;
            (requests, errors)
        })
        .collect();
    let crossing = truth.iter().position(|(r, e)| severity(*r, *e) == Severity::Elevated).unwrap();
    assert_eq!(crossing, 25);
    let hold = (EXTRACTION_LAG_MS / EVERY) as usize;
    for lag in [0.0, 15.0, 60.0] {
        // B takes over before the crossing (its hold ending before, at or after it), or after it.
        for h in [1, 5, 15, 24, 40] {
            let (published, alerts, env, w) = handover(&format!("handover-{h}-{lag}"), h, lag).await;
            // A window B's predecessor wrote to is paged once the lag has passed since B started.
            let expected = if h > crossing { crossing } else { crossing.max(h + hold) };
            assert_eq!(published, [expected], "lag {lag} s, handover at batch {h}");
            assert_eq!(alerts.len(), 1, "lag {lag}, handover {h}");
            let (r, e) = truth[expected];
            let counts = format!("({} of {} requests)", thousands(e), thousands(r));
            assert!(
                alerts[0].message.contains(&counts),
                "lag {lag}, handover {h}: want {counts}\n{}",
                alerts[0].message
            );
            assert!(alerts[0].subject.starts_with("ELEVATED: "), "{}", alerts[0].subject);
            Emulator::shared().emf_flush();
            let end = w + 300 * SEC;
            assert_eq!(env.sum_over("Requests", None, w, end).await, (20 * BATCHES) as f64, "every count, once");
            let errors = env.sum_over("ClientErrors", Some(("StatusCode", "403")), w, end).await;
            assert_eq!(errors, truth[BATCHES - 1].1 as f64);
        }
    }
}

/// A writes `a` to a window, extracted a minute later; B starts 5 s later and writes `b` to it, then
/// a batch of the next window when two minutes have passed. B's two summaries, and the window.
async fn cold_behind(env: &Env, a: &[(u16, u64)], b: &[(u16, u64)]) -> (Summary, Summary, EpochMillis) {
    Emulator::shared().emf_delay(60.0);
    let w = recent_window();
    let t0 = w + 10 * SEC;
    assert_eq!(run(env, &env.function(&[]), &statuses(a), t0 - SEC, t0).await.alerts, 0, "A does not page");
    let cold = env.function(&[]);
    let first = run(env, &cold, &statuses(b), t0 + 4 * SEC, t0 + 5 * SEC).await;
    let later = run(env, &cold, &statuses(&[(200, 5)]), w + 300 * SEC, t0 + 5 * SEC + EXTRACTION_LAG_MS).await;
    (first, later, w)
}

#[tokio::test]
async fn a_cold_start_behind_counts_in_flight_does_not_page_on_its_own_batch() {
    let _x = Emulator::exclusive();
    // A counts 1,000 requests, 50 of them 4xx. B's first batch, 20 of 150, would read as 13.3%
    // ELEVATED on its own: withheld. Two minutes on, a batch of the next window: the withheld
    // window is read and decided again on its whole total, 70 of 1,150 (6.1%): still no page.
    let env = Env::new("cold-behind").await;
    let (first, later, w) = cold_behind(&env, &[(200, 950), (403, 50)], &[(200, 130), (403, 20)]).await;
    assert_eq!((first.alerts, first.withheld), (0, 1), "withheld: A's counts are in flight");
    assert_eq!((later.alerts, later.withheld), (0, 0));
    assert!(env.alerts().is_empty(), "no false page");
    Emulator::shared().emf_flush();
    assert_eq!((env.sum("Requests", None, w).await, env.sum("ClientErrors", None, w).await), (1150.0, 70.0));

    // The other way round: A's counts in flight are the 4xx (40 of 60: too few requests to judge,
    // so A did not page). B's own batch reads as OK; the window is decided again when the lag has
    // passed, without another batch of it, and paged then.
    let env = Env::new("cold-behind-4xx").await;
    let (first, later, _) = cold_behind(&env, &[(200, 20), (403, 40)], &[(200, 150)]).await;
    assert_eq!((first.alerts, later.alerts), (0, 1));
    let alerts = env.alerts();
    assert!(alerts[0].subject.starts_with("ELEVATED: 19.0%"), "{}", alerts[0].subject);
    assert!(alerts[0].message.contains("(40 of 210 requests)"), "{}", alerts[0].message);
}

#[tokio::test]
async fn an_old_windows_marker_readable_late_does_not_page_twice() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    // CloudWatch's documented behaviour, injected: points 3 hours old or older readable a minute
    // after they are put.
    e.late(60.0);
    let env = Env::new("old-window").await;
    let now = apigw_4xx::function::system_now();
    e.clock(now);
    let old = window_start(now - 4 * HOUR_MS, 5);
    let young = window_start(now - 2 * HOUR_MS, 5);

    // The fault is real: a marker put for the old window is not readable until the minute passes.
    let marker = |t| {
        MetricDatum::builder()
            .metric_name("Probe")
            .dimensions(Dimension::builder().name("LogGroup").value(&env.group).build())
            .timestamp(DateTime::from_millis(t))
            .value(1.0)
            .unit(StandardUnit::Count)
            .build()
    };
    let cw = aws_sdk_cloudwatch::Client::new(&env.sdk);
    cw.put_metric_data()
        .namespace(&env.namespace)
        .metric_data(marker(old))
        .metric_data(marker(young))
        .send()
        .await
        .unwrap();
    assert_eq!(env.sum("Probe", None, young).await, 1.0, "two hours old: readable at once");
    assert_eq!(env.sum("Probe", None, old).await, 0.0, "four hours old: not yet");
    e.clock(now + 61 * SEC);
    assert_eq!(env.sum("Probe", None, old).await, 1.0, "a minute later");

    // A replayed backlog: the old and the young window both cross HIGH in one batch.
    let high = statuses(&[(200, 100), (403, 50)]);
    let mut evs = events(Format::ConsoleJson, &high, old + SEC, 1);
    evs.extend(events(Format::ConsoleJson, &high, young + SEC, 1));
    let ev: IncomingEvent = subscription(&env.group, &evs);
    let t = now + 70 * SEC;
    e.clock(t);
    let first = run_at(&env.function(&[]), &ev, Invocation::at(t)).await.unwrap();
    assert_eq!((first.alerts, first.markers, first.too_old), (1, 1, 1), "the young window paged, the old one not");
    let alerts = env.alerts();
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].message.contains("Not paged, began more than 2 h 45 min before this batch"),
        "{}",
        alerts[0].message
    );
    // A cold container gets more of both: the old window is never paged (its marker would not be
    // readable yet); the young window's marker is read back, so it is not paged again either, also
    // once the hold on it (A wrote to it) has passed.
    let b = env.function(&[]);
    for (i, at) in [t + 10 * SEC, t + 20 * SEC, t + 10 * SEC + EXTRACTION_LAG_MS].into_iter().enumerate() {
        let old_again = run(&env, &b, &high, old + 2 * SEC + i as i64, at).await;
        let young_again = run(&env, &b, &high, young + 2 * SEC + i as i64, at + SEC).await;
        assert_eq!((old_again.alerts, old_again.too_old, young_again.alerts), (0, 1, 0), "at {i}");
    }
    assert_eq!(env.alerts().len(), 1, "one page in all");
}
