//! The SNS message about a log group's windows: subject, body (the finding exactly as the CLI prints
//! it, then the window, log group and a Logs Insights query), attributes, and the chat form. One
//! message per log group and batch: when several windows cross a level, a digest lists each window
//! and level, and its subject, `severity` attribute and finding are those of the most severe window
//! (the latest among equals), so a recovery leads only a digest of recoveries.
//!
//! Bounded: SNS takes at most 256 KiB, so the digest lists at most [`MAX_LISTED_WINDOWS`] windows,
//! evidence values are cut to [`crate::count::values::MAX_VALUE_CHARS`] characters when counted, and the
//! body is cut at [`MAX_BODY_BYTES`] as a last resort. Log group names are shown with control
//! characters escaped, so a newline in one cannot add lines to an alert; every value that came from
//! a request (routes, methods, response types, identities) is written by
//! [`crate::count::values::shown`], so none makes a mention, a link or formatting in either format.

use crate::base::numbers::thousands;
use crate::base::time::{format_iso8601, window_end, EpochMillis};
use crate::count::tally::Evidence;
use crate::count::values::Markup;
use crate::judge::finding::{Finding, Rules};
use crate::judge::severity::Severity;
use crate::window::decide::WindowDecision;
use crate::window::marker::{Marker, RECOVERED};
use serde_json::json;
use std::collections::BTreeMap;

/// How alerts are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFormat {
    /// Plain text, for email (and any subscriber).
    Text,
    /// Amazon Q Developer in chat applications custom-notification JSON.
    Chat,
}

impl AlertFormat {
    /// The markup its finding is written in.
    pub fn markup(self) -> Markup {
        match self {
            AlertFormat::Text => Markup::Text,
            AlertFormat::Chat => Markup::Chat,
        }
    }
}

/// SNS accepts subjects under 100 characters; ASCII keeps every subscriber happy.
const MAX_SUBJECT: usize = 99;
/// Windows listed one per line in a digest; the rest are summed up in one line.
pub const MAX_LISTED_WINDOWS: usize = 50;
/// A body never exceeds this (SNS's limit is 256 KiB; a message is read by people).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

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

/// How messages are written.
#[derive(Debug, Clone, Copy)]
pub struct Style<'a> {
    /// Levels and ignored codes (the finding's text needs them).
    pub rules: &'a Rules,
    /// Window width in minutes.
    pub window_minutes: u32,
    /// Text or chat.
    pub format: AlertFormat,
    /// The Logs Insights query for the group's lines.
    pub query: &'a str,
    /// For the console link.
    pub region: &'a str,
    /// Lines that put the alert in context (`Baseline: …`, `Deployment: …`), after the finding.
    pub context: &'a [String],
}

/// The one message about `decisions` (windows of one log group, ascending; those without an action
/// are skipped), with the batch's `evidence` (per 4xx status) in the finding shown: that of the
/// most severe window, the latest among equals. `None` when none has an action.
pub fn message(
    decisions: &[&WindowDecision],
    evidence: &BTreeMap<u16, Evidence>,
    style: &Style<'_>,
) -> Option<AlertMessage> {
    let acting: Vec<&WindowDecision> = decisions.iter().copied().filter(|d| d.action.is_some()).collect();
    let lead = lead(&acting)?;
    let group = &lead.key.0;
    let level = lead.action.map_or(RECOVERED, Marker::level);
    let rate = lead.finding.rate.percent_text();
    let tail = if acting.len() == 1 {
        format!(" ({} min)", style.window_minutes)
    } else {
        format!(" ({} min, {} windows)", style.window_minutes, acting.len())
    };
    let subject = subject_line(&format!("{level}: {rate} 4xx on "), group, &tail);
    let (first, last) = (acting[0].key.1, window_end(acting[acting.len() - 1].key.1, style.window_minutes));
    let shown = escape(group);
    let mut shown_finding = Finding::new(&lead.state.totals(), evidence, style.rules);
    if shown_finding.severity != lead.finding.severity {
        // SPIKE_FACTOR lifted the verdict: the text says the level the alert is about.
        shown_finding = shown_finding.escalated(lead.finding.severity, evidence);
    }
    let mut finding = shown_finding.to_text(style.rules, style.format.markup());
    if lead.action == Some(Marker::Recovered) {
        finding
            .push_str("\n\nRecovered: the previous window alerted; this one is back at or below the ELEVATED level.");
    }
    if !style.context.is_empty() {
        finding.push_str("\n\n");
        finding.push_str(&style.context.iter().map(|l| escape(l)).collect::<Vec<_>>().join("\n"));
    }
    let window = format!(
        "Window: {} to {} (UTC, {} min)\nLog group: {shown}",
        format_iso8601(lead.key.1),
        format_iso8601(window_end(lead.key.1, style.window_minutes)),
        style.window_minutes
    );
    let context = if acting.len() == 1 {
        window
    } else {
        format!(
            "{}\n\nThe finding above is the most severe of them:\n{window}",
            digest_list(&acting, style.window_minutes)
        )
    };
    let console = crate::render::insights::console_link(style.region, group, style.query, first, last);
    let query = style.query;
    let body = match style.format {
        AlertFormat::Text => cap(format!(
            "{finding}\n\n{context}\n\nLogs Insights query (log group {shown}, {} to {}):\n{query}\n\nOpen in the console: {console}",
            format_iso8601(first),
            format_iso8601(last)
        )),
        AlertFormat::Chat => chat(&subject, &cap(format!("{finding}\n\n{context}\n\n```\n{query}\n```")), &console, level, group, first),
    };
    Some(AlertMessage { subject, body, attributes: vec![("severity", level.to_string()), ("logGroup", shown)] })
}

