//! The handler end to end against in-memory CloudWatch and SNS (hermetic, clock moved by the test):
//! what the "must show" list asks of the function's logic. The emulator tests
//! (tests/lambda.rs) check the same against the AWS translation.

mod support;

use apigw_4xx::aws::error::AwsErrorKind;
use apigw_4xx::base::time::window_start;
use apigw_4xx::function::config::Config;
use apigw_4xx::function::emf::CapturedEmf;
use apigw_4xx::function::memory::{Fault, MemoryAlerts, MemoryMetrics};
use apigw_4xx::function::{Function, HandlerError, IncomingEvent, Invocation, Summary};
use std::sync::Arc;
use std::time::Duration;
use support::*;

const GROUP: &str = "/aws/apigateway/prod-access";

type Fn = Function<Arc<MemoryMetrics>, Arc<MemoryAlerts>, CapturedEmf>;

fn config(extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts")];
    vars.extend_from_slice(extra);
    Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap()
}

struct Cloud {
    metrics: Arc<MemoryMetrics>,
    alerts: Arc<MemoryAlerts>,
}

impl Cloud {
    fn new() -> Cloud {
        Cloud { metrics: Arc::default(), alerts: Arc::default() }
    }

    /// A cold container over this cloud.
    fn function(&self, extra: &[(&str, &str)]) -> Fn {
        Function::new(config(extra), self.metrics.clone(), self.alerts.clone(), CapturedEmf::default())
    }

    /// Invokes `f` at `now`; CloudWatch extracts what it printed.
    async fn run(&self, f: &Fn, event: &IncomingEvent, inv: Invocation) -> Result<Summary, HandlerError> {
        let r = f.handle_at(event, inv).await;
        self.metrics.apply_emf(&f.emf().take()).unwrap();
        r
    }

    fn sum(&self, name: &str, code: Option<&str>, start: i64, end: i64) -> f64 {
        let mut dims = vec![("LogGroup", GROUP)];
        dims.extend(code.map(|c| ("StatusCode", c)));
        self.metrics.sum(name, &dims, start, end)
    }

    fn calls(&self) -> u64 {
        use apigw_4xx::function::stores::{AlertSink, MetricsStore};
        self.metrics.calls() + self.alerts.calls()
    }
}

fn event(group: &str, statuses: &[u16], t0: i64, step_ms: i64) -> IncomingEvent {
    serde_json::from_str(&subscription_event(&payload(group, &events(Format::ConsoleJson, statuses, t0, step_ms))))
        .unwrap()
}

#[tokio::test]
async fn a_warm_container_makes_few_calls_and_counts_exactly() {
    // 120 batches a second apart, over two windows: 200 requests each, 5% 4xx (OK).
    let cloud = Cloud::new();
    let f = cloud.function(&[]);
    let w = recent_window();
    let t0 = w + 4 * 60_000;
    let mix = statuses(&[(200, 190), (403, 6), (404, 4)]);
    for i in 0..120 {
        let now = t0 + i * 1000;
        let s = cloud.run(&f, &event(GROUP, &mix, now - 2000, 1), Invocation::at(now)).await.unwrap();
        assert_eq!(s.requests, 200);
    }
    let calls = cloud.calls();
    assert!(calls <= 12, "{calls} synchronous AWS calls for 120 batches");
    let (a, b) = (cloud.sum("Requests", None, w, w + 600_000), cloud.sum("ClientErrors", Some("403"), w, w + 600_000));
    assert_eq!((a, b), (24_000.0, 720.0), "every request counted once");
    assert_eq!(cloud.sum("ClientErrors", None, w, w + 600_000), 1_200.0);
    assert!(cloud.alerts.sent().is_empty());
    println!("120 batches, 2 windows: {calls} AWS calls ({} GetMetricData)", cloud.metrics.reads());
}

