use super::*;
use crate::count::values::MAX_DISTINCT_VALUES;
use crate::ingest::decode::{encode_data, read_document};
use proptest::prelude::*;
use serde_json::json;

/// A small deterministic generator: proptest draws the seed, the shape of the input follows.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const T0: i64 = 1_764_000_000_000;

/// One line: mostly requests (many distinct routes, so the evidence cap is reached), some junk,
/// some execution-log lines that are no requests, formats mixed so the first shape matters.
fn line(rng: &mut Rng, routes: u64) -> String {
    let status = [200, 200, 403, 404, 429, 401][rng.below(6) as usize];
    let route = rng.below(routes);
    let method = ["GET", "POST", "OPTIONS"][rng.below(3) as usize];
    match rng.below(20) {
        0 => format!("junk line {}", rng.below(1000)),
        1 => format!("({}) Method request path: {{}}", rng.below(100)),
        2 => format!(
            r#"1.2.3.4 - - [24/Nov/2025:16:0{}:00 +0000]"{method} /c/{route} HTTP/1.1" {status} 1 r"#,
            rng.below(6)
        ),
        _ => format!(
            r#"{{"requestId":"r","httpMethod":"{method}","resourcePath":"/r/{route}","status":"{status}","responseType":"T{}"}}"#,
            rng.below(3)
        ),
    }
}

fn payload(rng: &mut Rng, routes: u64) -> String {
    let control = rng.below(8) == 0;
    let group = ["/a", "/b", ""][rng.below(3) as usize];
    let events: Vec<_> = (0..rng.below(40))
        .map(
            |i| json!({"id": i.to_string(), "timestamp": T0 + rng.below(600_000) as i64, "message": line(rng, routes)}),
        )
        .collect();
    json!({
        "messageType": if control { "CONTROL_MESSAGE" } else { "DATA_MESSAGE" },
        "owner": "1", "logGroup": group, "logStream": "s", "subscriptionFilters": [], "logEvents": events
    })
    .to_string()
}

/// `payload`'s data, or (rarely, when `faults`) something that fails to decode.
fn data(rng: &mut Rng, routes: u64, faults: bool) -> String {
    match rng.below(40) {
        0 if faults => "@@not base64@@".into(),
        1 if faults => encode_data(b"{\"logEvents\": 5}"),
        _ => encode_data(payload(rng, routes).as_bytes()),
    }
}

/// One input: plain lines, an array of subscription events, or a Kinesis event.
fn input(rng: &mut Rng, faults: bool) -> Vec<u8> {
    let routes = [5, 50, 3 * MAX_DISTINCT_VALUES as u64][rng.below(3) as usize];
    match rng.below(3) {
        0 => (0..rng.below(1500)).map(|_| line(rng, routes) + "\n").collect::<String>().into_bytes(),
        1 => {
            let events: Vec<_> =
                (0..rng.below(30)).map(|_| json!({"awslogs": {"data": data(rng, routes, faults)}})).collect();
            serde_json::to_vec(&events).unwrap()
        }
        _ => {
            let records: Vec<_> =
                (0..rng.below(30)).map(|_| json!({"kinesis": {"data": data(rng, routes, faults)}})).collect();
            let mut doc = serde_json::to_vec(&json!({ "Records": records })).unwrap();
            if faults && rng.below(10) == 0 {
                doc.truncate(doc.len() / 2);
            }
            doc
        }
    }
}

/// Everything the CLI prints or decides from an analysis, with the evidence in full.
fn outcome(result: Result<Analyzer, Failure>) -> String {
    let a = match result {
        Ok(a) => a,
        Err(f) => return format!("input {} failed: {}", f.input, f.error),
    };
    let (control, events) = (a.control_messages, a.events);
    let groups: Vec<_> = a.by_log_group.iter().map(|(g, t)| (g.clone(), t.overall.requests())).collect();
    let tally = a.merged();
    let evidence: Vec<_> = tally
        .evidence
        .iter()
        .map(|(s, e)| {
            let all = usize::MAX;
            let consumers =
                e.consumers.top(all).iter().map(|c| format!("{:?}", (c.kind, c.value, c.count))).collect::<Vec<_>>();
            (*s, e.methods.top(all), e.routes.top(all), e.response_types.top(all), consumers)
        })
        .map(|e| format!("{e:?}"))
        .collect();
    format!(
        "{:?}\n{:?}\n{:?} {:?} untimed={} not_requests={} control={control} events={events} groups={groups:?}\n{evidence:?}",
        tally.overall,
        tally.buckets,
        tally.unparsed_example,
        tally.shape,
        tally.untimed,
        tally.not_requests,
    )
}

fn run(inputs: &[Vec<u8>], threads: usize, bucket_minutes: Option<u32>) -> String {
    let settings = Settings { parser: LineParser::Auto, bucket_minutes, limits: Limits::default(), threads };
    outcome(analyze(inputs, &settings, &|_| {}))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Files and payloads read on several threads give exactly what one thread reading everything
    /// in order gives: counts, windows, evidence past its cap, the first unparsed example, the
    /// first shape, and the first failure.
    #[test]
    fn parallel_equals_serial(seed in 1u64.., files in 1usize..6, threads in 2usize..5, faults: bool, window: bool) {
        let mut rng = Rng(seed);
        let inputs: Vec<Vec<u8>> = (0..files).map(|_| input(&mut rng, faults)).collect();
        let window = window.then_some(1);
        let serial = run(&inputs, 1, window);
        prop_assert_eq!(run(&inputs, threads, window), serial);
    }
}

