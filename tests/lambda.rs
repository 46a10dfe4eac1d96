//! The function's handler end to end against the AWS emulator (moto, through the CBOR translator):
//! events in, alerts read back from SNS, the function's EMF output handed to the emulator's
//! collector (CloudWatch's extraction), and window totals read back with GetMetricData.

mod support;

use apigw_4xx::aws::error::AwsErrorKind;
use apigw_4xx::base::time::window_start;
use apigw_4xx::function::{HandlerError, IncomingEvent, Invocation, Summary};
use apigw_4xx::window::ledger::PAGE_HORIZON_MS;
use std::time::{Duration, Instant};
use support::emulator::Emulator;
use support::env::{run, run_at, Deployed, Env};
use support::*;

/// Names for test `name`, holding the emulator for the test (the tests of this binary run one at
/// a time: calls are counted and faults injected per emulator).
async fn env(name: &str) -> Env {
    Env::exclusive(name).await
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

    // A cold container (no memory) takes the alerted window over: it reads the window and its
    // marker back, counts its batch, and neither alerts nor writes a marker again.
    let cold = e.function(&[]);
    let s = run(&cold, &e.event(&statuses(&[(403, 100)]), w + 250_000, 1)).await.unwrap();
    assert_eq!((s.alerts, s.markers), (0, 0));
    assert_eq!(e.alerts().len(), 1);
    assert_eq!(e.sum("Requests", None, w).await, 15_100.0);

    // All 15,000 in one batch: the alert body opens with the reference finding, exactly.
    let one = Env::new("reference-one").await;
    // Lines that carry only what the reference data has (no routes or methods, so no evidence lines).
    let minimal = subscription(&one.group, &events(Format::MinimalJson, &all, w, 1));
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
    let both = subscription(&e.group, &evs);
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
    let ev = incoming(&control_event());
    let s = run(&f, &ev).await.unwrap();
    assert_eq!((s.control_messages, s.requests, s.aws_calls), (1, 0, 0));
    assert!(e.alerts().is_empty());
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
    let quiet = Env::new("recovery-off").await;
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
    let ev = incoming(&kinesis_event(&[p1, p2]));
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
    let ev = subscription(&e.group, &lines);
    run(&f, &ev).await.unwrap();
    let body = &e.alerts()[0].message;
    assert!(body.contains(r#"parse @message /"(?<method>[A-Z]+) (?<resource>\S+)"#), "CLF needs a parse: {body}");

    let e = Env::new("template-query").await;
    let f = e.function(&[("ACCESS_LOG_FORMAT", r#"{"id":"$context.requestId","code":"$context.status"}"#)]);
    let lines: Vec<(i64, String)> = (0..100)
        .map(|i| (recent_window() + i, format!(r#"{{"id":"{i}","code":"{}"}}"#, 200 + 200 * (i % 2))))
        .collect();
    let ev = subscription(&e.group, &lines);
    run(&f, &ev).await.unwrap();
    let body = &e.alerts()[0].message;
    assert!(body.contains("fields @timestamp, code\n| filter code >= 400"), "the template's keys: {body}");
}

#[tokio::test]
async fn malformed_events_fail_with_the_stage() {
    let e = env("malformed").await;
    let f = e.function(&[]);
    let bad = incoming(r#"{"awslogs":{"data":"!!!"}}"#);
    assert_eq!(run(&f, &bad).await.unwrap_err().error_type(), "Decode.Base64");
    let none = incoming(r#"{"hello":1}"#);
    assert_eq!(run(&f, &none).await.unwrap_err().error_type(), "EventShape");
    let sqs = incoming(r#"{"Records":[{"messageId":"m","body":"x"}]}"#);
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
    assert_eq!((again.aws_calls, again.emf_documents), (0, 0), "no call, nothing printed");
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
    let ev = subscription(&e.group, &evs);
    let s = run(&f, &ev).await.unwrap();
    assert_eq!(
        (s.events, s.requests, s.out_of_range, s.windows),
        (100, 20, 80, 1),
        "the summary counts what was written"
    );
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
    let ev = subscription(&e.group, &lines);
    run(&f, &ev).await.unwrap();
    let body = &e.alerts()[0].message;
    assert!(body.contains("CORS preflight"), "{body}");
    assert!(body.contains("4xx by method: OPTIONS (100)."), "{body}");
}

/// A Kinesis batch with one good record and four poison ones (a log group with a line break, one
/// too long, data that is not base64, a payload cut short): the good one counted, success. The same
/// poison in a subscription event fails it (one payload: nothing good to keep).
#[tokio::test]
async fn poison_kinesis_records_are_skipped() {
    let e = env("poison").await;
    let f = e.function(&[]);
    let w = recent_window();
    let few = events(Format::ConsoleJson, &statuses(&[(200, 5)]), w, 10);
    let good = payload(&e.group, &events(Format::ConsoleJson, &statuses(&[(200, 60), (404, 40)]), w, 10));
    let records = [good, payload("/aws/apigateway/bad\ngroup", &few), payload(&"g".repeat(1025), &few)];
    let mut ev: serde_json::Value =
        serde_json::from_str(&kinesis_event(&[&records[..], &["{}".into(), "{}".into()]].concat())).unwrap();
    ev["Records"][3]["kinesis"]["data"] = "not base64!".into();
    ev["Records"][4]["kinesis"]["data"] = apigw_4xx::ingest::decode::encode_data(b"{\"logEvents\": [").into();
    let s = run(&f, &incoming(&ev.to_string())).await.unwrap();
    assert_eq!((s.requests, s.rejected, s.alerts), (100, 4, 1));
    assert_eq!(e.sum("Requests", None, w).await, 100.0);
    let one = subscription("", &few);
    assert_eq!(run(&f, &one).await.unwrap_err().error_type(), "Decode.LogGroup");
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
        let s = run_at(&f, &e.event(&mix, now - 2000, 1), Invocation::at(now)).await.unwrap();
        assert_eq!(s.requests, 200);
        counted += s.aws_calls;
    }
    let seen = Emulator::shared().total_calls();
    assert!(seen <= 12, "{seen} calls: {:?}", Emulator::shared().calls());
    println!("120 batches over two windows: {seen} calls {:?}", Emulator::shared().calls());
    assert_eq!(counted, seen, "aws_calls is the true number of calls");
    assert_eq!(e.sum_over("Requests", None, w, w + 600_000).await, 24_000.0);
    assert_eq!(e.sum_over("ClientErrors", Some(("StatusCode", "403")), w, w + 600_000).await, 720.0);
    assert_eq!(e.sum_over("ClientErrors", None, w, w + 600_000).await, 1_200.0);
    assert!(e.alerts().is_empty());
}

/// Every attempt, until cleared.
const EVERY: u32 = u32::MAX;

/// Runs `f` on `batch` while the next `times` calls of `operation` whose body holds `needle` meet
/// `fault`, the call counts starting from zero; the faults are cleared before it returns.
async fn run_under_fault(
    f: &Deployed,
    batch: &IncomingEvent,
    (operation, fault, times): (&str, &str, u32),
    needle: &str,
) -> Result<Summary, HandlerError> {
    let emulator = Emulator::shared();
    emulator.reset_calls();
    emulator.inject_matching(operation, fault, times, needle);
    let r = run(f, batch).await;
    emulator.clear_faults();
    r
}

/// A marker put applied and then answered 500, or with its connection dropped. Once: the SDK's
/// retry writes the marker twice (harmless). On every attempt: the invocation fails after its alert
/// with nothing counted, and Lambda's retry on the warm container counts the batch without alerting
/// again. Either way counts are exact, one alert, and a cold container that takes the window over
/// reads the applied marker and does not alert either.
#[tokio::test]
async fn a_marker_put_applied_then_lost_counts_once_and_alerts_once() {
    for (fault, times) in [("apply_then_500", 1), ("apply_then_drop", 1), ("apply_then_500", EVERY)] {
        let e = env(&format!("put-{fault}-{times}")).await;
        let f = e.function(&[]);
        let w = recent_window();
        let batch = e.event(&statuses(&[(200, 100), (403, 100)]), w, 10);
        let first = run_under_fault(&f, &batch, ("PutMetricData", fault, times), &e.group).await;
        let emulator = Emulator::shared();
        assert!(emulator.call_count("cloudwatch:PutMetricData") >= 2, "{fault}: the fault was met");
        if times == EVERY {
            assert_eq!(first.unwrap_err().error_type(), "CloudWatch.PutMetricData");
            assert_eq!(e.sum("Requests", None, w).await, 0.0, "nothing counted by the failed invocation");
            run(&f, &batch).await.unwrap();
        } else {
            first.unwrap_or_else(|err| panic!("{fault} once: the SDK's retry answers: {err}"));
        }
        assert_eq!(e.sum("Requests", None, w).await, 200.0, "{fault}");
        assert_eq!(e.sum("ClientErrors", Some(("StatusCode", "403")), w).await, 100.0, "{fault}");
        assert_eq!(e.alerts().len(), 1, "{fault}");
        assert!(e.sum("AlertsPublished", Some(("Severity", "HIGH")), w).await >= 1.0);
        let cold = e.function(&[]);
        run(&cold, &e.event(&statuses(&[(403, 10)]), w + 1000, 1)).await.unwrap();
        assert_eq!(e.alerts().len(), 1, "{fault}: the cold container read the marker");
    }
}

/// A marker put that fails on every attempt without being applied (a put that never happens): the
/// invocation fails after its alert, with nothing counted and no marker. Retried on the warm
/// container, the batch is counted once, with no second alert, and the one put writes the marker
/// (counts are EMF, not puts). Retried on a cold container (a timeout killed the first), which
/// knows nothing and reads no marker: one extra alert (alerts are at-least-once), counted once.
#[tokio::test]
async fn a_marker_put_that_never_happens_fails_the_invocation_and_the_retry_repairs_it() {
    for warm in [true, false] {
        let e = env(if warm { "put-fails-warm" } else { "put-fails-cold" }).await;
        let first = e.function(&[]);
        let w = recent_window();
        let batch = e.event(&statuses(&[(200, 100), (403, 100)]), w, 10);
        let err = run_under_fault(&first, &batch, ("PutMetricData", "500", EVERY), &e.group).await.unwrap_err();
        let emulator = Emulator::shared();
        assert_eq!(err.error_type(), "CloudWatch.PutMetricData");
        assert_eq!(e.alerts().len(), 1, "the alert goes out before its marker");
        assert_eq!(e.sum("Requests", None, w).await, 0.0, "nothing counted");
        assert_eq!(e.sum("AlertsPublished", Some(("Severity", "HIGH")), w).await, 0.0, "no marker");
        let cold = e.function(&[]);
        emulator.reset_calls();
        let s = run(if warm { &first } else { &cold }, &batch).await.unwrap();
        assert_eq!(emulator.call_count("sns:Publish"), if warm { 0 } else { 1 }, "warm: {warm}");
        assert_eq!(e.alerts().len(), if warm { 1 } else { 2 }, "warm: {warm}");
        assert_eq!(emulator.call_count("cloudwatch:PutMetricData"), 1, "one put, the marker");
        assert_eq!(e.sum("AlertsPublished", Some(("Severity", "HIGH")), w).await, 1.0, "the marker repaired");
        assert_eq!(s.requests, 200);
        assert_eq!(e.sum("Requests", None, w).await, 200.0, "counted once");
    }
}

/// A Publish that fails on every attempt (500, not applied): the invocation fails before any marker
/// with nothing counted; the retry counts the batch and alerts once. A Publish applied and then
/// answered 500 once: the SDK's retry publishes again (SNS standard topics do not deduplicate:
/// alerts are at-least-once, and the lost answer costs one repeat), the batch counted once.
#[tokio::test]
async fn a_failed_or_lost_publish_counts_once_and_alerts_at_most_twice() {
    for (fault, times) in [("500", EVERY), ("apply_then_500", 1)] {
        let e = env(&format!("publish-{fault}-{times}")).await;
        let f = e.function(&[]);
        let w = recent_window();
        let batch = e.event(&statuses(&[(200, 100), (403, 100)]), w, 10);
        let first = run_under_fault(&f, &batch, ("Publish", fault, times), &e.topic.replace(':', "%3A")).await;
        let emulator = Emulator::shared();
        if times == EVERY {
            let err = first.unwrap_err();
            assert!(matches!(err, HandlerError::Publish(_)), "{err}");
            assert_eq!(err.error_type(), "SNS.Publish");
            assert_eq!(emulator.call_count("cloudwatch:PutMetricData"), 0, "no marker without the alert");
            assert_eq!(e.sum("Requests", None, w).await, 0.0, "nothing counted before the alert is out");
            emulator.reset_calls();
            run(&f, &batch).await.unwrap();
            assert_eq!(emulator.call_count("sns:Publish"), 1);
            assert_eq!(e.alerts().len(), 1);
        } else {
            first.unwrap_or_else(|err| panic!("{fault} once: the SDK's retry answers: {err}"));
            assert_eq!(emulator.call_count("sns:Publish"), 2, "the fault was met, and the call repeated once");
            assert_eq!(e.alerts().len(), 2, "at-least-once: the lost answer costs one repeat");
        }
        assert_eq!(e.sum("Requests", None, w).await, 200.0, "{fault}");
        assert_eq!(e.sum("AlertsPublished", Some(("Severity", "HIGH")), w).await, 1.0, "{fault}: the marker");
    }
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
    let ev = subscription(&e.group, &evs);
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
    let ev = subscription(&e.group, &lines);
    run(&f, &ev).await.unwrap();
    let alerts = e.alerts();
    assert_eq!(alerts.len(), 1);
    let body = &alerts[0].message;
    assert!(body.len() < 256 * 1024 / 4, "{}", body.len());
    assert!(body.contains("Top 4xx routes: /0rrrr"), "{}", &body[..2000]);
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
    // CloudFormation refuses at deploy what the function would refuse at init.
    assert_eq!(param("MetricNamespace", "AllowedPattern").as_deref(), d["MetricNamespacePattern"].as_str());
    // The window range: the template may narrow it, never widen it.
    let max: u32 = param("WindowMinutes", "MaxValue").and_then(|v| v.parse().ok()).unwrap_or(u32::MAX);
    assert!(max <= d["WindowMinutes"]["MaxValue"].as_u64().unwrap() as u32, "template MaxValue {max}");

    // Every metric name, dimension, namespace and period the template states (alarms and the
    // dashboard, written by hand) is the code's. AWS's own metrics (namespaces AWS/…) are AWS's.
    let names: Vec<&str> = d["Metrics"].as_object().unwrap().values().map(|v| v.as_str().unwrap()).collect();
    let dims: Vec<&str> = d["Dimensions"].as_object().unwrap().values().map(|v| v.as_str().unwrap()).collect();
    let period = d["PeriodSeconds"].to_string();
    let after = |line: &str, key: &str| -> Vec<String> {
        line.match_indices(key)
            .map(|(i, _)| {
                line[i + key.len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '/').collect()
            })
            .collect()
    };
    let mut checked = (0, 0, 0, 0);
    let mut namespace: Option<String> = None;
    for line in template.lines().map(str::trim) {
        if let Some(ns) = line.strip_prefix("Namespace: ") {
            assert!(ns == "!Ref MetricNamespace" || ns.starts_with("AWS/"), "{line}");
            namespace = Some(ns.to_string());
            checked.0 += 1;
        }
        if let Some(metric) = line.strip_prefix("MetricName: ") {
            let aws = namespace.as_deref().is_some_and(|n| n.starts_with("AWS/"));
            assert!(aws || names.contains(&metric), "{line}: not a metric of the contract");
            checked.1 += usize::from(!aws);
        }
        if line.contains("MetricNamespace}") {
            // SEARCH('{${MetricNamespace},LogGroup,StatusCode} MetricName="ClientErrors"', 'Sum', 300)
            for m in after(line, "MetricName=\\\"").into_iter().chain(after(line, "\"${MetricNamespace}\", \"")) {
                assert!(names.contains(&m.as_str()), "{m}: not a metric of the contract ({line})");
                checked.1 += 1;
            }
            for (i, _) in line.match_indices("{${MetricNamespace},") {
                let schema = line[i..].split_once(',').and_then(|(_, r)| r.split_once('}')).map_or("", |(d, _)| d);
                for dim in schema.split(',') {
                    assert!(dims.contains(&dim), "{dim}: not a dimension of the contract ({line})");
                    checked.2 += 1;
                }
            }
            for p in after(line, "'Sum', ") {
                assert_eq!(p, period, "{line}");
                checked.3 += 1;
            }
        }
        for p in after(line, "\"period\": ").into_iter().chain(line.strip_prefix("Period: ").map(String::from)) {
            assert_eq!(p, period, "{line}");
            checked.3 += 1;
        }
    }
    assert!(checked.0 >= 4 && checked.1 >= 9 && checked.2 >= 9 && checked.3 >= 16, "checked {checked:?}");
    for m in &names {
        assert!(template.contains(m), "the dashboard shows {m}");
    }
}
