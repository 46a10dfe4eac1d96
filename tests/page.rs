//! What a page says, end to end: the function against the AWS emulator, alerts read back from SNS.
//! A digest is led by its most severe window, and text that came from requests reaches the page
//! inert. The table tests of both live beside the renderer (`src/render/alert/tests.rs`); these
//! check that the handler hands the renderer what it needs and that SNS carries the result.

mod support;

use support::env::{run, Env};
use support::*;

/// 200 JSON lines from `start`, one a millisecond, the first `forbidden` of them 403 carrying
/// `fields` (each `,"key":"value"`).
fn window_lines(start: i64, forbidden: usize, fields: &str) -> Vec<(i64, String)> {
    (0..200)
        .map(|i| {
            let (status, extra) = if i < forbidden { (403, fields) } else { (200, "") };
            (start + i as i64, format!(r#"{{"requestId":"{i}","status":"{status}"{extra}}}"#))
        })
        .collect()
}

#[tokio::test]
async fn a_late_high_window_leads_the_digest_over_the_next_windows_recovery() {
    let e = Env::new("mixed-digest").await;
    let f = e.function(&[]);
    let w = recent_window();
    let fields = r#","apiKeyId":"k1","resourcePath":"/v1/orders""#;
    // Window w alerts ELEVATED (15%).
    run(&f, &subscription(&e.group, &window_lines(w, 30, fields))).await.unwrap();
    assert_eq!(e.alerts().len(), 1);
    // One batch: the window before w is ELEVATED, late lines take w to HIGH (200 of 400), and the
    // window after w is OK: its recovery notice is due.
    let mut lines = window_lines(w - 300_000, 30, fields);
    lines.extend(window_lines(w + 1000, 170, fields));
    lines.extend(window_lines(w + 300_000, 2, fields));
    run(&f, &subscription(&e.group, &lines)).await.unwrap();
    let alerts = e.alerts();
    assert_eq!(alerts.len(), 2, "one digest for the batch");
    let m = &alerts[1];
    assert_eq!(m.subject, format!("HIGH: 50.0% 4xx on {} (5 min, 3 windows)", e.group));
    assert_eq!(m.attribute("severity"), Some("HIGH"));
    let body = &m.message;
    assert!(
        body.starts_with("HIGH Elevated Client Error Rate (4xx)\n\n50.0% of API Gateway requests returned 4xx errors (200 of 400 requests). Breakdown: 403 Forbidden (200).\n\nRecommendation: "),
        "{body}"
    );
    assert!(body.contains("Most 403s come from one consumer, api key k1:"), "{body}");
    assert!(body.contains("\nConsumers: api key k1 "), "{body}");
    assert!(body.contains(": ELEVATED, 15.0% (30 of 200 requests)"), "{body}");
    assert!(body.contains(": RECOVERED, 1.0% (2 of 200 requests)"), "the recovery is listed: {body}");
    assert!(!body.contains("No action needed") && !body.contains("Recovered:"), "{body}");
}

#[tokio::test]
async fn hostile_request_text_reaches_the_chat_page_inert() {
    let e = Env::new("hostile-text").await;
    let f = e.function(&[("ALERT_FORMAT", "chat")]);
    let fields = concat!(
        r#","principalId":"<!channel>","userAgent":"<!here>","resourcePath":"[k](https://evil)","#,
        r#""httpMethod":"<https://evil.example|rotate-key-now>","responseType":"x```y"#,
        "\u{202E}",
        r#"z""#
    );
    run(&f, &subscription(&e.group, &window_lines(recent_window(), 100, fields))).await.unwrap();
    let alerts = e.alerts();
    assert_eq!(alerts.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&alerts[0].message).unwrap();
    let d = v["content"]["description"].as_str().unwrap();
    assert!(!d.contains("<!") && !d.contains("<http") && !d.contains("]("), "{d}");
    assert!(!d.contains('\u{202E}'), "{d}");
    assert_eq!(d.matches("```").count(), 2, "only the query's fence: {d}");
    assert!(d.contains("one consumer, principal `&lt;!channel&gt;`:"), "{d}");
    assert!(d.contains("Top 4xx routes: `[k] (https[:]//evil)` (100)."), "{d}");
    assert!(d.contains("4xx by method: `&lt;https[:]//evil.example|rotate-key-now&gt;` (100)."), "{d}");
    assert!(d.contains("Gateway response types: `x\\u{60}\\u{60}\\u{60}y\\u{202e}z` (100)."), "{d}");
}
