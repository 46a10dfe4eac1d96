//! One access-log line in, its status (and method, route, gateway response type when present) out.
//!
//! Two paths: [`LineParser::Auto`] detects the console's formats (JSON, CLF, XML, CSV), HTTP API JSON,
//! renamed status keys, `key: value` pairs (the Serverless Framework's default: see [`keyvalue`])
//! and REST execution-log lines (every form: see [`execution`]);
//! [`LineParser::Template`] is the stage's own `$context` template compiled into an exact parser.
//! Everything borrows from the line: no allocation.

mod execution;
mod json;
mod keyvalue;
pub mod redact;
mod template;
mod text;
mod unrecognised;

pub use execution::{ExecutionStep, PendingDenials};
pub(crate) use execution::{
    COMPLETED, DENIALS, RESOURCE_POLICY_DENIAL, RESOURCE_POLICY_PREFIX, RESOURCE_POLICY_STATUS,
};
pub use template::{Template, TemplateError, TemplatePart};
pub(crate) use text::METHODS;
pub use unrecognised::LineKind;

use crate::base::fields::{Field, OriginField};
use crate::base::status::parse_status;

/// What one access-log line says about its request. Fields borrow from the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccessRecord<'a> {
    /// The response status, 100..=599.
    pub status: u16,
    /// `$context.httpMethod`, or the method of an HTTP API `routeKey`.
    pub method: Option<&'a str>,
    /// `$context.resourcePath` or the path of `$context.routeKey`: templated, low-cardinality.
    pub route: Option<&'a str>,
    /// `$context.error.responseType`, the gateway response type (`MISSING_AUTHENTICATION_TOKEN`, …).
    pub response_type: Option<&'a str>,
    /// `$context.requestTime` (`25/Nov/2026:10:00:00 +0000`) or `$context.requestTimeEpoch`, as logged:
    /// the event time of lines that come without one (plain exports).
    pub request_time: Option<&'a str>,
    /// Who sent the request and which stage answered, when the line says.
    pub origin: Origin<'a>,
    /// For an execution-log line with a `(<request id>)`: the request it belongs to, so that a request
    /// that logs a denial and a final line is counted once ([`PendingDenials`]).
    pub execution: Option<ExecutionStep<'a>>,
}

/// Who sent a request and which stage answered it, as far as the line says (`-` is absent). The API
/// key's value (`$context.identity.apiKey`) is never read: only its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Origin<'a> {
    /// `$context.identity.apiKeyId`.
    pub api_key_id: Option<&'a str>,
    /// `$context.authorizer.principalId`.
    pub principal: Option<&'a str>,
    /// `$context.identity.caller`.
    pub caller: Option<&'a str>,
    /// `$context.identity.user`.
    pub user: Option<&'a str>,
    /// `$context.identity.sourceIp`.
    pub source_ip: Option<&'a str>,
    /// `$context.identity.userAgent`.
    pub user_agent: Option<&'a str>,
    /// `$context.apiId`.
    pub api_id: Option<&'a str>,
    /// `$context.stage`.
    pub stage: Option<&'a str>,
}

impl<'a> Origin<'a> {
    /// Every field with `-` and empty values removed.
    fn present(self) -> Origin<'a> {
        let p = |v: Option<&'a str>| v.and_then(present);
        Origin {
            api_key_id: p(self.api_key_id),
            principal: p(self.principal),
            caller: p(self.caller),
            user: p(self.user),
            source_ip: p(self.source_ip),
            user_agent: p(self.user_agent),
            api_id: p(self.api_id),
            stage: p(self.stage),
        }
    }
}

impl AccessRecord<'_> {
    /// The request time in epoch milliseconds, when the line carries a readable one.
    pub fn request_time_ms(&self) -> Option<crate::base::time::EpochMillis> {
        self.request_time.and_then(crate::base::time::parse_request_time)
    }
}

/// The verdict on one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Returned by value once per line and never stored: boxing the record would allocate per line.
#[allow(clippy::large_enum_variant)]
pub enum Line<'a> {
    /// A request with a valid status.
    Request(AccessRecord<'a>),
    /// A line that is not a request by design (an execution-log line other than the final one).
    NotARequest,
    /// A line with no valid status: counted as unparsed, never as a request.
    Unparsed,
}

