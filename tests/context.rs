//! The alert's context against the emulator (moto): the stage and deployment behind a log group
//! (REST and HTTP APIs), the 7-day baseline read back in one call, and `apigw-4xx history` and
//! `analyze --api-id/--stage` over seeded state.

mod support;

use apigw_4xx::apigateway::{ApiGateway, DeploymentFinder};
use apigw_4xx::baseline::{self, Baseline};
use apigw_4xx::metric_history::{CloudWatchHistory, MetricHistory};
use apigw_4xx::severity::IgnoredStatuses;
use apigw_4xx::time::window_start;
use assert_cmd::Command;
use aws_sdk_apigateway::types::{Op, PatchOperation};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use support::emulator::Emulator;

const ACCOUNT: &str = "123456789012";

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn log_group_arn(group: &str) -> String {
    format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}:*")
}

/// A REST API whose `prod` stage logs to `group`, deployed with `description`: its deployment id.
async fn rest_stage(sdk: &aws_config::SdkConfig, name: &str, group: &str, description: &str) -> (String, String) {
    let c = aws_sdk_apigateway::Client::new(sdk);
    let api = c.create_rest_api().name(name).send().await.unwrap();
    let api_id = api.id().unwrap().to_string();
    // moto, like API Gateway, deploys only an API with a method.
    let root = c.get_resources().rest_api_id(&api_id).send().await.unwrap().items()[0].id().unwrap().to_string();
    c.put_method()
        .rest_api_id(&api_id)
        .resource_id(&root)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .unwrap();
    c.put_integration()
        .rest_api_id(&api_id)
        .resource_id(&root)
        .http_method("GET")
        .r#type(aws_sdk_apigateway::types::IntegrationType::Mock)
        .send()
        .await
        .unwrap();
    let d =
        c.create_deployment().rest_api_id(&api_id).stage_name("prod").description(description).send().await.unwrap();
    c.update_stage()
        .rest_api_id(&api_id)
        .stage_name("prod")
        .patch_operations(
            PatchOperation::builder()
                .op(Op::Replace)
                .path("/accessLogSettings/destinationArn")
                .value(log_group_arn(group))
                .build(),
        )
        .send()
        .await
        .unwrap();
    (api_id, d.id().unwrap().to_string())
}

#[tokio::test]
async fn rest_stage_deployment_is_found_by_its_log_group() {
    let sdk = Emulator::shared().sdk_config().await;
    let group = "/aws/apigateway/ctx-rest-access";
    // Another API logging elsewhere, so the match has something to skip.
    rest_stage(&sdk, "ctx-other", "/aws/apigateway/ctx-elsewhere", "unrelated").await;
    let (_, id) = rest_stage(&sdk, "ctx-orders", group, "tighten order schema").await;
    let finder = DeploymentFinder::new(ApiGateway::new(&sdk));
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
    let d = DeploymentFinder::new(ApiGateway::new(&sdk)).find(group, None, now()).await.unwrap().expect("found");
    assert_eq!((d.description.as_str(), d.target.as_str()), ("canary rollout", "ctx-http/live"));
    assert!(matches!(d.id.as_deref(), None | Some("dep-http-1")), "{:?}", d.id);
    assert!((now() - d.at).abs() < 600_000, "lastUpdatedDate: {}", d.at);
    assert!(d.line(None).contains(" \"canary rollout\" to ctx-http/live at "), "{}", d.line(None));
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
    let series =
        CloudWatchHistory::new(cw, ns).sums(&baseline::queries(&[(group, &none)]), start, end, 3600).await.unwrap();
    let b = baseline::from_results(0, &none, &series, end);
    assert_eq!(
        b.line(apigw_4xx::severity::ClientErrorRate { client_errors: 31, requests: 100 }),
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
        .env("AWS_EC2_METADATA_DISABLED", "true");
    c
}

#[tokio::test]
async fn history_over_seeded_metrics() {
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
    let out = cli(&e.endpoint)
        .args(["history", "--log-group", group, "--days", "14", "--namespace", ns])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.trim_end().ends_with("1 ELEVATED, 1 HIGH in 14 days"), "{text}");
    assert!(text.contains("HIGH       40.0%  400 of 1,000"), "{text}");
    assert!(text.contains("windows of 5 min with requests"), "{text}");

    let rules = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(rules.path(), format!(r#"{{"{group}": {{"elevated_percent": 1, "high_percent": 5}}}}"#)).unwrap();
    let out = cli(&e.endpoint)
        .args(["history", "--log-group", group, "--namespace", ns, "--json", "--rules"])
        .arg(rules.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
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
    let e = Emulator::shared();
    let sdk = e.sdk_config().await;
    let (api_id, id) = rest_stage(&sdk, "ctx-cli", "/aws/apigateway/ctx-cli", "add v2 routes").await;
    let out = cli(&e.endpoint)
        .args(["analyze", "--api-id", &api_id, "--stage", "prod"])
        .write_stdin("{\"status\":\"403\"}\n")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(&format!("\n\nDeployment: {id} \"add v2 routes\" to ctx-cli/prod at ")), "{text}");
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
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
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
