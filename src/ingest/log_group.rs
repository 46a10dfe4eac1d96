//! CloudWatch Logs as an input (`apigw-4xx analyze --log-group NAME --since 1h`): FilterLogEvents
//! over a time range, every page (`nextToken`), into an [`EventSink`], one batch per page, named for
//! the log group. The client comes from the standard AWS configuration chain (profile, region,
//! `AWS_ENDPOINT_URL`), with the CLI's retries (a throttled page is retried with backoff, and the
//! read goes on from it); only the I/O is here, counting is the analyzer's.

use crate::aws::error::{classify, AwsError};
use crate::ingest::decode::{BatchInfo, BatchKind, EventSink};
use crate::ingest::time_range::TimeRange;
use aws_sdk_cloudwatchlogs::error::SdkError;
use aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsError;
use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;
use aws_sdk_cloudwatchlogs::Client;

/// Why a log group could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogsSourceError {
    /// The log group does not exist (in this account and region).
    #[error("log group {0} not found")]
    NotFound(String),
    /// Any other failure of FilterLogEvents (credentials, permissions, network, throttling past
    /// the retries), with the SDK's own explanation on one line.
    #[error("FilterLogEvents on {log_group}: {}", .error.message)]
    Request {
        /// The log group.
        log_group: String,
        /// What failed.
        error: AwsError,
    },
}

fn request_error(log_group: &str, e: SdkError<FilterLogEventsError>) -> LogsSourceError {
    if e.as_service_error().is_some_and(FilterLogEventsError::is_resource_not_found_exception) {
        return LogsSourceError::NotFound(log_group.to_string());
    }
    LogsSourceError::Request { log_group: log_group.to_string(), error: classify(e) }
}

/// A client from the standard AWS configuration chain, with the CLI's retries.
pub async fn client_from_env() -> Result<Client, AwsError> {
    Ok(crate::aws::client::Clients::from_env().await?.logs())
}

/// Reads every event of `log_group` in `range` into `sink`; `progress` hears how many events each
/// page brought. Returns the number of events read.
pub async fn read_log_group(
    client: &Client,
    log_group: &str,
    range: TimeRange,
    sink: &mut dyn EventSink,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64, LogsSourceError> {
    let mut pages = client
        .filter_log_events()
        .log_group_name(log_group)
        .start_time(range.start)
        .end_time(range.end)
        .into_paginator()
        .send();
    let mut read = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| request_error(log_group, e))?;
        page_into(log_group, page.events(), sink);
        read += page.events().len() as u64;
        progress(page.events().len() as u64);
    }
    Ok(read)
}

/// One page of events as one batch of `log_group`.
fn page_into(log_group: &str, events: &[FilteredLogEvent], sink: &mut dyn EventSink) {
    sink.begin_batch();
    for e in events {
        sink.event(e.timestamp(), e.message().unwrap_or_default());
    }
    sink.end_batch(&BatchInfo { kind: BatchKind::Export, log_group: Some(log_group.to_string()) });
}
