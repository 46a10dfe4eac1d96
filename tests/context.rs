//! The alert's context against the emulator (moto): the stage and deployment behind a log group
//! (REST and HTTP APIs), the 7-day baseline read back in one call, and `apigw-4xx history` and
//! `analyze --api-id/--stage` over seeded state; and the function's alerts carrying them. Every
//! emulator test holds the emulator (`Emulator::exclusive`): calls are counted and faults injected
//! per emulator.

mod support;

use apigw_4xx::base::time::window_start;
use apigw_4xx::context::apigateway::{ApiGateway, DeploymentFinder};
use apigw_4xx::judge::baseline::Baseline;
use apigw_4xx::judge::severity::IgnoredStatuses;
use apigw_4xx::metrics::baseline;
use apigw_4xx::metrics::cloudwatch::{CloudWatchHistory, MetricHistory};
use assert_cmd::Command;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use support::apigateway::{log_group_arn, rest_stage};
use support::emulator::Emulator;

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[tokio::test]
async fn rest_stage_deployment_is_found_by_its_log_group() {
    let _x = Emulator::exclusive();
    let sdk = Emulator::shared().sdk_config().await;
    let group = "/aws/apigateway/ctx-rest-access";
    // Another API logging elsewhere, so the match has something to skip.
    rest_stage(&sdk, "ctx-other", "/aws/apigateway/ctx-elsewhere", "unrelated").await;
    let (_, id) = rest_stage(&sdk, "ctx-orders", group, "tighten order schema").await;
    let finder = DeploymentFinder::new(ApiGateway::new(&Clients::new(&sdk)));
    let d = finder.find(group, None, now()).await.unwrap().expect("the stage is found");
    assert_eq!(
        (d.id.as_deref(), d.description.as_str(), d.target.as_str()),
        (Some(id.as_str()), "tighten order schema", "ctx-orders/prod")
    );
    assert!((now() - d.at).abs() < 600_000, "createdDate is the deployment's: {}", d.at);
    let line = d.line(Some(window_start(now(), 5)));
    assert!(line.starts_with(&format!("Deployment: {id} \"tighten order schema\" to ctx-orders/prod at ")), "{line}");
    assert_eq!(finder.find("/aws/apigateway/ctx-nobody", None, now()).await, Ok(None));
}

