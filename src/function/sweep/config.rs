//! The sweep's configuration: environment variables of the sweep function, validated once, one
//! clear line per problem (the variable named).

use crate::function::config::{ConfigError, Outputs};
use crate::watch::pace::{DEFAULT_APIGATEWAY_PER_SECOND, DEFAULT_LOGS_PER_SECOND, MAX_PER_SECOND};
use crate::watch::plan::Target;
use crate::watch::select::Selection;

/// The variable whose presence makes the function the sweep (the same binary, another mode).
pub const STATE_TABLE_VAR: &str = "SWEEP_STATE_TABLE";

/// The longest subscription filter name CloudWatch Logs accepts.
const MAX_FILTER_NAME: usize = 512;

/// Everything the sweep is told by its environment.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// `SWEEP_STATE_TABLE`: the DynamoDB table of the sweep's state.
    pub table: String,
    /// `WATCH_STAGES`, `STAGE_FILTER`, `LOG_GROUP_NAMES`; never the groups in `OWN_LOG_GROUPS`.
    pub selection: Selection,
    /// `SUBSCRIPTION_FILTER_NAME` and `DESTINATION_ARN`: this stack's filter.
    pub target: Target,
    /// `ALERT_TOPIC_ARN` (unwatchable groups are reported there), `METRIC_NAMESPACE` (for
    /// `WatchedLogGroups` and `UnwatchableLogGroups`), `ALERT_FORMAT`, `AWS_REGION`: as the function's.
    pub outputs: Outputs,
    /// `SWEEP_APIGATEWAY_PER_SECOND`, default 2, at most 10.
    pub apigateway_per_second: u32,
    /// `SWEEP_LOGS_PER_SECOND`, default 5, at most 10.
    pub logs_per_second: u32,
}

impl SweepConfig {
    /// Reads the configuration through `var` (the process environment in production).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<SweepConfig, ConfigError> {
        let get = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let invalid = |name: &'static str, value: &str, reason: String| ConfigError::invalid(name, value, reason);
        let rate = |name: &'static str, default: u32| -> Result<u32, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_PER_SECOND).contains(n))
                    .ok_or_else(|| invalid(name, &v, format!("must be a whole number from 1 to {MAX_PER_SECOND}"))),
            }
        };
        let selection = Selection::parse(
            get("WATCH_STAGES").as_deref(),
            get("STAGE_FILTER").as_deref(),
            get("LOG_GROUP_NAMES").as_deref(),
        )
        .map_err(|e| {
            let (name, value) = match &e {
                crate::watch::select::SelectError::WatchStages(v) => ("WATCH_STAGES", v.clone()),
                crate::watch::select::SelectError::StageFilter(_) => {
                    ("STAGE_FILTER", get("STAGE_FILTER").unwrap_or_default())
                }
                crate::watch::select::SelectError::GroupName(..) => {
                    ("LOG_GROUP_NAMES", get("LOG_GROUP_NAMES").unwrap_or_default())
                }
            };
            invalid(name, &value, e.to_string())
        })?
        .excluding(
            get("OWN_LOG_GROUPS")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(String::from),
        );
        let filter_name = required("SUBSCRIPTION_FILTER_NAME")?;
        if filter_name.len() > MAX_FILTER_NAME || filter_name.contains(':') || filter_name.contains('*') {
            return Err(invalid("SUBSCRIPTION_FILTER_NAME", &filter_name, "1 to 512 characters, no ':' or '*'".into()));
        }
        let destination_arn = required("DESTINATION_ARN")?;
        if !destination_arn.starts_with("arn:") || !destination_arn.contains(":lambda:") {
            return Err(invalid("DESTINATION_ARN", &destination_arn, "must be a Lambda function ARN".into()));
        }
        Ok(SweepConfig {
            table: required(STATE_TABLE_VAR)?,
            selection,
            target: Target { filter_name, destination_arn },
            outputs: Outputs::from_lookup(&get)?,
            apigateway_per_second: rate("SWEEP_APIGATEWAY_PER_SECOND", DEFAULT_APIGATEWAY_PER_SECOND)?,
            logs_per_second: rate("SWEEP_LOGS_PER_SECOND", DEFAULT_LOGS_PER_SECOND)?,
        })
    }

    /// What stack deletion needs when the full configuration does not read (a setting edited by
    /// hand, a failed update): the state table and this stack's filter name, which are all a
    /// deletion uses. Nothing is selected and nothing is published. `None` without those two.
    pub fn for_deletion(var: impl Fn(&str) -> Option<String>) -> Option<SweepConfig> {
        let get = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let filter_name = get("SUBSCRIPTION_FILTER_NAME")
            .filter(|n| n.len() <= MAX_FILTER_NAME && !n.contains(':') && !n.contains('*'))?;
        let region = get("AWS_REGION").unwrap_or_else(|| "us-east-1".into());
        Some(SweepConfig {
            table: get(STATE_TABLE_VAR)?,
            selection: Selection::parse(Some("none"), None, None).ok()?,
            target: Target { filter_name, destination_arn: get("DESTINATION_ARN").unwrap_or_default() },
            outputs: Outputs::from_lookup(&get).unwrap_or(Outputs {
                alert_topic_arn: String::new(),
                namespace: crate::metrics::contract::DEFAULT_NAMESPACE.into(),
                alert_format: crate::render::alert::AlertFormat::Text,
                region,
            }),
            apigateway_per_second: DEFAULT_APIGATEWAY_PER_SECOND,
            logs_per_second: DEFAULT_LOGS_PER_SECOND,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<SweepConfig, ConfigError> {
        let base = [
            ("SWEEP_STATE_TABLE", "t"),
            ("SUBSCRIPTION_FILTER_NAME", "apigw-4xx-stack"),
            ("DESTINATION_ARN", "arn:aws:lambda:us-east-1:123456789012:function:f"),
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:t"),
        ];
        let all: Vec<(String, String)> = base.iter().chain(vars).map(|(k, v)| (k.to_string(), v.to_string())).collect();
        SweepConfig::from_lookup(|k| all.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_and_errors_name_the_variable() {
        let c = config(&[("OWN_LOG_GROUPS", "/aws/lambda/a, /aws/lambda/b")]).unwrap();
        assert!(c.selection.all_stages);
        assert_eq!((c.apigateway_per_second, c.logs_per_second), (2, 5));
        assert!(!c.selection.allows("/aws/lambda/b"));
        let err = |vars: &[(&str, &str)]| config(vars).unwrap_err().to_string();
        assert!(err(&[("SWEEP_APIGATEWAY_PER_SECOND", "40")]).starts_with("SWEEP_APIGATEWAY_PER_SECOND=\"40\""));
        assert!(err(&[("STAGE_FILTER", "a*b")]).starts_with("STAGE_FILTER=\"a*b\""));
        assert!(err(&[("LOG_GROUP_NAMES", "/ok,*")]).starts_with("LOG_GROUP_NAMES=\"/ok,*\""));
        assert!(err(&[("WATCH_STAGES", "most")]).starts_with("WATCH_STAGES=\"most\""));
        assert!(err(&[("DESTINATION_ARN", "arn:aws:sqs:x")]).starts_with("DESTINATION_ARN="));
        assert_eq!(err(&[("SWEEP_STATE_TABLE", " ")]), "SWEEP_STATE_TABLE is required but not set");
        assert!(err(&[("METRIC_NAMESPACE", "AWS/x")]).starts_with("METRIC_NAMESPACE="), "checked as the function's");
        assert!(err(&[("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:t.fifo")]).contains("FIFO"));
    }
}
