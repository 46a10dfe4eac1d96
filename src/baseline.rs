//! A log group's own normal: its 4xx rate over the last 7 days, from the function's hourly
//! `Requests` and `ClientErrors` metrics, the current window left out. It says whether a window is
//! unusual for this API, and with `SPIKE_FACTOR` it can alert a window that stays under the fixed
//! levels (the private microservice that should see almost no 4xx).
//!
//! One GetMetricData call reads it: per log group, `Requests` and `ClientErrors` (dimension
//! `LogGroup`) and `ClientErrors` with `StatusCode` for each code the group ignores, Sum per hour,
//! over the 168 whole hours before the hour the window starts in.

use crate::finding::ClientErrorCode;
use crate::metrics::{Query, Slot, CLIENT_ERRORS, REQUESTS};
use crate::severity::{ClientErrorRate, IgnoredStatuses, Percent, Severity};
use crate::time::EpochMillis;
use std::collections::BTreeMap;

/// How far back the baseline looks.
pub const BASELINE_DAYS: i64 = 7;
/// Less history than this is no baseline.
pub const MIN_HISTORY_HOURS: i64 = 24;
/// The baseline's resolution, in seconds (the GetMetricData period).
pub const PERIOD_SECONDS: i32 = 3600;
const HOUR_MS: i64 = 3_600_000;

/// The span a baseline reads for a window starting at `window_start`: `[start, end)`, whole hours.
pub fn span(window_start: EpochMillis) -> (EpochMillis, EpochMillis) {
    let end = window_start.div_euclid(HOUR_MS) * HOUR_MS;
    (end - BASELINE_DAYS * 24 * HOUR_MS, end)
}

/// The queries for the baselines of `groups` (each with the codes it ignores), in one call. The
/// `i`th group's ids start `b{i}_`: `b{i}_r` requests, `b{i}_c` 4xx, `b{i}_i{code}` ignored codes.
pub fn queries(groups: &[(&str, &IgnoredStatuses)]) -> Vec<Query> {
    let dim = |g: &str| ("LogGroup", g.to_string());
    groups
        .iter()
        .enumerate()
        .flat_map(|(i, (group, ignored))| {
            let base = [
                Query {
                    id: format!("b{i}_r"),
                    name: REQUESTS,
                    dimensions: vec![dim(group)],
                    log_group: group.to_string(),
                    slot: Slot::Requests,
                },
                Query {
                    id: format!("b{i}_c"),
                    name: CLIENT_ERRORS,
                    dimensions: vec![dim(group)],
                    log_group: group.to_string(),
                    slot: Slot::ClientErrors,
                },
            ];
            let codes = ignored.codes().iter().map(move |c| Query {
                id: format!("b{i}_i{c}"),
                name: CLIENT_ERRORS,
                dimensions: vec![dim(group), ("StatusCode", c.to_string())],
                log_group: group.to_string(),
                slot: Slot::Code(ClientErrorCode::Status(*c)),
            });
            base.into_iter().chain(codes)
        })
        .collect()
}

/// A group's normal rate, or why there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// Fewer than 24 hours of history (or no requests in it).
    NotEnoughHistory,
    /// The 4xx rate over the history read (ignored codes left out).
    Rate(ClientErrorRate),
}

/// Folds the `i`th group's query results (`id` → `(hour, sum)`) into its baseline. History counts
/// from the oldest hour with requests to the end of the span.
pub fn from_results(
    i: usize,
    ignored: &IgnoredStatuses,
    results: &BTreeMap<String, Vec<(EpochMillis, f64)>>,
    span_end: EpochMillis,
) -> Baseline {
    let sum = |id: String| -> u64 {
        results
            .get(&id)
            .into_iter()
            .flatten()
            .filter(|(t, _)| *t < span_end)
            .map(|(_, v)| v.max(0.0).round() as u64)
            .sum()
    };
    let oldest = results
        .get(&format!("b{i}_r"))
        .into_iter()
        .flatten()
        .filter(|(t, v)| *v > 0.0 && *t < span_end)
        .map(|(t, _)| *t)
        .min();
    let requests = sum(format!("b{i}_r"));
    let left_out: u64 = ignored.codes().iter().map(|c| sum(format!("b{i}_i{c}"))).sum();
    match oldest {
        Some(t) if span_end - t >= MIN_HISTORY_HOURS * HOUR_MS && requests > left_out => {
            let client_errors = sum(format!("b{i}_c")).saturating_sub(left_out);
            Baseline::Rate(ClientErrorRate { client_errors, requests: requests - left_out })
        }
        _ => Baseline::NotEnoughHistory,
    }
}

