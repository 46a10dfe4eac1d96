//! The stage's own access-log template (`$context.…` variables between literal text), compiled into
//! an exact parser: the precise path, where detection is the convenient one.

use super::{record, Line, RawFields};
use std::fmt;

/// Why a template cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template never logs the status.
    #[error("the access-log template has no $context.status variable")]
    NoStatus,
    /// Two variables touch: their boundary cannot be found in a line.
    #[error("the access-log template puts ${0} and ${1} side by side with no text between them")]
    Adjacent(String, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Status,
    Method,
    Route,
    RouteKey,
    ResponseType,
    RequestTime,
    Origin(OriginField),
    Other,
}

/// The [`super::Origin`] field a variable fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OriginField {
    ApiKeyId,
    Principal,
    Caller,
    User,
    SourceIp,
    UserAgent,
    ApiId,
    Stage,
}

#[derive(Debug, Clone)]
enum Segment {
    /// Literal text, with a precompiled (SIMD) searcher for finding where the value before it ends.
    Literal(String, Box<memchr::memmem::Finder<'static>>),
    Var(Field, String),
}

impl PartialEq for Segment {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Segment::Literal(a, _), Segment::Literal(b, _)) => a == b,
            (Segment::Var(f, a), Segment::Var(g, b)) => f == g && a == b,
            _ => false,
        }
    }
}

impl Eq for Segment {}

fn literal(text: &str) -> Segment {
    Segment::Literal(text.to_string(), Box::new(memchr::memmem::Finder::new(text.as_bytes()).into_owned()))
}

/// One piece of a template, for code that rewrites it (the Logs Insights query of an alert).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplatePart<'a> {
    /// Literal text.
    Literal(&'a str),
    /// `$context.status`.
    Status,
    /// `$context.resourcePath` or `$context.routeKey`.
    Route,
    /// Any other variable.
    Other,
}

/// A compiled `$context` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
    source: String,
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Template {
    /// Compiles a template such as `{"status":"$context.status","path":"$context.resourcePath"}`.
    pub fn compile(source: &str) -> Result<Template, TemplateError> {
        let source = source.trim();
        let mut segments = Vec::new();
        let mut rest = source;
        while let Some(at) = rest.find("$context.") {
            if at > 0 {
                segments.push(literal(&rest[..at]));
            }
            let after = &rest[at + "$context.".len()..];
            let mut len = after.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.').count();
            while len > 0 && after.as_bytes()[len - 1] == b'.' {
                len -= 1;
            }
            let name = &after[..len];
            if let Some(Segment::Var(_, prev)) = segments.last() {
                return Err(TemplateError::Adjacent(format!("context.{prev}"), format!("context.{name}")));
            }
            let field = match name {
                "status" => Field::Status,
                "httpMethod" => Field::Method,
                "resourcePath" => Field::Route,
                "routeKey" => Field::RouteKey,
                "error.responseType" => Field::ResponseType,
                "requestTime" | "requestTimeEpoch" => Field::RequestTime,
                "identity.apiKeyId" => Field::Origin(OriginField::ApiKeyId),
                "authorizer.principalId" => Field::Origin(OriginField::Principal),
                "identity.caller" => Field::Origin(OriginField::Caller),
                "identity.user" => Field::Origin(OriginField::User),
                "identity.sourceIp" => Field::Origin(OriginField::SourceIp),
                "identity.userAgent" => Field::Origin(OriginField::UserAgent),
                "apiId" => Field::Origin(OriginField::ApiId),
                "stage" => Field::Origin(OriginField::Stage),
                // `identity.apiKey` (the key's value, a secret) is never kept.
                _ => Field::Other,
            };
            segments.push(Segment::Var(field, name.to_string()));
            rest = &after[len..];
        }
        if !rest.is_empty() {
            segments.push(literal(rest));
        }
        if !segments.iter().any(|s| matches!(s, Segment::Var(Field::Status, _))) {
            return Err(TemplateError::NoStatus);
        }
        Ok(Template { segments, source: source.to_string() })
    }

    /// The JSON key under which the template logs `$context.x`, when the template is JSON-like
    /// (`"status":"$context.status"` → `status`): used to write Logs Insights queries.
    pub fn json_key_of(&self, variable: &str) -> Option<&str> {
        self.segments.windows(2).find_map(|w| match w {
            [Segment::Literal(lit, _), Segment::Var(_, name)] if name == variable => {
                let before = lit.trim_end().trim_end_matches('"').trim_end().strip_suffix(':')?;
                let before = before.trim_end().strip_suffix('"')?;
                Some(&before[before.rfind('"')? + 1..])
            }
            _ => None,
        })
    }

    /// The template's pieces in order.
    pub fn parts(&self) -> impl Iterator<Item = TemplatePart<'_>> {
        self.segments.iter().map(|s| match s {
            Segment::Literal(text, _) => TemplatePart::Literal(text),
            Segment::Var(Field::Status, _) => TemplatePart::Status,
            Segment::Var(Field::Route | Field::RouteKey, _) => TemplatePart::Route,
            Segment::Var(..) => TemplatePart::Other,
        })
    }

    /// Parses one line written by this template.
    pub fn parse<'a>(&self, line: &'a str) -> Line<'a> {
        self.fields(line.trim()).map_or(Line::Unparsed, Line::Request)
    }

    fn fields<'a>(&self, line: &'a str) -> Option<super::AccessRecord<'a>> {
        let mut f = RawFields::default();
        let mut at = 0;
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Literal(lit, _) => {
                    if !line[at..].starts_with(lit.as_str()) {
                        return None;
                    }
                    at += lit.len();
                }
                Segment::Var(field, _) => {
                    let rest = &line[at..];
                    let len = match self.segments.get(i + 1) {
                        // The closing literal is matched from the end, so a value may contain it.
                        Some(Segment::Literal(lit, _)) if i + 2 == self.segments.len() => rest.rfind(lit.as_str())?,
                        Some(Segment::Literal(_, finder)) => finder.find(rest.as_bytes())?,
                        _ => rest.len(),
                    };
                    at += len;
                    let slot = match field {
                        Field::Status => &mut f.status,
                        Field::Method => &mut f.method,
                        Field::Route => &mut f.route,
                        Field::RouteKey => &mut f.route_key,
                        Field::ResponseType => &mut f.response_type,
                        Field::RequestTime => &mut f.request_time,
                        Field::Origin(OriginField::ApiKeyId) => &mut f.origin.api_key_id,
                        Field::Origin(OriginField::Principal) => &mut f.origin.principal,
                        Field::Origin(OriginField::Caller) => &mut f.origin.caller,
                        Field::Origin(OriginField::User) => &mut f.origin.user,
                        Field::Origin(OriginField::SourceIp) => &mut f.origin.source_ip,
                        Field::Origin(OriginField::UserAgent) => &mut f.origin.user_agent,
                        Field::Origin(OriginField::ApiId) => &mut f.origin.api_id,
                        Field::Origin(OriginField::Stage) => &mut f.origin.stage,
                        Field::Other => continue,
                    };
                    *slot = Some(&rest[..len]);
                }
            }
        }
        if at != line.len() {
            return None;
        }
        record(f)
    }
}
