//! How a log group's baseline is read: one GetMetricData call, per log group `Requests` and
//! `ClientErrors` (dimension `LogGroup`) and `ClientErrors` with `StatusCode` for each code the
//! group ignores, Sum per hour, over the 168 whole hours before the hour the window starts in.

use crate::base::time::{EpochMillis, DAY_MS, HOUR_MS};
use crate::judge::baseline::{Baseline, BASELINE_DAYS, MIN_HISTORY_HOURS};
use crate::judge::finding::ClientErrorCode;
use crate::judge::severity::{ClientErrorRate, IgnoredStatuses};
use crate::metrics::contract::{Query, Slot};
use std::collections::BTreeMap;

/// The baseline's resolution, in seconds (the GetMetricData period).
pub const PERIOD_SECONDS: i32 = 3600;

/// The span a baseline reads for a window starting at `window_start`: `[start, end)`, whole hours.
pub fn span(window_start: EpochMillis) -> (EpochMillis, EpochMillis) {
    let end = window_start.div_euclid(HOUR_MS) * HOUR_MS;
    (end - BASELINE_DAYS * DAY_MS, end)
}

/// The queries for the baselines of `groups` (each with the codes it ignores), in one call. The
/// `i`th group's ids start `b{i}_`: `b{i}_r` requests, `b{i}_c` 4xx, `b{i}_i{code}` ignored codes.
pub fn queries(groups: &[(&str, &IgnoredStatuses)]) -> Vec<Query> {
    groups
        .iter()
        .enumerate()
        .flat_map(|(i, (group, ignored))| {
            let base = [
                Query::new(format!("b{i}_r"), group, Slot::Requests),
                Query::new(format!("b{i}_c"), group, Slot::ClientErrors),
            ];
            let codes = ignored
                .codes()
                .iter()
                .map(move |c| Query::new(format!("b{i}_i{c}"), group, Slot::Code(ClientErrorCode::Status(*c))));
            base.into_iter().chain(codes)
        })
        .collect()
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
}
