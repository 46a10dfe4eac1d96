//! Logs Insights results into tallies: each row of a count query (log group, window, key, lines)
//! added to that group's [`Tally`] as the scan would have counted the same lines. The field names
//! here are the contract with the query text (`render::insights` writes them).
//!
//! A row's key says how its lines count, by the rule the line parser applies to each line: a valid
//! status is a request; none, or one outside 100..=599, is an unparsed line; an execution-log step
//! that is not the request's last line counts as neither. Rows add up, so how the range was split
//! into queries changes nothing.

use crate::access_log::{record_from_fields, DENIALS, RESOURCE_POLICY_STATUS};
use crate::base::fields::{Field, OriginField};
use crate::base::status::{is_client_error, parse_status};
use crate::base::time::{parse_iso8601, EpochMillis};
use crate::count::tally::Tally;
use crate::ingest::insights::plan::Facet;
use crate::ingest::insights::Row;
use std::collections::BTreeMap;

/// The status, as the query reads it (a three-digit `100`–`599`, or absent).
pub const STATUS: &str = "status";
/// The window's start (`bin(…)`), as Logs Insights writes times (`2025-11-24 16:00:00.000`).
pub const WINDOW: &str = "window";
/// Lines in the row.
pub const LINES: &str = "n";
/// The log group, `account:name`, when a query names several.
pub const LOG: &str = "@log";
/// Execution logs: the line has a `(<request id>) ` prefix.
pub const STEP: &str = "step";
/// Execution logs: the line is a request's last (`Method completed with status: …`).
pub const COMPLETED: &str = "completed";
/// Execution logs: a resource policy's refusal.
pub const POLICY: &str = "policy";
/// Execution logs: the marker of the `i`th authorizer denial (`DENIALS[i]`).
pub fn denial(i: usize) -> String {
    format!("denial{i}")
}
/// Every execution-log marker, in the order the query groups by them.
pub fn execution_markers() -> Vec<String> {
    let mut out = vec![STEP.to_string(), COMPLETED.to_string()];
    out.extend((0..DENIALS.len()).map(denial));
    out.push(POLICY.to_string());
    out
}

/// Evidence queries: the fields a row names and the field of a record each fills. A query reads
/// them raw (`-` and all) and [`fold_evidence`] reads them by the line parser's own rules, so the
/// query need not know those rules.
pub const EVIDENCE_FIELDS: [(&str, Field); 11] = [
    ("e_method", Field::Method),
    ("e_route", Field::Route),
    // A second name for the route, where a regex has two places for it (CLF: the path, or the path
    // after an HTTP API route key's own method).
    ("e_path", Field::Route),
    ("e_routekey", Field::RouteKey),
    ("e_type", Field::ResponseType),
    ("e_key", Field::Origin(OriginField::ApiKeyId)),
    ("e_principal", Field::Origin(OriginField::Principal)),
    ("e_caller", Field::Origin(OriginField::Caller)),
    ("e_user", Field::Origin(OriginField::User)),
    ("e_ip", Field::Origin(OriginField::SourceIp)),
    ("e_agent", Field::Origin(OriginField::UserAgent)),
];

/// The name an evidence query gives `field` (`None`: not evidence).
pub fn evidence_name(field: Field) -> Option<&'static str> {
    EVIDENCE_FIELDS.iter().find(|(_, f)| *f == field).map(|(name, _)| *name)
}

/// The field an evidence query's `name` stands for.
pub fn evidence_field(name: &str) -> Option<Field> {
    EVIDENCE_FIELDS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// Which evidence a field is: the request's (method, route, response type) or who sent it.
pub fn facet_of(field: Field) -> Facet {
    match field {
        Field::Origin(_) => Facet::Consumers,
        _ => Facet::Requests,
    }
}

/// How the lines of one row count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Requests answered with this status.
    Status(u16),
    /// Lines with no valid status.
    Unparsed,
    /// Execution-log lines other than a request's last.
    NotARequest,
}

