//! Read faults injected with aws-smithy-mocks at the SDK clients: a GetMetricData throttled or
//! answered 5xx fails the invocation with its error kind, before anything is published, put or
//! counted (the checks see the error the SDK returned and every call the function made). Put and
//! publish faults, applied or not, run against the emulator in tests/lambda.rs.

mod support;

use apigw_4xx::aws::client::CallCounter;
use apigw_4xx::aws::error::AwsErrorKind;
use apigw_4xx::function::emf::CapturedEmf;
use apigw_4xx::function::stores::{CloudWatchStore, SnsAlerts};
use apigw_4xx::function::{Function, HandlerError, IncomingEvent};
use aws_sdk_cloudwatch::error::ErrorMetadata;
use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataError;
use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataOutput;
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use support::*;

fn high_batch() -> IncomingEvent {
    subscription(
        "/aws/apigateway/faults",
        &events(Format::ConsoleJson, &statuses(&[(200, 100), (403, 100)]), recent_window(), 10),
    )
}

fn put_ok() -> Rule {
    mock!(aws_sdk_cloudwatch::Client::put_metric_data).then_output(|| PutMetricDataOutput::builder().build())
}

fn publish_ok() -> Rule {
    mock!(aws_sdk_sns::Client::publish).then_output(|| PublishOutput::builder().message_id("m-1").build())
}

fn function(cw: &[&Rule], sns: &[&Rule]) -> Function<CloudWatchStore, SnsAlerts, CapturedEmf> {
    let cw = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, cw);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, sns);
    let c = config(&[]);
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
    let (put, publish) = (put_ok(), publish_ok());
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
