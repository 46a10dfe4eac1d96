//! The Lambda function: API Gateway access logs in (CloudWatch Logs subscription or Kinesis), window
//! metrics and SNS alerts out. Configuration is read and validated once, at init.

use apigw_4xx::aws::{CloudWatchStore, SnsAlerts};
use apigw_4xx::config::Config;
use apigw_4xx::handler::{Function, HandlerError, IncomingEvent};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use std::time::Instant;

/// A failed invocation, reported with the stage as its error type.
#[derive(Debug)]
struct Failure(HandlerError);

impl From<Failure> for Diagnostic {
    fn from(f: Failure) -> Diagnostic {
        Diagnostic { error_type: f.0.error_type().to_string(), error_message: f.0.to_string() }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let init = Instant::now();
    let config = match Config::from_lookup(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            // One line, then a failed init: Lambda reports it and retries the cold start.
            tracing::error!(error = %e, "invalid configuration");
            std::process::exit(1);
        }
    };
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let metrics = CloudWatchStore::new(aws_sdk_cloudwatch::Client::new(&sdk), config.namespace.clone());
    let alerts = SnsAlerts::new(aws_sdk_sns::Client::new(&sdk), config.alert_topic_arn.clone());
    let function = Function::new(config, metrics, alerts);
    tracing::info!(init_ms = init.elapsed().as_secs_f64() * 1e3, "initialized");
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<IncomingEvent>| async move {
        let started = Instant::now();
        let result = function.handle(&event.payload).await;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        match &result {
            Ok(s) => tracing::info!(
                events = s.events,
                requests = s.requests,
                client_errors = s.client_errors,
                unparsed = s.unparsed,
                untimed = s.untimed,
                out_of_range = s.out_of_range,
                duplicate = s.duplicate,
                windows = s.windows,
                alerts = s.alerts,
                control_messages = s.control_messages,
                aws_calls = s.aws_calls,
                ms,
                "batch"
            ),
            Err(e) => tracing::error!(error = %e, error_type = e.error_type(), ms, "batch failed"),
        }
        result.map_err(Failure)
    }))
    .await
}
