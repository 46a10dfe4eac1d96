//! The CloudWatch metric contract, as plain data: names, dimensions and levels, which values a
//! minute of counts becomes, the alert markers, and the queries that read a window back. Users build
//! dashboards and alarms on these names: change nothing here without a release note.
//!
//! Counts reach CloudWatch as Embedded Metric Format documents ([`crate::metrics::emf`]) and markers through
//! PutMetricData; both land in the same namespace, metrics and dimensions.
//!
//! Two additions are the function's own bookkeeping (see [`crate::window::ledger`]), added beside
//! the contract and changing none of it: the [`WINDOW_WRITER`] mark a container puts before its
//! first counts for a window, and the counts of a window several containers wrote to, written a
//! second time under the same names with the [`WRITER`] dimension added: the writer's position
//! among the window's writers (0 for the first container that marked it, 1 for the next…), unique
//! per window and small, so these series stay few whatever the number of containers.

use crate::base::status::is_client_error;
use crate::base::time::{window_start, EpochMillis, DAY_MS, HOUR_MS};
use crate::count::tally::Counts;
use crate::judge::finding::{ClientErrorCode, Totals};
use crate::window::marker::Marker;
use crate::window::state::{WindowKey, WindowState};
use std::collections::BTreeMap;
use std::ops::Range;

/// The namespace unless `METRIC_NAMESPACE` says otherwise.
pub const DEFAULT_NAMESPACE: &str = "ApiGateway4xx";
/// `Requests` (Count), dimension `LogGroup`.
pub const REQUESTS: &str = "Requests";
/// `ClientErrors` (Count), dimension `LogGroup`; and with `LogGroup`, `StatusCode`.
pub const CLIENT_ERRORS: &str = "ClientErrors";
/// `UnparsedLines` (Count), dimension `LogGroup`.
pub const UNPARSED_LINES: &str = "UnparsedLines";
/// `AlertsPublished` (Count), dimensions `LogGroup`, `Severity` (`ELEVATED`, `HIGH`, `RECOVERED`):
/// also the marker that a window has alerted at a level.
pub const ALERTS_PUBLISHED: &str = "AlertsPublished";
/// `WatchedLogGroups` (Count), no dimension: groups holding this stack's filter after a sweep.
pub const WATCHED_LOG_GROUPS: &str = "WatchedLogGroups";
/// `UnwatchableLogGroups` (Count), no dimension: wanted groups the sweep cannot subscribe (no free
/// filter slot, access denied, no such group).
pub const UNWATCHABLE_LOG_GROUPS: &str = "UnwatchableLogGroups";
/// The dimension every count carries.
pub const LOG_GROUP: &str = "LogGroup";
/// The dimension of the per-code `ClientErrors`.
pub const STATUS_CODE: &str = "StatusCode";
/// The dimension of `AlertsPublished`.
pub const SEVERITY: &str = "Severity";
/// `WindowWriter`, dimension `LogGroup`: one datum per container and window, put before the
/// container's first counts for the window, its value the container's [`WriterId`]. Read back as
/// Minimum and Maximum it tells whether another container wrote to the window; as SampleCount, how
/// many marked it before (the position of the next writer).
pub const WINDOW_WRITER: &str = "WindowWriter";
/// The dimension that tags a writer's own counts of a shared window: its position among the
/// window's writers.
pub const WRITER: &str = "Writer";
/// Minute of the metrics: standard resolution.
pub const STORAGE_RESOLUTION_SECONDS: i32 = 60;

/// CloudWatch accepts a metric timestamp up to two weeks in the past… ("Timestamps" in the CloudWatch
/// concepts; PutMetricData answers `InvalidParameterValue` "must specify a time within the past two
/// weeks" for an older one and refuses the whole request; EMF extraction drops it silently).
pub const MAX_PAST_MS: i64 = 14 * DAY_MS;
/// …and up to two hours in the future (same sources; AWS's EMF libraries check both bounds inclusively).
pub const MAX_FUTURE_MS: i64 = 2 * HOUR_MS;
/// CloudWatch dimension values: 1 to 1,024 characters (API reference, `Dimension`).
pub const MAX_DIMENSION_VALUE: usize = 1024;

