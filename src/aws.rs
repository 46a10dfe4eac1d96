//! The AWS edges, behind two small traits: a metrics store (CloudWatch: reads, and alert markers)
//! and an alert sink (SNS). Everything AWS-typed lives here; the rest of the crate speaks [`Query`],
//! [`Datum`] and [`AlertMessage`]. Counts do not go through here: they are EMF lines
//! ([`crate::emf`]).
//!
//! Every client gets the same timeouts ([`timeouts`]) and counts its attempts (retries, pages and
//! chunks included), so the summary's `aws_calls` is the number of requests AWS saw.

use crate::alert::AlertMessage;
use crate::metrics::{Datum, Query, Results, STORAGE_RESOLUTION_SECONDS};
use crate::time::EpochMillis;
use aws_sdk_cloudwatch::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_cloudwatch::config::timeout::TimeoutConfig;
use aws_sdk_cloudwatch::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_cloudwatch::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StandardUnit};
use aws_sdk_sns::types::MessageAttributeValue;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub mod memory;

/// PutMetricData takes at most 1,000 datums per call.
const MAX_DATUMS_PER_PUT: usize = 1000;
/// GetMetricData takes at most 500 queries per call.
pub const MAX_QUERIES_PER_GET: usize = 500;
/// One attempt of any call: CloudWatch and SNS answer in well under a second; three seconds leave
/// room for a slow answer and still allow a retry inside the operation timeout.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// One call, retries included: a hung call ends the invocation's wait after this (the invocation
/// then fails cleanly, long before Lambda's own timeout, with nothing counted).
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// The SDK timeouts every client of the function uses.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// What kind of failure an AWS call had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// The service throttled the call (not applied).
    Throttling,
    /// No answer in time (it may have been applied).
    Timeout,
    /// The connection failed or the answer could not be read (it may have been applied).
    Connection,
    /// The service answered with an error (a 5xx may have been applied).
    Service,
    /// The request could not be built or was refused as invalid.
    Request,
    /// The invocation's deadline left no time for the call.
    Deadline,
}

/// An AWS call failed: its kind, and the SDK's full error chain.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct AwsError {
    /// What went wrong.
    pub kind: AwsErrorKind,
    /// The SDK's error chain (service code and message included).
    pub message: String,
}

impl AwsError {
    /// An error of `kind`.
    pub fn new(kind: AwsErrorKind, message: impl Into<String>) -> AwsError {
        AwsError { kind, message: message.into() }
    }
}

/// Error codes AWS services use for throttling.
const THROTTLING_CODES: [&str; 7] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "LimitExceededException",
];

/// Classifies an SDK error.
pub fn classify<E, R>(e: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let kind = match &e {
        SdkError::TimeoutError(_) => AwsErrorKind::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => AwsErrorKind::Timeout,
        SdkError::DispatchFailure(d) if d.is_user() => AwsErrorKind::Request,
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => AwsErrorKind::Connection,
        SdkError::ServiceError(s) if s.err().code().is_some_and(|c| THROTTLING_CODES.contains(&c)) => {
            AwsErrorKind::Throttling
        }
        SdkError::ServiceError(_) => AwsErrorKind::Service,
        _ => AwsErrorKind::Request,
    };
    AwsError { kind, message: DisplayErrorContext(e).to_string() }
}

/// Counts the requests a client sends (every attempt: retries, pages and chunks included).
#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<AtomicU64>);

impl CallCounter {
    /// Requests sent so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Per-minute sums of metrics, and the alert markers.
pub trait MetricsStore {
    /// Reads each query's per-minute sums in `[start, end)`: `id` → `(minute, sum)`.
    fn read(
        &self,
        queries: &[Query],
        start: EpochMillis,
        end: EpochMillis,
    ) -> impl Future<Output = Result<Results, AwsError>> + Send;
    /// Writes datums (alert markers: a duplicate is harmless, so retries are fine).
    fn put(&self, datums: &[Datum]) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Requests sent so far.
    fn calls(&self) -> u64;
}

/// Where alerts go.
pub trait AlertSink {
    /// Publishes one message.
    fn publish(&self, message: &AlertMessage) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Requests sent so far.
    fn calls(&self) -> u64;
}

/// CloudWatch metrics in one namespace.
#[derive(Debug, Clone)]
pub struct CloudWatchStore {
    client: aws_sdk_cloudwatch::Client,
    namespace: String,
    calls: CallCounter,
}

impl CloudWatchStore {
    /// A store on `namespace`, over `client` with the function's timeouts and a call counter added.
    pub fn new(client: aws_sdk_cloudwatch::Client, namespace: impl Into<String>) -> Self {
        let calls = CallCounter::default();
        let mut config = client.config().to_builder().interceptor(calls.clone());
        // Timeouts need a sleep implementation (SDK configurations from aws-config have one).
        if client.config().sleep_impl().is_some() {
            config = config.timeout_config(timeouts());
        }
        CloudWatchStore {
            client: aws_sdk_cloudwatch::Client::from_conf(config.build()),
            namespace: namespace.into(),
            calls,
        }
    }

