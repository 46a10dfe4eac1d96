//! Core throughput: decoding subscription batches, parsing lines per format (and with a compiled
//! template), tallying. `make bench` (or `cargo bench --bench core`).

#[path = "../tests/support/mod.rs"]
mod support;

use apigw_4xx::access_log::{parse_detected, LineParser, Template};
use apigw_4xx::count::analysis::Analyzer;
use apigw_4xx::count::tally::Tally;
use apigw_4xx::ingest::decode::{decode_data, Limits};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use support::*;

const MIX: [(u16, u64); 6] = [(200, 600), (201, 80), (400, 80), (403, 120), (404, 80), (429, 40)];

fn batch(n: u64) -> (String, usize) {
    let mix: Vec<(u16, u64)> = MIX.iter().map(|(s, k)| (*s, k * n / 1000)).collect();
    let p = payload("/aws/apigateway/bench", &events(Format::ConsoleJson, &statuses(&mix), T0, 20));
    let inner = p.len();
    let event: serde_json::Value = serde_json::from_str(&subscription_event(&p)).expect("event");
    (event["awslogs"]["data"].as_str().unwrap_or_default().to_string(), inner)
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode+parse+tally");
    g.sample_size(20);
    for n in [1_000u64, 10_000, 100_000] {
        let (data, inner) = batch(n);
        g.throughput(Throughput::Bytes(inner as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &data, |b, data| {
            b.iter(|| {
                let mut a = Analyzer::new(LineParser::Auto, Some(5));
                decode_data(black_box(data), Limits::default(), &mut a).expect("decodes");
                black_box(a.events)
            })
        });
    }
    g.finish();
}

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse line");
    for format in FORMATS {
        let lines: Vec<String> = (0..1000).map(|i| line(format, i, if i % 3 == 0 { 403 } else { 200 })).collect();
        g.throughput(Throughput::Elements(lines.len() as u64));
        g.bench_function(format!("{format:?}"), |b| {
            b.iter(|| {
                lines
                    .iter()
                    .filter(|l| matches!(parse_detected(black_box(l)), apigw_4xx::access_log::Line::Request(_)))
                    .count()
            })
        });
    }
    let template = Template::compile(
        r#"{ "requestId":"$context.requestId", "ip": "$context.identity.sourceIp", "caller":"$context.identity.caller", "user":"$context.identity.user", "requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod", "resourcePath":"$context.resourcePath", "status":"$context.status", "protocol":"$context.protocol", "responseLength":"$context.responseLength" }"#,
    )
    .expect("console JSON template");
    let lines: Vec<String> = (0..1000).map(|i| line(Format::ConsoleJson, i, 403)).collect();
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("ConsoleJson, compiled template", |b| {
        b.iter(|| {
            lines
                .iter()
                .filter(|l| matches!(template.parse(black_box(l)), apigw_4xx::access_log::Line::Request(_)))
                .count()
        })
    });
    g.finish();
}

fn tally(c: &mut Criterion) {
    let lines: Vec<String> =
        (0..10_000).map(|i| line(Format::ConsoleJson, i, [200, 403, 404, 400][i as usize % 4])).collect();
    let mut g = c.benchmark_group("tally");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("10k lines, 5-min windows", |b| {
        b.iter(|| {
            let mut t = Tally::new(Some(5));
            for (i, l) in lines.iter().enumerate() {
                t.add_line(&LineParser::Auto, Some(T0 + i as i64 * 20), l);
            }
            black_box(t.finish().overall.requests())
        })
    });
    g.finish();
}

criterion_group!(benches, decode, parse, tally);
criterion_main!(benches);
