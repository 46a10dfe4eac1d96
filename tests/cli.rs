//! The `apigw-4xx analyze` CLI, end to end: every input shape and line format, the thresholds, the
//! options, and every kind of bad input.

mod support;

use assert_cmd::Command;
use flate2::{write::GzEncoder, Compression};
use predicates::prelude::*;
use std::io::Write;
use support::*;

fn cli() -> Command {
    Command::cargo_bin("apigw-4xx").unwrap()
}

fn file(dir: &tempfile::TempDir, name: &str, content: &[u8]) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn json_of(args: &[&str], stdin: &str) -> serde_json::Value {
    let out = cli().arg("analyze").args(args).arg("--json").write_stdin(stdin).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn reference_example_from_a_subscription_event() {
    cli().arg("analyze").write_stdin(reference_event()).assert().success().stdout(format!("{REFERENCE_TEXT}\n"));
}

#[test]
fn every_input_shape_gives_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let evs = events(Format::MinimalJson, &statuses(&REFERENCE_MIX), T0, 10);
    let payload = payload("/aws/apigateway/prod-access", &evs);
    let (half_a, half_b) = evs.split_at(7000);
    let array = format!(
        "[{},{}]",
        subscription_event(&support::payload("g", half_a)),
        subscription_event(&support::payload("g", half_b))
    );
    let filter = serde_json::json!({"events": evs.iter().map(|(t, m)| serde_json::json!({
        "logStreamName": "s", "timestamp": t, "message": m, "ingestionTime": t + 5, "eventId": "e"
    })).collect::<Vec<_>>(), "searchedLogStreams": []});
    let export: String = evs
        .iter()
        .map(|(t, m)| format!("{} {m}\n", apigw_4xx::base::time::format_iso8601(*t).replace('Z', ".000Z")))
        .collect();
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(["@timestamp", "@message"]).unwrap();
    for (t, m) in &evs {
        csv.write_record([apigw_4xx::base::time::format_iso8601(*t).replace('T', " ").replace('Z', ".000"), m.clone()])
            .unwrap();
    }
    let plain: String = evs.iter().map(|(_, m)| format!("{m}\n")).collect();
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        ("event.json", reference_event().into_bytes()),
        ("array.json", array.into_bytes()),
        ("payload.json", payload.into_bytes()),
        ("filter.json", serde_json::to_vec_pretty(&filter).unwrap()),
        ("export.gz", gzip(export.as_bytes())),
        ("insights.csv", csv.into_inner().unwrap()),
        ("plain.log", plain.into_bytes()),
        ("event.json.gz", gzip(reference_event().as_bytes())),
        ("kinesis.json", kinesis_event(&[support::payload("g", half_a), support::payload("g", half_b)]).into_bytes()),
    ];
    for (name, content) in inputs {
        let p = file(&dir, name, &content);
        cli().arg("analyze").arg(&p).assert().success().stdout(format!("{REFERENCE_TEXT}\n"));
    }
}

#[test]
fn every_line_format_is_detected() {
    let mix = statuses(&[(200, 70), (403, 20), (404, 10)]);
    for format in FORMATS {
        let lines: String = mix.iter().enumerate().map(|(i, s)| line(format, i as u64, *s) + "\n").collect();
        let v = json_of(&[], &lines);
        assert_eq!((v["requests"].as_u64(), v["client_errors"].as_u64()), (Some(100), Some(30)), "{format:?}");
        assert_eq!(v["severity"], "HIGH", "{format:?}");
        assert_eq!(v["unparsed"], 0, "{format:?}");
    }
}

#[test]
fn execution_log_counts_only_final_lines() {
    let lines = "(a) Method request path: {}\n(a) Method completed with status: 403\n(b) Endpoint response body before transformations: {}\n(b) Method completed with status: 200\n";
    let v = json_of(&["--min-requests", "1"], lines);
    assert_eq!(
        (v["requests"].as_u64(), v["client_errors"].as_u64(), v["unparsed"].as_u64()),
        (Some(2), Some(1), Some(0))
    );
}

