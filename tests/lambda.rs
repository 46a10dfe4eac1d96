//! The function's handler end to end against the AWS emulator (moto, through the CBOR translator):
//! events in, alerts read back from SNS, the function's EMF output handed to the emulator's
//! collector (CloudWatch's extraction), and window totals read back with GetMetricData.

mod support;

use apigw_4xx::aws::client::Clients;
use apigw_4xx::aws::error::{AwsError, AwsErrorKind};
use apigw_4xx::base::time::window_start;
use apigw_4xx::function::config::Config;
use apigw_4xx::function::emf::CapturedEmf;
use apigw_4xx::function::stores::{AlertSink, CloudWatchStore, SnsAlerts};
use apigw_4xx::function::{Function, HandlerError, IncomingEvent, Invocation, Summary};
use apigw_4xx::render::alert::AlertMessage;
use apigw_4xx::window::ledger::PAGE_HORIZON_MS;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::emulator::{Emulator, SentMessage};
use support::*;

type Fun<A = SnsAlerts> = Function<CloudWatchStore, A, CapturedEmf>;

/// Each test has its own log group: moto 5.2.5's GetMetricData ignores the namespace when a query
/// has dimensions, so the `LogGroup` dimension is what keeps tests apart.
struct Env {
    _x: Option<support::emulator::Exclusive>,
    group: String,
    topic: String,
    namespace: String,
    cw: aws_sdk_cloudwatch::Client,
    sdk: aws_config::SdkConfig,
}

/// A test's names, holding the emulator for the test (calls are counted and faults injected per
/// emulator, so the tests of this binary run one at a time).
async fn env(name: &str) -> Env {
    let x = Emulator::exclusive();
    let mut e = another_env(name).await;
    e._x = Some(x);
    e
}

/// More names within a test that already holds the emulator.
async fn another_env(name: &str) -> Env {
    let sdk = Emulator::shared().sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic = sns.create_topic().name(format!("alerts-{name}")).send().await.unwrap().topic_arn.unwrap();
    Env {
        _x: None,
        group: format!("/aws/apigateway/{name}-access"),
        topic,
        namespace: format!("Test/{name}"),
        cw: aws_sdk_cloudwatch::Client::new(&sdk),
        sdk,
    }
}

impl Env {
    fn config(&self, extra: &[(&str, &str)]) -> Config {
        let mut vars = vec![("ALERT_TOPIC_ARN", self.topic.as_str()), ("METRIC_NAMESPACE", self.namespace.as_str())];
        vars.extend_from_slice(extra);
        Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap()
    }

    /// A cold container.
    fn function(&self, extra: &[(&str, &str)]) -> Fun {
        let c = self.config(extra);
        Function::new(
            c.clone(),
            CloudWatchStore::new(&Clients::new(&self.sdk), &c.namespace),
            SnsAlerts::new(&Clients::new(&self.sdk), &c.alert_topic_arn),
            CapturedEmf::default(),
        )
    }

    fn alerts(&self) -> Vec<SentMessage> {
        Emulator::shared().sns_messages(&self.topic)
    }

    /// Sum of a metric over `[start, start + 5 min)`, read independently of the function's own reader.
    async fn sum(&self, name: &str, extra: Option<(&str, &str)>, start: i64) -> f64 {
        self.sum_over(name, extra, start, start + 300_000).await
    }

    async fn sum_over(&self, name: &str, extra: Option<(&str, &str)>, start: i64, end: i64) -> f64 {
        let mut dims = vec![Dimension::builder().name("LogGroup").value(&self.group).build()];
        dims.extend(extra.map(|(n, v)| Dimension::builder().name(n).value(v).build()));
        let metric = Metric::builder().namespace(&self.namespace).metric_name(name).set_dimensions(Some(dims)).build();
        let q = MetricDataQuery::builder()
            .id("q")
            .metric_stat(MetricStat::builder().metric(metric).period(60).stat("Sum").build())
            .build();
        let out = self
            .cw
            .get_metric_data()
            .metric_data_queries(q)
            .start_time(DateTime::from_millis(start))
            .end_time(DateTime::from_millis(end))
            .send()
            .await
            .unwrap();
        out.metric_data_results().iter().flat_map(|r| r.values().to_vec()).sum()
    }

