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
use crate::metrics::contract::{self, namespace_problem, DEFAULT_NAMESPACE, NAMESPACE_PATTERN};
use crate::render::alert::AlertFormat;

/// The defaults the template must state, from their one home each (`bootstrap --print-defaults`
/// prints this; tests/lambda.rs checks every metric name, dimension, namespace and period of
/// template.yaml against it).
pub fn defaults_json() -> String {
    let t = Thresholds::default();
    serde_json::json!({
        "ElevatedPercent": t.elevated.to_string().trim_end_matches('%'),
        "HighPercent": t.high.to_string().trim_end_matches('%'),
        "MinRequests": t.min_requests,
        "WindowMinutes": {"Default": DEFAULT_WINDOW_MINUTES, "MinValue": MIN_WINDOW_MINUTES, "MaxValue": MAX_WINDOW_MINUTES},
        "MetricNamespace": DEFAULT_NAMESPACE,
        "MetricNamespacePattern": NAMESPACE_PATTERN,
        "MaxInnerMiB": DEFAULT_MAX_INNER_BYTES >> 20,
        "TrackedStatusCodes": DEFAULT_TRACKED,
        "Metrics": {
            "Requests": contract::REQUESTS,
            "ClientErrors": contract::CLIENT_ERRORS,
            "UnparsedLines": contract::UNPARSED_LINES,
            "AlertsPublished": contract::ALERTS_PUBLISHED,
            "WatchedLogGroups": contract::WATCHED_LOG_GROUPS,
            "UnwatchableLogGroups": contract::UNWATCHABLE_LOG_GROUPS,
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

/// `MAX_INNER_MIB` bounds: at least a MiB, at most Lambda's largest memory size (10,240 MB), past
/// which the cap could protect nothing.
pub const MAX_INNER_MIB: std::ops::RangeInclusive<u64> = 1..=10_240;

/// Longest part of a value echoed back in an error, in characters (longer ones end in `…`), so that
/// a 7 KB `GROUP_RULES` cannot swell the one error line.
const MAX_ECHO_CHARS: usize = 100;
/// Longest reason, in characters: reasons quote the value's parts (a JSON key, a code).
const MAX_REASON_CHARS: usize = 200;

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
        /// Its value, at most [`MAX_ECHO_CHARS`] characters of it.
        value: String,
        /// What is wrong, at most [`MAX_REASON_CHARS`] characters.
        reason: String,
    },
}

impl ConfigError {
    /// `name`'s `value` is unusable for `reason`: both cut to their echo lengths.
    pub fn invalid(name: &'static str, value: &str, reason: impl Into<String>) -> ConfigError {
        // The value is shown escaped ({:?}); the reason as it is, so it is kept to one line here.
        let reason = reason.into().replace(char::is_control, " ");
        ConfigError::Invalid { name, value: echo(value, MAX_ECHO_CHARS), reason: echo(&reason, MAX_REASON_CHARS) }
    }

    /// The variable at fault.
    pub fn variable(&self) -> &'static str {
        match self {
            ConfigError::Missing(name) | ConfigError::Invalid { name, .. } => name,
        }
    }
}

/// `text` cut to `max` characters, ending in `…` when cut.
fn echo(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

/// Why `arn` cannot be the alert topic: not `arn:PARTITION:sns:REGION:ACCOUNT:NAME` (SNS topic
/// names: 1 to 256 letters, digits, `-` and `_`; CreateTopic reference), a FIFO topic (its
/// messages need a group id, which alerts do not carry), or in another region than the function
/// (`region`, when known: SNS answers every Publish with "Invalid parameter: TopicArn").
fn topic_arn_problem(arn: &str, region: Option<&str>) -> Option<String> {
    let shape = "not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)";
    let parts: Vec<&str> = arn.split(':').collect();
    let ["arn", partition, "sns", topic_region, account, name] = parts[..] else {
        return Some(shape.into());
    };
    let word = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !partition.starts_with("aws") || !word(partition) || !word(topic_region) {
        return Some(shape.into());
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Some("the account must be 12 digits".into());
    }
    if name.ends_with(".fifo") {
        return Some("a FIFO topic: alerts carry no message group id, use a standard topic".into());
    }
    if name.is_empty() || name.len() > 256 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) {
        return Some("the topic name must be 1 to 256 letters, digits, - or _".into());
    }
    match region {
        Some(r) if r != topic_region => Some(format!(
            "the topic is in {topic_region} and the function in {r}: SNS refuses every publish across regions"
        )),
        _ => None,
    }
}

/// What the function and the sweep both write to: the alert topic, the metric namespace, how
/// messages are written, and the Region (for links). Read and checked the same way by both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outputs {
    /// `ALERT_TOPIC_ARN` (required): an SNS standard topic in the function's Region.
    pub alert_topic_arn: String,
    /// `METRIC_NAMESPACE`, default `ApiGateway4xx`.
    pub namespace: String,
    /// `ALERT_FORMAT`: `text` (default) or `chat`.
    pub alert_format: AlertFormat,
    /// `AWS_REGION`, default `us-east-1`.
    pub region: String,
}

