//! The fields of an access-log record, and the names they are logged under: the JSON keys (and
//! `key: value` names) users give them, and the `$context` variables a stage's template writes them
//! with. One table each, shared by every reader: the line parsers (`access_log`), and the input
//! detection that tells a pretty-printed record from an unknown JSON document (`ingest`).

/// A field of a record: what a template variable, a JSON key or a `key: value` name fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `$context.status`.
    Status,
    /// `$context.httpMethod`.
    Method,
    /// `$context.resourcePath`.
    Route,
    /// `$context.routeKey` (`GET /pets/{id}`): method and route.
    RouteKey,
    /// `$context.error.responseType`.
    ResponseType,
    /// `$context.requestTime` or `$context.requestTimeEpoch`.
    RequestTime,
    /// Who sent the request, or which stage answered it.
    Origin(OriginField),
    /// Logged, and a sign of an access log, but not read (`requestId`, any variable we do not use).
    Other,
}

/// The part of a record's origin a field fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginField {
    /// `$context.identity.apiKeyId`.
    ApiKeyId,
    /// `$context.authorizer.principalId`.
    Principal,
    /// `$context.identity.caller`.
    Caller,
    /// `$context.identity.user`.
    User,
    /// `$context.identity.sourceIp`.
    SourceIp,
    /// `$context.identity.userAgent`.
    UserAgent,
    /// `$context.apiId`.
    ApiId,
    /// `$context.stage`.
    Stage,
}

