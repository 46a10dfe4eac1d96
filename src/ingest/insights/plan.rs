//! Which Logs Insights queries a read takes, so that no result can be cut short. Pure: time ranges,
//! windows and numbers in, sub-queries out.
//!
//! AWS documents the limits this works within (StartQuery, GetQueryResults and the quotas page): a
//! query returns at most [`MAX_ROWS`] rows, names at most [`MAX_GROUPS_PER_QUERY`] log groups and
//! runs at most 60 minutes; an account runs a few dozen queries at a time.
//!
//! A count query returns one row per log group, window and *key* (a status, or one of the few
//! ways a line has none). Its rows are at most `windows × Σ keys per window`, so a sub-query is cut
//! to as many whole windows as keep that product under [`MAX_ROWS`]. The keys per window are known
//! for sure in two ways: the query's own worst case (every status from 100 to 599: about 500, which
//! allows only 19 windows a query), or a *census*, a query without windows over the same span that
//! lists the keys that occur (a handful, which allows hundreds of windows a query). A census reads
//! the span a second time, so it is used only where the worst case would take more than
//! [`DIRECT_QUERIES`] queries for one chunk (a day, at most: no query should come near the 60
//! minutes).

use crate::base::time::{window_start, window_width, EpochMillis, DAY_MS, HOUR_MS};
use crate::ingest::time_range::TimeRange;

/// Rows one query returns at most (GetQueryResults, and StartQuery's `limit`).
pub const MAX_ROWS: u64 = 10_000;
/// Log groups one query names at most (StartQuery).
pub const MAX_GROUPS_PER_QUERY: usize = 50;
/// The longest span one query reads: a day (a query times out after 60 minutes; a day of a
/// 1,000 requests/s API is about 40 GB).
pub const CHUNK_MS: EpochMillis = DAY_MS;
/// A chunk is counted straight away (no census) when that takes at most this many queries.
pub const DIRECT_QUERIES: usize = 24;
/// Queries in flight by default: well under the account's cap on concurrent queries (30 in the
/// StartQuery reference), leaving room for dashboards and people.
pub const DEFAULT_MAX_QUERIES: u16 = 10;
/// The most `--max-queries` accepts: the account cap the StartQuery reference states.
pub const ACCOUNT_MAX_QUERIES: u16 = 30;
/// `--engine auto` reads ranges longer than this with Logs Insights (see the README: past a few
/// hours, a busy API's events take minutes to download one 10,000-event page at a time).
pub const AUTO_INSIGHTS_AFTER_MS: EpochMillis = 6 * HOUR_MS;
/// Logs Insights' price per GB scanned (us-east-1, the StartQuery pricing page); a GB is 2^30 bytes.
pub const USD_PER_GB: f64 = 0.005;
/// Bytes in the GB that prices are per.
pub const BYTES_PER_GB: f64 = (1u64 << 30) as f64;

/// What `--engine auto` chooses for `range`: Logs Insights past [`AUTO_INSIGHTS_AFTER_MS`].
pub fn auto_picks_insights(range: TimeRange) -> bool {
    range.end - range.start > AUTO_INSIGHTS_AFTER_MS
}

/// Dollars for `bytes` scanned.
pub fn cost_usd(bytes: f64) -> f64 {
    bytes / BYTES_PER_GB * USD_PER_GB
}

/// What an evidence query reads of the 4xx lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Facet {
    /// Method, route and gateway response type.
    Requests,
    /// Who sent them: API key id, principal, caller, user, source IP, user agent.
    Consumers,
}

/// What a query asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// The keys that occur in the span, per log group (no windows).
    Census,
    /// Lines per log group, window and key.
    Count,
    /// 4xx lines per status and the facet's fields, the most frequent first (the evidence of a
    /// finding that alerts).
    Evidence(Facet),
}

/// One query to run: its kind, log groups and span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Census or count.
    pub kind: JobKind,
    /// The log groups it names (one query: at most [`MAX_GROUPS_PER_QUERY`]).
    pub groups: Vec<String>,
    /// The span, both ends inclusive (milliseconds).
    pub range: TimeRange,
    /// A half of a query that ended `Failed` or `Timeout`: it is not split again.
    pub retried: bool,
}