impl Outputs {
    /// Reads the four variables through `get` (values trimmed, empty as unset).
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Outputs, ConfigError> {
        let region = get("AWS_REGION");
        let alert_topic_arn = get("ALERT_TOPIC_ARN").ok_or(ConfigError::Missing("ALERT_TOPIC_ARN"))?;
        if let Some(reason) = topic_arn_problem(&alert_topic_arn, region.as_deref()) {
            return Err(ConfigError::invalid("ALERT_TOPIC_ARN", &alert_topic_arn, reason));
        }
        let namespace = get("METRIC_NAMESPACE").unwrap_or_else(|| DEFAULT_NAMESPACE.into());
        if let Some(reason) = namespace_problem(&namespace) {
            return Err(ConfigError::invalid("METRIC_NAMESPACE", &namespace, reason));
        }
        let alert_format = match get("ALERT_FORMAT").as_deref() {
            None | Some("text") => AlertFormat::Text,
            Some("chat") => AlertFormat::Chat,
            Some(other) => return Err(ConfigError::invalid("ALERT_FORMAT", other, "must be text or chat")),
        };
        Ok(Outputs { alert_topic_arn, namespace, alert_format, region: region.unwrap_or_else(|| "us-east-1".into()) })
    }
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
                Some(v) => v.parse().map_err(|e: T::Err| ConfigError::invalid(name, &v, e.to_string())),
            }
        }
        let invalid = |name: &'static str, value: &str, reason: String| ConfigError::invalid(name, value, reason);
        let Outputs { alert_topic_arn, namespace, alert_format, region } = Outputs::from_lookup(&get)?;
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
        let notify_recovery = match get("NOTIFY_RECOVERY").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(other) => return Err(invalid("NOTIFY_RECOVERY", other, "must be true or false".into())),
        };
        let max_inner_mib: u64 = parsed("MAX_INNER_MIB", get("MAX_INNER_MIB"), DEFAULT_MAX_INNER_BYTES >> 20)?;
        if !MAX_INNER_MIB.contains(&max_inner_mib) {
            let reason = format!("must be {} to {} (MiB)", MAX_INNER_MIB.start(), MAX_INNER_MIB.end());
            return Err(invalid("MAX_INNER_MIB", &max_inner_mib.to_string(), reason));
        }
        Ok(Config {
            alert_topic_arn,
            namespace,
            window_minutes,
            rules,
            tracked,
            parser,
            alert_format,
            notify_recovery,
            limits: Limits { max_inner_bytes: max_inner_mib << 20, ..Limits::default() },
            region,
            group_rules,
            spike_factor,
            deployment_lookup,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: (&str, &str) = ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts");

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    /// The error for `vars` over a valid topic ARN.
    fn refused(vars: &[(&str, &str)]) -> ConfigError {
        let mut all = vec![ARN];
        all.extend_from_slice(vars);
        config(&all).unwrap_err()
    }

    #[test]
    fn defaults() {
        let c = config(&[ARN]).unwrap();
        assert_eq!((c.window_minutes, c.namespace.as_str(), c.notify_recovery), (5, "ApiGateway4xx", true));
        assert_eq!(c.rules.thresholds, Thresholds::default());
        assert_eq!(c.tracked, DEFAULT_TRACKED);
        assert_eq!(c.alert_format, AlertFormat::Text);
        assert_eq!(c.limits.max_inner_bytes, DEFAULT_MAX_INNER_BYTES);
    }

    #[test]
    fn errors_name_the_variable() {
        assert_eq!(config(&[]).unwrap_err().to_string(), "ALERT_TOPIC_ARN is required but not set");
        assert!(refused(&[("WINDOW_MINUTES", "five")]).to_string().starts_with("WINDOW_MINUTES=\"five\""));
        assert!(refused(&[("HIGH_PERCENT", "5")]).to_string().contains("must be below"));
        assert!(refused(&[("ALERT_FORMAT", "pager")]).to_string().contains("text or chat"));
        assert!(refused(&[("ACCESS_LOG_FORMAT", "$context.path")]).to_string().contains("no $context.status"));
        assert_eq!(refused(&[("WINDOW_MINUTES", "0")]).variable(), "WINDOW_MINUTES");
    }

    #[test]
    fn the_topic_arn_has_an_sns_topics_shape() {
        let problem = |arn: &str| topic_arn_problem(arn, None);
        for ok in [
            "arn:aws:sns:us-east-1:123456789012:alerts",
            "arn:aws-us-gov:sns:us-gov-west-1:123456789012:a_b-C9",
            "arn:aws-cn:sns:cn-north-1:123456789012:t",
        ] {
            assert_eq!(problem(ok), None, "{ok}");
        }
        let long = format!("arn:aws:sns:us-east-1:123456789012:{}", "n".repeat(257));
        for (bad, why) in [
            ("not-an-arn", "not an SNS topic ARN"),
            ("arn:aws:sqs:us-east-1:123456789012:q", "not an SNS topic ARN"),
            ("arn:aws:sns:us-east-1:123456789012:t:sub-id", "not an SNS topic ARN"),
            ("arn:gcp:sns:us-east-1:123456789012:t", "not an SNS topic ARN"),
            ("arn:aws:sns::123456789012:t", "not an SNS topic ARN"),
            ("arn:aws:sns:us-east-1:12345:t", "12 digits"),
            ("arn:aws:sns:us-east-1:123456789012:", "1 to 256"),
            ("arn:aws:sns:us-east-1:123456789012:a b", "1 to 256"),
            (long.as_str(), "1 to 256"),
            ("arn:aws:sns:us-east-1:123456789012:t.fifo", "FIFO"),
        ] {
            assert!(problem(bad).is_some_and(|p| p.contains(why)), "{bad}: {:?}", problem(bad));
        }
        assert_eq!(topic_arn_problem(ARN.1, Some("us-east-1")), None);
        assert!(topic_arn_problem(ARN.1, Some("eu-west-1")).is_some_and(|p| p.contains("across regions")));
        let e = config(&[ARN, ("AWS_REGION", "eu-west-1")]).unwrap_err();
        assert_eq!(e.variable(), "ALERT_TOPIC_ARN");
    }

    #[test]
    fn max_inner_mib_is_one_to_lambdas_largest_memory() {
        assert_eq!(config(&[ARN, ("MAX_INNER_MIB", "1")]).unwrap().limits.max_inner_bytes, 1 << 20);
        assert_eq!(config(&[ARN, ("MAX_INNER_MIB", "10240")]).unwrap().limits.max_inner_bytes, 10_240 << 20);
        assert_eq!(refused(&[("MAX_INNER_MIB", "0")]).to_string(), "MAX_INNER_MIB=\"0\": must be 1 to 10240 (MiB)");
        assert_eq!(refused(&[("MAX_INNER_MIB", "10241")]).variable(), "MAX_INNER_MIB");
        assert_eq!(refused(&[("MAX_INNER_MIB", "-1")]).variable(), "MAX_INNER_MIB");
    }

    #[test]
    fn a_namespace_cloudwatch_would_drop_is_refused() {
        assert_eq!(config(&[ARN, ("METRIC_NAMESPACE", "Team/Api4xx")]).unwrap().namespace, "Team/Api4xx");
        let e = refused(&[("METRIC_NAMESPACE", "AWS/ApiGateway")]);
        assert_eq!(
            e.to_string(),
            "METRIC_NAMESPACE=\"AWS/ApiGateway\": namespaces starting with AWS/ are reserved for AWS services"
        );
        assert_eq!(refused(&[("METRIC_NAMESPACE", &"N".repeat(300))]).variable(), "METRIC_NAMESPACE");
        assert_eq!(refused(&[("METRIC_NAMESPACE", "Api Gateway")]).variable(), "METRIC_NAMESPACE");
    }

    #[test]
    fn echoed_values_and_reasons_are_capped() {
        // 300 levels deep: serde_json's recursion limit (128) refuses it; the value is 7 KB.
        let deep = format!("{}{}", r#"{"a":"#.repeat(1200), "}".repeat(1200));
        let e = refused(&[("GROUP_RULES", &deep)]).to_string();
        assert!(e.starts_with("GROUP_RULES=\"{\\\"a\\\":"), "{e}");
        assert!(e.chars().count() < 400 && !e.contains('\n'), "{} chars: {e}", e.chars().count());
        assert!(e.contains("…\""), "the cut is shown: {e}");
        // A 5 KB key is quoted by the reason: cut too.
        let key = "k".repeat(5000);
        let e = refused(&[("GROUP_RULES", &format!(r#"{{"/g": {{"{key}": 1}}}}"#))]).to_string();
        assert!(e.chars().count() < 400 && e.ends_with('…'), "{e}");
        assert_eq!(echo("abc", 3), "abc");
        assert_eq!(echo("abcd", 3), "abc…");
        assert_eq!(echo("ééé", 2), "éé…", "cut on characters, not bytes");
    }

    #[test]
    fn group_rules_spike_factor_and_lookup_switch() {
        let c = config(&[
            ARN,
            ("GROUP_RULES", r#"{"/p-*": {"elevated_percent": 1, "high_percent": 5, "ignore_status": [418]}}"#),
        ])
        .unwrap();
        assert_eq!(c.group_rules.for_group("/p-1").thresholds.high, crate::judge::severity::Percent::whole(5));
        assert_eq!(c.group_rules.for_group("/q").thresholds, Thresholds::default());
        assert!(c.tracked.contains(&418), "a group's ignored code gets its own metric");
        assert_eq!((c.spike_factor, c.deployment_lookup), (None, true));
        let e = refused(&[("GROUP_RULES", r#"{"/p": {"high": 5}}"#)]).to_string();
        assert!(e.starts_with("GROUP_RULES=") && e.contains("unknown key \"high\"") && !e.contains('\n'), "{e}");
        assert!(refused(&[("GROUP_RULES", "{")]).to_string().contains("not a JSON object"));
        let twice = refused(&[("GROUP_RULES", r#"{"/p": {"min_requests": 5}, "/p": {"min_requests": 50}}"#)]);
        assert!(twice.to_string().contains("\"/p\" is given twice"), "{twice}");
        assert!(refused(&[("SPIKE_FACTOR", "0.5")]).to_string().starts_with("SPIKE_FACTOR="));
        assert_eq!(config(&[ARN, ("SPIKE_FACTOR", "5")]).unwrap().spike_factor, Some("5".parse().unwrap()));
        assert!(!config(&[ARN, ("DEPLOYMENT_LOOKUP", "false")]).unwrap().deployment_lookup);
        assert_eq!(refused(&[("DEPLOYMENT_LOOKUP", "maybe")]).variable(), "DEPLOYMENT_LOOKUP");
    }

    #[test]
    fn ignored_codes_are_tracked() {
        let c = config(&[ARN, ("IGNORE_STATUS", "418"), ("TRACKED_STATUS_CODES", "403")]).unwrap();
        assert_eq!(c.tracked, vec![403, 418]);
    }

    #[test]
    fn crossed_levels_name_the_variable_that_was_set() {
        let err = |vars: &[(&str, &str)]| refused(vars).to_string();
        let high = err(&[("HIGH_PERCENT", "5")]);
        assert!(high.starts_with("HIGH_PERCENT=\"5\""), "{high}");
        let elevated = err(&[("ELEVATED_PERCENT", "30")]);
        assert!(elevated.starts_with("ELEVATED_PERCENT=\"30\""), "{elevated}");
        let both = err(&[("ELEVATED_PERCENT", "30"), ("HIGH_PERCENT", "20")]);
        assert!(both.starts_with("ELEVATED_PERCENT=\"30\"") && both.contains("(20%)"), "{both}");
    }
}
