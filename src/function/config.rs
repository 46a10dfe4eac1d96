//! The function's configuration: environment variables, validated once at start-up with one clear
//! line per problem.

use crate::access_log::{LineParser, Template};
use crate::base::time::{DEFAULT_WINDOW_MINUTES, MAX_WINDOW_MINUTES, MIN_WINDOW_MINUTES};
use crate::ingest::decode::{Limits, DEFAULT_MAX_INNER_BYTES};
use crate::judge::baseline::SpikeFactor;
use crate::judge::finding::Rules;
use crate::judge::group_rules::GroupRules;
use crate::judge::recommendation::ADVISED_CODES;
use crate::judge::severity::{IgnoredStatuses, Thresholds};
use crate::metrics::contract::{self, DEFAULT_NAMESPACE};
use crate::render::alert::AlertFormat;

/// The defaults the template must state, from their one home each (`bootstrap --print-defaults`
/// prints this, so a test of the template generator can compare).
pub fn defaults_json() -> String {
    let t = Thresholds::default();
    serde_json::json!({
        "ElevatedPercent": t.elevated.to_string().trim_end_matches('%'),
        "HighPercent": t.high.to_string().trim_end_matches('%'),
        "MinRequests": t.min_requests,
        "WindowMinutes": {"Default": DEFAULT_WINDOW_MINUTES, "MinValue": MIN_WINDOW_MINUTES, "MaxValue": MAX_WINDOW_MINUTES},
        "MetricNamespace": DEFAULT_NAMESPACE,
        "MaxInnerMiB": DEFAULT_MAX_INNER_BYTES >> 20,
        "TrackedStatusCodes": DEFAULT_TRACKED,
        "Metrics": {
            "Requests": contract::REQUESTS,
            "ClientErrors": contract::CLIENT_ERRORS,
            "UnparsedLines": contract::UNPARSED_LINES,
            "AlertsPublished": contract::ALERTS_PUBLISHED,
        },
        "Dimensions": {
            "LogGroup": contract::LOG_GROUP,
            "StatusCode": contract::STATUS_CODE,
            "Severity": contract::SEVERITY,
        },
        "PeriodSeconds": DEFAULT_WINDOW_MINUTES * 60,
    })
    .to_string()
}

/// 4xx codes with a metric of their own unless `TRACKED_STATUS_CODES` says otherwise: those the
/// recommendation has advice for.
pub const DEFAULT_TRACKED: [u16; ADVISED_CODES.len()] = ADVISED_CODES;

/// Everything the function is told by its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ALERT_TOPIC_ARN` (required).
    pub alert_topic_arn: String,
    /// `METRIC_NAMESPACE`, default `ApiGateway4xx`.
    pub namespace: String,
    /// `WINDOW_MINUTES`, default 5.
    pub window_minutes: u32,
    /// `ELEVATED_PERCENT`, `HIGH_PERCENT`, `MIN_REQUESTS`, `IGNORE_STATUS`.
    pub rules: Rules,
    /// `TRACKED_STATUS_CODES`: 4xx codes with their own `StatusCode` dimension (plus the ignored ones).
    pub tracked: Vec<u16>,
    /// `ACCESS_LOG_FORMAT`: the stage's template, or detection when unset.
    pub parser: LineParser,
    /// `ALERT_FORMAT`: `text` (default) or `chat`.
    pub alert_format: AlertFormat,
    /// `NOTIFY_RECOVERY`, default true.
    pub notify_recovery: bool,
    /// `MAX_INNER_MIB`, default 64: cap on one decompressed payload.
    pub limits: Limits,
    /// `AWS_REGION`, for console links.
    pub region: String,
    /// `GROUP_RULES`: levels per log group over `rules` (see [`GroupRules`]).
    pub group_rules: GroupRules,
    /// `SPIKE_FACTOR`: off (the default), or how many times its 7-day baseline a window must reach to
    /// alert ELEVATED under the fixed level.
    pub spike_factor: Option<SpikeFactor>,
    /// `DEPLOYMENT_LOOKUP`, default true: name the stage's current deployment in alerts.
    pub deployment_lookup: bool,
}

/// A configuration problem, named after its variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("{0} is required but not set")]
    Missing(&'static str),
    /// A variable's value is unusable.
    #[error("{name}={value:?}: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        reason: String,
    },
}

