//! The stage's own access-log template (`$context.…` variables between literal text), compiled into
//! an exact parser: the precise path, where detection is the convenient one.
//!
//! A line is matched as a regex engine would, not first-match: a value may contain the literal that
//! follows it (`$context.error.message` is `Missing Authentication Token`, `$context.routeKey` is
//! `GET /pets`), so every place the next literal occurs is a candidate end, tried leftmost first and
//! given up on (backtracking) when the rest of the line does not match. Each variable's value class
//! ([`Class`]) rules candidates out early: the status is three digits, ids hold no space. Backtracking
//! is bounded by [`MAX_STEPS`]: a hostile line that would take longer counts as unparsed.
//!
//! A template that is a JSON object is also compared as JSON ([`JsonTemplate`]): key by key, each
//! value against its variables, so the template's white space and line breaks (a pretty-printed
//! template file) do not matter, nor does whether a value is quoted.

use super::json::{scan_whole, Visit};
use super::{record, Line, RawFields};
use crate::base::fields::{variable_field, Field};
use std::fmt;

/// Why a template cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template never logs the status.
    #[error("the access-log template has no $context.status variable")]
    NoStatus,
    /// Two variables touch: their boundary cannot be found in a line.
    #[error("the access-log template puts ${0} and ${1} side by side with no text between them")]
    Adjacent(String, String),
}

/// What a variable's value can look like, from the API Gateway developer guide's `$context` reference.
/// Any class also takes `-`, API Gateway's "no value".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// `$context.status`: three digits.
    Status,
    /// `$context.httpMethod`: upper-case letters (`GET`, `OPTIONS`).
    Method,
    /// `$context.resourcePath`, `$context.path`: `/` then no space.
    Path,
    /// `$context.routeKey`: `GET /pets/{id}` (HTTP APIs), `$default`/`$connect`, or a WebSocket route
    /// name (letters, digits, `_.:-`).
    RouteKey,
    /// Ids, addresses, numbers, protocol: never a space.
    Token,
    /// `$context.requestTime`: CLF time, `25/Nov/2026:10:00:00 +0000`, always 26 bytes.
    RequestTime,
    /// Anything, spaces, quotes and brackets included: messages, user agents,
    /// authorizer output, and every variable this module does not know.
    Text,
}

/// Variables whose values never contain a space (the rest are [`Class::Text`], the safe default).
const TOKEN_VARIABLES: [&str; 45] = [
    "accountId",
    "apiId",
    "authorize.latency",
    "authorize.status",
    "authenticate.latency",
    "authenticate.status",
    "authorizer.integrationLatency",
    "authorizer.integrationStatus",
    "authorizer.latency",
    "authorizer.requestId",
    "authorizer.status",
    "awsEndpointRequestId",
    "awsEndpointRequestId2",
    "connectedAt",
    "connectionId",
    "customDomain.basePathMatched",
    "dataProcessed",
    "domainName",
    "domainPrefix",
    "error.responseType",
    "eventType",
    "extendedRequestId",
    "identity.accountId",
    "identity.apiKeyId",
    "identity.caller",
    "identity.cognitoIdentityId",
    "identity.cognitoIdentityPoolId",
    "identity.sourceIp",
    "identity.user",
    "identity.userArn",
    "identity.vpceId",
    "integration.integrationStatus",
    "integration.latency",
    "integration.requestId",
    "integration.status",
    "integrationLatency",
    "integrationStatus",
    "protocol",
    "requestId",
    "requestTimeEpoch",
    "resourceId",
    "responseLatency",
    "responseLength",
    "stage",
    "wafResponseCode",
];

/// `dd/Mon/yyyy:HH:MM:SS +zzzz`.
const CLF_TIME_LEN: usize = 26;

impl Class {
    fn of(field: Field, name: &str) -> Class {
        match field {
            Field::Status => Class::Status,
            Field::Method => Class::Method,
            Field::Route => Class::Path,
            Field::RouteKey => Class::RouteKey,
            Field::RequestTime if name == "requestTime" => Class::RequestTime,
            _ if name == "path" => Class::Path,
            _ if TOKEN_VARIABLES.contains(&name) => Class::Token,
            _ => Class::Text,
        }
    }

    /// The longest value this class allows at the start of `rest`.
    fn max_len(self, rest: &str) -> usize {
        let b = rest.as_bytes();
        let word = || memchr::memchr(b' ', b).unwrap_or(b.len());
        match self {
            Class::Status => 3,
            Class::Method | Class::Path | Class::Token => word(),
            // `GET /pets`: the method, one space, the route.
            Class::RouteKey => match word() {
                w if b.get(w + 1) == Some(&b'/') => {
                    w + 1 + memchr::memchr(b' ', &b[w + 1..]).unwrap_or(b.len() - w - 1)
                }
                w => w,
            },
            Class::RequestTime => CLF_TIME_LEN.min(b.len()),
            Class::Text => b.len(),
        }
    }

