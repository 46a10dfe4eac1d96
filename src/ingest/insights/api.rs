//! The SDK's side of a Logs Insights read: StartQuery, GetQueryResults and StopQuery for the
//! [`InsightsApi`] the runner drives, and DescribeLogGroups for `--log-group-prefix`. The client is
//! the one constructor's (`aws::client::Clients`), so every call is counted like the others.

use super::plan::MAX_ROWS;
use super::run::{ApiError, ApiErrorKind, InsightsApi, Poll, QueryState, Scanned};
use super::Row;
use crate::ingest::time_range::TimeRange;
use aws_sdk_cloudwatchlogs::config::http::HttpResponse;
use aws_sdk_cloudwatchlogs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatchlogs::Client;

/// Error codes that mean "wait and try again": StartQuery answers `LimitExceededException` when
/// the account runs as many queries as it may.
const THROTTLED: [&str; 4] =
    ["LimitExceededException", "ThrottlingException", "Throttling", "TooManyRequestsException"];
/// Error codes of a query the service will not run.
const MALFORMED: [&str; 2] = ["MalformedQueryException", "InvalidParameterException"];

/// An SDK error as the runner sees it, its causes on one line.
fn api_error<E>(e: SdkError<E, HttpResponse>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = e.as_service_error().and_then(|s| s.code()).unwrap_or_default().to_string();
    let transient = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(s) => s.raw().status().is_server_error(),
        _ => false,
    };
    let kind = match code.as_str() {
        c if THROTTLED.contains(&c) => ApiErrorKind::Throttled,
        _ if transient => ApiErrorKind::Transient,
        "ResourceNotFoundException" => ApiErrorKind::NotFound,
        "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => ApiErrorKind::Denied,
        c if MALFORMED.contains(&c) => ApiErrorKind::Malformed,
        _ => ApiErrorKind::Other,
    };
    let message = match e.as_service_error().and_then(|s| s.message()) {
        Some(m) => format!("{code}: {m}"),
        None => crate::aws::error::causes(&e),
    };
    ApiError { kind, message }
}

/// Logs Insights through an SDK client.
#[derive(Debug, Clone)]
pub struct Logs {
    client: Client,
}

impl Logs {
    /// Over `client` (from `aws::client::Clients::logs`).
    pub fn new(client: Client) -> Logs {
        Logs { client }
    }

    /// The names of every log group starting with `prefix` (DescribeLogGroups, every page).
    pub async fn log_groups(&self, prefix: &str) -> Result<Vec<String>, ApiError> {
        let mut pages = self.client.describe_log_groups().log_group_name_prefix(prefix).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(api_error)?;
            out.extend(page.log_groups().iter().filter_map(|g| g.log_group_name().map(str::to_string)));
        }
        Ok(out)
    }
}

impl InsightsApi for Logs {
    async fn start(&self, groups: &[String], range: TimeRange, query: &str) -> Result<String, ApiError> {
        // StartQuery takes whole seconds, both ends inclusive: the span is widened to the seconds
        // that hold it, and the query's own filter on `@timestamp` keeps the milliseconds exact.
        // The runner retries it (its waits keep polling the queries under way; the SDK's would
        // block them): no SDK retries here.
        let once = aws_sdk_cloudwatchlogs::config::Builder::default()
            .retry_config(aws_sdk_cloudwatchlogs::config::retry::RetryConfig::disabled());
        let out = self
            .client
            .start_query()
            .set_log_group_names(Some(groups.to_vec()))
            .start_time(range.start.div_euclid(1000))
            .end_time(range.end.div_euclid(1000) + 1)
            .query_string(query)
            .limit(MAX_ROWS as i32)
            .customize()
            .config_override(once)
            .send()
            .await
            .map_err(api_error)?;
        out.query_id()
            .map(str::to_string)
            .ok_or_else(|| ApiError { kind: ApiErrorKind::Other, message: "StartQuery answered no queryId".into() })
    }

    async fn results(&self, id: &str) -> Result<Poll, ApiError> {
        let out = self.client.get_query_results().query_id(id).send().await.map_err(api_error)?;
        let state = QueryState::from_name(out.status().map_or("", |s| s.as_str()));
        let rows = out
            .results()
            .iter()
            .map(|fields| {
                Row(fields.iter().filter_map(|f| Some((f.field()?.to_string(), f.value()?.to_string()))).collect())
            })
            .collect();
        let scanned = out.statistics().map_or_else(Scanned::default, |s| Scanned {
            records_matched: s.records_matched(),
            records_scanned: s.records_scanned(),
            bytes_scanned: s.bytes_scanned(),
        });
        Ok(Poll { state, rows, scanned })
    }

    async fn stop(&self, id: &str) -> Result<(), ApiError> {
        self.client.stop_query().query_id(id).send().await.map_err(api_error)?;
        Ok(())
    }
}
