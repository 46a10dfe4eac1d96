//! Which API stage writes a log group, what it last deployed, and the alert line that says so:
//! `Deployment: a1b2c3 "tighten order schema" to orders-api/prod at 2025-11-24T15:52:00Z, 8 min before this window`.
//!
//! Pure: the control-plane answers come in as [`StageInfo`] and [`Deployment`] (the adapter in
//! `apigateway.rs` fetches them); the stage is found by its access-log destination, with any
//! trailing `:*` removed, unless the lines name it (`$context.apiId`, `$context.stage`). A
//! per-container [`StageCache`] keeps the log group → stage mapping for about 15 minutes, with the
//! clock passed in.

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

/// The stage that writes `log_group`: the one the lines name when they do (`api_id`, `stage`),
/// else the one whose access-log destination is the group. First match wins (two stages writing one
/// group is a misconfiguration the alert cannot resolve).
pub fn stage_for<'s>(log_group: &str, named: Option<(&str, &str)>, stages: &'s [StageInfo]) -> Option<&'s StageInfo> {
    if let Some((api, stage)) = named {
        if let Some(s) = stages.iter().find(|s| s.api_id == api && s.stage == stage) {
            return Some(s);
        }
    }
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

/// The log group → stage mapping a container remembers, misses included (a group no stage writes is
/// not looked for again until the entry expires).
#[derive(Debug, Default)]
pub struct StageCache {
    entries: HashMap<String, (EpochMillis, Option<StageInfo>)>,
}

impl StageCache {
    /// The remembered answer for `log_group`, if still fresh at `now`: `Some(None)` is a remembered miss.
    pub fn get(&self, log_group: &str, now: EpochMillis) -> Option<Option<&StageInfo>> {
        let (at, stage) = self.entries.get(log_group)?;
        (now - at < CACHE_TTL_MS).then_some(stage.as_ref())
    }

    /// Remembers the answer for `log_group` at `now`.
    pub fn put(&mut self, log_group: &str, stage: Option<StageInfo>, now: EpochMillis) {
        self.entries.retain(|_, (at, _)| now - *at < CACHE_TTL_MS);
        self.entries.insert(log_group.to_string(), (now, stage));
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
    fn lines_naming_the_stage_win_over_destinations() {
        let stages = [
            stage("a1", "prod", Some("arn:aws:logs:r:1:log-group:/g:*")),
            stage("b2", "beta", None),
            stage("c3", "prod", Some("arn:aws:logs:r:1:log-group:/other")),
        ];
        assert_eq!(stage_for("/g", None, &stages).map(|s| s.api_id.as_str()), Some("a1"));
        assert_eq!(stage_for("/g", Some(("b2", "beta")), &stages).map(|s| s.api_id.as_str()), Some("b2"));
        assert_eq!(stage_for("/g", Some(("zz", "beta")), &stages).map(|s| s.api_id.as_str()), Some("a1"));
        assert_eq!(stage_for("/nobody", None, &stages), None);
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
    fn cache_expires_after_fifteen_minutes_and_remembers_misses() {
        let mut c = StageCache::default();
        c.put("/g", Some(stage("a1", "prod", None)), W);
        c.put("/none", None, W);
        assert_eq!(c.get("/g", W + CACHE_TTL_MS - 1).flatten().map(|s| s.api_id.as_str()), Some("a1"));
        assert_eq!(c.get("/none", W + 60_000), Some(None), "a remembered miss");
        assert_eq!(c.get("/g", W + CACHE_TTL_MS), None, "expired");
        assert_eq!(c.get("/unknown", W), None);
        c.put("/h", None, W + CACHE_TTL_MS);
        assert_eq!(c.entries.len(), 1, "expired entries are dropped");
    }
}
