//! What to do about a 4xx finding, keyed on the dominant status code (the guide in REFERENCE §3),
//! sharpened by what the logs show (methods, gateway response types) when they carry it.

use crate::count::consumers::ConsumerKind;
use crate::count::tally::Evidence;
use crate::count::values::{shown, Markup};

/// Said of every 4xx finding before the code-specific advice.
const GENERAL: &str =
    "Review API request validation rules and model schemas. Check authentication/authorization configuration.";

/// What to do about a finding, kept in parts until it is written: the advice is ours, while the
/// consumer behind most of the dominant code's 4xx came from requests and is written by [`shown`]
/// in the markup of the page it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recommendation {
    dominant: u16,
    /// The general advice, the cause the dominant code suggests, and what methods and gateway
    /// response types sharpen it to.
    advice: String,
    consumer: Option<DominantConsumer>,
}

/// The consumer behind more than half of the dominant code's 4xx.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DominantConsumer {
    kind: ConsumerKind,
    /// As kept (cut and control characters escaped), not yet [`shown`].
    value: String,
    /// The 4xx look like path probing: 404s, or 403s with `MISSING_AUTHENTICATION_TOKEN` among them.
    probing: bool,
}

/// The recommendation for a finding whose most frequent 4xx is `dominant`.
pub fn recommendation(dominant: u16, evidence: Option<&Evidence>) -> Recommendation {
    let mut advice = format!("{GENERAL} {}", by_code(dominant));
    if let Some(detail) = evidence.and_then(|e| from_evidence(dominant, e)) {
        advice.push(' ');
        advice.push_str(detail);
    }
    let consumer = evidence.and_then(|e| {
        let c = e.consumers.dominant()?;
        let probing = dominant == 404 || e.response_types.get("MISSING_AUTHENTICATION_TOKEN") > 0;
        Some(DominantConsumer { kind: c.kind, value: c.value.to_string(), probing })
    });
    Recommendation { dominant, advice, consumer }
}

impl Recommendation {
    /// The recommendation as one paragraph of `markup`.
    pub fn text(&self, markup: Markup) -> String {
        match &self.consumer {
            None => self.advice.clone(),
            Some(c) => {
                let who = format!("{} {}", c.kind.label(), shown(&c.value, markup));
                format!("{} {}", self.advice, from_consumer(self.dominant, c, &who))
            }
        }
    }
}

/// A sharper cause when one consumer (`who`, as written) is behind most of the dominant code's
/// responses.
fn from_consumer(dominant: u16, c: &DominantConsumer, who: &str) -> String {
    use ConsumerKind::{ApiKey, SourceIp};
    match (dominant, c.kind) {
        (403, ApiKey) => format!(
            "Most 403s come from one consumer, {who}: that key or its usage plan has not propagated to it (check that the key is enabled, in a usage plan associated with this stage, and that the consumer sends the current key)."
        ),
        (404 | 403, SourceIp) if c.probing => format!(
            "Most {dominant}s come from one source, {who}: probably a scanner probing paths; consider an AWS WAF rate-based rule (or an IP block) in front of the API."
        ),
        (429, _) => format!("Most 429s come from one consumer, {who}: it exceeds its throttling or usage-plan limits."),
        (_, _) => format!("Most {dominant}s come from one consumer, {who}: start with what it sends."),
    }
}

/// The codes with advice of their own, and the cause each suggests: also the codes tracked with a
/// metric of their own by default, so that every alert's dominant code can be named.
const CAUSES: [(u16, &str); 10] = [
    (400, "request validators or JSON Schema models reject what clients send (a new required field, or a schema stricter than the clients)"),
    (401, "the authorizer rejects tokens: check the Cognito user pool and app client IDs, token expiry, and the Lambda authorizer"),
    (403, "API key or IAM policy misconfiguration"),
    (404, "clients call deprecated or undefined routes: answer retired routes with 301 or 410"),
    (405, "clients use a method the route does not define"),
    (409, "conflicting writes: check client retries and idempotency keys"),
    (413, "payloads over the API's size limit: check what clients upload"),
    (415, "requests with a Content-Type the method does not accept: check the clients' headers and the integration's content handling"),
    (422, "the backend rejects request content as invalid: compare client payloads with the backend's validation"),
    (429, "throttling: check stage and method throttling, usage-plan quotas and the account-level limit"),
];

/// The 4xx codes with advice of their own ([`CAUSES`]), in order.
pub const ADVISED_CODES: [u16; CAUSES.len()] = {
    let mut out = [0; CAUSES.len()];
    let mut i = 0;
    while i < CAUSES.len() {
        out[i] = CAUSES[i].0;
        i += 1;
    }
    out
};

