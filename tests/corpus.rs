//! The third-party and documentation corpus in `tests/fixtures/` (provenance: `PROVENANCE.md`), read
//! through the CLI as a user would: `apigw-4xx analyze --json FILE`. Every count below was read by hand
//! from the file (the comment says how); none was copied from the program's output.

mod support;

use assert_cmd::Command;
use std::io::Write;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn analyze(name: &str) -> serde_json::Value {
    analyze_path(&fixture(name), &[]).0
}

/// `apigw-4xx analyze --json --min-requests 1 ARGS PATH`: the JSON and stderr of a successful run.
fn analyze_path(path: &Path, args: &[&str]) -> (serde_json::Value, String) {
    let out = Command::cargo_bin("apigw-4xx")
        .unwrap()
        .args(["analyze", "--json", "--min-requests", "1"])
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{}: {err}", path.display());
    (serde_json::from_slice(&out.stdout).unwrap(), err)
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

// ---- Issue 17: the formats deploy tools write, and the files the AWS CLI and console hand users ----

/// What a run must give, every number counted by hand from the file.
struct Want<'a> {
    requests: u64,
    client_errors: u64,
    by_status: &'a [(u16, u64)],
    unparsed: u64,
    /// With `--window 5`: `(start, requests, client errors)` of each window, in order.
    windows: &'a [(&'a str, u64, u64)],
}

/// Asserts a run's counts and its 5-minute windows; returns stderr (the warnings).
fn assert_shape(path: &Path, want: &Want<'_>) -> String {
    let label = path.display();
    let (v, err) = analyze_path(path, &["--window", "5"]);
    assert_eq!(v["requests"], want.requests, "{label}: requests");
    assert_eq!(v["client_errors"], want.client_errors, "{label}: client_errors");
    let statuses: serde_json::Map<String, serde_json::Value> =
        want.by_status.iter().map(|(s, n)| (s.to_string(), (*n).into())).collect();
    assert_eq!(v["by_status"], serde_json::Value::Object(statuses), "{label}: by_status");
    assert_eq!(v["unparsed"], want.unparsed, "{label}: unparsed");
    let windows: Vec<(String, u64, u64)> = v["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["start"].as_str().unwrap().to_string(),
                w["requests"].as_u64().unwrap(),
                w["client_errors"].as_u64().unwrap(),
            )
        })
        .collect();
    let want_windows: Vec<(String, u64, u64)> = want.windows.iter().map(|(s, r, c)| (s.to_string(), *r, *c)).collect();
    assert_eq!(windows, want_windows, "{label}: windows");
    err
}

/// The fixture's lines wrapped as each input carries them, each written to a file: a decoded
/// subscription payload, the Lambda's subscription event, `filter-log-events` JSON (as the AWS CLI
/// prints it) and the plain file gzip'd. `times` are the events' timestamps, one per line.
fn wrapped(name: &str, times: &[&str]) -> (tempfile::TempDir, Vec<PathBuf>) {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), times.len(), "{name}: a timestamp per line");
    let events: Vec<(i64, String)> = lines
        .iter()
        .zip(times)
        .map(|(l, t)| (apigw_4xx::base::time::parse_iso8601(t).unwrap(), l.to_string()))
        .collect();
    let payload = support::payload("/aws/apigateway/corpus", &events);
    let filter_log_events = serde_json::json!({
        "events": events.iter().enumerate().map(|(i, (t, m))| serde_json::json!({
            "logStreamName": "7f3c2a9e0b1d4e5f8a6b9c0d1e2f3a4b", "timestamp": t, "message": m,
            "ingestionTime": t + 500, "eventId": format!("{:056}", i)
        })).collect::<Vec<_>>(),
        "searchedLogStreams": [],
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("payload.json", payload.clone().into_bytes()),
        ("event.json", support::subscription_event(&payload).into_bytes()),
        ("filter-log-events.json", serde_json::to_string_pretty(&filter_log_events).unwrap().into_bytes()),
        ("plain.gz", gz.finish().unwrap()),
    ];
    let paths = files
        .into_iter()
        .map(|(file, bytes)| {
            let p = dir.path().join(file);
            std::fs::write(&p, bytes).unwrap();
            p
        })
        .collect();
    (dir, paths)
}

