//! Which API stage writes a log group, what it last deployed, and the alert line that says so:
//! `Deployment: a1b2c3 "tighten order schema" to orders-api/prod at 2025-11-24T15:52:00Z, 8 min before this window`.
//!
//! Pure: the control-plane answers come in as [`StageInfo`] and [`Deployment`] (the adapter in
//! `apigateway.rs` fetches them). When the lines name their stage (`$context.apiId`,
//! `$context.stage`) that stage is asked for by name; otherwise it is found in the listing of every
//! stage by its access-log destination, with any trailing `:*` removed. A per-container
//! [`StageCache`] remembers each answer for 15 minutes, failures of the listing included (a listing
//! costs a call per API), with the clock passed in.

use crate::base::time::{format_iso8601, EpochMillis, MINUTE_MS};
use std::collections::{BTreeMap, HashMap};

/// How long a container trusts its log group → stage mapping.
pub const CACHE_TTL_MS: i64 = 15 * MINUTE_MS;

/// REST (`apigateway`) or HTTP and WebSocket (`apigatewayv2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum ApiKind {
    /// A REST API.
    Rest,
    /// An HTTP or WebSocket API.
    Http,
}

/// An API as the control plane lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApiRef {
    /// REST, or HTTP and WebSocket.
    pub kind: ApiKind,
    /// The API id.
    pub id: String,
    /// The API name.
    pub name: String,
    /// The API's tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// One page of a control-plane listing, and the token of the next (none on the last page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// What this page holds.
    pub items: Vec<T>,
    /// The next page's token.
    pub next: Option<String>,
}

/// A stage as the control plane lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageInfo {
    /// REST or HTTP.
    pub kind: ApiKind,
    /// The API id.
    pub api_id: String,
    /// The API name.
    pub api_name: String,
    /// The stage name.
    pub stage: String,
    /// `accessLogSettings.destinationArn`, when access logging is on.
    pub destination_arn: Option<String>,
    /// The stage's tags over its API's (a stage's own value wins).
    pub tags: BTreeMap<String, String>,
}

/// A stage's current deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The deployment id (`None` for an HTTP API stage that names none).
    pub id: Option<String>,
    /// Its description (may be empty).
    pub description: String,
    /// `<api name>/<stage>`.
    pub target: String,
    /// REST: the deployment's `createdDate`; HTTP: the stage's `lastUpdatedDate`.
    pub at: EpochMillis,
}

/// The log group name of a CloudWatch Logs ARN (`arn:aws:logs:r:a:log-group:NAME` or `…:NAME:*`).
pub fn log_group_of_arn(arn: &str) -> Option<&str> {
    let name = arn.split_once(":log-group:")?.1;
    let name = name.strip_suffix(":*").unwrap_or(name);
    (!name.is_empty()).then_some(name)
}

/// The stage whose access-log destination is `log_group`. First match wins (two stages writing one
/// group is a misconfiguration the alert cannot resolve).
pub fn stage_for<'s>(log_group: &str, stages: &'s [StageInfo]) -> Option<&'s StageInfo> {
    stages.iter().find(|s| s.destination_arn.as_deref().and_then(log_group_of_arn) == Some(log_group))
}

impl Deployment {
    /// The alert line. `window_start` places the deployment before or after the alerted window; the
    /// CLI, with no window, gives `None`.
    pub fn line(&self, window_start: Option<EpochMillis>) -> String {
        let id = self.id.as_deref().unwrap_or("(id not reported)");
        let description = clean(&self.description);
        let what = if description.is_empty() { id.to_string() } else { format!("{id} \"{description}\"") };
        let mut out = format!("Deployment: {what} to {} at {}", self.target, format_iso8601(self.at));
        if let Some(w) = window_start {
            let minutes = (w - self.at).abs() / MINUTE_MS;
            if self.at <= w {
                out.push_str(&format!(", {minutes} min before this window"));
            } else {
                out.push_str(&format!(", {minutes} min after this window started"));
            }
        }
        out
    }
}

/// One line, at most 200 characters: descriptions are free text.
fn clean(s: &str) -> String {
    let mut out: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).take(200).collect();
    out.truncate(out.trim_end().len());
    out
}

