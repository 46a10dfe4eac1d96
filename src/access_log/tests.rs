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
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let line = String::from_utf8_lossy(&bytes);
        let _ = parse_detected(&line);
    }
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
