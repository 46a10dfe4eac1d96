//! The CloudWatch Logs Insights queries: the one an alert carries (that window's 4xx by status and
//! route), the counting queries of `analyze --engine insights` (lines per window and status), and
//! the console link that opens a query. Each reads the log group's own line format: Logs Insights
//! discovers the keys of JSON lines by itself; CLF, CSV, XML and execution-log lines need a `parse`
//! command, or the query finds nothing. The stage's template, when configured, says exactly how a
//! line is written, so it wins over detection. Every query starts with the same [`Reading`].

use crate::access_log::{
    LineParser, LineShape, Template, TemplatePart, COMPLETED, DENIALS, METHODS, RESOURCE_POLICY_DENIAL,
    RESOURCE_POLICY_PREFIX,
};
use crate::base::fields::{
    keys_of, nested_field, variable_of, Field, OriginField, NESTING_PARENTS, ROUTE_KEYS, ROUTE_KEY_KEYS, STATUS_KEYS,
};
use crate::base::status::CLIENT_ERROR_CODES;
use crate::base::time::EpochMillis;
use crate::count::insights::{
    denial, evidence_field, evidence_name, execution_markers, facet_of, COMPLETED as COMPLETED_FIELD, EVIDENCE_FIELDS,
    LINES, LOG, POLICY, STATUS, STEP, WINDOW,
};
use crate::ingest::insights::plan::Facet;
use crate::ingest::time_range::TimeRange;

/// How a query reads a log group's lines: its first commands, which name the status `code` (and
/// the route `resource`, when the format has one), and the commands that name the evidence fields
/// of a 4xx line (`count::insights::EVIDENCE_FIELDS`), when the format has any.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reading {
    head: String,
    route: bool,
    execution: bool,
    /// Commands after the status is read: they name the evidence fields.
    evidence: String,
    /// The evidence fields they name, each with its facet.
    evidence_fields: Vec<(Facet, &'static str)>,
}

/// Valid statuses (100..=599): the most a window's rows can differ by status.
const STATUSES: u64 = 500;

impl Reading {
    /// The reading for lines read by `parser`; `shape` is the detected format of the group's lines
    /// (JSON when unknown).
    pub fn new(parser: &LineParser, shape: Option<LineShape>) -> Reading {
        let (head, route, execution, evidence) = match parser {
            LineParser::Template(t) => {
                let (head, route) = from_template(t);
                (head, route, false, evidence_from_template(t))
            }
            LineParser::Auto => {
                let shape = shape.unwrap_or(LineShape::Json);
                let execution = shape == LineShape::Execution;
                (from_shape(shape), !execution, execution, evidence_from_shape(shape))
            }
        };
        let (evidence, names) = evidence;
        let evidence_fields = names.into_iter().filter_map(|n| Some((facet_of(evidence_field(n)?), n))).collect();
        Reading { head, route, execution, evidence, evidence_fields }
    }

    /// The evidence queries this reading can make: a facet each of whose fields the lines can carry
    /// (none for execution logs, whose lines name no route, method, response type or caller).
    pub fn evidence_facets(&self) -> Vec<Facet> {
        [Facet::Requests, Facet::Consumers]
            .into_iter()
            .filter(|f| self.evidence_fields.iter().any(|(g, _)| g == f))
            .collect()
    }

    /// Whether the lines are execution logs (whose rows are read by their markers).
    pub fn execution(&self) -> bool {
        self.execution
    }

    /// The most rows one window of one log group can give a count query: a row per valid status,
    /// one for lines without one, and for execution logs one per marker that can stand without a
    /// status (each line carries at most one of them: they all start right after the request id).
    pub fn max_keys_per_window(&self) -> u64 {
        let markers = if self.execution { execution_markers().len() as u64 } else { 0 };
        STATUSES + 1 + markers
    }
}

/// The query for lines read by `parser`; `shape` is the detected format of the batch's lines (JSON
/// when unknown). Every form names the status `code` and the route `resource`.
pub fn query(parser: &LineParser, shape: Option<LineShape>) -> String {
    let Reading { head, route, .. } = Reading::new(parser, shape);
    let by = if route { "code, resource" } else { "code" };
    let (low, high) = (crate::base::status::CLIENT_ERROR_CODES.start(), crate::base::status::CLIENT_ERROR_CODES.end());
    format!(
        "{head}\n| filter code >= {low} and code <= {high}\n| stats count(*) as requests by {by}\n| sort requests desc\n| limit 50"
    )
}

/// The count query over `range` (both ends inclusive, to the millisecond): lines per status (and
/// execution-log marker), per window of `window` minutes when given, per log group when `by_log`.
pub fn count_query(reading: &Reading, range: TimeRange, window: Option<u32>, by_log: bool) -> String {
    counting(reading, range, window.map(|m| format!("bin({m}m) as {WINDOW}")), by_log)
}

/// The census over `range`: the keys (statuses and markers) that occur, per log group when
/// `by_log`; a count query without windows.
pub fn census_query(reading: &Reading, range: TimeRange, by_log: bool) -> String {
    counting(reading, range, None, by_log)
}

