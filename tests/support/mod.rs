//! Fixture generator shared by the integration tests, the benchmarks and `examples/gen_events.rs`:
//! access-log lines in every supported format, subscription payloads and events, built in code.
#![allow(dead_code)]

use apigw_4xx::function::config::Config;
use apigw_4xx::function::IncomingEvent;
use apigw_4xx::ingest::decode::encode_data;
use serde_json::json;

/// The reference example's traffic: 15,000 requests, 4,680 of them 4xx.
pub const REFERENCE_MIX: [(u16, u64); 4] = [(200, 10_320), (403, 2_891), (400, 1_204), (404, 585)];

/// The reference finding, exactly.
pub const REFERENCE_TEXT: &str = "HIGH Elevated Client Error Rate (4xx)

31.2% of API Gateway requests returned 4xx errors (4,680 of 15,000 requests). Breakdown: 403 Forbidden (2,891), 400 Bad Request (1,204), 404 Not Found (585).

Recommendation: Review API request validation rules and model schemas. Check authentication/authorization configuration. The high 403 count suggests API key or IAM policy misconfiguration.";

/// 2025-11-24T16:00:00Z, the start of a 5-minute window.
pub const T0: i64 = 1_764_000_000_000;

/// A window start half an hour ago: recent enough for CloudWatch to accept metrics for it.
pub fn recent_window() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    apigw_4xx::base::time::window_start(now - 30 * 60_000, 5)
}

/// Access-log formats the generator writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The console's JSON example (status quoted).
    ConsoleJson,
    /// JSON with the bare minimum: request id and status only, as the reference data carries.
    MinimalJson,
    /// The console's CLF, current form.
    Clf,
    /// CLF, older form (space before the quote).
    ClfOld,
    /// The console's XML.
    Xml,
    /// The console's CSV.
    Csv,
    /// HTTP API JSON with routeKey.
    HttpApi,
    /// REST execution log, final line.
    Execution,
}

/// Every format.
pub const FORMATS: [Format; 8] = [
    Format::ConsoleJson,
    Format::MinimalJson,
    Format::Clf,
    Format::ClfOld,
    Format::Xml,
    Format::Csv,
    Format::HttpApi,
    Format::Execution,
];

const ROUTES: [&str; 5] = ["/v1/orders", "/v1/orders/{id}", "/v1/users/{id}", "/v1/login", "/v2/search"];
const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];

