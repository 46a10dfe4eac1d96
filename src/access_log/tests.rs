use super::*;
use proptest::prelude::*;

fn status(line: &str) -> Option<u16> {
    match parse_detected(line) {
        Line::Request(r) => Some(r.status),
        _ => None,
    }
}

const CONSOLE_JSON: &str = r#"{ "requestId":"c0ffee", "ip": "203.0.113.9", "caller":"-", "user":"-", "requestTime":"25/Nov/2026:10:00:00 +0000", "httpMethod":"OPTIONS", "resourcePath":"/v1/orders/{id}", "status":"403", "protocol":"HTTP/1.1", "responseLength":"42" }"#;

#[test]
fn console_json() {
    let Line::Request(r) = parse_detected(CONSOLE_JSON) else { panic!("not parsed") };
    assert_eq!(
        r,
        AccessRecord {
            status: 403,
            method: Some("OPTIONS"),
            route: Some("/v1/orders/{id}"),
            response_type: None,
            request_time: Some("25/Nov/2026:10:00:00 +0000"),
            origin: Origin { source_ip: Some("203.0.113.9"), ..Origin::default() },
            execution: None,
        }
    );
}

#[test]
fn json_variants_unquoted_renamed_nested() {
    assert_eq!(status(r#"{"requestId":"x","status":404}"#), Some(404));
    assert_eq!(status(r#"{"requestId":"x","statusCode":"401"}"#), Some(401));
    assert_eq!(status(r#"{"requestId":"x","httpStatus": 429 }"#), Some(429));
    assert_eq!(status(r#"{"requestId":"x","status_code":"400"}"#), Some(400));
    assert_eq!(status(r#"{"requestId":"x","status": - }"#), None);
    assert_eq!(
        status(r#"{"integration":{"status":"200"},"requestId":"x"}"#),
        None,
        "nested status is not the response"
    );
    let Line::Request(r) = parse_detected(
        r#"{"requestId":"x","integration":{"status":"200"},"status":"403","error":{"responseType":"MISSING_AUTHENTICATION_TOKEN","message":"Missing \"token\""}}"#,
    ) else {
        panic!("not parsed")
    };
    assert_eq!((r.status, r.response_type), (403, Some("MISSING_AUTHENTICATION_TOKEN")));
}

#[test]
fn http_api_route_key_gives_method_and_route() {
    let line = r#"{"requestId":"x","routeKey":"GET /items/{id}","status":"404","responseLength":"0"}"#;
    let Line::Request(r) = parse_detected(line) else { panic!("not parsed") };
    assert_eq!((r.method, r.route), (Some("GET"), Some("/items/{id}")));
    assert_eq!(status(r#"{"routeKey":"$default","status":"404"}"#), Some(404));
}

#[test]
fn clf_current_and_older() {
    let current = r#"203.0.113.9 - - [25/Nov/2026:10:00:00 +0000]"POST /v1/login HTTP/1.1" 401 42 c0ffee ext="#;
    let older = r#"203.0.113.9 - - [25/Nov/2026:10:00:00 +0000] "GET /v1/items HTTP/1.1" 429 42 c0ffee"#;
    let Line::Request(r) = parse_detected(current) else { panic!("not parsed") };
    assert_eq!((r.status, r.method, r.route), (401, Some("POST"), Some("/v1/login")));
    assert_eq!(status(older), Some(429));
}

#[test]
fn csv_and_xml() {
    let csv = "203.0.113.9,-,-,25/Nov/2026:10:00:00 +0000,DELETE,/v1/users/{id},HTTP/1.1,403,42,c0ffee";
    let Line::Request(r) = parse_detected(csv) else { panic!("not parsed") };
    assert_eq!((r.status, r.method, r.route), (403, Some("DELETE"), Some("/v1/users/{id}")));
    let xml = r#"<request id="c0ffee"> <ip>203.0.113.9</ip> <caller>-</caller> <user>-</user> <requestTime>25/Nov/2026:10:00:00 +0000</requestTime> <httpMethod>GET</httpMethod> <resourcePath>/v1/items</resourcePath> <status>400</status> <protocol>HTTP/1.1</protocol> <responseLength>42</responseLength> </request>"#;
    let Line::Request(r) = parse_detected(xml) else { panic!("not parsed") };
    assert_eq!((r.status, r.method, r.route), (400, Some("GET"), Some("/v1/items")));
}

#[test]
fn execution_log_lines() {
    assert_eq!(status("(c0ffee-1) Method completed with status: 403"), Some(403));
    assert_eq!(parse_detected("(c0ffee-1) Method request path: {}"), Line::NotARequest);
    assert_eq!(parse_detected("(c0ffee-1) Method completed with status: abc"), Line::Unparsed);
}

/// Issue 8: the same final line in export text, test invoke and behind an ISO prefix was unparsed.
#[test]
fn execution_final_line_in_every_form() {
    for line in [
        "Method completed with status: 400",
        "Tue Jun 23 05:56:11 UTC 2020 : Method completed with status: 403",
        "2026-11-25T10:00:00.000Z (c0ffee-1) Method completed with status: 404",
        "2016-10-01T10:55:36.480Z Method completed with status: 429",
        "2026-11-25T10:00:00Z Method completed with status: 401",
    ] {
        assert!(matches!(parse_detected(line), Line::Request(r) if r.status / 100 == 4), "{line}");
        assert_eq!(LineShape::of(line), Some(LineShape::Execution), "{line}");
    }
    let Line::Request(r) = parse_detected("2026-11-25T10:00:00.000Z (c0ffee-1) Method completed with status: 404")
    else {
        panic!("not parsed")
    };
    assert_eq!(r.execution, Some(ExecutionStep { request_id: "c0ffee-1", denial: false }));
}

/// Issue 8: other execution lines, in every form, are neither requests nor unparsed.
#[test]
fn other_execution_lines_are_not_requests() {
    for line in [
        "Tue Jun 23 05:56:11 UTC 2020 : Starting execution for request: test-invoke-request",
        "Tue Jun 23 05:56:11 UTC 2020 : Endpoint response body before transformations: {\"a\":1}",
        "Execution log for request test-request",
        "Starting execution for request: 9ac0eacd-87c5-11e6-b30c-19c3d9849330",
        "2016-10-01T10:55:45.611Z HTTP Method: POST, Resource Path: /repos/hello",
        "Endpoint request body after transformations: {\n   \"method\": \"POST\"\n}",
        "(4f3e3b0f) Key throttle limit exceeded for RestApi uwe3g5jm54, Stage Prod",
        "Successfully completed authorizer execution",
    ] {
        assert_eq!(parse_detected(line), Line::NotARequest, "{line}");
    }
    // Lines of other programs that merely start with a capital stay unparsed.
    for line in ["START RequestId: 8329c002 Version: $LATEST", "Hello world", "Tue is a day"] {
        assert_eq!(parse_detected(line), Line::Unparsed, "{line}");
    }
}

/// Issue 8: requests refused by a Lambda authorizer log no final line; their denial is the request.
#[test]
fn authorizer_denials_count_with_their_status() {
    let cases = [
        ("(fd443056) Unauthorized request: fd443056-60d0-425f-874e-e93e5d61351e", 401),
        ("Unauthorized request: fd443056-60d0-425f-874e-e93e5d61351e", 401),
        ("Tue Jun 23 05:56:11 UTC 2020 : Unauthorized request: test-request", 401),
        ("(a1) User is not authorized to access this resource with an explicit deny", 403),
        ("(a1) User is not authorized to access this resource", 403),
        ("(a1) The client is not authorized to perform this operation.", 403),
        (
            "(a1) User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/ with an explicit deny",
            403,
        ),
    ];
    for (line, want) in cases {
        assert_eq!(status(line), Some(want), "{line}");
    }
}

#[test]
fn pending_denials_are_bounded() {
    let mut d = PendingDenials::default();
    let ids: Vec<String> = (0..5000).map(|i| format!("id-{i}")).collect();
    for id in &ids {
        let denial = AccessRecord {
            status: 401,
            execution: Some(ExecutionStep { request_id: id, denial: true }),
            ..AccessRecord::default()
        };
        assert!(d.admit(&denial));
    }
    let completed = |id| AccessRecord {
        status: 401,
        execution: Some(ExecutionStep { request_id: id, denial: false }),
        ..AccessRecord::default()
    };
    assert!(d.admit(&completed("id-0")), "the oldest denial was forgotten");
    assert!(!d.admit(&completed("id-4999")), "a recent one is remembered");
}

/// Issue 8: the HTTP API CLF preset (`$context.httpMethod $context.routeKey $context.protocol`) gave
/// the route key's method (`GET`) as the route.
#[test]
fn http_api_clf_route_key_is_the_route() {
    let line = r#"203.0.113.9 - - [25/Nov/2026:10:00:00 +0000] "GET GET /pets/{id} HTTP/1.1" 404 42 c0ffee"#;
    let Line::Request(r) = parse_detected(line) else { panic!("not parsed") };
    assert_eq!((r.status, r.method, r.route), (404, Some("GET"), Some("/pets/{id}")));
    let any = r#"203.0.113.9 - - [25/Nov/2026:10:00:00 +0000] "POST ANY /pets HTTP/1.1" 403 42 c0ffee"#;
    let Line::Request(r) = parse_detected(any) else { panic!("not parsed") };
    assert_eq!((r.method, r.route), (Some("POST"), Some("/pets")));
    let default = r#"203.0.113.9 - - [25/Nov/2026:10:00:00 +0000] "GET $default HTTP/1.1" 404 42 c0ffee"#;
    let Line::Request(r) = parse_detected(default) else { panic!("not parsed") };
    assert_eq!((r.method, r.route), (Some("GET"), Some("$default")), "$default is a real route key");
    let csv = "203.0.113.9,25/Nov/2026:10:00:00 +0000,GET,GET /pets/{id},HTTP/1.1,404,42,c0ffee";
    let Line::Request(r) = parse_detected(csv) else { panic!("not parsed") };
    assert_eq!((r.status, r.method, r.route), (404, Some("GET"), Some("/pets/{id}")));
}

/// Issue 8: `--log-format` with a multi-word value lost exactly the lines that carry an error message.
#[test]
fn template_multi_word_error_message() {
    let t = Template::compile("$context.requestId $context.error.message $context.status").unwrap();
    let Line::Request(r) = t.parse("c0ffee-1 Missing Authentication Token 403") else { panic!("not parsed") };
    assert_eq!(r.status, 403);
    assert!(matches!(t.parse("c0ffee-2 - 200"), Line::Request(r) if r.status == 200));
    assert_eq!(t.parse("c0ffee-3 Missing Authentication Token"), Line::Unparsed);
}

/// Issue 8: `$context.routeKey` (`GET /pets`) anywhere but last.
#[test]
fn template_route_key_not_last() {
    let t = Template::compile("$context.routeKey $context.status $context.requestId").unwrap();
    let Line::Request(r) = t.parse("GET /pets/{id} 404 c0ffee") else { panic!("not parsed") };
    assert_eq!((r.status, r.method, r.route), (404, Some("GET"), Some("/pets/{id}")));
    let Line::Request(r) = t.parse("$default 404 c0ffee") else { panic!("not parsed") };
    assert_eq!((r.method, r.route), (None, Some("$default")));
    let t = Template::compile(
        r#"$context.identity.sourceIp [$context.requestTime] "$context.routeKey" "$context.identity.userAgent" $context.status "$context.error.messageString""#,
    )
    .unwrap();
    let line = r#"1.2.3.4 [25/Nov/2026:10:00:00 +0000] "POST /v1/login" "curl/8 "quoted" [x]" 401 ""Unauthorized" (see docs)""#;
    let Line::Request(r) = t.parse(line) else { panic!("not parsed") };
    assert_eq!((r.status, r.method, r.route), (401, Some("POST"), Some("/v1/login")));
    assert_eq!(r.request_time, Some("25/Nov/2026:10:00:00 +0000"));
}

/// The HTTP API CLF preset as a template: the route comes from the route key, never the method.
#[test]
fn template_http_api_clf_preset() {
    let t = Template::compile(
        r#"$context.identity.sourceIp - - [$context.requestTime] "$context.httpMethod $context.routeKey $context.protocol" $context.status $context.responseLength $context.requestId"#,
    )
    .unwrap();
    let Line::Request(r) =
        t.parse(r#"203.0.113.9 - - [25/Nov/2026:10:00:00 +0000] "GET GET /pets/{id} HTTP/1.1" 404 42 c0ffee"#)
    else {
        panic!("not parsed")
    };
    assert_eq!((r.status, r.method, r.route), (404, Some("GET"), Some("/pets/{id}")));
    let Line::Request(r) =
        t.parse(r#"203.0.113.9 - - [25/Nov/2026:10:00:00 +0000] "GET $default HTTP/1.1" 404 42 c0ffee"#)
    else {
        panic!("not parsed")
    };
    assert_eq!((r.method, r.route), (Some("GET"), Some("$default")));
}

/// Backtracking is bounded: a line built to make it exponential is unparsed, and quickly.
#[test]
fn hostile_lines_are_bounded() {
    let t = Template::compile(
        "$context.error.message $context.identity.userAgent $context.authorizer.error $context.integrationErrorMessage $context.error.messageString $context.status x",
    )
    .unwrap();
    let hostile = "a".to_string() + &" ".repeat(20_000) + "403 y";
    assert_eq!(t.parse(&hostile), Line::Unparsed);
    let fine = "a b c d e f g 403 x";
    assert!(matches!(t.parse(fine), Line::Request(r) if r.status == 403));
}

#[test]
fn junk_is_unparsed() {
    for line in ["", "hello world", "{", "{\"status\":\"999\"}", "<status>abc</status>", "\u{0}\u{1}\u{2}", "a,b,c"] {
        assert_eq!(parse_detected(line), Line::Unparsed, "{line:?}");
    }
}

#[test]
fn deep_nesting_is_refused_not_recursed() {
    let deep = format!("{}\"status\":\"403\"{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    assert_eq!(parse_detected(&deep), Line::Unparsed);
}

#[test]
fn deep_arrays_are_refused_not_recursed() {
    let deep = format!("{{\"status\":\"403\",\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(parse_detected(&deep), Line::Unparsed);
    assert_eq!(status(r#"{"status":"403","a":[[1,[2]],{"b":[3]}]}"#), Some(403), "shallow arrays are fine");
}

/// Inputs the fuzzer found crashing, kept as regression tests (fuzz/regressions/line).
#[test]
fn fuzz_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/line");
    let mut read = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let line = String::from_utf8_lossy(&bytes);
        let _ = parse_detected(&line);
        read += 1;
    }
    assert!(read > 0, "no regression inputs in {}: the test would pass on nothing", dir.display());
}

#[test]
fn template_compiles_and_parses_exactly() {
    let t = Template::compile(
        r#"{"id":"$context.requestId","verb":"$context.httpMethod","path":"$context.resourcePath","code":$context.status,"type":"$context.error.responseType"}"#,
    )
    .unwrap();
    let line = r#"{"id":"abc","verb":"GET","path":"/a/{b}","code":403,"type":"INVALID_API_KEY"}"#;
    let Line::Request(r) = t.parse(line) else { panic!("not parsed") };
    assert_eq!(
        r,
        AccessRecord {
            status: 403,
            method: Some("GET"),
            route: Some("/a/{b}"),
            response_type: Some("INVALID_API_KEY"),
            request_time: None,
            origin: Origin::default(),
            execution: None,
        }
    );
    assert_eq!(t.parse(r#"{"id":"abc","verb":"GET"}"#), Line::Unparsed);
    assert_eq!(t.json_key_of("status"), Some("code"), "unquoted values have keys too");
    assert_eq!(t.json_key_of("resourcePath"), Some("path"));
}

#[test]
fn template_clf_with_spaces_in_values() {
    let t = Template::compile("$context.identity.sourceIp [$context.requestTime] \"$context.httpMethod $context.resourcePath\" $context.status $context.requestId").unwrap();
    let Line::Request(r) = t.parse("1.2.3.4 [25/Nov/2026:10:00:00 +0000] \"GET /x\" 404 id-1") else {
        panic!("not parsed")
    };
    assert_eq!((r.status, r.method, r.route), (404, Some("GET"), Some("/x")));
}

#[test]
fn template_errors_name_the_problem() {
    assert_eq!(Template::compile("$context.requestId $context.path"), Err(TemplateError::NoStatus));
    assert!(matches!(Template::compile("$context.status$context.requestId"), Err(TemplateError::Adjacent(..))));
}

fn method() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
}

/// Documented `$context` variables (API Gateway developer guide, REST and HTTP API access logging)
/// whose values hold no space.
const TOKEN_VARIABLES: [&str; 19] = [
    "requestId",
    "extendedRequestId",
    "apiId",
    "accountId",
    "stage",
    "domainName",
    "identity.sourceIp",
    "identity.caller",
    "identity.user",
    "identity.apiKeyId",
    "protocol",
    "responseLength",
    "responseLatency",
    "integrationLatency",
    "integration.status",
    "integration.latency",
    "requestTimeEpoch",
    "wafResponseCode",
    "error.responseType",
];

/// Documented variables whose values are free text, and `requestTime` (`25/Nov/2026:10:00:00 +0000`).
const TEXT_VARIABLES: [&str; 9] = [
    "error.message",
    "error.messageString",
    "identity.userAgent",
    "integrationErrorMessage",
    "authorizer.error",
    "authorizer.principalId",
    "error.validationErrorString",
    "integration.error",
    "requestTime",
];

/// Free text at its worst: `-`, or words with quotes, brackets and dashes (never digits alone, so that
/// a word of it cannot be a status, and never a bare `-` word, which would be a value of its own).
fn hostile_text() -> impl Strategy<Value = String> {
    // No bare `-`: every class takes it (API Gateway's "no value"), so beside other text it
    // reads two ways.
    prop::collection::vec(r#"[A-Za-z]{0,3}["'\[\](){}<>!?,;][a-z"'\[\](){}<>-]{0,3}"#, 1..5).prop_map(|w| w.join(" "))
}

/// A variable (by name) and the value a line carries for it.
fn other_variable() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        // Ending in `=`, as extended request ids do: a bare word could also be a WebSocket route
        // key, and a line holding both reads two ways.
        (prop::sample::select(TOKEN_VARIABLES.to_vec()), "[a-z][a-z0-9.:_-]{0,12}=")
            .prop_map(|(n, v)| (n.to_string(), v)),
        (prop::sample::select(TEXT_VARIABLES.to_vec()), hostile_text()).prop_map(|(n, v)| {
            let v = if n == "requestTime" { "25/Nov/2026:10:00:00 +0000".to_string() } else { v };
            (n.to_string(), v)
        }),
    ]
}

/// How a template names the route: REST method and path, HTTP API route key, or both.
#[derive(Debug, Clone, Copy)]
enum RouteSource {
    Rest,
    RouteKey,
    MethodAndRouteKey,
}

/// The request a random template describes: status, method, path, whether the route key is
/// `$default`, and where the route comes from.
type Request = (u16, &'static str, String, bool, RouteSource);

/// Variables with their values (in template order), the literal text around them, and the request.
fn random_template() -> impl Strategy<Value = (Vec<(String, String)>, Vec<&'static str>, Request)> {
    let route_source =
        prop_oneof![Just(RouteSource::Rest), Just(RouteSource::RouteKey), Just(RouteSource::MethodAndRouteKey)];
    let request = (100u16..600, method(), "/[a-z{}/]{0,12}", any::<bool>(), route_source);
    (prop::collection::vec(other_variable(), 0..6), request).prop_flat_map(
        |(others, (code, m, path, default_route, source))| {
            let mut vars = others;
            vars.push(("status".into(), code.to_string()));
            let key = if default_route { "$default".to_string() } else { format!("{m} {path}") };
            match source {
                RouteSource::Rest => {
                    vars.push(("httpMethod".into(), m.into()));
                    vars.push(("resourcePath".into(), path.clone()));
                }
                RouteSource::RouteKey => vars.push(("routeKey".into(), key)),
                RouteSource::MethodAndRouteKey => {
                    vars.push(("httpMethod".into(), m.into()));
                    vars.push(("routeKey".into(), key));
                }
            }
            let n = vars.len();
            let separators = prop::collection::vec(
                prop::sample::select(vec![" ", " | ", ",", "\" \"", "] [", "\t", "\",\"x\":\""]),
                n + 1,
            );
            (Just(vars).prop_shuffle(), separators, Just((code, m, path, default_route, source)))
        },
    )
}

proptest! {
    #[test]
    fn any_line_never_panics(line in any::<String>()) {
        let _ = parse_detected(&line);
        let t = Template::compile("$context.requestId $context.status \"$context.httpMethod\"").unwrap();
        let _ = t.parse(&line);
    }

    #[test]
    fn json_like_junk_never_panics(line in r#"[{}\[\]":, a-z0-9\\-]{0,64}"#) {
        let _ = parse_detected(&line);
    }

    #[test]
    fn template_formatted_lines_parse_back(
        code in 100u16..600,
        m in method(),
        path in "/[a-z{}/]{1,20}",
        id in "[a-f0-9-]{1,36}",
        agent in "[ -~]{0,40}",
        rtype in prop::sample::select(vec!["-", "INVALID_API_KEY", "WAF_FILTERED"]),
    ) {
        let t = Template::compile(
            r#"{"id":"$context.requestId","m":"$context.httpMethod","p":"$context.resourcePath","ua":"$context.identity.userAgent","s":$context.status,"t":"$context.error.responseType"}"#,
        ).unwrap();
        let agent = agent.replace('"', "'");
        let line = format!(r#"{{"id":"{id}","m":"{m}","p":"{path}","ua":"{agent}","s":{code},"t":"{rtype}"}}"#);
        let Line::Request(r) = t.parse(&line) else { panic!("not parsed: {line}") };
        prop_assert_eq!((r.status, r.method, r.route), (code, Some(m), Some(path.as_str())));
        prop_assert_eq!(r.response_type, (rtype != "-").then_some(rtype));
    }

}

proptest! {
    // A fixed seed: random hostile text now and then reads two ways (free text holding a word that
    // a WebSocket route key could be, beside it); CI must not depend on the draw. Vary the seed by
    // hand (PROPTEST_RNG_SEED does not override a fixed one) to explore.
    #![proptest_config(ProptestConfig {
        cases: 1000,
        rng_seed: proptest::test_runner::RngSeed::Fixed(20_261_202),
        ..ProptestConfig::default()
    })]

    /// Issue 8: any documented variable, with hostile values, may stand anywhere; status, method and
    /// route parse back.
    #[test]
    fn random_templates_parse_back((vars, seps, (code, m, path, default_route, source)) in random_template()) {
        // Free text that carries the template's own punctuation (`a,w` before `,$context.routeKey,`,
        // where a WebSocket route key may be any word) reads two ways: no parser can tell which was
        // logged. Such text has the separators it shares with the template blanked out; spaces,
        // quotes and brackets inside text stay hostile.
        let blank = |mut v: String| {
            while let Some(s) = seps.iter().map(|s| s.trim()).find(|s| !s.is_empty() && v.contains(*s)) {
                v = v.replace(s, "!");
            }
            v
        };
        let vars: Vec<(String, String)> = vars
            .into_iter()
            .map(|(n, v)| if TEXT_VARIABLES.contains(&n.as_str()) { let v = blank(v); (n, v) } else { (n, v) })
            .collect();
        let mut template = String::from(seps[0]);
        let mut line = String::from(seps[0]);
        for (i, (name, value)) in vars.iter().enumerate() {
            template.push_str(&format!("$context.{name}{}", seps[i + 1]));
            line.push_str(&format!("{value}{}", seps[i + 1]));
        }
        let t = Template::compile(&template).unwrap();
        let Line::Request(r) = t.parse(&line) else { panic!("not parsed: {template} / {line}") };
        let want_route = if default_route && !matches!(source, RouteSource::Rest) { "$default" } else { path.as_str() };
        let want_method = match source {
            RouteSource::RouteKey if default_route => None,
            _ => Some(m),
        };
        prop_assert_eq!((r.status, r.method, r.route), (code, want_method, Some(want_route)), "{} / {}", template, line);
    }

    #[test]
    fn formatted_records_parse_back(code in 100u16..600, m in method(), path in "/[a-z]{1,8}(/\\{id\\})?") {
        let json = format!(r#"{{"requestId":"r","httpMethod":"{m}","resourcePath":"{path}","status":"{code}"}}"#);
        let clf = format!(r#"1.2.3.4 - - [25/Nov/2026:10:00:00 +0000]"{m} {path} HTTP/1.1" {code} 12 r"#);
        let csv = format!("1.2.3.4,-,-,25/Nov/2026:10:00:00 +0000,{m},{path},HTTP/1.1,{code},12,r");
        let xml = format!("<request id=\"r\"> <httpMethod>{m}</httpMethod> <resourcePath>{path}</resourcePath> <status>{code}</status> </request>");
        for line in [json, clf, csv, xml] {
            let Line::Request(r) = parse_detected(&line) else { panic!("not parsed: {line}") };
            prop_assert_eq!((r.status, r.method, r.route), (code, Some(m), Some(path.as_str())));
        }
    }
}

fn origin(parser: &LineParser, line: &str) -> Origin<'static> {
    let line: &'static str = Box::leak(line.to_string().into_boxed_str());
    match parser.parse(line) {
        Line::Request(r) => r.origin,
        other => panic!("{line}: {other:?}"),
    }
}

#[test]
fn caller_identity_under_common_keys_and_nested() {
    let o = origin(
        &LineParser::Auto,
        r#"{"status":"403","apiKeyId":"k1","principalId":"alice","sourceIp":"198.51.100.7","userAgent":"curl/8","apiId":"a1b2","stage":"prod","apiKey":"SECRET"}"#,
    );
    assert_eq!(
        o,
        Origin {
            api_key_id: Some("k1"),
            principal: Some("alice"),
            source_ip: Some("198.51.100.7"),
            user_agent: Some("curl/8"),
            api_id: Some("a1b2"),
            stage: Some("prod"),
            ..Origin::default()
        }
    );
    let nested = origin(
        &LineParser::Auto,
        r#"{"status":403,"identity":{"apiKeyId":"k2","sourceIp":"-","caller":"c"},"authorizer":{"principalId":"bob"}}"#,
    );
    assert_eq!(
        (nested.api_key_id, nested.source_ip, nested.caller, nested.principal),
        (Some("k2"), None, Some("c"), Some("bob"))
    );
    let snake =
        origin(&LineParser::Auto, r#"{"status":"404","api_key_id":"k3","ip":"203.0.113.1","user_agent":"bot"}"#);
    assert_eq!((snake.api_key_id, snake.source_ip, snake.user_agent), (Some("k3"), Some("203.0.113.1"), Some("bot")));
}

#[test]
fn caller_identity_from_clf_xml_and_templates_never_the_key_value() {
    let clf = origin(
        &LineParser::Auto,
        r#"203.0.113.9 AROAEXAMPLE alice [25/Nov/2026:10:00:00 +0000]"GET /a HTTP/1.1" 403 42 id"#,
    );
    assert_eq!((clf.source_ip, clf.caller, clf.user), (Some("203.0.113.9"), Some("AROAEXAMPLE"), Some("alice")));
    let xml = origin(
        &LineParser::Auto,
        r#"<request id="x"> <ip>203.0.113.9</ip> <caller>-</caller> <status>404</status> </request>"#,
    );
    assert_eq!((xml.source_ip, xml.caller), (Some("203.0.113.9"), None));
    let t = Template::compile(
        "$context.status $context.identity.apiKeyId $context.identity.apiKey $context.authorizer.principalId $context.apiId/$context.stage $context.identity.userAgent",
    )
    .unwrap();
    let o = origin(&LineParser::Template(t), "403 k9 SECRETVALUE p1 a1/prod Mozilla/5.0 (X11)");
    assert_eq!(
        o,
        Origin {
            api_key_id: Some("k9"),
            principal: Some("p1"),
            api_id: Some("a1"),
            stage: Some("prod"),
            user_agent: Some("Mozilla/5.0 (X11)"),
            ..Origin::default()
        }
    );
}

proptest! {
    /// The fast path of `trim` (speed work) answers exactly as `str::trim`, including U+000B and
    /// non-ASCII white space at either end.
    #[test]
    fn trim_is_str_trim(s in "[ \\t\\n\\r\\x0b\\x0c\\u{85}\\u{a0}\\u{3000}a-z{}\"-]{0,6}") {
        prop_assert_eq!(trim(&s), s.trim());
    }
}

/// A free-text value ending in `-` before the status: the status is the three digits, not the `-`.
#[test]
fn a_dash_in_text_is_not_the_status() {
    let t = Template::compile("$context.authorizer.error $context.status $context.integration.error $context.routeKey")
        .unwrap();
    let Line::Request(r) = t.parse("x - 129 ! bR] PATCH /k") else { panic!("not parsed") };
    assert_eq!((r.status, r.route), (129, Some("/k")));
}

/// A line as it lies inside a log event's `message`: JSON-escaped, without the quotes.
fn escaped(line: &str) -> String {
    let quoted = serde_json::to_string(line).unwrap_or_default();
    quoted[1..quoted.len() - 1].to_string()
}

/// JSON-ish access-log lines: known and unknown keys, values with and without characters that need
/// escaping, bare values, nested objects, and now and then a broken piece.
fn json_line() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "status",
        "status",
        "status",
        "statusCode",
        "httpMethod",
        "resourcePath",
        "routeKey",
        "ip",
        "requestId",
        "error",
        "identity",
        "responseType",
        "requestTime",
        "caller",
        "x",
    ]);
    let text = r#"[a-zA-Z0-9 /{}$.:\-]{0,12}|[a-z"\\/é\n\t ]{0,6}|403|-"#;
    let plain = r#"[a-zA-Z0-9 /{}$.:\-]{0,12}|4[0-9][0-9]|-"#;
    let value = prop_oneof![
        6 => plain.prop_map(|t| format!("\"{t}\"")),
        2 => text.prop_map(|t| serde_json::to_string(&t).unwrap_or_default()),
        1 => text.prop_map(|t| format!("\"{t}\"")),
        1 => "(-|[0-9]{1,3}| 4[0-9][0-9] )",
        1 => (text, text).prop_map(|(a, b)| format!(r#"{{"responseType": {}, "message": "{b}"}}"#, serde_json::to_string(&a).unwrap_or_default())),
        1 => Just("[1, \"a\", {}]".to_string()),
    ];
    let sep = prop::sample::select(vec![",", ", ", " ,", ",\n"]);
    let tail = prop::sample::select(vec!["", "", "", "", " ", "x"]);
    let status = prop::option::weighted(0.8, r#""[1-5][0-9][0-9]"|[1-5][0-9][0-9]|"-""#);
    (status, prop::collection::vec((key, value, sep), 0..8), tail).prop_map(|(status, fields, tail)| {
        let mut parts: Vec<String> = status.map(|s| format!("\"status\": {s}")).into_iter().collect();
        parts.extend(fields.iter().map(|(k, v, sep)| format!("{sep}\"{k}\": {v}")));
        let mut line = String::from("{");
        for (i, part) in parts.iter().enumerate() {
            // A separator leads every field but the first.
            line.push_str(if i == 0 { part.trim_start_matches([',', ' ', '\n']) } else { part });
        }
        line.push('}');
        line.push_str(tail);
        line
    })
}

proptest! {
    /// The one-pass reading of an escaped line never disagrees with unescaping it and parsing that.
    #[test]
    fn escaped_json_reads_as_unescaped(line in json_line()) {
        let raw = escaped(&line);
        if let Some(r) = LineParser::Auto.parse_escaped(&raw) {
            prop_assert_eq!(parse_detected(&line), Line::Request(r), "{}", raw);
        }
    }

    #[test]
    fn escaped_junk_reads_as_unescaped(line in r#"\{[{}\[\]":, a-z0-9\\/\-]{0,64}"#) {
        let raw = escaped(&line);
        if let Some(r) = LineParser::Auto.parse_escaped(&raw) {
            prop_assert_eq!(parse_detected(&line), Line::Request(r));
        }
    }
}

#[test]
fn the_console_json_line_is_read_escaped_and_other_escapes_are_left_to_the_full_parse() {
    let line = r#"{ "requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "ip": "203.0.113.7", "caller":"-", "user":"-","requestTime":"25/Nov/2026:10:00:00 +0000", "httpMethod":"GET","resourcePath":"/pets/{petId}", "status":"403","protocol":"HTTP/1.1", "responseLength":"42" }"#;
    let raw = escaped(line);
    let Some(r) = LineParser::Auto.parse_escaped(&raw) else { panic!("not read escaped") };
    assert_eq!(
        (r.status, r.method, r.route, r.origin.source_ip),
        (403, Some("GET"), Some("/pets/{petId}"), Some("203.0.113.7"))
    );
    assert_eq!(Line::Request(r), parse_detected(line));
    // A value with a quote, a newline, a slash escaped by the shipper, trailing text, a template:
    // none is read escaped (the full parse decides).
    for line in [r#"{"status":"403","ua":"say \"hi\""}"#, "{\"status\":\"403\",\n\"x\":1}", r#"{"status":"403"} x"#] {
        assert_eq!(LineParser::Auto.parse_escaped(&escaped(line)), None, "{line}");
    }
    assert_eq!(LineParser::Auto.parse_escaped(r#"{\"route\":\"\/a\",\"status\":\"403\"}"#), None);
    let t = Template::compile(r#"{"status":"$context.status"}"#).unwrap();
    assert_eq!(LineParser::Template(t).parse_escaped(r#"{\"status\":\"403\"}"#), None);
}

/// Issue 17: a JSON template is compared as JSON: its white space and line breaks, and whether a
/// value is quoted, do not matter; a key the template does not have, or one it has and the line
/// lacks, does.
#[test]
fn json_templates_compare_keys_and_values() {
    let one_line = r#"{"rid":"$context.requestId","code":$context.status,"lat":$context.integrationLatency,"who":{"ip":"$context.identity.sourceIp"},"req":"$context.httpMethod $context.resourcePath","src":"apigw"}"#;
    let pretty = "{\n    \"rid\": \"$context.requestId\",\n    \"code\": $context.status,\n    \"lat\":\n        $context.integrationLatency,\n    \"who\": {\n        \"ip\": \"$context.identity.sourceIp\"\n    },\n    \"req\": \"$context.httpMethod $context.resourcePath\",\n    \"src\": \"apigw\"\n}\n";
    let line = r#"{"rid":"r1","code":403,"lat":-,"who":{"ip":"1.2.3.4"},"req":"GET /a/{id}","src":"apigw"}"#;
    for source in [one_line, pretty] {
        let t = Template::compile(source).unwrap();
        let Line::Request(r) = t.parse(line) else { panic!("not parsed: {source}") };
        assert_eq!(
            (r.status, r.method, r.route, r.origin.source_ip),
            (403, Some("GET"), Some("/a/{id}"), Some("1.2.3.4"))
        );
        // Quoting differs, spacing differs: the same request.
        let respaced = r#"{ "rid": "r1", "code": "403", "lat": 12, "who": { "ip": "1.2.3.4" }, "req": "GET /a/{id}", "src": "apigw" }"#;
        assert!(matches!(t.parse(respaced), Line::Request(r) if r.status == 403), "{source}");
        for other in [
            r#"{"rid":"r1","code":403,"lat":-,"who":{"ip":"1.2.3.4"},"req":"GET /a","src":"other"}"#,
            r#"{"rid":"r1","code":403,"lat":-,"who":{"ip":"1.2.3.4"},"req":"GET /a"}"#,
            r#"{"rid":"r1","code":403,"lat":-,"who":{"ip":"1.2.3.4"},"req":"GET /a","src":"apigw","extra":1}"#,
            r#"{"rid":"r1","code":"abc","lat":-,"who":{"ip":"1.2.3.4"},"req":"GET /a","src":"apigw"}"#,
        ] {
            assert_eq!(t.parse(other), Line::Unparsed, "{source} / {other}");
        }
        assert_eq!(t.json_key_of("status"), Some("code"), "{source}");
    }
}

/// A value that breaks the JSON (a bare `"` in it) is still read by the template as text.
#[test]
fn json_templates_fall_back_to_text() {
    let t = Template::compile(r#"{"code":"$context.status","msg":"$context.error.message"}"#).unwrap();
    assert!(matches!(t.parse(r#"{"code":"403","msg":"say "hi""}"#), Line::Request(r) if r.status == 403));
}

/// Issue 17: the Serverless Framework's REST default, with no flag.
#[test]
fn key_value_lines_are_detected() {
    let line = "requestId: r1, ip: 203.0.113.9, caller: -, user: -, requestTime: 27/Nov/2019:14:02:30 +0000, httpMethod: DELETE, resourcePath: /sub/{proxy+}, status: 404, protocol: HTTP/1.1, responseLength: 43";
    let Line::Request(r) = parse_detected(line) else { panic!("not parsed") };
    assert_eq!((r.status, r.method, r.route), (404, Some("DELETE"), Some("/sub/{proxy+}")));
    assert_eq!(LineShape::of(line), Some(LineShape::KeyValue));
    assert_eq!(status("requestId: r1, statusCode: 429"), Some(429), "any status name the JSON reader knows");
}

/// Issue 17: dated execution lines carry their date as the request time (windows place them).
#[test]
fn dated_execution_lines_carry_their_time() {
    for (line, t) in [
        ("Tue Jun 23 05:56:11 UTC 2020 : Method completed with status: 403", 1_592_891_771_000),
        ("2020-06-23T05:56:11.000Z (r1) Method completed with status: 403", 1_592_891_771_000),
    ] {
        let Line::Request(r) = parse_detected(line) else { panic!("not parsed: {line}") };
        assert_eq!(r.request_time_ms(), Some(t), "{line}");
    }
}
