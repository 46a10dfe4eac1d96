//! The handler over in-memory CloudWatch and SNS, for what needs the clock in the test's hands
//! (`src/function/memory.rs`): a deadline met under a paused clock, CloudWatch's extraction lag
//! held back and released, the accepted time range to the millisecond, and a batch too large for
//! the emulator to take in a test. Every other
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
    // Two minutes after the cold start the window the old container wrote to is read once more (the
    // one before it, which no one wrote to, is not): 400 + 80 stored, + 40 = 520 requests, 48 4xx
    // (9.2%, OK). Without the re-read: 48 of 120, HIGH.
    let s = cloud.run(&cold, &batch(w + 50_000), Invocation::at(w + 30_000 + 120_000)).await.unwrap();
    assert_eq!((s.windows_read, s.alerts), (1, 0));
    assert!(cloud.alerts.sent().is_empty());
    assert_eq!(cloud.requests(w, w + 300_000), 520.0);
}

/// CloudWatch takes a metric timestamp from two weeks back to two hours ahead, both included, and
/// the timestamp it sees is the minute a count is written with. At three clocks (a millisecond
/// before, on and after a minute) the minutes on either side of each edge are counted or refused
/// exactly as CloudWatch would take them, events exactly at the edges included.
#[tokio::test]
async fn the_time_range_is_exactly_what_cloudwatch_accepts_at_both_edges() {
    const WEEKS_2: i64 = 14 * 24 * 3_600_000;
    const HOURS_2: i64 = 2 * 3_600_000;
    let m = window_start(recent_window(), 1);
    // (clock, event times, how many of them count): one 403 per event.
    let cases: [(i64, Vec<i64>, u64, &str); 9] = [
        (m, vec![m - WEEKS_2], 1, "exactly two weeks old, on a minute: counted"),
        (m, vec![m - WEEKS_2 - 1], 0, "a millisecond older: its minute is a minute past the edge"),
        (m - 1, vec![m - WEEKS_2, m - WEEKS_2 + 59_999], 2, "its minute a millisecond inside the edge"),
        (
            m + 1,
            vec![m - WEEKS_2, m - WEEKS_2 + 1],
            0,
            "its minute a millisecond outside, the second event on the edge",
        ),
        (m, vec![m + HOURS_2, m + HOURS_2 + 59_999], 2, "minute exactly two hours ahead: counted"),
        (m, vec![m + HOURS_2 + 60_000], 0, "the next minute is past the edge"),
        (m - 1, vec![m + HOURS_2], 0, "its minute a millisecond past the edge"),
        (m - 1, vec![m + HOURS_2 - 1], 1, "exactly at the edge: counted in the minute before"),
        (m + 1, vec![m + HOURS_2, m + HOURS_2 + 1], 2, "its minute a millisecond inside, the second event on the edge"),
    ];
    for (now, times, counted, why) in cases {
        let cloud = Cloud::new();
        let f = cloud.function(&[]);
        let lines: Vec<(i64, String)> = times.iter().map(|t| (*t, line(Format::ConsoleJson, *t as u64, 403))).collect();
        let s = cloud.run(&f, &subscription(GROUP, &lines), Invocation::at(now)).await.unwrap();
        let out = times.len() as u64 - counted;
        assert_eq!((s.requests, s.out_of_range), (counted, out), "{why}");
        assert_eq!(s.emf_documents > 0, counted > 0, "{why}");
        let minute = window_start(times[0], 1);
        assert_eq!(cloud.requests(minute, minute + 60_000), counted as f64, "{why}");
        assert_eq!(cloud.requests(i64::MIN, i64::MAX), counted as f64, "nothing else written: {why}");
    }
}

