//! The emulator harness itself (tests/emulator/serve.py, tests/support/emulator.rs): each feature
//! other tests rely on, shown through the real SDK. Its own binary, so its faults meet no other test.
//! Every test holds `Emulator::exclusive()`: faults and call counts are per emulator.

mod support;

use aws_sdk_cloudwatch::error::SdkError;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StandardUnit};
use aws_sdk_cloudwatch::Client;
use serde_json::json;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::emulator::Emulator;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A minute ten minutes ago: inside CloudWatch's accepted range, and whole.
fn minute() -> i64 {
    (now_ms() - 10 * 60_000) / 60_000 * 60_000
}

async fn cloudwatch() -> Client {
    Client::new(&Emulator::shared().sdk_config().await)
}

fn dims(pairs: &[(&str, &str)]) -> Vec<Dimension> {
    pairs.iter().map(|(n, v)| Dimension::builder().name(*n).value(*v).build()).collect()
}

async fn put(cw: &Client, namespace: &str, group: &str, value: f64, at: i64) -> Result<(), String> {
    let datum = MetricDatum::builder()
        .metric_name("Requests")
        .set_dimensions(Some(dims(&[("LogGroup", group)])))
        .value(value)
        .unit(StandardUnit::Count)
        .timestamp(DateTime::from_millis(at))
        .build();
    cw.put_metric_data().namespace(namespace).metric_data(datum).send().await.map(|_| ()).map_err(|e| format!("{e:?}"))
}

/// Sum of `name` with `dimensions` over the minute at `at`, read with GetMetricData.
async fn sum(cw: &Client, namespace: &str, name: &str, dimensions: &[(&str, &str)], at: i64) -> f64 {
    let metric =
        Metric::builder().namespace(namespace).metric_name(name).set_dimensions(Some(dims(dimensions))).build();
    let q = MetricDataQuery::builder()
        .id("q")
        .metric_stat(MetricStat::builder().metric(metric).period(60).stat("Sum").build())
        .build();
    let out = cw
        .get_metric_data()
        .metric_data_queries(q)
        .start_time(DateTime::from_millis(at))
        .end_time(DateTime::from_millis(at + 60_000))
        .send()
        .await
        .unwrap();
    out.metric_data_results().iter().flat_map(|r| r.values().to_vec()).sum()
}

#[tokio::test]
async fn a_gzipped_put_is_translated_and_readable() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let cw = cloudwatch().await;
    let at = minute();
    // 1,000 datums with 300-character dimension values: about 330 KB, far over the SDK's 10 KB
    // compression threshold, so the body arrives gzip'd.
    let data: Vec<MetricDatum> = (0..1000)
        .map(|i| {
            let key = format!("{i:04}-{}", "k".repeat(295));
            MetricDatum::builder()
                .metric_name("Big")
                .set_dimensions(Some(dims(&[("LogGroup", "/harness/gzip"), ("Key", &key)])))
                .value(f64::from(i))
                .timestamp(DateTime::from_millis(at))
                .build()
        })
        .collect();
    e.reset_calls();
    cw.put_metric_data().namespace("Harness/gzip").set_metric_data(Some(data)).send().await.unwrap();
    assert_eq!(e.call_count("cloudwatch:PutMetricData"), 1);
    for i in [0u32, 517, 999] {
        let key = format!("{i:04}-{}", "k".repeat(295));
        let got = sum(&cw, "Harness/gzip", "Big", &[("LogGroup", "/harness/gzip"), ("Key", &key)], at).await;
        assert_eq!(got, f64::from(i), "datum {i}");
    }
}

/// The double count issue 9 describes: a put applied and answered 500 is retried by the SDK
/// inside a successful call and stored twice. The window ledger exists because of this.
#[tokio::test]
async fn put_applied_then_answered_500_is_retried_and_stored_twice() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let cw = cloudwatch().await;
    let at = minute();
    e.reset_calls();
    e.inject("PutMetricData", "apply_then_500", 1);
    put(&cw, "Harness/500", "/harness/500", 150.0, at).await.expect("the SDK's retry succeeds");
    assert_eq!(e.call_count("cloudwatch:PutMetricData"), 2, "{:?}", e.calls());
    assert_eq!(sum(&cw, "Harness/500", "Requests", &[("LogGroup", "/harness/500")], at).await, 300.0);
}

#[tokio::test]
async fn put_applied_then_dropped_is_retried_and_stored_twice() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let cw = cloudwatch().await;
    let at = minute();
    e.reset_calls();
    e.inject("PutMetricData", "apply_then_drop", 1);
    put(&cw, "Harness/drop", "/harness/drop", 150.0, at).await.expect("the SDK's retry succeeds");
    assert_eq!(e.call_count("cloudwatch:PutMetricData"), 2, "{:?}", e.calls());
    assert_eq!(sum(&cw, "Harness/drop", "Requests", &[("LogGroup", "/harness/drop")], at).await, 300.0);
}