    fn accepts(self, value: &str) -> bool {
        if value == "-" {
            // A line without a status is no request: letting `-` stand for it would end the search
            // on a path that cannot be counted, before the one that can.
            return self != Class::Status;
        }
        let b = value.as_bytes();
        match self {
            Class::Status => b.len() == 3 && b.iter().all(u8::is_ascii_digit),
            Class::Method => !b.is_empty() && b.iter().all(u8::is_ascii_uppercase),
            Class::Path => value.starts_with('/') && !value.contains(' '),
            Class::RouteKey => match value.split_once(' ') {
                Some((m, r)) => Class::Method.accepts(m) && Class::Path.accepts(r),
                // A bare method is never a route key: that is the HTTP API CLF misread.
                None if Class::Method.accepts(value) => false,
                None => {
                    value.starts_with(['$', '/'])
                        || b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'-'))
                }
            },
            Class::Token => !value.contains(' '),
            Class::RequestTime => crate::base::time::parse_request_time(value).is_some(),
            Class::Text => true,
        }
    }
}

/// Candidate boundaries tried per line at most: far above what any real line needs (a handful per
/// variable), far below what a hostile line could demand (exponential in the variables that can hold
/// the literal after them).
pub const MAX_STEPS: u32 = 20_000;

#[derive(Debug, Clone)]
enum Segment {
    /// Literal text, with a precompiled (SIMD) searcher for finding where the value before it ends.
    Literal(String, Box<memchr::memmem::Finder<'static>>),
    Var(Field, Class, String),
}

impl PartialEq for Segment {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Segment::Literal(a, _), Segment::Literal(b, _)) => a == b,
            (Segment::Var(f, _, a), Segment::Var(g, _, b)) => f == g && a == b,
            _ => false,
        }
    }
}

impl Eq for Segment {}

fn literal(text: &str) -> Segment {
    Segment::Literal(text.to_string(), Box::new(memchr::memmem::Finder::new(text.as_bytes()).into_owned()))
}

/// The template's text as literals and variables.
fn segments(source: &str) -> Result<Vec<Segment>, TemplateError> {
    let mut segments = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("$context.") {
        if at > 0 {
            segments.push(literal(&rest[..at]));
        }
        let after = &rest[at + "$context.".len()..];
        let mut len = after.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.').count();
        while len > 0 && after.as_bytes()[len - 1] == b'.' {
            len -= 1;
        }
        let name = &after[..len];
        if let Some(Segment::Var(_, _, prev)) = segments.last() {
            return Err(TemplateError::Adjacent(format!("context.{prev}"), format!("context.{name}")));
        }
        let field = variable_field(name);
        segments.push(Segment::Var(field, Class::of(field, name), name.to_string()));
        rest = &after[len..];
    }
    if !rest.is_empty() {
        segments.push(literal(rest));
    }
    Ok(segments)
}

/// One piece of a template, for code that rewrites it (the Logs Insights queries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplatePart<'a> {
    /// Literal text.
    Literal(&'a str),
    /// A `$context` variable, by the field it fills ([`Field::Other`] for those not read).
    Var(Field),
}

/// A compiled `$context` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The template as text, literal by literal: what every template is matched as (a JSON one
    /// when its JSON comparison fails, e.g. on a value holding a bare `"`).
    segments: Vec<Segment>,
    /// The template as JSON, when it is a JSON object.
    json: Option<JsonTemplate>,
    source: String,
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Template {
    /// Compiles a template such as `{"status":"$context.status","path":"$context.resourcePath"}`.
    pub fn compile(source: &str) -> Result<Template, TemplateError> {
        let source = source.trim();
        let segments = segments(source)?;
        if !segments.iter().any(|s| matches!(s, Segment::Var(Field::Status, ..))) {
            return Err(TemplateError::NoStatus);
        }
        Ok(Template { segments, json: JsonTemplate::compile(source), source: source.to_string() })
    }

    /// The JSON key under which the template logs `$context.x`, when the template is JSON-like
    /// (`"status":"$context.status"` → `status`): used to write Logs Insights queries.
    pub fn json_key_of(&self, variable: &str) -> Option<&str> {
        if let Some(json) = &self.json {
            return json.key_of(variable);
        }
        self.segments.windows(2).find_map(|w| match w {
            [Segment::Literal(lit, _), Segment::Var(_, _, name)] if name == variable => {
                let before = lit.trim_end().trim_end_matches('"').trim_end().strip_suffix(':')?;
                let before = before.trim_end().strip_suffix('"')?;
                Some(&before[before.rfind('"')? + 1..])
            }
            _ => None,
        })
    }

    /// The template's pieces in order.
    pub fn parts(&self) -> impl Iterator<Item = TemplatePart<'_>> {
        self.segments.iter().map(|s| match s {
            Segment::Literal(text, _) => TemplatePart::Literal(text),
            Segment::Var(field, ..) => TemplatePart::Var(*field),
        })
    }

    /// Parses one line written by this template.
    pub fn parse<'a>(&self, line: &'a str) -> Line<'a> {
        let line = line.trim();
        if let Some(r) = self.json.as_ref().and_then(|j| j.parse(line)) {
            return Line::Request(r);
        }
        let mut f = RawFields::default();
        if !matches_text(&self.segments, line, &mut f) {
            return Line::Unparsed;
        }
        record(f).map_or(Line::Unparsed, Line::Request)
    }
}

