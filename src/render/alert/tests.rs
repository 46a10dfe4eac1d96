use super::*;
use crate::count::values::shown;
use crate::judge::finding::{ClientErrorCode, Totals};
use crate::judge::severity::Severity;
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
    judge.decide(&(group.to_string(), start), &WindowState::default(), None, &t)
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
    assert_eq!(m.subject, "HIGH: 30.0% 4xx on /aws/apigateway/prod-access (5 min, 41 windows)");
    assert_eq!(m.attributes[0], ("severity", "HIGH".to_string()), "the most severe level");
    assert!(m.body.starts_with("HIGH Elevated Client Error Rate (4xx)\n\n30.0%"), "the latest HIGH finding first");
    assert!(m.body.contains("The finding above is the most severe of them:\nWindow: 2025-11-24T19:15:00Z to"));
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

/// A batch's evidence: `lines` JSON access-log lines (4xx ones add to the evidence), tallied as the
/// function tallies them.
fn evidence_of(lines: &[String]) -> BTreeMap<u16, Evidence> {
    let mut t = crate::count::tally::Tally::new(None);
    for line in lines {
        t.add_line(&crate::access_log::LineParser::Auto, None, line);
    }
    t.evidence
}

/// The rendered strings of a message: subject, attributes and body; for chat, every string of the
/// decoded custom notification instead of the raw JSON body.
fn rendered(m: &AlertMessage, format: AlertFormat) -> Vec<String> {
    fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            serde_json::Value::Object(o) => o.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut out = vec![m.subject.clone()];
    out.extend(m.attributes.iter().map(|(_, v)| v.clone()));
    match format {
        AlertFormat::Text => out.push(m.body.clone()),
        AlertFormat::Chat => {
            let v: serde_json::Value = serde_json::from_str(&m.body).expect("the chat body is JSON");
            strings(&v, &mut out);
        }
    }
    out
}

