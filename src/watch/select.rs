//! The three ways to choose the log groups a stack watches, read once from the configuration:
//!
//! - `WATCH_STAGES=all`: every REST, HTTP and WebSocket stage of the account and Region whose access
//!   logs go to CloudWatch Logs; its destination group is watched;
//! - `STAGE_FILTER`: narrows those stages: API name patterns (a name, or a prefix ending in `*`) keep
//!   only the APIs they match, `key=value` terms opt out every stage or API carrying that tag;
//!   [`OPT_OUT_TAG`] always opts out;
//! - `LOG_GROUP_NAMES`: groups named outright, or by a prefix ending in `*`, any number.
//!
//! The function's own log groups are never watched (their lines would invoke it again).

use crate::base::pattern::NamePattern;
use crate::context::deployment::{log_group_of_arn, ApiRef, StageInfo};
use std::collections::{BTreeMap, BTreeSet};

/// The tag that opts an API or a stage out of `WATCH_STAGES=all`, whatever `STAGE_FILTER` says.
pub const OPT_OUT_TAG: (&str, &str) = ("apigw-4xx", "off");

/// The longest CloudWatch Logs group name (CreateLogGroup API reference).
pub const MAX_GROUP_NAME: usize = 512;

/// A setting that cannot be read, named after its variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// `WATCH_STAGES` is neither `all` nor `none`.
    #[error("WATCH_STAGES={0:?}: must be all or none")]
    WatchStages(String),
    /// A `STAGE_FILTER` term is neither an API name pattern nor `key=value`.
    #[error("STAGE_FILTER term {0:?}: an API name, a prefix ending in a single `*`, or a tag key=value")]
    StageFilter(String),
    /// A `LOG_GROUP_NAMES` entry is not a log group name or prefix.
    #[error("LOG_GROUP_NAMES entry {0:?}: {1}")]
    GroupName(String, &'static str),
}

/// Which stages `WATCH_STAGES=all` keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageFilter {
    /// API name patterns; empty keeps every API.
    apis: Vec<NamePattern>,
    /// Tags that opt out, [`OPT_OUT_TAG`] first.
    opt_out: Vec<(String, String)>,
}

impl StageFilter {
    /// Reads comma-separated terms: `key=value` opts out, anything else is an API name pattern.
    pub fn parse(s: &str) -> Result<StageFilter, SelectError> {
        let mut filter = StageFilter::default();
        for term in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            match term.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => filter.opt_out.push((k.trim().into(), v.trim().into())),
                Some(_) => return Err(SelectError::StageFilter(term.into())),
                None => {
                    filter.apis.push(NamePattern::parse(term).ok_or_else(|| SelectError::StageFilter(term.into()))?)
                }
            }
        }
        Ok(filter)
    }

    fn opted_out(&self, tags: &BTreeMap<String, String>) -> bool {
        let (key, value) = OPT_OUT_TAG;
        tags.get(key).is_some_and(|v| v == value)
            || self.opt_out.iter().any(|(k, v)| tags.get(k).is_some_and(|t| t == v))
    }

    /// True when `api`'s stages are to be listed: its name matches (or no pattern is set) and its
    /// tags do not opt it out.
    pub fn keeps_api(&self, api: &ApiRef) -> bool {
        (self.apis.is_empty() || self.apis.iter().any(|p| p.matches(&api.name))) && !self.opted_out(&api.tags)
    }

    /// True when `stage` is to be watched: its API is kept and its tags (over its API's) do not opt
    /// it out.
    pub fn keeps_stage(&self, stage: &StageInfo) -> bool {
        (self.apis.is_empty() || self.apis.iter().any(|p| p.matches(&stage.api_name))) && !self.opted_out(&stage.tags)
    }
}

/// The groups a stack watches: the three settings, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// `WATCH_STAGES=all`.
    pub all_stages: bool,
    /// `STAGE_FILTER`.
    pub stage_filter: StageFilter,
    /// `LOG_GROUP_NAMES`.
    pub names: Vec<NamePattern>,
    /// Groups never watched: the function's own.
    pub excluded: BTreeSet<String>,
}

/// True for a character CloudWatch Logs allows in a group name (CreateLogGroup API reference).
fn group_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#')
}

