//! The AWS edges, behind two small traits: a metrics store (CloudWatch) and an alert sink (SNS).
//! Everything AWS-typed lives here; the rest of the crate speaks [`Query`], [`Datum`] and
//! [`AlertMessage`].

use crate::alert::AlertMessage;
use crate::metrics::{Datum, Query};
use crate::time::EpochMillis;
use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StandardUnit};
use aws_sdk_sns::types::MessageAttributeValue;
use std::collections::BTreeMap;
use std::future::Future;

/// PutMetricData takes at most 1,000 datums per call.
const MAX_DATUMS_PER_PUT: usize = 1000;
/// GetMetricData takes at most 500 queries per call.
pub const MAX_QUERIES_PER_GET: usize = 500;

/// An AWS call failed; the text carries the SDK's full error chain.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct AwsError(pub String);

fn aws_error<E: std::error::Error>(e: E) -> AwsError {
    AwsError(DisplayErrorContext(e).to_string())
}

/// Per-minute sums of metrics.
pub trait MetricsStore {
    /// Reads each query's per-minute sums in `[start, end)`: `id` → `(minute, sum)`.
    fn read(
        &self,
        queries: &[Query],
        start: EpochMillis,
        end: EpochMillis,
    ) -> impl Future<Output = Result<BTreeMap<String, Vec<(EpochMillis, f64)>>, AwsError>> + Send;
    /// Writes datums.
    fn put(&self, datums: &[Datum]) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// Where alerts go.
pub trait AlertSink {
    /// Publishes one message.
    fn publish(&self, message: &AlertMessage) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// CloudWatch custom metrics in one namespace.
#[derive(Debug, Clone)]
pub struct CloudWatchStore {
    client: aws_sdk_cloudwatch::Client,
    namespace: String,
}

impl CloudWatchStore {
    /// A store writing to `namespace`.
    pub fn new(client: aws_sdk_cloudwatch::Client, namespace: impl Into<String>) -> Self {
        CloudWatchStore { client, namespace: namespace.into() }
    }

    fn dimensions(dims: &[(&'static str, String)]) -> Vec<Dimension> {
        dims.iter().map(|(n, v)| Dimension::builder().name(*n).value(v).build()).collect()
    }
}

impl MetricsStore for CloudWatchStore {
    async fn read(
        &self,
        queries: &[Query],
        start: EpochMillis,
        end: EpochMillis,
    ) -> Result<BTreeMap<String, Vec<(EpochMillis, f64)>>, AwsError> {
        let mut out: BTreeMap<String, Vec<(EpochMillis, f64)>> = BTreeMap::new();
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
                for r in page.map_err(aws_error)?.metric_data_results() {
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
                        .storage_resolution(60)
                        .build()
                })
                .collect();
            self.client
                .put_metric_data()
                .namespace(&self.namespace)
                .set_metric_data(Some(data))
                .send()
                .await
                .map_err(aws_error)?;
        }
        Ok(())
    }
}

/// One SNS topic.
#[derive(Debug, Clone)]
pub struct SnsAlerts {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsAlerts {
    /// Alerts to `topic_arn`.
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        SnsAlerts { client, topic_arn: topic_arn.into() }
    }
}

impl AlertSink for SnsAlerts {
    async fn publish(&self, m: &AlertMessage) -> Result<(), AwsError> {
        let mut req = self.client.publish().topic_arn(&self.topic_arn).subject(&m.subject).message(&m.body);
        for (name, value) in &m.attributes {
            let attr =
                MessageAttributeValue::builder().data_type("String").string_value(value).build().map_err(aws_error)?;
            req = req.message_attributes(*name, attr);
        }
        req.send().await.map_err(aws_error)?;
        Ok(())
    }
}
