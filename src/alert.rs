//! The SNS message about a window: subject, body (the finding exactly as the CLI prints it, then the
//! window, log group and a Logs Insights query), attributes, and the chat-notification form.

use crate::alerting::{Action, WindowDecision};
use crate::config::AlertFormat;
use crate::finding::Rules;
use crate::time::{format_iso8601, EpochMillis};
use serde_json::json;

/// SNS accepts subjects under 100 characters; ASCII keeps every subscriber happy.
const MAX_SUBJECT: usize = 99;

/// A message ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertMessage {
    /// One ASCII line, at most 99 characters.
    pub subject: String,
    /// The message body (text, or the chat JSON).
    pub body: String,
    /// `severity` and `logGroup` message attributes, for subscription filter policies.
    pub attributes: Vec<(&'static str, String)>,
}

/// Builds the message for a decision that has an action (`None` otherwise).
pub fn message(
    d: &WindowDecision,
    rules: &Rules,
    window_minutes: u32,
    format: AlertFormat,
    query: &str,
    region: &str,
) -> Option<AlertMessage> {
    let action = d.action?;
    let (group, start) = (&d.key.0, d.key.1);
    let end = start + i64::from(window_minutes) * 60_000;
    let level = match action {
        Action::Alert(s) => s.as_str(),
        Action::Recovery => crate::metrics::RECOVERED,
    };
    let subject = subject(level, &d.finding.rate.percent_text(), group, window_minutes);
    let console = console_link(region, group);
    let mut finding = d.finding.to_text(rules);
    if action == Action::Recovery {
        finding
            .push_str("\n\nRecovered: the previous window alerted; this one is back at or below the ELEVATED level.");
    }
    let context = format!(
        "Window: {} to {} (UTC, {window_minutes} min)\nLog group: {group}",
        format_iso8601(start),
        format_iso8601(end)
    );
    let body = match format {
        AlertFormat::Text => format!(
            "{finding}\n\n{context}\n\nLogs Insights query (log group {group}, {} to {}):\n{query}\n\nOpen in the console: {console}",
            format_iso8601(start),
            format_iso8601(end)
        ),
        AlertFormat::Chat => chat(&subject, &finding, &context, query, &console, level, group, start),
    };
    Some(AlertMessage { subject, body, attributes: vec![("severity", level.to_string()), ("logGroup", group.clone())] })
}

/// `HIGH: 31.2% 4xx on /aws/apigateway/prod-access (5 min)`, ASCII, one line, ≤ 99 characters: a long
/// log group keeps its end (the distinctive part).
pub fn subject(level: &str, rate: &str, log_group: &str, window_minutes: u32) -> String {
    let clean: String = log_group.chars().map(|c| if c.is_ascii_graphic() { c } else { '?' }).collect();
    let head = format!("{level}: {rate} 4xx on ");
    let tail = format!(" ({window_minutes} min)");
    let room = MAX_SUBJECT.saturating_sub(head.len() + tail.len());
    let group =
        if clean.len() <= room { clean } else { format!("...{}", &clean[clean.len() - room.saturating_sub(3)..]) };
    format!("{head}{group}{tail}")
}

fn console_link(region: &str, log_group: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{}",
        log_group.replace('/', "$252F")
    )
}

#[allow(clippy::too_many_arguments)]
fn chat(
    subject: &str,
    finding: &str,
    context: &str,
    query: &str,
    console: &str,
    level: &str,
    group: &str,
    start: EpochMillis,
) -> String {
    json!({
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": subject,
            "description": format!("{finding}\n\n{context}\n\n```\n{query}\n```"),
            "nextSteps": [
                format!("Run the Logs Insights query on `{group}` for the window"),
                format!("Open the log group: {console}"),
            ],
        },
        "metadata": {
            "threadId": format!("apigw-4xx:{group}:{start}"),
            "summary": subject,
            "eventType": "Apigw4xxFinding",
            "additionalContext": { "severity": level, "logGroup": group },
        },
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::decide;
    use crate::finding::{ClientErrorCode, Totals};
    use std::collections::BTreeMap;

    fn decision() -> WindowDecision {
        let mut t = Totals { requests: 15_000, ..Totals::default() };
        for (c, n) in [(403, 2891), (400, 1204), (404, 585)] {
            t.client_errors.insert(ClientErrorCode::Status(c), n);
        }
        let key = ("/aws/apigateway/prod-access".to_string(), 1_764_000_000_000);
        decide(&BTreeMap::from([(key, t)]), &BTreeMap::new(), &BTreeMap::new(), &Rules::default(), 5, true).remove(0)
    }

    fn reference_alert(format: AlertFormat, region: &str) -> AlertMessage {
        let query = crate::insights::query(&Default::default(), None);
        message(&decision(), &Rules::default(), 5, format, &query, region).unwrap()
    }

    #[test]
    fn text_alert_carries_the_reference_finding() {
        let m = reference_alert(AlertFormat::Text, "eu-west-1");
        assert_eq!(m.subject, "HIGH: 31.2% 4xx on /aws/apigateway/prod-access (5 min)");
        assert!(m.body.starts_with("HIGH Elevated Client Error Rate (4xx)\n\n31.2% of API Gateway requests"));
        assert!(m.body.contains("Window: 2025-11-24T16:00:00Z to 2025-11-24T16:05:00Z (UTC, 5 min)"));
        assert!(m.body.contains("| filter code >= 400 and code <= 499"));
        assert!(m.body.contains("https://eu-west-1.console.aws.amazon.com/"));
        assert_eq!(m.attributes, vec![("severity", "HIGH".into()), ("logGroup", "/aws/apigateway/prod-access".into())]);
    }

    #[test]
    fn chat_alert_is_a_custom_notification() {
        let m = reference_alert(AlertFormat::Chat, "us-east-1");
        let v: serde_json::Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!((v["version"].as_str(), v["source"].as_str()), (Some("1.0"), Some("custom")));
        assert_eq!(v["content"]["textType"], "client-markdown");
        assert_eq!(v["content"]["title"], m.subject);
        assert!(v["content"]["description"].as_str().unwrap().contains("31.2%"));
    }

    #[test]
    fn subject_is_short_ascii_one_line() {
        let long = format!("/aws/apigateway/{}\n-é-end", "x".repeat(200));
        let s = subject("ELEVATED", "12.5%", &long, 60);
        assert!(s.len() <= 99 && s.is_ascii() && !s.contains('\n'), "{s}");
        assert!(s.starts_with("ELEVATED: 12.5% 4xx on ...") && s.ends_with("?-?-end (60 min)"), "{s}");
    }
}