/// How lines are read: detected per line, or with the stage's compiled template.
#[derive(Debug, Clone, Default)]
pub enum LineParser {
    /// Detect the format of each line.
    #[default]
    Auto,
    /// The stage's `$context` template, compiled.
    Template(Template),
}

impl LineParser {
    /// Parses one line.
    pub fn parse<'a>(&self, line: &'a str) -> Line<'a> {
        match self {
            LineParser::Auto => parse_detected(line),
            LineParser::Template(t) => t.parse(line),
        }
    }

    /// The request a JSON line gives while still escaped inside a log event's `message` (its text
    /// between the quotes), read in one pass without unescaping; `None` when the line must be
    /// unescaped and [`Self::parse`]d instead (not a JSON line, other escapes, a template, no status).
    /// When it gives a record, `parse` of the unescaped line gives the same one.
    pub fn parse_escaped<'a>(&self, raw: &'a str) -> Option<AccessRecord<'a>> {
        match self {
            LineParser::Auto if raw.starts_with('{') => json::parse_escaped(raw),
            _ => None,
        }
    }
}

/// Detects the format of one line and parses it.
pub fn parse_detected(line: &str) -> Line<'_> {
    detect(line).1
}

/// The format of a line, as detection tells it: what a Logs Insights query must parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineShape {
    /// A JSON object (the console's JSON, HTTP API JSON, renamed keys).
    Json,
    /// The console's CLF, current or older.
    Clf,
    /// The console's CSV.
    Csv,
    /// The console's XML.
    Xml,
    /// A REST execution-log line.
    Execution,
    /// `key: value` pairs separated by `, ` (the Serverless Framework's REST default).
    KeyValue,
}

impl LineShape {
    /// The shape detection gives a line (`None` for an empty one).
    pub fn of(line: &str) -> Option<LineShape> {
        detect(line).0
    }

    /// The shape's name, for people.
    pub fn name(self) -> &'static str {
        match self {
            LineShape::Json => "JSON",
            LineShape::Clf => "CLF",
            LineShape::Csv => "CSV",
            LineShape::Xml => "XML",
            LineShape::Execution => "execution-log lines",
            LineShape::KeyValue => "`key: value` pairs",
        }
    }
}

/// The one place formats are told apart: the shape a line was read as, and what it says.
fn detect(line: &str) -> (Option<LineShape>, Line<'_>) {
    let line = trim(line);
    // Execution logs exported with `create-export-task` keep their own ISO-8601 timestamp (access logs
    // rarely start with one): strip it once, then read what follows. The timestamp dates the request
    // when the line has no time of its own.
    let Some((date, rest)) = strip_iso_timestamp(line) else { return detect_undated(line) };
    match detect_undated(rest) {
        (shape, Line::Request(r)) if r.request_time.is_none() => {
            (shape, Line::Request(AccessRecord { request_time: Some(date), ..r }))
        }
        other => other,
    }
}

fn detect_undated(line: &str) -> (Option<LineShape>, Line<'_>) {
    let (shape, found) = match line.as_bytes().first() {
        Some(b'{') => (LineShape::Json, json::parse(line)),
        Some(b'<') => (LineShape::Xml, text::parse_xml(line)),
        // `(` also opens lines of no known format; only an execution line has `) ` after its id.
        Some(b'(') => return (Some(LineShape::Execution), execution::parse_prefixed(line).unwrap_or(Line::Unparsed)),
        Some(b'A'..=b'Z' | b'a'..=b'z' | b'_') => {
            if keyvalue::starts_like(line) {
                if let Some(r) = keyvalue::parse(line) {
                    return (Some(LineShape::KeyValue), Line::Request(r));
                }
            }
            if let Some(l) = execution::parse_test_invoke(line).or_else(|| execution::parse_bare(line)) {
                return (Some(LineShape::Execution), l);
            }
            clf_or_csv(line)
        }
        Some(_) => clf_or_csv(line),
        None => return (None, Line::Unparsed),
    };
    (Some(shape), found.map_or(Line::Unparsed, Line::Request))
}

fn clf_or_csv(line: &str) -> (LineShape, Option<AccessRecord<'_>>) {
    match text::parse_clf(line) {
        Some(r) => (LineShape::Clf, Some(r)),
        None => (LineShape::Csv, text::parse_csv(line)),
    }
}