/// Named stages a container remembers at most (expired ones are dropped first; past this, all).
const MAX_NAMED: usize = 1024;

/// What a container remembers of the control plane, each answer for [`CACHE_TTL_MS`] from when it
/// was asked: the listing of every stage (or why there is none), and the stages the lines named (or
/// that their API does not exist).
#[derive(Debug, Default)]
pub struct StageCache {
    listing: Option<(EpochMillis, Listing)>,
    named: HashMap<(String, String), (EpochMillis, Option<StageInfo>)>,
}

/// The state of the listing.
#[derive(Debug)]
enum Listing {
    /// Begun and not finished: seen by the next lookup, it was cut off by its deadline.
    Begun,
    /// It failed, for this reason.
    Failed(String),
    /// Every stage.
    Stages(Vec<StageInfo>),
}

/// A listing that failed or was cut off, remembered so that it is not tried again before `retry_at`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the stage listing of {} {reason}; not tried again before {}", format_iso8601(*.at), format_iso8601(*.retry_at))]
pub struct ListingFailed {
    /// When it was begun.
    pub at: EpochMillis,
    /// When it may be tried again.
    pub retry_at: EpochMillis,
    /// What happened (`failed: …`, or `did not finish in time`).
    pub reason: String,
}

impl StageCache {
    /// The remembered listing, if still fresh at `now`: every stage, or why there is none. `None`:
    /// list now, between [`begin_listing`](Self::begin_listing) and [`end_listing`](Self::end_listing).
    pub fn listing(&self, now: EpochMillis) -> Option<Result<&[StageInfo], ListingFailed>> {
        let (at, listing) = self.listing.as_ref().filter(|(at, _)| now - at < CACHE_TTL_MS)?;
        let failed = |reason: String| ListingFailed { at: *at, retry_at: at + CACHE_TTL_MS, reason };
        Some(match listing {
            Listing::Stages(stages) => Ok(stages),
            Listing::Failed(e) => Err(failed(format!("failed: {e}"))),
            Listing::Begun => Err(failed("did not finish in time".into())),
        })
    }

    /// A listing begins at `now`: until it ends, it counts as cut off.
    pub fn begin_listing(&mut self, now: EpochMillis) {
        self.listing = Some((now, Listing::Begun));
    }

    /// The listing begun last ended: every stage, or why not. Remembered from when it began.
    pub fn end_listing(&mut self, result: Result<Vec<StageInfo>, String>) {
        if let Some((_, listing)) = &mut self.listing {
            *listing = result.map_or_else(Listing::Failed, Listing::Stages);
        }
    }

    /// The remembered answer for the stage the lines name, if still fresh at `now`: `Some(None)`
    /// is a remembered "no such API".
    pub fn named(&self, api_id: &str, stage: &str, now: EpochMillis) -> Option<Option<&StageInfo>> {
        let (at, found) = self.named.get(&(api_id.to_string(), stage.to_string()))?;
        (now - at < CACHE_TTL_MS).then_some(found.as_ref())
    }