/// One access-log line for request number `i` answered with `status`.
pub fn line(format: Format, i: u64, status: u16) -> String {
    let route = ROUTES[(i % 5) as usize];
    let method = METHODS[(i / 5 % 4) as usize];
    let id = format!("{:08x}-0000-4000-8000-{:012x}", i, i * 7919);
    let ip = format!("203.0.113.{}", i % 256);
    let time = "24/Nov/2025:16:00:00 +0000";
    match format {
        Format::ConsoleJson => format!(
            r#"{{ "requestId":"{id}", "ip": "{ip}", "caller":"-", "user":"-", "requestTime":"{time}", "httpMethod":"{method}", "resourcePath":"{route}", "status":"{status}", "protocol":"HTTP/1.1", "responseLength":"{}" }}"#,
            20 + i % 900
        ),
        Format::MinimalJson => format!(r#"{{"requestId":"{id}","status":"{status}"}}"#),
        Format::Clf => format!(r#"{ip} - - [{time}]"{method} {route} HTTP/1.1" {status} 42 {id} ext{i}="#),
        Format::ClfOld => format!(r#"{ip} - - [{time}] "{method} {route} HTTP/1.1" {status} 42 {id}"#),
        Format::Xml => format!(
            r#"<request id="{id}"> <ip>{ip}</ip> <caller>-</caller> <user>-</user> <requestTime>{time}</requestTime> <httpMethod>{method}</httpMethod> <resourcePath>{route}</resourcePath> <status>{status}</status> <protocol>HTTP/1.1</protocol> <responseLength>42</responseLength> </request>"#
        ),
        Format::Csv => format!("{ip},-,-,{time},{method},{route},HTTP/1.1,{status},42,{id}"),
        Format::HttpApi => format!(
            r#"{{"requestId":"{id}","ip":"{ip}","requestTime":"{time}","routeKey":"{method} {route}","status":"{status}","protocol":"HTTP/1.1","responseLength":"42","integrationStatus":"200"}}"#
        ),
        Format::Execution => format!("({id}) Method completed with status: {status}"),
    }
}

/// Statuses in a deterministic, well-mixed order with exactly the given counts.
pub fn statuses(mix: &[(u16, u64)]) -> Vec<u16> {
    let mut v: Vec<u16> = mix.iter().flat_map(|(s, n)| std::iter::repeat_n(*s, *n as usize)).collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..v.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        v.swap(i, (state % (i as u64 + 1)) as usize);
    }
    v
}

/// `(timestamp, message)` log events, one every `step_ms` from `t0`.
pub fn events(format: Format, statuses: &[u16], t0: i64, step_ms: i64) -> Vec<(i64, String)> {
    statuses.iter().enumerate().map(|(i, s)| (t0 + i as i64 * step_ms, line(format, i as u64, *s))).collect()
}

/// 200 JSON lines from `t0`, one a millisecond, half 404: their routes five values of 60 KiB each,
/// for the bound on an alert's size.
pub fn huge_route_lines(t0: i64) -> Vec<(i64, String)> {
    (0..200)
        .map(|i| {
            let route = format!("/{}{}", i % 5, "r".repeat(60 * 1024));
            let st = if i % 2 == 0 { 404 } else { 200 };
            (t0 + i, format!(r#"{{"requestId":"{i}","httpMethod":"GET","resourcePath":"{route}","status":"{st}"}}"#))
        })
        .collect()
}

/// A decoded DATA_MESSAGE payload.
pub fn payload(log_group: &str, events: &[(i64, String)]) -> String {
    json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": "0123456789abcdef",
        "subscriptionFilters": ["apigw-4xx"],
        "logEvents": events.iter().enumerate().map(|(i, (t, m))| json!({
            "id": format!("{}", 37_000_000_000_000_000u64 + i as u64), "timestamp": t, "message": m
        })).collect::<Vec<_>>(),
    })
    .to_string()
}

/// A subscription event (the Lambda payload) around a decoded payload.
pub fn subscription_event(payload_json: &str) -> String {
    json!({ "awslogs": { "data": encode_data(payload_json.as_bytes()) } }).to_string()
}

/// A CONTROL_MESSAGE subscription event.
pub fn control_event() -> String {
    subscription_event(
        &json!({
            "messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
            "subscriptionFilters": [],
            "logEvents": [{"id": "", "timestamp": T0, "message": "CWL CONTROL MESSAGE: Checking health of destination Lambda function."}]
        })
        .to_string(),
    )
}

/// A Kinesis Data Streams event whose records each carry one gzip'd payload.
pub fn kinesis_event(payloads: &[String]) -> String {
    json!({ "Records": payloads.iter().enumerate().map(|(i, p)| json!({
        "kinesis": { "kinesisSchemaVersion": "1.0", "partitionKey": "k", "sequenceNumber": format!("{i}"),
                     "data": encode_data(p.as_bytes()), "approximateArrivalTimestamp": 1.7640000e9 },
        "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": format!("shardId-000000000000:{i}"),
        "eventName": "aws:kinesis:record", "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/apigw-logs"
    })).collect::<Vec<_>>() })
    .to_string()
}

/// The reference example as one subscription event of minimal JSON lines.
pub fn reference_event() -> String {
    let evs = events(Format::MinimalJson, &statuses(&REFERENCE_MIX), T0, 10);
    subscription_event(&payload("/aws/apigateway/prod-access", &evs))
}

pub mod apigateway;
pub mod emulator;
pub mod env;

/// The alert topic of functions whose alerts never reach AWS (in-memory stores, SDK mocks).
pub const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:alerts";

/// The function's configuration from `vars` (name, value), as its environment would hold them;
/// `ALERT_TOPIC_ARN` is [`TOPIC_ARN`] unless `vars` names another. Panics when it is refused.
pub fn config(vars: &[(&str, &str)]) -> Config {
    Config::from_lookup(|k| {
        let set = vars.iter().find(|(name, _)| *name == k).map(|(_, value)| value.to_string());
        set.or_else(|| (k == "ALERT_TOPIC_ARN").then(|| TOPIC_ARN.to_string()))
    })
    .unwrap_or_else(|e| panic!("configuration {vars:?}: {e}"))
}

/// An event as the function receives it, from its JSON.
pub fn incoming(json: &str) -> IncomingEvent {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("not an event the function takes ({e}): {json:.200}"))
}

/// A subscription event of `log_group` carrying `events`, as the function receives it.
pub fn subscription(log_group: &str, events: &[(i64, String)]) -> IncomingEvent {
    incoming(&subscription_event(&payload(log_group, events)))
}

/// `awslogs.data` of a gzip bomb: `members` concatenated gzip members of 8 MiB of spaces each
/// (256 members: 2 GiB of inner data in about 2 MB of base64).
pub fn gzip_bomb_data(members: usize) -> String {
    use base64::Engine;
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b' '; 8 << 20]).expect("in memory");
    let member = gz.finish().expect("in memory");
    base64::engine::general_purpose::STANDARD.encode(member.repeat(members))
}

/// A subscription event for `log_group` whose one log event carries `message`.
pub fn event_with_message(log_group: &str, message: &str) -> String {
    subscription_event(&payload(log_group, &[(recent_window(), message.to_string())]))
}
