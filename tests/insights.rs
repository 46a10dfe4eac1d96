//! `analyze --engine insights` and `history --source logs` against the emulator's Logs Insights
//! stand-in (tests/emulator/serve.py evaluates the engine's queries over the events moto stores):
//! the same answer as the scan on JSON, CLF and execution-log groups over many windows and random
//! ranges; every result under the row cap and no more queries in flight than asked; throttling,
//! `Failed` and `Timeout` sub-queries; the scan budget and Ctrl-C stopping every running query.
#![cfg(feature = "aws")]

mod support;

use assert_cmd::Command;
use proptest::prelude::*;
use serde_json::Value;
use std::sync::OnceLock;
use support::emulator::Emulator;
use support::*;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// The CLI, pointed at the emulator.
fn command(e: &Emulator) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_apigw-4xx"));
    c.envs(support::emulator::cli_env(&e.endpoint));
    for var in support::emulator::CLI_ENV_REMOVED {
        c.env_remove(var);
    }
    c
}

fn cli(e: &Emulator) -> Command {
    Command::from_std(command(e))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Creates `group` and writes `events` into it.
fn put(group: &str, events: &[(i64, String)]) {
    runtime().block_on(async {
        let logs = aws_sdk_cloudwatchlogs::Client::new(&Emulator::shared().sdk_config().await);
        support::emulator::write_log_group(&logs, group, &events.iter().collect::<Vec<_>>()).await
    });
}

/// Five hours of traffic ending 10 minutes ago, minute by minute: a varying number of requests
/// and mix of statuses, an unparsed line now and then, a silent hour (empty sub-ranges); execution
/// logs write their steps, and some requests are refused by the authorizer (no final line).
fn traffic(format: Format, t0: i64) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let mut i = 0u64;
    for minute in 0..300i64 {
        if (120..180).contains(&minute) {
            continue;
        }
        let n = 5 + (minute * 37 % 23);
        for k in 0..n {
            let t = t0 + minute * 60_000 + k * (60_000 / n) + (minute % 7);
            let status = match (minute / 10 + k) % 9 {
                0 | 1 if minute % 20 < 6 => 403,
                2 => 404,
                3 if minute % 3 == 0 => 429,
                4 => 500,
                _ => 200,
            };
            i += 1;
            if format == Format::Execution {
                let id = format!("{i:08x}-0000-4000-8000-{:012x}", i * 7919);
                out.push((t, format!("({id}) Starting execution for request: {id}")));
                if k % 11 == 3 {
                    out.push((t + 1, format!("({id}) Unauthorized request: {id}")));
                    continue;
                }
                out.push((t + 1, format!("({id}) Method request path: {{}}")));
                out.push((t + 2, format!("({id}) Method completed with status: {status}")));
            } else {
                out.push((t, line(format, i, status)));
            }
            if k == 0 && minute % 13 == 0 {
                out.push((t + 3, format!("not an access-log line {minute}")));
            }
            if format == Format::ConsoleJson && k == 1 && minute % 17 == 0 {
                out.push((t + 4, r#"{"requestId":"x","status":"-"}"#.to_string()));
            }
        }
    }
    out
}

/// The groups of the equality tests, written once: `(group, format, first event, last event)`; the
/// fourth is JSON again, three minutes later (two groups a query can read together).
fn groups() -> &'static Vec<(String, Format, i64, i64)> {
    static G: OnceLock<Vec<(String, Format, i64, i64)>> = OnceLock::new();
    G.get_or_init(|| {
        let t0 = apigw_4xx::base::time::window_start(now_ms() - 5 * 3_600_000 - 20 * 60_000, 60) + 17_345;
        [(Format::ConsoleJson, ""), (Format::Clf, ""), (Format::Execution, ""), (Format::ConsoleJson, "-b")]
            .into_iter()
            .map(|(f, suffix)| {
                let group = format!("/aws/apigateway/insights-{f:?}{suffix}").to_lowercase();
                let events = traffic(f, t0 + if suffix.is_empty() { 0 } else { 180_000 });
                put(&group, &events);
                let (first, last) =
                    (events.iter().map(|e| e.0).min().unwrap(), events.iter().map(|e| e.0).max().unwrap());
                (group, f, first, last)
            })
            .collect()
    })
}

/// `analyze --json` of `group` over `[start, end]` with one engine.
fn analyze(e: &Emulator, groups: &[&str], engine: &str, start: i64, end: i64, extra: &[&str]) -> Value {
    let mut c = cli(e);
    c.args([
        "analyze",
        "--json",
        "--quiet",
        "--engine",
        engine,
        "--start",
        &start.to_string(),
        "--end",
        &end.to_string(),
    ]);
    for g in groups {
        c.args(["--log-group", g]);
    }
    let out = c.args(extra).output().unwrap();
    assert!(out.status.success(), "{engine}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The fields both engines must agree on whatever the levels: everything but the evidence (and the
/// recommendation it sharpens), which the insights engine reads only where a finding alerts (see
/// `the_evidence_of_an_alerting_finding_is_the_scans`).
fn counted(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        for k in ["evidence", "recommendation", "deployment"] {
            o.remove(k);
        }
        if let Some(Value::Array(groups)) = o.get_mut("groups") {
            *groups = groups.iter().map(counted).collect();
        }
    }
    v
}

fn same_answer(e: &Emulator, groups: &[&str], start: i64, end: i64, extra: &[&str], insights_extra: &[&str]) -> Value {
    let scan = analyze(e, groups, "scan", start, end, extra);
    let insights = analyze(e, groups, "insights", start, end, &[extra, insights_extra].concat());
    assert_eq!(counted(&scan), counted(&insights), "{groups:?} {start}..{end} {extra:?} {insights_extra:?}");
    scan
}

#[test]
fn both_engines_give_the_same_answer_on_json_clf_and_execution_logs() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    for (group, format, first, last) in &groups()[..3] {
        for (window, cap) in [("1", "10000"), ("5", "60"), ("7", "10000"), ("60", "600")] {
            e.insights_reset();
            let v = same_answer(
                e,
                &[group],
                *first,
                *last,
                &["--window", window, "--min-requests", "20", "--ignore-status", "429"],
                &["--max-rows-per-query", cap],
            );
            let windows = v["windows"].as_array().unwrap().len();
            assert!(windows >= 240 / window.parse::<usize>().unwrap(), "{format:?}: {windows} windows");
            assert!(v["unparsed"].as_u64().unwrap() > 0 && v["by_status"]["403"].as_u64().unwrap() > 0, "{v}");
            let state = e.insights();
            let queries = state["queries"].as_array().unwrap();
            for q in queries {
                assert!(q["rows"].as_u64().unwrap() < cap.parse::<u64>().unwrap(), "{q}");
                assert_eq!(q["status"], "Complete");
            }
            if cap == "60" {
                assert!(queries.iter().any(|q| !q["query"].as_str().unwrap().contains("bin(")), "a census ran");
                assert!(queries.len() > 4, "{} queries", queries.len());
            }
        }
        if *format == Format::Execution {
            let v = analyze(e, &[group], "insights", *first, *last, &[]);
            assert!(v["by_status"]["401"].as_u64().unwrap() > 0, "authorizer denials count: {v}");
        }
    }
}

/// Every other format the count query reads by `parse` or by its keys gives the scan's answer too:
/// XML, the console's CSV, the older CLF, HTTP API JSON, minimal JSON, and HTTP API CSV whose route
/// field is a route key (`GET /pets/{id}`), read once with 5-minute windows.
#[test]
fn the_other_formats_give_the_same_answer() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let t0 = apigw_4xx::base::time::window_start(now_ms() - 5 * 3_600_000 - 20 * 60_000, 60) + 17_345;
    // `ip,-,-,time,method,route,protocol,status,…` as an HTTP API logs it: `ip,time,method,routeKey,…`.
    let route_key_csv = |line: &str| {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 10 {
            return line.to_string();
        }
        format!("{},{},{},{} {},{}", f[0], f[3], f[4], f[4], f[5], f[6..].join(","))
    };
    let formats = [Format::Xml, Format::Csv, Format::ClfOld, Format::HttpApi, Format::MinimalJson];
    let mut cases: Vec<(String, Vec<(i64, String)>)> =
        formats.iter().map(|f| (format!("{f:?}"), traffic(*f, t0))).collect();
    cases
        .push(("http-csv".into(), traffic(Format::Csv, t0).into_iter().map(|(t, l)| (t, route_key_csv(&l))).collect()));
    for (name, events) in cases {
        let group = format!("/aws/apigateway/insights-other-{name}").to_lowercase();
        put(&group, &events);
        let (first, last) = (events.iter().map(|e| e.0).min().unwrap(), events.iter().map(|e| e.0).max().unwrap());
        e.insights_reset();
        let v = same_answer(e, &[&group], first, last, &["--window", "5", "--min-requests", "20"], &[]);
        let requests = v["requests"].as_u64().unwrap();
        assert!(requests > 1_000 && v["by_status"]["403"].as_u64().unwrap() > 0, "{name}: {v}");
        assert!(v["unparsed"].as_u64().unwrap() > 0, "{name}: the odd lines are unparsed in both: {v}");
    }
}

