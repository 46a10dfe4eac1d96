//! The naive Rust way, a benchmark yardstick: `aws_lambda_events` decodes the whole event (base64,
//! gunzip, JSON, no size cap), then `serde_json` parses each line into a `Value`.

use aws_lambda_events::event::cloudwatch_logs::LogsEvent;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut by_status = [0u64; 600];
    for path in std::env::args().skip(1) {
        let event: LogsEvent = serde_json::from_slice(&std::fs::read(path)?)?;
        for e in &event.aws_logs.data.log_events {
            let line: serde_json::Value = match serde_json::from_str(&e.message) {
                Ok(v) => v,
                Err(_) => continue,
            };
            if let Some(code) = line["status"].as_str().and_then(|s| s.parse::<usize>().ok()).filter(|c| *c < 600) {
                by_status[code] += 1;
            }
        }
    }
    let total: u64 = by_status.iter().sum();
    let c4: u64 = by_status[400..500].iter().sum();
    println!("total={total} 4xx={c4}");
    Ok(())
}
