use super::*;
use crate::judge::finding::{ClientErrorCode, Totals};
use crate::window::decide::Judge;
use crate::window::state::WindowState;
use std::collections::BTreeMap;

const GROUP: &str = "/aws/apigateway/prod-access";
const T: i64 = 1_764_000_000_000;

fn decision_at(group: &str, start: i64, requests: u64, codes: &[(u16, u64)]) -> WindowDecision {
    let mut t = Totals { requests, ..Totals::default() };
    for (c, n) in codes {
        t.client_errors.insert(ClientErrorCode::Status(*c), *n);
    }
    let rules = Rules::default();
    let judge = Judge { rules: &rules, notify_recovery: true, groups: None };
    judge.decide(&(group.to_string(), start), &WindowState::default(), None, &t, None)
}

fn decision() -> WindowDecision {
    decision_at(GROUP, T, 15_000, &[(403, 2891), (400, 1204), (404, 585)])
}

fn style(format: AlertFormat, region: &str, query: &str) -> Style<'static> {
    static RULES: std::sync::OnceLock<Rules> = std::sync::OnceLock::new();
    let query: &'static str = Box::leak(query.to_string().into_boxed_str());
    let region: &'static str = Box::leak(region.to_string().into_boxed_str());
    Style { rules: RULES.get_or_init(Rules::default), window_minutes: 5, format, query, region, context: &[] }
}

fn reference_alert(format: AlertFormat, region: &str) -> AlertMessage {
    let query = crate::render::insights::query(&Default::default(), None);
    message(&[&decision()], &BTreeMap::new(), &style(format, region, &query)).unwrap()
}

#[test]
fn text_alert_carries_the_reference_finding() {
    let m = reference_alert(AlertFormat::Text, "eu-west-1");
    assert_eq!(m.subject, "HIGH: 31.2% 4xx on /aws/apigateway/prod-access (5 min)");
    assert!(m.body.starts_with("HIGH Elevated Client Error Rate (4xx)\n\n31.2% of API Gateway requests"));
    assert!(m.body.contains("Window: 2025-11-24T16:00:00Z to 2025-11-24T16:05:00Z (UTC, 5 min)"));
    assert!(m.body.contains("| filter code >= 400 and code <= 499"));
    assert!(m.body.contains("https://eu-west-1.console.aws.amazon.com/"));
    assert_eq!(m.attributes, vec![("severity", "HIGH".into()), ("logGroup", GROUP.into())]);
}

#[test]
fn chat_alert_is_a_custom_notification() {
    let m = reference_alert(AlertFormat::Chat, "us-east-1");
    let v: serde_json::Value = serde_json::from_str(&m.body).unwrap();
    assert_eq!((v["version"].as_str(), v["source"].as_str()), (Some("1.0"), Some("custom")));
    assert_eq!(v["content"]["textType"], "client-markdown");
    assert_eq!(v["content"]["title"], m.subject);
    assert!(v["content"]["description"].as_str().unwrap().contains("31.2%"));
}

#[test]
fn subject_is_short_ascii_one_line() {
    let long = format!("/aws/apigateway/{}\n-é-end", "x".repeat(200));
    let s = subject("ELEVATED", "12.5%", &long, 60);
    assert!(s.len() <= 99 && s.is_ascii() && !s.contains('\n'), "{s}");
    assert!(s.starts_with("ELEVATED: 12.5% 4xx on ...") && s.ends_with("?-?-end (60 min)"), "{s}");
}

#[test]
fn several_windows_make_one_digest() {
    let ds: Vec<WindowDecision> = (0..40)
        .map(|i| decision_at(GROUP, T + i * 300_000, 200, &[(403, if i == 39 { 60 } else { 100 })]))
        .chain([decision_at(GROUP, T + 40 * 300_000, 200, &[(403, 30)])])
        .collect();
    let refs: Vec<&WindowDecision> = ds.iter().collect();
    let m = message(&refs, &BTreeMap::new(), &style(AlertFormat::Text, "us-east-1", "q")).unwrap();
    assert_eq!(m.subject, "HIGH: 15.0% 4xx on /aws/apigateway/prod-access (5 min, 41 windows)");
    assert_eq!(m.attributes[0], ("severity", "HIGH".to_string()), "the most severe level");
    assert!(m.body.starts_with("ELEVATED Elevated Client Error Rate (4xx)\n\n15.0%"), "the latest finding first");
    assert!(m.body.contains("41 windows crossed a level in this batch:\n- 2025-11-24T16:00:00Z to 2025-11-24T16:05:00Z: HIGH, 50.0% (100 of 200 requests)"));
    assert_eq!(m.body.matches("\n- 20").count(), MAX_LISTED_WINDOWS.min(41));
    assert!(m.body.contains(
        "Logs Insights query (log group /aws/apigateway/prod-access, 2025-11-24T16:00:00Z to 2025-11-24T19:25:00Z)"
    ));
    assert!(m.body.len() < 16 * 1024);
}

#[test]
fn digest_lists_are_capped() {
    let ds: Vec<WindowDecision> = (0..500).map(|i| decision_at(GROUP, T + i * 300_000, 200, &[(403, 100)])).collect();
    let refs: Vec<&WindowDecision> = ds.iter().collect();
    let m = message(&refs, &BTreeMap::new(), &style(AlertFormat::Text, "us-east-1", "q")).unwrap();
    assert!(m.body.contains("\n- … and 450 more windows"));
    assert!(m.body.len() < MAX_BODY_BYTES);
}

#[test]
fn control_characters_cannot_add_lines() {
    let group = "/aws/apigateway/evil\nHIGH: fake line\u{1b}[31m";
    let d = decision_at(group, T, 200, &[(403, 100)]);
    let m = message(&[&d], &BTreeMap::new(), &style(AlertFormat::Text, "us-east-1", "q")).unwrap();
    assert!(m.body.contains("Log group: /aws/apigateway/evil\\nHIGH: fake line\\u{1b}[31m\n"), "{}", m.body);
    assert!(!m.body.lines().any(|l| l.starts_with("HIGH: fake")));
    assert!(!m.subject.contains('\n'));
    assert_eq!(m.attributes[1].1, "/aws/apigateway/evil\\nHIGH: fake line\\u{1b}[31m");
}

#[test]
fn console_link_encodes_the_whole_name() {
    let link = console_link("us-east-1", "/aws/api gateway/prod#1?x=%");
    assert!(
        link.ends_with("#logsV2:log-groups/log-group/$252Faws$252Fapi$2520gateway$252Fprod$25231$253Fx$253D$2525"),
        "{link}"
    );
    assert_eq!(link.matches('#').count(), 1, "the name's # is encoded");
}

#[test]
fn oversized_bodies_are_cut() {
    let d = decision();
    let m = message(&[&d], &BTreeMap::new(), &style(AlertFormat::Text, "us-east-1", &"q".repeat(300 * 1024))).unwrap();
    assert!(m.body.len() <= MAX_BODY_BYTES && m.body.ends_with("size limit]"));
    let chat =
        message(&[&d], &BTreeMap::new(), &style(AlertFormat::Chat, "us-east-1", &"q".repeat(300 * 1024))).unwrap();
    assert!(chat.body.len() < MAX_BODY_BYTES + 4096);
    assert!(serde_json::from_str::<serde_json::Value>(&chat.body).is_ok());
}