    fn event(&self, statuses: &[u16], t0: i64, step_ms: i64) -> IncomingEvent {
        let evs = events(Format::ConsoleJson, statuses, t0, step_ms);
        serde_json::from_str(&subscription_event(&payload(&self.group, &evs))).unwrap()
    }
}

/// Invokes the function now, then hands what it printed to the EMF collector (as CloudWatch Logs
/// extracts the function's log output).
async fn run<A: AlertSink + Sync>(f: &Fun<A>, event: &IncomingEvent) -> Result<Summary, HandlerError> {
    run_at(f, event, Invocation::now()).await
}

async fn run_at<A: AlertSink + Sync>(
    f: &Fun<A>,
    event: &IncomingEvent,
    inv: Invocation,
) -> Result<Summary, HandlerError> {
    let r = f.handle_at(event, inv).await;
    let lines = f.emf().take();
    if !lines.is_empty() {
        Emulator::shared().emf(&lines.join("\n"));
    }
    r
}

#[tokio::test]
async fn reference_example_in_six_batches_alerts_once() {
    let e = env("reference").await;
    let f = e.function(&[]);
    let w = recent_window();
    let all = statuses(&REFERENCE_MIX);
    let mut calls = 0;
    for (i, batch) in all.chunks(2500).enumerate() {
        let s = run(&f, &e.event(batch, w + i as i64 * 40_000, 1)).await.unwrap();
        calls += s.aws_calls;
    }
    assert!(calls <= 5, "{calls}: reads (cold, then the breakdown for the alert), Publish, the marker");
    let alerts = e.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].subject.starts_with("HIGH: ") && alerts[0].subject.ends_with(&format!("on {} (5 min)", e.group)));
    assert!(alerts[0].message.starts_with("HIGH Elevated Client Error Rate (4xx)\n\n"));
    assert_eq!(alerts[0].attribute("severity"), Some("HIGH"));
    assert_eq!(alerts[0].attribute("logGroup"), Some(e.group.as_str()));
    assert_eq!(e.sum("Requests", None, w).await, 15_000.0);
    assert_eq!(e.sum("ClientErrors", None, w).await, 4_680.0);
    assert_eq!(e.sum("ClientErrors", Some(("StatusCode", "403")), w).await, 2_891.0);
    assert_eq!(e.sum("ClientErrors", Some(("StatusCode", "400")), w).await, 1_204.0);
    assert_eq!(e.sum("ClientErrors", Some(("StatusCode", "404")), w).await, 585.0);
    assert_eq!(e.sum("AlertsPublished", Some(("Severity", "HIGH")), w).await, 1.0);

    // A cold container (no memory) reads the same window back and does not alert again.
    let cold = e.function(&[]);
    run(&cold, &e.event(&statuses(&[(403, 100)]), w + 250_000, 1)).await.unwrap();
    assert_eq!(e.alerts().len(), 1);

    // All 15,000 in one batch: the alert body opens with the reference finding, exactly.
    let one = another_env("reference-one").await;
    // Lines that carry only what the reference data has (no routes or methods, so no evidence lines).
    let minimal: IncomingEvent =
        serde_json::from_str(&subscription_event(&payload(&one.group, &events(Format::MinimalJson, &all, w, 1))))
            .unwrap();
    run(&one.function(&[]), &minimal).await.unwrap();
    let body = &one.alerts()[0].message;
    assert!(body.starts_with(&format!("{REFERENCE_TEXT}\n\nWindow: ")), "{body}");
}