/// A window that starts before the two-week edge while some of its minutes are after it: those
/// minutes are counted (each is written with its own timestamp), the window is not judged (its
/// marker would carry its start, and PutMetricData refuses a whole request over one timestamp past
/// two weeks). With its start inside the edge the same batch is judged.
#[tokio::test]
async fn a_window_that_starts_past_two_weeks_is_counted_not_judged() {
    const WEEKS_2: i64 = 14 * 24 * 3_600_000;
    let hour = window_start(recent_window(), 60);
    let start = hour - WEEKS_2;
    let lines = events(Format::ConsoleJson, &statuses(&[(200, 100), (403, 100)]), start + 45 * 60_000, 10);
    let ev = subscription(GROUP, &lines);
    for (now, judged) in [(hour + 30 * 60_000, false), (hour - 60_000, true)] {
        let cloud = Cloud::new();
        let f = cloud.function(&[("WINDOW_MINUTES", "60")]);
        let s = cloud.run(&f, &ev, Invocation::at(now)).await.unwrap();
        assert_eq!((s.requests, s.client_errors, s.out_of_range), (200, 100, 0), "judged: {judged}");
        assert_eq!(s.windows, usize::from(judged));
        assert_eq!(cloud.metrics.sum("ClientErrors", &[("LogGroup", GROUP)], start, start + 3_600_000), 100.0);
        if !judged {
            assert_eq!((s.windows_read, s.alerts, s.markers), (0, 0, 0));
            assert!(cloud.alerts.sent().is_empty());
            assert_eq!(cloud.metrics.puts(), 0, "no PutMetricData CloudWatch would refuse");
        }
    }
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
    let in_range = 14 * 24 * 60 + 1;
    assert_eq!((s.requests, s.out_of_range), (in_range, 100_000 - in_range));
    assert_eq!(s.emf_documents, in_range);
    assert_eq!(cloud.requests(0, i64::MAX), in_range as f64);
}

/// Issue 17: the function counts what deploy tools write: the Serverless Framework's `key: value`
/// default, and JSON with a bare `-` where a number was expected (tests/fixtures, counted by hand).
#[tokio::test]
async fn deploy_tool_formats_are_counted_by_the_function() {
    let cloud = Cloud::new();
    let f = cloud.function(&[]);
    let w = recent_window();
    for (name, requests, client_errors) in [("serverless-rest-keyvalue.log", 6, 4), ("json-bare-dash-values.log", 5, 3)]
    {
        let text = std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let lines: Vec<(i64, String)> =
            text.lines().enumerate().map(|(i, l)| (w + i as i64 * 1000, l.to_string())).collect();
        let event: IncomingEvent = serde_json::from_str(&subscription_event(&payload(GROUP, &lines))).unwrap();
        let s = cloud.run(&f, &event, Invocation::at(w + 60_000)).await.unwrap();
        assert_eq!((s.requests, s.client_errors, s.unparsed), (requests, client_errors, 0), "{name}");
    }
}

/// The format-mismatch check that replaced an alarm per group: a group whose lines mostly do not
/// parse over an hour gets one notice once the hour is over, and not another that day.
#[tokio::test]
async fn a_group_whose_lines_do_not_parse_for_an_hour_gets_one_notice() {
    let cloud = Cloud::new();
    let f = cloud.function(&[]);
    let w = recent_window();
    let hour = w - w.rem_euclid(3_600_000) + 3_600_000;
    let junk: Vec<(i64, String)> = (0..150).map(|i| (w + i, format!("not an access-log line {i}"))).collect();
    let good = events(Format::ConsoleJson, &statuses(&[(200, 100)]), w + 5_000, 10);
    // The hour: 150 lines that do not parse, 100 that do.
    cloud.run(&f, &subscription(GROUP, &junk), Invocation::at(hour - 60_000)).await.unwrap();
    cloud.run(&f, &event(&statuses(&[(200, 100)]), w, 10), Invocation::at(hour - 30_000)).await.unwrap();
    assert!(cloud.alerts.sent().is_empty(), "the hour is not over");
    // The next hour's first batch closes it.
    let s = cloud.run(&f, &subscription(GROUP, &good), Invocation::at(hour + 1_000)).await.unwrap();
    assert_eq!(s.notices, 1);
    let sent = cloud.alerts.sent();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].subject.starts_with("UNPARSED: /aws/apigateway/prod-access"), "{}", sent[0].subject);
    assert!(sent[0].body.contains("150 of 250"), "{}", sent[0].body);
    // A bad hour again: told once a day at most.
    let junk_again: Vec<(i64, String)> = junk.iter().map(|(t, m)| (t + 1, m.clone())).collect();
    cloud.run(&f, &subscription(GROUP, &junk_again), Invocation::at(hour + 60_000)).await.unwrap();
    let later = events(Format::ConsoleJson, &statuses(&[(200, 100)]), w + 9_000, 10);
    let s = cloud.run(&f, &subscription(GROUP, &later), Invocation::at(hour + 3_600_000 + 1_000)).await.unwrap();
    assert_eq!((s.notices, cloud.alerts.sent().len()), (0, 1));
}