/// A log group and how many keys one of its windows can have at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupKeys {
    /// The log group.
    pub group: String,
    /// Keys per window at most (0: nothing to count).
    pub keys: u64,
}

/// Windows of `window` minutes that `range` touches (1 without windows).
pub fn windows_touched(range: TimeRange, window: Option<u32>) -> u64 {
    match window {
        None => 1,
        Some(m) => ((window_start(range.end, m) - window_start(range.start, m)) / window_width(m) + 1) as u64,
    }
}

/// The most rows `job` can return when each group has at most `keys_of(group)` keys per window.
pub fn rows_bound(job: &Job, window: Option<u32>, keys_of: impl Fn(&str) -> u64) -> u64 {
    let keys: u64 = job.groups.iter().map(|g| keys_of(g)).sum();
    match job.kind {
        JobKind::Census => keys,
        JobKind::Count => windows_touched(job.range, window) * keys,
        // Not bounded by keys: by the query's own `limit` ([`evidence_limit`]).
        JobKind::Evidence(_) => u64::MAX,
    }
}

/// The `limit` of an evidence query under `row_cap`: one row under the cap, so that a result that
/// fills it is known to be cut (it keeps the most frequent values: the query sorts by count).
pub fn evidence_limit(row_cap: u64) -> u64 {
    row_cap.saturating_sub(1).max(1)
}

/// The evidence queries of `group` over `spans` (sorted, disjoint, each a run of whole windows or
/// the whole range): each span cut into chunks (no query should come near the 60 minutes), one
/// query per chunk and facet. A query's span is what it is charged for, so spans are queried
/// apart rather than as one range with a filter.
pub fn evidence_jobs(group: &str, spans: &[TimeRange], window: Option<u32>, facets: &[Facet]) -> Vec<Job> {
    let mut out = Vec::new();
    for span in spans {
        for chunk in chunks(*span, window) {
            for facet in facets {
                out.push(Job {
                    kind: JobKind::Evidence(*facet),
                    groups: vec![group.to_string()],
                    range: chunk,
                    retried: false,
                });
            }
        }
    }
    out
}

/// `range` cut at multiples of [`CHUNK_MS`] (rounded up to whole windows): chunks never split a
/// window.
pub fn chunks(range: TimeRange, window: Option<u32>) -> Vec<TimeRange> {
    let w = window.map_or(1, window_width);
    let size = (CHUNK_MS + w - 1) / w * w;
    let mut out = Vec::new();
    let mut start = range.start;
    while start <= range.end {
        let end = ((start.div_euclid(size) + 1) * size - 1).min(range.end);
        out.push(TimeRange { start, end });
        start = end + 1;
    }
    out
}

/// `groups` (those with keys) packed into queries: at most [`MAX_GROUPS_PER_QUERY`] each, their keys
/// per window summing to less than `row_cap`. A group whose keys alone reach the cap gets a query
/// of its own (and one window per query).
fn batches(groups: &[GroupKeys], row_cap: u64) -> Vec<(Vec<String>, u64)> {
    let mut out: Vec<(Vec<String>, u64)> = Vec::new();
    for g in groups.iter().filter(|g| g.keys > 0) {
        match out.last_mut() {
            Some((names, keys)) if names.len() < MAX_GROUPS_PER_QUERY && *keys + g.keys < row_cap => {
                names.push(g.group.clone());
                *keys += g.keys;
            }
            _ => out.push((vec![g.group.clone()], g.keys)),
        }
    }
    out
}

/// Count queries over `chunk`: groups in batches, each batch's span cut into runs of whole windows
/// such that `windows × keys < row_cap` (with [`MAX_ROWS`], no result can reach the cap).
pub fn count_jobs(chunk: TimeRange, window: Option<u32>, groups: &[GroupKeys], row_cap: u64) -> Vec<Job> {
    let mut out = Vec::new();
    for (names, keys) in batches(groups, row_cap) {
        let job = |range| Job { kind: JobKind::Count, groups: names.clone(), range, retried: false };
        let Some(m) = window else {
            out.push(job(chunk));
            continue;
        };
        let per_query = ((row_cap - 1) / keys).max(1) as i64;
        let mut start = chunk.start;
        while start <= chunk.end {
            let end = (window_start(start, m) + per_query * window_width(m) - 1).min(chunk.end);
            out.push(job(TimeRange { start, end }));
            start = end + 1;
        }
    }
    out
}

