//! Writes the sample events in `events/` (run `make events`): realistic Lambda payloads for the
//! function and the CLI, built by the same fixture generator the tests use.
//!
//! Timeline, one log group, 5-minute windows from 2025-11-24T16:00Z: `ok` (16:00), `elevated`
//! (16:05), `high` (16:10, the reference example's mix), `recovered` (16:15), plus a control message,
//! an HTTP API batch and a Kinesis event (CLF lines, throttling), each for a log group of its own.

#[path = "../tests/support/mod.rs"]
mod support;

use support::*;

const GROUP: &str = "/aws/apigateway/demo-api-access";

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "events".into());
    let at = |minute: i64| T0 + minute * 60_000;
    let rest = |mix: &[(u16, u64)], minute: i64| {
        subscription_event(&payload(GROUP, &events(Format::ConsoleJson, &statuses(mix), at(minute), 50)))
    };
    let reference_small: Vec<(u16, u64)> = REFERENCE_MIX.iter().map(|(s, n)| (*s, n / 5)).collect();
    let http = payload(
        "/aws/apigateway/demo-http-api-access",
        &events(Format::HttpApi, &statuses(&[(200, 300), (404, 120), (401, 20)]), at(20), 100),
    );
    let files = [
        ("ok.json", rest(&[(200, 950), (201, 20), (404, 20), (400, 10)], 0)),
        ("elevated.json", rest(&[(200, 830), (401, 120), (403, 50)], 5)),
        ("high.json", rest(&reference_small, 10)),
        ("recovered.json", rest(&[(200, 980), (404, 20)], 15)),
        ("control.json", control_event()),
        ("http-api.json", subscription_event(&http)),
        (
            "kinesis.json",
            kinesis_event(&[payload(
                "/aws/apigateway/demo-kinesis-access",
                &events(Format::Clf, &statuses(&[(200, 400), (429, 80), (403, 20)]), at(20), 100),
            )]),
        ),
    ];
    for (name, body) in files {
        std::fs::write(format!("{dir}/{name}"), body + "\n")?;
    }
    Ok(())
}
