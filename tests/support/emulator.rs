//! The local AWS emulator for integration tests: moto server behind the CBOR↔JSON translator
//! (`tests/emulator/serve.py`), run from the project's `.venv` (created by `make venv` on first use),
//! on free loopback ports, stopped when the test process ends (the server exits when its stdin closes).
//!
//! Besides translating, the server counts calls, injects the faults a real service shows and moto
//! cannot (a call applied and then answered 500, a dropped connection, a hang, throttling, latency),
//! and stands in for CloudWatch's extraction of Embedded Metric Format lines (`emf`), on the real
//! clock or on the test's (`clock`), with data points 3 hours old or older readable late when asked
//! (`late`). Faults and
//! counts are per emulator, and one emulator serves every test of a binary: a test that injects
//! faults or counts calls holds [`Emulator::exclusive`] so that concurrent tests neither trip over
//! its faults nor add to its counts; other tests in that binary that make calls should hold it too,
//! or use their own binary (tests/harness.rs does).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// A running emulator.
pub struct Emulator {
    _child: Child,
    /// The translator's URL: point the SDK here (`AWS_ENDPOINT_URL`).
    pub endpoint: String,
    /// moto's own URL, for `/moto-api`.
    pub moto: String,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's python, creating the venv (pinned tools) if it is missing.
pub fn venv_python() -> PathBuf {
    let python = root().join(".venv/bin/python");
    let ready = root().join(".venv/.installed");
    if !ready.exists() {
        let status = Command::new("make").args(["-s", "venv"]).current_dir(root()).status().expect("run make venv");
        assert!(status.success(), "make venv failed");
    }
    python
}

impl Emulator {
    /// Starts moto and the translator.
    pub fn start() -> Emulator {
        let mut child = Command::new(venv_python())
            .arg(root().join("tests/emulator/serve.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tests/emulator/serve.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("emulator ready line");
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("emulator said {line:?}: {e}"));
        Emulator {
            _child: child,
            endpoint: v["endpoint"].as_str().unwrap().into(),
            moto: v["moto"].as_str().unwrap().into(),
        }
    }

    /// One emulator per test binary, shared by its tests (each test uses its own namespace and topic).
    pub fn shared() -> &'static Emulator {
        static E: OnceLock<Emulator> = OnceLock::new();
        E.get_or_init(Emulator::start)
    }

    /// SDK configuration pointing at the emulator, with dummy credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_sns::config::Credentials::new("testing", "testing", None, None, "emulator"))
            .load()
            .await
    }