#[tokio::test]
async fn http_api_stage_through_its_own_fields() {
    let _x = Emulator::exclusive();
    // moto 5.2.5 answers apigatewayv2 CreateDeployment with 404 "Not yet implemented", and its
    // CreateStage keeps no deploymentId: the line comes from the stage's own fields (description,
    // lastUpdatedDate), with the id reported when the stage has one.
    let sdk = Emulator::shared().sdk_config().await;
    let c = aws_sdk_apigatewayv2::Client::new(&sdk);
    let api = c
        .create_api()
        .name("ctx-http")
        .protocol_type(aws_sdk_apigatewayv2::types::ProtocolType::Http)
        .send()
        .await
        .unwrap();
    let group = "/aws/apigateway/ctx-http-access";
    c.create_stage()
        .api_id(api.api_id().unwrap())
        .stage_name("live")
        .deployment_id("dep-http-1")
        .description("canary rollout")
        .access_log_settings(
            aws_sdk_apigatewayv2::types::AccessLogSettings::builder()
                .destination_arn(log_group_arn(group))
                .format(r#"{"status":"$context.status"}"#)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let d = DeploymentFinder::new(ApiGateway::new(&Clients::new(&sdk)))
        .find(group, None, now())
        .await
        .unwrap()
        .expect("found");
    assert_eq!((d.description.as_str(), d.target.as_str()), ("canary rollout", "ctx-http/live"));
    assert!(matches!(d.id.as_deref(), None | Some("dep-http-1")), "{:?}", d.id);
    assert!((now() - d.at).abs() < 600_000, "lastUpdatedDate: {}", d.at);
    assert!(d.line(None).contains(" \"canary rollout\" to ctx-http/live at "), "{}", d.line(None));

    // Lines naming the stage: asked for by id (not a REST API, so an HTTP one), never listed.
    let e = Emulator::shared();
    e.reset_calls();
    let named = DeploymentFinder::new(ApiGateway::new(&Clients::new(&sdk)))
        .find("/aws/apigateway/ctx-elsewhere", Some((api.api_id().unwrap(), "live")), now())
        .await
        .unwrap()
        .expect("found by name");
    assert_eq!(named.target, "ctx-http/live");
    let calls = e.calls();
    let asked: Vec<&str> = calls.keys().map(String::as_str).collect();
    assert_eq!(asked, ["apigateway:GetRestApi", "apigatewayv2:GetApi", "apigatewayv2:GetStage"], "{calls:?}");
}

async fn put(cw: &aws_sdk_cloudwatch::Client, namespace: &str, data: Vec<MetricDatum>) {
    // Small requests: the SDK gzips bodies of 10 KB and more.
    for chunk in data.chunks(40) {
        cw.put_metric_data().namespace(namespace).set_metric_data(Some(chunk.to_vec())).send().await.unwrap();
    }
}

fn datum(name: &str, group: &str, t: i64, v: f64) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(name)
        .dimensions(Dimension::builder().name("LogGroup").value(group).build())
        .timestamp(DateTime::from_millis(t))
        .value(v)
        .unit(StandardUnit::Count)
        .build()
}

#[tokio::test]
async fn seven_days_at_two_percent_is_the_baseline() {
    let _x = Emulator::exclusive();
    let sdk = Emulator::shared().sdk_config().await;
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    let (group, ns) = ("/aws/apigateway/ctx-baseline", "Test/ctx-baseline");
    let window = window_start(now(), 5);
    let (start, end) = baseline::span(window);
    let mut data = Vec::new();
    for h in 0..168 {
        let t = start + h * 3_600_000 + 120_000;
        data.push(datum("Requests", group, t, 1000.0));
        data.push(datum("ClientErrors", group, t, 20.0));
    }
    // The current window's own counts are not history.
    data.push(datum("Requests", group, window, 100.0));
    data.push(datum("ClientErrors", group, window, 100.0));
    put(&cw, ns, data).await;
    let none = IgnoredStatuses::default();
    let series = CloudWatchHistory::new(&Clients::new(&sdk), ns)
        .sums(&baseline::queries(&[(group, &none)]), start, end, 3600)
        .await
        .unwrap();
    let b = baseline::from_results(0, &none, &series, end);
    assert_eq!(
        b.line(apigw_4xx::judge::severity::ClientErrorRate { client_errors: 31, requests: 100 }),
        "Baseline: 2.0% over the last 7 days (this window 15.5× that)"
    );
    assert!(matches!(b, Baseline::Rate(r) if r.requests == 168_000));
}

fn cli(sdk_endpoint: &str) -> Command {
    let mut c = Command::cargo_bin("apigw-4xx").unwrap();
    c.env("AWS_ENDPOINT_URL", sdk_endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_MAX_ATTEMPTS")
        .env_remove("AWS_RETRY_MODE")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    c
}

/// What a command that must succeed printed.
trait SuccessStdout {
    fn success_stdout(&mut self) -> Vec<u8>;
}

impl SuccessStdout for Command {
    fn success_stdout(&mut self) -> Vec<u8> {
        self.assert().success().get_output().stdout.clone()
    }
}

#[tokio::test]
async fn history_over_seeded_metrics() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let cw = aws_sdk_cloudwatch::Client::new(&e.sdk_config().await);
    let (group, ns) = ("/aws/apigateway/ctx-history", "Test/ctx-history");
    let day = 86_400_000;
    let base = window_start(now(), 5) - 3 * day;
    // Every 5 minutes of one hour at 2%, then one window at 3%, one at 12% and one at 40%, days apart.
    let mut data = Vec::new();
    for i in 0..12 {
        data.push(datum("Requests", group, base + i * 300_000, 1000.0));
        data.push(datum("ClientErrors", group, base + i * 300_000, 20.0));
    }
    for (t, c4) in [(base - day, 30.0), (base - 2 * day, 120.0), (base - 4 * day, 400.0)] {
        data.push(datum("Requests", group, t, 1000.0));
        data.push(datum("ClientErrors", group, t, c4));
    }
    put(&cw, ns, data).await;
    // Throttled three times in a row (the SDK's default three attempts would give up): the read
    // waits and goes on.
    e.reset_calls();
    e.inject("GetMetricData", "throttle", 3);
    let out =
        cli(&e.endpoint).args(["history", "--log-group", group, "--days", "14", "--namespace", ns]).success_stdout();
    assert_eq!(e.call_count("cloudwatch:GetMetricData"), 4, "{:?}", e.calls());
    let text = String::from_utf8(out).unwrap();
    assert!(text.trim_end().ends_with("1 ELEVATED, 1 HIGH in 14 days"), "{text}");
    assert!(text.contains("HIGH       40.0%  400 of 1,000"), "{text}");
    assert!(text.contains("windows of 5 min with requests"), "{text}");

    let rules = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(rules.path(), format!(r#"{{"{group}": {{"elevated_percent": 1, "high_percent": 5}}}}"#)).unwrap();
    let out = cli(&e.endpoint)
        .args(["history", "--log-group", group, "--namespace", ns, "--json", "--rules"])
        .arg(rules.path())
        .success_stdout();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        (v["elevated"].as_u64(), v["high"].as_u64()),
        (Some(13), Some(2)),
        "2% and 3% ELEVATED, 12% and 40% HIGH: {v}"
    );
    assert_eq!(v["summary"], "13 ELEVATED, 2 HIGH in 14 days");
}

#[tokio::test]
async fn analyze_names_the_deployment_with_api_id_and_stage() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let sdk = e.sdk_config().await;
    let (api_id, id) = rest_stage(&sdk, "ctx-cli", "/aws/apigateway/ctx-cli", "add v2 routes").await;
    e.reset_calls();
    let out = cli(&e.endpoint)
        .args(["analyze", "--api-id", &api_id, "--stage", "prod"])
        .write_stdin("{\"status\":\"403\"}\n")
        .success_stdout();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(&format!("\n\nDeployment: {id} \"add v2 routes\" to ctx-cli/prod at ")), "{text}");
    let calls = e.calls();
    let asked: Vec<&str> = calls.keys().map(String::as_str).collect();
    assert_eq!(asked, ["apigateway:GetDeployment", "apigateway:GetRestApi", "apigateway:GetStage"], "no listing");
}

