//! The CLI's report: the finding over the whole span, and one per tumbling window with `--window`.

use crate::finding::{thousands, Finding, FindingJson, Rules, Totals, WindowJson};
use crate::severity::Severity;
use crate::tally::{Counts, Tally};
use crate::time::{format_iso8601, EpochMillis};

/// One window's finding.
#[derive(Debug, Clone)]
pub struct WindowReport {
    /// Window start.
    pub start: EpochMillis,
    /// The window's finding.
    pub finding: Finding,
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
            .map(|(start, counts)| WindowReport {
                start: *start,
                finding: Finding::new(&Totals::from(counts), &Default::default(), rules),
                counts: counts.clone(),
            })
            .collect();
        Report { finding, windows, counts: tally.overall.clone(), window_minutes: tally.bucket_minutes() }
    }

    /// The most severe verdict, overall or in any window.
    pub fn worst(&self) -> Severity {
        self.windows.iter().map(|w| w.finding.severity).fold(self.finding.severity, Severity::max)
    }

    fn window_end(&self, start: EpochMillis) -> EpochMillis {
        start + i64::from(self.window_minutes.unwrap_or(0)) * 60_000
    }

    /// The text report: the finding, then a line per window.
    pub fn to_text(&self, rules: &Rules) -> String {
        let mut out = self.finding.to_text(rules);
        if let (Some(minutes), false) = (self.window_minutes, self.windows.is_empty()) {
            out.push_str(&format!("\n\nWindows ({minutes} min, UTC):"));
            for w in &self.windows {
                let f = &w.finding;
                out.push_str(&format!(
                    "\n{}  {:<17}  {:>6}  {} of {}",
                    format_iso8601(w.start),
                    f.severity.as_str(),
                    f.rate.percent_text(),
                    thousands(f.rate.client_errors),
                    thousands(f.rate.requests)
                ));
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
                        requests: w.finding.rate.requests,
                        client_errors: w.finding.rate.client_errors,
                        rate: w.finding.rate.fraction(),
                        severity: w.finding.severity,
                        by_status: w.counts.iter().map(|(s, n)| (s.to_string(), n)).collect(),
                        unparsed: w.finding.unparsed,
                    })
                    .collect(),
            );
        }
        json
    }
}