    /// Requests seen since the last reset, per `service:Operation` (`cloudwatch:PutMetricData`,
    /// `sns:Publish`, `logs:FilterLogEvents`, `apigateway:GetStages`, `apigatewayv2:GetApis`), each
    /// SDK retry counted as a call of its own.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        let body = self.control("GET", "/_calls", "");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/_calls answered {body:?}: {e}"))
    }

    /// Calls of one `service:Operation` since the last reset (0 when none).
    pub fn call_count(&self, key: &str) -> u64 {
        self.calls().get(key).copied().unwrap_or(0)
    }

    /// Total calls since the last reset.
    pub fn total_calls(&self) -> u64 {
        self.calls().values().sum()
    }

    /// Each call since the last reset, in order: `(seconds since the epoch, "service:Operation")`,
    /// as the emulator received it.
    pub fn call_log(&self) -> Vec<(f64, String)> {
        let body = self.control("GET", "/_calls/log", "");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/_calls/log answered {body:?}: {e}"))
    }

    /// A Lambda function named `name` in moto (PutSubscriptionFilter accepts it as a destination):
    /// its ARN.
    pub fn create_function(&self, name: &str) -> String {
        let body = self.control("POST", "/_lambda", &serde_json::json!({"name": name}).to_string());
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{body:?}: {e}"));
        v["arn"].as_str().expect("arn").to_string()
    }

    /// What CloudWatch Logs delivered to Lambda destinations since the last call (taken):
    /// `{"function", "filter", "logGroup", "event"}` each, `event` the Lambda payload.
    pub fn deliveries(&self) -> Vec<serde_json::Value> {
        let body = self.control("GET", "/_deliveries", "");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/_deliveries answered {body:?}: {e}"))
    }

    /// Empties moto (every service's state); the harness's own state (faults, counts, deliveries)
    /// stays. For a test binary whose tests each start from an empty account (tests/sweep.rs).
    pub fn reset_aws(&self) {
        let (status, body) = request(&self.moto, "POST", "/moto-api/reset", "");
        assert_eq!(status, 200, "moto reset: {body}");
    }

    /// A URL that stands in for a custom resource's pre-signed `ResponseURL`.
    pub fn cfn_response_url(&self, id: &str) -> String {
        format!("{}/_cfn/{id}", self.endpoint)
    }

    /// The custom-resource answers received so far, in order.
    pub fn cfn_responses(&self) -> Vec<serde_json::Value> {
        let body = self.control("GET", "/_cfn", "");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/_cfn answered {body:?}: {e}"))
    }

    /// Forgets the calls counted so far.
    pub fn reset_calls(&self) {
        self.control("POST", "/_calls/reset", "");
    }

    /// The next `times` calls of `operation` (`PutMetricData`, `Publish`, `FilterLogEvents`, or
    /// `service:Operation`) fail with `fault`:
    /// - `apply_then_500`: moto applies the call, the client is answered 500 (InternalFailure);
    /// - `apply_then_drop`: moto applies the call, the connection closes without an answer;
    /// - `throttle`: 400 Throttling, not applied; `500`: 500 InternalFailure, not applied;
    /// - `too_many_requests`: 429 TooManyRequestsException (API Gateway's throttling), not applied;
    /// - `access_denied`: 400 AccessDeniedException, not applied;
    /// - `invalid_parameter`: 400 InvalidParameterException, not applied;
    /// - `hang`: no answer for 30 s, then the connection closes; not applied;
    /// - StartQuery only: `limit_exceeded` (400 LimitExceededException, not applied),
    ///   `query_failed` / `query_timeout` (the query starts and ends `Failed` / `Timeout`),
    ///   `query_hold` (it runs until stopped).
    pub fn inject(&self, operation: &str, fault: &str, times: u32) {
        self.add_fault(serde_json::json!({"operation": operation, "fault": fault, "times": times}));
    }

    /// As [`Emulator::inject`], but only for calls whose request body holds `needle` (a log group
    /// name, a topic ARN, a namespace), so concurrent tests with other names are not touched.
    pub fn inject_matching(&self, operation: &str, fault: &str, times: u32, needle: &str) {
        self.add_fault(serde_json::json!({"operation": operation, "fault": fault, "times": times, "match": needle}));
    }

    /// Every call of `operation` hangs `secs` seconds without an answer (then the connection
    /// closes), until [`Emulator::clear_faults`], which also ends the hangs under way.
    pub fn hang(&self, operation: &str, secs: u64) {
        self.hang_times(operation, secs, 1_000_000);
    }

    /// The next `times` calls of `operation` hang `secs` seconds; later calls are answered.
    pub fn hang_times(&self, operation: &str, secs: u64, times: u32) {
        self.add_fault(
            serde_json::json!({"operation": operation, "fault": "hang", "times": times, "hang_seconds": secs}),
        );
    }

    /// Intermittent faults: of the calls of `operation` whose body holds `needle`, every `every`-th
    /// fails with `fault` (the others are answered), until `times` have failed.
    pub fn inject_every(&self, operation: &str, fault: &str, times: u32, every: u32, needle: &str) {
        self.add_fault(serde_json::json!({
            "operation": operation, "fault": fault, "times": times, "every": every, "match": needle
        }));
    }

    /// Every proxied call waits `ms` milliseconds before it is forwarded (0 for none).
    pub fn latency_ms(&self, ms: u64) {
        self.control("POST", "/_latency", &serde_json::json!({"ms": ms}).to_string());
    }

    /// Removes every fault and the latency; calls hanging now are let go (their connections close).
    pub fn clear_faults(&self) {
        self.control("DELETE", "/_faults", "");
    }

    /// Takes the process-wide lock of tests that inject faults or count calls on the shared
    /// emulator. It starts and ends with no faults, no latency, no EMF or late delay and the real
    /// clock (also when the test panics). A plain guard: hold it across `.await` in `#[tokio::test]`s (each runs on its
    /// own thread) as in synchronous tests.
    pub fn exclusive() -> Exclusive {
        static LOCK: Mutex<()> = Mutex::new(());
        // A test that panicked while holding the lock poisons it; its cleanup ran in Drop anyway.
        let guard = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let emulator = Emulator::shared();
        emulator.reset_state();
        Exclusive { emulator, _guard: guard }
    }

    fn reset_state(&self) {
        self.insights_config(0, 30);
        self.clear_faults();
        self.emf_delay(0.0);
        self.late(0.0);
        self.real_clock();
        self.emf_flush();
    }

    /// Hands the function's log output to the EMF collector, as CloudWatch Logs would see it:
    /// lines that are JSON objects with `_aws.CloudWatchMetrics` are EMF documents, the rest is
    /// ignored. Valid documents are written to CloudWatch (moto) after the collector's delay
    /// (at once when it is 0, the default). Panics when a document is invalid: the function must
    /// not log EMF that CloudWatch would drop. See [`Emulator::try_emf`] to test rejections.
    pub fn emf(&self, text: &str) -> EmfReport {
        self.try_emf(text).unwrap_or_else(|e| panic!("the EMF collector rejected documents: {e:?}"))
    }

    /// As [`Emulator::emf`], returning the rejections (line number and reason, from the EMF
    /// specification's rules) instead of panicking. Valid documents in the same text are still
    /// written, as CloudWatch extracts each log event on its own.
    pub fn try_emf(&self, text: &str) -> Result<EmfReport, EmfRejected> {
        let (status, body) = request(&self.endpoint, "POST", "/_emf", text);
        let v: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("/_emf answered {status} {body:?}: {e}"));
        let report =
            EmfReport { documents: v["documents"].as_u64().unwrap_or(0), metrics: v["metrics"].as_u64().unwrap_or(0) };
        match status {
            200 => Ok(report),
            400 if v["rejected"].is_array() => Err(EmfRejected {
                accepted: report,
                reasons: v["rejected"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| format!("line {}: {}", r["line"], r["reason"].as_str().unwrap_or_default()))
                    .collect(),
            }),
            _ => panic!("/_emf answered {status}: {body}"),
        }
    }

    /// How long accepted EMF documents wait before they are written (CloudWatch's extraction lag).
    pub fn emf_delay(&self, secs: f64) {
        self.control("POST", "/_emf/config", &serde_json::json!({"delay_seconds": secs}).to_string());
    }

    /// The EMF collector and the late store go by the test's clock, set to `now_ms`: what waits and
    /// falls due by then is written before this returns. Move it forward as the test's invocations
    /// move `Invocation::at`; [`Emulator::real_clock`] (and dropping [`Exclusive`]) ends it.
    pub fn clock(&self, now_ms: i64) {
        self.control("POST", "/_clock", &serde_json::json!({"now_ms": now_ms}).to_string());
    }

    /// The real clock again (what waits on the test's clock then falls due by the real one).
    pub fn real_clock(&self) {
        self.control("DELETE", "/_clock", "");
    }

    /// Data points 3 hours old or older (alert markers, writer marks, EMF counts) become readable
    /// `secs` after they are written, as CloudWatch documents; 0 (the default) for at once.
    pub fn late(&self, secs: f64) {
        self.control("POST", "/_late", &serde_json::json!({"delay_seconds": secs}).to_string());
    }

    /// Writes every waiting EMF document now; returns what was written.
    pub fn emf_flush(&self) -> EmfReport {
        let body = self.control("POST", "/_emf/flush", "");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{body:?}: {e}"));
        EmfReport { documents: v["documents"].as_u64().unwrap_or(0), metrics: v["metrics"].as_u64().unwrap_or(0) }
    }

    /// The Logs Insights stand-in's record: `started` (queries), `stopped` (ids stopped while
    /// running), `max_running` (most running at once), `running` (ids), and `queries`
    /// (`[{id, groups, start, end, status, query, rows}]`, in start order).
    pub fn insights(&self) -> serde_json::Value {
        let body = self.control("GET", "/_insights", "");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/_insights answered {body:?}: {e}"))
    }

    /// Forgets the queries recorded so far.
    pub fn insights_reset(&self) {
        self.control("POST", "/_insights/reset", "");
    }

    /// Each query answers `Scheduled`/`Running` to its first `polls` GetQueryResults calls; at
    /// most `max_concurrent` run at once (StartQuery answers LimitExceededException past it).
    pub fn insights_config(&self, polls: u32, max_concurrent: u32) {
        let spec = serde_json::json!({"polls": polls, "max_concurrent": max_concurrent});
        self.control("POST", "/_insights/config", &spec.to_string());
    }

    fn add_fault(&self, spec: serde_json::Value) {
        self.control("POST", "/_faults", &spec.to_string());
    }

    /// A control call that must succeed; returns the answer's body.
    fn control(&self, method: &str, path: &str, body: &str) -> String {
        let (status, answer) = request(&self.endpoint, method, path, body);
        assert_eq!(status, 200, "{method} {path} {body} answered {status}: {answer}");
        answer
    }

    /// Messages SNS accepted for `topic_arn`: `(subject, message, attributes)`.
    pub fn sns_messages(&self, topic_arn: &str) -> Vec<SentMessage> {
        let encoded: String = topic_arn
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let body = self.control("GET", &format!("/_sns?topic={encoded}"), "");
        let v: serde_json::Value = serde_json::from_str(&body).expect("/_sns");
        v.as_array()
            .into_iter()
            .flatten()
            .map(|n| SentMessage {
                message: n[1].as_str().unwrap_or_default().to_string(),
                subject: n[2].as_str().unwrap_or_default().to_string(),
                attributes: n[3].clone(),
            })
            .collect()
    }
}