/// The key of a row of a query over lines read `execution`-style or not.
pub fn key(row: &Row, execution: bool) -> Key {
    let status = row.get(STATUS).and_then(parse_status);
    if !execution {
        return status.map_or(Key::Unparsed, Key::Status);
    }
    if row.get(COMPLETED).is_some() {
        return status.map_or(Key::Unparsed, Key::Status);
    }
    if let Some((_, s)) = DENIALS.iter().enumerate().find(|(i, _)| row.get(&denial(*i)).is_some()).map(|(_, d)| d) {
        return Key::Status(*s);
    }
    if row.get(POLICY).is_some() {
        return Key::Status(RESOURCE_POLICY_STATUS);
    }
    if row.get(STEP).is_some() {
        return Key::NotARequest;
    }
    Key::Unparsed
}

/// A row that does not say what a count query's row must.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Logs Insights row {row:?}: {problem}")]
pub struct RowError {
    /// The row, as `field=value` pairs.
    pub row: String,
    /// What is missing or wrong.
    pub problem: &'static str,
}

fn row_error(row: &Row, problem: &'static str) -> RowError {
    RowError { row: row.0.iter().map(|(f, v)| format!("{f}={v}")).collect::<Vec<_>>().join(" "), problem }
}

/// The log group of a row: `@log` without its account, or `only` when the query named one group.
fn group_of<'a>(row: &'a Row, only: Option<&'a str>) -> Option<&'a str> {
    match (row.get(LOG), only) {
        (Some(log), _) => Some(log.split_once(':').map_or(log, |(_, name)| name)),
        (None, only) => only,
    }
}

fn lines_of(row: &Row) -> Result<u64, RowError> {
    row.get(LINES).and_then(|n| n.trim().parse().ok()).ok_or_else(|| row_error(row, "no line count"))
}

/// The log group of a row of a counting query (see [`group_of`]) and its lines.
fn group_and_lines<'a>(row: &'a Row, only: Option<&'a str>) -> Result<(&'a str, u64), RowError> {
    let group = group_of(row, only).ok_or_else(|| row_error(row, "no log group"))?;
    Ok((group, lines_of(row)?))
}

/// Adds the rows of a count query over `groups` to `tallies` (one per group, created with
/// `window` bucketing when missing).
pub fn fold_counts(
    rows: &[Row],
    groups: &[String],
    execution: bool,
    window: Option<u32>,
    tallies: &mut BTreeMap<String, Tally>,
) -> Result<(), RowError> {
    let only = (groups.len() == 1).then(|| groups[0].as_str());
    for row in rows {
        let (group, lines) = group_and_lines(row, only)?;
        let at: Option<EpochMillis> = match (window, row.get(WINDOW)) {
            (None, _) => None,
            (Some(_), Some(w)) => Some(parse_iso8601(w).ok_or_else(|| row_error(row, "unreadable window"))?),
            (Some(_), None) => return Err(row_error(row, "no window")),
        };
        let tally = tallies.entry(group.to_string()).or_insert_with(|| Tally::new(window));
        match key(row, execution) {
            Key::Status(s) => tally.add_requests(at, s, lines),
            Key::Unparsed => tally.add_unparsed_lines(at, lines),
            Key::NotARequest => tally.not_requests += lines,
        }
    }
    Ok(())
}

/// Adds the rows of an evidence query of `facet` over `groups` (4xx lines by status and the
/// facet's fields) to the evidence of each group's tally, as the scan counts those lines: a
/// [`Facet::Requests`] row adds its lines' method, route and response type and counts them as 4xx
/// of the consumers' shares; a [`Facet::Consumers`] row adds their identity and user agent.
pub fn fold_evidence(
    rows: &[Row],
    groups: &[String],
    facet: Facet,
    tallies: &mut BTreeMap<String, Tally>,
) -> Result<(), RowError> {
    let only = (groups.len() == 1).then(|| groups[0].as_str());
    for row in rows {
        let (group, lines) = group_and_lines(row, only)?;
        let status = row.get(STATUS).ok_or_else(|| row_error(row, "no status"))?;
        let fields = EVIDENCE_FIELDS.iter().filter_map(|(name, field)| Some((*field, row.get(name)?)));
        let Some(r) = record_from_fields(std::iter::once((Field::Status, status)).chain(fields)) else {
            return Err(row_error(row, "no valid status"));
        };
        if !is_client_error(r.status) {
            return Err(row_error(row, "not a 4xx"));
        }
        // Evidence is asked only of groups whose counts alerted: their tallies exist.
        let tally = tallies.get_mut(group).ok_or_else(|| row_error(row, "a log group that was not counted"))?;
        let e = tally.evidence.entry(r.status).or_default();
        match facet {
            Facet::Requests => {
                e.add_request_fields(&r, lines);
                e.consumers.client_errors += lines;
            }
            Facet::Consumers => e.consumers.add_identity(&r.origin, lines),
        }
    }
    Ok(())
}

