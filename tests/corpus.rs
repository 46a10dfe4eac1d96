//! The third-party and documentation corpus in `tests/fixtures/` (provenance: `PROVENANCE.md`), read
//! through the CLI as a user would: `apigw-4xx analyze --json FILE`. Every count below was read by hand
//! from the file (the comment says how); none was copied from the program's output.

use assert_cmd::Command;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn analyze(name: &str) -> serde_json::Value {
    let out = Command::cargo_bin("apigw-4xx")
        .unwrap()
        .args(["analyze", "--json", "--min-requests", "1"])
        .arg(fixture(name))
        .output()
        .unwrap();
    assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Asserts requests, client errors, the statuses (`(code, count)`) and unparsed lines.
fn assert_counts(name: &str, requests: u64, client_errors: u64, by_status: &[(u16, u64)], unparsed: u64) {
    let v = analyze(name);
    assert_eq!(v["requests"], requests, "{name}: requests");
    assert_eq!(v["client_errors"], client_errors, "{name}: client_errors");
    let want: serde_json::Map<String, serde_json::Value> =
        by_status.iter().map(|(s, n)| (s.to_string(), (*n).into())).collect();
    assert_eq!(v["by_status"], serde_json::Value::Object(want), "{name}: by_status");
    assert_eq!(v["unparsed"], unparsed, "{name}: unparsed");
}

/// The evidence's routes, as listed.
fn routes(v: &serde_json::Value) -> Vec<(String, u64)> {
    v["evidence"]["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["value"].as_str().unwrap().to_string(), r["count"].as_u64().unwrap()))
        .collect()
}

// ---- Access logs, reproduced from the AWS documentation's console formats ----

#[test]
fn rest_clf_current() {
    // 7 lines; the status is the field after the quoted request: 200, 200, 403, 403, 404, 429, 200.
    assert_counts("aws-docs-rest-clf.log", 7, 4, &[(200, 3), (403, 2), (404, 1), (429, 1)], 0);
}

#[test]
fn rest_clf_older() {
    // 4 lines: 200, 404, 400, 200.
    assert_counts("aws-docs-rest-clf-older.log", 4, 2, &[(200, 2), (400, 1), (404, 1)], 0);
}

#[test]
fn rest_json() {
    // 5 lines, "status": 200, 400, 403, 200, 403.
    assert_counts("aws-docs-rest-json.log", 5, 3, &[(200, 2), (400, 1), (403, 2)], 0);
}

#[test]
fn rest_xml() {
    // 3 lines, <status>: 200, 415, 404.
    assert_counts("aws-docs-rest-xml.log", 3, 2, &[(200, 1), (404, 1), (415, 1)], 0);
}

#[test]
fn rest_csv() {
    // 5 lines, 8th column: 200, 401, 401, 200, 201.
    assert_counts("aws-docs-rest-csv.log", 5, 2, &[(200, 2), (201, 1), (401, 2)], 0);
}

#[test]
fn http_api_json() {
    // 4 lines: GET /pets 200, GET /pets/{petId} 404, POST /pets 401, $default 404.
    assert_counts("aws-docs-http-api-json.log", 4, 3, &[(200, 1), (401, 1), (404, 2)], 0);
    // Evidence over all 4xx: /pets/{petId} (404), /pets (401), $default (404), one each.
    let v = analyze("aws-docs-http-api-json.log");
    let want = [("$default", 1), ("/pets", 1), ("/pets/{petId}", 1)].map(|(r, n)| (r.to_string(), n));
    assert_eq!(routes(&v), want);
}

/// Issue 8: the HTTP API CLF preset gave `GET` (the route key's method) or `$default` as the route.
#[test]
fn http_api_clf_preset_routes() {
    // 5 lines: 200; 404 GET /pets/{petId}; 403 ANY /pets/{petId}; 404 $default; 404 GET /pets/{petId}.
    assert_counts("aws-docs-http-api-clf.log", 5, 4, &[(200, 1), (403, 1), (404, 3)], 0);
    // Evidence over all 4xx: the route /pets/{petId} three times (two 404, one 403 via `ANY`), the route
    // key $default once; never a method.
    let v = analyze("aws-docs-http-api-clf.log");
    assert_eq!(routes(&v), [("/pets/{petId}".to_string(), 3), ("$default".to_string(), 1)]);
}

// ---- REST execution logs ----

#[test]
fn execution_as_cloudwatch_holds_it() {
    // 22 lines, three requests, each ending in `Method completed with status:` 502, 429, 200;
    // the other 19 lines are execution steps: neither requests nor unparsed.
    assert_counts("execution-cloudwatch-prefixed.log", 3, 1, &[(200, 1), (429, 1), (502, 1)], 0);
}

/// Issue 8: the console's test-invoke form was unparsed.
#[test]
fn execution_test_invoke() {
    // 18 lines: a header, 16 steps, and `… : Method completed with status: 403`.
    assert_counts("execution-test-invoke.txt", 1, 1, &[(403, 1)], 0);
}

/// Issue 8: authorizer denials log no final line; a request that logs both is counted once.
#[test]
fn execution_authorizer_denials() {
    // Request 3323ffe5: completed 200. fd443056: `Unauthorized request` → 401. 0b9c1e2d: Deny policy,
    // `The client is not authorized to perform this operation.` → 403. 7e4d2c1b: `Unauthorized request`
    // and `Method completed with status: 401` → one 401.
    assert_counts("execution-authorizer-denials.log", 4, 3, &[(200, 1), (401, 2), (403, 1)], 0);
}

/// Issue 8: export text with its own timestamp (and id) stripped was unparsed.
#[test]
fn execution_export_stripped() {
    // 13 lines: `Method completed with status: 400`, `Unauthorized request: …` (401), `… status: 200`;
    // the other 10 are steps.
    assert_counts("execution-export-stripped.txt", 3, 2, &[(200, 1), (400, 1), (401, 1)], 0);
}

/// Issue 8: in export text, continuation lines of a multi-line message belong to the event before.
#[test]
fn execution_export_with_multi_line_messages() {
    // 57 lines, 34 starting with a timestamp; the other 23 continue the two `Endpoint request body after
    // transformations: {` messages. Two requests: `Method completed with status: 200` and `… 400`.
    assert_counts("serverless-aws-logs-parser-execution-export.log", 2, 1, &[(200, 1), (400, 1)], 0);
}

// ---- Envelopes ----

#[test]
fn subscription_event() {
    // awslogs.data decodes to 3 console-JSON lines: 200, 403, 400.
    assert_counts("subscription-event-rest-json.json", 3, 2, &[(200, 1), (400, 1), (403, 1)], 0);
}

#[test]
fn kinesis_event() {
    // Record 0: a DATA_MESSAGE with 3 HTTP API lines (200, 404, 429); record 1: a CONTROL_MESSAGE, ignored.
    assert_counts("kinesis-event-subscription.json", 3, 2, &[(200, 1), (404, 1), (429, 1)], 0);
}

#[test]
fn filter_log_events() {
    // events[].message: 3 HTTP API lines, 200, 404, 429.
    assert_counts("filter-log-events-http-api.json", 3, 2, &[(200, 1), (404, 1), (429, 1)], 0);
}

#[test]
fn export_task_object() {
    // gunzipped: 6 timestamped lines, REST 200, 403, 400 and HTTP API 200, 404, 429.
    assert_counts("export-task-000000.gz", 6, 4, &[(200, 2), (400, 1), (403, 1), (404, 1), (429, 1)], 0);
}

#[test]
fn logs_insights_csv() {
    // 4 rows of CLF: 200, 404, 403, 403.
    assert_counts("logs-insights-results.csv", 4, 3, &[(200, 1), (403, 2), (404, 1)], 0);
}

#[test]
fn firehose_transformation_event() {
    // records[0].data: the REST payload (200, 403, 400); records[1].data: the HTTP API payload (200, 404, 429).
    assert_counts("firehose-transformation-event.json", 6, 4, &[(200, 2), (400, 1), (403, 1), (404, 1), (429, 1)], 0);
}

#[test]
fn firehose_s3_object() {
    // Two gzip members, one payload each (the same two as the transformation event).
    assert_counts("firehose-s3-object.gz", 6, 4, &[(200, 2), (400, 1), (403, 1), (404, 1), (429, 1)], 0);
}

#[test]
fn concatenated_access_log_objects() {
    // Line 1: two objects back to back (200, 403); line 2: two more (404, 429).
    assert_counts("concatenated-access-log-objects.log", 4, 3, &[(200, 1), (403, 1), (404, 1), (429, 1)], 0);
}

// ---- Negative samples: logs that are not API Gateway requests count none ----

#[test]
fn lambda_sample_event_counts_no_requests() {
    // The documentation's sample event: two `[ERROR] … test message` lines.
    assert_counts("rust-runtime-cloudwatch-logs-event.json", 0, 0, &[], 2);
}

#[test]
fn lambda_function_logs_count_no_requests() {
    // 18 log events: 14 tab-separated application lines (some carrying JSON with "status":"debug"),
    // 2 `{"e":…}` metric lines, END and REPORT.
    assert_counts("datadog-forwarder-lambda-payload.json", 0, 0, &[], 18);
}

#[test]
fn a_status_that_is_not_a_number_is_not_a_request() {
    // One application line, {"status":"info",…}.
    assert_counts("datadog-forwarder-status-info-payload.json", 0, 0, &[], 1);
}

#[test]
fn lambda_export_counts_no_requests() {
    // 7 timestamped events (START, a multi-line error dump, an errorMessage line, END, REPORT, START, END);
    // the indented lines continue the dump.
    assert_counts("serverless-aws-logs-parser-lambda-export.log", 0, 0, &[], 7);
}

#[test]
fn lambda_platform_json_counts_no_requests() {
    // 5 JSON lines: platform.initStart, platform.start, an application line ("statusCode":"ok"),
    // platform.runtimeDone and platform.report (their "status":"success" is nested under "record").
    assert_counts("lambda-platform-json.log", 0, 0, &[], 5);
}

/// Every file in the corpus has a test here, and a provenance entry.
#[test]
fn every_fixture_is_tested_and_sourced() {
    let this = include_str!("corpus.rs");
    let provenance = std::fs::read_to_string(fixture("PROVENANCE.md")).unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(fixture("")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name == "PROVENANCE.md" {
            continue;
        }
        assert!(this.contains(&format!("\"{name}\"")), "{name} has no test");
        assert!(provenance.contains(&format!("`{name}`")), "{name} has no provenance entry");
        checked += 1;
    }
    assert!(checked >= 20, "{checked} fixtures in tests/fixtures: the corpus is missing");
}
