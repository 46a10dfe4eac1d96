//! `apigw-4xx history`: tune before you change. Reads a log group's own window metrics (what the
//! function wrote) and judges every past window with the given levels, to show where they would have
//! alerted: `3 ELEVATED, 1 HIGH in 14 days`.
//!
//! One GetMetricData call (paginated) per run: `Requests`, `ClientErrors` and, for each ignored code,
//! `ClientErrors` with that `StatusCode`, Sum per window.

use crate::base::numbers::thousands;
use crate::base::time::{format_iso8601, window_start, EpochMillis, DAY_MS};
use crate::count::tally::Counts;
use crate::judge::finding::{ClientErrorCode, Rules};
use crate::judge::severity::{ClientErrorRate, Severity};
use crate::metrics::contract::{Query, Slot};
use serde::Serialize;
use std::collections::BTreeMap;

/// The longest span `history` reads: CloudWatch keeps 5-minute data for 63 days.
pub const MAX_DAYS: u32 = 63;

/// The series of requests per window.
const REQUESTS: &str = "r";
/// The series of 4xx per window.
const CLIENT_ERRORS: &str = "c";
/// The series of one ignored code per window.
fn ignored(code: u16) -> String {
    format!("i{code}")
}

/// The queries for one log group (ids `r`, `c`, `i{code}`).
pub fn queries(log_group: &str, rules: &Rules) -> Vec<Query> {
    let mut q = vec![
        Query::new(REQUESTS.into(), log_group, Slot::Requests),
        Query::new(CLIENT_ERRORS.into(), log_group, Slot::ClientErrors),
    ];
    q.extend(
        rules
            .ignored
            .codes()
            .iter()
            .map(|c| Query::new(ignored(*c), log_group, Slot::Code(ClientErrorCode::Status(*c)))),
    );
    q
}

/// The same series from counts per window (`history --source logs`): what the function's metrics
/// would hold for those lines.
pub fn series_of(windows: &BTreeMap<EpochMillis, Counts>, rules: &Rules) -> BTreeMap<String, Vec<(EpochMillis, f64)>> {
    let mut out: BTreeMap<String, Vec<(EpochMillis, f64)>> = BTreeMap::new();
    for (start, c) in windows {
        out.entry(REQUESTS.into()).or_default().push((*start, c.requests() as f64));
        out.entry(CLIENT_ERRORS.into()).or_default().push((*start, c.client_errors() as f64));
        for code in rules.ignored.codes() {
            out.entry(ignored(*code)).or_default().push((*start, c.get(*code) as f64));
        }
    }
    out
}

/// The span to read: `days` whole days of windows ending with the last complete window before `now`.
pub fn span(now: EpochMillis, days: u32, window_minutes: u32) -> (EpochMillis, EpochMillis) {
    let end = window_start(now, window_minutes);
    (window_start(end - i64::from(days) * DAY_MS, window_minutes), end)
}

/// One past window as the levels judge it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PastWindow {
    /// Window start (epoch ms).
    #[serde(skip)]
    pub start: EpochMillis,
    /// 4xx and requests, ignored codes left out.
    #[serde(flatten)]
    pub rate: ClientErrorRate,
    /// The verdict.
    pub severity: Severity,
}

/// Every window with data, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// The log group.
    pub log_group: String,
    /// Days read.
    pub days: u32,
    /// Window length in minutes.
    pub window_minutes: u32,
    /// Windows with requests, ascending.
    pub windows: Vec<PastWindow>,
}

impl History {
    /// Judges the query results (`id` → `(timestamp, sum)`) window by window.
    pub fn judge(
        log_group: &str,
        days: u32,
        window_minutes: u32,
        rules: &Rules,
        results: &BTreeMap<String, Vec<(EpochMillis, f64)>>,
    ) -> History {
        let mut by_window: BTreeMap<EpochMillis, (u64, u64, u64)> = BTreeMap::new();
        let mut fold = |id: &str, slot: usize| {
            for (t, v) in results.get(id).into_iter().flatten() {
                let e = by_window.entry(window_start(*t, window_minutes)).or_default();
                let n = v.max(0.0).round() as u64;
                match slot {
                    0 => e.0 += n,
                    1 => e.1 += n,
                    _ => e.2 += n,
                }
            }
        };
        fold(REQUESTS, 0);
        fold(CLIENT_ERRORS, 1);
        for c in rules.ignored.codes() {
            fold(&ignored(*c), 2);
        }
        let windows = by_window
            .into_iter()
            .filter(|(_, (r, _, _))| *r > 0)
            .map(|(start, (r, c, ignored))| {
                let rate =
                    ClientErrorRate { client_errors: c.saturating_sub(ignored), requests: r.saturating_sub(ignored) };
                PastWindow { start, rate, severity: rules.thresholds.classify(rate) }
            })
            .collect();
        History { log_group: log_group.to_string(), days, window_minutes, windows }
    }

    /// `(ELEVATED windows, HIGH windows)`.
    pub fn counts(&self) -> (usize, usize) {
        let n = |s| self.windows.iter().filter(|w| w.severity == s).count();
        (n(Severity::Elevated), n(Severity::High))
    }

    /// `3 ELEVATED, 1 HIGH in 14 days`.
    pub fn summary(&self) -> String {
        let (e, h) = self.counts();
        format!("{e} ELEVATED, {h} HIGH in {} days", self.days)
    }