/// Timestamps CloudWatch accepts metric values for, seen at `now`: from `now` less two weeks to
/// `now` plus two hours, both ends included (written half-open: the end is one millisecond past).
///
/// CloudWatch judges a timestamp when the write reaches it (PutMetricData at once; EMF when the
/// log line is extracted, seconds later), so this is exact at `now` and no wider.
pub fn accepted_range(now: EpochMillis) -> Range<EpochMillis> {
    now - MAX_PAST_MS..now + MAX_FUTURE_MS + 1
}

/// Longest namespace: 255 characters (API reference, `Metric`: `Namespace`).
pub const MAX_NAMESPACE: usize = 255;

/// The namespace rule of [`namespace_problem`] as a CloudFormation `AllowedPattern` (Java regular
/// expression, matched whole), for the template's `MetricNamespace` (`bootstrap --print-defaults`
/// prints it, and a test compares it with the template).
pub const NAMESPACE_PATTERN: &str = "^(?!AWS/)[A-Za-z0-9._#/-][A-Za-z0-9._#:/-]{0,254}$";

/// Why CloudWatch would refuse `namespace`, or lose every count written to it: 1 to 255 characters
/// (API reference, `Metric`), not starting with `:` (its pattern `[^:].*`) nor with `AWS/` (reserved
/// for AWS services, PutMetricData reference); only letters, digits and `.` `-` `_` `/` `#` `:`
/// (the CloudWatch user guide's list less the space, which AWS's EMF libraries refuse: an EMF
/// document with a namespace CloudWatch does not take is dropped silently, with all its counts).
pub fn namespace_problem(namespace: &str) -> Option<&'static str> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b".-_/#:".contains(&b);
    if namespace.is_empty() {
        Some("empty")
    } else if namespace.len() > MAX_NAMESPACE {
        Some("longer than 255 characters")
    } else if !namespace.bytes().all(allowed) {
        Some("only letters, digits and . - _ / # : are allowed")
    } else if namespace.starts_with(':') {
        Some("must not start with ':'")
    } else if namespace.starts_with("AWS/") {
        Some("namespaces starting with AWS/ are reserved for AWS services")
    } else {
        None
    }
}

/// Why CloudWatch would refuse a dimension value (a log group name): the `Dimension` API reference
/// asks for 1 to 1,024 ASCII characters, at least one not whitespace, no control characters.
pub fn dimension_value_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        Some("empty")
    } else if value.len() > MAX_DIMENSION_VALUE {
        Some("longer than 1,024 characters")
    } else if !value.is_ascii() {
        Some("not ASCII")
    } else if value.bytes().any(|b| b.is_ascii_control()) {
        Some("contains control characters")
    } else if value.bytes().all(|b| b.is_ascii_whitespace()) {
        Some("only whitespace")
    } else {
        None
    }
}

/// A container's id: a random integer below 2^52 (exact as a metric value), drawn at init.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WriterId(u64);

impl WriterId {
    /// The id from 64 random bits (kept to 52, never 0).
    pub fn from_bits(bits: u64) -> WriterId {
        WriterId((bits & ((1 << 52) - 1)).max(1))
    }

    /// As a metric value (exact).
    pub fn value(self) -> f64 {
        self.0 as f64
    }

    /// True when a `WindowWriter` value read back is this id.
    pub fn is(self, value: f64) -> bool {
        value == self.value()
    }
}

/// One value to write with PutMetricData (alert markers, writer marks): a metric, its dimensions, a
/// timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    /// Metric name.
    pub name: &'static str,
    /// `(name, value)` pairs, in this order.
    pub dimensions: Vec<Dim>,
    /// The window start.
    pub timestamp: EpochMillis,
    /// The count.
    pub value: f64,
}

