//! Faults injected with aws-smithy-mocks at the SDK clients (throttling, 5xx, SNS failure, a put
//! that never happens). Each fails the invocation cleanly, before any count is printed; a retry
//! yields the right totals with at most one extra alert (alerts at-least-once, counts exactly-once
//! per successful invocation). Counts are EMF lines: the tests check what was printed.

mod support;

use apigw_4xx::aws::client::CallCounter;
use apigw_4xx::aws::error::AwsErrorKind;
use apigw_4xx::function::config::Config;
use apigw_4xx::function::emf::CapturedEmf;
use apigw_4xx::function::stores::{CloudWatchStore, SnsAlerts};
use apigw_4xx::function::{Function, HandlerError, IncomingEvent};
use aws_sdk_cloudwatch::error::ErrorMetadata;
use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataError, GetMetricDataOutput};
use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataOutput;
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use std::sync::{Arc, Mutex};
use support::*;

fn config() -> Config {
    Config::from_lookup(|k| (k == "ALERT_TOPIC_ARN").then(|| "arn:aws:sns:us-east-1:123456789012:alerts".to_string()))
        .unwrap()
}

fn high_batch() -> IncomingEvent {
    let evs = events(Format::ConsoleJson, &statuses(&[(200, 100), (403, 100)]), recent_window(), 10);
    serde_json::from_str(&subscription_event(&payload("/aws/apigateway/faults", &evs))).unwrap()
}

fn get_ok() -> Rule {
    mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_output(|| GetMetricDataOutput::builder().build())
}

/// Puts that succeed and record how many datums (and markers) each carried.
fn put_ok(log: Arc<Mutex<Vec<(usize, usize)>>>) -> Rule {
    mock!(aws_sdk_cloudwatch::Client::put_metric_data)
        .match_requests(move |r| {
            let data = r.metric_data();
            let markers = data.iter().filter(|d| d.metric_name() == Some("AlertsPublished")).count();
            log.lock().unwrap().push((data.len(), markers));
            true
        })
        .then_output(|| PutMetricDataOutput::builder().build())
}

fn put_fails() -> Rule {
    mock!(aws_sdk_cloudwatch::Client::put_metric_data).sequence().http_status(500, None).repeatedly().build()
}

fn publish_ok() -> Rule {
    mock!(aws_sdk_sns::Client::publish).then_output(|| PublishOutput::builder().message_id("m-1").build())
}

fn function(cw: &[&Rule], sns: &[&Rule]) -> Function<CloudWatchStore, SnsAlerts, CapturedEmf> {
    let cw = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, cw);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, sns);
    let c = config();
    Function::new(
        c.clone(),
        CloudWatchStore::over(cw, &c.namespace, CallCounter::default()),
        SnsAlerts::over(sns, &c.alert_topic_arn, CallCounter::default()),
        CapturedEmf::default(),
    )
}

#[tokio::test]
async fn throttled_read_fails_before_anything_is_sent() {
    let get = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_error(|| {
        GetMetricDataError::generic(ErrorMetadata::builder().code("Throttling").message("Rate exceeded").build())
    });
    let puts = Arc::new(Mutex::new(Vec::new()));
    let (put, publish) = (put_ok(puts.clone()), publish_ok());
    let f = function(&[&get, &put], &[&publish]);
    let err = f.handle(&high_batch()).await.unwrap_err();
    assert!(matches!(&err, HandlerError::ReadMetrics(e) if e.kind == AwsErrorKind::Throttling), "{err}");
    assert_eq!(err.error_type(), "CloudWatch.GetMetricData");
    assert!(f.emf().is_empty(), "nothing counted");
    assert!(err.to_string().contains("Throttling"), "{err}");
    assert_eq!((publish.num_calls(), put.num_calls()), (0, 0));
}