fn mix_lines(ok: u64, bad: u64) -> String {
    statuses(&[(200, ok), (403, bad)]).iter().enumerate().map(|(i, s)| line(Format::Clf, i as u64, *s) + "\n").collect()
}

#[test]
fn boundaries_are_strict() {
    for (ok, bad, want) in [(90, 10, "OK"), (89, 11, "ELEVATED"), (75, 25, "ELEVATED"), (74, 26, "HIGH")] {
        assert_eq!(json_of(&[], &mix_lines(ok, bad))["severity"], want, "{bad}%");
    }
    assert_eq!(
        json_of(&["--elevated-percent", "12.5", "--high-percent", "30"], &mix_lines(87, 13))["severity"],
        "ELEVATED"
    );
    assert_eq!(json_of(&["--elevated-percent", "12.5"], &mix_lines(875, 125))["severity"], "OK", "exactly 12.5%");
}

#[test]
fn minimum_volume() {
    assert_eq!(json_of(&[], &mix_lines(1, 1))["severity"], "INSUFFICIENT_DATA");
    assert_eq!(json_of(&[], &mix_lines(49, 50))["severity"], "INSUFFICIENT_DATA");
    assert_eq!(json_of(&["--min-requests", "2"], &mix_lines(1, 1))["severity"], "HIGH");
}

#[test]
fn control_messages_are_ignored() {
    let input = format!("[{},{}]", control_event(), reference_event());
    cli().arg("analyze").write_stdin(input).assert().success().stdout(format!("{REFERENCE_TEXT}\n"));
    let v = json_of(&[], &control_event());
    assert_eq!((v["requests"].as_u64(), v["unparsed"].as_u64()), (Some(0), Some(0)));
}

#[test]
fn json_output_contract() {
    let v = json_of(&[], &reference_event());
    assert_eq!(v["requests"], 15_000);
    assert_eq!(v["client_errors"], 4_680);
    assert_eq!(v["rate_percent"], "31.2");
    assert!((v["rate"].as_f64().unwrap() - 0.312).abs() < 1e-9);
    assert_eq!(v["severity"], "HIGH");
    assert_eq!(v["by_status"]["403"], 2_891);
    assert_eq!(v["by_status"]["200"], 10_320);
    assert_eq!(v["dominant_status"], "403");
    assert_eq!(v["unparsed"], 0);
    assert!(v.get("windows").is_none());
}

#[test]
fn windows_by_event_time() {
    let mut evs = events(Format::MinimalJson, &statuses(&[(200, 100)]), T0, 100);
    evs.extend(events(Format::MinimalJson, &statuses(&[(200, 50), (429, 50)]), T0 + 300_000, 100));
    let v = json_of(&["--window", "5"], &subscription_event(&payload("g", &evs)));
    let w = v["windows"].as_array().unwrap();
    assert_eq!(w.len(), 2);
    assert_eq!((w[0]["start"].as_str(), w[0]["severity"].as_str()), (Some("2025-11-24T16:00:00Z"), Some("OK")));
    assert_eq!((w[1]["end"].as_str(), w[1]["severity"].as_str()), (Some("2025-11-24T16:10:00Z"), Some("HIGH")));
    assert_eq!(v["severity"], "ELEVATED", "overall 50 of 200 is exactly 25%: not HIGH");
}

#[test]
fn fail_on_exits_3_only_when_reached() {
    cli().args(["analyze", "--fail-on", "high"]).write_stdin(reference_event()).assert().code(3);
    cli().args(["analyze", "--fail-on", "elevated"]).write_stdin(mix_lines(89, 11)).assert().code(3);
    cli().args(["analyze", "--fail-on", "high"]).write_stdin(mix_lines(89, 11)).assert().code(0);
}

#[test]
fn ignore_status_leaves_codes_out_of_the_rate() {
    let lines: String = statuses(&[(200, 80), (404, 15), (403, 5)])
        .iter()
        .enumerate()
        .map(|(i, s)| line(Format::Clf, i as u64, *s) + "\n")
        .collect();
    cli().args(["analyze", "--ignore-status", "404"]).write_stdin(lines.clone()).assert().success().stdout(
        predicate::str::contains("(5 of 85 requests). Breakdown: 403 Forbidden (5), 404 Not Found (15, ignored)."),
    );
    assert_eq!(json_of(&["--ignore-status", "404"], &lines)["ignored"]["404"], 15);
}

