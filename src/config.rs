//! The function's configuration: environment variables, validated once at start-up with one clear
//! line per problem.

use crate::access_log::{LineParser, Template};
use crate::decode::Limits;
use crate::finding::Rules;
use crate::severity::{IgnoredStatuses, Percent, Thresholds};

/// 4xx codes with a metric of their own unless `TRACKED_STATUS_CODES` says otherwise.
pub const DEFAULT_TRACKED: [u16; 10] = [400, 401, 403, 404, 405, 409, 413, 415, 422, 429];

/// How alerts are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFormat {
    /// Plain text, for email (and any subscriber).
    Text,
    /// Amazon Q Developer in chat applications custom-notification JSON.
    Chat,
}

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
        let window_minutes: u32 = parsed("WINDOW_MINUTES", get("WINDOW_MINUTES"), 5)?;
        if !(1..=1440).contains(&window_minutes) {
            return Err(invalid("WINDOW_MINUTES", &window_minutes.to_string(), "must be 1 to 1440".into()));
        }
        let thresholds = Thresholds {
            elevated: parsed("ELEVATED_PERCENT", get("ELEVATED_PERCENT"), Percent::whole(10))?,
            high: parsed("HIGH_PERCENT", get("HIGH_PERCENT"), Percent::whole(25))?,
            min_requests: parsed("MIN_REQUESTS", get("MIN_REQUESTS"), 100)?,
        }
        .validate()
        .map_err(|reason| invalid("ELEVATED_PERCENT", &get("ELEVATED_PERCENT").unwrap_or_default(), reason))?;
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
        let max_inner_mib: u64 = parsed("MAX_INNER_MIB", get("MAX_INNER_MIB"), 64)?;
        Ok(Config {
            alert_topic_arn,
            namespace: get("METRIC_NAMESPACE").unwrap_or_else(|| "ApiGateway4xx".into()),
            window_minutes,
            rules: Rules { thresholds, ignored },
            tracked,
            parser,
            alert_format,
            notify_recovery,
            limits: Limits { max_inner_bytes: max_inner_mib.saturating_mul(1024 * 1024), ..Limits::default() },
            region: get("AWS_REGION").unwrap_or_else(|| "us-east-1".into()),
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
    fn ignored_codes_are_tracked() {
        let c = config(&[("ALERT_TOPIC_ARN", "a"), ("IGNORE_STATUS", "418"), ("TRACKED_STATUS_CODES", "403")]).unwrap();
        assert_eq!(c.tracked, vec![403, 418]);
    }
}