/// Asserts `want` for the plain fixture and for every wrapper of its lines.
fn assert_every_wrapper(name: &str, times: &[&str], want: &Want<'_>) {
    assert_shape(&fixture(name), want);
    let (_dir, paths) = wrapped(name, times);
    for p in paths {
        assert_shape(&p, want);
    }
}

/// Issue 17, item 1: the Serverless Framework's REST default, `key: value, …`.
#[test]
fn serverless_rest_default_key_value() {
    // 6 lines; `status:` 404 (Mozilla's line), 200, 400, 200, 403, 429. Windows by `requestTime`
    // (the events' timestamps in the wrappers are the same times): 14:02:30, 14:03:10, 14:04:55 in
    // 14:00; 14:06:02, 14:07:30, 14:09:59 in 14:05.
    let times = [
        "2019-11-27T14:02:30Z",
        "2019-11-27T14:03:10Z",
        "2019-11-27T14:04:55Z",
        "2019-11-27T14:06:02Z",
        "2019-11-27T14:07:30Z",
        "2019-11-27T14:09:59Z",
    ];
    let want = Want {
        requests: 6,
        client_errors: 4,
        by_status: &[(200, 2), (400, 1), (403, 1), (404, 1), (429, 1)],
        unparsed: 0,
        windows: &[("2019-11-27T14:00:00Z", 3, 2), ("2019-11-27T14:05:00Z", 3, 2)],
    };
    assert_every_wrapper("serverless-rest-keyvalue.log", &times, &want);
    // Routes of the 4xx: /sub/{proxy+}, /v1/account/login (400, 429), /v1/profile (403).
    let v = analyze("serverless-rest-keyvalue.log");
    let want = [("/v1/account/login", 2), ("/sub/{proxy+}", 1), ("/v1/profile", 1)].map(|(r, n)| (r.to_string(), n));
    assert_eq!(routes(&v), want);
}

/// Issue 17, item 1: the Serverless Framework's HTTP API default is JSON with `routeKey`.
#[test]
fn serverless_http_api_default() {
    // 4 lines: 200 (16:00:00), 404 (16:01:30), 400 (16:04:59), 404 `$default` (16:05:00).
    let times = ["2025-11-24T16:00:00Z", "2025-11-24T16:01:30Z", "2025-11-24T16:04:59Z", "2025-11-24T16:05:00Z"];
    let want = Want {
        requests: 4,
        client_errors: 3,
        by_status: &[(200, 1), (400, 1), (404, 2)],
        unparsed: 0,
        windows: &[("2025-11-24T16:00:00Z", 3, 2), ("2025-11-24T16:05:00Z", 1, 1)],
    };
    assert_every_wrapper("serverless-http-api-default.log", &times, &want);
}

/// Issue 17, item 1: the Serverless Framework's WebSocket default logs no `$context.status`: nothing
/// to count, and the warning says why instead of offering `--log-format`.
#[test]
fn serverless_websocket_default_is_named_not_counted() {
    // 4 lines (CONNECT, 2 MESSAGE, DISCONNECT): unparsed, and with no record, in no window.
    let err = assert_shape(
        &fixture("serverless-websocket-default.log"),
        &Want { requests: 0, client_errors: 0, by_status: &[], unparsed: 4, windows: &[] },
    );
    assert!(err.contains("WebSocket access-log lines without $context.status"), "{err}");
    assert!(!err.contains("--log-format"), "{err}");
}

/// Issue 17, item 1: AWS CDK's `AccessLogFormat.jsonWithStandardFields()`.
#[test]
fn cdk_json_with_standard_fields() {
    // 4 lines: 200 (16:00:10), 401 (16:02), 403 (16:03), 200 (16:07).
    let times = ["2025-11-24T16:00:10Z", "2025-11-24T16:02:00Z", "2025-11-24T16:03:00Z", "2025-11-24T16:07:00Z"];
    let want = Want {
        requests: 4,
        client_errors: 2,
        by_status: &[(200, 2), (401, 1), (403, 1)],
        unparsed: 0,
        windows: &[("2025-11-24T16:00:00Z", 3, 2), ("2025-11-24T16:05:00Z", 1, 0)],
    };
    assert_every_wrapper("cdk-json-standard-fields.log", &times, &want);
}

