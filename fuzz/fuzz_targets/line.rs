//! The access-log line parsers on arbitrary text: detection, and a compiled template. Must never
//! panic; a status, when found, is always 100..=599. The line read still escaped (as it lies in a
//! log event's `message`) must give the record the unescaped line gives, or none.
#![no_main]

use apigw_4xx::access_log::{parse_detected, Line, LineParser, Template};
use libfuzzer_sys::fuzz_target;
use std::fmt::Write;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    static T: OnceLock<Template> = OnceLock::new();
    let t = T.get_or_init(|| {
        Template::compile(r#"{"id":"$context.requestId","m":"$context.httpMethod","s":$context.status,"r":"$context.routeKey"}"#)
            .expect("template compiles")
    });
    for parsed in [parse_detected(line), t.parse(line)] {
        if let Line::Request(r) = parsed {
            assert!((100..=599).contains(&r.status));
        }
    }
    if let Some(r) = LineParser::Auto.parse_escaped(&escaped(line)) {
        assert_eq!(parse_detected(line), Line::Request(r), "read escaped: {line:?}");
    }
});

/// `line` as a JSON string's contents, escaped as CloudWatch Logs writes a `message`.
fn escaped(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 16);
    for c in line.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}