/// The evidence query of `facet` over `range` (both ends inclusive, to the millisecond): 4xx lines
/// per status and the facet's fields, the most frequent `limit` rows. Evidence is asked only for
/// spans that alert, so these queries read a fraction of what the counts read; each facet is one
/// query because a query is charged for its span, not its fields, and splitting further (a query
/// per field) would read the span once per field, while one query for both facets would group by
/// every route and caller at once: the request fields' combinations are bounded by the API's
/// routes, methods and response types (hundreds), the callers' are not (one row per source IP), so
/// apart the first stays exact and the second, sorted by count, keeps its most frequent rows.
pub fn evidence_query(reading: &Reading, range: TimeRange, facet: Facet, limit: u64) -> String {
    let mut q = reading_status(reading);
    q.push_str(&reading.evidence);
    q.push_str(&time_filter(range));
    let (low, high) = (CLIENT_ERROR_CODES.start(), CLIENT_ERROR_CODES.end());
    q.push_str(&format!("\n| filter {STATUS} >= {low} and {STATUS} <= {high}"));
    let mut by = vec![STATUS];
    by.extend(reading.evidence_fields.iter().filter(|(f, _)| *f == facet).map(|(_, name)| *name));
    q.push_str(&format!("\n| stats count(*) as {LINES} by {}\n| sort {LINES} desc\n| limit {limit}", by.join(", ")));
    q
}

/// The reading's head and the status the scan would accept: three digits, 100 to 599, white
/// space around allowed.
fn reading_status(reading: &Reading) -> String {
    let mut q = reading.head.clone();
    q.push_str(&format!("\n| parse code /^\\s*(?<{STATUS}>[1-5][0-9][0-9])\\s*$/"));
    q
}

/// The filter that keeps a query to `range` to the millisecond (StartQuery takes whole seconds).
fn time_filter(range: TimeRange) -> String {
    let (start, end): (EpochMillis, EpochMillis) = (range.start, range.end);
    format!("\n| filter toMillis(@timestamp) >= {start} and toMillis(@timestamp) <= {end}")
}

fn counting(reading: &Reading, range: TimeRange, bin: Option<String>, by_log: bool) -> String {
    let mut q = reading_status(reading);
    let mut by = vec![STATUS.to_string()];
    if reading.execution {
        q.push_str(&execution_markers_parse());
        by.extend(execution_markers());
    }
    q.push_str(&time_filter(range));
    if by_log {
        by.push(LOG.to_string());
    }
    by.extend(bin);
    q.push_str(&format!("\n| stats count(*) as {LINES} by {}", by.join(", ")));
    q
}

/// The `parse` commands that mark an execution-log line: its request-id prefix, the request's last
/// line, each authorizer denial and a resource policy's refusal, each right after the prefix (as
/// the line parser reads them).
fn execution_markers_parse() -> String {
    const PREFIX: &str = r"^\([^)]*\) ";
    let mut out = format!("\n| parse @message /^\\([^)]*(?<{STEP}>\\) )/");
    let mut literal = |field: &str, text: &str| {
        let mut re = String::new();
        escape_into(&mut re, text);
        out.push_str(&format!("\n| parse @message /{PREFIX}(?<{field}>{re})/"));
    };
    literal(COMPLETED_FIELD, COMPLETED);
    for (i, (text, _)) in DENIALS.iter().enumerate() {
        literal(&denial(i), text);
    }
    let mut policy = String::new();
    escape_into(&mut policy, RESOURCE_POLICY_DENIAL);
    let mut prefix = String::new();
    escape_into(&mut prefix, RESOURCE_POLICY_PREFIX);
    out.push_str(&format!("\n| parse @message /{PREFIX}{prefix}.*(?<{POLICY}>{policy})/"));
    out
}

/// The console link that opens Logs Insights on `log_group` with `query` and the window from
/// `start` to `end` (UTC) filled in. The console reads its state from the fragment:
/// `logs-insights?queryDetail=` (with `$` for `%`, as the console writes its own links) and a JSURL
/// object whose strings keep letters, digits, `-`, `_` and `.`, write `$` as `!`, and every other
/// character as `*hh` (`**hhhh` past U+00FF, per UTF-16 unit).
pub fn console_link(region: &str, log_group: &str, query: &str, start: EpochMillis, end: EpochMillis) -> String {
    let region: String = region.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    let time = |t: EpochMillis| {
        let iso = crate::base::time::format_iso8601(t);
        format!("{}.{:03}Z", iso.trim_end_matches('Z'), t.rem_euclid(1000))
    };
    let link = |editor: &str| {
        format!(
            "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:logs-insights$3FqueryDetail$3D~(end~'{}~start~'{}~timeType~'ABSOLUTE~tz~'UTC{editor}~source~(~'{}))",
            jsurl(&time(end)),
            jsurl(&time(start)),
            jsurl(log_group)
        )
    };
    let full = link(&format!("~editorString~'{}", jsurl(query)));
    // A query too long for a link (an alert's is a few hundred bytes) is left out: the link still
    // opens the group and the window, and the message carries the query itself.
    if full.len() <= MAX_LINK_BYTES {
        full
    } else {
        link("")
    }
}

/// The longest console link an alert carries.
pub const MAX_LINK_BYTES: usize = 8 * 1024;

/// What a read through Logs Insights cost: `Logs Insights: 12 queries, 1.234 GB scanned
/// (4,567,890 records): $0.0062 at $0.005 per GB`.
pub fn cost_text(queries: u64, bytes_scanned: f64, records_scanned: f64) -> String {
    use crate::ingest::insights::plan::{cost_usd, BYTES_PER_GB, USD_PER_GB};
    format!(
        "Logs Insights: {} queries, {:.3} GB scanned ({} records): ${:.4} at ${USD_PER_GB} per GB",
        crate::base::numbers::thousands(queries),
        bytes_scanned / BYTES_PER_GB,
        crate::base::numbers::thousands(records_scanned.max(0.0).round() as u64),
        cost_usd(bytes_scanned)
    )
}