    fn dimensions(dims: &[(&'static str, String)]) -> Vec<Dimension> {
        dims.iter().map(|(n, v)| Dimension::builder().name(*n).value(v).build()).collect()
    }
}

impl MetricsStore for CloudWatchStore {
    async fn read(&self, queries: &[Query], start: EpochMillis, end: EpochMillis) -> Result<Results, AwsError> {
        let mut out = Results::new();
        for chunk in queries.chunks(MAX_QUERIES_PER_GET) {
            let q: Vec<MetricDataQuery> = chunk
                .iter()
                .map(|q| {
                    let metric = Metric::builder()
                        .namespace(&self.namespace)
                        .metric_name(q.name)
                        .set_dimensions(Some(Self::dimensions(&q.dimensions)))
                        .build();
                    let stat = MetricStat::builder().metric(metric).period(60).stat("Sum").build();
                    MetricDataQuery::builder().id(&q.id).metric_stat(stat).return_data(true).build()
                })
                .collect();
            let mut pages = self
                .client
                .get_metric_data()
                .set_metric_data_queries(Some(q))
                .start_time(DateTime::from_millis(start))
                .end_time(DateTime::from_millis(end))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                for r in page.map_err(classify)?.metric_data_results() {
                    let points = out.entry(r.id().unwrap_or_default().to_string()).or_default();
                    for (t, v) in r.timestamps().iter().zip(r.values()) {
                        points.push((t.to_millis().unwrap_or_default(), *v));
                    }
                }
            }
        }
        Ok(out)
    }

    async fn put(&self, datums: &[Datum]) -> Result<(), AwsError> {
        for chunk in datums.chunks(MAX_DATUMS_PER_PUT) {
            let data = chunk
                .iter()
                .map(|d| {
                    MetricDatum::builder()
                        .metric_name(d.name)
                        .set_dimensions(Some(Self::dimensions(&d.dimensions)))
                        .timestamp(DateTime::from_millis(d.timestamp))
                        .value(d.value)
                        .unit(StandardUnit::Count)
                        .storage_resolution(STORAGE_RESOLUTION_SECONDS)
                        .build()
                })
                .collect();
            self.client
                .put_metric_data()
                .namespace(&self.namespace)
                .set_metric_data(Some(data))
                .send()
                .await
                .map_err(classify)?;
        }
        Ok(())
    }

    fn calls(&self) -> u64 {
        self.calls.get()
    }
}

/// One SNS topic.
#[derive(Debug, Clone)]
pub struct SnsAlerts {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    calls: CallCounter,
}

impl SnsAlerts {
    /// Alerts to `topic_arn`, over `client` with the function's timeouts and a call counter added.
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        let calls = CallCounter::default();
        let mut config = client.config().to_builder().interceptor(calls.clone());
        if client.config().sleep_impl().is_some() {
            config = config.timeout_config(timeouts());
        }
        SnsAlerts { client: aws_sdk_sns::Client::from_conf(config.build()), topic_arn: topic_arn.into(), calls }
    }
}

impl AlertSink for SnsAlerts {
    async fn publish(&self, m: &AlertMessage) -> Result<(), AwsError> {
        let mut req = self.client.publish().topic_arn(&self.topic_arn).subject(&m.subject).message(&m.body);
        for (name, value) in &m.attributes {
            let attr = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| AwsError::new(AwsErrorKind::Request, DisplayErrorContext(e).to_string()))?;
            req = req.message_attributes(*name, attr);
        }
        req.send().await.map_err(classify)?;
        Ok(())
    }

    fn calls(&self) -> u64 {
        self.calls.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudwatch::config::http::HttpResponse;
    use aws_sdk_cloudwatch::error::ErrorMetadata;
    use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataError;

    fn service(code: &str) -> SdkError<GetMetricDataError, HttpResponse> {
        let err = GetMetricDataError::generic(ErrorMetadata::builder().code(code).message("m").build());
        let raw = HttpResponse::new(500.try_into().unwrap(), aws_smithy_types::body::SdkBody::empty());
        SdkError::service_error(err, raw)
    }

    #[test]
    fn errors_keep_their_kind() {
        assert_eq!(classify(service("Throttling")).kind, AwsErrorKind::Throttling);
        assert_eq!(classify(service("InternalServiceError")).kind, AwsErrorKind::Service);
        let t: SdkError<GetMetricDataError, HttpResponse> = SdkError::timeout_error("slow");
        assert_eq!(classify(t).kind, AwsErrorKind::Timeout);
        let c: SdkError<GetMetricDataError, HttpResponse> = SdkError::construction_failure("bad");
        assert_eq!(classify(c).kind, AwsErrorKind::Request);
        let e = classify(service("Throttling"));
        assert!(e.to_string().starts_with("Throttling: ") && e.to_string().contains("Throttling"), "{e}");
    }
}