#[tokio::test]
async fn elevated_then_high_in_one_window_and_no_repeats() {
    let e = env("escalation").await;
    let f = e.function(&[]);
    let w = recent_window();
    run(&f, &e.event(&statuses(&[(200, 170), (401, 30)]), w, 100)).await.unwrap();
    run(&f, &e.event(&statuses(&[(200, 170), (401, 30)]), w + 30_000, 100)).await.unwrap();
    assert_eq!(e.alerts().len(), 1, "ELEVATED once");
    run(&f, &e.event(&statuses(&[(429, 300)]), w + 60_000, 100)).await.unwrap();
    run(&f, &e.event(&statuses(&[(429, 300)]), w + 90_000, 100)).await.unwrap();
    let alerts = e.alerts();
    let levels: Vec<_> = alerts.iter().map(|a| a.attribute("severity").unwrap_or_default().to_string()).collect();
    assert_eq!(levels, ["ELEVATED", "HIGH"]);
    assert!(alerts[0].message.contains("The high 401 count"));
    assert!(alerts[1].message.contains("The high 429 count"));
}

#[tokio::test]
async fn two_windows_alert_independently_and_late_events_land_in_their_own() {
    let e = env("windows").await;
    let f = e.function(&[]);
    let w = recent_window();
    let mut evs = events(Format::Clf, &statuses(&[(200, 100), (403, 100)]), w, 10);
    evs.extend(events(Format::Clf, &statuses(&[(200, 100), (404, 100)]), w + 300_000, 10));
    let both: IncomingEvent = serde_json::from_str(&subscription_event(&payload(&e.group, &evs))).unwrap();
    let s = run(&f, &both).await.unwrap();
    assert_eq!((s.windows, s.alerts), (2, 1), "one digest for the log group");
    let alerts = e.alerts();
    assert!(alerts[0].message.contains("The high 404 count"), "the latest window's finding");
    assert!(alerts[0].message.contains("2 windows crossed a level in this batch:"));
    assert!(alerts[0].subject.ends_with("(5 min, 2 windows)"));

    // Events an hour late: counted in their own window, not in the current ones.
    let late = w - 3_600_000;
    run(&f, &e.event(&statuses(&[(200, 10), (400, 5)]), late, 1000)).await.unwrap();
    assert_eq!(e.sum("Requests", None, late).await, 15.0);
    assert_eq!(e.sum("Requests", None, w).await, 200.0);
    assert_eq!(e.alerts().len(), 1, "15 requests are too few to alert");
}

#[tokio::test]
async fn control_message_succeeds_and_writes_nothing() {
    let e = env("control").await;
    let f = e.function(&[]);
    let ev: IncomingEvent = serde_json::from_str(&control_event()).unwrap();
    let s = run(&f, &ev).await.unwrap();
    assert_eq!((s.control_messages, s.requests, s.aws_calls), (1, 0, 0));
    assert!(e.alerts().is_empty());
}

/// Fails the first `n` publishes, then publishes for real.
struct FlakySns {
    inner: SnsAlerts,
    fail: AtomicUsize,
}

impl AlertSink for FlakySns {
    async fn publish(&self, m: &AlertMessage) -> Result<(), AwsError> {
        if self.fail.load(Ordering::SeqCst) > 0 {
            self.fail.fetch_sub(1, Ordering::SeqCst);
            return Err(AwsError::new(AwsErrorKind::Service, "injected publish failure"));
        }
        self.inner.publish(m).await
    }

    fn calls(&self) -> u64 {
        self.inner.calls()
    }
}

#[tokio::test]
async fn retried_batch_after_publish_failure_counts_once_and_alerts() {
    let e = env("retry").await;
    let c = e.config(&[]);
    let sns = FlakySns { inner: SnsAlerts::new(&Clients::new(&e.sdk), &e.topic), fail: AtomicUsize::new(1) };
    let f = Function::new(
        c.clone(),
        CloudWatchStore::new(&Clients::new(&e.sdk), &c.namespace),
        sns,
        CapturedEmf::default(),
    );
    let w = recent_window();
    let batch = e.event(&statuses(&[(200, 100), (403, 100)]), w, 10);
    let err = run(&f, &batch).await.unwrap_err();
    assert!(matches!(err, HandlerError::Publish(_)), "{err}");
    assert_eq!(err.error_type(), "SNS.Publish");
    assert_eq!(e.sum("Requests", None, w).await, 0.0, "nothing counted before the alert is out");
    run(&f, &batch).await.unwrap();
    assert_eq!(e.sum("Requests", None, w).await, 200.0);
    assert_eq!(e.alerts().len(), 1);
}