/// A string as JSURL writes it (without its leading `'`).
fn jsurl(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for unit in s.encode_utf16() {
        match u8::try_from(unit) {
            Ok(b) if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') => out.push(char::from(b)),
            Ok(b'$') => out.push('!'),
            Ok(b) => out.push_str(&format!("*{b:02x}")),
            Err(_) => out.push_str(&format!("**{unit:04x}")),
        }
    }
    out
}

/// The first command of the query for a detected format: the console's examples, and for JSON
/// every key the line parser reads as the status or the route.
fn from_shape(shape: LineShape) -> String {
    let command = match shape {
        LineShape::Json => {
            let routes = [ROUTE_KEYS, ROUTE_KEY_KEYS].concat();
            return format!(
                "fields @timestamp, coalesce({}) as code, coalesce({}) as resource",
                STATUS_KEYS.join(", "),
                routes.join(", ")
            );
        }
        LineShape::Clf => r#"parse @message /"(?<method>[A-Z]+) (?<resource>\S+)[^"]*" (?<code>\d{3}) /"#,
        // The status follows the protocol field, as the line parser reads it; the route is the first
        // field that is a path, or a path behind an HTTP API route key's method (`GET /pets/{id}`).
        LineShape::Csv => {
            return format!(
                "parse @message /,HTTP\\/[^,]*,(?<code>\\d{{3}}),/\n| parse @message /(?:^|,)(?:(?:{}) )?(?<resource>\\/[^,]*),/",
                METHODS.join("|")
            );
        }
        LineShape::Xml => {
            r"parse @message /<status>(?<code>\d{3})<\/status>/
| parse @message /<resourcePath>(?<resource>[^<]*)<\/resourcePath>/"
        }
        LineShape::Execution => r"parse @message /^\([^)]*\) Method completed with status: (?<code>\d{3})/",
        // Logs Insights does not split `key: value` pairs: one regex per field, any of its names.
        LineShape::KeyValue => {
            return format!(
                "parse @message /(?:^|, )(?:{}): (?<code>\\d{{3}})/\n| parse @message /(?:^|, )(?:{}): (?<resource>[^,]*)/",
                STATUS_KEYS.join("|"),
                [ROUTE_KEYS, ROUTE_KEY_KEYS].concat().join("|")
            );
        }
    };
    command.to_string()
}

/// The first command of the query for the stage's template (its own JSON keys, or a regex that
/// follows the template literal by literal), and whether it yields a route.
fn from_template(t: &Template) -> (String, bool) {
    if let Some(status) = t.json_key_of("status") {
        let alias = |key: &str, name: &str| if key == name { key.to_string() } else { format!("{key} as {name}") };
        let route = t.json_key_of("resourcePath").or_else(|| t.json_key_of("routeKey"));
        return match route {
            Some(route) => {
                (format!("fields @timestamp, {}, {}", alias(status, "code"), alias(route, "resource")), true)
            }
            None => (format!("fields @timestamp, {}", alias(status, "code")), false),
        };
    }
    let (regex, names) = template_regex(t, |field| match field {
        Field::Status => Some("code"),
        Field::Route | Field::RouteKey => Some("resource"),
        _ => None,
    });
    (format!("parse @message /{regex}/"), names.contains(&"resource"))
}

/// The template as a regex, literal by literal, each variable a lazy `.*?` (`.*` at the end) and
/// the first status `\d{3}`; the first variable of each name `name_of` gives is captured under that
/// name (a group name may occur once in a regex: a repeated one matches, uncaptured). The regex
/// and the names captured.
fn template_regex(t: &Template, name_of: impl Fn(Field) -> Option<&'static str>) -> (String, Vec<&'static str>) {
    let mut regex = String::from("^");
    let mut names: Vec<&'static str> = Vec::new();
    let mut status_seen = false;
    let parts: Vec<TemplatePart<'_>> = t.parts().collect();
    for (i, part) in parts.iter().enumerate() {
        let any = if i + 1 == parts.len() { ".*" } else { ".*?" };
        let TemplatePart::Var(field) = *part else {
            if let TemplatePart::Literal(literal) = part {
                escape_into(&mut regex, literal);
            }
            continue;
        };
        let first_status = field == Field::Status && !status_seen;
        status_seen |= field == Field::Status;
        let value = if first_status { r"\d{3}" } else { any };
        match name_of(field).filter(|n| !names.contains(n)) {
            Some(name) => {
                names.push(name);
                regex.push_str(&format!("(?<{name}>{value})"));
            }
            None => regex.push_str(value),
        }
    }
    (regex, names)
}