/// Whether `text` matches `segments` whole; `f` then holds the values of the path that matched.
fn matches_text<'a>(segments: &[Segment], text: &'a str, f: &mut RawFields<'a>) -> bool {
    let t = TextMatch { segments };
    let before = *f;
    if t.first_path(text, f) {
        return true;
    }
    *f = before;
    let mut search = Search { steps: MAX_STEPS, failed: std::collections::HashSet::new() };
    t.match_at(text, 0, 0, f, &mut search)
}

/// A text matcher over a template's segments (the whole template, or one JSON value of it).
struct TextMatch<'t> {
    segments: &'t [Segment],
}

impl TextMatch<'_> {
    /// The path the backtracker tries first (every value ends at the first place the next literal
    /// occurs), without recursion: most lines match on it, and the result is the same.
    fn first_path<'a>(&self, line: &'a str, f: &mut RawFields<'a>) -> bool {
        let mut at = 0;
        for (i, segment) in self.segments.iter().enumerate() {
            let rest = &line[at..];
            match segment {
                Segment::Literal(lit, _) => {
                    if !rest.starts_with(lit.as_str()) {
                        return false;
                    }
                    at += lit.len();
                }
                Segment::Var(field, class, _) => {
                    let end = match self.segments.get(i + 1) {
                        Some(Segment::Literal(_, finder)) => match finder.find(rest.as_bytes()) {
                            Some(end) => end,
                            None => return false,
                        },
                        _ => rest.len(),
                    };
                    if !class.accepts(&rest[..end]) {
                        return false;
                    }
                    keep(f, *field, &rest[..end]);
                    at += end;
                }
            }
        }
        at == line.len()
    }

    /// Whether `line[at..]` matches the segments from `i` on; on success `f` holds the values of the
    /// path that matched (a later segment's value is always written after an earlier one's).
    fn match_at<'a>(&self, line: &'a str, i: usize, at: usize, f: &mut RawFields<'a>, search: &mut Search) -> bool {
        // Whether segments `i..` match from `at` depends on nothing else: a state that failed once
        // fails again, so each is tried once (as a memoizing regex engine does), which keeps runs of
        // free-text variables polynomial instead of exponential.
        if search.steps == 0 || search.failed.contains(&(i, at)) {
            return false;
        }
        search.steps -= 1;
        let matched = self.try_at(line, i, at, f, search);
        if !matched {
            search.failed.insert((i, at));
        }
        matched
    }

    fn try_at<'a>(&self, line: &'a str, i: usize, at: usize, f: &mut RawFields<'a>, search: &mut Search) -> bool {
        let rest = &line[at..];
        match self.segments.get(i) {
            None => rest.is_empty(),
            Some(Segment::Literal(lit, _)) => {
                rest.starts_with(lit.as_str()) && self.match_at(line, i + 1, at + lit.len(), f, search)
            }
            Some(Segment::Var(field, class, _)) => {
                let max = class.max_len(rest);
                let Some(Segment::Literal(_, finder)) = self.segments.get(i + 1) else {
                    // The last segment: the value is the rest of the line.
                    return class.accepts(rest) && keep(f, *field, rest);
                };
                let bytes = rest.as_bytes();
                let mut from = 0;
                while let Some(k) = finder.find(&bytes[from..]) {
                    let end = from + k;
                    if end > max || search.steps == 0 {
                        return false;
                    }
                    // `end` starts the literal, whose first byte starts a character: a valid boundary.
                    let value = &rest[..end];
                    if class.accepts(value) && keep(f, *field, value) && self.match_at(line, i + 1, at + end, f, search)
                    {
                        return true;
                    }
                    from = end + 1;
                }
                false
            }
        }
    }
}