fn by_code(code: u16) -> String {
    match CAUSES.iter().find(|(c, _)| *c == code) {
        Some((_, cause)) => format!("The high {code} count suggests {cause}."),
        None => format!("Investigate the {code} responses first: they are the most frequent 4xx."),
    }
}

/// A sharper cause when most of the dominant code's responses share a method or response type.
fn from_evidence(dominant: u16, e: &Evidence) -> Option<&'static str> {
    let most = |counts: &crate::count::values::ValueCounts, value: &str| {
        let n = counts.get(value);
        n > 0 && n * 2 > counts.total()
    };
    match dominant {
        403 if most(&e.methods, "OPTIONS") => Some(
            "Most 403s answer OPTIONS requests: CORS preflight is not configured (enable CORS on the resources, or add OPTIONS methods).",
        ),
        403 if most(&e.response_types, "MISSING_AUTHENTICATION_TOKEN") => Some(
            "Most 403s are MISSING_AUTHENTICATION_TOKEN, which REST APIs return for an undefined route or method (their 404): check the paths clients call.",
        ),
        403 if most(&e.response_types, "INVALID_API_KEY") => {
            Some("Most 403s are INVALID_API_KEY: check the x-api-key header and the usage plan's API keys.")
        }
        403 if most(&e.response_types, "WAF_FILTERED") => {
            Some("Most 403s are WAF_FILTERED: review the web ACL rules that block them.")
        }
        429 if most(&e.response_types, "QUOTA_EXCEEDED") => {
            Some("Most 429s are QUOTA_EXCEEDED: a usage plan's quota is used up, not a rate limit.")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_403_text() {
        assert_eq!(
            recommendation(403, None).text(Markup::Text),
            "Review API request validation rules and model schemas. Check authentication/authorization configuration. The high 403 count suggests API key or IAM policy misconfiguration."
        );
    }

    #[test]
    fn evidence_sharpens_403() {
        let mut e = Evidence::default();
        let line = r#"{"status":"403","httpMethod":"OPTIONS","responseType":"MISSING_AUTHENTICATION_TOKEN"}"#;
        let mut t = crate::count::tally::Tally::new(None);
        for _ in 0..3 {
            t.add_line(&crate::access_log::LineParser::Auto, None, line);
        }
        e.methods = t.evidence[&403].methods.clone();
        assert!(recommendation(403, Some(&e)).text(Markup::Text).contains("CORS preflight"));
        e.methods = Default::default();
        e.response_types = t.evidence[&403].response_types.clone();
        assert!(recommendation(403, Some(&e)).text(Markup::Text).contains("undefined route or method"));
    }

    #[test]
    fn one_consumer_sharpens_the_advice() {
        use crate::access_log::Origin;
        let mut e = Evidence::default();
        for _ in 0..9 {
            e.consumers.add(&Origin { api_key_id: Some("k1"), ..Origin::default() });
        }
        e.consumers.add(&Origin::default());
        assert!(recommendation(403, Some(&e)).text(Markup::Text).ends_with(
            "Most 403s come from one consumer, api key k1: that key or its usage plan has not propagated to it (check that the key is enabled, in a usage plan associated with this stage, and that the consumer sends the current key)."
        ));
        let mut scan = Evidence::default();
        for _ in 0..3 {
            scan.consumers.add(&Origin { source_ip: Some("203.0.113.66"), ..Origin::default() });
        }
        assert!(recommendation(404, Some(&scan))
            .text(Markup::Text)
            .contains("one source, ip 203.0.113.66: probably a scanner"));
        assert!(recommendation(404, Some(&scan)).text(Markup::Text).contains("WAF rate-based rule"));
        assert!(recommendation(400, Some(&scan))
            .text(Markup::Text)
            .ends_with("Most 400s come from one consumer, ip 203.0.113.66: start with what it sends."));
        scan.consumers.add(&Origin { source_ip: Some("203.0.113.1"), ..Origin::default() });
        scan.consumers.add(&Origin { source_ip: Some("203.0.113.2"), ..Origin::default() });
        scan.consumers.add(&Origin { source_ip: Some("203.0.113.3"), ..Origin::default() });
        assert!(!recommendation(404, Some(&scan)).text(Markup::Text).contains("scanner"), "3 of 6 is not most");
    }

    #[test]
    fn every_code_gets_advice() {
        assert!(recommendation(429, None).text(Markup::Text).contains("usage-plan quotas"));
        assert!(recommendation(404, None).text(Markup::Text).contains("301 or 410"));
        assert!(recommendation(418, None)
            .text(Markup::Text)
            .ends_with("Investigate the 418 responses first: they are the most frequent 4xx."));
    }
}
