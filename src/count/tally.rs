//! Counting: requests by status, unparsed lines, and for 4xx the methods, routes and gateway response
//! types that explain them; overall and per time bucket (a tumbling window, or a minute for metrics).

use crate::access_log::{AccessRecord, Line, LineParser, LineShape, PendingDenials};
use crate::base::status::is_client_error;
use crate::base::time::{window_start, EpochMillis};
use crate::count::values::ValueCounts;
use std::collections::BTreeMap;

/// Most windows (buckets) a tally keeps: a year of 15-minute windows, 27 days of 1-minute ones.
/// Past it, the earliest windows are kept and lines of later ones are counted overall and in
/// [`Tally::unbucketed`], in no window. Keeping the earliest (not the first seen) makes the result
/// independent of the order of reading and merging.
pub const MAX_BUCKETS: usize = 40_000;
/// Longest unparsed example line kept, in bytes.
const EXAMPLE_LEN: usize = 200;

/// Requests per status code (100..=599) and unparsed lines: additive and sparse.
///
/// A bucket sees a handful of distinct codes, so the counts are a short vector sorted by status:
/// an empty bucket allocates nothing, a typical one a few dozen bytes (a fixed 500-slot array was
/// 4 KB per bucket, 413 MB for a batch of 100,000 distinct minutes).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// `(status, count)`, ascending by status, statuses unique, counts non-zero.
    by_status: Vec<(u16, u64)>,
    /// Lines with no valid status.
    pub unparsed: u64,
}

impl std::fmt::Debug for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counts").field("by_status", &self.by_status).field("unparsed", &self.unparsed).finish()
    }
}

impl Counts {
    /// Counts `n` requests answered with `status` (which must be 100..=599; others are ignored).
    pub fn add_status(&mut self, status: u16, n: u64) {
        if !(100..=599).contains(&status) || n == 0 {
            return;
        }
        match self.by_status.binary_search_by_key(&status, |(s, _)| *s) {
            Ok(i) => self.by_status[i].1 += n,
            Err(i) => self.by_status.insert(i, (status, n)),
        }
    }

    /// Requests answered with `status`.
    pub fn get(&self, status: u16) -> u64 {
        self.by_status.binary_search_by_key(&status, |(s, _)| *s).map_or(0, |i| self.by_status[i].1)
    }

    /// `(status, count)` for every status seen, ascending.
    pub fn iter(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.by_status.iter().copied()
    }

    /// All requests (lines with a valid status).
    pub fn requests(&self) -> u64 {
        self.by_status.iter().map(|(_, n)| n).sum()
    }

    /// Requests with a 4xx status.
    pub fn client_errors(&self) -> u64 {
        self.by_status.iter().filter(|(s, _)| is_client_error(*s)).map(|(_, n)| n).sum()
    }

    /// Adds another set of counts.
    pub fn merge(&mut self, other: &Counts) {
        for (status, n) in other.iter() {
            self.add_status(status, n);
        }
        self.unparsed += other.unparsed;
    }
}

/// What the logs say about the 4xx of one status code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Counts by HTTP method.
    pub methods: ValueCounts,
    /// Counts by templated route.
    pub routes: ValueCounts,
    /// Counts by gateway response type.
    pub response_types: ValueCounts,
    /// Who sent them (API key, principal, caller, user or source IP), when the lines say.
    pub consumers: crate::count::consumers::Consumers,
}

impl Evidence {
    /// Counts `n` 4xx lines of record `r`: its method, route, response type and consumer.
    pub fn add(&mut self, r: &AccessRecord<'_>, n: u64) {
        self.add_request_fields(r, n);
        self.consumers.client_errors += n;
        self.consumers.add_identity(&r.origin, n);
    }

    /// Counts the method, route and response type of `n` 4xx lines of record `r` (not their
    /// consumer: see [`crate::count::consumers::Consumers::add_identity`]).
    pub fn add_request_fields(&mut self, r: &AccessRecord<'_>, n: u64) {
        for (counts, value) in
            [(&mut self.methods, r.method), (&mut self.routes, r.route), (&mut self.response_types, r.response_type)]
        {
            if let Some(v) = value {
                counts.add(v, n);
            }
        }
    }