/// Faults that are not applied: the retry stores the put once.
#[tokio::test]
async fn throttled_and_500_puts_are_not_applied() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let cw = cloudwatch().await;
    let at = minute();
    for fault in ["throttle", "500"] {
        // Names unique in the binary: moto's GetMetricData ignores the namespace of queries with dimensions.
        let group = format!("/harness/unapplied-{fault}");
        e.reset_calls();
        e.inject("PutMetricData", fault, 1);
        put(&cw, "Harness/unapplied", &group, 150.0, at).await.expect("the SDK's retry succeeds");
        assert_eq!(e.call_count("cloudwatch:PutMetricData"), 2, "{fault}: {:?}", e.calls());
        assert_eq!(sum(&cw, "Harness/unapplied", "Requests", &[("LogGroup", &group)], at).await, 150.0, "{fault}");
    }
    // Unretried, the error reaches the caller with its code.
    e.inject("PutMetricData", "throttle", 3);
    let err = put(&cw, "Harness/unapplied", "/harness/unapplied-throttle-3", 1.0, at).await.unwrap_err();
    assert!(err.contains("Throttling"), "{err}");
}

#[tokio::test]
async fn a_hung_call_ends_at_the_sdk_timeout() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let sdk = e.sdk_config().await;
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_millis(500))
        .operation_timeout(Duration::from_secs(2))
        .build();
    let cw = Client::from_conf(aws_sdk_cloudwatch::config::Builder::from(&sdk).timeout_config(timeouts).build());
    e.reset_calls();
    e.hang("GetMetricData", 30);
    let started = Instant::now();
    let q = MetricDataQuery::builder().id("q").expression("SUM(x)").build();
    let result = cw
        .get_metric_data()
        .metric_data_queries(q)
        .start_time(DateTime::from_millis(minute()))
        .end_time(DateTime::from_millis(minute() + 60_000))
        .send()
        .await;
    let took = started.elapsed();
    assert!(matches!(result, Err(SdkError::TimeoutError(_))), "{result:?}");
    assert!(took >= Duration::from_millis(500) && took < Duration::from_secs(5), "{took:?}");
    assert!(e.call_count("cloudwatch:GetMetricData") >= 1);
}

#[tokio::test]
async fn latency_delays_every_call() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let cw = cloudwatch().await;
    e.latency_ms(800);
    let started = Instant::now();
    put(&cw, "Harness/latency", "/harness/latency", 1.0, minute()).await.unwrap();
    put(&cw, "Harness/latency", "/harness/latency", 1.0, minute()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1600), "{:?}", started.elapsed());
    e.clear_faults();
    let started = Instant::now();
    put(&cw, "Harness/latency", "/harness/latency", 1.0, minute()).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(800), "{:?}", started.elapsed());
}

