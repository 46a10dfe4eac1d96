//! The handler over in-memory CloudWatch and SNS, for what needs the clock in the test's hands
//! (`src/function/memory.rs`): a deadline met under a paused clock, CloudWatch's extraction lag
//! held back and released, and a batch too large for the emulator to take in a test. Every other
//! scenario runs once, against the emulator, in tests/lambda.rs.

mod support;

use apigw_4xx::aws::error::AwsErrorKind;
use apigw_4xx::base::time::window_start;
use apigw_4xx::function::emf::CapturedEmf;
use apigw_4xx::function::memory::{MemoryAlerts, MemoryMetrics};
use apigw_4xx::function::{Function, HandlerError, IncomingEvent, Invocation, Summary};
use std::sync::Arc;
use std::time::Duration;
use support::*;

const GROUP: &str = "/aws/apigateway/prod-access";

type Fn = Function<Arc<MemoryMetrics>, Arc<MemoryAlerts>, CapturedEmf>;

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

    fn requests(&self, start: i64, end: i64) -> f64 {
        self.metrics.sum("Requests", &[("LogGroup", GROUP)], start, end)
    }
}

fn event(statuses: &[u16], t0: i64, step_ms: i64) -> IncomingEvent {
    subscription(GROUP, &events(Format::ConsoleJson, statuses, t0, step_ms))
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
            &event(&statuses(&[(200, 100), (403, 100)]), w, 10),
            Invocation::at(w + 60_000).with_remaining(Duration::from_secs(8)),
        )
        .await
        .unwrap_err();
    assert!(matches!(&err, HandlerError::Publish(e) if e.kind == AwsErrorKind::Deadline), "{err}");
    assert!(started.elapsed() < Duration::from_secs(8), "answered before Lambda's deadline");
    assert_eq!(cloud.requests(w, w + 300_000), 0.0);
}

#[tokio::test]
async fn a_cold_start_rereads_once_the_extraction_lag_has_passed() {
    // The previous container's last counts are not extracted yet when the cold one reads.
    let cloud = Cloud::new();
    let w = recent_window();
    let old = cloud.function(&[]);
    old.handle_at(&event(&statuses(&[(200, 400)]), w, 10), Invocation::at(w + 10_000)).await.unwrap();
    let pending = old.emf().take();
    let cold = cloud.function(&[]);
    let batch = |t| event(&statuses(&[(200, 24), (403, 16)]), t, 10);
    let s = cloud.run(&cold, &batch(w + 20_000), Invocation::at(w + 30_000)).await.unwrap();
    assert_eq!(s.windows_read, 2);
    cloud.metrics.apply_emf(&pending).unwrap();
    // 80 requests: too few to judge; a minute later the window is still known from memory.
    let s = cloud.run(&cold, &batch(w + 40_000), Invocation::at(w + 90_000)).await.unwrap();
    assert_eq!(s.windows_read, 0);
    // Two minutes after the cold start it is read once more: 400 + 80 stored, + 40 = 520 requests,
    // 48 4xx (9.2%, OK). Without the re-read: 48 of 120, HIGH.
    let s = cloud.run(&cold, &batch(w + 50_000), Invocation::at(w + 30_000 + 120_000)).await.unwrap();
    assert_eq!((s.windows_read, s.alerts), (2, 0));
    assert!(cloud.alerts.sent().is_empty());
    assert_eq!(cloud.requests(w, w + 300_000), 520.0);
}

#[tokio::test]
async fn a_hundred_thousand_distinct_minutes_are_counted_in_range_only() {
    let cloud = Cloud::new();
    let f = cloud.function(&[("WINDOW_MINUTES", "60")]);
    let now = window_start(recent_window(), 60) + 30 * 60_000;
    let evs: Vec<(i64, String)> =
        (0..100_000).map(|i| (now - i * 60_000, line(Format::MinimalJson, i as u64, 200))).collect();
    let ev = subscription(GROUP, &evs);
    let s = cloud.run(&f, &ev, Invocation::at(now)).await.unwrap();
    let in_range = 13 * 24 * 60 + 1;
    assert_eq!((s.requests, s.out_of_range), (in_range, 100_000 - in_range));
    assert_eq!(s.emf_documents, in_range);
    assert_eq!(cloud.requests(0, i64::MAX), in_range as f64);
}
