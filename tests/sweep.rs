//! The sweep against the emulator (moto: API Gateway REST, HTTP and WebSocket stages with access-log
//! settings and tags, CloudWatch Logs groups and subscription filters, DynamoDB, SNS). Each test
//! starts from an empty account (moto reset) and holds the emulator: calls are counted per emulator.
//!
//! What moto cannot do, the harness does (tests/emulator/serve.py): a Lambda function to subscribe
//! (`/_lambda`), the delivery CloudWatch Logs makes to it (`/_deliveries`, handed to the function
//! here), the pre-signed URL a custom resource answers on (`/_cfn`), API Gateway's
//! `TooManyRequestsException` and access denied (faults), and each call's time (`/_calls/log`).

mod support;

use apigw_4xx::aws::client::Clients;
use apigw_4xx::context::apigateway::ApiGateway;
use apigw_4xx::function::config::Config;
use apigw_4xx::function::emf::CapturedEmf;
use apigw_4xx::function::stores::{CloudWatchStore, SnsAlerts};
use apigw_4xx::function::sweep::config::SweepConfig;
use apigw_4xx::function::sweep::event::SweepEvent;
use apigw_4xx::function::sweep::logs::CloudWatchLogs;
use apigw_4xx::function::sweep::respond::HttpResponder;
use apigw_4xx::function::sweep::store::DynamoState;
use apigw_4xx::function::sweep::{SweepSummary, Sweeper};
use apigw_4xx::function::{Function, IncomingEvent, Invocation};
use aws_sdk_apigateway::types::{Op, PatchOperation};
use aws_sdk_apigatewayv2::types::{AccessLogSettings, ProtocolType};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use support::emulator::{Emulator, Exclusive};

const ACCOUNT: &str = "123456789012";
const FILTER: &str = "apigw-4xx-sweep-test";

type Sweep = Sweeper<ApiGateway, CloudWatchLogs, DynamoState, SnsAlerts, CapturedEmf>;

fn arn(group: &str) -> String {
    format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}")
}

/// An empty account with the stack's pieces: the state table, the alert topic, the function.
struct World {
    _x: Exclusive,
    sdk: aws_config::SdkConfig,
    rest: aws_sdk_apigateway::Client,
    http: aws_sdk_apigatewayv2::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    topic: String,
    function: String,
}

async fn world() -> World {
    let x = Emulator::exclusive();
    let e = Emulator::shared();
    e.reset_aws();
    let sdk = e.sdk_config().await;
    aws_sdk_dynamodb::Client::new(&sdk)
        .create_table()
        .table_name("sweep-state")
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let topic = aws_sdk_sns::Client::new(&sdk).create_topic().name("alerts").send().await.unwrap().topic_arn.unwrap();
    let function = e.create_function("apigw-4xx");
    World {
        _x: x,
        rest: aws_sdk_apigateway::Client::new(&sdk),
        http: aws_sdk_apigatewayv2::Client::new(&sdk),
        logs: aws_sdk_cloudwatchlogs::Client::new(&sdk),
        sdk,
        topic,
        function,
    }
}

