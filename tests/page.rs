//! What a page says, end to end through the handler (in-memory CloudWatch and SNS, as in
//! tests/function.rs): a digest is led by its most severe window, and text that came from requests
//! reaches the page inert. The table tests of both live beside the renderer
//! (`src/render/alert/tests.rs`); these check that the handler hands the renderer what it needs.

mod support;

use apigw_4xx::function::config::Config;
use apigw_4xx::function::emf::CapturedEmf;
use apigw_4xx::function::memory::{MemoryAlerts, MemoryMetrics};
use apigw_4xx::function::{Function, IncomingEvent, Invocation};
use std::sync::Arc;
use support::*;

const GROUP: &str = "/aws/apigateway/prod-access";

fn function(alerts: &Arc<MemoryAlerts>, format: &str) -> Function<Arc<MemoryMetrics>, Arc<MemoryAlerts>, CapturedEmf> {
    let vars = [("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"), ("ALERT_FORMAT", format)];
    let config = Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap();
    Function::new(config, Arc::default(), alerts.clone(), CapturedEmf::default())
}

/// 200 JSON lines in the window starting at `start`, `forbidden` of them 403 carrying `fields`.
fn window_lines(start: i64, forbidden: usize, fields: &str) -> Vec<(i64, String)> {
    (0..200)
        .map(|i| {
            let status = if i < forbidden { 403 } else { 200 };
            let extra = if i < forbidden { fields } else { "" };
            (start + i as i64, format!(r#"{{"requestId":"{i}","status":"{status}"{extra}}}"#))
        })
        .collect()
}

fn event(lines: &[(i64, String)]) -> IncomingEvent {
    serde_json::from_str(&subscription_event(&payload(GROUP, lines))).unwrap()
}

#[tokio::test]
async fn a_late_high_window_leads_the_digest_over_the_next_windows_recovery() {
    let alerts = Arc::<MemoryAlerts>::default();
    let f = function(&alerts, "text");
    let w = recent_window();
    let fields = r#","apiKeyId":"k1","resourcePath":"/v1/orders""#;
    // Window w alerts ELEVATED (15%).
    f.handle_at(&event(&window_lines(w, 30, fields)), Invocation::at(w + 60_000)).await.unwrap();
    assert_eq!(alerts.sent().len(), 1);
    // One batch: late lines take w to HIGH (200 of 400), the window before it is ELEVATED, and the
    // window after it is OK: its recovery notice is due.
    let mut lines = window_lines(w - 300_000, 30, fields);
    lines.extend(window_lines(w + 1000, 170, fields));
    lines.extend(window_lines(w + 300_000, 2, fields));
    f.handle_at(&event(&lines), Invocation::at(w + 400_000)).await.unwrap();
    let sent = alerts.sent();
    assert_eq!(sent.len(), 2, "one digest for the batch");
    let m = &sent[1];
    assert!(m.subject.starts_with("HIGH: 50.0% 4xx on ") && m.subject.ends_with("(5 min, 3 windows)"), "{}", m.subject);
    assert_eq!(m.attributes[0], ("severity", "HIGH".to_string()));
    assert!(
        m.body.starts_with("HIGH Elevated Client Error Rate (4xx)\n\n50.0% of API Gateway requests returned 4xx errors (200 of 400 requests). Breakdown: 403 Forbidden (200).\n\nRecommendation: "),
        "{}",
        m.body
    );
    assert!(m.body.contains("Most 403s come from one consumer, api key k1:"), "{}", m.body);
    assert!(m.body.contains("\nConsumers: api key k1 "), "{}", m.body);
    assert!(m.body.contains(": ELEVATED, 15.0% (30 of 200 requests)"), "{}", m.body);
    assert!(m.body.contains(": RECOVERED, 1.0% (2 of 200 requests)"), "the recovery is listed: {}", m.body);
    assert!(!m.body.contains("No action needed") && !m.body.contains("Recovered:"), "{}", m.body);
}

#[tokio::test]
async fn hostile_request_text_reaches_the_chat_page_inert() {
    let alerts = Arc::<MemoryAlerts>::default();
    let f = function(&alerts, "chat");
    let w = recent_window();
    let fields = concat!(
        r#","principalId":"<!channel>","userAgent":"<!here>","resourcePath":"[k](https://evil)","#,
        r#""httpMethod":"<https://evil.example|rotate-key-now>","responseType":"x```y"#,
        "\u{202E}",
        r#"z""#
    );
    f.handle_at(&event(&window_lines(w, 100, fields)), Invocation::at(w + 60_000)).await.unwrap();
    let sent = alerts.sent();
    assert_eq!(sent.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&sent[0].body).unwrap();
    let description = v["content"]["description"].as_str().unwrap();
    assert!(
        !description.contains("<!") && !description.contains("<http") && !description.contains("]("),
        "{description}"
    );
    assert!(!description.contains('\u{202E}'), "{description}");
    assert_eq!(description.matches("```").count(), 2, "only the query's fence: {description}");
    assert!(description.contains("one consumer, principal `&lt;!channel&gt;`:"), "{description}");
    assert!(description.contains("Top 4xx routes: `[k] (https[:]//evil)` (100)."), "{description}");
    assert!(
        description.contains("4xx by method: `&lt;https[:]//evil.example|rotate-key-now&gt;` (100)."),
        "{description}"
    );
    assert!(
        description.contains("Gateway response types: `x\\u{60}\\u{60}\\u{60}y\\u{202e}z` (100)."),
        "{description}"
    );
}
