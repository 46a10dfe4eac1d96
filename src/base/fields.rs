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

/// Whether a top-level key is one access logs carry (the keys above): an object holding one is an
/// access-log record, not an envelope of unknown shape.
pub fn is_access_log_key(key: &str) -> bool {
    top_level_field(key).is_some()
}