/// What a query's values mean for a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `Requests`.
    Requests,
    /// `ClientErrors` with `LogGroup` only: all 4xx.
    ClientErrors,
    /// `ClientErrors` of one code (or `Other4xx`).
    Code(ClientErrorCode),
    /// `UnparsedLines`.
    Unparsed,
    /// `AlertsPublished` at one level.
    Marker(Marker),
    /// A statistic of `WindowWriter`: its Minimum or Maximum is another value than `own`'s when
    /// another container marked the window; its SampleCount is how many marks it has.
    Writer {
        /// The statistic.
        stat: MarkStat,
        /// The reading container.
        own: WriterId,
    },
}

/// The statistics of `WindowWriter` a decision reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkStat {
    /// The smallest writer id.
    Minimum,
    /// The largest writer id.
    Maximum,
    /// How many marks.
    SampleCount,
}

impl MarkStat {
    /// Every statistic read.
    pub const ALL: [MarkStat; 3] = [MarkStat::Minimum, MarkStat::Maximum, MarkStat::SampleCount];

    fn name(self) -> &'static str {
        match self {
            MarkStat::Minimum => "Minimum",
            MarkStat::Maximum => "Maximum",
            MarkStat::SampleCount => "SampleCount",
        }
    }
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
    /// The log group it reads.
    pub log_group: String,
    /// What its values mean.
    pub slot: Slot,
    /// The statistic read: `Sum`, or another for writer marks.
    pub stat: &'static str,
}

impl Query {
    /// The query `id` for `slot` of `log_group`: the metric name and dimensions the contract gives it.
    pub fn new(id: String, log_group: &str, slot: Slot) -> Query {
        let (name, extra, stat) = match slot {
            Slot::Requests => (REQUESTS, None, "Sum"),
            Slot::ClientErrors => (CLIENT_ERRORS, None, "Sum"),
            Slot::Unparsed => (UNPARSED_LINES, None, "Sum"),
            Slot::Code(c) => (CLIENT_ERRORS, Some((STATUS_CODE, c.key())), "Sum"),
            Slot::Marker(m) => (ALERTS_PUBLISHED, Some((SEVERITY, m.level().to_string())), "Sum"),
            Slot::Writer { stat, .. } => (WINDOW_WRITER, None, stat.name()),
        };
        Query {
            id,
            name,
            dimensions: std::iter::once((LOG_GROUP, log_group.to_string())).chain(extra).collect(),
            log_group: log_group.to_string(),
            slot,
            stat,
        }
    }

    /// The same metric restricted to the counts tagged by the writer at `position`.
    fn tagged(mut self, position: u32) -> Query {
        self.dimensions.push((WRITER, position.to_string()));
        self
    }
}