#[tokio::test]
async fn the_reference_example_in_six_batches_alerts_once_with_exact_sums() {
    let cloud = Cloud::new();
    let f = cloud.function(&[]);
    let w = recent_window();
    for (i, batch) in statuses(&REFERENCE_MIX).chunks(2500).enumerate() {
        let t = w + i as i64 * 40_000;
        cloud.run(&f, &event(GROUP, batch, t, 1), Invocation::at(t + 5000)).await.unwrap();
    }
    let end = w + 300_000;
    assert_eq!(cloud.sum("Requests", None, w, end), 15_000.0);
    assert_eq!(cloud.sum("ClientErrors", None, w, end), 4_680.0);
    assert_eq!(cloud.sum("ClientErrors", Some("403"), w, end), 2_891.0);
    assert_eq!(cloud.sum("ClientErrors", Some("400"), w, end), 1_204.0);
    assert_eq!(cloud.sum("ClientErrors", Some("404"), w, end), 585.0);
    let sent = cloud.alerts.sent();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].subject.starts_with("HIGH: "), "{}", sent[0].subject);
    assert_eq!(cloud.metrics.sum("AlertsPublished", &[("LogGroup", GROUP), ("Severity", "HIGH")], w, end), 1.0);
}

#[tokio::test]
async fn a_marker_put_that_fails_after_applying_counts_once_and_alerts_once() {
    let cloud = Cloud::new();
    let f = cloud.function(&[]);
    let w = recent_window();
    let batch = event(GROUP, &statuses(&[(200, 100), (403, 100)]), w, 10);
    cloud.metrics.fail_puts(Fault::ApplyThenFail, 1);
    let err = cloud.run(&f, &batch, Invocation::at(w + 60_000)).await.unwrap_err();
    assert_eq!(err.error_type(), "CloudWatch.PutMetricData");
    assert_eq!(cloud.sum("Requests", None, w, w + 300_000), 0.0, "nothing counted by the failed invocation");
    // Lambda retries the batch (warm container).
    cloud.run(&f, &batch, Invocation::at(w + 120_000)).await.unwrap();
    assert_eq!(cloud.sum("Requests", None, w, w + 300_000), 200.0);
    assert_eq!(cloud.alerts.sent().len(), 1);
    // A retry on a cold container instead: the marker was applied, so no alert either.
    let cold = cloud.function(&[]);
    cloud.run(&cold, &event(GROUP, &statuses(&[(403, 10)]), w + 1000, 1), Invocation::at(w + 200_000)).await.unwrap();
    assert_eq!(cloud.alerts.sent().len(), 1);
}

#[tokio::test]
async fn a_publish_that_fails_after_applying_counts_once_and_alerts_at_most_twice() {
    let cloud = Cloud::new();
    let f = cloud.function(&[]);
    let w = recent_window();
    let batch = event(GROUP, &statuses(&[(200, 100), (403, 100)]), w, 10);
    cloud.alerts.fail(Fault::ApplyThenFail, 1);
    let err = cloud.run(&f, &batch, Invocation::at(w + 60_000)).await.unwrap_err();
    assert_eq!(err.error_type(), "SNS.Publish");
    assert_eq!(cloud.sum("Requests", None, w, w + 300_000), 0.0);
    cloud.run(&f, &batch, Invocation::at(w + 120_000)).await.unwrap();
    assert_eq!(cloud.sum("Requests", None, w, w + 300_000), 200.0);
    assert_eq!(cloud.alerts.sent().len(), 2, "at-least-once: the lost answer costs one repeat");
}

#[tokio::test(start_paused = true)]
async fn an_alert_storm_is_one_digest_inside_the_deadline() {
    // 40 HIGH windows in one batch, Publish taking 0.5 s, 8 s left: one message, counted at once.
    // The 27 that began more than 2 h 45 min ago are listed in it, not paged.
    let cloud = Cloud::new();
    cloud.alerts.latency(Duration::from_millis(500));
    let f = cloud.function(&[]);
    let now = recent_window() + 10 * 60_000;
    let first = now - 5 * 3_600_000;
    let mut evs = Vec::new();
    for i in 0..40 {
        evs.extend(events(Format::ConsoleJson, &statuses(&[(200, 50), (403, 50)]), first + i * 300_000, 10));
    }
    let ev: IncomingEvent = serde_json::from_str(&subscription_event(&payload(GROUP, &evs))).unwrap();
    let s = cloud.run(&f, &ev, Invocation::at(now).with_remaining(Duration::from_secs(8))).await.unwrap();
    assert_eq!((s.windows, s.alerts, s.markers, s.too_old), (40, 1, 13, 27));
    let sent = cloud.alerts.sent();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].subject.ends_with("(5 min, 13 windows)"), "{}", sent[0].subject);
    assert!(sent[0].body.contains("Not paged, began more than 2 h 45 min before this batch"), "{}", sent[0].body);
    assert_eq!(cloud.sum("Requests", None, first, now), 4_000.0, "every request counted");
}

