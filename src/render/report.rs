//! The CLI's report: the finding over the whole span, and one per tumbling window with `--window`.

use crate::base::numbers::thousands;
use crate::base::time::{format_iso8601, EpochMillis};
use crate::count::tally::{Counts, Tally};
use crate::count::values::Markup;
use crate::judge::finding::{Finding, FindingJson, GroupJson, Rules, Totals, WindowJson};
use crate::judge::group_rules::GroupRules;
use crate::judge::severity::{ClientErrorRate, Severity};
use std::collections::BTreeMap;

/// One window's verdict: its rate and counts only (a year of one-minute windows is 40,000 of these,
/// so no breakdown, evidence or recommendation is kept per window).
#[derive(Debug, Clone)]
pub struct WindowReport {
    /// Window start.
    pub start: EpochMillis,
    /// The window's verdict.
    pub severity: Severity,
    /// The window's rate (ignored codes left out).
    pub rate: ClientErrorRate,
    counts: Counts,
}

/// Overall finding plus per-window findings.
#[derive(Debug, Clone)]
pub struct Report {
    /// The finding over everything read.
    pub finding: Finding,
    /// Per window, ascending (empty without `--window`).
    pub windows: Vec<WindowReport>,
    counts: Counts,
    window_minutes: Option<u32>,
}

impl Report {
    /// Judges a finished tally.
    pub fn new(tally: &Tally, rules: &Rules) -> Report {
        let finding = Finding::new(&Totals::from(&tally.overall), &tally.evidence, rules);
        let windows = tally
            .buckets
            .iter()
            .map(|(start, counts)| {
                let rate = Totals::from(counts).rate(&rules.ignored);
                let severity = rules.thresholds.classify(rate);
                WindowReport { start: *start, severity, rate, counts: counts.clone() }
            })
            .collect();
        Report { finding, windows, counts: tally.overall.clone(), window_minutes: tally.bucket_minutes() }
    }

    /// The most severe verdict, overall or in any window.
    pub fn worst(&self) -> Severity {
        self.windows.iter().map(|w| w.severity).fold(self.finding.severity, Severity::max)
    }

    fn window_end(&self, start: EpochMillis) -> EpochMillis {
        crate::base::time::window_end(start, self.window_minutes.unwrap_or(1))
    }

    /// The text report: the finding, then a line per window.
    pub fn to_text(&self, rules: &Rules) -> String {
        let mut out = self.finding.to_text(rules, Markup::Text);
        if let (Some(minutes), false) = (self.window_minutes, self.windows.is_empty()) {
            out.push_str(&format!("\n\nWindows ({minutes} min, UTC):"));
            for w in &self.windows {
                out.push('\n');
                out.push_str(&window_row(w.start, w.severity, &w.rate, 17));
            }
        }
        out
    }

    /// The JSON report (the `--json` contract).
    pub fn to_json(&self) -> FindingJson {
        let mut json = self.finding.to_json(&self.counts);
        if self.window_minutes.is_some() {
            json.windows = Some(
                self.windows
                    .iter()
                    .map(|w| WindowJson {
                        start: format_iso8601(w.start),
                        end: format_iso8601(self.window_end(w.start)),
                        requests: w.rate.requests,
                        client_errors: w.rate.client_errors,
                        rate: w.rate.fraction(),
                        severity: w.severity,
                        by_status: w.counts.iter().map(|(s, n)| (s.to_string(), n)).collect(),
                        unparsed: w.counts.unparsed,
                    })
                    .collect(),
            );
        }
        json
    }
}

/// One log group's finding under its own rules (`--rules`), for inputs that name log groups.
#[derive(Debug, Clone)]
pub struct GroupFinding {
    /// The log group.
    pub log_group: String,
    /// The rules that judged it.
    pub rules: Rules,
    /// Its finding.
    pub finding: Finding,
    counts: Counts,
}

/// A finding per named log group (inputs without group names give none), each under its rules.
pub fn by_group(tallies: &BTreeMap<String, Tally>, rules: &GroupRules) -> Vec<GroupFinding> {
    tallies
        .iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, t)| {
            let r = rules.for_group(g);
            GroupFinding {
                log_group: g.clone(),
                finding: Finding::new(&Totals::from(&t.overall), &t.evidence, &r),
                rules: r,
                counts: t.overall.clone(),
            }
        })
        .collect()
}

impl GroupFinding {
    /// `Log group /aws/x (ELEVATED above 1%, HIGH above 5%, at least 100 requests):` and the finding.
    pub fn to_text(&self) -> String {
        let t = &self.rules.thresholds;
        let ignoring = match self.rules.ignored.codes() {
            [] => String::new(),
            codes => format!(", ignoring {}", codes.iter().map(u16::to_string).collect::<Vec<_>>().join(",")),
        };
        format!(
            "Log group {} (ELEVATED above {}, HIGH above {}, at least {} requests{ignoring}):\n{}",
            self.log_group,
            t.elevated,
            t.high,
            thousands(t.min_requests),
            self.finding.to_text(&self.rules, Markup::Text)
        )
    }

    /// The JSON entry of `groups`.
    pub fn to_json(&self) -> GroupJson {
        let t = &self.rules.thresholds;
        GroupJson {
            log_group: self.log_group.clone(),
            elevated_percent: t.elevated.to_string().trim_end_matches('%').to_string(),
            high_percent: t.high.to_string().trim_end_matches('%').to_string(),
            min_requests: t.min_requests,
            finding: self.finding.to_json(&self.counts),
        }
    }
}

/// One window as a text row: start (UTC), level padded to `level_width`, rate, `4xx of requests`.
pub fn window_row(start: EpochMillis, severity: Severity, rate: &ClientErrorRate, level_width: usize) -> String {
    format!(
        "{}  {:<level_width$}  {:>6}  {} of {}",
        format_iso8601(start),
        severity.as_str(),
        rate.percent_text(),
        thousands(rate.client_errors),
        thousands(rate.requests)
    )
}

#[cfg(test)]
mod group_tests {
    use super::*;
    use crate::access_log::LineParser;

    #[test]
    fn each_group_judged_by_its_own_rules() {
        let mut tallies = BTreeMap::new();
        for g in ["/private", "/public", ""] {
            let mut t = Tally::new(None);
            for i in 0..100 {
                let status = if i < 3 { 403 } else { 200 };
                t.add_line(&LineParser::Auto, None, &format!(r#"{{"status":"{status}"}}"#));
            }
            tallies.insert(g.to_string(), t);
        }
        let rules =
            GroupRules::parse(r#"{"/private": {"elevated_percent": 1, "high_percent": 5}}"#, Rules::default()).unwrap();
        let groups = by_group(&tallies, &rules);
        assert_eq!(groups.len(), 2, "the unnamed group is not a group");
        assert_eq!(groups[0].finding.severity, Severity::Elevated, "3% under 1%/5%");
        assert_eq!(groups[1].finding.severity, Severity::Ok, "3% under the global 10%/25%");
        assert!(groups[0]
            .to_text()
            .starts_with("Log group /private (ELEVATED above 1%, HIGH above 5%, at least 100 requests):\nELEVATED"));
        let json = serde_json::to_value(groups[0].to_json()).unwrap();
        assert_eq!((json["log_group"].as_str(), json["elevated_percent"].as_str()), (Some("/private"), Some("1")));
        assert_eq!(json["severity"], "ELEVATED");
    }
}