/// `analyze` (text, or `--json`) of one group over `[start, end]` with one engine, stdout and stderr.
fn analyze_out(e: &Emulator, group: &str, engine: &str, start: i64, end: i64, extra: &[&str]) -> (String, String) {
    let mut c = cli(e);
    c.args(["analyze", "--quiet", "--engine", engine, "--log-group", group]);
    c.args(["--start", &start.to_string(), "--end", &end.to_string()]);
    let out = c.args(extra).output().unwrap();
    assert!(out.status.success(), "{engine}: {}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The evidence queries the emulator ran (they sort by count; count queries do not).
fn evidence_queries(e: &Emulator) -> Vec<Value> {
    let state = e.insights();
    state["queries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["query"].as_str().unwrap().contains("| sort n desc"))
        .cloned()
        .collect()
}

/// A finding that alerts carries the scan's evidence: on JSON and CLF groups with HIGH windows, the
/// text report (evidence lines, recommendation, windows) and `--json` (`evidence` and all) are the
/// scan's, byte for byte, also when the evidence queries are cut in halves by a failure. Where only
/// windows alert, the evidence is theirs: exactly the 4xx of those windows. Execution logs name no
/// route, method or caller: no evidence query.
#[test]
fn the_evidence_of_an_alerting_finding_is_the_scans() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    for (group, format, first, last) in &groups()[..2] {
        let (first, last) = (*first, *last);
        let scan_text = analyze_out(e, group, "scan", first, last, &["--window", "5", "--min-requests", "20"]).0;
        let scan_json =
            analyze_out(e, group, "scan", first, last, &["--window", "5", "--min-requests", "20", "--json"]).0;
        let v: Value = serde_json::from_str(&scan_json).unwrap();
        assert_eq!(v["severity"], "ELEVATED", "{format:?}: the finding over the range alerts");
        assert!(v["windows"].as_array().unwrap().iter().any(|w| w["severity"] == "HIGH"), "{format:?}");
        for line in ["Top 4xx routes: ", "4xx by method: ", "Consumers: ip "] {
            assert!(scan_text.contains(line), "{format:?}: {scan_text}");
        }
        for fault in [false, true] {
            e.insights_reset();
            if fault {
                // The first evidence query fails: its halves add up to the same evidence.
                e.inject_matching("StartQuery", "query_failed", 1, "sort n desc");
            }
            let text = analyze_out(e, group, "insights", first, last, &["--window", "5", "--min-requests", "20"]).0;
            assert_eq!(text, scan_text, "{format:?} fault {fault}");
            let ran = evidence_queries(e);
            // One per facet over the whole range, a query a day (the data may cross midnight);
            // the failed one's halves are two more.
            let range = apigw_4xx::ingest::time_range::TimeRange { start: first, end: last };
            let days = apigw_4xx::ingest::insights::plan::chunks(range, Some(5)).len();
            assert_eq!(ran.len(), 2 * days + if fault { 2 } else { 0 }, "{ran:?}");
            e.clear_faults();
            let json =
                analyze_out(e, group, "insights", first, last, &["--window", "5", "--min-requests", "20", "--json"]).0;
            assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), v, "{format:?}");
        }
        // 256 source IPs and 20 routes and methods a status: past 39 rows a query, the evidence
        // keeps the most frequent and says so.
        let (_, err) = analyze_out(
            e,
            group,
            "insights",
            first,
            last,
            &["--window", "5", "--min-requests", "20", "--max-rows-per-query", "40"],
        );
        assert!(err.contains(&format!("warning: log group {group}: the evidence from ")), "{err}");
        assert!(err.contains("lists the 39 most frequent values; rarer ones are left out"), "{err}");

        // Only windows alert (404 and 429 ignored, 403s at 22% in their minutes): the evidence
        // is the 403s of the ELEVATED windows, where the scan's is every 403.
        e.insights_reset();
        let levels = ["--window", "5", "--json", "--ignore-status", "404,429", "--min-requests", "20"];
        let scan: Value = serde_json::from_str(&analyze_out(e, group, "scan", first, last, &levels).0).unwrap();
        let insights: Value = serde_json::from_str(&analyze_out(e, group, "insights", first, last, &levels).0).unwrap();
        assert_eq!(insights["severity"], "OK");
        assert_eq!(counted(&insights), counted(&scan));
        let alerting: Vec<&Value> = insights["windows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["severity"] != "OK" && w["severity"] != "INSUFFICIENT_DATA")
            .collect();
        assert!(!alerting.is_empty());
        let in_windows: u64 = alerting.iter().map(|w| w["by_status"]["403"].as_u64().unwrap_or(0)).sum();
        let sum = |v: &Value, list: &str| {
            v["evidence"][list].as_array().unwrap().iter().map(|x| x["count"].as_u64().unwrap()).sum::<u64>()
        };
        assert_eq!(sum(&insights, "methods"), in_windows, "{format:?}: the 403s of the alerting windows");
        assert!(in_windows < sum(&scan, "methods"), "the scan counts every 403");
        // Four methods and five routes: the JSON's top five list them all.
        assert_eq!(sum(&insights, "routes"), in_windows);
        // Runs of alerting windows, a query per facet each (ranges of 5 minutes and more).
        let ran = evidence_queries(e);
        assert!(ran.len() >= 2 && ran.len().is_multiple_of(2) && ran.len() <= 2 * alerting.len(), "{}", ran.len());
    }
    let (group, _, first, last) = groups()[2].clone();
    e.insights_reset();
    let (text, _) = analyze_out(e, &group, "insights", first, last, &["--window", "5"]);
    assert!(text.contains("ELEVATED") || text.contains("HIGH"), "{text}");
    assert!(evidence_queries(e).is_empty(), "execution logs: no evidence query");
}

/// The same range read at once and split: three groups in one query (`by @log`), each its own finding.
#[test]
fn a_prefix_reads_every_group_and_each_gets_its_finding() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let all = groups();
    let (first, last) = (all.iter().map(|g| g.2).min().unwrap(), all.iter().map(|g| g.3).max().unwrap());
    let names: Vec<&str> = all.iter().map(|g| g.0.as_str()).collect();
    let rules = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(rules.path(), r#"{"/aws/apigateway/insights-clf": {"elevated_percent": 1, "high_percent": 2}}"#)
        .unwrap();
    let rules = rules.path().to_str().unwrap();
    let scan = analyze(e, &names, "scan", first, last, &["--window", "15", "--rules", rules]);
    for extra in [&["--max-rows-per-query", "10000"][..], &["--max-rows-per-query", "300"]] {
        e.insights_reset();
        let prefix = ["--log-group-prefix", "/aws/apigateway/insights-", "--window", "15", "--rules", rules];
        let insights = analyze(e, &[], "insights", first, last, &[&prefix[..], extra].concat());
        assert_eq!(counted(&scan), counted(&insights));
        let groups = insights["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 4);
        let clf = groups.iter().find(|g| g["log_group"] == "/aws/apigateway/insights-clf").unwrap();
        assert_eq!(clf["elevated_percent"], "1", "its own levels");
        let queries = e.insights()["queries"].as_array().unwrap().clone();
        let together = queries.iter().any(|q| q["groups"].as_array().unwrap().len() == 2);
        assert_eq!(together, extra[1] == "10000", "the JSON groups are read together when their rows fit");
    }
}

fn query_count(e: &Emulator) -> u64 {
    e.insights()["started"].as_u64().unwrap()
}

#[test]
fn bounded_in_flight_and_each_fault_ends_in_the_right_total_or_a_named_error() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let (group, _, first, last) = groups()[1].clone();
    let base = analyze(e, &[&group], "scan", first, last, &["--window", "5"]);
    let run = |extra: &[&str]| {
        let mut c = cli(e);
        c.args(["analyze", "--json", "--quiet", "--engine", "insights", "--log-group", &group, "--window", "5"]);
        c.args(["--start", &first.to_string(), "--end", &last.to_string(), "--max-rows-per-query", "40"]);
        c.args(extra).output().unwrap()
    };
    let exact = |out: std::process::Output| {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(counted(&v), counted(&base));
    };

    // Queries answer Running twice before the end: never more than --max-queries at once, and that many reached.
    e.insights_reset();
    e.insights_config(2, 30);
    exact(run(&["--max-queries", "3"]));
    let s = e.insights();
    assert_eq!(s["max_running"], 3, "{s}");
    assert!(s["started"].as_u64().unwrap() > 6);

    // The account's cap reached (the emulator allows 2): LimitExceededException is waited out.
    e.insights_reset();
    e.insights_config(2, 2);
    e.reset_calls();
    exact(run(&["--max-queries", "5"]));
    e.insights_config(0, 30);
    assert!(e.insights()["max_running"].as_u64().unwrap() <= 2);
    let refused = e.call_count("logs:StartQuery") - query_count(e);
    assert!(refused > 0, "some StartQuery calls were refused");

    // LimitExceededException with nothing of ours running: the engine waits (1, 2, 4 s) and retries.
    e.insights_reset();
    e.reset_calls();
    e.inject_matching("StartQuery", "limit_exceeded", 3, &group);
    let began = std::time::Instant::now();
    exact(run(&[]));
    assert!(began.elapsed() >= std::time::Duration::from_secs(7), "{:?}", began.elapsed());
    assert_eq!(e.call_count("logs:StartQuery"), query_count(e) + 3);

    // A Failed and a Timeout sub-query: each split in halves and run again; the total is exact.
    for fault in ["query_failed", "query_timeout"] {
        e.insights_reset();
        e.inject_matching("StartQuery", fault, 1, &group);
        exact(run(&["--max-queries", "1"]));
        let s = e.insights();
        let queries = s["queries"].as_array().unwrap();
        let ended = if fault == "query_failed" { "Failed" } else { "Timeout" };
        assert_eq!(queries[0]["status"], ended);
        assert_eq!(queries.iter().filter(|q| q["status"] == "Complete").count() + 1, queries.len());
    }

    // Failing again after the split: exit 1, one line naming the group and the sub-range.
    e.insights_reset();
    e.inject_matching("StartQuery", "query_timeout", 2, &group);
    let out = run(&["--max-queries", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with(&format!("error: log group {group}: the Logs Insights query over ")), "{err}");
    assert!(err.contains("ended Timeout again (its first run was split in halves)"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(out.stdout.is_empty());

    // A missing permission: one line naming the call, the group and the permissions needed.
    e.inject_matching("StartQuery", "access_denied", 1, &group);
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with(&format!("error: StartQuery on log group {group}: access denied")), "{err}");
    assert!(err.contains("logs:StartQuery, logs:GetQueryResults and logs:StopQuery"), "{err}");
    e.clear_faults();
}

#[test]
fn the_scan_budget_and_ctrl_c_stop_every_running_query() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let (group, _, first, last) = groups()[0].clone();
    let args = |c: &mut Command| {
        c.args(["analyze", "--engine", "insights", "--log-group", &group, "--window", "1", "--max-queries", "4"]);
        c.args(["--start", &first.to_string(), "--end", &last.to_string(), "--max-rows-per-query", "200"]);
    };

    // A budget of a kilobyte: passed by the first query to finish; the others are stopped.
    e.insights_reset();
    e.insights_config(3, 30);
    let mut c = cli(e);
    args(&mut c);
    let out = c.args(["--max-scan-gb", "0.000001"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("past --max-scan-gb 0.000001: stopped"), "{err}");
    assert!(err.contains("GB scanned") && err.contains(", before it stopped"), "what the stopped read cost: {err}");
    let s = e.insights();
    assert!(s["running"].as_array().unwrap().is_empty(), "nothing left running: {s}");
    assert!(!s["stopped"].as_array().unwrap().is_empty(), "{s}");

    // Ctrl-C while four queries run: StopQuery for each, exit 130.
    e.insights_reset();
    e.inject_matching("StartQuery", "query_hold", 100, &group);
    let mut c = command(e);
    // Hour windows: a query per window, no census, so four start at once.
    c.args(["analyze", "--engine", "insights", "--log-group", &group, "--window", "60", "--max-queries", "4"]);
    c.args(["--start", &first.to_string(), "--end", &last.to_string(), "--max-rows-per-query", "200"]);
    let child = c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while e.insights()["running"].as_array().unwrap().len() < 4 {
        assert!(std::time::Instant::now() < deadline, "four queries never ran: {}", e.insights());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let running: Vec<Value> = e.insights()["running"].as_array().unwrap().clone();
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert_eq!(err.trim_end().lines().last(), Some("error: interrupted: stopped 4 running Logs Insights queries"));
    assert!(err.starts_with("Logs Insights: 4 queries") && err.contains(", before it stopped"), "{err}");
    let s = e.insights();
    let mut stopped = s["stopped"].as_array().unwrap().clone();
    stopped.sort_by_key(|v| v.to_string());
    let mut running = running;
    running.sort_by_key(|v| v.to_string());
    assert_eq!(stopped, running, "StopQuery for every running query");
    assert!(s["running"].as_array().unwrap().is_empty());
    e.clear_faults();
}

#[test]
fn errors_name_the_group() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let out = cli(e)
        .args(["analyze", "--engine", "insights", "--log-group", "/no/such/group", "--since", "2d"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end(), "error: log group /no/such/group not found");
    let mixed = "/aws/apigateway/mixed-formats";
    let t = now_ms() - 3_600_000;
    put(mixed, &[(t, line(Format::ConsoleJson, 1, 200)), (t + 1, line(Format::Clf, 2, 403))]);
    let out = cli(e).args(["analyze", "--engine", "insights", "--log-group", mixed, "--since", "2h"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with(&format!("error: log group {mixed}: its lines are in several formats (Json, Clf)")),
        "{err}"
    );
    let out = cli(e).args(["analyze", "--log-group-prefix", "/nothing/here/", "--since", "2h"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no log group starts with it"));
}

#[test]
fn auto_picks_insights_past_six_hours_and_says_what_it_cost() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let (group, _, first, _) = groups()[0].clone();
    e.insights_reset();
    let out = cli(e)
        .args(["analyze", "--log-group", &group, "--start", &(first - 2 * 3_600_000).to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(query_count(e) > 0, "more than six hours: Logs Insights");
    assert!(
        err.starts_with("Logs Insights: ") && err.contains(" GB scanned (") && err.contains(" at $0.005 per GB"),
        "{err}"
    );
    e.insights_reset();
    let out = cli(e).args(["analyze", "--log-group", &group, "--since", "1h"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(query_count(e), 0, "an hour: the scan");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random ranges (edges anywhere, past the data, in the silent hour), windows of 1 to 90
    /// minutes, row caps that cut the range anywhere from one window a query to all of it, and
    /// sometimes a failed sub-query, whose halves split windows at an arbitrary millisecond.
    #[test]
    fn the_same_answer_over_random_ranges_and_windows(
        group in 0..3usize,
        from in 0.0..1.0f64,
        length in 0.0..1.2f64,
        window in 1..=90u32,
        cap in prop::sample::select(vec![20u64, 70, 250, 10_000]),
        fail in any::<bool>(),
    ) {
        let _x = Emulator::exclusive();
        let e = Emulator::shared();
        let (name, _, first, last) = groups()[group].clone();
        let span = (last - first) as f64;
        let start = first - 60_000 + (from * span) as i64;
        let end = (start + 1 + (length * span) as i64).min(last + 120_000);
        if fail {
            e.inject_matching("StartQuery", "query_failed", 1, &name);
        }
        let window = window.to_string();
        let cap = cap.to_string();
        same_answer(e, &[&name], start, end, &["--window", &window, "--min-requests", "5"], &["--max-rows-per-query", &cap, "--max-queries", "3"]);
        e.clear_faults();
    }
}

/// `history --source logs` and `--source metrics` on the same traffic: the function counted it
/// (on the emulator: its EMF extracted into CloudWatch), and the same lines are in the log group.
#[test]
fn history_from_the_logs_agrees_with_history_from_the_metrics_window_by_window() {
    use apigw_4xx::aws::client::Clients;
    use apigw_4xx::function::config::Config;
    use apigw_4xx::function::emf::CapturedEmf;
    use apigw_4xx::function::stores::{CloudWatchStore, SnsAlerts};
    use apigw_4xx::function::{Function, IncomingEvent, Invocation};
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let (group, namespace) = ("/aws/apigateway/history-sources", "Test/history-sources");
    // Three hours of the equality tests' traffic, all before the current 5-minute window.
    let end = apigw_4xx::base::time::window_start(now_ms(), 5) - 1;
    let t0 = end - 3 * 3_600_000 + 1;
    let evs: Vec<(i64, String)> =
        traffic(Format::ConsoleJson, t0 - 2 * 3_600_000).into_iter().filter(|(t, _)| (t0..=end).contains(t)).collect();
    assert!(evs.len() > 1_000);
    runtime().block_on(async {
        let sdk = e.sdk_config().await;
        let topic = aws_sdk_sns::Client::new(&sdk).create_topic().name("history-sources").send().await.unwrap();
        let vars =
            [("ALERT_TOPIC_ARN", topic.topic_arn().unwrap().to_string()), ("METRIC_NAMESPACE", namespace.to_string())];
        let config = Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())).unwrap();
        let f = Function::new(
            config.clone(),
            CloudWatchStore::new(&Clients::new(&sdk), &config.namespace),
            SnsAlerts::new(&Clients::new(&sdk), &config.alert_topic_arn),
            CapturedEmf::default(),
        );
        // One batch a minute, as a subscription delivers them.
        for batch in evs.chunk_by(|a, b| a.0 / 60_000 == b.0 / 60_000) {
            let event: IncomingEvent = serde_json::from_str(&subscription_event(&payload(group, batch))).unwrap();
            f.handle_at(&event, Invocation::at(batch[batch.len() - 1].0 + 5_000)).await.unwrap();
            let lines = f.emf().take();
            if !lines.is_empty() {
                e.emf(&lines.join("\n"));
            }
        }
    });
    put(group, &evs);
    let history = |source: &str| {
        let out = cli(e)
            .args(["history", "--source", source, "--log-group", group, "--namespace", namespace, "--days", "1"])
            .args(["--json", "--quiet", "--elevated-percent", "1", "--high-percent", "25", "--min-requests", "1"])
            .args(["--ignore-status", "404"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{source}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let (metrics, logs) = (history("metrics"), history("logs"));
    assert_eq!(metrics, logs);
    let windows = logs["windows"].as_array().unwrap();
    assert!(windows.len() >= 20, "{logs}");
    assert!(logs["high"].as_u64().unwrap() > 0 && logs["elevated"].as_u64().unwrap() > 0, "{logs}");
}

/// The numbers behind BENCHMARKS.md's engine table (`cargo test --test insights
/// measure_the_engines -- --ignored --nocapture`): both engines on a generated group of 200,000
/// console-JSON lines (an hour of a 56 requests/s API), calls and wall time on this machine's
/// emulator, and the queries the planner asks for 1 and 30 days of 1- and 5-minute windows.
#[test]
#[ignore = "a measurement, not a check: run by hand for BENCHMARKS.md"]
fn measure_the_engines() {
    use apigw_4xx::base::time::{window_start, DAY_MS};
    use apigw_4xx::ingest::insights::plan::{initial_jobs, GroupKeys, JobKind, MAX_ROWS};
    use apigw_4xx::ingest::time_range::TimeRange;
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let group = "/aws/apigateway/measure";
    let t0 = window_start(now_ms() - 2 * 3_600_000, 60);
    let n = 200_000u64;
    let mix = statuses(&[(200, n * 80 / 100), (403, n * 12 / 100), (404, n * 5 / 100), (500, n * 3 / 100)]);
    let evs = events(Format::ConsoleJson, &mix, t0, 3_600_000 / n as i64);
    let bytes: usize = evs.iter().map(|(_, m)| m.len()).sum();
    put(group, &evs);
    let (start, end) = (t0.to_string(), (t0 + 3_600_000 - 1).to_string());
    for engine in ["scan", "insights"] {
        e.reset_calls();
        let began = std::time::Instant::now();
        let out = cli(e)
            .args(["analyze", "--json", "--engine", engine, "--log-group", group, "--window", "5"])
            .args(["--start", &start, "--end", &end])
            .output()
            .unwrap();
        let took = began.elapsed();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["requests"], n);
        println!(
            "{engine}: {n} lines ({bytes} bytes) in {took:.2?}: {:?}; {}",
            e.calls(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let midnight = window_start(now_ms(), 1440);
    for (days, window) in [(1, 5), (1, 1), (30, 5), (30, 1)] {
        let range = TimeRange { start: midnight - days * DAY_MS, end: midnight - 1 };
        let first = initial_jobs(range, Some(window), &[GroupKeys { group: group.into(), keys: 501 }], MAX_ROWS);
        let census = first.iter().filter(|j| j.kind == JobKind::Census).count();
        let counts = if census == 0 {
            first.len()
        } else {
            // Twelve keys a window (eight statuses, unparsed lines and a few rare codes).
            first
                .iter()
                .map(|j| {
                    let keys = [GroupKeys { group: group.into(), keys: 12 }];
                    apigw_4xx::ingest::insights::plan::count_jobs(j.range, Some(window), &keys, MAX_ROWS).len()
                })
                .sum()
        };
        println!("{days} d of {window}-minute windows: {census} census + {counts} count queries");
    }
}
