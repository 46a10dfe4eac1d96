use super::*;

pub(crate) const REFERENCE: &str = "HIGH Elevated Client Error Rate (4xx)

31.2% of API Gateway requests returned 4xx errors (4,680 of 15,000 requests). Breakdown: 403 Forbidden (2,891), 400 Bad Request (1,204), 404 Not Found (585).

Recommendation: Review API request validation rules and model schemas. Check authentication/authorization configuration. The high 403 count suggests API key or IAM policy misconfiguration.";

fn counts(pairs: &[(u16, u64)]) -> Counts {
    let mut c = Counts::default();
    for (s, n) in pairs {
        c.add_status(*s, *n);
    }
    c
}

#[test]
fn reference_example_exactly() {
    let c = counts(&[(200, 10_320), (403, 2891), (400, 1204), (404, 585)]);
    let rules = Rules::default();
    let f = Finding::new(&Totals::from(&c), &BTreeMap::new(), &rules);
    assert_eq!(f.to_text(&rules, Markup::Text), REFERENCE);
}

#[test]
fn ignored_codes_leave_the_rate_but_stay_listed() {
    let c = counts(&[(200, 850), (404, 100), (403, 50)]);
    let rules = Rules { ignored: "404".parse().unwrap(), ..Rules::default() };
    let f = Finding::new(&Totals::from(&c), &BTreeMap::new(), &rules);
    assert_eq!((f.rate.client_errors, f.rate.requests), (50, 900));
    assert_eq!(f.severity, Severity::Ok);
    assert!(
        f.to_text(&rules, Markup::Text).contains("Breakdown: 403 Forbidden (50), 404 Not Found (100, ignored)."),
        "{}",
        f.to_text(&rules, Markup::Text)
    );
}

#[test]
fn ok_and_insufficient_say_so() {
    let rules = Rules::default();
    let ok = Finding::new(&Totals::from(&counts(&[(200, 990), (404, 10)])), &BTreeMap::new(), &rules);
    assert!(ok.to_text(&rules, Markup::Text).starts_with(
        "OK Client Error Rate (4xx)\n\n1.0% of API Gateway requests returned 4xx errors (10 of 1,000 requests)."
    ));
    assert!(ok
        .to_text(&rules, Markup::Text)
        .ends_with("No action needed: the rate is at or below the ELEVATED level (10%)."));
    let few = Finding::new(&Totals::from(&counts(&[(200, 1), (403, 1)])), &BTreeMap::new(), &rules);
    assert_eq!(few.severity, Severity::InsufficientData);
    assert!(few.to_text(&rules, Markup::Text).ends_with("Too few requests to judge: 2 counted, 100 needed."));
}

#[test]
fn other_4xx_from_metrics_is_a_bucket() {
    let mut t = Totals { requests: 1000, ..Totals::default() };
    t.client_errors.insert(ClientErrorCode::Other4xx, 300);
    t.client_errors.insert(ClientErrorCode::Status(403), 100);
    let rules = Rules::default();
    let f = Finding::new(&t, &BTreeMap::new(), &rules);
    assert_eq!(f.severity, Severity::High);
    assert!(f.to_text(&rules, Markup::Text).contains("Breakdown: Other 4xx (300), 403 Forbidden (100)."));
}

#[test]
fn thousands_separators() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(1_234_567), "1,234,567");
}

#[test]
fn a_spike_escalates_an_ok_finding_with_its_recommendation() {
    let t = Totals::from(&counts(&[(200, 970), (403, 30)]));
    let ok = Finding::new(&t, &BTreeMap::new(), &Rules::default());
    assert_eq!((ok.severity, ok.recommendation.is_none()), (Severity::Ok, true));
    let spiked = ok.escalated(Severity::Elevated, &BTreeMap::new());
    assert_eq!(spiked.severity, Severity::Elevated);
    assert!(spiked
        .to_text(&Rules::default(), Markup::Text)
        .starts_with("ELEVATED Elevated Client Error Rate (4xx)\n\n3.0% of API Gateway"));
    assert!(spiked.recommendation.unwrap().text(Markup::Text).contains("The high 403 count"));
}

/// Evidence is asked for where a finding alerts: the whole range when the finding over it does,
/// else each run of alerting windows (clipped to the range); nothing when nothing alerts.
#[test]
fn evidence_spans_cover_what_alerts() {
    let p = crate::access_log::LineParser::Auto;
    let minute = 60_000;
    let mut t = Tally::new(Some(1));
    // Ten minutes of 200 requests each; minutes 3, 4 and 7 are 30% 403.
    for m in 0..10i64 {
        for k in 0..200i64 {
            let status = if [3, 4, 7].contains(&m) && k < 60 { 403 } else { 200 };
            t.add_line(&p, Some(m * minute + k), &format!(r#"{{"status":"{status}"}}"#));
        }
    }
    let t = t.finish();
    let range = TimeRange { start: 30_000, end: 10 * minute - 1 };
    let rules = Rules::default();
    assert_eq!(
        evidence_spans(&t, &rules, range),
        [TimeRange { start: 3 * minute, end: 5 * minute - 1 }, TimeRange { start: 7 * minute, end: 8 * minute - 1 }],
        "two runs of alerting windows, the overall 9% does not alert"
    );
    let low = Rules {
        thresholds: crate::judge::severity::Thresholds { elevated: "5".parse().unwrap(), ..Default::default() },
        ..Rules::default()
    };
    assert_eq!(evidence_spans(&t, &low, range), [range], "the finding over the range alerts");
    let quiet = Rules { ignored: "403".parse().unwrap(), ..Rules::default() };
    assert_eq!(evidence_spans(&t, &quiet, range), []);
    let clipped = TimeRange { start: 3 * minute + 500, end: 7 * minute + 9 };
    assert_eq!(evidence_spans(&t, &rules, clipped)[0].start, clipped.start);
    assert_eq!(evidence_spans(&t, &rules, clipped)[1].end, clipped.end);
}