/// The window a message about `decisions` (ascending) is about: the most severe action, the latest
/// among equals. Its level and rate make the subject and the `severity` attribute, its finding comes
/// first, and the alert's context lines (baseline, deployment) are looked up for it.
pub fn lead<'a>(decisions: &[&'a WindowDecision]) -> Option<&'a WindowDecision> {
    // `max_by_key` keeps the last of equals.
    decisions.iter().copied().filter(|d| d.action.is_some()).max_by_key(|d| d.action.map_or(0, rank))
}

/// RECOVERED < ELEVATED < HIGH: a digest is led by its most severe action.
fn rank(a: Marker) -> u8 {
    match a {
        Marker::Recovered => 0,
        Marker::Alerted(Severity::High) => 3,
        Marker::Alerted(_) => 2,
    }
}

fn digest_list(acting: &[&WindowDecision], window_minutes: u32) -> String {
    let mut out = format!("{} windows crossed a level in this batch:", acting.len());
    for d in acting.iter().take(MAX_LISTED_WINDOWS) {
        out.push_str(&format!("\n- {}", window_line(d, d.action.map_or("", Marker::level), window_minutes)));
    }
    if acting.len() > MAX_LISTED_WINDOWS {
        out.push_str(&format!("\n- … and {} more windows", acting.len() - MAX_LISTED_WINDOWS));
    }
    out
}

/// `2025-11-24T16:00:00Z to 2025-11-24T16:05:00Z: HIGH, 33.3% (100 of 300 requests)`: one window of
/// a list, at `level`.
pub fn window_line(d: &WindowDecision, level: &str, window_minutes: u32) -> String {
    format!(
        "{} to {}: {level}, {} ({} of {} requests)",
        format_iso8601(d.key.1),
        format_iso8601(window_end(d.key.1, window_minutes)),
        d.finding.rate.percent_text(),
        thousands(d.finding.rate.client_errors),
        thousands(d.finding.rate.requests)
    )
}

/// `HIGH: 31.2% 4xx on /aws/apigateway/prod-access (5 min)`, ASCII, one line, ≤ 99 characters: a long
/// log group keeps its end (the distinctive part).
pub fn subject(level: &str, rate: &str, log_group: &str, window_minutes: u32) -> String {
    subject_line(&format!("{level}: {rate} 4xx on "), log_group, &format!(" ({window_minutes} min)"))
}

/// `head`, the log group and `tail` as a subject: ASCII, one line, ≤ 99 characters, a long log group
/// cut at its start.
pub fn subject_line(head: &str, log_group: &str, tail: &str) -> String {
    let clean: String = log_group.chars().map(|c| if c.is_ascii_graphic() { c } else { '?' }).collect();
    let room = MAX_SUBJECT.saturating_sub(head.len() + tail.len());
    let group =
        if clean.len() <= room { clean } else { format!("...{}", &clean[clean.len() - room.saturating_sub(3)..]) };
    format!("{head}{group}{tail}")
}

/// Control characters as visible escapes (`\n`, `\u{1b}`): one value stays one line.
pub fn escape(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// The console link of a log group. The console's fragment holds the percent-encoded name with `%`
/// written as `$25`: every byte but unreserved ones is encoded (`#`, legal in group names, too).
pub fn log_group_link(region: &str, log_group: &str) -> String {
    let mut name = String::with_capacity(log_group.len() * 3);
    for b in log_group.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("$25{b:02X}"));
        }
    }
    let region: String = region.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    format!(
        "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{name}"
    )
}

/// Cuts `body` at [`MAX_BODY_BYTES`] (on a character boundary), saying so.
pub fn cap(mut body: String) -> String {
    const NOTE: &str = "\n[cut: the message reached its size limit]";
    if body.len() > MAX_BODY_BYTES {
        let mut end = MAX_BODY_BYTES - NOTE.len();
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        body.truncate(end);
        body.push_str(NOTE);
    }
    body
}

fn chat(subject: &str, description: &str, console: &str, level: &str, group: &str, start: EpochMillis) -> String {
    let shown = escape(group);
    json!({
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": subject,
            "description": description,
            "nextSteps": [
                format!("Run the Logs Insights query on `{shown}` for the window"),
                format!("Open the query in Logs Insights: {console}"),
            ],
        },
        "metadata": {
            "threadId": format!("apigw-4xx:{shown}:{start}"),
            "summary": subject,
            "eventType": "Apigw4xxFinding",
            "additionalContext": { "severity": level, "logGroup": shown },
        },
    })
    .to_string()
}

#[cfg(test)]
mod tests;
