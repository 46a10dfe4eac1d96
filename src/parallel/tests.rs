use super::*;
use crate::decode::encode_data;
use crate::finding::Rules;
use crate::report::Report;
use crate::tally::MAX_DISTINCT_VALUES;
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
    let report = Report::new(&tally, &Rules::default());
    let evidence: Vec<_> = tally
        .evidence
        .iter()
        .map(|(s, e)| {
            let all = usize::MAX;
            (*s, e.methods.top(all), e.routes.top(all), e.response_types.top(all))
        })
        .map(|e| format!("{e:?}"))
        .collect();
    format!(
        "{}\n{}\n{:?} {:?} untimed={} not_requests={} control={control} events={events} groups={groups:?}\n{evidence:?}",
        report.to_text(&Rules::default()),
        serde_json::to_string(&report.to_json()).unwrap(),
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
