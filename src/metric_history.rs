//! Reading the function's own metrics back over long spans, at a coarser period than the window
//! totals: hourly for baselines, per window for `apigw-4xx history`. One trait, one CloudWatch
//! implementation (GetMetricData, Sum, paginated).

use crate::metrics::Query;
use crate::time::EpochMillis;
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
        crate::aws::metric_sums(&self.client, &self.namespace, queries, (start, end), period_seconds)
            .await
            .map_err(|e| HistoryError(e.to_string()))
    }
}