#[test]
fn a_mixed_digest_is_led_by_its_most_severe_window() {
    // A late HIGH window, an ELEVATED one after it, then the next window's recovery: one batch.
    let rules = Rules::default();
    let judge = Judge { rules: &rules, notify_recovery: true, groups: None };
    let totals = |requests: u64, forbidden: u64| {
        let mut t = Totals { requests, ..Totals::default() };
        t.client_errors.insert(ClientErrorCode::Status(403), forbidden);
        t
    };
    let key = |i: i64| (GROUP.to_string(), T + i * 300_000);
    let high = judge.decide(&key(0), &WindowState::default(), None, &totals(200, 100));
    let elevated = judge.decide(&key(1), &WindowState::default(), Some(&high.state), &totals(200, 30));
    let recovered = judge.decide(&key(2), &WindowState::default(), Some(&elevated.state), &totals(200, 2));
    let actions = [high.action, elevated.action, recovered.action];
    assert_eq!(
        actions,
        [Some(Marker::Alerted(Severity::High)), Some(Marker::Alerted(Severity::Elevated)), Some(Marker::Recovered)]
    );
    assert_eq!(lead(&[&high, &elevated, &recovered]).map(|d| d.key.1), Some(T), "the context is looked up for it");
    let lines: Vec<String> =
        (0..100).map(|_| r#"{"status":"403","apiKeyId":"k1","resourcePath":"/v1/orders"}"#.into()).collect();
    let evidence = evidence_of(&lines);
    for format in [AlertFormat::Text, AlertFormat::Chat] {
        let m = message(&[&high, &elevated, &recovered], &evidence, &style(format, "us-east-1", "q")).unwrap();
        assert_eq!(m.subject, "HIGH: 50.0% 4xx on /aws/apigateway/prod-access (5 min, 3 windows)");
        assert_eq!(m.attributes[0], ("severity", "HIGH".to_string()));
        let body = match format {
            AlertFormat::Text => m.body.clone(),
            AlertFormat::Chat => {
                let v: serde_json::Value = serde_json::from_str(&m.body).unwrap();
                assert_eq!(v["content"]["title"], m.subject.as_str());
                assert_eq!(v["metadata"]["additionalContext"]["severity"], "HIGH");
                v["content"]["description"].as_str().unwrap().to_string()
            }
        };
        let code = |v: &str| if format == AlertFormat::Chat { format!("`{v}`") } else { v.to_string() };
        assert!(
            body.starts_with(
                "HIGH Elevated Client Error Rate (4xx)\n\n50.0% of API Gateway requests returned 4xx errors (100 of 200 requests). Breakdown: 403 Forbidden (100).\n\nRecommendation: Review API"
            ),
            "{body}"
        );
        assert!(
            body.contains(&format!("Most 403s come from one consumer, api key {}: that key", code("k1"))),
            "{body}"
        );
        assert!(body.contains(&format!("\nTop 4xx routes: {} (100).", code("/v1/orders"))), "{body}");
        assert!(body.contains(&format!("\nConsumers: api key {} 100 of 100 4xx (100.0%).", code("k1"))), "{body}");
        assert!(!body.contains("No action needed") && !body.contains("Recovered:"), "{body}");
        assert!(body.contains("3 windows crossed a level in this batch:\n- 2025-11-24T16:00:00Z to 2025-11-24T16:05:00Z: HIGH, 50.0% (100 of 200 requests)\n- 2025-11-24T16:05:00Z to 2025-11-24T16:10:00Z: ELEVATED, 15.0% (30 of 200 requests)\n- 2025-11-24T16:10:00Z to 2025-11-24T16:15:00Z: RECOVERED, 1.0% (2 of 200 requests)"), "{body}");
        assert!(
            body.contains(
                "The finding above is the most severe of them:\nWindow: 2025-11-24T16:00:00Z to 2025-11-24T16:05:00Z"
            ),
            "{body}"
        );
    }
    // Recoveries alone still lead their own digest.
    let m = message(&[&recovered], &evidence, &style(AlertFormat::Text, "us-east-1", "q")).unwrap();
    assert_eq!(m.attributes[0], ("severity", "RECOVERED".to_string()));
    assert!(m.body.contains("No action needed") && m.body.contains("\n\nRecovered: the previous window alerted"));
}

/// Hostile values, each with the form a reader sees it in (in chat, inside a code span).
const HOSTILE: [(&str, &str); 9] = [
    ("<!channel>", "&lt;!channel&gt;"),
    ("<!here>", "&lt;!here&gt;"),
    ("<@U024BE7LH> <#C024BE7LR>", "&lt;@U024BE7LH&gt; &lt;#C024BE7LR&gt;"),
    ("<https://evil.example|rotate-key-now>", "&lt;https[:]//evil.example|rotate-key-now&gt;"),
    ("[k](https://evil)", "[k] (https[:]//evil)"),
    ("admin\u{202E}txt.exe", "admin\\u{202e}txt.exe"),
    (
        "a\u{2066}b\u{2069}c\u{200B}d\u{200D}e\u{FEFF}f\u{2028}g\u{061C}h\u{E0041}",
        "a\\u{2066}b\\u{2069}c\\u{200b}d\\u{200d}e\\u{feff}f\\u{2028}g\\u{61c}h\\u{e0041}",
    ),
    ("x```\nrm -rf /```", "x\\u{60}\\u{60}\\u{60}\\nrm -rf /\\u{60}\\u{60}\\u{60}"),
    ("*bold* _it_ ~s~ @here :fire: &lt;", "*bold* _it_ ~s~ @here :fire: &amp;lt;"),
];

/// Every request field that reaches a page, by a JSON key lines carry it under, and the lines that
/// show it: its evidence line, or for an identity the Consumers line and the Recommendation
/// sentence. User agents are counted (the CLI's JSON lists them) but no alert line shows them.
const FIELDS: [(&str, &[&str]); 9] = [
    ("resourcePath", &["Top 4xx routes: "]),
    ("httpMethod", &["4xx by method: "]),
    ("responseType", &["Gateway response types: "]),
    ("userAgent", &[]),
    ("principalId", IDENTITY),
    ("apiKeyId", IDENTITY),
    ("caller", IDENTITY),
    ("user", IDENTITY),
    ("sourceIp", IDENTITY),
];

const IDENTITY: &[&str] = &["Recommendation: ", "Consumers: "];

/// Characters that reorder or hide text, and controls other than the body's own line breaks.
fn hides(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{E0000}'..='\u{E007F}')
}

#[test]
fn hostile_request_text_is_inert_in_every_field_and_format() {
    let d = decision_at(GROUP, T, 200, &[(403, 100)]);
    let mut checked = 0;
    for (field, shows) in FIELDS {
        for (value, seen) in HOSTILE {
            let line = format!(r#"{{"status":"403","{field}":{}}}"#, serde_json::to_string(value).unwrap());
            let evidence = evidence_of(&vec![line; 100]);
            for format in [AlertFormat::Text, AlertFormat::Chat] {
                let m =
                    message(&[&d], &evidence, &style(format, "us-east-1", "fields @timestamp\n| filter code >= 400"))
                        .unwrap();
                let texts = rendered(&m, format);
                let all = texts.join("\n");
                let case = format!("{field} = {value:?} in {format:?}:\n{all}");
                assert!(!all.contains("<!") && !all.contains("<@") && !all.contains("<#"), "a live mention: {case}");
                assert!(!all.contains("<http") && !all.contains("]("), "a live link: {case}");
                assert!(!all.chars().any(hides), "a hiding character: {case}");
                if format == AlertFormat::Chat {
                    let v: serde_json::Value = serde_json::from_str(&m.body).unwrap();
                    let description = v["content"]["description"].as_str().unwrap();
                    assert_eq!(description.matches("```").count(), 2, "only the query's fence: {case}");
                    assert_eq!(description.matches('`').count() % 2, 0, "code spans balanced: {case}");
                }
                let shown = if format == AlertFormat::Chat { format!("`{seen}`") } else { seen.to_string() };
                for prefix in shows {
                    assert!(
                        all.lines().any(|l| l.starts_with(prefix) && l.contains(&shown)),
                        "recognisable as {shown} on the {prefix:?} line: {case}"
                    );
                }
                if shows.is_empty() {
                    assert!(!all.contains(&shown), "{case}");
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, FIELDS.len() * HOSTILE.len() * 2);
}

#[test]
fn plain_values_read_as_before() {
    assert_eq!(shown("/v1/orders/{id}", Markup::Text), "/v1/orders/{id}");
    assert_eq!(shown("Mozilla/5.0 (X11; Linux x86_64)", Markup::Text), "Mozilla/5.0 (X11; Linux x86_64)");
    assert_eq!(shown("k1", Markup::Chat), "`k1`");
    assert_eq!(shown(crate::count::values::OTHER_VALUES, Markup::Chat), "(other)", "our own bucket is no value");
}
