//! API key values never leave the function: a line shown back (an unparsed example) has them
//! replaced, and a stage template that logs them is recognised.

use std::borrow::Cow;

/// JSON keys that may hold an API key's value.
const SECRET_KEYS: [&str; 5] = ["\"apiKey\"", "\"api_key\"", "\"apikey\"", "\"x-api-key\"", "\"identity.apiKey\""];

/// A line with the values of API-key keys replaced by `(redacted)`, for showing it back.
pub fn redact_api_keys(line: &str) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    for key in SECRET_KEYS {
        let text = out.as_deref().unwrap_or(line);
        let mut result = String::new();
        let mut rest = text;
        let mut changed = false;
        while let Some(at) = rest.find(key) {
            let after = &rest[at + key.len()..];
            let Some(value) = after.trim_start().strip_prefix(':') else {
                result.push_str(&rest[..at + key.len()]);
                rest = after;
                continue;
            };
            let lead = after.len() - value.trim_start().len();
            let value = value.trim_start();
            let (len, quoted) = match value.strip_prefix('"') {
                Some(v) => (v.find('"').map_or(v.len(), |n| n) + 1, true),
                None => (value.find([',', '}']).unwrap_or(value.len()), false),
            };
            result.push_str(&rest[..at + key.len() + lead]);
            result.push_str(if quoted { "\"(redacted)\"" } else { "(redacted)" });
            rest = value.get(len + usize::from(quoted)..).unwrap_or("");
            changed = true;
        }
        if changed {
            result.push_str(rest);
            out = Some(result);
        }
    }
    out.map_or(Cow::Borrowed(line), Cow::Owned)
}

/// True when a `$context` template logs the API key's value (`$context.identity.apiKey`, not `…Id`).
pub fn template_logs_api_key(template: &str) -> bool {
    template
        .match_indices("$context.identity.apiKey")
        .any(|(at, m)| !template[at + m.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_values_are_redacted() {
        let line = r#"{"status":"x","apiKey":"s3cr3t","apiKeyId":"k1","api_key": bare ,"n":{"x-api-key" : "v"}}"#;
        assert_eq!(
            redact_api_keys(line),
            r#"{"status":"x","apiKey":"(redacted)","apiKeyId":"k1","api_key": (redacted),"n":{"x-api-key" : "(redacted)"}}"#
        );
        assert!(matches!(redact_api_keys(r#"{"apiKeyId":"k1"}"#), Cow::Borrowed(_)));
        assert!(template_logs_api_key("$context.status $context.identity.apiKey"));
        assert!(template_logs_api_key("$context.identity.apiKey,$context.status"));
        assert!(!template_logs_api_key("$context.status $context.identity.apiKeyId"));
    }
}
