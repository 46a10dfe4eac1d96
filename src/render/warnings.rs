//! The CLI's warnings about what it read: lines it could not read (and what they look like), lines
//! it could not place in a window. They count lines where they count lines, name the format that was
//! detected, and offer `--log-format` only where the stage's template would help: for access-log
//! lines of a layout detection does not know.

use crate::access_log::{parse_detected, Line, LineKind, LineShape};
use crate::base::numbers::thousands;
use crate::count::tally::{Tally, MAX_BUCKETS};

/// How the lines were read: detected per line, or with `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Detected per line.
    Detected,
    /// With the stage's template.
    Template,
}

/// The warnings for a finished tally, one line each (without the `warning: ` prefix).
pub fn warnings(tally: &Tally, reading: Reading) -> Vec<String> {
    let mut out = Vec::new();
    let requests = tally.overall.requests();
    let unparsed = tally.overall.unparsed;
    let example = tally.unparsed_example.as_deref().unwrap_or_default();
    if unparsed > requests {
        out.push(match reading {
            Reading::Template => unmatched(unparsed, requests, example),
            Reading::Detected => unread(unparsed, requests, example, tally.shape),
        });
    } else if requests == 0 && tally.not_requests > 0 {
        out.push(format!(
            "{} execution-log lines and no request among them: a request counts by its last line (`Method completed with status: NNN`) or an authorizer's denial",
            thousands(tally.not_requests)
        ));
    }
    if tally.untimed > 0 {
        out.push(format!(
            "{} lines carry no timestamp and no readable request time: counted overall, in no window",
            thousands(tally.untimed)
        ));
    }
    if tally.unbucketed > 0 {
        out.push(format!(
            "{} lines fall in windows past the first {} (the cap): counted overall, in no window; pass a larger --window",
            thousands(tally.unbucketed),
            thousands(MAX_BUCKETS as u64)
        ));
    }
    out
}

/// Most lines did not match the `--log-format` template: say so (the template is not the lines'),
/// and what the lines read as without it, if anything.
fn unmatched(unparsed: u64, requests: u64, example: &str) -> String {
    let head = if requests == 0 {
        format!("the --log-format template matched none of the {} lines (e.g. {example:?})", thousands(unparsed))
    } else {
        format!(
            "{} of {} lines did not match the --log-format template (e.g. {example:?})",
            thousands(unparsed),
            thousands(unparsed + requests)
        )
    };
    match parse_detected(example) {
        Line::Request(_) => match LineShape::of(example) {
            Some(shape) => format!("{head}; without --log-format they read as {}", shape.name()),
            None => head,
        },
        _ => format!("{head}; check the template against the stage's current access-log format"),
    }
}

/// Most lines were not read by detection: what they look like, and what would read them.
fn unread(unparsed: u64, requests: u64, example: &str, shape: Option<LineShape>) -> String {
    let read = match (requests, shape) {
        (0, _) | (_, None) => String::new(),
        (n, Some(shape)) => format!(" (the other {} read as {})", thousands(n), shape.name()),
    };
    let head = format!(
        "{} of {} lines did not parse as access-log lines{read} (e.g. {example:?})",
        thousands(unparsed),
        thousands(unparsed + requests)
    );
    let advice = match LineKind::of(example) {
        LineKind::LambdaLogs => "they look like Lambda function logs: read the API's access-log group instead",
        LineKind::WebSocketWithoutStatus => {
            "they look like WebSocket access-log lines without $context.status (the Serverless Framework's WebSocket default), which cannot be counted: add $context.status to the stage's access-log format"
        }
        LineKind::ApplicationJson => {
            "they look like an application's JSON logs (a status that is not an HTTP code), not API Gateway access logs"
        }
        LineKind::UnknownAccessLog => {
            "they look like access-log lines of a layout not detected: pass --log-format with the stage's access-log format"
        }
        LineKind::TooLong => "lines longer than the cap are skipped unread: pass a larger --max-line-kib",
        LineKind::Other => "they do not look like API Gateway access or execution logs",
    };
    format!("{head}; {advice}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_log::LineParser;

    fn tally(lines: &[&str]) -> Tally {
        let mut t = Tally::new(Some(5));
        for l in lines {
            t.add_line(&LineParser::Auto, None, l);
        }
        t.finish()
    }

    #[test]
    fn lines_are_called_lines_and_the_detected_format_is_named() {
        let w = warnings(&tally(&["junk one", "junk two", r#"{"status":"403"}"#]), Reading::Detected);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("2 of 3 lines did not parse as access-log lines (the other 1 read as JSON)"), "{w:?}");
        assert!(w[0].ends_with("they do not look like API Gateway access or execution logs"), "{w:?}");
        assert!(!w[0].contains("--log-format"), "{w:?}");
        assert_eq!(w[1], "3 lines carry no timestamp and no readable request time: counted overall, in no window");
    }

    #[test]
    fn log_format_is_offered_only_for_access_log_lines_of_an_unknown_layout() {
        let offered = |lines: &[&str]| warnings(&tally(lines), Reading::Detected)[0].contains("pass --log-format");
        assert!(offered(&[r#"{"requestId":"r","code":"403"}"#]));
        assert!(!offered(&["START RequestId: 8f5 Version: $LATEST"]));
        assert!(!offered(&[r#"{"status":"info","message":"hi"}"#]));
        assert!(!offered(&[r#"1.2.3.4 - - [24/Nov/2025:16:00:00 +0000] "MESSAGE $default c1=" r1"#]));
        assert!(!offered(&["(r1) Method request path: {}", "Tue Jun 23 05:56:11 UTC 2020 : hello"]));
    }

    #[test]
    fn a_template_that_matches_nothing_says_so() {
        let template =
            crate::access_log::Template::compile(r#"{"rid":"$context.requestId","code":"$context.status"}"#).unwrap();
        let mut t = Tally::new(None);
        t.add_line(&LineParser::Template(template), None, r#"{"requestId":"r","status":"403"}"#);
        let w = warnings(&t.finish(), Reading::Template);
        assert_eq!(
            w,
            [
                r#"the --log-format template matched none of the 1 lines (e.g. "{\"requestId\":\"r\",\"status\":\"403\"}"); without --log-format they read as JSON"#
            ]
        );
    }
}