#[test]
fn progress_hears_every_byte() {
    let inputs = vec![b"{\"status\":\"403\"}\n".repeat(1000), b"x\n".to_vec()];
    let total = std::sync::atomic::AtomicU64::new(0);
    let settings = Settings { parser: LineParser::Auto, bucket_minutes: None, limits: Limits::default(), threads: 2 };
    let a = analyze(&inputs, &settings, &|n| {
        total.fetch_add(n, Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(total.into_inner(), inputs.iter().map(|i| i.len() as u64).sum::<u64>());
    assert_eq!(a.merged().overall.get(403), 1000);
}

#[test]
fn the_first_failure_in_input_order_is_reported() {
    let bad = |what: &str| format!(r#"[{{"awslogs":{{"data":"{what}"}}}}]"#).into_bytes();
    let good = format!(r#"[{{"awslogs":{{"data":"{}"}}}}]"#, encode_data(br#"{"logEvents":[]}"#)).into_bytes();
    let inputs = vec![good.clone(), bad("@@first@@"), good, bad("@@second@@")];
    for threads in [1, 2, 4] {
        let settings = Settings { parser: LineParser::Auto, bucket_minutes: None, limits: Limits::default(), threads };
        let f = analyze(&inputs, &settings, &|_| {}).unwrap_err();
        assert_eq!(f.input, 1, "{threads} threads");
        assert!(f.error.to_string().contains("not valid base64"), "{}", f.error);
    }
}

/// Hides [`EventSink::escaped_event`]: every message is unescaped before it is read.
struct Unescaped<'a>(&'a mut Analyzer);

impl EventSink for Unescaped<'_> {
    fn begin_batch(&mut self) {
        self.0.begin_batch();
    }
    fn event(&mut self, timestamp: Option<EpochMillis>, message: &str) {
        self.0.event(timestamp, message);
    }
    fn end_batch(&mut self, batch: &BatchInfo) {
        self.0.end_batch(batch);
    }
    fn oversized(&mut self, timestamp: Option<EpochMillis>, limit: usize) {
        self.0.oversized(timestamp, limit);
    }
}

/// Yields at most `n` bytes per read, so that messages straddle the stream's chunk edges.
struct Trickle<'a>(&'a [u8], usize);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.len().min(self.1).min(buf.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// One log event: its fields in a random order, its message one of the shapes the fast path must
/// take or leave.
fn log_event(rng: &mut Rng) -> String {
    let messages = [
        r#"{"requestId":"a","ip":"203.0.113.7","httpMethod":"GET","resourcePath":"/pets/{id}","status":"403"}"#,
        r#"{ "status": 404, "routeKey": "POST /v1/orders", "error": {"responseType": "RESOURCE_NOT_FOUND"} }"#,
        r#"{"status":"401","userAgent":"curl \"7\""}"#,
        r#"{"status":"400"} trailing"#,
        r#"{"status":"-"}"#,
        "{\"status\":\"429\",\n\"x\":1}",
        r#"{"status":"403"}{"status":"404"}"#,
        r#"203.0.113.7 - - [25/Nov/2026:10:00:00 +0000] "GET /pets HTTP/1.1" 403 42 a"#,
        "(a1) Method completed with status: 401",
        "not a request",
    ];
    let m = messages[rng.below(messages.len() as u64) as usize];
    let long = format!(r#"{{"status":"403","pad":"{}"}}"#, "x".repeat(rng.below(300) as usize));
    let message = if rng.below(8) == 0 { long } else { m.to_string() };
    let mut fields = vec![
        ("id".to_string(), json!(rng.next().to_string())),
        ("timestamp".to_string(), json!(1_764_000_000_000u64 + rng.below(3_600_000))),
        ("message".to_string(), json!(message)),
    ];
    if rng.below(4) == 0 {
        fields.swap(rng.below(3) as usize, rng.below(3) as usize);
    }
    if rng.below(6) == 0 {
        fields.push(("extractedFields".to_string(), json!({"x": "}\""})));
    }
    if rng.below(10) == 0 {
        // A second message: the last one counts, once.
        fields.insert(0, ("message".to_string(), json!(r#"{"status":"500"}"#)));
    }
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}: {v}", json!(k))).collect();
    format!("{{{}}}", body.join(", "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Messages handed over still escaped count exactly as when each is unescaped first: whatever
    /// the field order, the message shape, the line cap or where the chunk edges fall.
    #[test]
    fn escaped_messages_count_as_unescaped(seed in 1u64.., chunk in 1usize..700, window: bool) {
        let mut rng = Rng(seed);
        let events: Vec<_> = (0..rng.below(60)).map(|_| log_event(&mut rng)).collect();
        let text = format!(r#"{{"messageType": "DATA_MESSAGE", "logGroup": "g", "logEvents": [{}]}}"#, events.join(","));
        let limits = Limits { max_line_bytes: 200, ..Limits::default() };
        let window = window.then_some(1);
        let (mut fast, mut slow) = (Analyzer::new(LineParser::Auto, window), Analyzer::new(LineParser::Auto, window));
        let a = read_document(Trickle(text.as_bytes(), chunk), limits, &mut fast).map_err(|e| e.to_string());
        let b = read_document(Trickle(text.as_bytes(), chunk), limits, &mut Unescaped(&mut slow)).map_err(|e| e.to_string());
        prop_assert_eq!(a, b);
        prop_assert_eq!(outcome(Ok(fast)), outcome(Ok(slow)));
    }
}
