//! The CloudWatch metric contract, as plain data: which datums a batch writes and which queries read
//! a window's running totals back. Users build dashboards and alarms on these names: change nothing
//! here without a release note.

use crate::finding::{ClientErrorCode, Totals};
use crate::severity::Severity;
use crate::status::is_client_error;
use crate::tally::Counts;
use crate::time::EpochMillis;
use std::collections::BTreeMap;

/// `Requests` (Count), dimension `LogGroup`.
pub const REQUESTS: &str = "Requests";
/// `ClientErrors` (Count), dimension `LogGroup`; and with `LogGroup`, `StatusCode`.
pub const CLIENT_ERRORS: &str = "ClientErrors";
/// `UnparsedLines` (Count), dimension `LogGroup`.
pub const UNPARSED_LINES: &str = "UnparsedLines";
/// `AlertsPublished` (Count), dimensions `LogGroup`, `Severity` (`ELEVATED`, `HIGH`, `RECOVERED`):
/// also the marker that a window has alerted at a level.
pub const ALERTS_PUBLISHED: &str = "AlertsPublished";
/// The `Severity` value of a recovery notice.
pub const RECOVERED: &str = "RECOVERED";
/// `StatusCode` value for 4xx codes outside the tracked set.
pub const OTHER_4XX: &str = "Other4xx";

/// One value to write: a metric, its dimensions, the minute it belongs to, a count.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    /// Metric name.
    pub name: &'static str,
    /// `(name, value)` pairs, in this order.
    pub dimensions: Vec<Dim>,
    /// The minute (or window start, for markers).
    pub timestamp: EpochMillis,
    /// The count.
    pub value: f64,
}

/// One metric to read back (Sum per minute over the read span).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Query id: unique in a call, `[a-z][a-zA-Z0-9_]*`.
    pub id: String,
    /// Metric name.
    pub name: &'static str,
    /// `(name, value)` pairs, in the order they were written.
    pub dimensions: Vec<Dim>,
}

/// What a query means for a window's totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Requests,
    Code(ClientErrorCode),
    Unparsed,
    Alerted(Severity),
    Recovered,
}

/// A window's running totals and markers, as stored in (or read from) metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowState {
    /// Requests, 4xx by tracked code and `Other4xx`, unparsed lines.
    pub totals: Totals,
    /// The highest level this window has alerted at (ELEVATED or HIGH), if any.
    pub alerted: Option<Severity>,
    /// A recovery notice was sent for this window.
    pub recovered: bool,
}

impl WindowState {
    /// Field-wise maximum: both sides are lower bounds of the truth (metrics can lag behind writes).
    pub fn max(&self, other: &WindowState) -> WindowState {
        let mut client_errors = self.totals.client_errors.clone();
        for (code, n) in &other.totals.client_errors {
            let e = client_errors.entry(*code).or_default();
            *e = (*e).max(*n);
        }
        WindowState {
            totals: Totals {
                requests: self.totals.requests.max(other.totals.requests),
                client_errors,
                unparsed: self.totals.unparsed.max(other.totals.unparsed),
            },
            alerted: self.alerted.max(other.alerted),
            recovered: self.recovered || other.recovered,
        }
    }
}

/// The metric contract for one namespace and tracked-code set.
#[derive(Debug, Clone)]
pub struct MetricPlan {
    tracked: Vec<u16>,
}