impl Selection {
    /// Reads the three settings (each may be unset: `None`). `WATCH_STAGES` defaults to `all`.
    pub fn parse(
        watch_stages: Option<&str>,
        stage_filter: Option<&str>,
        log_group_names: Option<&str>,
    ) -> Result<Selection, SelectError> {
        let all_stages = match watch_stages.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("all") => true,
            Some("none") => false,
            Some(other) => return Err(SelectError::WatchStages(other.into())),
        };
        let mut names = Vec::new();
        for entry in log_group_names.unwrap_or_default().split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = |why| SelectError::GroupName(entry.into(), why);
            let pattern = NamePattern::parse(entry).ok_or_else(|| bad("a name, or a prefix ending in a single `*`"))?;
            if pattern.text.is_empty() {
                return Err(bad("a prefix must not be empty: `*` alone would watch every log group"));
            }
            if pattern.text.len() > MAX_GROUP_NAME || !pattern.text.chars().all(group_char) {
                return Err(bad("1 to 512 of the characters a-z A-Z 0-9 . - _ / #"));
            }
            names.push(pattern);
        }
        names.sort();
        names.dedup();
        let stage_filter = StageFilter::parse(stage_filter.unwrap_or_default())?;
        Ok(Selection { all_stages, stage_filter, names, excluded: BTreeSet::new() })
    }

    /// The same selection, never watching `groups` (the function's own log groups).
    pub fn excluding(mut self, groups: impl IntoIterator<Item = String>) -> Selection {
        self.excluded.extend(groups);
        self
    }

    /// Groups named outright.
    pub fn exact_names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().filter(|p| !p.prefix).map(|p| p.text.as_str())
    }

    /// Name prefixes, to resolve by listing log groups.
    pub fn prefixes(&self) -> impl Iterator<Item = &str> {
        self.names.iter().filter(|p| p.prefix).map(|p| p.text.as_str())
    }

    /// True when `group` may be watched (it is not one of the function's own).
    pub fn allows(&self, group: &str) -> bool {
        !self.excluded.contains(group)
    }

    /// The group `stage` logs to, when it is to be watched: `WATCH_STAGES=all`, kept by the filter,
    /// access logs on to a CloudWatch Logs group the selection allows.
    pub fn stage_group<'s>(&self, stage: &'s StageInfo) -> Option<&'s str> {
        if !self.all_stages || !self.stage_filter.keeps_stage(stage) {
            return None;
        }
        let group = log_group_of_arn(stage.destination_arn.as_deref()?)?;
        self.allows(group).then_some(group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::deployment::ApiKind;

    fn stage(api: &str, arn: Option<&str>, tags: &[(&str, &str)]) -> StageInfo {
        StageInfo {
            kind: ApiKind::Rest,
            api_id: format!("{api}-id"),
            api_name: api.into(),
            stage: "prod".into(),
            destination_arn: arn.map(Into::into),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    const ARN: &str = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/apigateway/orders:*";

    #[test]
    fn every_logging_stage_unless_opted_out() {
        let s = Selection::parse(None, None, None).unwrap();
        assert!(s.all_stages);
        assert_eq!(s.stage_group(&stage("orders", Some(ARN), &[])), Some("/aws/apigateway/orders"));
        assert_eq!(s.stage_group(&stage("orders", None, &[])), None, "no access logging");
        assert_eq!(s.stage_group(&stage("orders", Some(ARN), &[("apigw-4xx", "off")])), None, "opted out");
        assert_eq!(s.stage_group(&stage("orders", Some(ARN), &[("apigw-4xx", "on")])), Some("/aws/apigateway/orders"));
        let firehose = "arn:aws:firehose:us-east-1:123456789012:deliverystream/amazon-apigateway-x";
        assert_eq!(s.stage_group(&stage("orders", Some(firehose), &[])), None, "not CloudWatch Logs");
        let none = Selection::parse(Some("none"), None, None).unwrap();
        assert_eq!(none.stage_group(&stage("orders", Some(ARN), &[])), None);
        let own = s.clone().excluding(["/aws/apigateway/orders".to_string()]);
        assert_eq!(own.stage_group(&stage("orders", Some(ARN), &[])), None, "the function's own group");
    }

    #[test]
    fn stage_filter_names_apis_and_opts_out_by_tag() {
        let s = Selection::parse(Some("ALL"), Some("orders-*, billing, team=legacy"), None).unwrap();
        assert!(s.stage_group(&stage("orders-eu", Some(ARN), &[])).is_some());
        assert!(s.stage_group(&stage("billing", Some(ARN), &[])).is_some());
        assert!(s.stage_group(&stage("billing-2", Some(ARN), &[])).is_none(), "exact name");
        assert!(s.stage_group(&stage("orders-eu", Some(ARN), &[("team", "legacy")])).is_none());
        assert!(s.stage_group(&stage("orders-eu", Some(ARN), &[("apigw-4xx", "off")])).is_none(), "always");
        let api = |name: &str, tags: &[(&str, &str)]| ApiRef {
            kind: ApiKind::Http,
            id: "a".into(),
            name: name.into(),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        assert!(s.stage_filter.keeps_api(&api("orders-us", &[])));
        assert!(!s.stage_filter.keeps_api(&api("payments", &[])), "its stages are not even listed");
        assert!(!s.stage_filter.keeps_api(&api("orders-us", &[("apigw-4xx", "off")])));
        assert_eq!(
            StageFilter::parse("a*b").unwrap_err().to_string().split(':').next(),
            Some("STAGE_FILTER term \"a*b\"")
        );
        assert!(StageFilter::parse("=off").is_err());
        assert_eq!(StageFilter::parse(" , ").unwrap(), StageFilter::default());
    }

    #[test]
    fn log_group_names_any_number_with_prefixes() {
        let names: Vec<String> = (0..40).map(|i| format!("/aws/apigateway/api-{i}")).collect();
        let s = Selection::parse(Some("none"), None, Some(&format!("{}, /aws/http/*,", names.join(",")))).unwrap();
        assert_eq!(s.exact_names().count(), 40);
        assert_eq!(s.prefixes().collect::<Vec<_>>(), ["/aws/http/"]);
        let err = |v: &str| Selection::parse(None, None, Some(v)).unwrap_err().to_string();
        assert!(err("*").contains("every log group"), "{}", err("*"));
        assert!(err("/a b").contains("1 to 512"), "{}", err("/a b"));
        assert!(err(&"a".repeat(513)).contains("1 to 512"));
        assert!(err("/a*b").contains("prefix ending"));
        assert!(Selection::parse(Some("some"), None, None).unwrap_err().to_string().starts_with("WATCH_STAGES="));
    }
}
