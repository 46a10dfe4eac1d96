//! `key: value` pairs separated by `, `: the Serverless Framework's default REST access-log format
//! (`requestId: …, ip: …, caller: …, user: …, requestTime: 27/Nov/2019:14:02:30 +0000, httpMethod:
//! DELETE, resourcePath: /sub/{proxy+}, status: 404, protocol: HTTP/1.1, responseLength: 43`), and
//! any line of that family: names are read as JSON keys are ([`top_level_field`]), so the status may
//! sit under any of the status names the JSON reader knows.
//!
//! A `, ` separates pairs only when a name and `: ` follow it: a value may hold `, ` itself (a user
//! agent, an error message) and `:` (the CLF request time).

use super::{record, AccessRecord, RawFields};
use crate::base::fields::top_level_field;

/// Fewer pairs than this and a line is not read as this family: `Error: boom` is an application's
/// message, not a request.
const MIN_PAIRS: usize = 2;

/// The length of the name `line` starts with, when a `: ` follows it (a letter or `_`, then
/// letters, digits, `_`, `.` or `-`).
fn name_len(line: &[u8]) -> Option<usize> {
    let first = *line.first()?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    let len = line.iter().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')).count();
    (line.get(len..len + 2) == Some(b": ")).then_some(len)
}

/// Whether a line starts as this family does (`name: `): a cheap test before [`parse`].
pub(super) fn starts_like(line: &str) -> bool {
    name_len(line.as_bytes()).is_some()
}

/// Reads a `key: value, …` line; `None` when it is not one, or has no valid status.
pub(super) fn parse(line: &str) -> Option<AccessRecord<'_>> {
    let b = line.as_bytes();
    let mut f = RawFields::default();
    let (mut at, mut pairs) = (0, 0);
    while at < b.len() {
        let len = name_len(&b[at..])?;
        let name = &line[at..at + len];
        let start = at + len + 2;
        let end = value_end(b, start);
        pairs += 1;
        if let Some(slot) = top_level_field(name).and_then(|field| f.slot(field)) {
            if slot.is_none() {
                *slot = Some(line[start..end].trim());
            }
        }
        at = end + 2;
    }
    if pairs < MIN_PAIRS {
        return None;
    }
    record(f)
}

/// Where the value that starts at `start` ends: at the first `, ` followed by a name and `: `, or
/// at the end of the line.
fn value_end(b: &[u8], start: usize) -> usize {
    let mut from = start;
    while let Some(k) = memchr::memchr(b',', &b[from..]) {
        let comma = from + k;
        if b.get(comma + 1) == Some(&b' ') && name_len(&b[comma + 2..]).is_some() {
            return comma;
        }
        from = comma + 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Serverless Framework's REST default, as the Mozilla FxA production log quoted in
    /// mozilla-services/foxsec-pipeline's tests holds it.
    const SERVERLESS: &str = "requestId: c2c284c1-af50-457c-a0f8-5116dc789211, ip: 54.68.203.164, caller: -, user: -, requestTime: 27/Nov/2019:14:02:30 +0000, httpMethod: DELETE, resourcePath: /sub/{proxy+}, status: 404, protocol: HTTP/1.1, responseLength: 43";

    #[test]
    fn serverless_default_gives_status_method_route_time_and_ip() {
        let r = parse(SERVERLESS).expect("parsed");
        assert_eq!((r.status, r.method, r.route), (404, Some("DELETE"), Some("/sub/{proxy+}")));
        assert_eq!(r.request_time, Some("27/Nov/2019:14:02:30 +0000"));
        assert_eq!((r.origin.source_ip, r.origin.caller), (Some("54.68.203.164"), None));
    }

    #[test]
    fn a_comma_inside_a_value_is_not_a_separator() {
        let line =
            "requestId: r, userAgent: Mozilla/5.0 (X11, Linux x86_64), error: Forbidden, try again, statusCode: 403";
        let r = parse(line).expect("parsed");
        assert_eq!(r.status, 403);
        assert_eq!(r.origin.user_agent, Some("Mozilla/5.0 (X11, Linux x86_64)"));
    }

    #[test]
    fn not_this_family() {
        for line in [
            "status: 404",
            "requestId: r, status: -",
            "requestId: r, ip: 1.2.3.4",
            "requestId:r, status:404",
            "Method completed with status: 403",
        ] {
            assert_eq!(parse(line), None, "{line}");
        }
        assert!(!starts_like("Method completed with status: 403"));
        assert!(!starts_like("2001:db8::1 - - [x] \"GET / HTTP/1.1\" 200"));
        assert!(starts_like(SERVERLESS));
    }
}
