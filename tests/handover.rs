//! Container handovers on the emulator, on the test's clock: one container counts part of a window
//! and is replaced by a cold one while its last counts are still being extracted (the collector's
//! delay), a cold start behind counts in flight, and an old window whose alert marker CloudWatch
//! makes readable only late. The function's real edges (CloudWatch through the CBOR translator,
//! SNS) and its EMF output handed to the collector as CloudWatch Logs would extract it.

mod support;

use apigw_4xx::aws::client::Clients;
use apigw_4xx::base::numbers::thousands;
use apigw_4xx::base::time::{window_start, EpochMillis, HOUR_MS};
use apigw_4xx::function::config::Config;
use apigw_4xx::function::emf::CapturedEmf;
use apigw_4xx::function::stores::{CloudWatchStore, SnsAlerts};
use apigw_4xx::function::{Function, IncomingEvent, Invocation, Summary};
use apigw_4xx::judge::finding::{ClientErrorCode, Finding, Rules, Totals};
use apigw_4xx::judge::severity::Severity;
use apigw_4xx::window::ledger::EXTRACTION_LAG_MS;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StandardUnit};
use std::collections::BTreeMap;
use support::emulator::{Emulator, SentMessage};
use support::*;

type Fun = Function<CloudWatchStore, SnsAlerts, CapturedEmf>;

const SEC: EpochMillis = 1000;

/// One scenario's names (its own log group: moto's GetMetricData ignores the namespace when a query
/// has dimensions) and SDK configuration.
struct Scenario {
    group: String,
    topic: String,
    namespace: String,
    sdk: aws_config::SdkConfig,
}

impl Scenario {
    async fn new(name: &str) -> Scenario {
        let sdk = Emulator::shared().sdk_config().await;
        let topic = aws_sdk_sns::Client::new(&sdk)
            .create_topic()
            .name(format!("alerts-{name}"))
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        Scenario { group: format!("/aws/apigateway/{name}-access"), topic, namespace: format!("Test/{name}"), sdk }
    }

    /// A cold container.
    fn container(&self) -> Fun {
        let vars = [("ALERT_TOPIC_ARN", self.topic.as_str()), ("METRIC_NAMESPACE", self.namespace.as_str())];
        let c = Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap();
        Function::new(
            c.clone(),
            CloudWatchStore::new(&Clients::new(&self.sdk), &c.namespace),
            SnsAlerts::new(&Clients::new(&self.sdk), &c.alert_topic_arn),
            CapturedEmf::default(),
        )
    }

    fn event(&self, statuses: &[u16], t0: EpochMillis) -> IncomingEvent {
        let evs = events(Format::ConsoleJson, statuses, t0, 1);
        serde_json::from_str(&subscription_event(&payload(&self.group, &evs))).unwrap()
    }

    /// Invokes `f` at `now` on the test's clock (what falls due by then is extracted first), then
    /// hands what it printed to the collector, extracted its delay later.
    async fn run(&self, f: &Fun, statuses: &[u16], events_at: EpochMillis, now: EpochMillis) -> Summary {
        let e = Emulator::shared();
        e.clock(now);
        let s = f.handle_at(&self.event(statuses, events_at), Invocation::at(now)).await.unwrap();
        let lines = f.emf().take();
        if !lines.is_empty() {
            e.emf(&lines.join("\n"));
        }
        s
    }

    fn alerts(&self) -> Vec<SentMessage> {
        Emulator::shared().sns_messages(&self.topic)
    }

    /// A metric's sum over `[start, end)`, read independently of the function.
    async fn sum(&self, name: &str, dims: &[(&str, &str)], start: EpochMillis, end: EpochMillis) -> f64 {
        let mut d = vec![Dimension::builder().name("LogGroup").value(&self.group).build()];
        d.extend(dims.iter().map(|(n, v)| Dimension::builder().name(*n).value(*v).build()));
        let metric = Metric::builder().namespace(&self.namespace).metric_name(name).set_dimensions(Some(d)).build();
        let q = MetricDataQuery::builder()
            .id("q")
            .metric_stat(MetricStat::builder().metric(metric).period(60).stat("Sum").build())
            .build();
        let out = aws_sdk_cloudwatch::Client::new(&self.sdk)
            .get_metric_data()
            .metric_data_queries(q)
            .start_time(DateTime::from_millis(start))
            .end_time(DateTime::from_millis(end))
            .send()
            .await
            .unwrap();
        out.metric_data_results().iter().flat_map(|r| r.values().to_vec()).sum()
    }
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
async fn handover(name: &str, h: usize, lag: f64) -> (Vec<usize>, Vec<SentMessage>, Scenario, EpochMillis) {
    let s = Scenario::new(name).await;
    Emulator::shared().emf_delay(lag);
    let w = recent_window();
    let (a, b) = (s.container(), s.container());
    let mut published = Vec::new();
    for i in 0..BATCHES {
        let now = w + 2 * SEC + i as i64 * EVERY;
        let f = if i < h { &a } else { &b };
        if s.run(f, &batch(i), now - SEC, now).await.alerts > 0 {
            published.push(i);
        }
    }
    (published, s.alerts(), s, w)
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
            let (published, alerts, s, w) = handover(&format!("handover-{h}-{lag}"), h, lag).await;
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
            assert_eq!(s.sum("Requests", &[], w, end).await, (20 * BATCHES) as f64, "every count, once");
            assert_eq!(s.sum("ClientErrors", &[("StatusCode", "403")], w, end).await, truth[BATCHES - 1].1 as f64);
        }
    }
}