/// Subscription events of two log groups, each 3 of 100 requests 403.
fn two_groups_at_three_percent() -> String {
    use support::{events, payload, subscription_event, Format};
    let statuses: Vec<u16> = (0..100).map(|i| if i < 3 { 403 } else { 200 }).collect();
    let evs = events(Format::ConsoleJson, &statuses, support::T0, 1000);
    format!(
        "[{},{}]",
        subscription_event(&payload("/aws/apigateway/private-orders", &evs)),
        subscription_event(&payload("/aws/apigateway/public-site", &evs))
    )
}

#[test]
fn cli_rules_give_a_finding_per_group() {
    let rules = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(rules.path(), r#"{"/aws/apigateway/private-*": {"elevated_percent": 1, "high_percent": 5}}"#)
        .unwrap();
    let out = Command::cargo_bin("apigw-4xx")
        .unwrap()
        .args(["analyze", "--json", "--fail-on", "elevated", "--rules"])
        .arg(rules.path())
        .write_stdin(two_groups_at_three_percent())
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["severity"], "OK", "overall, under the global levels");
    let groups = v["groups"].as_array().unwrap();
    let verdict = |name: &str| groups.iter().find(|g| g["log_group"] == name).map(|g| g["severity"].clone());
    assert_eq!(verdict("/aws/apigateway/private-orders"), Some("ELEVATED".into()));
    assert_eq!(verdict("/aws/apigateway/public-site"), Some("OK".into()));
    assert_eq!(groups[0]["elevated_percent"], "1");

    let text = Command::cargo_bin("apigw-4xx")
        .unwrap()
        .args(["analyze", "--rules"])
        .arg(rules.path())
        .write_stdin(two_groups_at_three_percent())
        .success_stdout();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("\nLog group /aws/apigateway/private-orders (ELEVATED above 1%, HIGH above 5%, at least 100 requests):\nELEVATED"),
        "{text}"
    );

    std::fs::write(rules.path(), r#"{"/aws/apigateway/private-*": {"elevated": 1}}"#).unwrap();
    let err = Command::cargo_bin("apigw-4xx")
        .unwrap()
        .args(["analyze", "--rules"])
        .arg(rules.path())
        .write_stdin(two_groups_at_three_percent())
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(err).unwrap();
    assert!(err.contains("unknown key \"elevated\"") && err.lines().count() == 1, "{err}");
}

// ---------------------------------------------------------------------------------------------
// The function with its alert context, end to end.