#[tokio::test]
async fn recovery_notice_closes_the_loop() {
    let e = env("recovery").await;
    let f = e.function(&[]);
    let w = recent_window();
    run(&f, &e.event(&statuses(&[(200, 100), (403, 100)]), w, 10)).await.unwrap();
    run(&f, &e.event(&statuses(&[(200, 199), (403, 1)]), w + 300_000, 10)).await.unwrap();
    run(&f, &e.event(&statuses(&[(200, 100)]), w + 310_000, 10)).await.unwrap();
    let alerts = e.alerts();
    let levels: Vec<_> = alerts.iter().map(|a| a.attribute("severity").unwrap_or_default().to_string()).collect();
    assert_eq!(levels, ["HIGH", "RECOVERED"]);
    assert!(alerts[1].subject.starts_with("RECOVERED: 0.5% 4xx"));
    let quiet = another_env("recovery-off").await;
    let g = quiet.function(&[("NOTIFY_RECOVERY", "false")]);
    run(&g, &quiet.event(&statuses(&[(200, 100), (403, 100)]), w, 10)).await.unwrap();
    run(&g, &quiet.event(&statuses(&[(200, 200)]), w + 300_000, 10)).await.unwrap();
    assert_eq!(quiet.alerts().len(), 1);
}

#[tokio::test]
async fn kinesis_http_api_and_chat_format() {
    let e = env("kinesis").await;
    let f = e.function(&[("ALERT_FORMAT", "chat")]);
    let w = recent_window();
    let p1 = payload(&e.group, &events(Format::HttpApi, &statuses(&[(200, 60), (404, 40)]), w, 10));
    let p2 = payload(&e.group, &events(Format::HttpApi, &statuses(&[(200, 60), (404, 40)]), w + 1000, 10));
    let ev: IncomingEvent = serde_json::from_str(&kinesis_event(&[p1, p2])).unwrap();
    let s = run(&f, &ev).await.unwrap();
    assert_eq!((s.requests, s.client_errors, s.alerts), (200, 80, 1));
    let alerts = e.alerts();
    let chat: serde_json::Value = serde_json::from_str(&alerts[0].message).unwrap();
    assert_eq!(chat["source"], "custom");
    assert!(chat["content"]["description"].as_str().unwrap().contains("The high 404 count"));
    assert!(chat["content"]["description"]
        .as_str()
        .unwrap()
        .contains("coalesce(resourcePath, resource_path, route, routeKey) as resource"));
}

