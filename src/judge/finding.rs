//! The finding: severity, rate, breakdown by status and recommendation, as text (the exact form of
//! the reference example) and as JSON.

use crate::base::numbers::thousands;
use crate::base::status::{is_client_error, status_label};
use crate::count::tally::{Counts, Evidence, Tally};
use crate::count::values::{shown, Markup, ValueCounts};
use crate::ingest::time_range::TimeRange;
use crate::judge::recommendation::{recommendation, Recommendation};
use crate::judge::severity::{ClientErrorRate, IgnoredStatuses, Severity, Thresholds};
use serde::Serialize;
use std::collections::BTreeMap;

/// Values listed per evidence line.
const EVIDENCE_TOP: usize = 5;

/// The `StatusCode` value (and JSON key) of the 4xx codes a metric does not track.
pub const OTHER_4XX: &str = "Other4xx";

/// A 4xx bucket of the breakdown: one status code, or the 4xx codes a metric does not track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClientErrorCode {
    /// One status code.
    Status(u16),
    /// Every other 4xx (CloudWatch metrics track a fixed set of codes).
    Other4xx,
}

impl ClientErrorCode {
    fn label(self) -> String {
        match self {
            ClientErrorCode::Status(c) => status_label(c),
            ClientErrorCode::Other4xx => "Other 4xx".to_string(),
        }
    }

    /// `403` or `Other4xx`: the key in JSON and the metric dimension value.
    pub fn key(self) -> String {
        match self {
            ClientErrorCode::Status(c) => c.to_string(),
            ClientErrorCode::Other4xx => OTHER_4XX.to_string(),
        }
    }
}

/// What a finding is computed from: request and 4xx totals, however they were obtained (a tally of
/// lines, or window totals read back from CloudWatch metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Requests, including ignored codes.
    pub requests: u64,
    /// 4xx responses by code, including ignored codes.
    pub client_errors: BTreeMap<ClientErrorCode, u64>,
    /// Lines with no valid status.
    pub unparsed: u64,
}

impl From<&Counts> for Totals {
    fn from(c: &Counts) -> Self {
        Totals {
            requests: c.requests(),
            client_errors: c
                .iter()
                .filter(|(s, _)| is_client_error(*s))
                .map(|(s, n)| (ClientErrorCode::Status(s), n))
                .collect(),
            unparsed: c.unparsed,
        }
    }
}

impl Totals {
    /// Adds another set of totals.
    pub fn add(&mut self, other: &Totals) {
        self.requests += other.requests;
        self.unparsed += other.unparsed;
        for (code, n) in &other.client_errors {
            *self.client_errors.entry(*code).or_default() += n;
        }
    }

    /// The rate with `ignored` codes left out of both sides.
    pub fn rate(&self, ignored: &IgnoredStatuses) -> ClientErrorRate {
        let (mut counted, mut left_out) = (0, 0);
        for (code, n) in &self.client_errors {
            match code {
                ClientErrorCode::Status(s) if ignored.contains(*s) => left_out += n,
                _ => counted += n,
            }
        }
        ClientErrorRate { client_errors: counted, requests: self.requests.saturating_sub(left_out) }
    }
}

/// How findings are judged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// Levels and minimum volume.
    pub thresholds: Thresholds,
    /// Codes left out of the rate.
    pub ignored: IgnoredStatuses,
}

/// The client-error finding for a span of traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The verdict.
    pub severity: Severity,
    /// 4xx of requests, ignored codes left out.
    pub rate: ClientErrorRate,
    /// Counted 4xx codes, most frequent first (ties by code).
    pub breakdown: Vec<(ClientErrorCode, u64)>,
    /// Ignored 4xx codes with their counts.
    pub ignored: Vec<(ClientErrorCode, u64)>,
    /// Lines with no valid status.
    pub unparsed: u64,
    /// What to do, when there are 4xx to act on.
    pub recommendation: Option<Recommendation>,
    /// Top routes, methods and response types of the counted 4xx (empty when the logs lack them).
    pub evidence: Evidence,
}

impl Finding {
    /// Judges `totals` by `rules`; `evidence` (per 4xx status) sharpens the recommendation.
    pub fn new(totals: &Totals, evidence: &BTreeMap<u16, Evidence>, rules: &Rules) -> Finding {
        let rate = totals.rate(&rules.ignored);
        let severity = rules.thresholds.classify(rate);
        let is_ignored = |c: &ClientErrorCode| matches!(c, ClientErrorCode::Status(s) if rules.ignored.contains(*s));
        let sorted = |keep: bool| {
            let mut v: Vec<_> = totals
                .client_errors
                .iter()
                .filter(|(c, n)| **n > 0 && is_ignored(c) != keep)
                .map(|(c, n)| (*c, *n))
                .collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            v
        };
        let breakdown = sorted(true);
        let mut merged = Evidence::default();
        for (_, e) in evidence.iter().filter(|(s, _)| !rules.ignored.contains(**s)) {
            merged.merge(e);
        }
        let recommendation = match (severity, breakdown.first()) {
            (Severity::Elevated | Severity::High, Some((ClientErrorCode::Status(dominant), _))) => {
                Some(recommendation(*dominant, evidence.get(dominant)))
            }
            (Severity::Elevated | Severity::High, _) => Some(recommendation(0, None)),
            _ => None,
        };
        Finding {
            severity,
            rate,
            breakdown,
            ignored: sorted(false),
            unparsed: totals.unparsed,
            recommendation,
            evidence: merged,
        }
    }