use apigw_4xx::aws::client::Clients;
use apigw_4xx::function::IncomingEvent;
use support::env::Env;

/// One subscription event of `group` with the given JSON lines, a second apart from `t0`.
fn event_of(group: &str, lines: &[String], t0: i64) -> IncomingEvent {
    let evs: Vec<(i64, String)> = lines.iter().enumerate().map(|(i, l)| (t0 + i as i64 * 10, l.clone())).collect();
    support::subscription(group, &evs)
}

fn lines(mix: &[(u16, usize, &str)]) -> Vec<String> {
    let mut out = Vec::new();
    for (status, n, extra) in mix {
        for _ in 0..*n {
            out.push(format!(
                r#"{{"requestId":"r{}","status":"{status}","resourcePath":"/v1/orders"{extra}}}"#,
                out.len()
            ));
        }
    }
    out
}

#[tokio::test]
async fn alert_names_deployment_and_baseline_and_a_quiet_batch_costs_no_extra_call() {
    let e = Emulator::shared();
    let _x = Emulator::exclusive();
    let f = Env::new("ctx-deploy").await;
    let (group, quiet_group) = ("/aws/apigateway/ctx-fn-orders", "/aws/apigateway/ctx-fn-plain");
    let (_, id) = rest_stage(&f.sdk, "ctx-fn-orders", group, "tighten order schema").await;
    let w = support::recent_window();
    // Seven days at 2% before the window's hour.
    let (start, _) = baseline::span(w);
    let mut data = Vec::new();
    for h in 0..168 {
        data.push(datum("Requests", group, start + h * 3_600_000, 1000.0));
        data.push(datum("ClientErrors", group, start + h * 3_600_000, 20.0));
    }
    put(&aws_sdk_cloudwatch::Client::new(&f.sdk), &f.namespace, data).await;

    // A batch that does not alert: the same calls with or without the context.
    let quiet = lines(&[(200, 200, ""), (403, 2, "")]);
    let plain = f.function(&[]);
    e.reset_calls();
    plain.handle(&event_of(quiet_group, &quiet, w)).await.unwrap();
    let without = e.calls();
    let function = f.with_context(&[]);
    e.reset_calls();
    function.handle(&event_of(group, &quiet, w)).await.unwrap();
    assert_eq!(e.calls(), without, "no extra AWS call on a batch that does not alert");
    assert!(!without.keys().any(|k| k.starts_with("apigateway")), "{without:?}");
    assert!(f.alerts().is_empty());

    // The batch that alerts: the alert names the stage's deployment and the group's baseline.
    e.reset_calls();
    let summary =
        function.handle(&event_of(group, &lines(&[(200, 50, ""), (403, 100, "")]), w + 60_000)).await.unwrap();
    let calls = e.calls();
    assert_eq!(summary.aws_calls, e.total_calls(), "the summary counts the context's calls too: {calls:?}");
    let alerts = f.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let body = &alerts[0].message;
    assert!(body.contains(&format!("\nDeployment: {id} \"tighten order schema\" to ctx-fn-orders/prod at ")), "{body}");
    assert!(body.contains("before this window") || body.contains("after this window started"), "{body}");
    assert!(body.contains("\nBaseline: 2.0% over the last 7 days (this window "), "{body}");
    assert_eq!(calls.get("apigateway:GetDeployment"), Some(&1), "{calls:?}");

    // Another alert within 15 minutes: the stage mapping comes from the container's cache.
    e.reset_calls();
    function.handle(&event_of(group, &lines(&[(403, 200, "")]), w + 120_000 + 300_000)).await.unwrap();
    let calls = e.calls();
    assert_eq!(f.alerts().len(), 2);
    assert!(!calls.contains_key("apigateway:GetRestApis") && !calls.contains_key("apigateway:GetStages"), "{calls:?}");
}

#[tokio::test]
async fn a_failed_lookup_drops_the_line_not_the_alert() {
    let e = Emulator::shared();
    let _x = Emulator::exclusive();
    let f = Env::new("ctx-lookup-fails").await;
    let group = "/aws/apigateway/ctx-fn-denied";
    rest_stage(&f.sdk, "ctx-fn-denied", group, "would be named").await;
    e.reset_calls();
    e.inject("apigateway:GetRestApis", "500", 10);
    let function = f.with_context(&[]);
    let w = support::recent_window();
    function.handle(&event_of(group, &lines(&[(403, 150, "")]), w)).await.unwrap();
    assert!(e.call_count("apigateway:GetRestApis") >= 1, "the fault was met: {:?}", e.calls());
    e.clear_faults();
    let alerts = f.alerts();
    assert_eq!(alerts.len(), 1);
    assert!(!alerts[0].message.contains("Deployment:"), "{}", alerts[0].message);
    assert!(alerts[0].message.contains("Baseline: not enough history"), "{}", alerts[0].message);
}