    /// The windows that would have alerted, one per line, then the summary.
    pub fn to_text(&self, rules: &Rules) -> String {
        let t = &rules.thresholds;
        let mut out = format!(
            "Log group {}: {} windows of {} min with requests; levels ELEVATED > {}, HIGH > {}, at least {} requests{}.\n",
            self.log_group,
            thousands(self.windows.len() as u64),
            self.window_minutes,
            t.elevated,
            t.high,
            thousands(t.min_requests),
            if rules.ignored.codes().is_empty() {
                String::new()
            } else {
                format!(", ignoring {}", rules.ignored.codes().iter().map(u16::to_string).collect::<Vec<_>>().join(","))
            }
        );
        for w in self.windows.iter().filter(|w| w.severity.is_alerting()) {
            out.push_str(&crate::render::report::window_row(w.start, w.severity, &w.rate, 8));
            out.push('\n');
        }
        out.push_str(&self.summary());
        out
    }

    /// The JSON form: every window judged, the alerting ones flagged by severity, and the counts.
    pub fn to_json(&self) -> serde_json::Value {
        let (elevated, high) = self.counts();
        serde_json::json!({
            "log_group": self.log_group,
            "days": self.days,
            "window_minutes": self.window_minutes,
            "elevated": elevated,
            "high": high,
            "summary": self.summary(),
            "windows": self.windows.iter().filter(|w| w.severity.is_alerting()).map(|w| serde_json::json!({
                "start": format_iso8601(w.start),
                "requests": w.rate.requests,
                "client_errors": w.rate.client_errors,
                "rate_percent": w.rate.percent_text().trim_end_matches('%'),
                "severity": w.severity,
            })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: EpochMillis = 1_764_000_000_000;

    fn results(points: &[(EpochMillis, f64, f64, f64)]) -> BTreeMap<String, Vec<(EpochMillis, f64)>> {
        let mut r: BTreeMap<String, Vec<(EpochMillis, f64)>> = BTreeMap::new();
        for (t, req, c4, c404) in points {
            r.entry("r".into()).or_default().push((*t, *req));
            r.entry("c".into()).or_default().push((*t, *c4));
            r.entry("i404".into()).or_default().push((*t, *c404));
        }
        r
    }

    #[test]
    fn windows_judged_with_the_given_levels() {
        let r = results(&[
            (T, 1000.0, 30.0, 0.0),
            (T + 300_000, 1000.0, 120.0, 0.0),
            (T + 600_000, 1000.0, 300.0, 0.0),
            (T + 900_000, 50.0, 50.0, 0.0),
        ]);
        let h = History::judge("/g", 14, 5, &Rules::default(), &r);
        assert_eq!(h.summary(), "1 ELEVATED, 1 HIGH in 14 days");
        let text = h.to_text(&Rules::default());
        assert!(text.contains("2025-11-24T16:05:00Z  ELEVATED   12.0%  120 of 1,000\n"), "{text}");
        assert!(text.contains("2025-11-24T16:10:00Z  HIGH       30.0%  300 of 1,000\n"), "{text}");
        assert!(!text.contains("16:00:00Z"), "OK windows are not listed");
        assert!(text.ends_with("1 ELEVATED, 1 HIGH in 14 days"));
        let strict = crate::judge::group_rules::GroupRules::parse(
            r#"{"/g":{"elevated_percent":1,"high_percent":5}}"#,
            Rules::default(),
        )
        .unwrap()
        .for_group("/g");
        assert_eq!(History::judge("/g", 14, 5, &strict, &r).summary(), "1 ELEVATED, 2 HIGH in 14 days");
        let json = h.to_json();
        assert_eq!((json["elevated"].as_u64(), json["high"].as_u64()), (Some(1), Some(1)));
        assert_eq!(json["windows"][1]["rate_percent"], "30.0");
    }

    #[test]
    fn ignored_codes_leave_both_sides() {
        let rules = Rules { ignored: "404".parse().unwrap(), ..Rules::default() };
        assert_eq!(queries("/g", &rules).iter().map(|q| q.id.as_str()).collect::<Vec<_>>(), ["r", "c", "i404"]);
        // Minutes of one window are added up.
        let r = results(&[(T, 500.0, 150.0, 140.0), (T + 60_000, 500.0, 0.0, 0.0)]);
        let h = History::judge("/g", 1, 5, &rules, &r);
        assert_eq!(h.windows[0].rate, ClientErrorRate { client_errors: 10, requests: 860 });
        assert_eq!(h.windows[0].severity, Severity::Ok);
    }

    #[test]
    fn counts_per_window_judge_as_the_metrics_do() {
        let rules = Rules { ignored: "404".parse().unwrap(), ..Rules::default() };
        let mut windows = BTreeMap::new();
        let mut c = Counts::default();
        c.add_status(200, 860);
        c.add_status(403, 10);
        c.add_status(404, 130);
        c.unparsed = 7;
        windows.insert(T, c);
        let from_counts = History::judge("/g", 1, 5, &rules, &series_of(&windows, &rules));
        let from_metrics = History::judge("/g", 1, 5, &rules, &results(&[(T, 1000.0, 140.0, 130.0)]));
        assert_eq!(from_counts, from_metrics);
        assert_eq!(from_counts.windows[0].rate, ClientErrorRate { client_errors: 10, requests: 870 });
    }

    #[test]
    fn span_ends_at_the_current_window() {
        let (start, end) = span(T + 123_456, 14, 5);
        assert_eq!(end, T);
        assert_eq!(end - start, 14 * 86_400_000);
    }
}