    /// Adds another evidence record.
    pub fn merge(&mut self, other: &Evidence) {
        self.methods.merge(&other.methods);
        self.routes.merge(&other.routes);
        self.response_types.merge(&other.response_types);
        self.consumers.merge(&other.consumers);
    }
}

/// Where a tally's lines sit in the input: compared field by field (input, then unit within it,
/// then batch within the unit), so that [`Tally::merge`] keeps the first unparsed example and the
/// first shape of the whole input whatever order partial tallies are merged in. Any numbering that
/// grows with the input order will do; tallies that share a position keep the merge order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The input (file) number.
    pub input: u64,
    /// A unit within the input: a batch read in place, or a payload read on its own.
    pub unit: u64,
    /// A batch within the unit.
    pub batch: u64,
}

/// All counts of an analysis: overall, per 4xx status evidence, and per time bucket.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Everything counted.
    pub overall: Counts,
    /// Per 4xx status: methods, routes, response types.
    pub evidence: BTreeMap<u16, Evidence>,
    /// Per bucket start (when bucketing): counts.
    pub buckets: BTreeMap<EpochMillis, Counts>,
    /// Requests with no timestamp while bucketing: in `overall`, in no bucket.
    pub untimed: u64,
    /// Lines (requests and unparsed) in windows past [`MAX_BUCKETS`]: in `overall`, in no bucket.
    pub unbucketed: u64,
    /// Lines that are not requests by design (execution-log lines other than the last).
    pub not_requests: u64,
    /// The first unparsed line (truncated), to show the user what did not match.
    pub unparsed_example: Option<String>,
    /// The detected format of the first request line: how a Logs Insights query must read them.
    pub shape: Option<LineShape>,
    bucket_minutes: Option<u32>,
    current: Option<(EpochMillis, Counts)>,
    /// `($context.apiId, $context.stage)` of the lines that carry both (the smallest, so merging
    /// does not depend on order): the stage whose deployment an alert names.
    stage: Option<(Box<str>, Box<str>)>,
    /// Where this tally's own lines come from.
    position: Position,
    /// Where `unparsed_example` and `shape` come from (merged tallies carry others' positions).
    example_from: Position,
    shape_from: Position,
    /// Execution-log requests counted from an authorizer denial: their final line is not counted again.
    pending_denials: PendingDenials,
}

impl Tally {
    /// A tally without buckets (`None`) or with tumbling buckets of `minutes`.
    pub fn new(bucket_minutes: Option<u32>) -> Self {
        Tally {
            overall: Counts::default(),
            evidence: BTreeMap::new(),
            buckets: BTreeMap::new(),
            untimed: 0,
            unbucketed: 0,
            not_requests: 0,
            unparsed_example: None,
            shape: None,
            bucket_minutes,
            current: None,
            stage: None,
            position: Position::default(),
            example_from: Position::default(),
            shape_from: Position::default(),
            pending_denials: PendingDenials::default(),
        }
    }

    /// This tally counts the lines at `position` (for merges in any order; see [`Position`]).
    pub fn at(mut self, position: Position) -> Self {
        self.position = position;
        self.example_from = position;
        self.shape_from = position;
        self
    }

    /// The bucket width in minutes, if bucketing.
    pub fn bucket_minutes(&self) -> Option<u32> {
        self.bucket_minutes
    }

    /// Parses one log line with `parser` and counts it.
    pub fn add_line(&mut self, parser: &LineParser, timestamp: Option<EpochMillis>, line: &str) {
        match parser.parse(line) {
            Line::Request(r) if !self.pending_denials.admit(&r) => self.not_requests += 1,
            Line::Request(r) => {
                self.note_shape(|| LineShape::of(line));
                self.add_request(timestamp, &r);
            }
            Line::NotARequest => self.not_requests += 1,
            Line::Unparsed if self.unparsed_example.is_none() && logs_api_key(parser) => {
                self.add_unparsed(timestamp, "(not shown: the access-log format logs $context.identity.apiKey)")
            }
            Line::Unparsed => self.add_unparsed(timestamp, &crate::access_log::redact::redact_api_keys(line)),
        }
    }