#[tokio::test]
async fn one_api_key_behind_ninety_of_a_hundred_4xx_is_named() {
    let _x = Emulator::exclusive();
    let f = Env::new("ctx-consumers").await;
    let group = "/aws/apigateway/ctx-fn-consumers";
    let batch = lines(&[
        (200, 400, r#","apiKeyId":"k1""#),
        (403, 90, r#","apiKeyId":"k7xq2lmn9a","ip":"198.51.100.7""#),
        (403, 6, r#","ip":"203.0.113.9""#),
        (404, 4, r#","ip":"203.0.113.10""#),
    ]);
    f.function(&[]).handle(&event_of(group, &batch, support::recent_window())).await.unwrap();
    let alerts = f.alerts();
    assert_eq!(alerts.len(), 1);
    let body = &alerts[0].message;
    assert!(body.contains("\nConsumers: api key k7xq2lmn9a 90 of 100 4xx (90.0%), ip 203.0.113.9 6 of 100 4xx (6.0%), ip 203.0.113.10 4 of 100 4xx (4.0%)."), "{body}");
    assert!(
        body.contains(
            "Most 403s come from one consumer, api key k7xq2lmn9a: that key or its usage plan has not propagated"
        ),
        "{body}"
    );
}

#[tokio::test]
async fn group_rules_alert_one_group_at_three_percent_and_not_another() {
    let _x = Emulator::exclusive();
    let f = Env::new("ctx-rules").await;
    let (strict, lax) = ("/aws/apigateway/ctx-fn-private", "/aws/apigateway/ctx-fn-public");
    let rules = format!(r#"{{"{strict}": {{"elevated_percent": 1, "high_percent": 5}}}}"#);
    let function = f.function(&[("GROUP_RULES", &rules)]);
    let w = support::recent_window();
    let batch = lines(&[(200, 97, ""), (403, 3, "")]);
    function.handle(&event_of(strict, &batch, w)).await.unwrap();
    function.handle(&event_of(lax, &batch, w)).await.unwrap();
    let alerts = f.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].attribute("severity"), Some("ELEVATED"));
    assert_eq!(alerts[0].attribute("logGroup"), Some(strict));
    assert!(alerts[0].message.starts_with("ELEVATED Elevated Client Error Rate (4xx)\n\n3.0% of API Gateway requests"));
}

#[tokio::test]
async fn spike_factor_alerts_a_window_far_above_its_baseline() {
    let _x = Emulator::exclusive();
    let f = Env::new("ctx-spike").await;
    let group = "/aws/apigateway/ctx-fn-spike";
    let w = support::recent_window();
    let (start, _) = baseline::span(w);
    let mut data = Vec::new();
    for h in 0..48 {
        data.push(datum("Requests", group, start + (167 - h) * 3_600_000, 10_000.0));
        data.push(datum("ClientErrors", group, start + (167 - h) * 3_600_000, 10.0));
    }
    put(&aws_sdk_cloudwatch::Client::new(&f.sdk), &f.namespace, data).await;
    let batch = lines(&[(200, 196, ""), (403, 4, "")]); // 2.0%: under the fixed 10%, 20× its 0.1%
    f.with_context(&[("DEPLOYMENT_LOOKUP", "false")]).handle(&event_of(group, &batch, w)).await.unwrap();
    assert!(f.alerts().is_empty(), "SPIKE_FACTOR is off by default");
    f.with_context(&[("SPIKE_FACTOR", "5"), ("DEPLOYMENT_LOOKUP", "false")])
        .handle(&event_of(group, &batch, w + 300_000))
        .await
        .unwrap();
    let alerts = f.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].attribute("severity"), Some("ELEVATED"));
    assert!(
        alerts[0].message.contains("Baseline: 0.1% over the last 7 days (this window 20.0× that)"),
        "{}",
        alerts[0].message
    );
}