/// `2026-11-25T10:00:00.000Z rest` → (`2026-11-25T10:00:00.000Z`, `rest`), when the first word is
/// an ISO-8601 timestamp.
fn strip_iso_timestamp(line: &str) -> Option<(&str, &str)> {
    let b = line.as_bytes();
    if b.len() < 21 || b[4] != b'-' || b[10] != b'T' || !b[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let (first, rest) = line.split_once(' ')?;
    crate::base::time::parse_iso8601(first)?;
    Some((first, rest.trim_start()))
}

/// `str::trim`, with the common case (nothing to trim: both ends ASCII and not white space) first:
/// the full trim decodes a char at each end, and runs for every line and value.
fn trim(s: &str) -> &str {
    // `char::is_whitespace`, not `u8::is_ascii_whitespace`: the latter misses U+000B.
    let kept = |b: &u8| b.is_ascii() && !char::from(*b).is_whitespace();
    match s.as_bytes() {
        [first, .., last] if kept(first) && kept(last) => s,
        _ => s.trim(),
    }
}

/// A value of `-` (API Gateway's "no value") or an empty one is absent.
fn present(v: &str) -> Option<&str> {
    let v = trim(v);
    (!v.is_empty() && v != "-").then_some(v)
}

/// A line's fields as found, before validation.
#[derive(Debug, Default, Clone, Copy)]
struct RawFields<'a> {
    status: Option<&'a str>,
    method: Option<&'a str>,
    route: Option<&'a str>,
    route_key: Option<&'a str>,
    response_type: Option<&'a str>,
    request_time: Option<&'a str>,
    origin: Origin<'a>,
}

impl<'a> RawFields<'a> {
    /// Where `field` goes (`None` for [`Field::Other`]).
    fn slot(&mut self, field: Field) -> Option<&mut Option<&'a str>> {
        let o = &mut self.origin;
        Some(match field {
            Field::Status => &mut self.status,
            Field::Method => &mut self.method,
            Field::Route => &mut self.route,
            Field::RouteKey => &mut self.route_key,
            Field::ResponseType => &mut self.response_type,
            Field::RequestTime => &mut self.request_time,
            Field::Origin(OriginField::ApiKeyId) => &mut o.api_key_id,
            Field::Origin(OriginField::Principal) => &mut o.principal,
            Field::Origin(OriginField::Caller) => &mut o.caller,
            Field::Origin(OriginField::User) => &mut o.user,
            Field::Origin(OriginField::SourceIp) => &mut o.source_ip,
            Field::Origin(OriginField::UserAgent) => &mut o.user_agent,
            Field::Origin(OriginField::ApiId) => &mut o.api_id,
            Field::Origin(OriginField::Stage) => &mut o.stage,
            Field::Other => return None,
        })
    }
}

/// The record of fields another reader found by name (a Logs Insights row): each value goes where a
/// line's own reader would put it (the first of a field wins), and is then read by the rules every
/// line is read by (`-` and empty values absent, a `routeKey` split into method and route), so that
/// counting it gives what the scan gives for the lines it stands for. `None` without a valid status.
pub fn record_from_fields<'a>(fields: impl IntoIterator<Item = (Field, &'a str)>) -> Option<AccessRecord<'a>> {
    let mut f = RawFields::default();
    for (field, value) in fields {
        if let Some(slot) = f.slot(field).filter(|slot| slot.is_none()) {
            *slot = Some(value);
        }
    }
    record(f)
}

/// Builds the record once the status is known; `routeKey` (`GET /items/{id}`) is split into method and route.
fn record(f: RawFields<'_>) -> Option<AccessRecord<'_>> {
    let status = parse_status(f.status?)?;
    let (mut method, mut route) = (f.method.and_then(present), f.route.and_then(present));
    if let Some(key) = f.route_key.and_then(present) {
        match key.split_once(' ') {
            Some((m, r)) => {
                method = method.or(present(m));
                route = route.or(present(r));
            }
            // `$default`, `$connect`, a WebSocket route; a bare method is not a route.
            None if !key.bytes().all(|b| b.is_ascii_uppercase()) => route = route.or(Some(key)),
            None => {}
        }
    }
    Some(AccessRecord {
        status,
        method,
        route,
        response_type: f.response_type.and_then(present),
        request_time: f.request_time.and_then(present),
        origin: f.origin.present(),
        execution: None,
    })
}

#[cfg(test)]
mod tests;