#[tokio::test]
async fn server_error_on_read_fails_cleanly() {
    let get = mock!(aws_sdk_cloudwatch::Client::get_metric_data).sequence().http_status(503, None).repeatedly().build();
    let publish = publish_ok();
    let f = function(&[&get], &[&publish]);
    assert!(matches!(f.handle(&high_batch()).await.unwrap_err(), HandlerError::ReadMetrics(_)));
    assert_eq!(publish.num_calls(), 0);
}

#[tokio::test]
async fn failed_publish_counts_nothing_and_the_retry_delivers() {
    let publish_fails = mock!(aws_sdk_sns::Client::publish).sequence().http_status(500, None).repeatedly().build();
    let puts = Arc::new(Mutex::new(Vec::new()));
    let (get, put) = (get_ok(), put_ok(puts.clone()));
    let f = function(&[&get, &put], &[&publish_fails]);
    let err = f.handle(&high_batch()).await.unwrap_err();
    assert_eq!(err.error_type(), "SNS.Publish");
    assert_eq!(put.num_calls(), 0, "no marker when the alert did not go out");
    assert!(f.emf().is_empty(), "nothing counted when the alert did not go out");

    let publish = publish_ok();
    let retry = function(&[&get, &put], &[&publish]);
    retry.handle(&high_batch()).await.unwrap();
    assert_eq!((publish.num_calls(), put.num_calls()), (1, 1));
    assert!(!retry.emf().is_empty(), "counted by the successful retry");
    assert_eq!(puts.lock().unwrap()[0].1, 1, "the put carries the alert marker");
}

#[tokio::test]
async fn failed_put_retried_warm_alerts_once_and_counts_once() {
    let (get, publish, bad_put) = (get_ok(), publish_ok(), put_fails());
    let cw_bad = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&get, &bad_put]);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&publish]);
    let c = config();
    let f = Function::new(
        c.clone(),
        CloudWatchStore::over(cw_bad, &c.namespace, CallCounter::default()),
        SnsAlerts::over(sns.clone(), &c.alert_topic_arn, CallCounter::default()),
        CapturedEmf::default(),
    );
    let err = f.handle(&high_batch()).await.unwrap_err();
    assert_eq!(err.error_type(), "CloudWatch.PutMetricData");
    assert_eq!(publish.num_calls(), 1);
    assert!(f.emf().is_empty(), "nothing counted");

    // The same warm container retries; this time the put succeeds. No second alert, and the
    // marker and the writer mark are written with the counts.
    let puts = Arc::new(Mutex::new(Vec::new()));
    let good_put = put_ok(puts.clone());
    let cw_good = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&get, &good_put]);
    let warm = f.with_metrics(CloudWatchStore::over(cw_good, &c.namespace, CallCounter::default()));
    warm.handle(&high_batch()).await.unwrap();
    assert_eq!(publish.num_calls(), 1, "warm retry does not alert again");
    assert_eq!(good_put.num_calls(), 1);
    let (datums, markers) = puts.lock().unwrap()[0];
    assert_eq!((datums, markers), (2, 1), "the marker repaired on the retry, the writer mark; counts are not puts");
    let counted: u64 = warm
        .emf()
        .take()
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["Requests"].as_u64())
        .sum();
    assert_eq!(counted, 200);
}

#[tokio::test]
async fn timeout_before_the_put_then_cold_retry_sends_at_most_one_extra_alert() {
    // A timeout kills the container after the publish and before the put: the retry lands on a
    // cold container that knows nothing, reads no marker, and alerts a second time.
    let (get, publish) = (get_ok(), publish_ok());
    let never = put_fails();
    let first = function(&[&get, &never], &[&publish]);
    assert!(first.handle(&high_batch()).await.is_err());
    let puts = Arc::new(Mutex::new(Vec::new()));
    let put = put_ok(puts.clone());
    let cold = function(&[&get, &put], &[&publish]);
    let s = cold.handle(&high_batch()).await.unwrap();
    assert_eq!(publish.num_calls(), 2, "at-least-once: one extra alert at most");
    assert_eq!((s.requests, put.num_calls()), (200, 1), "counted exactly once");
    assert!(first.emf().is_empty());
}