#[tokio::test(start_paused = true)]
async fn a_publish_past_the_deadline_fails_before_counting() {
    let cloud = Cloud::new();
    cloud.alerts.latency(Duration::from_secs(30));
    let f = cloud.function(&[]);
    let w = recent_window();
    let started = tokio::time::Instant::now();
    let err = cloud
        .run(
            &f,
            &event(GROUP, &statuses(&[(200, 100), (403, 100)]), w, 10),
            Invocation::at(w + 60_000).with_remaining(Duration::from_secs(8)),
        )
        .await
        .unwrap_err();
    assert!(matches!(&err, HandlerError::Publish(e) if e.kind == AwsErrorKind::Deadline), "{err}");
    assert!(started.elapsed() < Duration::from_secs(8), "answered before Lambda's deadline");
    assert_eq!(cloud.sum("Requests", None, w, w + 300_000), 0.0);
}

#[tokio::test]
async fn huge_route_values_make_one_bounded_alert() {
    let cloud = Cloud::new();
    let f = cloud.function(&[]);
    let w = recent_window();
    let lines = huge_route_lines(w);
    let ev: IncomingEvent = serde_json::from_str(&subscription_event(&payload(GROUP, &lines))).unwrap();
    cloud.run(&f, &ev, Invocation::at(w + 60_000)).await.unwrap();
    let sent = cloud.alerts.sent();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body.len() < 256 * 1024 / 4, "{} bytes", sent[0].body.len());
    assert!(sent[0].body.contains("Top 4xx routes: /0rrrr"), "{}", &sent[0].body[..2000]);
}

#[tokio::test]
async fn poison_kinesis_records_are_skipped_and_the_good_one_counted() {
    let cloud = Cloud::new();
    let f = cloud.function(&[]);
    let w = recent_window();
    let good = payload(GROUP, &events(Format::ConsoleJson, &statuses(&[(200, 70), (403, 30)]), w, 10));
    let bad_group = payload("/aws/apigateway/bad\ngroup", &events(Format::ConsoleJson, &statuses(&[(200, 5)]), w, 10));
    let mut ev: serde_json::Value = serde_json::from_str(&kinesis_event(&[good, bad_group, "{}".into()])).unwrap();
    ev["Records"][2]["kinesis"]["data"] = "not base64!".into();
    let ev: IncomingEvent = serde_json::from_value(ev).unwrap();
    let s = cloud.run(&f, &ev, Invocation::at(w + 60_000)).await.unwrap();
    assert_eq!((s.requests, s.rejected), (100, 2));
    assert_eq!(cloud.sum("Requests", None, w, w + 300_000), 100.0);
    // The same poison in a subscription event fails it (one payload: nothing good to keep).
    let one = event("", &statuses(&[(200, 5)]), w, 10);
    assert_eq!(cloud.run(&f, &one, Invocation::at(w + 60_000)).await.unwrap_err().error_type(), "Decode.LogGroup");
}

#[tokio::test]
async fn a_cold_takeover_of_an_alerted_window_does_not_alert_again() {
    let cloud = Cloud::new();
    let w = recent_window();
    let first = cloud.function(&[]);
    cloud
        .run(&first, &event(GROUP, &statuses(&[(200, 100), (403, 100)]), w, 10), Invocation::at(w + 60_000))
        .await
        .unwrap();
    assert_eq!(cloud.alerts.sent().len(), 1);
    let cold = cloud.function(&[]);
    let s = cloud
        .run(&cold, &event(GROUP, &statuses(&[(403, 100)]), w + 2000, 10), Invocation::at(w + 70_000))
        .await
        .unwrap();
    assert_eq!((s.alerts, s.markers), (0, 0));
    assert_eq!(cloud.alerts.sent().len(), 1);
    assert_eq!(cloud.sum("Requests", None, w, w + 300_000), 300.0);
}