    /// The same finding at `severity` (SPIKE_FACTOR lifting an OK window to ELEVATED), with the
    /// recommendation an alerting finding carries.
    pub fn escalated(mut self, severity: Severity, evidence: &BTreeMap<u16, Evidence>) -> Finding {
        if severity.is_alerting() && self.recommendation.is_none() {
            self.recommendation = Some(match self.breakdown.first() {
                Some((ClientErrorCode::Status(dominant), _)) => recommendation(*dominant, evidence.get(dominant)),
                _ => recommendation(0, None),
            });
        }
        self.severity = severity;
        self
    }

    /// The finding as text: title, blank line, finding, blank line, recommendation (and evidence),
    /// every value from a request written by [`shown`] for `markup`.
    pub fn to_text(&self, rules: &Rules, markup: Markup) -> String {
        let title = match self.severity {
            Severity::High | Severity::Elevated => "Elevated Client Error Rate (4xx)",
            Severity::Ok | Severity::InsufficientData => "Client Error Rate (4xx)",
        };
        let mut out = format!(
            "{} {title}\n\n{} of API Gateway requests returned 4xx errors ({} of {} requests).",
            self.severity,
            self.rate.percent_text(),
            thousands(self.rate.client_errors),
            thousands(self.rate.requests)
        );
        let mut items: Vec<String> =
            self.breakdown.iter().map(|(c, n)| format!("{} ({})", c.label(), thousands(*n))).collect();
        items.extend(self.ignored.iter().map(|(c, n)| format!("{} ({}, ignored)", c.label(), thousands(*n))));
        if !items.is_empty() {
            out.push_str(&format!(" Breakdown: {}.", items.join(", ")));
        }
        let advice = match (&self.recommendation, self.severity) {
            (Some(r), _) => format!("Recommendation: {}", r.text(markup)),
            (None, Severity::InsufficientData) => format!(
                "Too few requests to judge: {} counted, {} needed.",
                thousands(self.rate.requests),
                thousands(rules.thresholds.min_requests)
            ),
            (None, _) => {
                format!("No action needed: the rate is at or below the ELEVATED level ({}).", rules.thresholds.elevated)
            }
        };
        out.push_str("\n\n");
        out.push_str(&advice);
        let lines: Vec<String> = [
            ("Top 4xx routes", &self.evidence.routes),
            ("4xx by method", &self.evidence.methods),
            ("Gateway response types", &self.evidence.response_types),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty() && self.recommendation.is_some())
        .map(|(name, v)| format!("{name}: {}.", list(v, markup)))
        .chain(self.evidence.consumers.line(markup).filter(|_| self.recommendation.is_some()))
        .collect();
        if !lines.is_empty() {
            out.push_str("\n\n");
            out.push_str(&lines.join("\n"));
        }
        if self.unparsed > 0 {
            out.push_str(&format!("\n\nUnparsed lines (not counted as requests): {}.", thousands(self.unparsed)));
        }
        out
    }

    /// The finding as the JSON object of the CLI's `--json`, with every status of `counts` in
    /// `by_status` (windows are added by the caller).
    pub fn to_json(&self, counts: &Counts) -> FindingJson {
        let by_status = counts.iter().map(|(s, n)| (s.to_string(), n)).collect();
        let values = |v: &ValueCounts| {
            v.top(EVIDENCE_TOP).into_iter().map(|(value, count)| Valued { value: value.to_string(), count }).collect()
        };
        FindingJson {
            requests: self.rate.requests,
            client_errors: self.rate.client_errors,
            rate: self.rate.fraction(),
            rate_percent: self.rate.percent_text().trim_end_matches('%').to_string(),
            severity: self.severity,
            by_status,
            ignored: self.ignored.iter().map(|(c, n)| (c.key(), *n)).collect(),
            unparsed: self.unparsed,
            dominant_status: self.breakdown.first().map(|(c, _)| c.key()),
            recommendation: self.recommendation.as_ref().map(|r| r.text(Markup::Text)),
            evidence: EvidenceJson {
                routes: values(&self.evidence.routes),
                methods: values(&self.evidence.methods),
                response_types: values(&self.evidence.response_types),
                consumers: self
                    .evidence
                    .consumers
                    .top(EVIDENCE_TOP)
                    .into_iter()
                    .map(|c| ConsumerJson { kind: c.kind.key(), value: c.value.to_string(), count: c.count })
                    .collect(),
                user_agents: values(&self.evidence.consumers.user_agents),
            },
            windows: None,
            groups: None,
            deployment: None,
        }
    }
}