/// Census queries over `chunk`, groups batched as for counting (a census row is a key).
pub fn census_jobs(chunk: TimeRange, groups: &[GroupKeys], row_cap: u64) -> Vec<Job> {
    batches(groups, row_cap)
        .into_iter()
        .map(|(groups, _)| Job { kind: JobKind::Census, groups, range: chunk, retried: false })
        .collect()
}

/// The first queries of a read of `groups` (each with its worst-case keys per window) over
/// `range`: per chunk, the count queries themselves when they are at most [`DIRECT_QUERIES`], a
/// census otherwise (its answer then gives the count queries: [`count_jobs`] with the keys found).
pub fn initial_jobs(range: TimeRange, window: Option<u32>, groups: &[GroupKeys], row_cap: u64) -> Vec<Job> {
    let mut out = Vec::new();
    for chunk in chunks(range, window) {
        let direct = count_jobs(chunk, window, groups, row_cap);
        if direct.len() <= DIRECT_QUERIES {
            out.extend(direct);
        } else {
            out.extend(census_jobs(chunk, groups, row_cap));
        }
    }
    out
}

/// The two halves of a query that ended `Failed` or `Timeout`, to run once more each; `None` when
/// it was a half already, or spans a single millisecond.
pub fn halves(job: &Job) -> Option<[Job; 2]> {
    let TimeRange { start, end } = job.range;
    if job.retried || start >= end {
        return None;
    }
    let mid = start + (end - start) / 2;
    let half = |range| Job { range, retried: true, ..job.clone() };
    Some([half(TimeRange { start, end: mid }), half(TimeRange { start: mid + 1, end })])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::time::MINUTE_MS;

    const T0: EpochMillis = 1_764_000_000_000; // 2025-11-24T16:00:00Z

    fn keys(n: usize, k: u64) -> Vec<GroupKeys> {
        (0..n).map(|i| GroupKeys { group: format!("/g{i}"), keys: k }).collect()
    }

    /// Every job's spans, in order, cover `range` exactly once per batch of groups.
    fn assert_partition(jobs: &[Job], range: TimeRange) {
        let mut by_groups: std::collections::BTreeMap<Vec<String>, Vec<TimeRange>> = Default::default();
        for j in jobs {
            by_groups.entry(j.groups.clone()).or_default().push(j.range);
        }
        for spans in by_groups.values() {
            assert_eq!(spans[0].start, range.start);
            assert_eq!(spans[spans.len() - 1].end, range.end);
            for w in spans.windows(2) {
                assert_eq!(w[0].end + 1, w[1].start, "no gap, no overlap");
            }
        }
    }

    #[test]
    fn thirty_days_of_one_minute_windows_never_ask_for_a_result_that_could_reach_the_cap() {
        let range = TimeRange { start: T0 + 12_345, end: T0 + 30 * DAY_MS - 1 };
        for (groups, worst) in [(keys(1, 501), 501), (keys(1, 507), 507), (keys(50, 501), 501)] {
            let first = initial_jobs(range, Some(1), &groups, MAX_ROWS);
            let worst_of = |_: &str| worst;
            for j in &first {
                assert!(rows_bound(j, Some(1), worst_of) < MAX_ROWS, "{j:?}");
                assert!(j.groups.len() <= MAX_GROUPS_PER_QUERY);
                assert!(j.range.end - j.range.start < CHUNK_MS);
            }
            // One group: a census per day (the worst case would take 76 queries a day).
            assert!(first.iter().all(|j| j.kind == JobKind::Census), "{}", first.len());
            // The counts a census of 12 keys gives: 833 windows a query, two a day.
            let found: Vec<GroupKeys> = groups.iter().map(|g| GroupKeys { keys: 12, ..g.clone() }).collect();
            let mut counted = Vec::new();
            for census in &first {
                let mine: Vec<GroupKeys> = found.iter().filter(|g| census.groups.contains(&g.group)).cloned().collect();
                counted.extend(count_jobs(census.range, Some(1), &mine, MAX_ROWS));
            }
            for j in &counted {
                assert!(rows_bound(j, Some(1), |_| 12) < MAX_ROWS, "{j:?}");
            }
            assert_partition(&counted, range);
            if groups.len() == 1 {
                // Two a day, and one and two for the partial days at the ends (31 chunks).
                assert_eq!(counted.len(), 61);
            }
        }
    }

    #[test]
    fn short_ranges_are_counted_without_a_census() {
        let range = TimeRange { start: T0, end: T0 + HOUR_MS - 1 };
        let jobs = initial_jobs(range, Some(5), &keys(1, 501), MAX_ROWS);
        assert_eq!(jobs.len(), 1, "12 windows × 501 keys fit one query");
        assert_eq!(jobs[0].kind, JobKind::Count);
        // A day of 5-minute windows: 16 queries of 19 windows, under the direct limit.
        let midnight = T0 - 16 * HOUR_MS;
        let day = TimeRange { start: midnight, end: midnight + DAY_MS - 1 };
        let jobs = initial_jobs(day, Some(5), &keys(1, 501), MAX_ROWS);
        assert_eq!((jobs.len(), jobs[0].kind), (16, JobKind::Count));
        assert_partition(&jobs, day);
        for j in &jobs {
            assert!(rows_bound(j, Some(5), |_| 501) < MAX_ROWS);
        }
        // Without windows, one query a chunk.
        assert_eq!(initial_jobs(day, None, &keys(1, 501), MAX_ROWS).len(), 1);
    }

    #[test]
    fn chunks_and_sub_queries_keep_whole_windows_except_at_the_range_ends() {
        let range = TimeRange { start: T0 + 7 * MINUTE_MS + 3, end: T0 + 3 * DAY_MS + 11 };
        let cs = chunks(range, Some(7));
        assert_eq!(cs.first().map(|c| c.start), Some(range.start));
        assert_eq!(cs.last().map(|c| c.end), Some(range.end));
        for c in &cs[..cs.len() - 1] {
            assert_eq!((c.end + 1) % window_width(7), 0, "a chunk ends at a window edge");
        }
        let jobs = count_jobs(cs[1], Some(7), &keys(1, 1_000), MAX_ROWS);
        for j in &jobs[..jobs.len() - 1] {
            assert_eq!((j.range.end + 1) % window_width(7), 0);
            assert_eq!(windows_touched(j.range, Some(7)), 9, "9,999 / 1,000 keys");
        }
    }

    #[test]
    fn groups_are_batched_under_the_cap_and_fifty_a_query() {
        let b = batches(&keys(120, 10), MAX_ROWS);
        assert_eq!(b.iter().map(|(g, _)| g.len()).collect::<Vec<_>>(), [50, 50, 20]);
        let b = batches(&keys(3, 6_000), MAX_ROWS);
        assert_eq!(b.len(), 3, "two would reach the cap");
        let mut mixed = keys(3, 0);
        mixed[1].keys = 4;
        assert_eq!(batches(&mixed, MAX_ROWS), vec![(vec!["/g1".to_string()], 4)], "nothing to count, no query");
        // A group whose keys alone pass a tiny cap still gets one window a query.
        let jobs = count_jobs(TimeRange { start: T0, end: T0 + 3 * MINUTE_MS - 1 }, Some(1), &keys(1, 20), 10);
        assert_eq!(jobs.len(), 3);
    }

    #[test]
    fn a_failed_query_is_halved_once() {
        let job = Job {
            kind: JobKind::Count,
            groups: vec!["/g".into()],
            range: TimeRange { start: T0, end: T0 + 9 },
            retried: false,
        };
        let [a, b] = halves(&job).unwrap();
        assert_eq!(
            (a.range, b.range),
            (TimeRange { start: T0, end: T0 + 4 }, TimeRange { start: T0 + 5, end: T0 + 9 })
        );
        assert!(a.retried && b.retried);
        assert_eq!(halves(&a), None, "retried once only");
        let one = Job { range: TimeRange { start: T0, end: T0 }, ..job };
        assert_eq!(halves(&one), None);
    }

    #[test]
    fn auto_and_cost() {
        assert!(!auto_picks_insights(TimeRange { start: 0, end: AUTO_INSIGHTS_AFTER_MS }));
        assert!(auto_picks_insights(TimeRange { start: 0, end: AUTO_INSIGHTS_AFTER_MS + 1 }));
        assert!((cost_usd(1_200.0 * BYTES_PER_GB) - 6.0).abs() < 1e-9);
    }
}