#[tokio::test]
async fn a_cold_start_rereads_once_the_extraction_lag_has_passed() {
    // The previous container's last counts are not extracted yet when the cold one reads.
    let cloud = Cloud::new();
    let w = recent_window();
    let old = cloud.function(&[]);
    old.handle_at(&event(GROUP, &statuses(&[(200, 400)]), w, 10), Invocation::at(w + 10_000)).await.unwrap();
    let pending = old.emf().take();
    let cold = cloud.function(&[]);
    let batch = |t| event(GROUP, &statuses(&[(200, 24), (403, 16)]), t, 10);
    let s = cloud.run(&cold, &batch(w + 20_000), Invocation::at(w + 30_000)).await.unwrap();
    assert_eq!(s.windows_read, 2);
    cloud.metrics.apply_emf(&pending).unwrap();
    // 80 requests: too few to judge; a minute later the window is still known from memory.
    let s = cloud.run(&cold, &batch(w + 40_000), Invocation::at(w + 90_000)).await.unwrap();
    assert_eq!(s.windows_read, 0);
    // Two minutes after the cold start the window the old container wrote to is read once more (the
    // one before it, which no one wrote to, is not): 400 + 80 stored, + 40 = 520 requests, 48 4xx
    // (9.2%, OK). Without the re-read: 48 of 120, HIGH.
    let s = cloud.run(&cold, &batch(w + 50_000), Invocation::at(w + 30_000 + 120_000)).await.unwrap();
    assert_eq!((s.windows_read, s.alerts), (1, 0));
    assert!(cloud.alerts.sent().is_empty());
    assert_eq!(cloud.sum("Requests", None, w, w + 300_000), 520.0);
}

#[tokio::test]
async fn out_of_range_minutes_are_dropped_and_not_in_the_summary() {
    let cloud = Cloud::new();
    let f = cloud.function(&[]);
    let w = recent_window();
    let now = w + 60_000;
    let mut evs = events(Format::ConsoleJson, &statuses(&[(403, 50)]), now + 4 * 3_600_000, 10);
    evs.extend(events(Format::ConsoleJson, &statuses(&[(403, 30)]), now - 20 * 24 * 3_600_000, 10));
    evs.extend(events(Format::ConsoleJson, &statuses(&[(200, 20)]), w, 10));
    let ev: IncomingEvent = serde_json::from_str(&subscription_event(&payload(GROUP, &evs))).unwrap();
    let s = cloud.run(&f, &ev, Invocation::at(now)).await.unwrap();
    assert_eq!((s.events, s.requests, s.out_of_range, s.windows), (100, 20, 80, 1));
    assert!(cloud.alerts.sent().is_empty(), "80 refused 4xx raise no alert");
}

#[tokio::test]
async fn a_hundred_thousand_distinct_minutes_are_counted_in_range_only() {
    let cloud = Cloud::new();
    let f = cloud.function(&[("WINDOW_MINUTES", "60")]);
    let now = window_start(recent_window(), 60) + 30 * 60_000;
    let evs: Vec<(i64, String)> =
        (0..100_000).map(|i| (now - i * 60_000, line(Format::MinimalJson, i as u64, 200))).collect();
    let ev: IncomingEvent = serde_json::from_str(&subscription_event(&payload(GROUP, &evs))).unwrap();
    let s = cloud.run(&f, &ev, Invocation::at(now)).await.unwrap();
    let in_range = 13 * 24 * 60 + 1;
    assert_eq!((s.requests, s.out_of_range), (in_range, 100_000 - in_range));
    assert_eq!(s.emf_documents, in_range);
    assert_eq!(cloud.sum("Requests", None, 0, i64::MAX), in_range as f64);
}

#[tokio::test]
async fn a_redelivered_batch_is_counted_once_by_a_warm_container() {
    let cloud = Cloud::new();
    let f = cloud.function(&[]);
    let w = recent_window();
    let batch = event(GROUP, &statuses(&[(200, 150), (403, 50)]), w, 10);
    assert!(!cloud.run(&f, &batch, Invocation::at(w + 60_000)).await.unwrap().duplicate);
    let again = cloud.run(&f, &batch, Invocation::at(w + 61_000)).await.unwrap();
    assert!(again.duplicate && again.aws_calls == 0 && again.emf_documents == 0);
    assert_eq!(cloud.sum("Requests", None, w, w + 300_000), 200.0);
}