#[tokio::test]
async fn a_cold_start_behind_counts_in_flight_does_not_page_on_its_own_batch() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    e.emf_delay(60.0);
    let s = Scenario::new("cold-behind").await;
    let w = recent_window();
    let t0 = w + 10 * SEC;
    // A counts 1,000 requests, 50 of them 4xx; its counts are extracted a minute later.
    s.run(&s.container(), &statuses(&[(200, 950), (403, 50)]), t0 - SEC, t0).await;
    // B starts: its first batch, 20 of 150, would read as 13.3% ELEVATED on its own.
    let b = s.container();
    let first = s.run(&b, &statuses(&[(200, 130), (403, 20)]), t0 + 4 * SEC, t0 + 5 * SEC).await;
    assert_eq!((first.alerts, first.withheld), (0, 1), "withheld: A's counts are in flight");
    // Two minutes on, a batch of the next window: the withheld window is read and decided again
    // on its whole total, 70 of 1,150 (6.1%): still no page.
    let later = s.run(&b, &statuses(&[(200, 5)]), w + 300 * SEC, t0 + 5 * SEC + EXTRACTION_LAG_MS).await;
    assert_eq!((later.alerts, later.withheld), (0, 0));
    assert!(s.alerts().is_empty(), "no false page");
    e.emf_flush();
    assert_eq!(s.sum("Requests", &[], w, w + 300 * SEC).await, 1150.0);
    assert_eq!(s.sum("ClientErrors", &[], w, w + 300 * SEC).await, 70.0);

    // The other way round: A's counts in flight are the 4xx (40 of 60: too few requests to judge,
    // so A did not page). B's own batch reads as OK; the window is decided again when the lag has
    // passed, without another batch of it, and paged then.
    let s = Scenario::new("cold-behind-4xx").await;
    assert_eq!(s.run(&s.container(), &statuses(&[(200, 20), (403, 40)]), t0 - SEC, t0).await.alerts, 0);
    let b = s.container();
    let first = s.run(&b, &statuses(&[(200, 150)]), t0 + 4 * SEC, t0 + 5 * SEC).await;
    assert_eq!(first.alerts, 0);
    let later = s.run(&b, &statuses(&[(200, 5)]), w + 300 * SEC, t0 + 5 * SEC + EXTRACTION_LAG_MS).await;
    assert_eq!(later.alerts, 1);
    let alerts = s.alerts();
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
    let s = Scenario::new("old-window").await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    e.clock(now);
    let old = window_start(now - 4 * HOUR_MS, 5);
    let young = window_start(now - 2 * HOUR_MS, 5);

    // The fault is real: a marker put for the old window is not readable until the minute passes.
    let cw = aws_sdk_cloudwatch::Client::new(&s.sdk);
    let marker = |t| {
        MetricDatum::builder()
            .metric_name("Probe")
            .dimensions(Dimension::builder().name("LogGroup").value(&s.group).build())
            .timestamp(DateTime::from_millis(t))
            .value(1.0)
            .unit(StandardUnit::Count)
            .build()
    };
    cw.put_metric_data()
        .namespace(&s.namespace)
        .metric_data(marker(old))
        .metric_data(marker(young))
        .send()
        .await
        .unwrap();
    assert_eq!(s.sum("Probe", &[], young, young + 60 * SEC).await, 1.0, "two hours old: readable at once");
    assert_eq!(s.sum("Probe", &[], old, old + 60 * SEC).await, 0.0, "four hours old: not yet");
    e.clock(now + 61 * SEC);
    assert_eq!(s.sum("Probe", &[], old, old + 60 * SEC).await, 1.0, "a minute later");

    // A replayed backlog: the old and the young window both cross HIGH in one batch.
    let high = statuses(&[(200, 100), (403, 50)]);
    let mut evs = events(Format::ConsoleJson, &high, old + SEC, 1);
    evs.extend(events(Format::ConsoleJson, &high, young + SEC, 1));
    let ev: IncomingEvent = serde_json::from_str(&subscription_event(&payload(&s.group, &evs))).unwrap();
    let t = now + 70 * SEC;
    e.clock(t);
    let a = s.container();
    let first = a.handle_at(&ev, Invocation::at(t)).await.unwrap();
    e.emf(&a.emf().take().join("\n"));
    assert_eq!((first.alerts, first.markers, first.too_old), (1, 1, 1), "the young window paged, the old one not");
    let alerts = s.alerts();
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].message.contains("Not paged, began more than 2 h 45 min before this batch"),
        "{}",
        alerts[0].message
    );
    // A cold container gets more of both: the old window is never paged (its marker would not be
    // readable yet); the young window's marker is read back, so it is not paged again either, also
    // once the hold on it (A wrote to it) has passed.
    let b = s.container();
    for (i, at) in [t + 10 * SEC, t + 20 * SEC, t + 10 * SEC + EXTRACTION_LAG_MS].into_iter().enumerate() {
        let old_again = s.run(&b, &high, old + 2 * SEC + i as i64, at).await;
        let young_again = s.run(&b, &high, young + 2 * SEC + i as i64, at + SEC).await;
        assert_eq!((old_again.alerts, old_again.too_old, young_again.alerts), (0, 1, 0), "at {i}");
    }
    assert_eq!(s.alerts().len(), 1, "one page in all");
}