/// A dimension: `(name, value)`.
pub type Dim = (&'static str, String);

/// What a read returns: `id` → `(minute, sum)` points.
pub type Results = BTreeMap<String, Vec<(EpochMillis, f64)>>;

/// The metric contract for one tracked-code set.
#[derive(Debug, Clone)]
pub struct MetricPlan {
    tracked: Vec<u16>,
    ignored: Vec<u16>,
}

impl MetricPlan {
    /// A plan that gives each of `tracked` its own `StatusCode` value; the `ignored` codes (which
    /// must be tracked) are read with every window's totals, since the rate leaves them out.
    pub fn new(tracked: &[u16], ignored: &[u16]) -> Self {
        MetricPlan { tracked: tracked.to_vec(), ignored: ignored.to_vec() }
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

    /// The marker datum for `marker` on the window starting at `window`.
    pub fn marker(&self, log_group: &str, window: EpochMillis, marker: Marker) -> Datum {
        Datum {
            name: ALERTS_PUBLISHED,
            dimensions: vec![(LOG_GROUP, log_group.to_string()), (SEVERITY, marker.level().to_string())],
            timestamp: window,
            value: 1.0,
        }
    }

    /// The writer mark `writer` puts on the window starting at `window` before its first counts.
    pub fn writer_mark(&self, log_group: &str, window: EpochMillis, writer: WriterId) -> Datum {
        Datum {
            name: WINDOW_WRITER,
            dimensions: vec![(LOG_GROUP, log_group.to_string())],
            timestamp: window,
            value: writer.value(),
        }
    }

    /// The totals and the ignored codes: what a decision reads of every writer's counts (and, tagged,
    /// of its own).
    fn decision_slots(&self) -> Vec<Slot> {
        let mut slots = vec![Slot::Requests, Slot::ClientErrors, Slot::Unparsed];
        slots.extend(self.ignored.iter().map(|c| Slot::Code(ClientErrorCode::Status(*c))));
        slots
    }

    /// The codes of the breakdown an alert shows (ignored codes come with the decision queries).
    fn breakdown_slots(&self) -> Vec<Slot> {
        let codes = self.tracked.iter().filter(|c| !self.ignored.contains(c)).map(|c| ClientErrorCode::Status(*c));
        codes.chain([ClientErrorCode::Other4xx]).map(Slot::Code).collect()
    }

    /// What a decision needs per log group: the totals, the ignored codes, the markers and the
    /// writer marks (as `reader` sees them).
    pub fn decision_queries<'a>(&self, log_groups: impl IntoIterator<Item = &'a str>, reader: WriterId) -> Vec<Query> {
        let mut slots = self.decision_slots();
        slots.extend(Marker::ALL.map(Slot::Marker));
        slots.extend(MarkStat::ALL.map(|stat| Slot::Writer { stat, own: reader }));
        queries(log_groups, &slots, "d")
    }

    /// The per-code breakdown an alert shows (ignored codes come with the decision queries).
    pub fn breakdown_queries<'a>(&self, log_groups: impl IntoIterator<Item = &'a str>) -> Vec<Query> {
        queries(log_groups, &self.breakdown_slots(), "b")
    }

    /// What the writer at `position` wrote tagged to `log_group`'s windows: of the decision's counts
    /// (`breakdown` false), or of the breakdown's codes. `index` keeps the ids of several such
    /// sets in one request apart.
    pub fn own_queries(&self, log_group: &str, position: u32, index: usize, breakdown: bool) -> Vec<Query> {
        let (slots, prefix) = if breakdown { (self.breakdown_slots(), "c") } else { (self.decision_slots(), "o") };
        queries([log_group], &slots, &format!("{prefix}{index}x")).into_iter().map(|q| q.tagged(position)).collect()
    }
}

fn queries<'a>(log_groups: impl IntoIterator<Item = &'a str>, slots: &[Slot], prefix: &str) -> Vec<Query> {
    let mut out = Vec::new();
    for (g, group) in log_groups.into_iter().enumerate() {
        for (s, slot) in slots.iter().enumerate() {
            out.push(Query::new(format!("{prefix}{g}_{s}"), group, *slot));
        }
    }
    out
}

