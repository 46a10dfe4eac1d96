//! The function's AWS edges, behind two small traits: a metrics store (CloudWatch: reads, and alert
//! markers through PutMetricData) and an alert sink (SNS). The rest of the function speaks
//! [`Query`], [`Datum`] and [`AlertMessage`]. Counts do not go through here: they are EMF lines
//! ([`crate::function::emf`]).

use crate::aws::client::{CallCounter, Clients};
use crate::aws::error::{classify, AwsError, AwsErrorKind};
use crate::base::time::EpochMillis;
use crate::metrics::cloudwatch::{dimensions, metric_sums};
use crate::metrics::contract::{Datum, Query, Results, STORAGE_RESOLUTION_SECONDS};
use crate::render::alert::AlertMessage;
use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{MetricDatum, StandardUnit};
use aws_sdk_sns::types::MessageAttributeValue;
use std::future::Future;

/// PutMetricData takes at most 1,000 datums per call.
const MAX_DATUMS_PER_PUT: usize = 1000;

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
    /// A store on `namespace`, over a client from `clients` (counted by their counter).
    pub fn new(clients: &Clients, namespace: impl Into<String>) -> Self {
        CloudWatchStore::over(clients.cloudwatch(), namespace, clients.calls().clone())
    }

    /// A store over a client made elsewhere (a test's mock), reporting `calls`.
    pub fn over(client: aws_sdk_cloudwatch::Client, namespace: impl Into<String>, calls: CallCounter) -> Self {
        CloudWatchStore { client, namespace: namespace.into(), calls }
    }
}

impl MetricsStore for CloudWatchStore {
    async fn read(&self, queries: &[Query], start: EpochMillis, end: EpochMillis) -> Result<Results, AwsError> {
        metric_sums(&self.client, &self.namespace, queries, (start, end), 60).await
    }

    async fn put(&self, datums: &[Datum]) -> Result<(), AwsError> {
        for chunk in datums.chunks(MAX_DATUMS_PER_PUT) {
            let data = chunk
                .iter()
                .map(|d| {
                    MetricDatum::builder()
                        .metric_name(d.name)
                        .set_dimensions(Some(dimensions(&d.dimensions)))
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
    /// Alerts to `topic_arn`, over a client from `clients` (counted by their counter).
    pub fn new(clients: &Clients, topic_arn: impl Into<String>) -> Self {
        SnsAlerts::over(clients.sns(), topic_arn, clients.calls().clone())
    }

    /// Alerts over a client made elsewhere (a test's mock), reporting `calls`.
    pub fn over(client: aws_sdk_sns::Client, topic_arn: impl Into<String>, calls: CallCounter) -> Self {
        SnsAlerts { client, topic_arn: topic_arn.into(), calls }
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