impl Config {
    /// Reads the configuration through `var` (the process environment in production).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        fn parsed<T: std::str::FromStr>(name: &'static str, value: Option<String>, default: T) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            match value {
                None => Ok(default),
                Some(v) => {
                    v.parse().map_err(|e: T::Err| ConfigError::Invalid { name, value: v, reason: e.to_string() })
                }
            }
        }
        let invalid = |name: &'static str, value: &str, reason: String| ConfigError::Invalid {
            name,
            value: value.to_string(),
            reason,
        };
        let alert_topic_arn = get("ALERT_TOPIC_ARN").ok_or(ConfigError::Missing("ALERT_TOPIC_ARN"))?;
        let window_minutes: u32 = parsed("WINDOW_MINUTES", get("WINDOW_MINUTES"), DEFAULT_WINDOW_MINUTES)?;
        if !(MIN_WINDOW_MINUTES..=MAX_WINDOW_MINUTES).contains(&window_minutes) {
            let reason = format!("must be {MIN_WINDOW_MINUTES} to {MAX_WINDOW_MINUTES}");
            return Err(invalid("WINDOW_MINUTES", &window_minutes.to_string(), reason));
        }
        let defaults = Thresholds::default();
        let thresholds = Thresholds {
            elevated: parsed("ELEVATED_PERCENT", get("ELEVATED_PERCENT"), defaults.elevated)?,
            high: parsed("HIGH_PERCENT", get("HIGH_PERCENT"), defaults.high)?,
            min_requests: parsed("MIN_REQUESTS", get("MIN_REQUESTS"), defaults.min_requests)?,
        }
        .validate()
        .map_err(|reason| {
            // Name the level the user set: the one a default cannot be blamed for.
            let name = match (get("ELEVATED_PERCENT"), get("HIGH_PERCENT")) {
                (None, Some(_)) => "HIGH_PERCENT",
                _ => "ELEVATED_PERCENT",
            };
            invalid(name, &get(name).unwrap_or_default(), reason)
        })?;
        let ignored: IgnoredStatuses = parsed("IGNORE_STATUS", get("IGNORE_STATUS"), IgnoredStatuses::default())?;
        let mut tracked = match get("TRACKED_STATUS_CODES") {
            None => DEFAULT_TRACKED.to_vec(),
            Some(v) => v
                .parse::<IgnoredStatuses>()
                .map_err(|reason| invalid("TRACKED_STATUS_CODES", &v, reason))?
                .codes()
                .to_vec(),
        };
        tracked.extend_from_slice(ignored.codes());
        let rules = Rules { thresholds, ignored };
        let group_rules = match get("GROUP_RULES") {
            None => GroupRules::new(rules.clone()),
            Some(v) => GroupRules::parse(&v, rules.clone()).map_err(|e| invalid("GROUP_RULES", &v, e.to_string()))?,
        };
        // Every ignored code has a metric of its own, so baselines and `history` can leave it out.
        tracked.extend(group_rules.ignored_codes());
        let spike_factor = match get("SPIKE_FACTOR") {
            None => None,
            Some(v) => Some(v.parse().map_err(|reason| invalid("SPIKE_FACTOR", &v, reason))?),
        };
        let deployment_lookup = match get("DEPLOYMENT_LOOKUP").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(other) => return Err(invalid("DEPLOYMENT_LOOKUP", other, "must be true or false".into())),
        };
        tracked.sort_unstable();
        tracked.dedup();
        let parser = match get("ACCESS_LOG_FORMAT") {
            None => LineParser::Auto,
            Some(t) => LineParser::Template(
                Template::compile(&t).map_err(|e| invalid("ACCESS_LOG_FORMAT", &t, e.to_string()))?,
            ),
        };
        let alert_format = match get("ALERT_FORMAT").as_deref() {
            None | Some("text") => AlertFormat::Text,
            Some("chat") => AlertFormat::Chat,
            Some(other) => return Err(invalid("ALERT_FORMAT", other, "must be text or chat".into())),
        };
        let notify_recovery = match get("NOTIFY_RECOVERY").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(other) => return Err(invalid("NOTIFY_RECOVERY", other, "must be true or false".into())),
        };
        let max_inner_mib: u64 = parsed("MAX_INNER_MIB", get("MAX_INNER_MIB"), DEFAULT_MAX_INNER_BYTES >> 20)?;
        Ok(Config {
            alert_topic_arn,
            namespace: get("METRIC_NAMESPACE").unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
            window_minutes,
            rules,
            tracked,
            parser,
            alert_format,
            notify_recovery,
            limits: Limits { max_inner_bytes: max_inner_mib.saturating_mul(1024 * 1024), ..Limits::default() },
            region: get("AWS_REGION").unwrap_or_else(|| "us-east-1".into()),
            group_rules,
            spike_factor,
            deployment_lookup,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults() {
        let c = config(&[("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:t")]).unwrap();
        assert_eq!((c.window_minutes, c.namespace.as_str(), c.notify_recovery), (5, "ApiGateway4xx", true));
        assert_eq!(c.rules.thresholds, Thresholds::default());
        assert_eq!(c.tracked, DEFAULT_TRACKED);
        assert_eq!(c.alert_format, AlertFormat::Text);
    }

    #[test]
    fn errors_name_the_variable() {
        assert_eq!(config(&[]).unwrap_err().to_string(), "ALERT_TOPIC_ARN is required but not set");
        let arn = ("ALERT_TOPIC_ARN", "arn");
        assert!(config(&[arn, ("WINDOW_MINUTES", "five")])
            .unwrap_err()
            .to_string()
            .starts_with("WINDOW_MINUTES=\"five\""));
        assert!(config(&[arn, ("HIGH_PERCENT", "5")]).unwrap_err().to_string().contains("must be below"));
        assert!(config(&[arn, ("ALERT_FORMAT", "pager")]).unwrap_err().to_string().contains("text or chat"));
        assert!(config(&[arn, ("ACCESS_LOG_FORMAT", "$context.path")])
            .unwrap_err()
            .to_string()
            .contains("no $context.status"));
        assert!(config(&[arn, ("WINDOW_MINUTES", "0")]).is_err());
    }

    #[test]
    fn group_rules_spike_factor_and_lookup_switch() {
        let arn = ("ALERT_TOPIC_ARN", "a");
        let c = config(&[
            arn,
            ("GROUP_RULES", r#"{"/p-*": {"elevated_percent": 1, "high_percent": 5, "ignore_status": [418]}}"#),
        ])
        .unwrap();
        assert_eq!(c.group_rules.for_group("/p-1").thresholds.high, crate::judge::severity::Percent::whole(5));
        assert_eq!(c.group_rules.for_group("/q").thresholds, Thresholds::default());
        assert!(c.tracked.contains(&418), "a group's ignored code gets its own metric");
        assert_eq!((c.spike_factor, c.deployment_lookup), (None, true));
        let e = config(&[arn, ("GROUP_RULES", r#"{"/p": {"high": 5}}"#)]).unwrap_err().to_string();
        assert!(e.starts_with("GROUP_RULES=") && e.contains("unknown key \"high\"") && !e.contains('\n'), "{e}");
        assert!(config(&[arn, ("GROUP_RULES", "{")]).unwrap_err().to_string().contains("not a JSON object"));
        assert!(config(&[arn, ("SPIKE_FACTOR", "0.5")]).unwrap_err().to_string().starts_with("SPIKE_FACTOR="));
        assert_eq!(config(&[arn, ("SPIKE_FACTOR", "5")]).unwrap().spike_factor, Some("5".parse().unwrap()));
        assert!(!config(&[arn, ("DEPLOYMENT_LOOKUP", "false")]).unwrap().deployment_lookup);
        assert!(config(&[arn, ("DEPLOYMENT_LOOKUP", "maybe")]).is_err());
    }

    #[test]
    fn ignored_codes_are_tracked() {
        let c = config(&[("ALERT_TOPIC_ARN", "a"), ("IGNORE_STATUS", "418"), ("TRACKED_STATUS_CODES", "403")]).unwrap();
        assert_eq!(c.tracked, vec![403, 418]);
    }

    #[test]
    fn crossed_levels_name_the_variable_that_was_set() {
        let err = |vars: &[(&str, &str)]| config(vars).unwrap_err().to_string();
        let high = err(&[("ALERT_TOPIC_ARN", "a"), ("HIGH_PERCENT", "5")]);
        assert!(high.starts_with("HIGH_PERCENT=\"5\""), "{high}");
        let elevated = err(&[("ALERT_TOPIC_ARN", "a"), ("ELEVATED_PERCENT", "30")]);
        assert!(elevated.starts_with("ELEVATED_PERCENT=\"30\""), "{elevated}");
        let both = err(&[("ALERT_TOPIC_ARN", "a"), ("ELEVATED_PERCENT", "30"), ("HIGH_PERCENT", "20")]);
        assert!(both.starts_with("ELEVATED_PERCENT=\"30\"") && both.contains("(20%)"), "{both}");
    }
}