/// Issue 17, item 1: AWS CDK's `AccessLogFormat.clf()`.
#[test]
fn cdk_clf() {
    // 4 lines: 200 (16:00:10), 404 (16:01), 404 (16:06), 500 (16:09).
    let times = ["2025-11-24T16:00:10Z", "2025-11-24T16:01:00Z", "2025-11-24T16:06:00Z", "2025-11-24T16:09:00Z"];
    let want = Want {
        requests: 4,
        client_errors: 2,
        by_status: &[(200, 1), (404, 2), (500, 1)],
        unparsed: 0,
        windows: &[("2025-11-24T16:00:00Z", 2, 1), ("2025-11-24T16:05:00Z", 2, 1)],
    };
    assert_every_wrapper("cdk-clf.log", &times, &want);
}

/// Issue 17, item 5: JSON with a bare `-` where a number was expected (`"integrationLatency": -`).
#[test]
fn json_with_bare_dashes() {
    // 5 lines: 200, 403 (`-`), 200, 429 (`-`), 401 (`-`); requestTimeEpoch 16:00, 16:01, 16:04, 16:05, 16:07.
    let times = [
        "2025-11-24T16:00:00Z",
        "2025-11-24T16:01:00Z",
        "2025-11-24T16:04:00Z",
        "2025-11-24T16:05:00Z",
        "2025-11-24T16:07:00Z",
    ];
    let want = Want {
        requests: 5,
        client_errors: 3,
        by_status: &[(200, 2), (401, 1), (403, 1), (429, 1)],
        unparsed: 0,
        windows: &[("2025-11-24T16:00:00Z", 3, 1), ("2025-11-24T16:05:00Z", 2, 2)],
    };
    assert_every_wrapper("json-bare-dash-values.log", &times, &want);
}

/// The five requests of the `aws logs tail` fixtures: 200 and 400 at 16:00, 404 at 16:03:30, 200 at
/// 16:05, 403 at 16:07:45 (each line's own timestamp gives the window).
const TAIL: Want<'static> = Want {
    requests: 5,
    client_errors: 3,
    by_status: &[(200, 2), (400, 1), (403, 1), (404, 1)],
    unparsed: 0,
    windows: &[("2025-11-24T16:00:00Z", 3, 2), ("2025-11-24T16:05:00Z", 2, 1)],
};

/// Issue 17, item 2: `aws logs tail` in each `--format`, plain and gzip'd.
#[test]
fn aws_logs_tail_every_format() {
    for name in ["aws-logs-tail-detailed.txt", "aws-logs-tail-short.txt", "aws-logs-tail-json.txt"] {
        assert_shape(&fixture(name), &TAIL);
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("tail.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&std::fs::read(fixture(name)).unwrap()).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert_shape(&gz, &TAIL);
    }
}

/// Issue 17, item 2: `aws logs tail --follow` on a terminal: colours and the `^C` that ended it.
#[test]
fn aws_logs_tail_follow_noise() {
    // 8 execution lines in colour, two requests: 200 (16:10:00.180) and 429 (16:10:05.003); then `^C`.
    let err = assert_shape(
        &fixture("aws-logs-tail-follow-color.txt"),
        &Want {
            requests: 2,
            client_errors: 1,
            by_status: &[(200, 1), (429, 1)],
            unparsed: 0,
            windows: &[("2025-11-24T16:10:00Z", 2, 1)],
        },
    );
    assert!(err.is_empty(), "no warning: {err}");
}

/// The four rows of the Logs Insights fixtures (CLF messages): 403 at 16:06, 404 at 16:04, 403 at
/// 16:01, 200 at 16:00:05 (the rows' `@timestamp`).
const INSIGHTS: Want<'static> = Want {
    requests: 4,
    client_errors: 3,
    by_status: &[(200, 1), (403, 2), (404, 1)],
    unparsed: 0,
    windows: &[("2025-11-24T16:00:00Z", 3, 2), ("2025-11-24T16:05:00Z", 1, 1)],
};

