//! Notices: messages about the monitor's own reach rather than a window's 4xx. A log group the
//! sweep cannot watch, and a group whose lines mostly do not parse. One per group and cause (the
//! callers remember what they sent); `severity` is `NOTICE`, so subscription filter policies on
//! `HIGH` or `ELEVATED` leave them out.

use crate::base::numbers::thousands;
use crate::render::alert::{cap, escape, log_group_link, subject_line, AlertFormat, AlertMessage};
use crate::watch::state::Unwatchable;
use serde_json::json;

/// The `severity` attribute of every notice.
pub const NOTICE: &str = "NOTICE";

/// A group that should be watched and cannot be: why, and what to do. `wanted_by` names the stages
/// (`api/stage`) or the setting that want it.
pub fn unwatchable(
    group: &str,
    why: &Unwatchable,
    wanted_by: &[&str],
    format: AlertFormat,
    region: &str,
) -> AlertMessage {
    let shown = escape(group);
    let (reason, fix) = match why {
        Unwatchable::NoFreeSlot { others } => (
            format!(
                "every subscription-filter slot of the group is taken by other filters ({}); the quota is per log group (see Service Quotas)",
                others.iter().map(|o| escape(o)).collect::<Vec<_>>().join(", ")
            ),
            "Remove one of those filters, or send the group's lines on from the tool that holds the slot",
        ),
        Unwatchable::Denied { operation } => (
            format!("the sweep's role may not call {operation} on it (an SCP, a permissions boundary or a resource policy refuses it)"),
            "Allow the call for this group",
        ),
        Unwatchable::Refused { message } => (
            format!(
                "CloudWatch Logs refused this stack's subscription filter on it (InvalidParameterException: {})",
                escape(message)
            ),
            "Correct what the message names for this group; the sweep tries again each pass",
        ),
        Unwatchable::Missing => (
            "no log group of that name exists in this account and Region".to_string(),
            "Create the group, or correct the name in the stage's access-log settings or LOG_GROUP_NAMES",
        ),
    };
    let by: Vec<String> = wanted_by.iter().map(|w| escape(w)).collect();
    let description = format!(
        "apigw-4xx cannot watch the log group {shown}: {reason}. Wanted by: {}.\n\n{fix}; the next sweep picks it up. \
         To stop trying: tag the stage (or its API) apigw-4xx=off, or take the group out of LogGroupNames if it is named there.",
        if by.is_empty() { "-".to_string() } else { by.join(", ") }
    );
    let subject = subject_line("NOT WATCHED: ", group, &format!(" ({})", why.code()));
    message(subject, description, group, format, region)
}

/// Most of a group's lines did not parse over an hour: its 4xx rate is not being judged.
pub fn format_mismatch(group: &str, unparsed: u64, lines: u64, format: AlertFormat, region: &str) -> AlertMessage {
    let description = format!(
        "{} of {} access-log lines of {} over the last hour did not parse as access-log lines: they are counted \
         as UnparsedLines, not as requests, so this group's 4xx rate is barely judged.\n\nSet AccessLogFormat \
         (ACCESS_LOG_FORMAT) to the stage's access-log format, or check that the group holds access logs \
         (not execution logs of another stage).",
        thousands(unparsed),
        thousands(lines),
        escape(group)
    );
    message(subject_line("UNPARSED: ", group, " (most lines, 1 h)"), description, group, format, region)
}

fn message(subject: String, description: String, group: &str, format: AlertFormat, region: &str) -> AlertMessage {
    let console = log_group_link(region, group);
    let body = match format {
        AlertFormat::Text => cap(format!("{subject}\n\n{description}\n\nLog group: {console}\n")),
        AlertFormat::Chat => json!({
            "version": "1.0",
            "source": "custom",
            "content": {
                "textType": "client-markdown",
                "title": subject,
                "description": cap(description),
                "nextSteps": [format!("Open the log group: {console}")],
            },
            "metadata": {
                "summary": subject,
                "eventType": "Apigw4xxNotice",
                "additionalContext": { "severity": NOTICE, "logGroup": escape(group) },
            },
        })
        .to_string(),
    };
    AlertMessage { subject, body, attributes: vec![("severity", NOTICE.to_string()), ("logGroup", escape(group))] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_say_why_and_what_to_do() {
        let full = Unwatchable::NoFreeSlot { others: vec!["datadog".into(), "splunk".into()] };
        let m = unwatchable("/aws/apigateway/orders", &full, &["orders/prod"], AlertFormat::Text, "us-east-1");
        assert_eq!(m.subject, "NOT WATCHED: /aws/apigateway/orders (no_free_slot)");
        assert!(m.body.contains("(datadog, splunk)") && m.body.contains("Wanted by: orders/prod."), "{}", m.body);
        assert!(m.body.contains("apigw-4xx=off") && m.body.contains("console.aws.amazon.com"));
        assert_eq!(m.attributes[0], ("severity", "NOTICE".to_string()));
        let long = format!("/aws/apigateway/{}", "x".repeat(300));
        let m = unwatchable(&long, &Unwatchable::Missing, &[], AlertFormat::Chat, "us-east-1");
        assert!(m.subject.len() <= 99 && m.subject.is_ascii(), "{}", m.subject);
        let v: serde_json::Value = serde_json::from_str(&m.body).unwrap();
        assert!(v["content"]["description"].as_str().unwrap().contains("no log group of that name"));
        let f = format_mismatch("/g", 900, 1_000, AlertFormat::Text, "eu-west-1");
        assert!(f.subject.starts_with("UNPARSED: /g") && f.body.contains("900 of 1,000"), "{}", f.body);
    }
}