impl World {
    fn config(&self, extra: &[(&str, &str)]) -> SweepConfig {
        let mut vars = vec![
            ("SWEEP_STATE_TABLE", "sweep-state"),
            ("SUBSCRIPTION_FILTER_NAME", FILTER),
            ("DESTINATION_ARN", self.function.as_str()),
            ("ALERT_TOPIC_ARN", self.topic.as_str()),
            ("METRIC_NAMESPACE", "Test/Sweep"),
            ("OWN_LOG_GROUPS", "/aws/lambda/apigw-4xx"),
        ];
        vars.extend_from_slice(extra);
        SweepConfig::from_lookup(|k| vars.iter().rev().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap()
    }

    fn sweeper(&self, config: SweepConfig) -> Sweep {
        let clients = Clients::new(&self.sdk).unretried();
        Sweeper::new(
            config.clone(),
            ApiGateway::new(&clients),
            CloudWatchLogs::new(&clients),
            DynamoState::new(&clients, &config.table),
            SnsAlerts::new(&Clients::new(&self.sdk), &config.outputs.alert_topic_arn),
            CapturedEmf::default(),
            clients.calls().clone(),
        )
        .with_reserve(Duration::from_millis(300))
    }

    async fn group(&self, name: &str) {
        self.logs.create_log_group().log_group_name(name).send().await.unwrap();
    }

    /// Another tool's filter on `group` (to a function of its own).
    async fn foreign_filter(&self, group: &str, name: &str) {
        let dest = Emulator::shared().create_function(&format!("tool-{name}"));
        self.logs
            .put_subscription_filter()
            .log_group_name(group)
            .filter_name(name)
            .filter_pattern("")
            .destination_arn(dest)
            .send()
            .await
            .unwrap();
    }

    /// `(name, destination)` of every filter on `group`.
    async fn filters(&self, group: &str) -> Vec<(String, String)> {
        let out = self.logs.describe_subscription_filters().log_group_name(group).send().await.unwrap();
        out.subscription_filters()
            .iter()
            .map(|f| (f.filter_name().unwrap().to_string(), f.destination_arn().unwrap().to_string()))
            .collect()
    }

    /// Groups holding this stack's filter, among `groups`.
    async fn watched(&self, groups: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for g in groups {
            let f = self.filters(g).await;
            let ours: Vec<_> = f.iter().filter(|(n, _)| n == FILTER).collect();
            assert!(ours.len() <= 1);
            if let Some((_, dest)) = ours.first() {
                assert_eq!(dest, &self.function, "{g}: delivers to the function");
                out.push(g.to_string());
            }
        }
        out
    }

    /// A REST API `name` with a stage `stage` logging to `group` (none: logging off), tagged `tags`.
    async fn rest(&self, name: &str, stage: &str, group: Option<&str>, tags: &[(&str, &str)]) -> String {
        let c = &self.rest;
        let id = support::apigateway::deployable_rest_api(c, name).await;
        let deployment = c.create_deployment().rest_api_id(&id).send().await.unwrap().id.unwrap();
        let mut create = c.create_stage().rest_api_id(&id).stage_name(stage).deployment_id(deployment);
        for (k, v) in tags {
            create = create.tags(*k, *v);
        }
        create.send().await.unwrap();
        if let Some(g) = group {
            self.rest_logging(&id, stage, Some(g)).await;
        }
        id
    }

    async fn rest_logging(&self, id: &str, stage: &str, group: Option<&str>) {
        let op = match group {
            Some(g) => {
                PatchOperation::builder().op(Op::Replace).path("/accessLogSettings/destinationArn").value(arn(g))
            }
            None => PatchOperation::builder().op(Op::Remove).path("/accessLogSettings"),
        };
        self.rest.update_stage().rest_api_id(id).stage_name(stage).patch_operations(op.build()).send().await.unwrap();
    }

    /// An HTTP (or WebSocket) API `name` with a stage logging to `group`.
    async fn http(&self, name: &str, stage: &str, group: Option<&str>, websocket: bool) -> String {
        let mut create = self.http.create_api().name(name);
        create = if websocket {
            create.protocol_type(ProtocolType::Websocket).route_selection_expression("$request.body.action")
        } else {
            create.protocol_type(ProtocolType::Http)
        };
        let id = create.send().await.unwrap().api_id.unwrap();
        let mut s = self.http.create_stage().api_id(&id).stage_name(stage);
        if let Some(g) = group {
            s = s.access_log_settings(
                AccessLogSettings::builder().destination_arn(arn(g)).format(r#"{"status":"$context.status"}"#).build(),
            );
        }
        s.send().await.unwrap();
        id
    }

    /// `n` HTTP APIs `{prefix}-{i}`, each with a stage logging to `group(i)`, made 16 at a time.
    async fn bulk(&self, prefix: &str, n: usize, group: impl Fn(usize) -> String) {
        for chunk in (0..n).collect::<Vec<_>>().chunks(16) {
            let tasks: Vec<_> = chunk
                .iter()
                .map(|&i| {
                    let (http, name, g) = (self.http.clone(), format!("{prefix}-{i:04}"), group(i));
                    tokio::spawn(async move {
                        let id = http.create_api().name(name).protocol_type(ProtocolType::Http).send().await.unwrap();
                        let settings = AccessLogSettings::builder().destination_arn(arn(&g)).format("$context.status");
                        http.create_stage()
                            .api_id(id.api_id.unwrap())
                            .stage_name("live")
                            .access_log_settings(settings.build())
                            .send()
                            .await
                            .unwrap();
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        }
    }

    /// `n` groups `/aws/apigateway/{prefix}-{i}`, each written by `per_group` HTTP APIs, in listing
    /// order (a partial listing has found only the first groups).
    async fn bulk_groups(&self, prefix: &str, n: usize, per_group: usize) -> Vec<String> {
        let groups: Vec<String> = (0..n).map(|i| format!("/aws/apigateway/{prefix}-{i}")).collect();
        for g in &groups {
            self.group(g).await;
        }
        self.bulk(prefix, n * per_group, |i| groups[i / per_group].clone()).await;
        groups
    }

    fn notices(&self) -> Vec<support::emulator::SentMessage> {
        Emulator::shared().sns_messages(&self.topic)
    }
}

/// The must-show account: 5 REST and 3 HTTP/WebSocket stages; one without access logging, one
/// opted out, two sharing a group, one group already holding two other tools' filters.
struct Account {
    orders: String,
    billing: String,
    users: String,
}

const ORDERS: &str = "/aws/apigateway/orders";
const SHARED: &str = "/aws/apigateway/shared";
const LEGACY: &str = "/aws/apigateway/legacy";
const SEARCH: &str = "/aws/apigateway/search";
const FULL: &str = "/aws/apigateway/full";
const CHAT: &str = "/aws/apigateway/chat";
const GROUPS: [&str; 6] = [ORDERS, SHARED, LEGACY, SEARCH, FULL, CHAT];

async fn account(w: &World) -> Account {
    for g in GROUPS {
        w.group(g).await;
    }
    w.foreign_filter(FULL, "datadog").await;
    w.foreign_filter(FULL, "splunk").await;
    let orders = w.rest("orders", "prod", Some(ORDERS), &[]).await;
    let billing = w.rest("billing", "prod", Some(SHARED), &[]).await;
    let users = w.rest("users", "prod", Some(SHARED), &[]).await;
    w.rest("legacy", "prod", Some(LEGACY), &[("apigw-4xx", "off")]).await;
    w.rest("internal", "prod", None, &[]).await;
    w.http("search", "live", Some(SEARCH), false).await;
    w.http("catalog", "live", Some(FULL), false).await;
    w.http("chat", "live", Some(CHAT), true).await;
    Account { orders, billing, users }
}

/// The calls since the last reset that change something (everything but Get, Describe and List).
fn writes() -> BTreeMap<String, u64> {
    Emulator::shared()
        .calls()
        .into_iter()
        .filter(|(op, _)| {
            let name = op.split_once(':').map_or(op.as_str(), |(_, n)| n);
            !(name.starts_with("Get") || name.starts_with("Describe") || name.starts_with("List"))
        })
        .collect()
}

/// No `per_second + 1` calls whose name starts with `prefix` fall within one second of `log` (less
/// 50 ms for the loopback's jitter between the client's spacing and the emulator's clock).
fn assert_paced(log: &[(f64, String)], prefix: &str, per_second: usize) -> usize {
    let times: Vec<f64> = log.iter().filter(|(_, op)| op.starts_with(prefix)).map(|(t, _)| *t).collect();
    for (i, t) in times.iter().enumerate() {
        if let Some(later) = times.get(i + per_second) {
            assert!(later - t >= 0.95, "{prefix}: {} calls within {:.3} s", per_second + 1, later - t);
        }
    }
    times.len()
}

/// A custom-resource request of `kind` whose answer the emulator keeps under `id`.
fn request(kind: &str, id: &str) -> SweepEvent {
    SweepEvent::from_value(json!({
        "RequestType": kind, "ServiceToken": "arn", "ResponseURL": Emulator::shared().cfn_response_url(id),
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1", "RequestId": id,
        "LogicalResourceId": "Sweep", "PhysicalResourceId": FILTER, "ResourceType": "Custom::Sweep",
        "ResourceProperties": {"ServiceToken": "arn"}
    }))
    .unwrap()
}

async fn run(s: &Sweep) -> SweepSummary {
    let sum = s.sweep(Invocation::now()).await.unwrap();
    assert_eq!(sum.error, None, "{sum:?}");
    sum
}

#[tokio::test]
async fn a_first_sweep_watches_exactly_the_right_groups_at_the_documented_pace() {
    let w = world().await;
    account(&w).await;
    Emulator::shared().reset_calls();
    // The defaults: 2 API Gateway calls a second, 5 CloudWatch Logs calls a second.
    let s = w.sweeper(w.config(&[]));
    let sum = run(&s).await;
    let log = Emulator::shared().call_log();
    assert_eq!(w.watched(&GROUPS).await, [ORDERS, SHARED, SEARCH, CHAT], "{sum:?}");
    assert_eq!((sum.added, sum.watched, sum.unwatchable, sum.reported, sum.complete), (4, 4, 1, 1, true), "{sum:?}");
    assert_eq!(sum.unwatchable_groups, [format!("{FULL} (no_free_slot)")]);
    // The full group: its two filters untouched, reported once.
    let mut full = w.filters(FULL).await;
    full.sort();
    assert_eq!(full.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(), ["datadog", "splunk"]);
    let notices = w.notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].subject, format!("NOT WATCHED: {FULL} (no_free_slot)"));
    assert!(notices[0].message.contains("(datadog, splunk)") && notices[0].message.contains("catalog/live"));
    assert_eq!(notices[0].attribute("severity"), Some("NOTICE"));
    // The documented pace, measured where the calls arrive.
    assert_eq!(assert_paced(&log, "apigateway", 2), 2 + 8, "two API listings, one GetStages per API");
    assert_eq!(assert_paced(&log, "logs:", 5), 6 + 4, "a check per group, a put per new filter");
    // The gauges.
    let gauges = s.emf().take();
    let g: serde_json::Value = serde_json::from_str(gauges.last().unwrap()).unwrap();
    assert_eq!((g["WatchedLogGroups"].as_u64(), g["UnwatchableLogGroups"].as_u64()), (Some(4), Some(1)));
    Emulator::shared().emf(&gauges.join("\n"));

    // Idempotence: nothing changed, no write call of any kind, no second notice.
    Emulator::shared().reset_calls();
    let again = run(&s).await;
    assert_eq!(writes(), BTreeMap::new(), "{again:?}");
    assert_eq!((again.added, again.removed, again.reported, again.watched), (0, 0, 0, 4));
    assert_eq!(w.notices().len(), 1, "the full group is reported once, not once per sweep");
}

#[tokio::test]
async fn changes_are_followed_by_the_next_sweep() {
    let w = world().await;
    let a = account(&w).await;
    let s = w.sweeper(w.config(&[("SWEEP_APIGATEWAY_PER_SECOND", "10"), ("SWEEP_LOGS_PER_SECOND", "10")]));
    run(&s).await;
    // A new stage; a deleted stage; logging off on one of the two stages sharing a group.
    w.group("/aws/apigateway/fresh").await;
    w.http("fresh", "v1", Some("/aws/apigateway/fresh"), false).await;
    w.rest.delete_stage().rest_api_id(&a.orders).stage_name("prod").send().await.unwrap();
    w.rest_logging(&a.billing, "prod", None).await;
    let sum = run(&s).await;
    assert_eq!((sum.added, sum.removed), (1, 1), "{sum:?}");
    let all = [ORDERS, SHARED, SEARCH, CHAT, "/aws/apigateway/fresh"];
    assert_eq!(
        w.watched(&all).await,
        [SHARED, SEARCH, CHAT, "/aws/apigateway/fresh"],
        "users/prod still writes {SHARED}"
    );
    // The last stage writing the shared group stops logging: its filter goes too.
    w.rest_logging(&a.users, "prod", None).await;
    let sum = run(&s).await;
    assert_eq!((sum.added, sum.removed), (0, 1), "{sum:?}");
    assert_eq!(w.watched(&all).await, [SEARCH, CHAT, "/aws/apigateway/fresh"]);
    // Another tool frees a slot of the full group: the next sweep takes it.
    w.logs.delete_subscription_filter().log_group_name(FULL).filter_name("splunk").send().await.unwrap();
    assert_eq!(run(&s).await.added, 1);
    assert_eq!(w.watched(&[FULL]).await, [FULL]);
}

#[tokio::test]
async fn named_groups_and_prefixes_any_number_and_the_role_refused() {
    let w = world().await;
    let names: Vec<String> = (0..25).map(|i| format!("/custom/named-{i:02}")).collect();
    for n in &names {
        w.group(n).await;
    }
    for g in ["/team/a", "/team/b", "/aws/lambda/apigw-4xx"] {
        w.group(g).await;
    }
    let list = format!("{},/team/*,/custom/missing,/aws/lambda/*", names.join(","));
    let s =
        w.sweeper(w.config(&[("WATCH_STAGES", "none"), ("LOG_GROUP_NAMES", &list), ("SWEEP_LOGS_PER_SECOND", "10")]));
    // The role may not change one group (a resource policy, an SCP): reported, never retried blindly.
    Emulator::shared().inject_matching("logs:PutSubscriptionFilter", "access_denied", 1, "/team/b");
    // CloudWatch Logs refuses the filter for one group as invalid, at every try: reported once.
    Emulator::shared().inject_matching("logs:PutSubscriptionFilter", "invalid_parameter", 2, "/custom/named-03");
    let sum = run(&s).await;
    assert_eq!(sum.watched, 25, "24 named and /team/a: {sum:?}");
    assert_eq!(w.watched(&["/team/a", "/team/b", "/aws/lambda/apigw-4xx"]).await, ["/team/a"], "never its own group");
    let mut reasons = sum.unwatchable_groups.clone();
    reasons.sort();
    assert_eq!(reasons, ["/custom/missing (no_such_group)", "/custom/named-03 (refused)", "/team/b (access_denied)"]);
    assert_eq!(w.notices().len(), 3);
    assert!(w.notices().iter().any(|n| n.message.contains("InvalidParameterException: emulated fault")));
    let again = run(&s).await;
    assert!(again.unwatchable_groups.contains(&"/custom/named-03 (refused)".to_string()), "{again:?}");
    assert_eq!(w.notices().len(), 3, "one notice per group, not one per sweep");
}

#[tokio::test]
async fn stack_deletion_removes_every_filter_of_the_stack_and_no_other() {
    let w = world().await;
    account(&w).await;
    w.foreign_filter(ORDERS, "vendor").await;
    let s = w.sweeper(w.config(&[("SWEEP_APIGATEWAY_PER_SECOND", "10"), ("SWEEP_LOGS_PER_SECOND", "10")]));
    let responder = HttpResponder::new().unwrap();
    let e = Emulator::shared();
    // Deploy: the custom resource's Create sweeps once and answers.
    let created = s.handle(request("Create", "c1"), Invocation::now(), &responder).await.unwrap();
    assert_eq!(created.watched, 4);
    let answers = e.cfn_responses();
    assert_eq!((answers[0]["Status"].as_str(), answers[0]["Data"]["Watched"].as_str()), (Some("SUCCESS"), Some("4")));
    assert_eq!(answers[0]["PhysicalResourceId"], FILTER);

    e.reset_calls();
    let closed = s.handle(request("Delete", "d1"), Invocation::now(), &responder).await.unwrap();
    assert_eq!((closed.removed, closed.watched, closed.error.as_deref()), (4, 0, None));
    assert_eq!(w.watched(&GROUPS).await, Vec::<String>::new(), "no filter of the stack is left");
    let mut others: Vec<String> = Vec::new();
    for g in GROUPS {
        others.extend(w.filters(g).await.into_iter().map(|(n, _)| format!("{g}:{n}")));
    }
    others.sort();
    assert_eq!(others, [format!("{FULL}:datadog"), format!("{FULL}:splunk"), format!("{ORDERS}:vendor")]);
    assert_eq!(e.call_count("logs:DeleteSubscriptionFilter"), 4, "only this stack's filters");
    assert_eq!(e.cfn_responses()[1]["Status"], "SUCCESS");
    // A scheduled run that comes late (its invocation queued) puts nothing back.
    let late = s.handle(SweepEvent::Scheduled, Invocation::now(), &responder).await.unwrap();
    assert!(late.closed);
    assert_eq!(w.watched(&GROUPS).await, Vec::<String>::new());
}

/// A setting edited by hand into one the sweep refuses: stack deletion still removes every filter
/// of the stack, from the state table and the filter name alone.
#[tokio::test]
async fn stack_deletion_under_a_refused_setting_still_removes_the_filters() {
    let w = world().await;
    account(&w).await;
    let s = w.sweeper(w.config(&[("SWEEP_APIGATEWAY_PER_SECOND", "10"), ("SWEEP_LOGS_PER_SECOND", "10")]));
    assert_eq!(run(&s).await.watched, 4);
    let vars = [
        ("SWEEP_STATE_TABLE", "sweep-state"),
        ("SUBSCRIPTION_FILTER_NAME", FILTER),
        ("DESTINATION_ARN", w.function.as_str()),
        ("STAGE_FILTER", "=off"),
    ];
    let lookup = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
    assert!(SweepConfig::from_lookup(lookup).is_err(), "the sweep refuses the setting");
    let closer = w.sweeper(SweepConfig::for_deletion(lookup).unwrap());
    let e = Emulator::shared();
    let delete = request("Delete", "d-refused");
    let closed = closer.handle(delete, Invocation::now(), &HttpResponder::new().unwrap()).await.unwrap();
    assert_eq!((closed.removed, closed.error.as_deref()), (4, None));
    assert_eq!(w.watched(&GROUPS).await, Vec::<String>::new(), "no filter of the stack is left");
    assert_eq!(e.cfn_responses().last().unwrap()["Status"], "SUCCESS");
}

#[tokio::test]
async fn a_put_applied_then_lost_is_still_removed_at_stack_deletion_and_a_refused_delete_fails_it() {
    let w = world().await;
    account(&w).await;
    let s = w.sweeper(w.config(&[("SWEEP_APIGATEWAY_PER_SECOND", "10"), ("SWEEP_LOGS_PER_SECOND", "10")]));
    let e = Emulator::shared();
    // The put is applied, and its answer lost: the sweep counts it failed, but the state listed the
    // group before the call.
    e.inject_matching("logs:PutSubscriptionFilter", "apply_then_drop", 1, SEARCH);
    let sum = run(&s).await;
    assert_eq!((sum.failed, sum.added), (1, 3), "{sum:?}");
    assert_eq!(w.watched(&[SEARCH]).await, [SEARCH], "the filter is there");
    // At deletion, the delete of one group is refused: the others go, the answer names it.
    e.inject_matching("logs:DeleteSubscriptionFilter", "access_denied", 1, ORDERS);
    let closed = s.close(Invocation::now()).await.unwrap();
    assert_eq!(closed.removed, 3);
    assert_eq!(w.watched(&GROUPS).await, [ORDERS]);
    let error = closed.error.unwrap();
    assert!(error.starts_with("1 subscription filters could not be deleted") && error.ends_with(ORDERS), "{error}");
    // Deleting again (CloudFormation's retry) finishes the job.
    let again = s.close(Invocation::now()).await.unwrap();
    assert_eq!((again.removed, again.error), (1, None));
    assert_eq!(w.watched(&GROUPS).await, Vec::<String>::new());
}

#[tokio::test]
async fn three_hundred_apis_throttled_complete_over_several_runs_within_the_pace() {
    let w = world().await;
    let groups = w.bulk_groups("bulk", 10, 30).await;
    let refs: Vec<&str> = groups.iter().map(String::as_str).collect();
    let mut config = w.config(&[]);
    config.apigateway_per_second = 40;
    config.logs_per_second = 40;
    let s = w.sweeper(config);
    assert_eq!(run(&s).await.watched, 10, "a first pass, in one run");
    let e = Emulator::shared();
    e.reset_calls();
    e.inject("apigatewayv2:GetStages", "too_many_requests", 5);
    let mut runs = Vec::new();
    loop {
        // Runs of 3 seconds: far too short for 300 APIs at 40 calls a second.
        let sum = s.sweep(Invocation::now().with_remaining(Duration::from_secs(3))).await.unwrap();
        assert_eq!(sum.error, None);
        runs.push(sum.clone());
        if sum.complete || runs.len() == 10 {
            break;
        }
        assert!(sum.remaining > 0);
        // A pass under way never unsubscribes a group whose stages it has not listed yet.
        assert_eq!(e.call_count("logs:DeleteSubscriptionFilter"), 0);
        assert_eq!(w.watched(&refs).await.len(), 10, "after run {}", runs.len());
    }
    let last = runs.last().unwrap();
    assert!(last.complete && runs.len() >= 3, "{runs:?}");
    assert_eq!(last.runs as usize, runs.len());
    assert_eq!(last.watched, 10);
    assert_eq!(runs.iter().map(|r| r.throttled).sum::<u64>(), 5);
    // Resumed, never restarted: each API's stages listed once (and once more per throttled answer).
    assert_eq!(e.call_count("apigatewayv2:GetStages"), 300 + 5);
    assert_eq!(e.call_count("apigatewayv2:GetApis"), 1);
    assert_eq!(assert_paced(&e.call_log(), "apigateway", 40), 2 + 300 + 5);
    assert_eq!(writes().keys().filter(|k| k.starts_with("logs:")).count(), 0, "nothing changed: no filter written");
}

/// An API deleted after a pass listed it (a pass over many APIs takes minutes): its GetStages answers
/// NotFoundException, the API has no stages, and the pass goes on instead of failing at that step
/// run after run.
#[tokio::test]
async fn an_api_deleted_after_its_listing_does_not_stop_the_pass() {
    let w = world().await;
    let groups = w.bulk_groups("gone", 4, 10).await;
    let mut config = w.config(&[]);
    (config.apigateway_per_second, config.logs_per_second) = (10, 10);
    let s = w.sweeper(config);
    // A run too short for 40 APIs at 10 calls a second: the APIs are listed, few stages are.
    let first = s.sweep(Invocation::now().with_remaining(Duration::from_millis(1_500))).await.unwrap();
    assert!(!first.complete && first.remaining >= 20, "{first:?}");
    // The APIs of the last group go, before the pass reaches them.
    let apis = w.http.get_apis().send().await.unwrap();
    let last: Vec<&str> =
        apis.items().iter().filter(|a| a.name().is_some_and(|n| n >= "gone-0030")).filter_map(|a| a.api_id()).collect();
    assert_eq!(last.len(), 10);
    for id in last {
        w.http.delete_api().api_id(id).send().await.unwrap();
    }
    let mut sum = first;
    for _ in 0..5 {
        sum = run(&s).await;
        if sum.complete {
            break;
        }
    }
    assert!(sum.complete, "{sum:?}");
    let refs: Vec<&str> = groups.iter().map(String::as_str).collect();
    assert_eq!(w.watched(&refs).await, &refs[..3], "the deleted APIs' group is not watched");
}

#[tokio::test]
async fn a_batch_from_a_discovered_group_reaches_the_function_and_alerts() {
    let w = world().await;
    let group = "/aws/apigateway/discovered";
    w.group(group).await;
    w.http("discovered", "live", Some(group), false).await;
    let s = w.sweeper(w.config(&[("SWEEP_APIGATEWAY_PER_SECOND", "10")]));
    assert_eq!(run(&s).await.added, 1);
    // API Gateway writes access-log lines; CloudWatch Logs delivers them through the stack's filter.
    let t0 = support::recent_window();
    let statuses = support::statuses(&[(200, 400), (403, 200)]);
    let events: Vec<aws_sdk_cloudwatchlogs::types::InputLogEvent> =
        support::events(support::Format::HttpApi, &statuses, t0, 100)
            .into_iter()
            .map(|(t, m)| {
                aws_sdk_cloudwatchlogs::types::InputLogEvent::builder().timestamp(t).message(m).build().unwrap()
            })
            .collect();
    w.logs.create_log_stream().log_group_name(group).log_stream_name("s").send().await.unwrap();
    w.logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name("s")
        .set_log_events(Some(events))
        .send()
        .await
        .unwrap();
    let deliveries = Emulator::shared().deliveries();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(
        (deliveries[0]["filter"].as_str(), deliveries[0]["function"].as_str()),
        (Some(FILTER), Some(w.function.as_str()))
    );
    let event: IncomingEvent = serde_json::from_value(deliveries[0]["event"].clone()).unwrap();
    // The function, as deployed beside the sweep.
    let vars = [("ALERT_TOPIC_ARN", w.topic.as_str()), ("METRIC_NAMESPACE", "Test/Sweep")];
    let config = Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap();
    let f = Function::new(
        config.clone(),
        CloudWatchStore::new(&Clients::new(&w.sdk), &config.namespace),
        SnsAlerts::new(&Clients::new(&w.sdk), &config.alert_topic_arn),
        CapturedEmf::default(),
    );
    let sum = f.handle(&event).await.unwrap();
    assert_eq!((sum.requests, sum.client_errors, sum.alerts), (600, 200, 1), "{sum:?}");
    let alerts = w.notices();
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].subject.starts_with(&format!("HIGH: 33.3% 4xx on {group}")), "{}", alerts[0].subject);
}

/// What a sweep of `n` stages (one API and one group each) costs: calls per operation of the first
/// sweep and of the next one with nothing changed, and the time each takes at the default pace.
async fn cost(n: usize) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let w = world().await;
    for i in 0..n {
        w.group(&format!("/aws/apigateway/cost-{i:04}")).await;
    }
    w.bulk("cost", n, |i| format!("/aws/apigateway/cost-{i:04}")).await;
    let mut config = w.config(&[]);
    // Counted, not timed: the calls are the same at any pace.
    (config.apigateway_per_second, config.logs_per_second) = (200, 200);
    let s = w.sweeper(config);
    let e = Emulator::shared();
    e.reset_calls();
    assert_eq!(run(&s).await.watched, n);
    let first = e.calls();
    e.reset_calls();
    run(&s).await;
    (first, e.calls())
}

#[tokio::test]
async fn a_sweep_costs_two_reads_a_stage_and_writes_only_what_changed() {
    let (first, again) = cost(10).await;
    let expect = |stage_calls: u64, writes: u64| {
        BTreeMap::from([
            ("apigateway:GetRestApis".to_string(), 1),
            ("apigatewayv2:GetApis".to_string(), 1),
            ("apigatewayv2:GetStages".to_string(), stage_calls),
            ("dynamodb:GetItem".to_string(), 1),
            ("logs:DescribeSubscriptionFilters".to_string(), stage_calls),
        ])
        .into_iter()
        .chain(
            (writes > 0)
                .then(|| [("logs:PutSubscriptionFilter".to_string(), writes), ("dynamodb:PutItem".to_string(), 2)])
                .into_iter()
                .flatten(),
        )
        .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(first, expect(10, 10), "the first sweep");
    assert_eq!(again, expect(10, 0), "nothing changed: reads only");
}

/// The README's cost table: `APIGW4XX_COST_STAGES=100,1000 cargo test --test sweep sweep_cost -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn sweep_cost() {
    let sizes = std::env::var("APIGW4XX_COST_STAGES").unwrap_or_else(|_| "10,100".into());
    for n in sizes.split(',').filter_map(|n| n.trim().parse::<usize>().ok()) {
        let (first, again) = cost(n).await;
        let total = |m: &BTreeMap<String, u64>| m.values().sum::<u64>();
        let of = |m: &BTreeMap<String, u64>, p: &str| {
            m.iter().filter(|(k, _)| k.starts_with(p)).map(|(_, v)| v).sum::<u64>()
        };
        let secs = |m: &BTreeMap<String, u64>| of(m, "apigateway") as f64 / 2.0 + of(m, "logs:") as f64 / 5.0;
        println!(
            "{n} stages: first sweep {} calls ({first:?}), ~{:.0} s at the default pace",
            total(&first),
            secs(&first)
        );
        println!(
            "{n} stages: next sweep {} calls ({again:?}), ~{:.0} s at the default pace",
            total(&again),
            secs(&again)
        );
    }
}