#[tokio::test]
async fn the_alert_query_reads_the_log_groups_own_format() {
    let e = env("clf-query").await;
    let f = e.function(&[]);
    let lines = events(Format::Clf, &statuses(&[(200, 60), (403, 40)]), recent_window(), 10);
    let ev: IncomingEvent = serde_json::from_str(&subscription_event(&payload(&e.group, &lines))).unwrap();
    run(&f, &ev).await.unwrap();
    let body = &e.alerts()[0].message;
    assert!(body.contains(r#"parse @message /"(?<method>[A-Z]+) (?<resource>\S+)"#), "CLF needs a parse: {body}");

    let e = another_env("template-query").await;
    let f = e.function(&[("ACCESS_LOG_FORMAT", r#"{"id":"$context.requestId","code":"$context.status"}"#)]);
    let lines: Vec<(i64, String)> = (0..100)
        .map(|i| (recent_window() + i, format!(r#"{{"id":"{i}","code":"{}"}}"#, 200 + 200 * (i % 2))))
        .collect();
    let ev: IncomingEvent = serde_json::from_str(&subscription_event(&payload(&e.group, &lines))).unwrap();
    run(&f, &ev).await.unwrap();
    let body = &e.alerts()[0].message;
    assert!(body.contains("fields @timestamp, code\n| filter code >= 400"), "the template's keys: {body}");
}

#[tokio::test]
async fn malformed_events_fail_with_the_stage() {
    let e = env("malformed").await;
    let f = e.function(&[]);
    let bad: IncomingEvent = serde_json::from_str(r#"{"awslogs":{"data":"!!!"}}"#).unwrap();
    assert_eq!(run(&f, &bad).await.unwrap_err().error_type(), "Decode.Base64");
    let none: IncomingEvent = serde_json::from_str(r#"{"hello":1}"#).unwrap();
    assert_eq!(run(&f, &none).await.unwrap_err().error_type(), "EventShape");
    let sqs: IncomingEvent = serde_json::from_str(r#"{"Records":[{"messageId":"m","body":"x"}]}"#).unwrap();
    assert_eq!(run(&f, &sqs).await.unwrap_err().error_type(), "EventShape");
    let junk = e.event(&[], recent_window(), 1);
    assert_eq!(run(&f, &junk).await.unwrap().requests, 0);
}

#[tokio::test]
async fn redelivered_batch_is_counted_once_by_a_warm_container() {
    let e = env("duplicate").await;
    let f = e.function(&[]);
    let w = recent_window();
    let batch = e.event(&statuses(&[(200, 150), (403, 50)]), w, 10);
    assert!(!run(&f, &batch).await.unwrap().duplicate);
    let again = run(&f, &batch).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.aws_calls, 0);
    assert_eq!(e.sum("Requests", None, w).await, 200.0);
    assert_eq!(e.alerts().len(), 1);
}

#[tokio::test]
async fn events_too_old_or_from_the_future_are_reported_not_counted() {
    let e = env("out-of-range").await;
    let f = e.function(&[]);
    let w = recent_window();
    let future = w + 4 * 3_600_000;
    let ancient = w - 20 * 24 * 3_600_000;
    let mut evs = events(Format::ConsoleJson, &statuses(&[(403, 50)]), future, 10);
    evs.extend(events(Format::ConsoleJson, &statuses(&[(403, 30)]), ancient, 10));
    evs.extend(events(Format::ConsoleJson, &statuses(&[(200, 20)]), w, 10));
    let ev: IncomingEvent = serde_json::from_str(&subscription_event(&payload(&e.group, &evs))).unwrap();
    let s = run(&f, &ev).await.unwrap();
    assert_eq!((s.requests, s.out_of_range, s.windows), (20, 80, 1), "the summary counts what was written");
    assert_eq!(e.sum("Requests", None, w).await, 20.0);
    assert_eq!(e.sum("Requests", None, window_start(future, 5)).await, 0.0);
    assert!(e.alerts().is_empty(), "80 rejected-by-CloudWatch 4xx raise no alert");
}

/// The rows of docs/robustness.md that the function answers.
#[tokio::test]
async fn robustness_table_function() {
    let e = env("robustness").await;
    let f = e.function(&[]);
    let ev = |s: String| -> IncomingEvent { serde_json::from_str(&s).unwrap() };
    // Bomb: fails the invocation (retry, then the failure queue); nothing counted.
    let bomb = ev(format!(r#"{{"awslogs":{{"data":"{}"}}}}"#, gzip_bomb_data(256)));
    assert_eq!(run(&f, &bomb).await.unwrap_err().error_type(), "Decode.TooLarge");
    // A 300 KB junk line and binary junk: success, counted as UnparsedLines.
    let junk = ev(event_with_message(&e.group, &"x".repeat(300 * 1024)));
    let s = run(&f, &junk).await.unwrap();
    assert_eq!((s.requests, s.unparsed), (0, 1));
    let binary = ev(event_with_message(&e.group, "\u{0}\u{1}\u{fffd}\u{7f}{\"status\u{0}"));
    assert_eq!(run(&f, &binary).await.unwrap().unparsed, 1);
    assert_eq!(e.sum("UnparsedLines", None, recent_window()).await, 2.0);
    // Empty logEvents: success, no AWS call.
    let empty = ev(subscription_event(&payload(&e.group, &[])));
    assert_eq!(run(&f, &empty).await.unwrap().aws_calls, 0);
    // Not JSON inside: Decode.Json.
    let not_json = ev(format!(r#"{{"awslogs":{{"data":"{}"}}}}"#, apigw_4xx::ingest::decode::encode_data(b"<html>")));
    assert_eq!(run(&f, &not_json).await.unwrap_err().error_type(), "Decode.Json");
    let shape = ev(format!(r#"{{"awslogs":{{"data":"{}"}}}}"#, apigw_4xx::ingest::decode::encode_data(b"[1]")));
    assert_eq!(run(&f, &shape).await.unwrap_err().error_type(), "Decode.Shape");
}

#[tokio::test]
async fn alerts_carry_the_batch_evidence() {
    let e = env("evidence").await;
    let f = e.function(&[]);
    let lines: Vec<(i64, String)> = (0..200)
        .map(|i| {
            let (m, st) = if i % 2 == 0 { ("OPTIONS", 403) } else { ("GET", 200) };
            (
                recent_window() + i,
                format!(r#"{{"requestId":"{i}","httpMethod":"{m}","resourcePath":"/v1/orders","status":"{st}"}}"#),
            )
        })
        .collect();
    let ev: IncomingEvent = serde_json::from_str(&subscription_event(&payload(&e.group, &lines))).unwrap();
    run(&f, &ev).await.unwrap();
    let body = &e.alerts()[0].message;
    assert!(body.contains("CORS preflight"), "{body}");
    assert!(body.contains("4xx by method: OPTIONS (100)."), "{body}");
}

#[test]
fn bad_configuration_fails_the_init_with_one_line() {
    for (vars, expect) in [
        (vec![], "ALERT_TOPIC_ARN is required but not set"),
        (vec![("ALERT_TOPIC_ARN", "arn"), ("HIGH_PERCENT", "lots")], "HIGH_PERCENT=\\\"lots\\\""),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bootstrap"))
            .env_clear()
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .envs(vars)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert_eq!(text.trim_end().lines().count(), 1, "{text}");
        assert!(text.contains(expect), "{text}");
    }
}

/// A `Kinesis` batch with one good record and two poison ones: the good one counted, success.
#[tokio::test]
async fn poison_kinesis_records_are_skipped() {
    let e = env("poison").await;
    let f = e.function(&[]);
    let w = recent_window();
    let good = payload(&e.group, &events(Format::ConsoleJson, &statuses(&[(200, 60), (404, 40)]), w, 10));
    let long = payload(&"g".repeat(1025), &events(Format::ConsoleJson, &statuses(&[(200, 5)]), w, 10));
    let mut ev: serde_json::Value = serde_json::from_str(&kinesis_event(&[good, long, "{}".into()])).unwrap();
    ev["Records"][2]["kinesis"]["data"] = apigw_4xx::ingest::decode::encode_data(b"{\"logEvents\": [").into();
    let ev: IncomingEvent = serde_json::from_value(ev).unwrap();
    let s = run(&f, &ev).await.unwrap();
    assert_eq!((s.requests, s.rejected, s.alerts), (100, 2, 1));
    assert_eq!(e.sum("Requests", None, w).await, 100.0);
}

/// The emulator's call counter sees every request (retries included): the summary agrees with it,
/// and a warm container makes at most 12 calls for 120 normal batches over two windows.
#[tokio::test]
async fn a_warm_container_makes_at_most_twelve_calls_for_120_batches() {
    let e = env("warm").await;
    let f = e.function(&[]);
    let w = window_start(recent_window() + 20 * 60_000, 5);
    let t0 = w + 4 * 60_000;
    let mix = statuses(&[(200, 190), (403, 6), (404, 4)]);
    Emulator::shared().reset_calls();
    let mut counted = 0;
    for i in 0..120 {
        let now = t0 + i * 1000;
        counted += run_at(&f, &e.event(&mix, now - 2000, 1), Invocation::at(now)).await.unwrap().aws_calls;
    }
    let seen = Emulator::shared().total_calls();
    assert!(seen <= 12, "{seen} calls: {:?}", Emulator::shared().calls());
    println!("120 batches over two windows: {seen} calls {:?}", Emulator::shared().calls());
    assert_eq!(counted, seen, "aws_calls is the true number of calls");
    assert_eq!(e.sum_over("Requests", None, w, w + 600_000).await, 24_000.0);
    assert_eq!(e.sum_over("ClientErrors", Some(("StatusCode", "403")), w, w + 600_000).await, 720.0);
    assert!(e.alerts().is_empty());
}

/// A marker put applied and then answered 500, or with its connection dropped: the SDK's retry
/// writes the marker twice (harmless), counts stay exact, one alert.
#[tokio::test]
async fn a_marker_put_applied_then_lost_counts_once_and_alerts_once() {
    for fault in ["apply_then_500", "apply_then_drop"] {
        let e = env(&format!("put-{fault}")).await;
        let f = e.function(&[]);
        let w = recent_window();
        Emulator::shared().reset_calls();
        Emulator::shared().inject_matching("PutMetricData", fault, 1, &e.group);
        let first = run(&f, &e.event(&statuses(&[(200, 100), (403, 100)]), w, 10)).await;
        if first.is_err() {
            run(&f, &e.event(&statuses(&[(200, 100), (403, 100)]), w, 10)).await.unwrap();
        }
        assert!(Emulator::shared().call_count("cloudwatch:PutMetricData") >= 2, "{fault}: the fault was met");
        assert_eq!(e.sum("Requests", None, w).await, 200.0, "{fault}");
        assert_eq!(e.sum("ClientErrors", Some(("StatusCode", "403")), w).await, 100.0, "{fault}");
        assert_eq!(e.alerts().len(), 1, "{fault}");
        assert!(e.sum("AlertsPublished", Some(("Severity", "HIGH")), w).await >= 1.0);
    }
}

/// A Publish applied and then answered 500: counts exact, at most two alerts (SNS standard topics
/// do not deduplicate: alerts are at-least-once).
#[tokio::test]
async fn a_publish_applied_then_lost_counts_once_and_alerts_at_most_twice() {
    let e = env("publish-lost").await;
    let f = e.function(&[]);
    let w = recent_window();
    let batch = e.event(&statuses(&[(200, 100), (403, 100)]), w, 10);
    Emulator::shared().reset_calls();
    Emulator::shared().inject_matching("Publish", "apply_then_500", 1, &e.topic.replace(':', "%3A"));
    if run(&f, &batch).await.is_err() {
        run(&f, &batch).await.unwrap();
    }
    assert_eq!(Emulator::shared().call_count("sns:Publish"), 2, "the fault was met, and the call repeated once");
    assert_eq!(e.sum("Requests", None, w).await, 200.0);
    let n = e.alerts().len();
    assert!((1..=2).contains(&n), "{n} alerts");
}

/// An alert storm: 40 HIGH windows in one batch, every call 0.5 s slower, 8 s to answer. One
/// digest, on the first try, every request counted; the windows that began more than 2 h 45 min
/// before are listed in it, not paged.
#[tokio::test]
async fn an_alert_storm_completes_first_try_with_one_digest() {
    let e = env("storm").await;
    let f = e.function(&[]);
    let now = recent_window() + 25 * 60_000;
    let first = now - 5 * 3_600_000;
    let mut evs = Vec::new();
    for i in 0..40 {
        evs.extend(events(Format::ConsoleJson, &statuses(&[(200, 50), (403, 50)]), first + i * 300_000, 10));
    }
    let ev: IncomingEvent = serde_json::from_str(&subscription_event(&payload(&e.group, &evs))).unwrap();
    Emulator::shared().latency_ms(500);
    let started = Instant::now();
    let at = apigw_4xx::function::system_now();
    let young = (0..40).filter(|i| at - (first + i * 300_000) <= PAGE_HORIZON_MS).count();
    let s = run_at(&f, &ev, Invocation::at(at).with_remaining(Duration::from_secs(8))).await;
    let took = started.elapsed();
    let s = s.unwrap();
    assert!(took < Duration::from_secs(8), "{took:?}");
    println!("alert storm: {took:?}, {} AWS calls", s.aws_calls);
    assert_eq!((s.windows, s.alerts, s.too_old), (40, 1, 40 - young));
    let alerts = e.alerts();
    assert!(alerts.len() <= 5 && alerts.len() == 1, "{}", alerts.len());
    assert!(alerts[0].subject.ends_with(&format!("(5 min, {young} windows)")), "{}", alerts[0].subject);
    assert!(alerts[0].message.contains("Not paged, began more than 2 h 45 min"), "{}", alerts[0].message);
    assert_eq!(e.sum_over("Requests", None, first, now).await, 4_000.0);
}

/// Five 60 KB route values: one alert, well under SNS's 256 KiB.
#[tokio::test]
async fn huge_route_values_make_one_alert_under_the_sns_limit() {
    let e = env("huge-routes").await;
    let f = e.function(&[]);
    let w = recent_window();
    let lines = huge_route_lines(w);
    let ev: IncomingEvent = serde_json::from_str(&subscription_event(&payload(&e.group, &lines))).unwrap();
    run(&f, &ev).await.unwrap();
    let alerts = e.alerts();
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].message.len() < 256 * 1024 / 4, "{}", alerts[0].message.len());
}

/// A hung GetMetricData: the SDK's timeouts end the invocation (failed, nothing counted) well
/// within 20 s.
#[tokio::test]
async fn a_hung_read_ends_the_invocation_within_twenty_seconds() {
    let e = env("hang").await;
    let f = e.function(&[]);
    let w = recent_window();
    Emulator::shared().hang("GetMetricData", 60);
    let started = Instant::now();
    let err = run(&f, &e.event(&statuses(&[(200, 100), (403, 100)]), w, 10)).await.unwrap_err();
    let took = started.elapsed();
    Emulator::shared().clear_faults();
    assert!(took < Duration::from_secs(20), "{took:?}");
    println!("hung GetMetricData: the invocation failed after {took:?}");
    assert!(matches!(&err, HandlerError::ReadMetrics(a) if a.kind == AwsErrorKind::Timeout), "{err}");
    assert_eq!(e.sum("Requests", None, w).await, 0.0);
    assert!(e.alerts().is_empty());
}

/// The defaults the template states are the ones the code holds (one home each).
#[test]
fn the_template_states_the_codes_defaults() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bootstrap")).arg("--print-defaults").output().unwrap();
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap();
    let param = |name: &str, field: &str| -> Option<String> {
        let mut lines = template.lines().skip_while(|l| *l != format!("  {name}:")).skip(1);
        lines
            .by_ref()
            .take_while(|l| l.starts_with("    "))
            .find_map(|l| l.trim().strip_prefix(&format!("{field}: ")).map(|v| v.trim_matches(['"', '\'']).to_string()))
    };
    assert_eq!(param("ElevatedPercent", "Default").as_deref(), d["ElevatedPercent"].as_str());
    assert_eq!(param("HighPercent", "Default").as_deref(), d["HighPercent"].as_str());
    assert_eq!(param("MinRequests", "Default"), Some(d["MinRequests"].to_string()));
    assert_eq!(param("WindowMinutes", "Default"), Some(d["WindowMinutes"]["Default"].to_string()));
    assert_eq!(param("WindowMinutes", "MinValue"), Some(d["WindowMinutes"]["MinValue"].to_string()));
    assert_eq!(param("MetricNamespace", "Default").as_deref(), d["MetricNamespace"].as_str());
    // The window range: the template may narrow it, never widen it.
    let max: u32 = param("WindowMinutes", "MaxValue").and_then(|v| v.parse().ok()).unwrap_or(u32::MAX);
    assert!(max <= d["WindowMinutes"]["MaxValue"].as_u64().unwrap() as u32, "template MaxValue {max}");
}
