//! Whole-function measurements without AWS: the real handler over the in-memory CloudWatch and SNS
//! (`apigw_4xx::function::memory`), the clock moved by the program. BENCHMARKS.md ("The window ledger")
//! records the results and the commands.
//!
//! - `function_bench gen-minutes N FILE`: writes a subscription event of N events, one per
//!   distinct minute going back from now (most are older than CloudWatch accepts).
//! - `function_bench gen-big N FILE`: N events over the last 13 days, half 4xx on distinct long
//!   routes (N = 270,000 is just under the 64 MiB cap once decompressed).
//! - `function_bench run FILE`: handles that event once, EMF lines to standard output; measure it
//!   with `/usr/bin/time -v` (peak RSS) and send stdout to /dev/null.
//! - `function_bench cost N [K]`: N batches of a busy API, one a second, on one warm container (a
//!   new, cold one every K batches when K is given: a handover): prints the AWS calls, the metrics
//!   GetMetricData was asked for, the EMF bytes, per 1,000 batches, and the metric series stored
//!   (those tagged with a container id apart).

#[path = "../tests/support/mod.rs"]
mod support;

use apigw_4xx::function::emf::{CapturedEmf, StdoutEmf};
use apigw_4xx::function::memory::{MemoryAlerts, MemoryMetrics};
use apigw_4xx::function::stores::{AlertSink, MetricsStore};
use apigw_4xx::function::{system_now, Function, IncomingEvent, Invocation};
use std::sync::Arc;
use support::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["gen-minutes", n, file] => {
            let n: i64 = n.parse()?;
            let now = system_now() / 60_000 * 60_000;
            let evs: Vec<(i64, String)> = (0..n)
                .map(|i| (now - i * 60_000, line(Format::ConsoleJson, i as u64, 200 + 203 * (i % 2) as u16)))
                .collect();
            std::fs::write(file, subscription_event(&payload("/aws/apigateway/minutes", &evs)))?;
        }
        ["gen-big", n, file] => {
            // Events over the last 13 days (every minute in range), half of them 4xx on distinct
            // 150-character routes: the buckets and the evidence maps at their largest.
            let n: i64 = n.parse()?;
            let now = system_now() / 60_000 * 60_000;
            let span = 13 * 24 * 60;
            let evs: Vec<(i64, String)> = (0..n)
                .map(|i| {
                    let status = if i % 2 == 0 { 404 } else { 200 };
                    let route = format!("/v1/{:0>146}", i % 20_000);
                    let line = format!(
                        r#"{{"requestId":"{i:016x}","ip":"203.0.113.{}","httpMethod":"GET","resourcePath":"{route}","status":"{status}","protocol":"HTTP/1.1","responseLength":"42"}}"#,
                        i % 256
                    );
                    (now - (i % span) * 60_000, line)
                })
                .collect();
            let p = payload("/aws/apigateway/big", &evs);
            eprintln!("decompressed payload: {} bytes", p.len());
            std::fs::write(file, subscription_event(&p))?;
        }
        ["run", file] => {
            let event: IncomingEvent = serde_json::from_slice(&std::fs::read(file)?)?;
            let f = Function::new(config(&[]), MemoryMetrics::default(), MemoryAlerts::default(), StdoutEmf);
            let s = rt.block_on(f.handle(&event))?;
            eprintln!("{}", serde_json::to_string(&s)?);
        }
        ["cost", n, ref handover @ ..] => {
            let n: i64 = n.parse()?;
            let every: Option<i64> = handover.first().map(|k| k.parse()).transpose()?;
            let metrics = Arc::new(MemoryMetrics::default());
            let alerts = Arc::new(MemoryAlerts::default());
            let cold = || Function::new(config(&[]), metrics.clone(), alerts.clone(), CapturedEmf::default());
            let mut f = cold();
            let start = system_now() - 2 * 3_600_000;
            // A busy API: 200 requests a second, 5% 4xx over four codes (an OK rate: no alerts).
            let mix = statuses(&[(200, 185), (201, 5), (403, 4), (404, 3), (400, 2), (429, 1)]);
            let (mut emf_bytes, mut emf_docs) = (0, 0);
            // Counts are extracted 15 s after they are printed: at a handover the old container's
            // last counts are still in flight.
            let mut in_flight: std::collections::VecDeque<(i64, Vec<String>)> = Default::default();
            for i in 0..n {
                if every.is_some_and(|k| i > 0 && i % k == 0) {
                    f = cold();
                }
                let now = start + i * 1000;
                while in_flight.front().is_some_and(|(due, _)| *due <= now) {
                    metrics.apply_emf(&in_flight.pop_front().map(|(_, l)| l).unwrap_or_default())?;
                }
                let evs = events(Format::ConsoleJson, &mix, now - 3000, 5);
                let event: IncomingEvent =
                    serde_json::from_str(&subscription_event(&payload("/aws/apigateway/busy", &evs)))?;
                let s = rt.block_on(f.handle_at(&event, Invocation::at(now)))?;
                emf_bytes += s.emf_bytes;
                emf_docs += s.emf_documents;
                in_flight.push_back((now + 15_000, f.emf().take()));
            }
            for (_, lines) in in_flight {
                metrics.apply_emf(&lines)?;
            }
            let (series, tagged) = metrics.series("Writer");
            let per = |x: u64| x as f64 * 1000.0 / n as f64;
            println!(
                "{n} batches: per 1,000 batches: {:.1} AWS calls ({:.1} GetMetricData, {:.1} metrics requested, {:.1} PutMetricData, {:.1} Publish), {:.0} EMF documents, {:.0} EMF bytes ({:.0} bytes a batch); {series} metric series, {tagged} of them tagged",
                per(metrics.calls() + alerts.calls()),
                per(metrics.reads()),
                per(metrics.metrics_requested()),
                per(metrics.puts()),
                per(alerts.calls()),
                per(emf_docs),
                per(emf_bytes),
                emf_bytes as f64 / n as f64,
            );
        }
        _ => return Err("usage: function_bench gen-minutes N FILE | gen-big N FILE | run FILE | cost N [K]".into()),
    }
    Ok(())
}