    /// Remembers the answer for the stage the lines name, at `now`.
    pub fn put_named(&mut self, api_id: &str, stage: &str, found: Option<StageInfo>, now: EpochMillis) {
        self.named.retain(|_, (at, _)| now - *at < CACHE_TTL_MS);
        if self.named.len() >= MAX_NAMED {
            self.named.clear();
        }
        self.named.insert((api_id.to_string(), stage.to_string()), (now, found));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: EpochMillis = 1_764_000_000_000;

    fn stage(api: &str, name: &str, arn: Option<&str>) -> StageInfo {
        StageInfo {
            kind: ApiKind::Rest,
            api_id: api.into(),
            api_name: format!("{api}-name"),
            stage: name.into(),
            destination_arn: arn.map(Into::into),
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn arn_suffix_is_dropped() {
        assert_eq!(log_group_of_arn("arn:aws:logs:us-east-1:123:log-group:/aws/apigw/prod:*"), Some("/aws/apigw/prod"));
        assert_eq!(log_group_of_arn("arn:aws:logs:us-east-1:123:log-group:/aws/apigw/prod"), Some("/aws/apigw/prod"));
        assert_eq!(log_group_of_arn("arn:aws:firehose:us-east-1:123:deliverystream/x"), None);
        assert_eq!(log_group_of_arn("arn:aws:logs:us-east-1:123:log-group:"), None);
    }

    #[test]
    fn the_stage_is_found_by_its_destination() {
        let stages = [
            stage("b2", "beta", None),
            stage("a1", "prod", Some("arn:aws:logs:r:1:log-group:/g:*")),
            stage("c3", "prod", Some("arn:aws:logs:r:1:log-group:/other")),
        ];
        assert_eq!(stage_for("/g", &stages).map(|s| s.api_id.as_str()), Some("a1"));
        assert_eq!(stage_for("/other", &stages).map(|s| s.api_id.as_str()), Some("c3"));
        assert_eq!(stage_for("/nobody", &stages), None);
    }

    #[test]
    fn line_places_the_deployment_around_the_window() {
        let d = Deployment {
            id: Some("a1b2c3".into()),
            description: "tighten order schema\n".into(),
            target: "orders-api/prod".into(),
            at: W - 8 * 60_000 - 30_000,
        };
        assert_eq!(
            d.line(Some(W)),
            "Deployment: a1b2c3 \"tighten order schema\" to orders-api/prod at 2025-11-24T15:51:30Z, 8 min before this window"
        );
        let after = Deployment { at: W + 120_000, description: String::new(), ..d.clone() };
        assert_eq!(
            after.line(Some(W)),
            "Deployment: a1b2c3 to orders-api/prod at 2025-11-24T16:02:00Z, 2 min after this window started"
        );
        let http = Deployment { id: None, ..after };
        assert_eq!(http.line(None), "Deployment: (id not reported) to orders-api/prod at 2025-11-24T16:02:00Z");
    }

    #[test]
    fn named_stages_expire_after_fifteen_minutes_and_misses_are_remembered() {
        let mut c = StageCache::default();
        c.put_named("a1", "prod", Some(stage("a1", "prod", None)), W);
        c.put_named("zz", "prod", None, W);
        assert_eq!(c.named("a1", "prod", W + CACHE_TTL_MS - 1).flatten().map(|s| s.api_id.as_str()), Some("a1"));
        assert_eq!(c.named("a1", "beta", W), None, "another stage of the same API");
        assert_eq!(c.named("zz", "prod", W + 60_000), Some(None), "a remembered miss");
        assert_eq!(c.named("a1", "prod", W + CACHE_TTL_MS), None, "expired");
        c.put_named("b2", "prod", None, W + CACHE_TTL_MS);
        assert_eq!(c.named.len(), 1, "expired entries are dropped");
        for i in 0..MAX_NAMED + 1 {
            c.put_named(&format!("x{i}"), "prod", None, W + CACHE_TTL_MS);
        }
        assert!(c.named.len() <= MAX_NAMED, "bounded: {}", c.named.len());
    }

    #[test]
    fn a_listing_is_remembered_whatever_its_end() {
        let mut c = StageCache::default();
        assert_eq!(c.listing(W), None, "nothing known: list");
        c.begin_listing(W);
        c.end_listing(Ok(vec![stage("a1", "prod", None)]));
        assert_eq!(c.listing(W + CACHE_TTL_MS - 1).map(|r| r.map(<[StageInfo]>::len)), Some(Ok(1)));
        assert_eq!(c.listing(W + CACHE_TTL_MS), None, "expired");

        c.begin_listing(W);
        c.end_listing(Err("Throttling: Rate exceeded".into()));
        let failed = c.listing(W + 60_000).unwrap().unwrap_err();
        assert_eq!((failed.at, failed.retry_at), (W, W + CACHE_TTL_MS));
        assert_eq!(
            failed.to_string(),
            "the stage listing of 2025-11-24T16:00:00Z failed: Throttling: Rate exceeded; not tried again before 2025-11-24T16:15:00Z"
        );

        // Begun and never ended: the lookup that began it was cut off by its deadline.
        c.begin_listing(W + CACHE_TTL_MS);
        let cut = c.listing(W + CACHE_TTL_MS + 1).unwrap().unwrap_err();
        assert_eq!((cut.at, cut.reason.as_str()), (W + CACHE_TTL_MS, "did not finish in time"));
        assert_eq!(c.listing(W + 2 * CACHE_TTL_MS), None, "tried again once expired");
    }
}
