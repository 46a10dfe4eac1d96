//! The function's init, as Lambda runs it: the `bootstrap` binary started with the environment
//! under test and `AWS_LAMBDA_RUNTIME_API` pointing at a stand-in for Lambda's Runtime API on
//! loopback. A bad setting is refused before anything else happens: one log line naming the
//! variable, the same line posted to `/runtime/init/error`, exit status 1.
//!
//! The stand-in (`FakeRuntimeApi`) records each request and answers `202 Accepted`, as Lambda
//! answers an init error. It does not serve invocations (`/invocation/next` gets the same empty
//! 202), so only a runtime that fails its init can be tested with it; it speaks HTTP/1.1 with a
//! `Content-Length` body only (what the Runtime API client sends), one request per connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// One request the stand-in received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    /// Header names lower-cased.
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Lambda's Runtime API, as far as an init error goes.
struct FakeRuntimeApi {
    addr: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl FakeRuntimeApi {
    fn start() -> FakeRuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(r) = serve(stream) {
                    log.lock().unwrap().push(r);
                }
            }
        });
        FakeRuntimeApi { addr, received }
    }

    /// What arrived so far, and forget it.
    fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.received.lock().unwrap())
    }
}

/// Reads one request from `stream` and answers 202.
fn serve(stream: std::net::TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let length: usize =
        headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let answer = "{\"status\":\"OK\"}";
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    )
    .ok()?;
    Some(Received { method, path, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

/// A valid topic ARN, for the cases about other variables.
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:alerts";

/// What one start of `bootstrap` showed.
struct Init {
    status: Option<i32>,
    /// stdout and stderr together.
    output: String,
}

/// Starts `bootstrap` with only `vars` (and the JSON log format Lambda sets), `runtime_api` if given.
fn init(vars: &[(&str, &str)], runtime_api: Option<&str>) -> Init {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bootstrap"));
    cmd.env_clear().env("AWS_LAMBDA_LOG_FORMAT", "JSON").envs(vars.iter().copied());
    if let Some(api) = runtime_api {
        cmd.env("AWS_LAMBDA_RUNTIME_API", api);
    }
    let out = cmd.output().unwrap();
    Init {
        status: out.status.code(),
        output: String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    }
}

/// The environment besides a valid topic, the variable at fault, part of the reason.
type BadSetting<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);

/// Every bad setting, old and new: refused at init with one line naming the variable, that line
/// posted to the Runtime API's init-error endpoint, exit status 1.
#[test]
fn every_bad_setting_is_refused_at_init_with_one_line_naming_it() {
    let deep = format!("{}{}", r#"{"a":"#.repeat(1200), "}".repeat(1200));
    let long_namespace = "N".repeat(300);
    let cases: Vec<BadSetting> = vec![
        (vec![("ALERT_TOPIC_ARN", "")], "ALERT_TOPIC_ARN", "required but not set"),
        (vec![("ALERT_TOPIC_ARN", "not-an-arn")], "ALERT_TOPIC_ARN", "not an SNS topic ARN"),
        (vec![("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:1234:alerts")], "ALERT_TOPIC_ARN", "12 digits"),
        (vec![("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:a.fifo")], "ALERT_TOPIC_ARN", "FIFO"),
        (vec![("AWS_REGION", "eu-west-1")], "ALERT_TOPIC_ARN", "across regions"),
        (vec![("METRIC_NAMESPACE", "AWS/ApiGateway")], "METRIC_NAMESPACE", "reserved"),
        (vec![("METRIC_NAMESPACE", "Api Gateway 4xx")], "METRIC_NAMESPACE", "only letters"),
        (vec![("METRIC_NAMESPACE", "Api<4xx>")], "METRIC_NAMESPACE", "only letters"),
        (vec![("METRIC_NAMESPACE", &long_namespace)], "METRIC_NAMESPACE", "longer than 255"),
        (vec![("MAX_INNER_MIB", "0")], "MAX_INNER_MIB", "1 to 10240"),
        (vec![("MAX_INNER_MIB", "20000")], "MAX_INNER_MIB", "1 to 10240"),
        (vec![("MAX_INNER_MIB", "lots")], "MAX_INNER_MIB", "invalid digit"),
        (vec![("GROUP_RULES", r#"{"/g": {"min_requests": 5}, "/g": {"min_requests": 9}}"#)], "GROUP_RULES", "twice"),
        (vec![("GROUP_RULES", r#"{"/g": {"high_percent": 40, "high_percent": 50}}"#)], "GROUP_RULES", "twice"),
        (vec![("GROUP_RULES", &deep)], "GROUP_RULES", "recursion limit"),
        (vec![("GROUP_RULES", r#"{"/g": {"high": 5}}"#)], "GROUP_RULES", "unknown key"),
        (vec![("WINDOW_MINUTES", "0")], "WINDOW_MINUTES", "must be 1 to 1440"),
        (vec![("WINDOW_MINUTES", "1441")], "WINDOW_MINUTES", "must be 1 to 1440"),
        (vec![("WINDOW_MINUTES", "five")], "WINDOW_MINUTES", "invalid digit"),
        (vec![("ELEVATED_PERCENT", "ten")], "ELEVATED_PERCENT", "not a percentage"),
        (vec![("ELEVATED_PERCENT", "30")], "ELEVATED_PERCENT", "must be below"),
        (vec![("HIGH_PERCENT", "5")], "HIGH_PERCENT", "must be below"),
        (vec![("HIGH_PERCENT", "101")], "HIGH_PERCENT", "not a percentage"),
        (vec![("MIN_REQUESTS", "-1")], "MIN_REQUESTS", "invalid digit"),
        (vec![("IGNORE_STATUS", "500")], "IGNORE_STATUS", "not a 4xx status code"),
        (vec![("TRACKED_STATUS_CODES", "403,abc")], "TRACKED_STATUS_CODES", "not a 4xx status code"),
        (vec![("SPIKE_FACTOR", "0.5")], "SPIKE_FACTOR", "not a factor"),
        (vec![("ALERT_FORMAT", "pager")], "ALERT_FORMAT", "text or chat"),
        (vec![("NOTIFY_RECOVERY", "maybe")], "NOTIFY_RECOVERY", "true or false"),
        (vec![("DEPLOYMENT_LOOKUP", "sometimes")], "DEPLOYMENT_LOOKUP", "true or false"),
        (vec![("ACCESS_LOG_FORMAT", "$context.path")], "ACCESS_LOG_FORMAT", "no $context.status"),
    ];
    let api = FakeRuntimeApi::start();
    for (vars, variable, reason) in &cases {
        let mut env = vec![("ALERT_TOPIC_ARN", TOPIC)];
        env.retain(|(k, _)| !vars.iter().any(|(v, _)| v == k));
        env.extend(vars.iter().copied());
        let run = init(&env, Some(&api.addr));
        let case = format!("{variable} ({reason}): {}", run.output);
        assert_eq!(run.status, Some(1), "{case}");
        let lines: Vec<&str> = run.output.lines().collect();
        assert_eq!(lines.len(), 1, "{case}");
        let log: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        let message = log["fields"]["error"].as_str().unwrap();
        assert_eq!(log["fields"]["variable"], *variable, "{case}");
        assert!(message.starts_with(variable), "the line opens with the variable: {case}");
        assert!(message.contains(reason), "{case}");
        assert!(message.chars().count() <= 400, "{} characters: {case}", message.chars().count());

        let received = api.take();
        assert_eq!(received.len(), 1, "{case}: {received:?}");
        let r = &received[0];
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/2018-06-01/runtime/init/error"), "{case}");
        assert_eq!(r.header("lambda-runtime-function-error-type"), Some("Runtime.ConfigInvalid"), "{case}");
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["errorType"], "Runtime.ConfigInvalid", "{case}");
        assert_eq!(body["errorMessage"], message, "Lambda is told the logged line: {case}");
    }
    println!("{} bad settings refused at init", cases.len());
}

/// The endpoint's side in detail: a 7 KB `GROUP_RULES` reaches Lambda as one short line that names
/// the variable; off Lambda (no `AWS_LAMBDA_RUNTIME_API`) the line is logged alone; an unreachable
/// Runtime API costs one more warning line, not a hang, and the exit status stays 1.
#[test]
fn the_init_error_reaches_the_runtime_api_as_one_capped_line() {
    let deep = format!("{}{}", r#"{"a":"#.repeat(1200), "}".repeat(1200));
    assert!(deep.len() > 7000);
    let api = FakeRuntimeApi::start();
    let run = init(&[("ALERT_TOPIC_ARN", TOPIC), ("GROUP_RULES", &deep)], Some(&api.addr));
    assert_eq!(run.status, Some(1));
    let [r] = &api.take()[..] else { panic!("one request expected: {}", run.output) };
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let message = body["errorMessage"].as_str().unwrap();
    println!("posted ({} bytes): {message}", message.len());
    assert!(message.starts_with(r#"GROUP_RULES="{\"a\":"#), "{message}");
    assert!(message.contains("…\": not a JSON object"), "the echo is cut and says so: {message}");
    assert!(message.len() < 400 && !message.contains('\n'), "{message}");
    assert_eq!(body["stackTrace"], serde_json::json!([]));

    let off_lambda = init(&[("ALERT_TOPIC_ARN", "arn")], None);
    assert_eq!(off_lambda.status, Some(1));
    assert_eq!(off_lambda.output.lines().count(), 1, "{}", off_lambda.output);

    // A port nobody listens on (bound, then released).
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let started = std::time::Instant::now();
    let unreachable = init(&[("MAX_INNER_MIB", "0"), ("ALERT_TOPIC_ARN", TOPIC)], Some(&closed));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(unreachable.status, Some(1));
    let lines: Vec<&str> = unreachable.output.lines().collect();
    assert_eq!(lines.len(), 2, "{}", unreachable.output);
    assert!(lines[0].contains("MAX_INNER_MIB") && lines[1].contains("Runtime API was not told"), "{lines:?}");
}