/// Folds query results into per-window stored states (lower bounds: what CloudWatch holds so far).
pub fn fold(queries: &[Query], results: &Results, window_minutes: u32) -> BTreeMap<WindowKey, WindowState> {
    let mut out: BTreeMap<WindowKey, WindowState> = BTreeMap::new();
    for q in queries {
        for (t, v) in results.get(&q.id).into_iter().flatten() {
            let n = v.max(0.0).round() as u64;
            let w = out.entry((q.log_group.clone(), window_start(*t, window_minutes))).or_default();
            match q.slot {
                Slot::Requests => w.requests += n,
                Slot::ClientErrors => w.client_errors += n,
                Slot::Unparsed => w.unparsed += n,
                Slot::Code(c) => *w.codes.entry(c).or_default() += n,
                Slot::Marker(m) if n > 0 => w.mark(m),
                Slot::Marker(_) => {}
                Slot::Writer { stat: MarkStat::SampleCount, .. } => w.writers += n,
                Slot::Writer { own, .. } => w.shared |= !own.is(*v),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::severity::Severity;

    #[test]
    fn totals_map_codes_to_the_contract() {
        let plan = MetricPlan::new(&[403, 404], &[]);
        let mut c = Counts::default();
        c.add_status(200, 7);
        c.add_status(403, 2);
        c.add_status(418, 1);
        c.unparsed = 3;
        let t = plan.totals(&c);
        assert_eq!((t.requests, t.unparsed), (10, 3));
        assert_eq!(t.client_errors[&ClientErrorCode::Status(403)], 2);
        assert_eq!(t.client_errors[&ClientErrorCode::Other4xx], 1);
    }

    #[test]
    fn decisions_read_totals_ignored_codes_and_markers_only() {
        let plan = MetricPlan::new(&[400, 401, 403, 404], &[401]);
        let q = plan.decision_queries(["/g"], WriterId::from_bits(7));
        let names: Vec<String> = q
            .iter()
            .map(|q| format!("{}{}", q.name, q.dimensions.get(1).map(|d| format!("/{}", d.1)).unwrap_or_default()))
            .collect();
        assert_eq!(
            names,
            [
                "Requests",
                "ClientErrors",
                "UnparsedLines",
                "ClientErrors/401",
                "AlertsPublished/ELEVATED",
                "AlertsPublished/HIGH",
                "AlertsPublished/RECOVERED",
                "WindowWriter",
                "WindowWriter",
                "WindowWriter"
            ]
        );
        assert_eq!(q.iter().rev().take(3).map(|q| q.stat).collect::<Vec<_>>(), ["SampleCount", "Maximum", "Minimum"]);
        let own = plan.own_queries("/g", 1, 0, false);
        assert_eq!(own.len(), 4, "the totals and the ignored code, tagged");
        assert!(own.iter().all(|q| q.dimensions.last() == Some(&(WRITER, "1".to_string()))));
        let b = plan.breakdown_queries(["/g", "/h"]);
        assert_eq!(b.len(), 2 * 4, "400, 403, 404, Other4xx per group");
        assert!(b.iter().all(|q| q.name == CLIENT_ERRORS && q.dimensions[1].0 == STATUS_CODE));
        let mut c = plan.own_queries("/g", 1, 0, true);
        c.extend(plan.own_queries("/h", 2, 1, true));
        let ids: std::collections::BTreeSet<_> =
            q.iter().chain(&b).chain(&own).chain(&c).map(|q| q.id.clone()).collect();
        assert_eq!(ids.len(), q.len() + b.len() + own.len() + c.len(), "ids are unique across every read");
    }

    #[test]
    fn results_fold_into_windows() {
        let plan = MetricPlan::new(&[403], &[]);
        let me = WriterId::from_bits(7);
        let q = plan.decision_queries(["/g"], me);
        let id = |slot: Slot| q.iter().find(|x| x.slot == slot).unwrap().id.clone();
        let mut r = Results::new();
        r.insert(id(Slot::Requests), vec![(0, 100.0), (60_000, 50.0), (300_000, 7.0)]);
        r.insert(id(Slot::ClientErrors), vec![(0, 30.0)]);
        r.insert(id(Slot::Marker(Marker::Alerted(Severity::High))), vec![(0, 2.0)]);
        r.insert(id(Slot::Marker(Marker::Recovered)), vec![(300_000, 1.0)]);
        r.insert(id(Slot::Writer { stat: MarkStat::Minimum, own: me }), vec![(0, 7.0), (300_000, 7.0)]);
        r.insert(id(Slot::Writer { stat: MarkStat::Maximum, own: me }), vec![(0, 7.0), (300_000, 9.0)]);
        r.insert(id(Slot::Writer { stat: MarkStat::SampleCount, own: me }), vec![(0, 1.0), (300_000, 2.0)]);
        let s = fold(&q, &r, 5);
        let w0 = &s[&("/g".to_string(), 0)];
        assert_eq!((w0.requests, w0.client_errors), (150, 30));
        assert_eq!(w0.markers.alerted, Some(Severity::High), "a duplicated marker is still one marker");
        assert!(!w0.shared, "only this container's mark");
        let w1 = &s[&("/g".to_string(), 300_000)];
        assert!(w1.markers.recovered);
        assert!(w1.shared, "another writer's mark");
        assert_eq!((w0.writers, w1.writers), (1, 2));
    }

    #[test]
    fn dimension_values_follow_the_api_reference() {
        assert_eq!(dimension_value_problem("/aws/apigateway/prod#1"), None);
        assert_eq!(dimension_value_problem(""), Some("empty"));
        assert_eq!(dimension_value_problem("   "), Some("only whitespace"));
        assert_eq!(dimension_value_problem("a\nb"), Some("contains control characters"));
        assert_eq!(dimension_value_problem("é"), Some("not ASCII"));
        assert_eq!(dimension_value_problem(&"x".repeat(1025)), Some("longer than 1,024 characters"));
        assert_eq!(dimension_value_problem(&"x".repeat(1024)), None);
    }

    #[test]
    fn accepted_range_is_two_weeks_back_two_hours_ahead_both_included() {
        let now = 1_764_000_012_345;
        let r = accepted_range(now);
        let (oldest, newest) = (now - 14 * 24 * 3_600_000, now + 2 * 3_600_000);
        assert!(r.contains(&oldest) && r.contains(&(oldest + 1)), "exactly two weeks back is accepted");
        assert!(!r.contains(&(oldest - 1)), "a millisecond more is not");
        assert!(r.contains(&newest) && r.contains(&(newest - 1)), "exactly two hours ahead is accepted");
        assert!(!r.contains(&(newest + 1)), "a millisecond more is not");
    }

    #[test]
    fn namespaces_follow_cloudwatch_and_emf_rules() {
        let long = "N".repeat(255);
        for ok in ["ApiGateway4xx", "Team/Api.4xx", "a", "x:y#z_1-2", "AWSome/x", "aws/x", "/x", long.as_str()] {
            assert_eq!(namespace_problem(ok), None, "{ok}");
        }
        let longer = "N".repeat(256);
        for (bad, why) in [
            ("", "empty"),
            (longer.as_str(), "longer than 255"),
            ("AWS/ApiGateway", "reserved"),
            ("AWS/", "reserved"),
            (":x", "':'"),
            ("Api Gateway", "only letters"),
            ("Api\tx", "only letters"),
            ("Apié", "only letters"),
            ("a\u{0}", "only letters"),
            ("a*", "only letters"),
        ] {
            assert!(namespace_problem(bad).is_some_and(|p| p.contains(why)), "{bad:?}: {:?}", namespace_problem(bad));
        }
    }

    /// The template's pattern says what [`namespace_problem`] says (its `AWS/` look-ahead checked
    /// apart: the regex crate has no look-around).
    #[test]
    fn the_namespace_pattern_agrees_with_the_check() {
        let body = NAMESPACE_PATTERN.strip_prefix("^(?!AWS/)").expect("the pattern opens with the AWS/ look-ahead");
        let re = regex::Regex::new(&format!("^{body}")).unwrap();
        let mut samples: Vec<String> = ["", "a", ":a", "a:", "AWS/x", "AWS", "AWSx", "a b", "a/b.c-d_e#f", "é", "a\n"]
            .into_iter()
            .map(String::from)
            .collect();
        samples.extend(["x".repeat(255), "x".repeat(256)]);
        samples.extend((0u8..128).map(|b| format!("a{}", b as char)));
        samples.extend((0u8..128).map(|b| format!("{}a", b as char)));
        for s in &samples {
            let by_pattern = re.is_match(s) && !s.starts_with("AWS/");
            assert_eq!(by_pattern, namespace_problem(s).is_none(), "{s:?}");
        }
    }
}