/// The backtracker's budget and the states known to fail.
struct Search {
    /// States left to try before the line counts as unparsed.
    steps: u32,
    /// `(segment, byte offset)` states that did not match.
    failed: std::collections::HashSet<(usize, usize)>,
}

/// Records a value in its field's slot (always true, for chaining).
fn keep<'a>(f: &mut RawFields<'a>, field: Field, value: &'a str) -> bool {
    if let Some(slot) = f.slot(field) {
        *slot = Some(value);
    }
    true
}

/// A JSON template, compared as JSON: each key of a line must be one of the template's (at the same
/// depth, under the same parent), every key of the template must be in the line, and each value must
/// be what the template writes there (its literal text, or its variables' values). Quoting is not
/// compared: `"status":"$context.status"` and `"status":$context.status` read the same lines.
#[derive(Debug, Clone, PartialEq, Eq)]
struct JsonTemplate {
    entries: Vec<Entry>,
}

/// Keys a JSON template may have: one bit each in [`JsonMatch::seen`].
const MAX_JSON_KEYS: usize = 128;

/// One scalar of a JSON template: where it sits and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    depth: u8,
    parent: Option<String>,
    key: String,
    value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    /// Text with no variable: the line must hold the same.
    Literal(String),
    /// One variable and nothing else.
    Var(Field, Class, String),
    /// Variables and text: matched as a template of its own.
    Text(Vec<Segment>),
}

impl JsonTemplate {
    /// The template as JSON, when `source` is one object (of scalars and objects; what arrays hold
    /// is not compared) with at most [`MAX_JSON_KEYS`] scalars.
    fn compile(source: &str) -> Option<JsonTemplate> {
        if !source.starts_with('{') {
            return None;
        }
        struct Collect<'s>(Vec<(u8, Option<String>, &'s str, &'s str)>);
        impl<'s> Visit<'s> for Collect<'s> {
            fn scalar(&mut self, depth: u8, parent: Option<&str>, key: &'s str, value: &'s str) {
                self.0.push((depth, parent.map(str::to_string), key, value));
            }
        }
        let mut collect = Collect(Vec::new());
        if !scan_whole(source, &mut collect) || collect.0.len() > MAX_JSON_KEYS || collect.0.is_empty() {
            return None;
        }
        let entries = collect
            .0
            .into_iter()
            .map(|(depth, parent, key, value)| {
                let value = match segments(value).ok()?.as_slice() {
                    [Segment::Var(field, class, name)] => Value::Var(*field, *class, name.clone()),
                    [Segment::Literal(..)] | [] => Value::Literal(value.to_string()),
                    segments => Value::Text(segments.to_vec()),
                };
                Some(Entry { depth, parent, key: key.to_string(), value })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(JsonTemplate { entries })
    }

    /// The key (dotted when nested: `error.responseType`) whose value is `$context.<variable>` alone.
    fn key_of(&self, variable: &str) -> Option<&str> {
        self.entries.iter().find_map(|e| match &e.value {
            Value::Var(_, _, name) if name == variable && e.depth == 0 => Some(e.key.as_str()),
            _ => None,
        })
    }

    /// The record of a line this template wrote, compared as JSON.
    fn parse<'a>(&self, line: &'a str) -> Option<super::AccessRecord<'a>> {
        if !line.starts_with('{') {
            return None;
        }
        let mut m = JsonMatch { t: self, seen: 0, ok: true, f: RawFields::default() };
        if !scan_whole(line, &mut m) || !m.ok || m.seen.count_ones() as usize != self.entries.len() {
            return None;
        }
        record(m.f)
    }
}

/// A line compared with a [`JsonTemplate`], key by key as the scan reports them.
struct JsonMatch<'t, 'a> {
    t: &'t JsonTemplate,
    /// The template's entries found so far, one bit each.
    seen: u128,
    /// Every key found so far is the template's, once, with a value it could have written.
    ok: bool,
    f: RawFields<'a>,
}

impl<'a> Visit<'a> for JsonMatch<'_, 'a> {
    fn scalar(&mut self, depth: u8, parent: Option<&str>, key: &'a str, value: &'a str) {
        if !self.ok {
            return;
        }
        let found =
            self.t.entries.iter().position(|e| e.depth == depth && e.key == key && e.parent.as_deref() == parent);
        let Some(i) = found.filter(|i| self.seen & (1 << i) == 0) else {
            self.ok = false;
            return;
        };
        self.seen |= 1 << i;
        self.ok = match &self.t.entries[i].value {
            Value::Literal(text) => value == text,
            Value::Var(field, class, _) => class.accepts(value) && keep(&mut self.f, *field, value),
            Value::Text(segments) => matches_text(segments, value, &mut self.f),
        };
    }
}
