//! Inputs read right (issue 8, items 3, 4 and 6): Firehose layouts (JSON objects and payloads back
//! to back, one gzip member per record, data-transformation events), unknown JSON refused with its
//! keys named, and the caps that bound memory (line length, windows). One test per misread.

mod support;

use assert_cmd::Command;
use base64::Engine;
use flate2::{write::GzEncoder, Compression};
use std::io::Write;
use support::*;

fn cli() -> Command {
    Command::cargo_bin("apigw-4xx").unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// Runs `analyze --json` over `input` (stdin); returns the JSON and stderr.
fn analyze(args: &[&str], input: Vec<u8>) -> (serde_json::Value, String) {
    let out = cli().arg("analyze").args(args).arg("--json").write_stdin(input).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    (serde_json::from_slice(&out.stdout).unwrap(), err)
}

fn counts(v: &serde_json::Value) -> (u64, u64, u64) {
    (v["requests"].as_u64().unwrap(), v["client_errors"].as_u64().unwrap(), v["unparsed"].as_u64().unwrap())
}

/// Runs `analyze` over a file named `name`; returns (exit code, stderr).
fn refused(name: &str, content: &[u8]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, content).unwrap();
    let out = cli().arg("analyze").arg(&p).output().unwrap();
    assert!(out.stdout.is_empty(), "no finding on refused input");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

const MIX: [(u16, u64); 3] = [(200, 70), (403, 20), (404, 10)];

fn lines(format: Format) -> Vec<String> {
    events(format, &statuses(&MIX), T0, 1000).into_iter().map(|(_, l)| l).collect()
}

#[test]
fn access_log_objects_back_to_back_are_each_counted() {
    for format in [Format::ConsoleJson, Format::MinimalJson, Format::HttpApi] {
        let objects = lines(format);
        // Firehose without a delimiter, with one, and with both on one line.
        for joined in [
            objects.concat(),
            objects.join("\n"),
            objects.join(" "),
            objects[..50].concat() + "\n" + &objects[50..].join("\n"),
        ] {
            let (v, _) = analyze(&[], joined.into_bytes());
            assert_eq!(counts(&v), (100, 30, 0), "{format:?}");
        }
    }
}

#[test]
fn firehose_s3_object_of_gzip_members_is_read_whole() {
    // Each record its own gzip member, as Firehose writes CloudWatch Logs records: like zcat.
    let objects = lines(Format::ConsoleJson);
    let members: Vec<u8> = objects.iter().flat_map(|o| gzip(o.as_bytes())).collect();
    let (v, _) = analyze(&[], members);
    assert_eq!(counts(&v), (100, 30, 0));
    // Plain lines, a member per record with its newline.
    let members: Vec<u8> = lines(Format::Clf).iter().flat_map(|l| gzip(format!("{l}\n").as_bytes())).collect();
    let (v, _) = analyze(&[], members);
    assert_eq!(counts(&v), (100, 30, 0));
}

#[test]
fn subscription_payloads_back_to_back_plain_or_gzip_members() {
    let payloads: Vec<String> = statuses(&MIX)
        .chunks(25)
        .enumerate()
        .map(|(i, s)| payload("/aws/apigateway/prod", &events(Format::ConsoleJson, s, T0 + i as i64 * 60_000, 10)))
        .collect();
    for joined in [payloads.concat(), payloads.join("\n")] {
        let (v, _) = analyze(&[], joined.clone().into_bytes());
        assert_eq!(counts(&v), (100, 30, 0));
        let (v, _) = analyze(&[], gzip(joined.as_bytes()));
        assert_eq!(counts(&v), (100, 30, 0));
    }
    // The CloudWatch Logs → Firehose → S3 layout: each record (a payload) gzip'd on its own.
    let members: Vec<u8> = payloads.iter().flat_map(|p| gzip(p.as_bytes())).collect();
    let (v, _) = analyze(&[], members);
    assert_eq!(counts(&v), (100, 30, 0));
    // Subscription events back to back, too.
    let events: String = payloads.iter().map(|p| subscription_event(p)).collect();
    let (v, _) = analyze(&[], events.into_bytes());
    assert_eq!(counts(&v), (100, 30, 0));
}

#[test]
fn firehose_data_transformation_event_is_decoded() {
    let payloads: Vec<String> =
        statuses(&MIX).chunks(50).map(|s| payload("/aws/apigateway/prod", &events(Format::Clf, s, T0, 10))).collect();
    let control = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;
    let records: Vec<serde_json::Value> = payloads
        .iter()
        .map(String::as_str)
        .chain([control])
        .enumerate()
        .map(|(i, p)| {
            // CloudWatch Logs gzips each record; base64 of that is the record's data.
            let data = base64::engine::general_purpose::STANDARD.encode(gzip(p.as_bytes()));
            serde_json::json!({"recordId": format!("{i:056}"), "approximateArrivalTimestamp": 1_764_000_000_000u64, "data": data})
        })
        .collect();
    let event = serde_json::json!({
        "invocationId": "00540a87-5050-496a-84e4-e7d92bbaf5e2",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/apigw-logs",
        "region": "us-east-1",
        "records": records,
    });
    let (v, _) = analyze(&[], event.to_string().into_bytes());
    assert_eq!(counts(&v), (100, 30, 0), "every record's payload, the control message ignored");
}

#[test]
fn unknown_json_documents_are_refused_naming_their_keys() {
    let pretty_unknown = "{\n  \"version\": \"0\",\n  \"detail\": {\"x\": 1}\n}\n";
    let cases: [(&str, &str, &str); 6] = [
        ("records.json", r#"{"Records":[{"foo":1}]}"#, "top-level keys Records:"),
        ("s3.json", r#"{"Records":[{"eventSource":"aws:s3","s3":{}}],"foo":1}"#, "top-level keys Records, foo:"),
        ("pretty.json", pretty_unknown, "top-level keys version, detail:"),
        ("array.json", r#"{"items":[{"status":"200"}],"next":null}"#, "top-level keys items, next:"),
        (
            "firehose.json",
            r#"{"invocationId":"i","records":[{"recordId":"r"}]}"#,
            "top-level keys invocationId, records:",
        ),
        ("list.json", r#"[{"a":1}]"#, "top-level keys a:"),
    ];
    for (name, content, keys) in cases {
        let (code, err) = refused(name, content.as_bytes());
        assert_eq!(code, Some(1), "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: one line: {err}");
        assert!(
            err.contains(name) && err.contains("unrecognised JSON document") && err.contains(keys),
            "{name}: {err}"
        );
        assert!(err.contains("expected a CloudWatch Logs subscription event, Kinesis or Firehose event"), "{err}");
    }
}

#[test]
fn a_one_line_object_of_unknown_keys_is_an_access_log_line() {
    // Access-log JSON has whatever keys the stage's template names: read as lines, not refused.
    let (v, err) = analyze(&[], br#"{"rid":"x","code":"403"}"#.to_vec());
    assert_eq!(counts(&v).2, 1, "unparsed, with the --log-format hint");
    assert!(err.contains("--log-format"), "{err}");
    let (v, _) = analyze(
        &["--log-format", r#"{"rid":"$context.requestId","code":"$context.status"}"#],
        br#"{"rid":"x","code":"403"}"#.to_vec(),
    );
    assert_eq!(counts(&v), (1, 1, 0));
}

#[test]
fn lines_past_the_cap_are_unparsed_and_reading_goes_on() {
    let long = "x".repeat(300 * 1024);
    let ok = lines(Format::Clf).join("\n");
    // A plain line, a JSON line and a line with no newline at the end, each past a 256 KiB cap.
    let input = format!("{long}\n{ok}\n{{\"status\":\"403\",\"pad\":\"{long}\"}}\n{ok}\n{long}");
    let (v, err) = analyze(&["--max-line-kib", "256"], input.clone().into_bytes());
    assert_eq!(counts(&v), (200, 60, 3), "{err}");
    // Under the default cap of 1 MiB, the JSON line is a request.
    let (v, _) = analyze(&[], input.into_bytes());
    assert_eq!(counts(&v), (201, 61, 2));
    // A message in a subscription event, past the cap.
    let event = format!(
        "[{},{}]",
        event_with_message("g", &format!(r#"{{"status":"403","pad":"{long}"}}"#)),
        event_with_message("g", r#"{"status":"403"}"#)
    );
    let (v, _) = analyze(&["--max-line-kib", "256"], event.into_bytes());
    assert_eq!(counts(&v), (1, 1, 1));
    // In a run of objects with no newline: only the long object is lost.
    let run = format!(
        "{}{{\"status\":\"200\",\"pad\":\"{long}\"}}{}",
        lines(Format::MinimalJson).concat(),
        lines(Format::MinimalJson).concat()
    );
    let (v, _) = analyze(&["--max-line-kib", "256"], run.into_bytes());
    assert_eq!(counts(&v), (200, 60, 1));
    cli().args(["analyze", "--max-line-kib", "0"]).write_stdin("").assert().code(2);
}

#[test]
fn a_filter_log_events_document_past_the_cap_skips_unknown_fields_unheld() {
    // An unknown field of any size inside a document is streamed past.
    // Pretty-printed (as the AWS CLI writes it): a document, whatever its first key.
    let doc = format!(
        "{{\n{}\n}}",
        format_args!(
            r#""junk":"{}","events":[{{"timestamp":1,"message":"{{\"status\":\"404\"}}","extra":"{}"}}],"searchedLogStreams":[]"#,
            "y".repeat(2 << 20),
            "z".repeat(2 << 20)
        )
    );
    let (v, _) = analyze(&["--max-line-kib", "64"], doc.into_bytes());
    assert_eq!(counts(&v), (1, 1, 0));
}

#[test]
fn windows_past_the_cap_fold_into_overall_with_a_warning() {
    let n = apigw_4xx::count::tally::MAX_BUCKETS + 5;
    // One CLF line a minute: each its own 1-minute window.
    let mut input = String::new();
    for m in 0..n {
        let t = apigw_4xx::base::time::format_iso8601(T0 + m as i64 * 60_000);
        input.push_str(&format!("{t} {{\"status\":\"200\"}}\n"));
    }
    let (v, err) = analyze(&["--window", "1"], input.into_bytes());
    assert_eq!(v["requests"].as_u64(), Some(n as u64), "every line counted overall");
    assert_eq!(v["windows"].as_array().map(Vec::len), Some(apigw_4xx::count::tally::MAX_BUCKETS));
    assert!(err.contains("5 lines fall in windows past the first 40,000"), "{err}");
}

#[test]
fn multi_member_gzip_payload_counts_every_member() {
    // awslogs.data whose gzip has two identical members (a one-shot inflater sized by the trailer
    // would read only the first): every member must count, as with zcat.
    let p = payload("g", &events(Format::MinimalJson, &statuses(&MIX), T0, 10));
    let mut gz = gzip(p.as_bytes());
    gz.extend(gzip(p.as_bytes()));
    let data = base64::engine::general_purpose::STANDARD.encode(gz);
    let (v, _) = analyze(&[], format!(r#"{{"awslogs":{{"data":"{data}"}}}}"#).into_bytes());
    assert_eq!(counts(&v), (200, 60, 0));
}

/// Issue 17: JSON records pretty-printed at random and concatenated count as their one-line forms do.
mod pretty_printed {
    use apigw_4xx::access_log::LineParser;
    use apigw_4xx::count::analysis::Analyzer;
    use apigw_4xx::count::tally::Tally;
    use apigw_4xx::ingest::decode::Limits;
    use apigw_4xx::ingest::input::read_input;
    use proptest::prelude::*;

    /// One token of a record as its one-line form writes it.
    type Tokens = Vec<String>;

    /// A JSON access-log record's tokens: a request id (every template logs one), a status quoted,
    /// bare or missing a value, and any of a method, a route, a request time, a bare latency that may
    /// be `-`, and nested `identity` and `error` objects, in any order.
    fn record() -> impl Strategy<Value = Tokens> {
        let text = "[a-zA-Z0-9 /{}:._-]{0,12}";
        let status = prop_oneof![
            (100u16..600).prop_map(|s| format!("\"{s}\"")),
            (100u16..600).prop_map(|s| s.to_string()),
            Just("-".to_string()),
            Just("\"info\"".to_string()),
        ];
        let time = (0u32..600).prop_map(|s| format!("\"24/Nov/2025:16:{:02}:{:02} +0000\"", s / 60, s % 60));
        let optional = prop::collection::vec(
            prop_oneof![
                prop::sample::select(vec!["GET", "POST", "DELETE"])
                    .prop_map(|m| vec![("httpMethod", format!("\"{m}\""))]),
                "/[a-z{}/]{0,10}".prop_map(|r| vec![("resourcePath", format!("\"{r}\""))]),
                time.prop_map(|t| vec![("requestTime", t)]),
                prop_oneof![Just("-".to_string()), (0u32..900).prop_map(|n| n.to_string())]
                    .prop_map(|l| vec![("integrationLatency", l)]),
                (text, text).prop_map(|(ip, ua)| vec![(
                    "identity",
                    format!("{{\"sourceIp\":\"{ip}\",\"userAgent\":\"{ua}\"}}")
                )]),
                prop::sample::select(vec!["MISSING_AUTHENTICATION_TOKEN", "-"])
                    .prop_map(|t| vec![("error", format!("{{\"responseType\":\"{t}\",\"message\":\"x\"}}"))]),
            ],
            0..6,
        );
        (text, status, optional).prop_flat_map(|(id, status, optional)| {
            let mut pairs = vec![("requestId", format!("\"{id}\"")), ("status", status)];
            pairs.extend(optional.into_iter().flatten());
            Just(pairs).prop_shuffle().prop_map(|pairs| {
                let mut tokens = vec!["{".to_string()];
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        tokens.push(",".into());
                    }
                    tokens.push(format!("\"{k}\""));
                    tokens.push(":".into());
                    tokens.extend(split_object(v));
                }
                tokens.push("}".into());
                tokens
            })
        })
    }

    /// A nested object's text as tokens (its strings hold no `,` or `:` that are not inside quotes).
    fn split_object(v: &str) -> Tokens {
        if !v.starts_with('{') {
            return vec![v.to_string()];
        }
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut in_string = false;
        for c in v.chars() {
            match c {
                '"' => {
                    cur.push(c);
                    in_string = !in_string;
                }
                '{' | '}' | ',' | ':' if !in_string => {
                    if !cur.is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                    out.push(c.to_string());
                }
                _ => cur.push(c),
            }
        }
        out
    }

    /// White space a pretty-printer may put between two tokens: none, a space, or a line break and
    /// an indentation of spaces or tabs.
    fn gap() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just(" ".to_string()),
            (0usize..9, any::<bool>()).prop_map(|(n, tabs)| format!("\n{}", if tabs { "\t" } else { " " }.repeat(n))),
        ]
    }

    fn tally(input: &str) -> Tally {
        let mut a = Analyzer::new(LineParser::Auto, Some(5));
        read_input(input.as_bytes(), Limits::default(), &mut a).expect("read");
        a.merged()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn pretty_records_count_as_their_one_line_forms(
            records in prop::collection::vec(record(), 1..6),
            gaps in prop::collection::vec(gap(), 200),
            separators in prop::collection::vec(gap(), 6),
        ) {
            let one_line: String = records.iter().map(|r| r.concat() + "\n").collect();
            let mut pretty = String::new();
            let mut g = gaps.iter().cycle();
            for (i, r) in records.iter().enumerate() {
                if i > 0 {
                    pretty.push_str(&separators[i]);
                }
                for (k, token) in r.iter().enumerate() {
                    if k > 0 {
                        pretty.push_str(g.next().unwrap());
                    }
                    pretty.push_str(token);
                }
            }
            let (want, got) = (tally(&one_line), tally(&pretty));
            prop_assert_eq!(&got.overall, &want.overall, "{}", pretty);
            prop_assert_eq!(&got.evidence, &want.evidence, "{}", pretty);
            prop_assert_eq!(&got.buckets, &want.buckets, "{}", pretty);
            prop_assert_eq!(want.overall.requests() + want.overall.unparsed, records.len() as u64);
        }
    }
}

/// Issue 17, item 6: a `--log-format` file holding a JSON template pretty-printed counts what its
/// one-line form counts; a template that matches nothing says so and what the lines read as without it.
#[test]
fn a_pretty_printed_json_template_counts_as_its_one_line_form() {
    let one_line = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath","status":$context.status,"integrationLatency":$context.integrationLatency}"#;
    let pretty = "{\n  \"requestId\": \"$context.requestId\",\n  \"ip\": \"$context.identity.sourceIp\",\n  \"httpMethod\": \"$context.httpMethod\",\n  \"resourcePath\": \"$context.resourcePath\",\n  \"status\": $context.status,\n  \"integrationLatency\": $context.integrationLatency\n}\n";
    let lines: String = statuses(&MIX)
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let latency = if *s == 200 { "31" } else { "-" };
            format!(r#"{{"requestId":"r{i}","ip":"203.0.113.9","httpMethod":"GET","resourcePath":"/v1/a","status":{s},"integrationLatency":{latency}}}"#) + "\n"
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    for (name, template) in [("one-line.json", one_line), ("pretty.json", pretty)] {
        let path = dir.path().join(name);
        std::fs::write(&path, template).unwrap();
        let (v, err) = analyze(&["--log-format", path.to_str().unwrap()], lines.clone().into_bytes());
        assert_eq!(counts(&v), (100, 30, 0), "{name}: {err}");
        results.push(v);
    }
    assert_eq!(results[0], results[1], "the same report, evidence included");
    // The template of another stage: it says it matched nothing, and what the lines are without it.
    let other = dir.path().join("other.json");
    std::fs::write(&other, "{\n  \"rid\": \"$context.requestId\",\n  \"code\": \"$context.status\"\n}\n").unwrap();
    let (v, err) = analyze(&["--log-format", other.to_str().unwrap()], lines.into_bytes());
    assert_eq!(counts(&v), (0, 0, 100));
    assert!(err.contains("the --log-format template matched none of the 100 lines"), "{err}");
    assert!(err.contains("without --log-format they read as JSON") && !err.contains("pass --log-format"), "{err}");
}