/// One message SNS accepted.
#[derive(Debug, Clone)]
pub struct SentMessage {
    /// Subject line.
    pub subject: String,
    /// Body.
    pub message: String,
    /// Message attributes, as moto stores them (`{"severity":{"Type":"String","Value":"HIGH"}}`).
    pub attributes: serde_json::Value,
}

impl SentMessage {
    /// A string attribute's value.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes[name]["Value"].as_str()
    }
}

/// Holds [`Emulator::exclusive`]; dropping it clears faults, latency, the EMF delay, the late delay
/// and the test's clock.
pub struct Exclusive {
    emulator: &'static Emulator,
    _guard: MutexGuard<'static, ()>,
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        // Runs before the lock is released (fields drop after this), also when the test panicked,
        // so it must not panic itself: a second panic would abort the test binary.
        for (method, path, body) in [
            ("DELETE", "/_faults", ""),
            ("POST", "/_emf/config", r#"{"delay_seconds": 0}"#),
            ("POST", "/_late", r#"{"delay_seconds": 0}"#),
            ("DELETE", "/_clock", ""),
            ("POST", "/_emf/flush", ""),
            ("POST", "/_insights/config", r#"{"polls": 0, "max_concurrent": 30}"#),
        ] {
            let _ = std::panic::catch_unwind(|| request(&self.emulator.endpoint, method, path, body));
        }
    }
}

/// What the EMF collector accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmfReport {
    /// EMF documents (log lines) accepted.
    pub documents: u64,
    /// Metric data written or queued: one per metric and dimension set of each document.
    pub metrics: u64,
}

/// EMF documents the collector refused, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmfRejected {
    /// What was accepted from the same text.
    pub accepted: EmfReport,
    /// One `line N: reason` per refused document.
    pub reasons: Vec<String>,
}