/// `ratio` of two rates in tenths (`156` for 15.6×), `None` when the baseline has no 4xx.
fn ratio_tenths(window: ClientErrorRate, base: ClientErrorRate) -> Option<u64> {
    if base.client_errors == 0 || window.requests == 0 {
        return None;
    }
    let num = u128::from(window.client_errors) * u128::from(base.requests) * 10;
    let den = u128::from(window.requests) * u128::from(base.client_errors);
    Some(((num + den / 2) / den) as u64)
}

impl Baseline {
    /// The alert line: `Baseline: 2.0% over the last 7 days (this window 15.6× that)`.
    pub fn line(&self, window: ClientErrorRate) -> String {
        match self {
            Baseline::NotEnoughHistory => "Baseline: not enough history".to_string(),
            Baseline::Rate(b) => {
                let head = format!("Baseline: {} over the last {BASELINE_DAYS} days", b.percent_text());
                match ratio_tenths(window, *b) {
                    Some(r) => format!("{head} (this window {}.{}× that)", r / 10, r % 10),
                    None if window.client_errors > 0 => format!("{head} (no 4xx before this window)"),
                    None => head,
                }
            }
        }
    }
}

/// `SPIKE_FACTOR`: how many times its baseline a window's rate must reach to alert ELEVATED under
/// the fixed level. Two decimals, at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpikeFactor(Percent);

impl std::str::FromStr for SpikeFactor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let err = || format!("'{s}' is not a factor from 1 to 100 (e.g. 5 or 2.5)");
        let p: Percent = s.parse().map_err(|_| err())?;
        if p < Percent::whole(1) {
            return Err(err());
        }
        Ok(SpikeFactor(p))
    }
}

impl std::fmt::Display for SpikeFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.to_string().trim_end_matches('%'))
    }
}

impl SpikeFactor {
    /// True when `window` (already at least MinRequests, judged by the caller) has 4xx and its rate is
    /// at least this factor times `baseline`'s. Integer-exact.
    pub fn is_spike(self, window: ClientErrorRate, baseline: &Baseline) -> bool {
        let Baseline::Rate(b) = baseline else { return false };
        if window.client_errors == 0 || b.requests == 0 {
            return false;
        }
        // window.c / window.r >= f/100 × b.c / b.r  ⇔  window.c × b.r × 100 >= f × b.c × window.r
        let lhs = u128::from(window.client_errors) * u128::from(b.requests) * 100;
        let rhs = u128::from(self.0.basis_points()) * u128::from(b.client_errors) * u128::from(window.requests);
        lhs >= rhs
    }