/// A dimension: `(name, value)`.
type Dim = (&'static str, String);

fn group_dim(log_group: &str) -> Dim {
    ("LogGroup", log_group.to_string())
}

impl MetricPlan {
    /// A plan that gives each of `tracked` its own `StatusCode` dimension value.
    pub fn new(tracked: &[u16]) -> Self {
        MetricPlan { tracked: tracked.to_vec() }
    }

    /// Maps per-status counts to the tracked codes and `Other4xx`.
    pub fn totals(&self, counts: &Counts) -> Totals {
        let mut t = Totals { requests: counts.requests(), unparsed: counts.unparsed, ..Totals::default() };
        for (status, n) in counts.iter().filter(|(s, _)| is_client_error(*s)) {
            *t.client_errors.entry(self.code(status)).or_default() += n;
        }
        t
    }

    fn code(&self, status: u16) -> ClientErrorCode {
        if self.tracked.contains(&status) {
            ClientErrorCode::Status(status)
        } else {
            ClientErrorCode::Other4xx
        }
    }

    /// The datums for one log group's counts in one minute.
    pub fn count_datums(&self, log_group: &str, minute: EpochMillis, counts: &Counts) -> Vec<Datum> {
        let t = self.totals(counts);
        let datum = |name, extra: Option<String>, value: u64| Datum {
            name,
            dimensions: std::iter::once(group_dim(log_group)).chain(extra.map(|c| ("StatusCode", c))).collect(),
            timestamp: minute,
            value: value as f64,
        };
        let mut out = vec![
            datum(REQUESTS, None, t.requests),
            datum(CLIENT_ERRORS, None, t.client_errors.values().sum()),
            datum(UNPARSED_LINES, None, t.unparsed),
        ];
        out.extend(t.client_errors.iter().map(|(code, n)| datum(CLIENT_ERRORS, Some(code.key()), *n)));
        out
    }

    /// The marker datum for an alert (or recovery notice) about the window starting at `window`.
    pub fn marker(&self, log_group: &str, window: EpochMillis, level: &str) -> Datum {
        Datum {
            name: ALERTS_PUBLISHED,
            dimensions: vec![group_dim(log_group), ("Severity", level.to_string())],
            timestamp: window,
            value: 1.0,
        }
    }

    fn slots(&self) -> Vec<(Slot, &'static str, Option<Dim>)> {
        let mut v = vec![(Slot::Requests, REQUESTS, None), (Slot::Unparsed, UNPARSED_LINES, None)];
        let codes = self.tracked.iter().map(|c| ClientErrorCode::Status(*c)).chain([ClientErrorCode::Other4xx]);
        v.extend(codes.map(|c| (Slot::Code(c), CLIENT_ERRORS, Some(("StatusCode", c.key())))));
        for (slot, level) in [
            (Slot::Alerted(Severity::Elevated), "ELEVATED"),
            (Slot::Alerted(Severity::High), "HIGH"),
            (Slot::Recovered, RECOVERED),
        ] {
            v.push((slot, ALERTS_PUBLISHED, Some(("Severity", level.to_string()))));
        }
        v
    }

    /// The queries that read back the windows of `log_groups` (the `i`th group's ids start `g{i}_`).
    pub fn queries(&self, log_groups: &[&str]) -> Vec<Query> {
        let slots = self.slots();
        log_groups
            .iter()
            .enumerate()
            .flat_map(|(g, group)| {
                slots.iter().enumerate().map(move |(s, (_, name, extra))| Query {
                    id: format!("g{g}_{s}"),
                    name,
                    dimensions: std::iter::once(group_dim(group)).chain(extra.clone()).collect(),
                })
            })
            .collect()
    }

    /// Folds query results (`id` → `(timestamp, sum)` points) into per-group, per-window states.
    pub fn window_states(
        &self,
        log_groups: &[&str],
        results: &BTreeMap<String, Vec<(EpochMillis, f64)>>,
        window_minutes: u32,
    ) -> BTreeMap<(String, EpochMillis), WindowState> {
        let slots = self.slots();
        let mut out: BTreeMap<(String, EpochMillis), WindowState> = BTreeMap::new();
        for (g, group) in log_groups.iter().enumerate() {
            for (s, (slot, _, _)) in slots.iter().enumerate() {
                for (t, v) in results.get(&format!("g{g}_{s}")).into_iter().flatten() {
                    let n = v.max(0.0).round() as u64;
                    let w = out.entry((group.to_string(), crate::time::window_start(*t, window_minutes))).or_default();
                    match slot {
                        Slot::Requests => w.totals.requests += n,
                        Slot::Unparsed => w.totals.unparsed += n,
                        Slot::Code(c) => *w.totals.client_errors.entry(*c).or_default() += n,
                        Slot::Alerted(level) if n > 0 => w.alerted = w.alerted.max(Some(*level)),
                        Slot::Recovered => w.recovered |= n > 0,
                        Slot::Alerted(_) => {}
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datums_follow_the_contract() {
        let plan = MetricPlan::new(&[403, 404]);
        let mut c = Counts::default();
        c.add_status(200, 7);
        c.add_status(403, 2);
        c.add_status(418, 1);
        c.unparsed = 3;
        let d = plan.count_datums("/g", 60_000, &c);
        let find = |name: &str, code: Option<&str>| {
            d.iter().find(|x| x.name == name && x.dimensions.get(1).map(|(_, v)| v.as_str()) == code).map(|x| x.value)
        };
        assert_eq!(find(REQUESTS, None), Some(10.0));
        assert_eq!(find(CLIENT_ERRORS, None), Some(3.0));
        assert_eq!(find(CLIENT_ERRORS, Some("403")), Some(2.0));
        assert_eq!(find(CLIENT_ERRORS, Some("Other4xx")), Some(1.0));
        assert_eq!(find(UNPARSED_LINES, None), Some(3.0));
        assert!(d.iter().all(|x| x.dimensions[0] == ("LogGroup", "/g".to_string()) && x.timestamp == 60_000));
    }

    #[test]
    fn results_fold_into_windows() {
        let plan = MetricPlan::new(&[403]);
        let q = plan.queries(&["/g"]);
        let id = |name: &str, dim: Option<&str>| {
            q.iter().find(|x| x.name == name && x.dimensions.get(1).map(|(_, v)| v.as_str()) == dim).unwrap().id.clone()
        };
        let mut r = BTreeMap::new();
        r.insert(id(REQUESTS, None), vec![(0, 100.0), (60_000, 50.0), (300_000, 7.0)]);
        r.insert(id(CLIENT_ERRORS, Some("403")), vec![(0, 30.0)]);
        r.insert(id(ALERTS_PUBLISHED, Some("HIGH")), vec![(0, 1.0)]);
        r.insert(id(ALERTS_PUBLISHED, Some(RECOVERED)), vec![(300_000, 1.0)]);
        let s = plan.window_states(&["/g"], &r, 5);
        let w0 = &s[&("/g".to_string(), 0)];
        assert_eq!(w0.totals.requests, 150);
        assert_eq!(w0.totals.client_errors[&ClientErrorCode::Status(403)], 30);
        assert_eq!(w0.alerted, Some(Severity::High));
        assert!(s[&("/g".to_string(), 300_000)].recovered);
    }

    #[test]
    fn max_keeps_the_larger_lower_bound() {
        let mut a = WindowState::default();
        a.totals.requests = 10;
        let mut b = WindowState { alerted: Some(Severity::Elevated), ..Default::default() };
        b.totals.requests = 7;
        b.totals.client_errors.insert(ClientErrorCode::Status(403), 3);
        let m = a.max(&b);
        assert_eq!((m.totals.requests, m.alerted), (10, Some(Severity::Elevated)));
        assert_eq!(m.totals.client_errors[&ClientErrorCode::Status(403)], 3);
    }
}
