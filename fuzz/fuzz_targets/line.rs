//! The access-log line parsers on arbitrary text: detection, and a compiled template. Must never
//! panic; a status, when found, is always 100..=599.
#![no_main]

use apigw_4xx::access_log::{parse_detected, Line, Template};
use libfuzzer_sys::fuzz_target;
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
});