/// The top-level keys we read, each list once: the macro makes both its constant (the Logs Insights
/// query reads some of them) and one `match` over every name, which the compiler turns into a
/// switch on the length and a few word compares, whatever the number of names.
macro_rules! top_level_keys {
    ($($(#[$doc:meta])* $name:ident: [$($key:literal),+ $(,)?] => $field:expr;)+) => {
        $($(#[$doc])* pub const $name: &[&str] = &[$($key),+];)+

        /// The field a key of a record's own object (or a `key: value` name) fills.
        #[inline]
        pub fn top_level_field(key: &str) -> Option<Field> {
            match key {
                $($($key)|+ => Some($field),)+
                _ => None,
            }
        }
    };
}

top_level_keys! {
    /// Keys read as the status (also used by the alert's Logs Insights query).
    STATUS_KEYS: ["status", "statusCode", "httpStatus", "status_code", "httpStatusCode"] => Field::Status;
    /// Keys read as the HTTP method.
    METHOD_KEYS: ["httpMethod", "method", "http_method"] => Field::Method;
    /// Keys read as the route, besides `routeKey`.
    ROUTE_KEYS: ["resourcePath", "resource_path", "route"] => Field::Route;
    /// The HTTP API route key (`GET /pets`): method and route.
    ROUTE_KEY_KEYS: ["routeKey"] => Field::RouteKey;
    /// Keys read as the gateway response type.
    RESPONSE_TYPE_KEYS: ["errorResponseType", "error.responseType", "error_response_type", "gatewayResponseType", "responseType"]
        => Field::ResponseType;
    /// Keys read as the request time.
    TIME_KEYS: ["requestTime", "requestTimeEpoch", "request_time", "timestamp"] => Field::RequestTime;
    // Caller-identity and stage keys: the names users commonly give `$context.identity.*`,
    // `$context.authorizer.principalId`, `$context.apiId` and `$context.stage` (flat here; nested
    // under `identity`/`authorizer`, see [`nested_field`]). `apiKey` is not among them: it may hold
    // the key's value, a secret.
    /// Keys read as the API key's id.
    API_KEY_ID_KEYS: ["apiKeyId", "api_key_id", "apiKey_id", "apikeyid", "identity.apiKeyId"] => Field::Origin(OriginField::ApiKeyId);
    /// Keys read as the authorizer's principal.
    PRINCIPAL_KEYS: ["principalId", "principal_id", "principal", "authorizer.principalId"] => Field::Origin(OriginField::Principal);
    /// Keys read as the caller.
    CALLER_KEYS: ["caller"] => Field::Origin(OriginField::Caller);
    /// Keys read as the user.
    USER_KEYS: ["user"] => Field::Origin(OriginField::User);
    /// Keys read as the source IP.
    SOURCE_IP_KEYS: ["sourceIp", "source_ip", "sourceIP", "ip", "clientIp", "client_ip", "identity.sourceIp"] => Field::Origin(OriginField::SourceIp);
    /// Keys read as the user agent.
    USER_AGENT_KEYS: ["userAgent", "user_agent", "identity.userAgent"] => Field::Origin(OriginField::UserAgent);
    /// Keys read as the API id.
    API_ID_KEYS: ["apiId", "api_id"] => Field::Origin(OriginField::ApiId);
    /// Keys read as the stage.
    STAGE_KEYS: ["stage"] => Field::Origin(OriginField::Stage);
    /// Request ids: not read, but every access-log template logs one (API Gateway requires it).
    REQUEST_ID_KEYS: ["requestId", "request_id", "extendedRequestId"] => Field::Other;
}

/// The field a key of a nested object fills: `error.responseType`, and the caller-identity names
/// under `identity` and `authorizer`.
pub fn nested_field(parent: &str, key: &str) -> Option<Field> {
    Some(match (parent, key) {
        ("error", "responseType") => Field::ResponseType,
        ("identity", "apiKeyId" | "api_key_id" | "apiKey_id" | "apikeyid") => Field::Origin(OriginField::ApiKeyId),
        ("authorizer", "principalId" | "principal_id" | "principal") => Field::Origin(OriginField::Principal),
        ("identity", "caller") => Field::Origin(OriginField::Caller),
        ("identity", "user") => Field::Origin(OriginField::User),
        ("identity", "sourceIp" | "source_ip" | "sourceIP") => Field::Origin(OriginField::SourceIp),
        ("identity", "userAgent" | "user_agent") => Field::Origin(OriginField::UserAgent),
        _ => return None,
    })
}

/// The field a `$context` variable (its name after `$context.`) fills; [`Field::Other`] for the
/// variables we do not read. `identity.apiKey` (the key's value, a secret) is never kept.
pub fn variable_field(name: &str) -> Field {
    match name {
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
        _ => Field::Other,
    }
}

/// The top-level keys (and `key: value` names) read as `field`; none for [`Field::Other`].
pub fn keys_of(field: Field) -> &'static [&'static str] {
    match field {
        Field::Status => STATUS_KEYS,
        Field::Method => METHOD_KEYS,
        Field::Route => ROUTE_KEYS,
        Field::RouteKey => ROUTE_KEY_KEYS,
        Field::ResponseType => RESPONSE_TYPE_KEYS,
        Field::RequestTime => TIME_KEYS,
        Field::Origin(OriginField::ApiKeyId) => API_KEY_ID_KEYS,
        Field::Origin(OriginField::Principal) => PRINCIPAL_KEYS,
        Field::Origin(OriginField::Caller) => CALLER_KEYS,
        Field::Origin(OriginField::User) => USER_KEYS,
        Field::Origin(OriginField::SourceIp) => SOURCE_IP_KEYS,
        Field::Origin(OriginField::UserAgent) => USER_AGENT_KEYS,
        Field::Origin(OriginField::ApiId) => API_ID_KEYS,
        Field::Origin(OriginField::Stage) => STAGE_KEYS,
        Field::Other => &[],
    }
}

/// The objects whose keys [`nested_field`] reads.
pub const NESTING_PARENTS: [&str; 3] = ["error", "identity", "authorizer"];

/// The `$context` variable (its name after `$context.`) that fills `field` (`requestTime` for the
/// request time); `None` for [`Field::Other`]. The inverse of [`variable_field`].
pub fn variable_of(field: Field) -> Option<&'static str> {
    Some(match field {
        Field::Status => "status",
        Field::Method => "httpMethod",
        Field::Route => "resourcePath",
        Field::RouteKey => "routeKey",
        Field::ResponseType => "error.responseType",
        Field::RequestTime => "requestTime",
        Field::Origin(OriginField::ApiKeyId) => "identity.apiKeyId",
        Field::Origin(OriginField::Principal) => "authorizer.principalId",
        Field::Origin(OriginField::Caller) => "identity.caller",
        Field::Origin(OriginField::User) => "identity.user",
        Field::Origin(OriginField::SourceIp) => "identity.sourceIp",
        Field::Origin(OriginField::UserAgent) => "identity.userAgent",
        Field::Origin(OriginField::ApiId) => "apiId",
        Field::Origin(OriginField::Stage) => "stage",
        Field::Other => return None,
    })
}

/// Whether a top-level key is one access logs carry (the keys above): an object holding one is an
/// access-log record, not an envelope of unknown shape.
pub fn is_access_log_key(key: &str) -> bool {
    top_level_field(key).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_variables_name_their_field() {
        let fields = [
            Field::Status,
            Field::Method,
            Field::Route,
            Field::RouteKey,
            Field::ResponseType,
            Field::RequestTime,
            Field::Origin(OriginField::ApiKeyId),
            Field::Origin(OriginField::Principal),
            Field::Origin(OriginField::Caller),
            Field::Origin(OriginField::User),
            Field::Origin(OriginField::SourceIp),
            Field::Origin(OriginField::UserAgent),
            Field::Origin(OriginField::ApiId),
            Field::Origin(OriginField::Stage),
        ];
        for f in fields {
            assert!(!keys_of(f).is_empty(), "{f:?}");
            assert!(keys_of(f).iter().all(|k| top_level_field(k) == Some(f)), "{f:?}");
            assert_eq!(variable_of(f).map(variable_field), Some(f));
        }
        assert_eq!((keys_of(Field::Other), variable_of(Field::Other)), (&[][..], None));
    }
}