/// Issue 17, item 3: `aws logs get-query-results` JSON and the console's "Download table (JSON)".
#[test]
fn logs_insights_results_as_users_save_them() {
    for name in ["logs-insights-get-query-results.json", "logs-insights-console-download.json"] {
        assert_shape(&fixture(name), &INSIGHTS);
    }
    // The AWS CLI's own example: three rows whose messages are no access-log lines, at 06:10.
    assert_shape(
        &fixture("aws-cli-get-query-results-example.json"),
        &Want {
            requests: 0,
            client_errors: 0,
            by_status: &[],
            unparsed: 3,
            windows: &[("2024-05-19T06:10:00Z", 0, 0)],
        },
    );
}

/// Issue 17, item 3: aggregated results (`stats count(*) by status`) are refused with one line that
/// says so and what to export instead.
#[test]
fn aggregated_logs_insights_results_are_refused() {
    let out = Command::cargo_bin("apigw-4xx")
        .unwrap()
        .arg("analyze")
        .arg(fixture("logs-insights-aggregated.json"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("without @message (fields status, count(*))") && err.contains("fields @timestamp, @message"),
        "{err}"
    );
}

/// Issue 17, item 4: a console copy: the timestamp alone on its line, then the record pretty-printed.
#[test]
fn pretty_printed_record_after_its_timestamp() {
    // One record, "status": "400", at 2023-10-27T14:40:57.744+01:00 (13:40:57Z).
    assert_shape(
        &fixture("moj-console-copy-pretty-json.txt"),
        &Want {
            requests: 1,
            client_errors: 1,
            by_status: &[(400, 1)],
            unparsed: 0,
            windows: &[("2023-10-27T13:40:00Z", 1, 1)],
        },
    );
    // Three records, each after its timestamp (local time, +01:00): 201 at 16:00:10Z, 401 at 16:04Z,
    // 401 at 16:09:59.999Z.
    assert_shape(
        &fixture("pretty-json-records-timestamped.txt"),
        &Want {
            requests: 3,
            client_errors: 2,
            by_status: &[(201, 1), (401, 2)],
            unparsed: 0,
            windows: &[("2025-11-24T16:00:00Z", 2, 1), ("2025-11-24T16:05:00Z", 1, 1)],
        },
    );
}

/// Issue 17, item 4: pretty-printed records one after the other (2 spaces, 4 spaces, tabs), plain
/// and gzip'd.
#[test]
fn pretty_printed_records() {
    // 4 records: 200 (16:00), 403 MISSING_AUTHENTICATION_TOKEN (16:02), 404 (16:05:30), 429 (16:06),
    // windows by their requestTime.
    let want = Want {
        requests: 4,
        client_errors: 3,
        by_status: &[(200, 1), (403, 1), (404, 1), (429, 1)],
        unparsed: 0,
        windows: &[("2025-11-24T16:00:00Z", 2, 1), ("2025-11-24T16:05:00Z", 2, 2)],
    };
    assert_shape(&fixture("pretty-json-records.log"), &want);
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("pretty.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&std::fs::read(fixture("pretty-json-records.log")).unwrap()).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    assert_shape(&gz, &want);
    let v = analyze("pretty-json-records.log");
    assert_eq!(v["evidence"]["response_types"][0]["value"], "MISSING_AUTHENTICATION_TOKEN");
}

/// Issue 17, item 7: the console's test-invoke date places the request in a window.
#[test]
fn test_invoke_lines_count_in_windows() {
    // `Tue Jun 23 05:56:11 UTC 2020 : Method completed with status: 403`.
    assert_shape(
        &fixture("execution-test-invoke.txt"),
        &Want {
            requests: 1,
            client_errors: 1,
            by_status: &[(403, 1)],
            unparsed: 0,
            windows: &[("2020-06-23T05:55:00Z", 1, 1)],
        },
    );
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