    /// Counts a JSON line still escaped inside a log event's message, when `parser` reads it so
    /// ([`LineParser::parse_escaped`]); false, and nothing counted, when it must be unescaped and
    /// given to [`Self::add_line`].
    pub fn add_escaped(&mut self, parser: &LineParser, timestamp: Option<EpochMillis>, raw: &str) -> bool {
        let Some(r) = parser.parse_escaped(raw) else { return false };
        // A JSON line is never an execution step: nothing for `pending_denials` to admit.
        self.note_shape(|| Some(LineShape::Json));
        self.add_request(timestamp, &r);
        true
    }

    /// Records the shape of the earliest request line (by input position).
    fn note_shape(&mut self, shape: impl FnOnce() -> Option<LineShape>) {
        if self.shape.is_none() || self.position < self.shape_from {
            self.shape = shape();
            self.shape_from = self.position;
        }
    }

    /// The API and stage the lines name, when they log `$context.apiId` and `$context.stage`.
    pub fn stage(&self) -> Option<(&str, &str)> {
        self.stage.as_ref().map(|(a, s)| (&**a, &**s))
    }

    fn note_stage(&mut self, api: &str, stage: &str) {
        if self.stage.as_ref().is_none_or(|(a, s)| (api, stage) < (&**a, &**s)) {
            self.stage = Some((api.into(), stage.into()));
        }
    }

    /// Counts one request. Without an event timestamp, the line's own request time places it.
    pub fn add_request(&mut self, timestamp: Option<EpochMillis>, r: &AccessRecord<'_>) {
        if let (Some(api), Some(stage)) = (r.origin.api_id, r.origin.stage) {
            self.note_stage(api, stage);
        }
        self.overall.add_status(r.status, 1);
        let timestamp = match timestamp {
            None if self.bucket_minutes.is_some() => r.request_time_ms(),
            t => t,
        };
        if let Some(b) = self.bucket(timestamp, 1) {
            b.add_status(r.status, 1);
        }
        if is_client_error(r.status) {
            self.evidence.entry(r.status).or_default().add(r, 1);
        }
    }

    /// Counts one line with no valid status.
    pub fn add_unparsed(&mut self, timestamp: Option<EpochMillis>, line: &str) {
        self.add_unparsed_lines(timestamp, 1);
        if self.unparsed_example.is_none() || self.position < self.example_from {
            self.example_from = self.position;
            let mut end = line.len().min(EXAMPLE_LEN);
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            self.unparsed_example = Some(line[..end].to_string());
        }
    }

    /// Counts `n` requests answered with `status` at `timestamp` at once, as counted elsewhere (a
    /// Logs Insights row): no evidence, no example.
    pub fn add_requests(&mut self, timestamp: Option<EpochMillis>, status: u16, n: u64) {
        self.overall.add_status(status, n);
        if let Some(b) = self.bucket(timestamp, n) {
            b.add_status(status, n);
        }
    }

    /// Counts `n` lines with no valid status at `timestamp` (no example kept).
    pub fn add_unparsed_lines(&mut self, timestamp: Option<EpochMillis>, n: u64) {
        self.overall.unparsed += n;
        if let Some(b) = self.bucket(timestamp, n) {
            b.unparsed += n;
        }
    }

    /// The bucket for `timestamp`, about to get `lines` more; events mostly arrive in order, so the
    /// current one is kept at hand.
    fn bucket(&mut self, timestamp: Option<EpochMillis>, lines: u64) -> Option<&mut Counts> {
        let minutes = self.bucket_minutes?;
        let Some(t) = timestamp else {
            self.untimed += lines;
            return None;
        };
        let start = window_start(t, minutes);
        if self.current.as_ref().is_none_or(|(s, _)| *s != start) {
            self.flush_current();
            if !self.buckets.contains_key(&start) && !self.make_room(start) {
                self.unbucketed += lines;
                return None;
            }
            let counts = self.buckets.remove(&start).unwrap_or_default();
            self.current = Some((start, counts));
        }
        self.current.as_mut().map(|(_, c)| c)
    }

    /// Room for a new window at `start` (everything is in `buckets`): true if there is, or if a
    /// later window gave way; false when `start` is the latest of a full tally.
    fn make_room(&mut self, start: EpochMillis) -> bool {
        if self.buckets.len() < MAX_BUCKETS {
            return true;
        }
        match self.buckets.last_key_value() {
            Some((last, _)) if *last > start => {
                if let Some((_, c)) = self.buckets.pop_last() {
                    self.unbucketed += c.requests() + c.unparsed;
                }
                true
            }
            _ => false,
        }
    }