#[test]
fn log_format_template_and_file() {
    let template = r#"$context.requestId|$context.httpMethod|$context.resourcePath|$context.status"#;
    let lines: String = (0..100).map(|i| format!("id{i}|GET|/a|{}\n", if i < 30 { 401 } else { 200 })).collect();
    assert_eq!(json_of(&["--log-format", template], &lines)["client_errors"], 30);
    let dir = tempfile::tempdir().unwrap();
    let f = file(&dir, "format.txt", template.as_bytes());
    assert_eq!(json_of(&["--log-format", f.to_str().unwrap()], &lines)["severity"], "HIGH");
    cli()
        .args(["analyze", "--log-format", "$context.requestId"])
        .write_stdin("x")
        .assert()
        .failure()
        .stderr(predicate::str::contains("no $context.status"));
}

#[test]
fn mostly_unparsed_input_says_so() {
    cli()
        .arg("analyze")
        .write_stdin("id1 GET /a 403\nid2 GET /a 200\n")
        .assert()
        .success()
        .stderr(predicate::str::contains("2 of 2 lines did not parse").and(predicate::str::contains("--log-format")))
        .stdout(predicate::str::contains("Unparsed lines (not counted as requests): 2."));
}

#[test]
fn evidence_sharpens_the_recommendation() {
    let lines: String = (0..100)
        .map(|i| {
            let (m, s) = if i < 40 { ("OPTIONS", 403) } else { ("GET", 200) };
            format!(r#"{{"requestId":"{i}","httpMethod":"{m}","resourcePath":"/v1/orders","status":"{s}"}}"#) + "\n"
        })
        .collect();
    cli().arg("analyze").write_stdin(lines).assert().success().stdout(
        predicate::str::contains("CORS preflight").and(predicate::str::contains("4xx by method: OPTIONS (40).")),
    );
}

/// Each bad input: non-zero exit, one line on stderr naming the file and the stage.
#[test]
fn bad_input_fails_with_one_line_naming_file_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = apigw_4xx::ingest::decode::encode_data(b"{}");
    let gz = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(apigw_4xx::ingest::decode::encode_data(
                payload("g", &events(Format::Clf, &[200; 50], T0, 1)).as_bytes(),
            ))
            .unwrap()
    };
    let truncated = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&gz[..gz.len() / 2])
    };
    let bomb = apigw_4xx::ingest::decode::encode_data(&vec![b' '; 3 * 1024 * 1024]);
    let cases: Vec<(&str, String, &str)> = vec![
        ("b64.json", r#"{"awslogs":{"data":"@@@not base64@@@"}}"#.into(), "not valid base64"),
        ("trunc.json", format!(r#"{{"awslogs":{{"data":"{truncated}"}}}}"#), "gzip data is corrupt or truncated"),
        (
            "notjson.json",
            format!(r#"{{"awslogs":{{"data":"{}"}}}}"#, apigw_4xx::ingest::decode::encode_data(b"hello")),
            "not valid JSON",
        ),
        ("shape.json", format!(r#"{{"awslogs":{{"data":"{good}"}}}}"#), "unexpected JSON shape"),
        ("bomb.json", format!(r#"{{"awslogs":{{"data":"{bomb}"}}}}"#), "exceeds the cap"),
        ("broken.json", r#"{"events":[{"message":"x""#.into(), "not valid JSON"),
    ];
    for (name, content, expect) in cases {
        let p = file(&dir, name, content.as_bytes());
        let out = cli().args(["analyze", "--max-inner-mib", "2"]).arg(&p).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(name) && err.contains(expect), "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
        assert!(out.stdout.is_empty(), "{name}: no finding on bad input");
    }
    let out = cli().args(["analyze", "/no/such/file.json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file.json"));
    cli().args(["analyze", "--window", "0"]).assert().code(2);
    cli()
        .args(["analyze", "--elevated-percent", "30"])
        .write_stdin("")
        .assert()
        .failure()
        .stderr(predicate::str::contains("must be below"));
}

/// The rows of docs/robustness.md that the CLI answers (the decode-stage rows are above).
#[test]
fn robustness_table_cli() {
    let dir = tempfile::tempdir().unwrap();
    // Gzip bomb: 2 GiB of inner data in ~2 MB, stopped at the 64 MiB cap.
    let bomb = gzip_bomb_data(256);
    assert!(bomb.len() < 4 << 20, "{}", bomb.len());
    let p = file(&dir, "bomb.json", format!(r#"{{"awslogs":{{"data":"{bomb}"}}}}"#).as_bytes());
    let out = cli().arg("analyze").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exceeds the cap of 67108864 bytes"));

    // A 300 KB line: unparsed when junk, parsed when it is a valid line with a huge field.
    let junk = "x".repeat(300 * 1024);
    let huge = format!(r#"{{"requestId":"r","status":"403","userAgent":"{junk}"}}"#);
    let v = json_of(
        &["--min-requests", "1"],
        &format!("[{},{}]", event_with_message("g", &junk), event_with_message("g", &huge)),
    );
    assert_eq!(
        (v["requests"].as_u64(), v["client_errors"].as_u64(), v["unparsed"].as_u64()),
        (Some(1), Some(1), Some(1))
    );

    // Binary junk: counted as unparsed lines, never as requests, never a crash.
    let mut junk_bytes: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    junk_bytes.retain(|b| *b != b'{' && *b != b'[' && *b != 0x1f);
    let p = file(&dir, "junk.bin", &junk_bytes);
    let out = cli().args(["analyze", "--json"]).arg(&p).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["requests"], 0);
    assert!(v["unparsed"].as_u64().unwrap() > 0);

    // Status `-`, `abc`, `999`: unparsed.
    let lines = ["-", "abc", "999"].map(|s| format!(r#"{{"requestId":"r","status":"{s}"}}"#)).join("\n");
    let v = json_of(&[], &lines);
    assert_eq!((v["requests"].as_u64(), v["unparsed"].as_u64()), (Some(0), Some(3)));

    // Empty logEvents: nothing counted, not an error.
    let empty = subscription_event(&payload("g", &[]));
    let v = json_of(&[], &empty);
    assert_eq!((v["requests"].as_u64(), v["severity"].as_str()), (Some(0), Some("INSUFFICIENT_DATA")));

    // Deeply nested JSON: a clear shape error, no stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let p = file(&dir, "deep.json", deep.as_bytes());
    let out = cli().arg("analyze").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unexpected JSON shape"));
}

#[test]
fn plain_lines_are_windowed_by_their_request_time() {
    // No event timestamps: each format's own $context.requestTime (or requestTimeEpoch) places the line.
    let at = |minute: u32| format!("24/Nov/2025:16:{minute:02}:00 +0000");
    let mut lines = String::new();
    for i in 0..100 {
        let (minute, status) = if i < 50 { (1, 200) } else { (7, 403) };
        let line = match i % 4 {
            0 => format!(r#"{{"requestId":"{i}","requestTime":"{}","status":"{status}"}}"#, at(minute)),
            1 => format!(r#"1.2.3.4 - - [{}]"GET /a HTTP/1.1" {status} 1 r{i}"#, at(minute)),
            2 => format!("1.2.3.4,-,-,{},GET,/a,HTTP/1.1,{status},1,r{i}", at(minute)),
            _ => format!(
                r#"{{"requestId":"{i}","requestTimeEpoch":"{}","status":"{status}"}}"#,
                1_764_000_000 + minute * 60
            ),
        };
        lines += &line;
        lines.push('\n');
    }
    let v = json_of(&["--window", "5", "--min-requests", "10"], &lines);
    let w = v["windows"].as_array().unwrap();
    assert_eq!(w.len(), 2, "{v}");
    assert_eq!((w[0]["start"].as_str(), w[0]["requests"].as_u64()), (Some("2025-11-24T16:00:00Z"), Some(50)));
    assert_eq!((w[1]["start"].as_str(), w[1]["severity"].as_str()), (Some("2025-11-24T16:05:00Z"), Some("HIGH")));
}

/// An S3 export copied to disk: `<prefix>/<task id>/<stream>/000000.gz`, with the permission-check
/// object beside it. Read as a directory, on every core or on one: the same finding.
#[test]
fn a_directory_is_read_as_an_s3_export() {
    let dir = tempfile::tempdir().unwrap();
    let evs = events(Format::ConsoleJson, &statuses(&REFERENCE_MIX), T0, 10);
    let root = dir.path().join("exportedlogs");
    for (i, chunk) in evs.chunks(1_000).enumerate() {
        let text: String = chunk
            .iter()
            .map(|(t, m)| format!("{} {m}\n", apigw_4xx::base::time::format_iso8601(*t).replace('Z', ".000Z")))
            .collect();
        let stream = root.join("0f1e2d3c-task").join(format!("stream-{}", i % 4));
        std::fs::create_dir_all(&stream).unwrap();
        std::fs::write(stream.join(format!("{:06}.gz", i / 4)), gzip(text.as_bytes())).unwrap();
    }
    std::fs::write(root.join("aws-logs-write-test"), "Permission Check Successful").unwrap();
    let text = cli().arg("analyze").arg(&root).assert().success().get_output().stdout.clone();
    let text = String::from_utf8(text).unwrap();
    assert!(text.starts_with(REFERENCE_TEXT), "{text}");
    assert!(text.contains("4xx by method:"), "evidence from the console JSON: {text}");
    let one_core = cli().args(["analyze", "--jobs", "1"]).arg(&root).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&one_core.stdout), text, "one thread reads it the same");
    let json = cli().args(["analyze", "--json", "--window", "5"]).arg(&root).output().unwrap();
    let serial = cli().args(["analyze", "--json", "--window", "5", "--jobs", "1"]).arg(&root).output().unwrap();
    assert_eq!(json.stdout, serial.stdout);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!((v["requests"].as_u64(), v["unparsed"].as_u64()), (Some(15_000), Some(0)), "write-test skipped");

    let empty = dir.path().join("empty/task");
    std::fs::create_dir_all(&empty).unwrap();
    let out = cli().arg("analyze").arg(dir.path().join("empty")).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("empty: no files in this directory") && err.lines().count() == 1, "{err}");
}

/// I/O errors: one line, the OS's reason said once (it used to repeat "Is a directory").
#[test]
fn io_errors_are_one_line_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let f = file(&dir, "plain.log", b"x\n");
    let cases = [
        (f.join("below-a-file"), "Not a directory (os error 20)"),
        // Opens, then fails to read: the read error's path.
        (std::path::PathBuf::from("/proc/self/mem"), "Input/output error (os error 5)"),
    ];
    for (path, reason) in cases {
        let out = cli().arg("analyze").arg(&path).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(err.matches(reason).count(), 1, "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.starts_with(&format!("error: {}: ", path.display())), "{err}");
    }
}

#[test]
fn log_group_options_need_each_other() {
    for args in [
        &["--log-group", "g"][..],
        &["--since", "1h"],
        &["--end", "2026-11-25T10:00:00Z", "--log-group", "g", "--since", "1h"],
        &["--log-group", "g", "--since", "1h", "file.log"],
    ] {
        let out = cli().arg("analyze").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // A value the CLI checks itself is bad usage too, as clap's own checks are (`--window 0`).
    for (args, says) in [
        (&["--log-group", "g", "--since", "soon"][..], "error: --since soon: expected a duration"),
        (&["--log-group", "g", "--start", "yesterday"], "error: --start yesterday: expected ISO-8601"),
        (&["--log-group", "g", "--start", "1764000000000", "--end", "1763999999999"], "error: --start must be before"),
        (&["--window", "0"], "error: invalid value '0' for '--window <MINUTES>'"),
        (&["--log-group", "g"], "error: --log-group needs --since DURATION or --start TIME"),
    ] {
        let out = cli().arg("analyze").args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with(says) && err.trim_end().lines().count() == 1, "{args:?}: {err}");
    }
}

/// Runs `command` with a terminal (pty) for stdin, stdout and stderr, feeding it `input`; returns
/// everything the terminal showed. `None` where util-linux `script` is missing.
fn on_a_terminal(command: &str, input: &[u8]) -> Option<String> {
    let script = std::process::Command::new("script").arg("--version").output();
    if !script.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: util-linux `script` is not installed");
        return None;
    }
    let out = Command::new("script").args(["-qec", command, "/dev/null"]).write_stdin(input).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn bin() -> String {
    assert_cmd::cargo::cargo_bin("apigw-4xx").display().to_string()
}

/// With a terminal on stdin and no files, the CLI says what it waits for, then reads on.
#[test]
fn a_terminal_on_stdin_gets_a_hint_and_is_read() {
    let lines = "{\"status\":\"403\"}\n{\"status\":\"200\"}\n";
    let Some(shown) = on_a_terminal(&format!("{} analyze --min-requests 1 --json", bin()), lines.as_bytes()) else {
        return;
    };
    assert_eq!(shown.matches("reading access logs from the terminal").count(), 1, "{shown}");
    assert!(shown.contains("\"requests\": 2"), "kept reading after the hint: {shown}");
    let quiet = on_a_terminal(&format!("{} analyze --quiet --min-requests 1", bin()), lines.as_bytes()).unwrap();
    assert!(!quiet.contains("reading access logs"), "{quiet}");
    let piped = cli().args(["analyze", "--min-requests", "1"]).write_stdin(lines).output().unwrap();
    assert!(piped.stderr.is_empty(), "{}", String::from_utf8_lossy(&piped.stderr));
}

/// A `filter-log-events` export of 300 requests padded past the 64 MiB progress threshold (a
/// skipped field, cheap to read).
fn large_input(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let events: Vec<_> = (0..300)
        .map(|i| serde_json::json!({"timestamp": T0 + i, "message": line(Format::MinimalJson, i as u64, 403)}))
        .collect();
    let head = serde_json::to_string(&serde_json::json!({ "events": events })).unwrap();
    let mut doc = head.as_bytes()[..head.len() - 1].to_vec();
    doc.extend_from_slice(b",\"searchedLogStreams\":\"");
    doc.resize(doc.len() + (65 << 20), b'x');
    doc.extend_from_slice(b"\"}\n");
    file(dir, "large.json", &doc)
}

/// The progress bar: on a terminal for large input; never with --quiet or when stderr is not a
/// terminal (no bar bytes at all on stderr).
#[test]
fn progress_bar_only_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let large = large_input(&dir);
    let piped = cli().args(["analyze", "--json"]).arg(&large).output().unwrap();
    assert!(piped.status.success());
    assert!(piped.stderr.is_empty(), "{:?}", String::from_utf8_lossy(&piped.stderr));
    let v: serde_json::Value = serde_json::from_slice(&piped.stdout).unwrap();
    assert_eq!(v["client_errors"], 300);
    let Some(shown) = on_a_terminal(&format!("{} analyze {}", bin(), large.display()), b"") else { return };
    assert!(shown.contains("MiB") && shown.contains("ETA"), "{shown}");
    let quiet = on_a_terminal(&format!("{} analyze --quiet {}", bin(), large.display()), b"").unwrap();
    assert!(!quiet.contains("ETA") && !quiet.contains('\u{1b}'), "{quiet}");
}

/// The CLI against the emulator: dummy credentials, no profile, no instance metadata.
#[cfg(feature = "aws")]
fn aws_cli(endpoint: &str) -> Command {
    let mut c = cli();
    c.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_MAX_ATTEMPTS")
        .env_remove("AWS_RETRY_MODE");
    c
}

/// A log group holding `events`, written 2,000 at a time.
#[cfg(feature = "aws")]
async fn log_group_with(logs: &aws_sdk_cloudwatchlogs::Client, group: &str, events: &[&(i64, String)]) {
    logs.create_log_group().log_group_name(group).send().await.unwrap();
    logs.create_log_stream().log_group_name(group).log_stream_name("s").send().await.unwrap();
    for chunk in events.chunks(2_000) {
        let batch = chunk
            .iter()
            .map(|(t, m)| aws_sdk_cloudwatchlogs::types::InputLogEvent::builder().timestamp(*t).message(m).build())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        logs.put_log_events()
            .log_group_name(group)
            .log_stream_name("s")
            .set_log_events(Some(batch))
            .send()
            .await
            .unwrap();
    }
}

/// The emulator, held for the test (its faults and call counts are the test's own), and a
/// CloudWatch Logs client on it.
#[cfg(feature = "aws")]
async fn logs_on_the_emulator(
) -> (support::emulator::Exclusive, &'static support::emulator::Emulator, aws_sdk_cloudwatchlogs::Client) {
    use support::emulator::Emulator;
    let exclusive = Emulator::exclusive();
    let emulator = Emulator::shared();
    (exclusive, emulator, aws_sdk_cloudwatchlogs::Client::new(&emulator.sdk_config().await))
}

#[cfg(feature = "aws")]
fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// `--log-group` end to end against moto: more events than one FilterLogEvents page holds (10,000,
/// in moto as in CloudWatch), counted exactly; events outside the range left out.
#[cfg(feature = "aws")]
#[tokio::test]
async fn log_group_straight_from_cloudwatch_logs() {
    let (_exclusive, emulator, logs) = logs_on_the_emulator().await;
    let group = "/aws/apigateway/cli-e2e";
    let now = now_ms();
    let old = events(Format::Clf, &statuses(&[(200, 20), (429, 10)]), now - 2 * 3_600_000, 1_000);
    let recent = events(Format::Clf, &statuses(&[(200, 8_000), (403, 3_000), (404, 1_345)]), now - 1_800_000, 100);
    log_group_with(&logs, group, &old.iter().chain(&recent).collect::<Vec<_>>()).await;
    let run = |args: &[&str]| aws_cli(&emulator.endpoint).args(["analyze", "--json"]).args(args).output().unwrap();
    let exact = |out: std::process::Output| {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["requests"], 12_345, "{v}");
        assert_eq!((v["by_status"]["200"].as_u64(), v["by_status"]["403"].as_u64()), (Some(8_000), Some(3_000)));
        assert_eq!((v["by_status"]["404"].as_u64(), v["by_status"].get("429")), (Some(1_345), None));
    };
    emulator.reset_calls();
    exact(run(&["--log-group", group, "--since", "1h"]));
    assert_eq!(emulator.call_count("logs:FilterLogEvents"), 2, "two pages: 10,000 events, then 2,345");

    // A throttled page and a failed one are retried: still exact.
    emulator.reset_calls();
    emulator.inject_matching("FilterLogEvents", "throttle", 1, group);
    emulator.inject_matching("FilterLogEvents", "500", 1, group);
    exact(run(&["--log-group", group, "--since", "1h"]));
    assert_eq!(emulator.call_count("logs:FilterLogEvents"), 4);

    // Failing past the retries (two attempts, as AWS_MAX_ATTEMPTS asks): exit 1, one line naming
    // the group, no finding.
    emulator.inject_matching("FilterLogEvents", "500", 10, group);
    let out = aws_cli(&emulator.endpoint)
        .env("AWS_MAX_ATTEMPTS", "2")
        .args(["analyze", "--log-group", group, "--since", "1h"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end(), format!("error: FilterLogEvents on {group}: InternalFailure: emulated fault: 500"));
    assert!(out.stdout.is_empty());
    emulator.clear_faults();

    // Several groups: each read in full, counted together.
    let other = "/aws/apigateway/cli-e2e-other";
    let few = events(Format::Clf, &statuses(&[(401, 55)]), now - 600_000, 1_000);
    log_group_with(&logs, other, &few.iter().collect::<Vec<_>>()).await;
    let out = run(&["--log-group", group, "--log-group", other, "--since", "1h"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["requests"].as_u64(), v["by_status"]["401"].as_u64()), (Some(12_400), Some(55)), "{v}");

    // Both ends are inclusive: the first and the last old event count.
    let (start, end) = (old[0].0.to_string(), old[old.len() - 1].0.to_string());
    let out = run(&["--log-group", group, "--start", &start, "--end", &end, "--min-requests", "1"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["requests"].as_u64(), v["by_status"]["429"].as_u64()), (Some(30), Some(10)), "{v}");

    let out = run(&["--log-group", "/no/such/group", "--since", "1h"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end(), "error: log group /no/such/group not found");
}

/// A `--log-group` read of five pages under intermittent throttling: three throttled calls in a
/// row (the SDK's default three attempts give up), then every other call throttled. The read
/// waits and goes on, and counts exactly.
#[cfg(feature = "aws")]
#[tokio::test]
async fn log_group_read_rides_out_throttling() {
    let (_exclusive, emulator, logs) = logs_on_the_emulator().await;
    let group = "/aws/apigateway/cli-throttled";
    let mix = [(200, 30_000), (403, 10_000), (404, 5_000)];
    let all = events(Format::Clf, &statuses(&mix), now_ms() - 3_000_000, 50);
    log_group_with(&logs, group, &all.iter().collect::<Vec<_>>()).await;
    let read = || {
        let mut c = aws_cli(&emulator.endpoint);
        c.args(["analyze", "--json", "--log-group", group, "--since", "1h"]);
        c
    };
    // The SDK's default, three attempts, gives up on three throttled calls in a row.
    emulator.inject_matching("FilterLogEvents", "throttle", 3, group);
    let out = read().env("AWS_MAX_ATTEMPTS", "3").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    emulator.clear_faults();

    emulator.reset_calls();
    emulator.inject_matching("FilterLogEvents", "throttle", 3, group);
    emulator.inject_every("FilterLogEvents", "throttle", 3, 2, group);
    let started = std::time::Instant::now();
    let out = read().output().unwrap();
    let took = started.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["requests"], 45_000, "{v}");
    let by_status = |code: &str| v["by_status"][code].as_u64();
    assert_eq!((by_status("200"), by_status("403"), by_status("404")), (Some(30_000), Some(10_000), Some(5_000)));
    assert_eq!(emulator.call_count("logs:FilterLogEvents"), 5 + 6, "five pages, six throttled calls retried");
    eprintln!("five pages under six throttled calls: {took:?}");
}

/// A command that cannot reach AWS says why on one line (no SDK debug dump), exit 1.
#[cfg(feature = "aws")]
#[test]
fn aws_errors_are_one_line() {
    let cases: [(&[&str], &str); 3] = [
        (&["history", "--log-group", "g"], "error: GetMetricData in ApiGateway4xx: dispatch failure: "),
        (&["analyze", "--log-group", "g", "--since", "1h"], "error: FilterLogEvents on g: dispatch failure: "),
        (&["history", "--log-group", "g", "--days", "1"], "error: GetMetricData in ApiGateway4xx: dispatch failure: "),
    ];
    for (i, (args, starts)) in cases.into_iter().enumerate() {
        let mut c = aws_cli("http://127.0.0.1:9");
        if i < 2 {
            c.env_remove("AWS_ACCESS_KEY_ID").env_remove("AWS_SECRET_ACCESS_KEY");
        }
        let out = c.env("AWS_MAX_ATTEMPTS", "1").args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.starts_with(starts), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains(" { ") && !err.contains("DispatchFailure("), "no debug dump: {err}");
        if i < 2 {
            assert!(err.contains("no credentials found"), "{err}");
        }
    }
    let out = aws_cli("http://127.0.0.1:9").env("AWS_MAX_ATTEMPTS", "0").args(["history", "--log-group", "g"]).output();
    let err = String::from_utf8_lossy(&out.as_ref().unwrap().stderr).into_owned();
    assert_eq!(err, "error: AWS_MAX_ATTEMPTS=0: expected a whole number of at least 1\n", "not a panic");
}