    /// The severity after the spike rule: OK becomes ELEVATED for a spike; every other verdict stays.
    pub fn apply(self, fixed: Severity, window: ClientErrorRate, baseline: &Baseline) -> Severity {
        if fixed == Severity::Ok && self.is_spike(window, baseline) {
            Severity::Elevated
        } else {
            fixed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: EpochMillis = 1_764_000_300_000; // 16:05, inside the 16:00 hour

    fn rate(c: u64, r: u64) -> ClientErrorRate {
        ClientErrorRate { client_errors: c, requests: r }
    }

    /// `hours` hours of `per_hour` requests at `permille` ‰ 4xx, ending where the span ends.
    fn history(hours: i64, per_hour: f64, c_per_hour: f64) -> BTreeMap<String, Vec<(EpochMillis, f64)>> {
        let (_, end) = span(W);
        let hs: Vec<i64> = (1..=hours).map(|h| end - h * HOUR_MS).collect();
        BTreeMap::from([
            ("b0_r".to_string(), hs.iter().map(|t| (*t, per_hour)).collect()),
            ("b0_c".to_string(), hs.iter().map(|t| (*t, c_per_hour)).collect()),
        ])
    }

    #[test]
    fn span_is_seven_whole_days_before_the_windows_hour() {
        let (start, end) = span(W);
        assert_eq!(end, 1_764_000_000_000);
        assert_eq!(end - start, 7 * 24 * HOUR_MS);
    }

    #[test]
    fn queries_leave_ignored_codes_out() {
        let ignored: IgnoredStatuses = "404".parse().unwrap();
        let none = IgnoredStatuses::default();
        let q = queries(&[("/a", &none), ("/b", &ignored)]);
        let ids: Vec<&str> = q.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, ["b0_r", "b0_c", "b1_r", "b1_c", "b1_i404"]);
        assert_eq!(q[4].dimensions, vec![("LogGroup", "/b".to_string()), ("StatusCode", "404".to_string())]);
        let mut r = history(48, 1000.0, 50.0);
        r.insert("b0_i404".into(), r["b0_c"].iter().map(|(t, _)| (*t, 30.0)).collect());
        assert_eq!(from_results(0, &ignored, &r, span(W).1), Baseline::Rate(rate(20 * 48, 970 * 48)));
    }

    #[test]
    fn seven_days_at_two_percent() {
        let b = from_results(0, &IgnoredStatuses::default(), &history(168, 1000.0, 20.0), span(W).1);
        assert_eq!(b, Baseline::Rate(rate(20 * 168, 1000 * 168)));
        assert_eq!(b.line(rate(156, 500)), "Baseline: 2.0% over the last 7 days (this window 15.6× that)");
        assert_eq!(b.line(rate(0, 500)), "Baseline: 2.0% over the last 7 days (this window 0.0× that)");
    }

    #[test]
    fn under_a_day_is_not_enough() {
        let none = IgnoredStatuses::default();
        assert_eq!(from_results(0, &none, &history(23, 1000.0, 20.0), span(W).1), Baseline::NotEnoughHistory);
        assert_eq!(from_results(0, &none, &history(24, 1000.0, 20.0), span(W).1), Baseline::Rate(rate(480, 24_000)));
        assert_eq!(from_results(0, &none, &BTreeMap::new(), span(W).1), Baseline::NotEnoughHistory);
        assert_eq!(from_results(0, &none, &history(48, 0.0, 0.0), span(W).1), Baseline::NotEnoughHistory);
        assert_eq!(Baseline::NotEnoughHistory.line(rate(1, 2)), "Baseline: not enough history");
    }

    #[test]
    fn zero_baseline_says_so() {
        let b = Baseline::Rate(rate(0, 10_000));
        assert_eq!(b.line(rate(3, 100)), "Baseline: 0.0% over the last 7 days (no 4xx before this window)");
    }

    #[test]
    fn spike_factor_is_exact_and_only_lifts_ok() {
        let f: SpikeFactor = "5".parse().unwrap();
        let b = Baseline::Rate(rate(2, 1000)); // 0.2%
        assert!(f.is_spike(rate(10, 1000), &b), "1.0% is exactly 5× 0.2%");
        assert!(!f.is_spike(rate(9, 1000), &b));
        assert!(!f.is_spike(rate(0, 1000), &b));
        assert!(!f.is_spike(rate(50, 1000), &Baseline::NotEnoughHistory));
        assert_eq!(f.apply(Severity::Ok, rate(30, 1000), &b), Severity::Elevated);
        assert_eq!(f.apply(Severity::InsufficientData, rate(30, 50), &b), Severity::InsufficientData);
        assert_eq!(f.apply(Severity::High, rate(300, 1000), &b), Severity::High);
        assert!("2.5".parse::<SpikeFactor>().unwrap().is_spike(rate(5, 1000), &b));
        for bad in ["0.5", "x", "", "1000"] {
            assert!(bad.parse::<SpikeFactor>().is_err(), "{bad}");
        }
        assert_eq!("2.5".parse::<SpikeFactor>().unwrap().to_string(), "2.5");
    }
}
