//! JSON access-log lines, read with a lenient scanner: templates leave values unquoted (`"status": 403`)
//! or empty (`"status": -`), so the line need not be valid JSON. Nested objects are walked so that
//! `"error": {"responseType": …}` is found, while a nested `status` (e.g. `integration.status`) is not
//! taken for the response status.

use super::{record, AccessRecord, RawFields};

/// Deeper than any access-log template nests: refuse rather than recurse without bound.
const MAX_DEPTH: u8 = 8;

/// Keys read as the status, in order of preference (also used by the alert's Logs Insights query).
pub(crate) const STATUS_KEYS: [&str; 5] = ["status", "statusCode", "httpStatus", "status_code", "httpStatusCode"];
const METHOD_KEYS: [&str; 3] = ["httpMethod", "method", "http_method"];
/// Keys read as the route, besides `routeKey`.
pub(crate) const ROUTE_KEYS: [&str; 3] = ["resourcePath", "resource_path", "route"];
const TIME_KEYS: [&str; 4] = ["requestTime", "requestTimeEpoch", "request_time", "timestamp"];
const RESPONSE_TYPE_KEYS: [&str; 5] =
    ["errorResponseType", "error.responseType", "error_response_type", "gatewayResponseType", "responseType"];

pub(super) fn parse(line: &str) -> Option<AccessRecord<'_>> {
    let mut f = RawFields::default();
    let mut s = Scanner::<false> { b: line.as_bytes(), s: line, i: 0 };
    s.object(0, None, &mut f)?;
    record(f)
}

/// A JSON line still in its escaped form inside a log event's `message` string (`{\"status\":\"403\"}`),
/// read without unescaping it first: the same record as [`parse`] gives for the unescaped line, or
/// `None`. `None` whenever the two could differ, and the caller then unescapes and parses: the text
/// must be one object from its first byte to its last, and its only escapes the `\"` that delimit
/// its strings (any other backslash, or a bare `"`, and it is refused). Unescaping such a text only
/// turns each `\"` into `"`, so both scanners see the same tokens and the same values.
pub(super) fn parse_escaped(raw: &str) -> Option<AccessRecord<'_>> {
    let mut f = RawFields::default();
    let mut s = Scanner::<true> { b: raw.as_bytes(), s: raw, i: 0 };
    s.object(0, None, &mut f)?;
    if s.i != raw.len() {
        return None;
    }
    record(f)
}

/// Scans a line; `ESCAPED`: the line as it lies inside a JSON string, where each of its quotes is `\"`.
struct Scanner<'a, const ESCAPED: bool> {
    b: &'a [u8],
    s: &'a str,
    i: usize,
}

impl<'a, const ESCAPED: bool> Scanner<'a, ESCAPED> {
    /// Bytes a quote takes.
    const QUOTE: usize = if ESCAPED { 2 } else { 1 };

