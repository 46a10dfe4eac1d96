//! What a line no format reads looks like: the warning that explains an input that counted little
//! or nothing names it, and offers `--log-format` only where the stage's template would help (an
//! access-log line of a layout detection does not know). Read for one example line per run, never
//! on the hot path.

use super::json::{scan_whole, Visit};
use crate::base::fields::{top_level_field, Field, OriginField, STATUS_KEYS};

/// What an unparsed line looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// Lambda function logs: `START`/`END`/`REPORT`, the runtime's tab-separated lines, platform JSON.
    LambdaLogs,
    /// A WebSocket access-log line without `$context.status` (the Serverless Framework's WebSocket
    /// default): nothing to count, whatever the template.
    WebSocketWithoutStatus,
    /// JSON whose status is not an HTTP code (`"status":"info"`): an application's log.
    ApplicationJson,
    /// An access-log line of a layout detection does not know: the stage's template reads it.
    UnknownAccessLog,
    /// The stand-in for a line longer than the line cap.
    TooLong,
    /// Nothing of an API Gateway log.
    Other,
}

/// The event types a WebSocket API logs as `$context.eventType`.
const WEBSOCKET_EVENTS: [&str; 3] = ["CONNECT", "MESSAGE", "DISCONNECT"];
/// Words only an access-log line (of some layout) holds.
const ACCESS_LOG_MARKS: [&str; 4] = ["HTTP/1.1", "HTTP/1.0", "HTTP/2", "requestId"];
/// HTTP methods, as a request line names them.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

impl LineKind {
    /// What `line` (a line detection did not read) looks like.
    pub fn of(line: &str) -> LineKind {
        let line = line.trim();
        if line == crate::ingest::decode::OVERSIZED_LINE {
            return LineKind::TooLong;
        }
        if is_lambda_log(line) {
            return LineKind::LambdaLogs;
        }
        if line.starts_with('{') {
            return json_kind(line);
        }
        if is_websocket_without_status(line) {
            return LineKind::WebSocketWithoutStatus;
        }
        let request_text = ACCESS_LOG_MARKS.iter().any(|m| line.contains(m))
            || (super::keyvalue::starts_like(line) && names_a_request(line))
            || reads_like_a_request(line);
        if request_text {
            LineKind::UnknownAccessLog
        } else {
            LineKind::Other
        }
    }
}

/// A status-like word (100–599) beside a method or a path: `id1 GET /a 403`, whatever separates them.
fn reads_like_a_request(line: &str) -> bool {
    let words = || line.split(|c: char| c.is_whitespace() || ",;|\"'[](){}<>=".contains(c)).filter(|w| !w.is_empty());
    words().any(is_status_like) && words().any(|w| METHODS.contains(&w) || w.starts_with('/'))
}

/// Three digits that could be an HTTP status.
fn is_status_like(word: &str) -> bool {
    crate::base::status::parse_status(word).is_some()
}

/// `START RequestId: …`, `REPORT RequestId: …`, the runtime's `<time>\t<request id>\t<LEVEL>\t…` or
/// `[LEVEL]\t<time>\t…`, platform JSON (`"type":"platform.start"`).
fn is_lambda_log(line: &str) -> bool {
    const PLATFORM: [&str; 7] = [
        "START RequestId:",
        "END RequestId:",
        "REPORT RequestId:",
        "INIT_START",
        "INIT_REPORT",
        "EXTENSION",
        "TELEMETRY",
    ];
    PLATFORM.iter().any(|p| line.starts_with(p))
        || line.contains("\"type\":\"platform.")
        || line.contains('\t') && line.split('\t').take(2).any(|f| crate::base::time::parse_iso8601(f).is_some())
}

/// The Serverless Framework's WebSocket default, `ip caller user [time] "EVENT route connectionId"
/// requestId`: a CLF-like line whose quoted request is a WebSocket event.
fn is_websocket_without_status(line: &str) -> bool {
    let Some((_, quoted)) = line.split_once('"') else { return false };
    quoted.split_ascii_whitespace().next().is_some_and(|w| WEBSOCKET_EVENTS.contains(&w))
}

/// Whether a `key: value` line names a field of a request besides the time (`requestId: …, ip: …`).
fn names_a_request(line: &str) -> bool {
    line.split(", ").filter_map(|pair| pair.split_once(": ")).any(|(name, _)| request_field(name))
}

/// A key that only a request's record has (a route, a method, a source IP, a request id).
fn request_field(key: &str) -> bool {
    matches!(
        top_level_field(key),
        Some(Field::Route | Field::RouteKey | Field::Method | Field::Other | Field::Origin(OriginField::SourceIp))
    )
}

/// A JSON line: an application's (a status that is not an HTTP code), an access log's of a layout not
/// detected (a request's keys, or a status-like value under a key that names a status or a code), or
/// neither.
fn json_kind(line: &str) -> LineKind {
    #[derive(Default)]
    struct Keys {
        status: bool,
        request: bool,
    }
    impl Visit<'_> for Keys {
        fn scalar(&mut self, depth: u8, _: Option<&str>, key: &str, value: &str) {
            if depth == 0 && STATUS_KEYS.contains(&key) {
                self.status = true;
            }
            let lower = key.to_ascii_lowercase();
            self.request |= (depth == 0 && request_field(key))
                || ((lower.contains("status") || lower.contains("code")) && is_status_like(value));
        }
    }
    let mut keys = Keys::default();
    if !scan_whole(line, &mut keys) {
        // Cut short or broken: a record of a request (a line past the cap, a bad copy) or not.
        return if ACCESS_LOG_MARKS.iter().any(|m| line.contains(m)) {
            LineKind::UnknownAccessLog
        } else {
            LineKind::Other
        };
    }
    match (keys.request, keys.status) {
        (true, _) => LineKind::UnknownAccessLog,
        (false, true) => LineKind::ApplicationJson,
        (false, false) => LineKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_by_example() {
        let cases = [
            ("START RequestId: 8f5 Version: $LATEST", LineKind::LambdaLogs),
            ("2025-11-24T16:00:00.000Z\t8f5\tINFO\thello", LineKind::LambdaLogs),
            (r#"{"time":"2025-11-24T16:00:00.000Z","type":"platform.start","record":{}}"#, LineKind::LambdaLogs),
            (
                r#"203.0.113.9 - - [24/Nov/2025:16:00:00 +0000] "CONNECT $connect abc=" req-1"#,
                LineKind::WebSocketWithoutStatus,
            ),
            (r#"{"status":"info","message":"hello"}"#, LineKind::ApplicationJson),
            (r#"{"requestId":"r","code":"403","resourcePath":"/a"}"#, LineKind::UnknownAccessLog),
            (r#"{"rid":"x","code":"403"}"#, LineKind::UnknownAccessLog),
            ("id1 GET /a 403", LineKind::UnknownAccessLog),
            (r#"{"level":"warn","msg":"slow","ms":250}"#, LineKind::Other),
            ("requestId: r, code: 403, resourcePath: /a", LineKind::UnknownAccessLog),
            ("r|GET|/a|HTTP/1.1|four-oh-three", LineKind::UnknownAccessLog),
            (r#"{"level":"warn","msg":"slow"}"#, LineKind::Other),
            ("hello world", LineKind::Other),
            ("Error: boom, cause: disk", LineKind::Other),
            (crate::ingest::decode::OVERSIZED_LINE, LineKind::TooLong),
        ];
        for (line, kind) in cases {
            assert_eq!(LineKind::of(line), kind, "{line}");
        }
    }
}