/// The keys a census found per log group (rows of a query without windows: one per key).
pub fn census(rows: &[Row], groups: &[String]) -> Result<BTreeMap<String, u64>, RowError> {
    let only = (groups.len() == 1).then(|| groups[0].as_str());
    let mut out: BTreeMap<String, u64> = groups.iter().map(|g| (g.clone(), 0)).collect();
    for row in rows {
        let group = group_of(row, only).ok_or_else(|| row_error(row, "no log group"))?;
        *out.entry(group.to_string()).or_default() += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_count_as_the_scan_counts_lines() {
        let rows: Vec<Row> = vec![
            [("status", "403"), ("window", "2025-11-24 16:00:00.000"), ("n", "7")].into(),
            [("status", "200"), ("window", "2025-11-24 16:05:00.000"), ("n", "3")].into(),
            [("window", "2025-11-24 16:05:00.000"), ("n", "2")].into(),
            [("status", "999"), ("window", "2025-11-24 16:05:00.000"), ("n", "1")].into(),
        ];
        let mut t = BTreeMap::new();
        fold_counts(&rows, &["/g".into()], false, Some(5), &mut t).unwrap();
        let g = t.remove("/g").unwrap().finish();
        assert_eq!((g.overall.requests(), g.overall.get(403), g.overall.unparsed), (10, 7, 3));
        assert_eq!(g.buckets[&1_764_000_000_000].get(403), 7);
        assert_eq!(g.buckets[&1_764_000_300_000].unparsed, 3);
    }

    #[test]
    fn execution_rows_by_their_markers() {
        let row = |pairs: &[(&str, &str)]| Row(pairs.iter().map(|(f, v)| (f.to_string(), v.to_string())).collect());
        let c = ("completed", "Method completed with status: ");
        assert_eq!(key(&row(&[("step", ") "), c, ("status", "404")]), true), Key::Status(404));
        assert_eq!(key(&row(&[("step", ") "), c]), true), Key::Unparsed, "a final line without a valid status");
        assert_eq!(key(&row(&[("step", ") "), ("denial0", "Unauthorized request: ")]), true), Key::Status(401));
        assert_eq!(key(&row(&[("step", ") "), ("denial2", "x")]), true), Key::Status(403));
        assert_eq!(key(&row(&[("step", ") "), ("policy", "x")]), true), Key::Status(403));
        assert_eq!(key(&row(&[("step", ") ")]), true), Key::NotARequest);
        assert_eq!(key(&row(&[]), true), Key::Unparsed);
        assert_eq!(key(&row(&[("status", "404")]), false), Key::Status(404));
        assert_eq!(execution_markers().len(), 6);
    }

    #[test]
    fn several_groups_by_log_and_bad_rows_named() {
        let rows: Vec<Row> = vec![
            [("@log", "123456789012:/a"), ("status", "401"), ("n", "2")].into(),
            [("@log", "123456789012:/b"), ("n", "5")].into(),
        ];
        let groups = vec!["/a".to_string(), "/b".to_string(), "/c".to_string()];
        let mut t = BTreeMap::new();
        fold_counts(&rows, &groups, false, None, &mut t).unwrap();
        assert_eq!((t["/a"].overall.get(401), t["/b"].overall.unparsed), (2, 5));
        assert_eq!(
            census(&rows, &groups).unwrap(),
            BTreeMap::from([("/a".into(), 1), ("/b".into(), 1), ("/c".into(), 0)])
        );
        let bad: Row = [("status", "401")].into();
        let e = fold_counts(std::slice::from_ref(&bad), &groups, false, None, &mut t).unwrap_err();
        assert_eq!(e.to_string(), "Logs Insights row \"status=401\": no log group");
        let e = fold_counts(&[bad], &groups[..1], false, Some(5), &mut t).unwrap_err();
        assert_eq!(e.problem, "no line count");
    }
}