    /// Whether a quote opens at `i`.
    fn at_quote(&self) -> bool {
        if ESCAPED {
            self.b.get(self.i..self.i + 2) == Some(b"\\\"")
        } else {
            self.b.get(self.i) == Some(&b'"')
        }
    }

    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// A quoted string's raw contents (escapes left as they are: the values we keep never need them).
    /// Escaped, a string may hold no escape at all: the first backslash must close it.
    #[inline]
    fn string(&mut self) -> Option<&'a str> {
        let start = self.i + Self::QUOTE;
        let mut j = start;
        loop {
            let k = j + crate::decode::find_quote_or_backslash(self.b.get(j..)?)?;
            match (ESCAPED, self.b[k]) {
                (false, b'\\') => j = k + 2,
                (false, _) => {
                    self.i = k + 1;
                    return self.s.get(start..k);
                }
                (true, b'\\') if self.b.get(k + 1) == Some(&b'"') => {
                    self.i = k + 2;
                    return self.s.get(start..k);
                }
                (true, _) => return None,
            }
        }
    }

    /// An unquoted value: everything up to the next `,` or `}` at this level.
    fn bare(&mut self) -> Option<&'a str> {
        let start = self.i;
        while self.i < self.b.len() && !matches!(self.b[self.i], b',' | b'}' | b']') {
            if ESCAPED && matches!(self.b[self.i], b'\\' | b'"') {
                return None;
            }
            self.i += 1;
        }
        self.s.get(start..self.i).map(str::trim)
    }

    fn array(&mut self, depth: u8) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        if self.eat(b']') {
            return Some(());
        }
        loop {
            self.value(depth, None, None, &mut RawFields::default())?;
            if self.eat(b']') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// One value; scalars under a known key are recorded in `f`.
    fn value(&mut self, depth: u8, parent: Option<&str>, key: Option<&'a str>, f: &mut RawFields<'a>) -> Option<()> {
        self.ws();
        let v = match self.b.get(self.i)? {
            b'"' | b'\\' if self.at_quote() => self.string()?,
            b'"' | b'\\' => return None,
            b'{' => return self.object(depth + 1, key, f),
            b'[' => return self.array(depth + 1),
            _ => self.bare()?,
        };
        if let Some(k) = key {
            keep(depth, parent, k, v, f);
        }
        Some(())
    }

    fn object(&mut self, depth: u8, parent: Option<&str>, f: &mut RawFields<'a>) -> Option<()> {
        if depth > MAX_DEPTH || !self.eat(b'{') {
            return None;
        }
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            self.ws();
            if !self.at_quote() {
                return None;
            }
            let key = self.string()?;
            if !self.eat(b':') {
                return None;
            }
            self.value(depth, parent, Some(key), f)?;
            if self.eat(b'}') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }
}

fn keep<'a>(depth: u8, parent: Option<&str>, key: &str, v: &'a str, f: &mut RawFields<'a>) {
    let slot = if depth == 0 {
        if STATUS_KEYS.contains(&key) {
            &mut f.status
        } else if METHOD_KEYS.contains(&key) {
            &mut f.method
        } else if ROUTE_KEYS.contains(&key) {
            &mut f.route
        } else if key == "routeKey" {
            &mut f.route_key
        } else if RESPONSE_TYPE_KEYS.contains(&key) {
            &mut f.response_type
        } else if TIME_KEYS.contains(&key) {
            &mut f.request_time
        } else if let Some(slot) = origin_slot(None, key, f) {
            slot
        } else {
            return;
        }
    } else if parent == Some("error") && key == "responseType" {
        &mut f.response_type
    } else if let Some(slot) = origin_slot(parent, key, f) {
        slot
    } else {
        return;
    };
    if slot.is_none() {
        *slot = Some(v);
    }
}

/// Where a caller-identity or stage key goes: the names users commonly give `$context.identity.*`,
/// `$context.authorizer.principalId`, `$context.apiId` and `$context.stage`, flat or nested under
/// `identity`/`authorizer`. `apiKey` is not among them: it may hold the key's value, a secret.
fn origin_slot<'f, 'a>(parent: Option<&str>, key: &str, f: &'f mut RawFields<'a>) -> Option<&'f mut Option<&'a str>> {
    let o = &mut f.origin;
    Some(match (parent, key) {
        (None | Some("identity"), "apiKeyId" | "api_key_id" | "apiKey_id" | "apikeyid") => &mut o.api_key_id,
        (None, "identity.apiKeyId") => &mut o.api_key_id,
        (None | Some("authorizer"), "principalId" | "principal_id" | "principal") => &mut o.principal,
        (None, "authorizer.principalId") => &mut o.principal,
        (None | Some("identity"), "caller") => &mut o.caller,
        (None | Some("identity"), "user") => &mut o.user,
        (None | Some("identity"), "sourceIp" | "source_ip" | "sourceIP") => &mut o.source_ip,
        (None, "ip" | "clientIp" | "client_ip" | "identity.sourceIp") => &mut o.source_ip,
        (None | Some("identity"), "userAgent" | "user_agent") => &mut o.user_agent,
        (None, "identity.userAgent") => &mut o.user_agent,
        (None, "apiId" | "api_id") => &mut o.api_id,
        (None, "stage") => &mut o.stage,
        _ => return None,
    })
}
