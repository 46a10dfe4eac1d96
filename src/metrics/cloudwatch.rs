//! Reading the function's own metrics back: the one GetMetricData reader ([`metric_sums`]), for the
//! window ledger (per minute), baselines (hourly) and `apigw-4xx history` (per window) alike, and
//! the [`MetricHistory`] trait the alert context and `history` read through.

use crate::aws::error::{classify, AwsError};
use crate::base::time::EpochMillis;
use crate::metrics::contract::{Dim, Query, Results};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use std::collections::BTreeMap;
use std::future::Future;

/// GetMetricData takes at most 500 queries per call.
pub const MAX_QUERIES_PER_GET: usize = 500;

/// Dimensions as the SDK takes them.
pub fn dimensions(dims: &[Dim]) -> Vec<Dimension> {
    dims.iter().map(|(n, v)| Dimension::builder().name(*n).value(v).build()).collect()
}

/// Per-period values (each query's statistic, a sum for counts) of `queries` in `[start, end)` from
/// `namespace`: every chunk of
/// [`MAX_QUERIES_PER_GET`] and every page read, `id` → `(timestamp, sum)`. The one GetMetricData
/// reader, for the window ledger and the alert context alike.
pub async fn metric_sums(
    client: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    queries: &[Query],
    (start, end): (EpochMillis, EpochMillis),
    period_seconds: i32,
) -> Result<Results, AwsError> {
    let mut out = Results::new();
    for chunk in queries.chunks(MAX_QUERIES_PER_GET) {
        let q: Vec<MetricDataQuery> = chunk
            .iter()
            .map(|q| {
                let metric = Metric::builder()
                    .namespace(namespace)
                    .metric_name(q.name)
                    .set_dimensions(Some(dimensions(&q.dimensions)))
                    .build();
                let stat = MetricStat::builder().metric(metric).period(period_seconds).stat(q.stat).build();
                MetricDataQuery::builder().id(&q.id).metric_stat(stat).return_data(true).build()
            })
            .collect();
        let mut pages = client
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

/// Per-query sums: `id` → `(period start, sum)`.
pub type Series = BTreeMap<String, Vec<(EpochMillis, f64)>>;

/// Sums of metrics per period over a span.
pub trait MetricHistory {
    /// Each query's sums per `period_seconds` in `[start, end)` (queries ≤ 500: one call).
    fn sums(
        &self,
        queries: &[Query],
        start: EpochMillis,
        end: EpochMillis,
        period_seconds: i32,
    ) -> impl Future<Output = Result<Series, AwsError>> + Send;
}

/// CloudWatch metrics in one namespace.
#[derive(Debug, Clone)]
pub struct CloudWatchHistory {
    client: aws_sdk_cloudwatch::Client,
    namespace: String,
}

impl CloudWatchHistory {
    /// A reader of `namespace`, over a client from `clients`.
    pub fn new(clients: &crate::aws::client::Clients, namespace: impl Into<String>) -> Self {
        CloudWatchHistory { client: clients.cloudwatch(), namespace: namespace.into() }
    }
}

impl MetricHistory for CloudWatchHistory {
    async fn sums(
        &self,
        queries: &[Query],
        start: EpochMillis,
        end: EpochMillis,
        period_seconds: i32,
    ) -> Result<Series, AwsError> {
        metric_sums(&self.client, &self.namespace, queries, (start, end), period_seconds).await
    }
}
