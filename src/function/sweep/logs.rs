//! CloudWatch Logs for the sweep, behind a small trait: a group's subscription filters, put and
//! delete this stack's filter, list the groups under a prefix. The answers that are part of the
//! plan (no such group, no free slot, access denied) come back as values; anything else is an
//! [`AwsError`] whose kind says whether it was throttled.

use crate::aws::client::Clients;
use crate::aws::error::{classify, AwsError};
use crate::context::deployment::Page;
use crate::watch::plan::{Applied, Filter, Seen, Target, FILTER_PATTERN};
use aws_sdk_cloudwatchlogs::error::{ProvideErrorMetadata, SdkError};
use std::future::Future;

/// The subscription-filter calls the sweep makes.
pub trait Subscriptions {
    /// The filters `group` holds.
    fn filters(&self, group: &str) -> impl Future<Output = Result<Seen, AwsError>> + Send;
    /// Puts this stack's filter on `group`.
    fn put(&self, group: &str, target: &Target) -> impl Future<Output = Result<Applied, AwsError>> + Send;
    /// Deletes the filter named `filter_name` from `group` (gone already: done).
    fn delete(&self, group: &str, filter_name: &str) -> impl Future<Output = Result<Applied, AwsError>> + Send;
    /// A page of the groups whose names start with `prefix`.
    fn groups(
        &self,
        prefix: &str,
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<String>, AwsError>> + Send;
}

/// The plan's answers among a call's errors, by the service's error code.
fn planned<E: ProvideErrorMetadata>(
    e: &SdkError<E, aws_sdk_cloudwatchlogs::config::http::HttpResponse>,
) -> Option<Applied> {
    match e.as_service_error()?.code()? {
        "ResourceNotFoundException" => Some(Applied::Missing),
        "AccessDeniedException" | "AccessDenied" => Some(Applied::Denied),
        // CloudWatch Logs' answer when every filter slot of the group is taken.
        "LimitExceededException" => Some(Applied::NoFreeSlot),
        // A filter this group cannot take: left for a notice, not retried as if it were transient.
        "InvalidParameterException" => Some(Applied::Refused(
            e.as_service_error().and_then(|s| s.message()).unwrap_or("InvalidParameterException").to_string(),
        )),
        _ => None,
    }
}

/// CloudWatch Logs through the SDK (requests counted by the clients' counter).
#[derive(Debug, Clone)]
pub struct CloudWatchLogs {
    client: aws_sdk_cloudwatchlogs::Client,
}

impl CloudWatchLogs {
    /// Over a client from `clients` (unretried: the sweep paces and retries).
    pub fn new(clients: &Clients) -> Self {
        CloudWatchLogs { client: clients.logs() }
    }
}

impl Subscriptions for CloudWatchLogs {
    async fn filters(&self, group: &str) -> Result<Seen, AwsError> {
        let mut filters = Vec::new();
        let mut token = None;
        loop {
            let page = match self
                .client
                .describe_subscription_filters()
                .log_group_name(group)
                .set_next_token(token)
                .send()
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    return match planned(&e) {
                        Some(Applied::Missing) => Ok(Seen::Missing),
                        Some(Applied::Denied) => Ok(Seen::Denied),
                        _ => Err(classify(e)),
                    }
                }
            };
            filters.extend(page.subscription_filters().iter().map(|f| Filter {
                name: f.filter_name().unwrap_or_default().to_string(),
                destination_arn: f.destination_arn().unwrap_or_default().to_string(),
                pattern: f.filter_pattern().unwrap_or_default().to_string(),
            }));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(Seen::Filters(filters)),
            }
        }
    }

    async fn put(&self, group: &str, target: &Target) -> Result<Applied, AwsError> {
        let sent = self
            .client
            .put_subscription_filter()
            .log_group_name(group)
            .filter_name(&target.filter_name)
            .filter_pattern(FILTER_PATTERN)
            .destination_arn(&target.destination_arn)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Applied::Done),
            Err(e) => planned(&e).ok_or_else(|| classify(e)),
        }
    }

    async fn delete(&self, group: &str, filter_name: &str) -> Result<Applied, AwsError> {
        match self.client.delete_subscription_filter().log_group_name(group).filter_name(filter_name).send().await {
            Ok(_) => Ok(Applied::Done),
            Err(e) => match planned(&e) {
                // The filter (or the group) is gone: what a delete wants.
                Some(Applied::Missing) => Ok(Applied::Done),
                Some(a) => Ok(a),
                None => Err(classify(e)),
            },
        }
    }

    async fn groups(&self, prefix: &str, token: Option<String>) -> Result<Page<String>, AwsError> {
        let page = self
            .client
            .describe_log_groups()
            .log_group_name_prefix(prefix)
            .set_next_token(token)
            .send()
            .await
            .map_err(classify)?;
        Ok(Page {
            items: page.log_groups().iter().filter_map(|g| g.log_group_name().map(str::to_string)).collect(),
            next: page.next_token().filter(|t| !t.is_empty()).map(str::to_string),
        })
    }
}