/// One HTTP/1.0 request to a loopback server: `(status, body)`.
fn request(base: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let host = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(host).unwrap_or_else(|e| panic!("connect to {host}: {e}"));
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, body.to_string())
}

/// The environment that points a child process (the CLI) at `endpoint`, with dummy credentials, no
/// profile files and no instance metadata (remove `AWS_PROFILE`, `AWS_MAX_ATTEMPTS` and
/// `AWS_RETRY_MODE` too).
pub fn cli_env(endpoint: &str) -> [(&'static str, String); 7] {
    [
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_ENDPOINT_URL", endpoint.into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_CONFIG_FILE", "/nonexistent".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".into()),
    ]
}

/// The variables [`cli_env`]'s callers remove.
pub const CLI_ENV_REMOVED: [&str; 3] = ["AWS_PROFILE", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"];

/// Creates `group` with one stream and writes `events` into it, in time order, 2,000 a call.
pub async fn write_log_group(logs: &aws_sdk_cloudwatchlogs::Client, group: &str, events: &[&(i64, String)]) {
    logs.create_log_group().log_group_name(group).send().await.unwrap();
    logs.create_log_stream().log_group_name(group).log_stream_name("s").send().await.unwrap();
    let mut sorted = events.to_vec();
    sorted.sort_by_key(|(t, _)| *t);
    for chunk in sorted.chunks(2_000) {
        let batch = chunk
            .iter()
            .map(|(t, m)| aws_sdk_cloudwatchlogs::types::InputLogEvent::builder().timestamp(*t).message(m).build())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let put = logs.put_log_events().log_group_name(group).log_stream_name("s").set_log_events(Some(batch));
        put.send().await.unwrap();
    }
}

/// True when `path` exists relative to the crate root.
pub fn exists(path: &str) -> bool {
    Path::new(&root().join(path)).exists()
}