    fn flush_current(&mut self) {
        if let Some((start, counts)) = self.current.take() {
            self.buckets.insert(start, counts);
        }
    }

    /// Ends counting: every bucket is in `buckets`.
    pub fn finish(mut self) -> Self {
        self.flush_current();
        self
    }

    /// Adds another (finished) tally with the same bucketing.
    pub fn merge(&mut self, other: Tally) {
        let other = other.finish();
        self.flush_current();
        self.overall.merge(&other.overall);
        for (status, e) in &other.evidence {
            self.evidence.entry(*status).or_default().merge(e);
        }
        for (start, c) in &other.buckets {
            self.buckets.entry(*start).or_default().merge(c);
        }
        while self.buckets.len() > MAX_BUCKETS {
            if let Some((_, c)) = self.buckets.pop_last() {
                self.unbucketed += c.requests() + c.unparsed;
            }
        }
        self.unbucketed += other.unbucketed;
        self.untimed += other.untimed;
        self.not_requests += other.not_requests;
        // The earlier of the two wins; on a tie (or without positions), the one merged into.
        if other.unparsed_example.is_some()
            && (self.unparsed_example.is_none() || other.example_from < self.example_from)
        {
            self.unparsed_example = other.unparsed_example;
            self.example_from = other.example_from;
        }
        if other.shape.is_some() && (self.shape.is_none() || other.shape_from < self.shape_from) {
            self.shape = other.shape;
            self.shape_from = other.shape_from;
        }
        if let Some((a, s)) = &other.stage {
            self.note_stage(a, s);
        }
    }
}

