//! The CloudWatch Logs Insights query an alert carries: that window's 4xx by status and route, read
//! in the log group's own line format. Logs Insights discovers the keys of JSON lines by itself;
//! CLF, CSV, XML and execution-log lines need a `parse` command, or the query finds nothing. The
//! stage's template, when configured, says exactly how a line is written, so it wins over detection.

use crate::access_log::{LineParser, LineShape, Template, TemplatePart};
use crate::base::fields::{ROUTE_KEYS, ROUTE_KEY_KEYS, STATUS_KEYS};

/// The query for lines read by `parser`; `shape` is the detected format of the batch's lines (JSON
/// when unknown). Every form names the status `code` and the route `resource`.
pub fn query(parser: &LineParser, shape: Option<LineShape>) -> String {
    let (head, has_route) = match parser {
        LineParser::Template(t) => from_template(t),
        LineParser::Auto => {
            let shape = shape.unwrap_or(LineShape::Json);
            (from_shape(shape), shape != LineShape::Execution)
        }
    };
    let by = if has_route { "code, resource" } else { "code" };
    let (low, high) = (crate::base::status::CLIENT_ERROR_CODES.start(), crate::base::status::CLIENT_ERROR_CODES.end());
    format!(
        "{head}\n| filter code >= {low} and code <= {high}\n| stats count(*) as requests by {by}\n| sort requests desc\n| limit 50"
    )
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
        LineShape::Csv => r"parse @message /,(?<method>[A-Z]+),(?<resource>\/[^,]*),HTTP\/[^,]*,(?<code>\d{3}),/",
        LineShape::Xml => {
            r"parse @message /<status>(?<code>\d{3})<\/status>/
| parse @message /<resourcePath>(?<resource>[^<]*)<\/resourcePath>/"
        }
        LineShape::Execution => r"parse @message /Method completed with status: (?<code>\d{3})/",
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
    let mut regex = String::from("^");
    let (mut status_seen, mut route_seen) = (false, false);
    let parts: Vec<TemplatePart<'_>> = t.parts().collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        match part {
            TemplatePart::Literal(literal) => escape_into(&mut regex, literal),
            // A group name may occur once in a regex: a repeated variable matches, uncaptured.
            TemplatePart::Status if !status_seen => {
                status_seen = true;
                regex.push_str(r"(?<code>\d{3})");
            }
            TemplatePart::Route if !route_seen => {
                route_seen = true;
                regex.push_str(if last { "(?<resource>.*)" } else { "(?<resource>.*?)" });
            }
            _ => regex.push_str(if last { ".*" } else { ".*?" }),
        }
    }
    (format!("parse @message /{regex}/"), route_seen)
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
}