/// The spans whose 4xx the evidence of a read of `range`, counted into `tally` and judged by
/// `rules`, must describe (sorted, disjoint, within `range`): all of `range` when the finding over it
/// alerts, since its evidence lines then explain all of its 4xx (as a scan's do); otherwise each run
/// of consecutive ELEVATED or HIGH windows (their 4xx, in `--json`); nothing when nothing alerts.
/// A read that counts elsewhere (Logs Insights) asks for evidence over just these spans.
pub fn evidence_spans(tally: &Tally, rules: &Rules, range: TimeRange) -> Vec<TimeRange> {
    let alerting = |c: &Counts| rules.thresholds.classify(Totals::from(c).rate(&rules.ignored)).is_alerting();
    if alerting(&tally.overall) {
        return vec![range];
    }
    let Some(minutes) = tally.bucket_minutes() else { return vec![] };
    let mut out: Vec<TimeRange> = Vec::new();
    for (start, _) in tally.buckets.iter().filter(|(_, c)| alerting(c)) {
        let span = TimeRange {
            start: (*start).max(range.start),
            end: (crate::base::time::window_end(*start, minutes) - 1).min(range.end),
        };
        match out.last_mut() {
            Some(last) if last.end + 1 == span.start => last.end = span.end,
            _ => out.push(span),
        }
    }
    out
}

/// The JSON form of a finding. Field names are a stable contract (see the README).
#[derive(Debug, Clone, Serialize)]
pub struct FindingJson {
    /// Requests counted for the rate (ignored codes left out).
    pub requests: u64,
    /// 4xx counted for the rate.
    pub client_errors: u64,
    /// `client_errors / requests`.
    pub rate: f64,
    /// The rate as printed, one decimal: `"31.2"`.
    pub rate_percent: String,
    /// `HIGH`, `ELEVATED`, `OK` or `INSUFFICIENT_DATA`.
    pub severity: Severity,
    /// Requests by status code (all codes).
    pub by_status: BTreeMap<String, u64>,
    /// Ignored 4xx codes and their counts.
    pub ignored: BTreeMap<String, u64>,
    /// Lines with no valid status.
    pub unparsed: u64,
    /// The most frequent counted 4xx code.
    pub dominant_status: Option<String>,
    /// The recommendation text, for ELEVATED and HIGH, as the text report says it.
    pub recommendation: Option<String>,
    /// Top values of the counted 4xx.
    pub evidence: EvidenceJson,
    /// Per-window findings, with `--window`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows: Option<Vec<WindowJson>>,
    /// Per-log-group findings under their own rules (`--rules`, or several groups in the input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupJson>>,
    /// The stage's current deployment (`--api-id`/`--stage`), as the alert line says it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
}

/// One log group's finding, with the levels that judged it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupJson {
    /// The log group.
    pub log_group: String,
    /// Its ELEVATED level, as given (`"1"`, `"2.5"`).
    pub elevated_percent: String,
    /// Its HIGH level.
    pub high_percent: String,
    /// Its minimum volume.
    pub min_requests: u64,
    /// The finding (the same fields as the top level).
    #[serde(flatten)]
    pub finding: FindingJson,
}

/// Top values per field.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceJson {
    /// Routes.
    pub routes: Vec<Valued>,
    /// Methods.
    pub methods: Vec<Valued>,
    /// Gateway response types.
    pub response_types: Vec<Valued>,
    /// Who sent the 4xx requests (most specific identity per line), when the lines say.
    pub consumers: Vec<ConsumerJson>,
    /// User agents of the 4xx requests.
    pub user_agents: Vec<Valued>,
}

/// A consumer of the 4xx and its count.
#[derive(Debug, Clone, Serialize)]
pub struct ConsumerJson {
    /// `api_key`, `principal`, `caller`, `user` or `ip`.
    pub kind: &'static str,
    /// The identity (an API key's id, never its value).
    pub value: String,
    /// Its 4xx.
    pub count: u64,
}

/// A value and its count.
#[derive(Debug, Clone, Serialize)]
pub struct Valued {
    /// The value.
    pub value: String,
    /// How often it occurred.
    pub count: u64,
}

/// One tumbling window's finding.
#[derive(Debug, Clone, Serialize)]
pub struct WindowJson {
    /// Window start, ISO-8601 UTC.
    pub start: String,
    /// Window end (exclusive).
    pub end: String,
    /// Requests counted for the rate.
    pub requests: u64,
    /// 4xx counted for the rate.
    pub client_errors: u64,
    /// `client_errors / requests`.
    pub rate: f64,
    /// The window's verdict.
    pub severity: Severity,
    /// Requests by status code.
    pub by_status: BTreeMap<String, u64>,
    /// Lines with no valid status.
    pub unparsed: u64,
}

fn list(v: &ValueCounts, markup: Markup) -> String {
    v.top(EVIDENCE_TOP)
        .iter()
        .map(|(value, n)| format!("{} ({})", shown(value, markup), thousands(*n)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