/// True when the parser's template logs API key values: its unparsed lines are never shown.
fn logs_api_key(parser: &LineParser) -> bool {
    matches!(parser, LineParser::Template(t) if crate::access_log::redact::template_logs_api_key(&t.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_status_and_bucket() {
        let mut t = Tally::new(Some(5));
        let p = LineParser::Auto;
        t.add_line(&p, Some(0), r#"{"status":"403","httpMethod":"OPTIONS","resourcePath":"/a"}"#);
        t.add_line(&p, Some(299_999), r#"{"status":"200"}"#);
        t.add_line(&p, Some(300_000), r#"{"status":"404","resourcePath":"/old"}"#);
        t.add_line(&p, Some(1), "garbage");
        t.add_line(&p, None, r#"{"status":"200"}"#);
        t.add_line(&p, Some(2), "(id) Method request path: {}");
        let t = t.finish();
        assert_eq!((t.overall.requests(), t.overall.client_errors(), t.overall.unparsed), (4, 2, 1));
        assert_eq!(t.buckets[&0].requests(), 2);
        assert_eq!(t.buckets[&0].unparsed, 1);
        assert_eq!(t.buckets[&300_000].get(404), 1);
        assert_eq!((t.untimed, t.not_requests), (1, 1));
        assert_eq!(t.evidence[&403].methods.get("OPTIONS"), 1);
        assert_eq!(t.evidence[&404].routes.top(1), vec![("/old", 1)]);
        assert_eq!(t.unparsed_example.as_deref(), Some("garbage"));
        assert_eq!(t.shape, Some(LineShape::Json), "from the first request line");
    }

    #[test]
    fn consumers_of_the_4xx_and_no_secrets_in_examples() {
        let mut t = Tally::new(None);
        let p = LineParser::Auto;
        t.add_line(&p, None, r#"{"status":"403","apiKeyId":"k1"}"#);
        t.add_line(&p, None, r#"{"status":"403"}"#);
        t.add_line(&p, None, r#"{"status":"200","apiKeyId":"k1"}"#);
        t.add_line(&p, None, r#"{"apiKey":"s3cr3t","status":"x"}"#);
        assert_eq!(t.evidence[&403].consumers.client_errors, 2, "every 4xx line, with an identity or not");
        assert_eq!(t.evidence[&403].consumers.top(1)[0].value, "k1");
        assert!(!t.evidence.contains_key(&200));
        assert_eq!(t.unparsed_example.as_deref(), Some(r#"{"apiKey":"(redacted)","status":"x"}"#));
        let template = crate::access_log::Template::compile("$context.status $context.identity.apiKey").unwrap();
        let mut t = Tally::new(None);
        t.add_line(&LineParser::Template(template), None, "oops s3cr3t");
        assert!(!t.unparsed_example.unwrap().contains("s3cr3t"));
    }

    #[test]
    fn merge_adds_everything() {
        let p = LineParser::Auto;
        let mut a = Tally::new(Some(1));
        a.add_line(&p, Some(0), r#"{"status":"401"}"#);
        let mut b = Tally::new(Some(1));
        b.add_line(&p, Some(0), r#"{"status":"401"}"#);
        b.add_line(&p, Some(60_000), "junk");
        a.merge(b);
        let a = a.finish();
        assert_eq!(a.overall.get(401), 2);
        assert_eq!(a.buckets[&0].get(401), 2);
        assert_eq!(a.buckets[&60_000].unparsed, 1);
    }

    #[test]
    fn sparse_counts_keep_order_and_sums() {
        let mut c = Counts::default();
        for (s, n) in [(404, 2), (200, 5), (404, 1), (99, 7), (600, 7), (451, 0), (599, 1)] {
            c.add_status(s, n);
        }
        assert_eq!(c.iter().collect::<Vec<_>>(), vec![(200, 5), (404, 3), (599, 1)]);
        assert_eq!((c.requests(), c.client_errors(), c.get(404), c.get(451)), (9, 3, 3, 0));
        let mut d = Counts::default();
        d.add_status(100, 1);
        d.add_status(404, 1);
        d.unparsed = 2;
        c.merge(&d);
        assert_eq!(c.iter().collect::<Vec<_>>(), vec![(100, 1), (200, 5), (404, 4), (599, 1)]);
        assert_eq!(c.unparsed, 2);
        assert_eq!(std::mem::size_of::<Counts>(), 32, "a bucket costs a Vec and a counter");
    }

    #[test]
    fn buckets_are_capped_keeping_the_earliest_whatever_the_order() {
        let p = LineParser::Auto;
        let minutes = |range: std::ops::Range<i64>| {
            let mut t = Tally::new(Some(1));
            for m in range {
                t.add_line(&p, Some(m * 60_000), r#"{"status":"200"}"#);
            }
            t.finish()
        };
        let n = MAX_BUCKETS as i64;
        let forward = minutes(0..n + 10);
        let mut backward = Tally::new(Some(1));
        for m in (0..n + 10).rev() {
            backward.add_line(&p, Some(m * 60_000), r#"{"status":"200"}"#);
        }
        let backward = backward.finish();
        let mut merged = minutes(n / 2..n + 10);
        merged.merge(minutes(0..n / 2));
        let merged = merged.finish();
        for t in [&forward, &backward, &merged] {
            assert_eq!(t.buckets.len(), MAX_BUCKETS);
            assert_eq!(t.unbucketed, 10);
            assert_eq!(t.overall.requests(), (n + 10) as u64, "every line still counted overall");
            assert_eq!(t.buckets.keys().next_back(), Some(&((n - 1) * 60_000)), "the earliest kept");
        }
    }

    /// A request that logs a denial and then a final line (or two denials) is counted once; other requests
    /// are not held back.
    #[test]
    fn a_denied_request_is_counted_once() {
        let p = LineParser::Auto;
        let mut t = Tally::new(None);
        for line in [
            "(r1) Starting authorizer: 62mgrc for request: r1",
            "(r1) Unauthorized request: r1",
            "(r1) Method completed with status: 401",
            "(r2) User is not authorized to access this resource with an explicit deny",
            "(r2) The client is not authorized to perform this operation.",
            "(r3) Method completed with status: 200",
            "(r3) Method completed with status: 200",
            "Unauthorized request: no-id",
        ] {
            t.add_line(&p, None, line);
        }
        let t = t.finish();
        assert_eq!(t.overall.iter().collect::<Vec<_>>(), vec![(200, 2), (401, 2), (403, 1)]);
        assert_eq!((t.overall.unparsed, t.not_requests), (0, 3));
    }
}