/// Faults with a needle hit only calls about that name; calls are counted per service and operation.
#[tokio::test]
async fn faults_match_their_names_and_calls_are_named_per_service() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let sdk = e.sdk_config().await;
    let cw = Client::new(&sdk);
    let sns = aws_sdk_sns::Client::new(&sdk);
    let at = minute();
    e.reset_calls();
    e.inject_matching("PutMetricData", "apply_then_500", 5, "/harness/matched");
    put(&cw, "Harness/match", "/harness/other", 10.0, at).await.unwrap();
    assert_eq!(sum(&cw, "Harness/match", "Requests", &[("LogGroup", "/harness/other")], at).await, 10.0);
    let topic = sns.create_topic().name("harness-calls").send().await.unwrap().topic_arn.unwrap();
    e.inject_matching("Publish", "apply_then_500", 1, &topic);
    sns.publish().topic_arn(&topic).message("once").send().await.unwrap();
    assert_eq!(e.sns_messages(&topic).len(), 2, "applied, answered 500, retried: delivered twice");
    let calls = e.calls();
    assert_eq!(calls.get("cloudwatch:PutMetricData"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("cloudwatch:GetMetricData"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("sns:CreateTopic"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("sns:Publish"), Some(&2), "{calls:?}");
    e.reset_calls();
    assert!(e.calls().is_empty());
}

fn emf_doc(group: &str, at: i64, requests: u64, errors: u64) -> String {
    json!({
        "_aws": {"Timestamp": at, "CloudWatchMetrics": [
            {"Namespace": "Harness/emf", "Dimensions": [["LogGroup"]],
             "Metrics": [{"Name": "Requests", "Unit": "Count"}, {"Name": "ClientErrors", "Unit": "Count"}]},
            {"Namespace": "Harness/emf", "Dimensions": [["LogGroup", "StatusCode"]],
             "Metrics": [{"Name": "ClientErrors", "Unit": "Count"}]}
        ]},
        "LogGroup": group, "StatusCode": "403", "Requests": requests, "ClientErrors": errors
    })
    .to_string()
}

#[tokio::test]
async fn emf_lines_become_metrics_after_the_delay_or_a_flush() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let cw = cloudwatch().await;
    let at = minute();
    let group = "/harness/emf";
    // Lambda's JSON log format: the function's own lines around the EMF documents are ignored.
    let log = format!(
        "{{\"level\":\"INFO\",\"message\":\"batch\"}}\nplain text\n{}\n{}\n",
        emf_doc(group, at, 100, 30),
        emf_doc(group, at, 50, 5)
    );
    e.emf_delay(60.0);
    assert_eq!(e.emf(&log), support::emulator::EmfReport { documents: 2, metrics: 6 });
    assert_eq!(sum(&cw, "Harness/emf", "Requests", &[("LogGroup", group)], at).await, 0.0, "still extracting");
    assert_eq!(e.emf_flush().documents, 2);
    assert_eq!(sum(&cw, "Harness/emf", "Requests", &[("LogGroup", group)], at).await, 150.0);
    assert_eq!(sum(&cw, "Harness/emf", "ClientErrors", &[("LogGroup", group)], at).await, 35.0);
    let by_code = sum(&cw, "Harness/emf", "ClientErrors", &[("LogGroup", group), ("StatusCode", "403")], at).await;
    assert_eq!(by_code, 35.0);

    // With no delay, written before the answer; the collector's own writes are not calls.
    e.emf_delay(0.0);
    e.reset_calls();
    let short = "/harness/emf-now";
    e.emf(&emf_doc(short, at, 7, 1));
    assert_eq!(sum(&cw, "Harness/emf", "Requests", &[("LogGroup", short)], at).await, 7.0);
    assert_eq!(e.call_count("cloudwatch:PutMetricData"), 0);

    // A delay passes by itself.
    e.emf_delay(0.3);
    let late = "/harness/emf-late";
    e.emf(&emf_doc(late, at, 9, 0));
    let started = Instant::now();
    while sum(&cw, "Harness/emf", "Requests", &[("LogGroup", late)], at).await == 0.0 {
        assert!(started.elapsed() < Duration::from_secs(10), "never written");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(200), "written before its delay");
    assert_eq!(sum(&cw, "Harness/emf", "Requests", &[("LogGroup", late)], at).await, 9.0);
}

#[tokio::test]
async fn invalid_emf_documents_are_rejected_with_the_reason() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let cw = cloudwatch().await;
    let at = minute();
    let group = "/harness/emf-bad";
    let good: serde_json::Value = serde_json::from_str(&emf_doc(group, at, 10, 1)).unwrap();
    let variant = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut d = good.clone();
        edit(&mut d);
        d.to_string()
    };
    let many = |n: usize| (0..n).map(|i| json!({"Name": format!("m{i}")})).collect::<Vec<_>>();
    let cases: Vec<(String, &str)> = vec![
        (variant(&|d| drop(d["_aws"].as_object_mut().unwrap().remove("Timestamp"))), "Timestamp"),
        (variant(&|d| d["_aws"]["Timestamp"] = json!(now_ms() - 15 * 86_400_000)), "outside"),
        (variant(&|d| d["_aws"]["Timestamp"] = json!("now")), "Timestamp"),
        (variant(&|d| d["_aws"]["CloudWatchMetrics"] = json!({})), "array"),
        (
            variant(&|d| drop(d["_aws"]["CloudWatchMetrics"][0].as_object_mut().unwrap().remove("Namespace"))),
            "Namespace",
        ),
        (variant(&|d| d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!(["LogGroup"])), "Dimensions[0]"),
        (variant(&|d| d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([["Missing"]])), "no top-level member"),
        (
            variant(&|d| {
                d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] =
                    json!([(0..31).map(|i| format!("d{i}")).collect::<Vec<_>>()])
            }),
            "at most 30",
        ),
        (variant(&|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"] = json!(many(101))), "at most 100"),
        (variant(&|d| d["Requests"] = json!((0..101).collect::<Vec<_>>())), "values"),
        (variant(&|d| d["Requests"] = json!("ten")), "number"),
        (variant(&|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Requests")), "unit"),
        (variant(&|d| d["LogGroup"] = json!("/a\nHIGH")), "printable ASCII"),
        (variant(&|d| d["LogGroup"] = json!("x".repeat(1025))), "1024"),
        (variant(&|d| d["LogGroup"] = json!(7)), "string"),
    ];
    for (doc, reason) in &cases {
        let rejected = e.try_emf(doc).expect_err(doc);
        assert_eq!(rejected.accepted.documents, 0, "{doc}");
        assert_eq!(rejected.reasons.len(), 1, "{doc}");
        assert!(rejected.reasons[0].contains(reason), "{:?} should say {reason:?}", rejected.reasons);
    }
    assert_eq!(sum(&cw, "Harness/emf", "Requests", &[("LogGroup", group)], at).await, 0.0, "nothing written");
    // In one text, the valid documents are still extracted, as CloudWatch treats each event alone.
    let mixed = format!("{}\n{}\n", cases[0].0, emf_doc(group, at, 10, 1));
    let rejected = e.try_emf(&mixed).unwrap_err();
    assert_eq!((rejected.accepted.documents, rejected.reasons.len()), (1, 1));
    assert!(rejected.reasons[0].starts_with("line 1: "), "{:?}", rejected.reasons);
    assert_eq!(sum(&cw, "Harness/emf", "Requests", &[("LogGroup", group)], at).await, 10.0);
}