/// The evidence fields every line format the detection knows carries, as commands after the
/// status, and the names they give (none for execution logs). Each reads its value raw, as the
/// line parser finds it before its rules (`-` is absent, a route key splits) apply: those rules
/// are applied to the rows (`count::insights::fold_evidence`), so they live in one place.
fn evidence_from_shape(shape: LineShape) -> (String, Vec<&'static str>) {
    let named = |fields: &[Field]| fields.iter().filter_map(|f| evidence_name(*f)).collect::<Vec<_>>();
    let element = |tag: &str, name: &str| format!("\n| parse @message /<{tag}>(?<{name}>[^<]*)</");
    match shape {
        // Logs Insights discovers JSON keys (nested ones joined with dots): every name the line
        // parser reads a field under, first found first.
        LineShape::Json => {
            let (items, names): (Vec<String>, Vec<&'static str>) = primary_evidence_fields()
                .map(|(name, field)| match json_names(field).as_slice() {
                    [one] => (format!("{one} as {name}"), name),
                    keys => (format!("coalesce({}) as {name}", keys.join(", ")), name),
                })
                .unzip();
            (format!("\n| fields {}", items.join(", ")), names)
        }
        // `ip caller user [time]"METHOD route protocol"`: the identities are the first three words
        // before a `[` (and before the first `"`); the route is the request line's second word, or
        // its third after an HTTP API route key's own method.
        LineShape::Clf => {
            let word = r#"[^\s"\[]+"#;
            let methods = METHODS.join("|");
            (
                format!(
                    "\n| parse @message /^\\s*(?<e_ip>{word})(?:\\s+(?<e_caller>{word}))?(?:\\s+(?<e_user>{word}))?[^\"\\[]*\\[/\n| parse @message /\"(?<e_method>[^\\s\"]+)\\s+(?:(?:{methods})\\s+(?<e_path>[^\\s\"]+)|(?<e_route>[^\\s\"]+))/"
                ),
                vec!["e_ip", "e_caller", "e_user", "e_method", "e_path", "e_route"],
            )
        }
        // The first field that is a method, the first that is a path, the first that is a route key.
        LineShape::Csv => {
            let methods = METHODS.join("|");
            let field =
                |name: &str, value: &str| format!("\n| parse @message /(?:^|,)\\s*(?<{name}>{value})\\s*(?:,|$)/");
            (
                [
                    field("e_method", &format!("(?:{methods})")),
                    field("e_route", r"\/[^,]*?"),
                    field("e_routekey", &format!(r"\$default|(?:{methods}) \/[^,]*?")),
                ]
                .concat(),
                named(&[Field::Method, Field::Route, Field::RouteKey]),
            )
        }
        LineShape::Xml => {
            let tags = [
                ("httpMethod", Field::Method),
                ("resourcePath", Field::Route),
                ("routeKey", Field::RouteKey),
                ("responseType", Field::ResponseType),
                ("ip", Field::Origin(OriginField::SourceIp)),
                ("caller", Field::Origin(OriginField::Caller)),
                ("user", Field::Origin(OriginField::User)),
            ];
            let names = named(&tags.map(|(_, f)| f));
            (tags.iter().zip(&names).map(|((tag, _), name)| element(tag, name)).collect(), names)
        }
        // `name: value` pairs: a value runs to the next `, name: ` or the end.
        LineShape::KeyValue => {
            let fields: Vec<Field> = primary_evidence_fields().map(|(_, f)| f).collect();
            let names = named(&fields);
            let commands = fields
                .iter()
                .zip(&names)
                .map(|(field, name)| {
                    format!(
                        "\n| parse @message /(?:^|, )(?:{}): (?<{name}>.*?)(?:, [A-Za-z_][\\w.-]*: |$)/",
                        keys_of(*field).iter().map(|k| k.replace('.', "\\.")).collect::<Vec<_>>().join("|")
                    )
                })
                .collect();
            (commands, names)
        }
        LineShape::Execution => (String::new(), vec![]),
    }
}

/// The evidence fields of the stage's template: its own JSON keys, or captures in the regex that
/// follows it literal by literal.
fn evidence_from_template(t: &Template) -> (String, Vec<&'static str>) {
    if t.json_key_of("status").is_some() {
        let found: Vec<(&str, &'static str)> = primary_evidence_fields()
            .filter_map(|(name, field)| Some((t.json_key_of(variable_of(field)?)?, name)))
            .collect();
        if found.is_empty() {
            return (String::new(), vec![]);
        }
        let items: Vec<String> = found.iter().map(|(key, name)| format!("{key} as {name}")).collect();
        return (format!("\n| fields {}", items.join(", ")), found.iter().map(|(_, n)| *n).collect());
    }
    let (regex, names) = template_regex(t, evidence_name);
    if names.is_empty() {
        return (String::new(), vec![]);
    }
    (format!("\n| parse @message /{regex}/"), names)
}

/// Each evidence field once, under its first name.
fn primary_evidence_fields() -> impl Iterator<Item = (&'static str, Field)> {
    EVIDENCE_FIELDS.iter().filter(|(name, field)| evidence_name(*field) == Some(*name)).copied()
}

/// The names Logs Insights knows a JSON field by: every top-level key the line parser reads it
/// under, then the nested ones (`identity.sourceIp`), each once.
fn json_names(field: Field) -> Vec<String> {
    let mut out: Vec<String> = keys_of(field).iter().map(|k| k.to_string()).collect();
    for parent in NESTING_PARENTS {
        for key in keys_of(field) {
            let nested = format!("{parent}.{key}");
            if nested_field(parent, key) == Some(field) && !out.contains(&nested) {
                out.push(nested);
            }
        }
    }
    out
}

/// Appends `literal` to a regex between `/` delimiters, its metacharacters escaped.
fn escape_into(regex: &mut String, literal: &str) {
    for c in literal.chars() {
        if r"\.+*?()|[]{}^$/".contains(c) {
            regex.push('\\');
        }
        regex.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(source: &str) -> LineParser {
        LineParser::Template(Template::compile(source).unwrap())
    }

    #[test]
    fn each_detected_format_gets_a_query_that_reads_it() {
        let json = query(&LineParser::Auto, None);
        assert!(json.starts_with("fields @timestamp, coalesce(status, statusCode"), "{json}");
        assert!(json.contains("| stats count(*) as requests by code, resource"), "{json}");
        let clf = query(&LineParser::Auto, Some(LineShape::Clf));
        assert!(clf.starts_with(r#"parse @message /"(?<method>"#), "{clf}");
        let xml = query(&LineParser::Auto, Some(LineShape::Xml));
        assert_eq!(xml.matches("parse @message").count(), 2, "{xml}");
        let exec = query(&LineParser::Auto, Some(LineShape::Execution));
        assert!(exec.ends_with("by code\n| sort requests desc\n| limit 50"), "{exec}");
        assert!(query(&LineParser::Auto, Some(LineShape::Csv)).contains(r",HTTP\/[^,]*,(?<code>\d{3}),"));
    }

    /// Applies a query's `parse` regexes to `line` as Logs Insights would: `(code, resource)`.
    fn parsed(query: &str, line: &str) -> (Option<String>, Option<String>) {
        let (mut code, mut route) = (None, None);
        for command in query.lines().filter_map(|l| l.trim_start_matches("| ").strip_prefix("parse @message /")) {
            let re = regex::Regex::new(command.strip_suffix('/').unwrap()).unwrap();
            if let Some(c) = re.captures(line) {
                code = code.or(c.name("code").map(|m| m.as_str().to_string()));
                route = route.or(c.name("resource").map(|m| m.as_str().to_string()));
            }
        }
        (code, route)
    }

    #[test]
    fn parse_regexes_read_the_console_formats() {
        let route = Some("/v1/users/{id}".to_string());
        for line in [
            r#"203.0.113.9 - - [25/Nov/2026:10:00:00 +0000]"DELETE /v1/users/{id} HTTP/1.1" 403 42 c0ffee ext="#,
            r#"203.0.113.9 - - [25/Nov/2026:10:00:00 +0000] "DELETE /v1/users/{id} HTTP/1.1" 403 42 c0ffee"#,
            "203.0.113.9,-,-,25/Nov/2026:10:00:00 +0000,DELETE,/v1/users/{id},HTTP/1.1,403,42,c0ffee",
            r#"<request id="c0ffee"> <requestTime>25/Nov/2026:10:00:00 +0000</requestTime> <httpMethod>DELETE</httpMethod> <resourcePath>/v1/users/{id}</resourcePath> <status>403</status> </request>"#,
            "requestId: c0ffee, ip: 203.0.113.9, caller: -, user: -, requestTime: 25/Nov/2026:10:00:00 +0000, httpMethod: DELETE, resourcePath: /v1/users/{id}, status: 403, protocol: HTTP/1.1, responseLength: 42",
        ] {
            let q = query(&LineParser::Auto, LineShape::of(line));
            assert_eq!(parsed(&q, line), (Some("403".into()), route.clone()), "{q}\n{line}");
        }
        let exec = "(c0ffee) Method completed with status: 403";
        assert_eq!(parsed(&query(&LineParser::Auto, LineShape::of(exec)), exec), (Some("403".into()), None));
    }

    #[test]
    fn json_templates_use_their_own_keys() {
        let q =
            query(&template(r#"{"rid":"$context.requestId","code":$context.status,"r":"$context.routeKey"}"#), None);
        assert!(q.starts_with("fields @timestamp, code, r as resource\n| filter code >= 400"), "{q}");
        let no_route = query(&template(r#"{"s":"$context.status"}"#), None);
        assert!(no_route.contains("fields @timestamp, s as code\n") && no_route.contains("by code\n"), "{no_route}");
    }

    #[test]
    fn text_templates_become_a_regex_literal_by_literal() {
        let clf = "$context.identity.sourceIp [$context.requestTime]\"$context.httpMethod $context.resourcePath $context.protocol\" $context.status $context.requestId";
        let q = query(&template(clf), Some(LineShape::Json));
        assert!(
            q.starts_with(r#"parse @message /^.*? \[.*?\]".*? (?<resource>.*?) .*?" (?<code>\d{3}) .*/"#),
            "the template wins over the detected shape: {q}"
        );
        let line = r#"203.0.113.9 [25/Nov/2026:10:00:00 +0000]"GET /a/{id} HTTP/1.1" 404 c0ffee"#;
        assert_eq!(parsed(&q, line), (Some("404".into()), Some("/a/{id}".into())));
        let twice = query(&template("$context.status $context.resourcePath $context.status"), None);
        assert_eq!(parsed(&twice, "403 /a 403"), (Some("403".into()), Some("/a".into())));
        let csv = query(&template("$context.status,$context.resourcePath"), None);
        assert!(csv.starts_with(r"parse @message /^(?<code>\d{3}),(?<resource>.*)/"), "{csv}");
    }

    /// Applies a query's `parse` commands to `line` (each regex to `@message` or to `code`) and
    /// keeps the captures, as Logs Insights would: the row of that line, before `stats`.
    fn row_of(query: &str, line: &str) -> crate::ingest::insights::Row {
        let mut fields: Vec<(String, String)> = Vec::new();
        for command in query.lines().map(|l| l.trim_start_matches("| ")) {
            let Some(rest) = command.strip_prefix("parse ") else { continue };
            let (source, re) = rest.split_once(" /").unwrap();
            let text = match source {
                "@message" => Some(line.to_string()),
                field => fields.iter().find(|(f, _)| f == field).map(|(_, v)| v.clone()),
            };
            let re = regex::Regex::new(re.strip_suffix('/').unwrap()).unwrap();
            if let Some(c) = text.as_deref().and_then(|t| re.captures(t)) {
                for name in re.capture_names().flatten() {
                    if let Some(m) = c.name(name) {
                        fields.push((name.to_string(), m.as_str().to_string()));
                    }
                }
            }
        }
        crate::ingest::insights::Row(fields)
    }

    #[test]
    fn count_queries_read_each_line_as_the_line_parser_does() {
        use crate::access_log::Line;
        use crate::count::insights::{key, Key};
        let range = TimeRange { start: 1_764_000_000_000, end: 1_764_000_299_999 };
        for (shape, lines) in [
            (
                LineShape::Execution,
                vec![
                    "(c0ffee) Method completed with status: 403",
                    "(c0ffee) Method completed with status: 4031",
                    "(c0ffee) Method completed with status: 999",
                    "(c0ffee) Method completed with status:  403",
                    "(r1) Unauthorized request: r1",
                    "(r2) User is not authorized to access this resource with an explicit deny",
                    "(r3) The client is not authorized to perform this operation.",
                    "(r4) User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:x",
                    "(r5) Starting execution for request: r5",
                    "(r6) User: anonymous is allowed",
                    "(no closing paren",
                    "garbage",
                ],
            ),
            (
                LineShape::Clf,
                vec![
                    r#"203.0.113.9 - - [25/Nov/2026:10:00:00 +0000]"DELETE /v1/users/{id} HTTP/1.1" 403 42 c0ffee ext="#,
                    r#"203.0.113.9 - - [25/Nov/2026:10:00:00 +0000]"GET /a HTTP/1.1" 999 42 c0ffee"#,
                    "garbage",
                ],
            ),
            (
                LineShape::Csv,
                vec!["203.0.113.9,-,-,25/Nov/2026:10:00:00 +0000,DELETE,/v1/users/{id},HTTP/1.1,404,42,c0ffee", "x,y"],
            ),
        ] {
            let reading = Reading::new(&LineParser::Auto, Some(shape));
            let q = count_query(&reading, range, Some(5), false);
            for line in lines {
                let expected = match LineParser::Auto.parse(line) {
                    Line::Request(r) => Key::Status(r.status),
                    Line::Unparsed => Key::Unparsed,
                    Line::NotARequest => Key::NotARequest,
                };
                assert_eq!(key(&row_of(&q, line), reading.execution()), expected, "{shape:?} {line}\n{q}");
            }
        }
    }

    #[test]
    fn count_queries_share_the_alert_reading_and_bound_their_rows() {
        let range = TimeRange { start: 1_764_000_000_000, end: 1_764_000_299_999 };
        for shape in
            [LineShape::Json, LineShape::Clf, LineShape::Csv, LineShape::Xml, LineShape::KeyValue, LineShape::Execution]
        {
            let alert = query(&LineParser::Auto, Some(shape));
            let reading = Reading::new(&LineParser::Auto, Some(shape));
            let counting = count_query(&reading, range, Some(5), true);
            let head = &alert[..alert.find("\n| filter code").unwrap()];
            assert!(counting.starts_with(head), "one reading for both:\n{counting}");
            assert!(counting.contains(
                "\n| filter toMillis(@timestamp) >= 1764000000000 and toMillis(@timestamp) <= 1764000299999\n"
            ));
            let stats = counting.lines().last().unwrap();
            let markers =
                if shape == LineShape::Execution { "step, completed, denial0, denial1, denial2, policy, " } else { "" };
            assert_eq!(stats, format!("| stats count(*) as n by status, {markers}@log, bin(5m) as window"));
            let census = census_query(&reading, range, false);
            assert!(
                census.ends_with(&format!(
                    "| stats count(*) as n by status{}",
                    markers.trim_end_matches(", ").replace("step", ", step")
                )),
                "{census}"
            );
            let expected = if shape == LineShape::Execution { 507 } else { 501 };
            assert_eq!(reading.max_keys_per_window(), expected);
        }
    }

    /// Runs a query's `fields` and `parse` commands over `line` as Logs Insights would (JSON keys
    /// discovered, nested ones joined with dots; a `parse` that matches sets the groups that took
    /// part), then its `filter status` and the fields of its `stats … by`: the row of that line.
    fn evaluated(query: &str, line: &str) -> Option<crate::ingest::insights::Row> {
        fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
            match v {
                serde_json::Value::Object(m) => m.iter().for_each(|(k, v)| walk(&format!("{prefix}{k}."), v, out)),
                serde_json::Value::Null => {}
                serde_json::Value::String(s) => out.push((prefix.trim_end_matches('.').to_string(), s.clone())),
                other => out.push((prefix.trim_end_matches('.').to_string(), other.to_string())),
            }
        }
        let mut fields: Vec<(String, String)> = Vec::new();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
            walk("", &v, &mut fields);
        }
        let get =
            |fields: &[(String, String)], name: &str| fields.iter().find(|(f, _)| f == name).map(|(_, v)| v.clone());
        let mut by: Vec<String> = Vec::new();
        for command in query.lines().map(|l| l.trim_start_matches("| ")) {
            if let Some(items) = command.strip_prefix("fields ") {
                // Items are split at the commas outside parentheses.
                let mut split: Vec<String> = vec![String::new()];
                let mut depth = 0;
                for c in items.chars() {
                    match c {
                        '(' | ')' => depth += if c == '(' { 1 } else { -1 },
                        ',' if depth == 0 => {
                            split.push(String::new());
                            continue;
                        }
                        _ => {}
                    }
                    split.last_mut().unwrap().push(c);
                }
                for item in split.iter().map(|i| i.trim()).filter(|i| *i != "@timestamp") {
                    let (expr, name) = item.split_once(" as ").unwrap_or((item, item));
                    let names = expr.strip_prefix("coalesce(").map_or(expr, |e| e.trim_end_matches(')'));
                    let value = names.split(", ").find_map(|n| get(&fields, n));
                    fields.retain(|(f, _)| f != name);
                    fields.extend(value.map(|v| (name.to_string(), v)));
                }
            } else if let Some(rest) = command.strip_prefix("parse ") {
                let (source, re) = rest.split_once(" /").unwrap();
                let text = if source == "@message" { Some(line.to_string()) } else { get(&fields, source) };
                let re = regex::Regex::new(re.strip_suffix('/').unwrap()).unwrap();
                if let Some(c) = text.as_deref().and_then(|t| re.captures(t)) {
                    for name in re.capture_names().flatten() {
                        if let Some(m) = c.name(name) {
                            fields.retain(|(f, _)| f != name);
                            fields.push((name.to_string(), m.as_str().to_string()));
                        }
                    }
                }
            } else if command.starts_with("filter status >= 400 and status <= 499") {
                let status: u16 = get(&fields, "status")?.parse().ok()?;
                if !(400..=499).contains(&status) {
                    return None;
                }
            } else if let Some(keys) = command.strip_prefix("stats count(*) as n by ") {
                by = keys.split(", ").map(str::to_string).collect();
            }
        }
        let mut row: Vec<(String, String)> = fields.into_iter().filter(|(f, _)| by.contains(f)).collect();
        row.push(("n".into(), "1".into()));
        Some(crate::ingest::insights::Row(row))
    }

    /// The evidence the queries give equals the scan's, line by line, on every format that has
    /// evidence fields, the stage's templates included: `-` values absent, HTTP API route keys
    /// split, the most specific identity named, nested JSON keys read.
    #[test]
    fn evidence_queries_read_each_4xx_line_as_the_line_parser_does() {
        use crate::count::insights::fold_evidence;
        use crate::count::tally::Tally;
        use std::collections::BTreeMap;
        let range = TimeRange { start: 1_764_000_000_000, end: 1_764_000_299_999 };
        let cases: Vec<(LineParser, Option<LineShape>, Vec<&str>)> = vec![
            (
                LineParser::Auto,
                Some(LineShape::Json),
                vec![
                    r#"{ "requestId":"c0ffee", "ip": "203.0.113.9", "caller":"-", "user":"-", "httpMethod":"OPTIONS", "resourcePath":"/v1/orders/{id}", "status":"403", "errorResponseType":"MISSING_AUTHENTICATION_TOKEN" }"#,
                    r#"{"status":403,"identity":{"apiKeyId":"k2","sourceIp":"-","caller":"c","userAgent":"curl/8"},"authorizer":{"principalId":"bob"}}"#,
                    r#"{"requestId":"x","routeKey":"GET /pets/{id}","status":"404","sourceIp":"198.51.100.1","userAgent":"-"}"#,
                    r#"{"requestId":"y","routeKey":"$default","status":"429","apiKeyId":"-","principalId":"alice"}"#,
                    r#"{"requestId":"z","status":"200","ip":"203.0.113.1","httpMethod":"GET"}"#,
                ],
            ),
            (
                LineParser::Auto,
                Some(LineShape::Clf),
                vec![
                    r#"203.0.113.9 - - [25/Nov/2026:10:00:00 +0000]"DELETE /v1/users/{id} HTTP/1.1" 403 42 c0ffee ext="#,
                    r#"203.0.113.8 AROAEXAMPLE alice [25/Nov/2026:10:00:00 +0000] "GET GET /pets/{id} HTTP/1.1" 404 42 c0ffee"#,
                    r#"198.51.100.7 - - [25/Nov/2026:10:00:00 +0000]"POST $default HTTP/1.1" 401 42 c0ffee"#,
                    r#"- - - [25/Nov/2026:10:00:00 +0000]"GET /a HTTP/1.1" 400 42 c0ffee"#,
                ],
            ),
            (
                LineParser::Auto,
                Some(LineShape::Csv),
                vec![
                    "203.0.113.9,-,-,25/Nov/2026:10:00:00 +0000,DELETE,/v1/users/{id},HTTP/1.1,404,42,c0ffee",
                    "198.51.100.2,-,-,25/Nov/2026:10:00:00 +0000,PATCH,/pets/{id},HTTP/1.1,403,42,c0ffee",
                ],
            ),
            (
                LineParser::Auto,
                Some(LineShape::Xml),
                vec![
                    r#"<request id="c0ffee"> <ip>203.0.113.9</ip> <caller>-</caller> <user>bob</user> <httpMethod>DELETE</httpMethod> <resourcePath>/v1/users/{id}</resourcePath> <status>403</status> <responseType>WAF_FILTERED</responseType> </request>"#,
                ],
            ),
            (
                LineParser::Auto,
                Some(LineShape::KeyValue),
                vec![
                    "requestId: c0ffee, ip: 203.0.113.9, caller: -, user: -, requestTime: 25/Nov/2026:10:00:00 +0000, httpMethod: DELETE, resourcePath: /sub/{proxy+}, status: 404, protocol: HTTP/1.1, responseLength: 43",
                    "requestId: c1, apiKeyId: k9, ip: 203.0.113.9, userAgent: Mozilla/5.0 (X11, Linux), status: 429, errorResponseType: THROTTLED",
                ],
            ),
            (
                template(r#"{"rid":"$context.requestId","code":$context.status,"r":"$context.routeKey","k":"$context.identity.apiKeyId","t":"$context.error.responseType"}"#),
                None,
                vec![
                    r#"{"rid":"a","code":403,"r":"ANY /x","k":"key1","t":"INVALID_API_KEY"}"#,
                    r#"{"rid":"b","code":403,"r":"ANY /x","k":"-","t":"-"}"#,
                ],
            ),
            (
                template("$context.identity.sourceIp [$context.requestTime]\"$context.httpMethod $context.resourcePath $context.protocol\" $context.status $context.error.responseType $context.requestId"),
                Some(LineShape::Json),
                vec![
                    r#"203.0.113.9 [25/Nov/2026:10:00:00 +0000]"GET /a/{id} HTTP/1.1" 404 - c0ffee"#,
                    r#"- [25/Nov/2026:10:00:00 +0000]"PUT /b HTTP/1.1" 403 ACCESS_DENIED c0ffee"#,
                ],
            ),
        ];
        for (parser, shape, lines) in cases {
            let reading = Reading::new(&parser, shape);
            assert_eq!(reading.evidence_facets().len(), if shape == Some(LineShape::Csv) { 1 } else { 2 });
            let mut scan = Tally::new(None);
            let mut insights = BTreeMap::from([("/g".to_string(), Tally::new(None))]);
            for line in &lines {
                scan.add_line(&parser, None, line);
                for facet in reading.evidence_facets() {
                    let q = evidence_query(&reading, range, facet, 9_999);
                    assert!(q.ends_with("\n| sort n desc\n| limit 9999"), "{q}");
                    if let Some(row) = evaluated(&q, line) {
                        fold_evidence(&[row], &["/g".to_string()], facet, &mut insights).unwrap();
                    }
                }
            }
            let scan = scan.finish().evidence;
            assert!(!scan.is_empty());
            assert_eq!(insights["/g"].evidence, scan, "{parser:?} {shape:?}");
        }
        let exec = Reading::new(&LineParser::Auto, Some(LineShape::Execution));
        assert_eq!(exec.evidence_facets(), vec![], "execution logs name no route, method or caller");
    }

    #[test]
    fn evidence_queries_keep_to_their_span_and_the_4xx() {
        let reading = Reading::new(&LineParser::Auto, Some(LineShape::Clf));
        let range = TimeRange { start: 1_764_000_000_000, end: 1_764_000_299_999 };
        let q = evidence_query(&reading, range, crate::ingest::insights::plan::Facet::Consumers, 42);
        let count = count_query(&reading, range, Some(5), false);
        let head = &count[..count.find("\n| filter").unwrap()];
        assert!(q.starts_with(head), "the count query's reading:\n{q}");
        assert!(q.contains(
            "\n| filter toMillis(@timestamp) >= 1764000000000 and toMillis(@timestamp) <= 1764000299999\n| filter status >= 400 and status <= 499\n"
        ));
        assert!(
            q.ends_with("| stats count(*) as n by status, e_ip, e_caller, e_user\n| sort n desc\n| limit 42"),
            "{q}"
        );
    }

    /// Reads a JSURL value back (`'string`, `(key~value…)` or `(~item…)`), the console's way.
    fn unjsurl(s: &str) -> (serde_json::Value, &str) {
        fn string(s: &str) -> (String, &str) {
            let end = s.find(['~', ')']).unwrap_or(s.len());
            let (raw, rest) = s.split_at(end);
            let mut units: Vec<u16> = Vec::new();
            let mut i = 0;
            let b = raw.as_bytes();
            while i < b.len() {
                match b[i] {
                    b'*' if b.get(i + 1) == Some(&b'*') => {
                        units.push(u16::from_str_radix(&raw[i + 2..i + 6], 16).unwrap());
                        i += 6;
                    }
                    b'*' => {
                        units.push(u16::from_str_radix(&raw[i + 1..i + 3], 16).unwrap());
                        i += 3;
                    }
                    b'!' => {
                        units.push(u16::from(b'$'));
                        i += 1;
                    }
                    c => {
                        units.push(u16::from(c));
                        i += 1;
                    }
                }
            }
            (String::from_utf16(&units).unwrap(), rest)
        }
        let s = s.strip_prefix('~').unwrap();
        if let Some(rest) = s.strip_prefix('\'') {
            let (v, rest) = string(rest);
            return (serde_json::Value::String(v), rest);
        }
        let mut rest = s.strip_prefix('(').unwrap();
        if rest.starts_with('~') {
            let mut items = Vec::new();
            while !rest.starts_with(')') {
                let (v, r) = unjsurl(rest);
                items.push(v);
                rest = r;
            }
            return (serde_json::Value::Array(items), &rest[1..]);
        }
        let mut map = serde_json::Map::new();
        while !rest.starts_with(')') {
            let (key, r) = string(rest.trim_start_matches('~'));
            let (v, r) = unjsurl(r);
            map.insert(key, v);
            rest = r;
        }
        (serde_json::Value::Object(map), &rest[1..])
    }

    #[test]
    fn the_console_link_decodes_to_the_group_the_query_and_the_window() {
        let group = "/aws/apigateway/prod#1?x=%$";
        let q = query(&LineParser::Auto, Some(LineShape::Clf)) + "\n| filter resource = \"/é/😀\"";
        let link = console_link("eu-west-1", group, &q, 1_764_000_000_000, 1_764_000_300_000);
        let (head, state) = link.split_once("#logsV2:logs-insights$3FqueryDetail$3D").unwrap();
        assert_eq!(head, "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1");
        assert!(state.bytes().all(|b| b.is_ascii_graphic() && !b"#%\"<> ".contains(&b)), "{state}");
        let (v, rest) = unjsurl(state);
        assert_eq!(rest, "");
        assert_eq!(v["source"], serde_json::json!([group]));
        assert_eq!(v["editorString"], q.as_str());
        assert_eq!(
            (v["start"].as_str(), v["end"].as_str()),
            (Some("2025-11-24T16:00:00.000Z"), Some("2025-11-24T16:05:00.000Z"))
        );
        assert_eq!((v["timeType"].as_str(), v["tz"].as_str()), (Some("ABSOLUTE"), Some("UTC")));
        let long = console_link("eu-west-1", group, &"q".repeat(MAX_LINK_BYTES), 0, 60_000);
        let (v, _) = unjsurl(long.split_once("$3D").unwrap().1);
        assert!(long.len() < MAX_LINK_BYTES && v.get("editorString").is_none(), "too long a query is left out");
        assert_eq!(v["source"][0], group);
    }
}
