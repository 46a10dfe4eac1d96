//! Reading the function's own metrics back over long spans, at a coarser period than the window
//! totals: hourly for baselines, per window for `apigw-4xx history`. One trait, one CloudWatch
//! implementation (GetMetricData, Sum, paginated).

use crate::metrics::Query;
use crate::time::EpochMillis;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use std::collections::BTreeMap;
use std::future::Future;

/// Per-query sums: `id` → `(period start, sum)`.
pub type Series = BTreeMap<String, Vec<(EpochMillis, f64)>>;

/// A GetMetricData call failed; the text carries the SDK's error chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("GetMetricData: {0}")]
pub struct HistoryError(pub String);

/// Sums of metrics per period over a span.
pub trait MetricHistory {
    /// Each query's sums per `period_seconds` in `[start, end)` (queries ≤ 500: one call).
    fn sums(
        &self,
        queries: &[Query],
        start: EpochMillis,
        end: EpochMillis,
        period_seconds: i32,
    ) -> impl Future<Output = Result<Series, HistoryError>> + Send;
}

/// CloudWatch metrics in one namespace.
#[derive(Debug, Clone)]
pub struct CloudWatchHistory {
    client: aws_sdk_cloudwatch::Client,
    namespace: String,
}

impl CloudWatchHistory {
    /// A reader of `namespace`.
    pub fn new(client: aws_sdk_cloudwatch::Client, namespace: impl Into<String>) -> Self {
        CloudWatchHistory { client, namespace: namespace.into() }
    }
}

impl MetricHistory for CloudWatchHistory {
    async fn sums(
        &self,
        queries: &[Query],
        start: EpochMillis,
        end: EpochMillis,
        period_seconds: i32,
    ) -> Result<Series, HistoryError> {
        let q: Vec<MetricDataQuery> = queries
            .iter()
            .map(|q| {
                let dims = q.dimensions.iter().map(|(n, v)| Dimension::builder().name(*n).value(v).build()).collect();
                let metric =
                    Metric::builder().namespace(&self.namespace).metric_name(q.name).set_dimensions(Some(dims)).build();
                let stat = MetricStat::builder().metric(metric).period(period_seconds).stat("Sum").build();
                MetricDataQuery::builder().id(&q.id).metric_stat(stat).return_data(true).build()
            })
            .collect();
        let mut out = Series::new();
        let mut pages = self
            .client
            .get_metric_data()
            .set_metric_data_queries(Some(q))
            .start_time(DateTime::from_millis(start))
            .end_time(DateTime::from_millis(end))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| HistoryError(aws_sdk_cloudwatch::error::DisplayErrorContext(e).to_string()))?;
            for r in page.metric_data_results() {
                let points = out.entry(r.id().unwrap_or_default().to_string()).or_default();
                for (t, v) in r.timestamps().iter().zip(r.values()) {
                    points.push((t.to_millis().unwrap_or_default(), *v));
                }
            }
        }
        Ok(out)
    }
}
