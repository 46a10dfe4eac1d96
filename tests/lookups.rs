//! The deployment line at scale, against the emulator (moto) holding 600 REST APIs: lines that name
//! their stage cost no listing, ten alerting groups are looked up side by side within the one
//! deadline, and a listing cut off by the deadline is not repeated for 15 minutes. A binary of its
//! own: 600 APIs would slow every listing of tests/context.rs. Each call is slowed to 150 ms (the
//! emulator's latency), so that a listing of 600 APIs cannot finish in time and lookups one after
//! another could not either.

mod support;

use apigw_4xx::context::apigateway::LOOKUP_TIMEOUT;
use apigw_4xx::function::Invocation;
use support::apigateway::{bare_rest_apis, rest_stage};
use support::emulator::Emulator;
use support::env::{run, run_at, Env};
use tokio::sync::OnceCell;

/// APIs in the account.
const APIS: usize = 600;
/// Alerting log groups whose stage is deployed.
const DEPLOYED: usize = 10;
/// What each call waits at the emulator.
const LATENCY_MS: u64 = 150;

/// `(log group, api id, deployment id)` of the deployed stages, once the account holds 600 APIs.
async fn account() -> &'static [(String, String, String)] {
    static ACCOUNT: OnceCell<Vec<(String, String, String)>> = OnceCell::const_new();
    ACCOUNT
        .get_or_init(|| async {
            let sdk = Emulator::shared().sdk_config().await;
            bare_rest_apis(&sdk, "scale-bare", APIS - DEPLOYED).await;
            let deployed = futures_util::future::join_all((0..DEPLOYED).map(|i| {
                let sdk = &sdk;
                async move {
                    let group = format!("/aws/apigateway/scale-{i}");
                    let (api, deployment) = rest_stage(sdk, &format!("scale-{i}"), &group, &format!("v{i}")).await;
                    (group, api, deployment)
                }
            }))
            .await;
            let listed = aws_sdk_apigateway::Client::new(&sdk).get_rest_apis().limit(500).into_paginator().items();
            assert!(listed.send().collect::<Vec<_>>().await.len() >= APIS);
            deployed
        })
        .await
}

/// A payload of `group`: 150 403s and 50 200s (HIGH), each line naming `stage` when given.
fn alerting_payload(group: &str, stage: Option<(&str, &str)>, t0: i64) -> String {
    let named = stage.map_or(String::new(), |(api, stage)| format!(r#","apiId":"{api}","stage":"{stage}""#));
    let events: Vec<(i64, String)> = (0..200)
        .map(|i| {
            let status = if i < 150 { 403 } else { 200 };
            (t0 + i * 10, format!(r#"{{"requestId":"r{i}","status":"{status}"{named}}}"#))
        })
        .collect();
    support::payload(group, &events)
}

fn listing_calls(e: &Emulator) -> u64 {
    ["apigateway:GetRestApis", "apigateway:GetStages", "apigatewayv2:GetApis", "apigatewayv2:GetStages"]
        .iter()
        .map(|op| e.call_count(op))
        .sum()
}

#[tokio::test]
async fn six_hundred_apis_and_lines_naming_their_stage_cost_no_listing() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    let deployed = account().await;
    let env = Env::new("scale-named").await;
    let f = env.with_context(&[]);
    let w = support::recent_window();
    let payloads: Vec<String> =
        deployed.iter().map(|(group, api, _)| alerting_payload(group, Some((api, "prod")), w)).collect();
    let event = support::incoming(&support::kinesis_event(&payloads));
    e.reset_calls();
    e.latency_ms(LATENCY_MS);
    run(&f, &event).await.unwrap();
    e.clear_faults();
    let calls = e.calls();
    assert_eq!(listing_calls(e), 0, "no listing: {calls:?}");
    assert_eq!(e.call_count("apigateway:GetRestApi"), DEPLOYED as u64, "{calls:?}");
    assert_eq!(e.call_count("apigateway:GetDeployment"), DEPLOYED as u64, "{calls:?}");
    // Three calls of 150 ms per group: ten groups one after another would pass the 3 s deadline.
    assert!(3 * DEPLOYED as u64 * LATENCY_MS > LOOKUP_TIMEOUT.as_millis() as u64);
    let alerts = env.alerts();
    assert_eq!(alerts.len(), DEPLOYED, "{alerts:?}");
    for (group, _, deployment) in deployed {
        let alert = alerts.iter().find(|a| a.attribute("logGroup") == Some(group)).expect("one alert per group");
        let name = group.trim_start_matches("/aws/apigateway/");
        assert!(alert.message.contains(&format!("\nDeployment: {deployment} \"v")), "{}", alert.message);
        assert!(alert.message.contains(&format!(" to {name}/prod at ")), "{}", alert.message);
    }
}

#[tokio::test]
async fn a_listing_cut_off_by_the_deadline_is_not_repeated_for_fifteen_minutes() {
    let _x = Emulator::exclusive();
    let e = Emulator::shared();
    account().await;
    let env = Env::new("scale-unnamed").await;
    let f = env.with_context(&[]);
    let w = support::recent_window();
    let now = Invocation::now().now;
    // Lines that do not name their stage, in a group no stage logs to: the listing is needed.
    let alert_at = |group: &str, at: i64| {
        let event = support::incoming(&support::subscription_event(&alerting_payload(group, None, w)));
        let f = &f;
        async move {
            e.reset_calls();
            let started = std::time::Instant::now();
            run_at(f, &event, Invocation::at(at)).await.unwrap();
            (listing_calls(e), e.call_count("apigateway:GetStages"), started.elapsed())
        }
    };
    e.latency_ms(LATENCY_MS);
    let (listed, stages, took) = alert_at("/aws/apigateway/scale-unnamed-1", now).await;
    assert!(listed > 0 && stages < APIS as u64, "begun, cut off after {stages} of {APIS} GetStages");
    let (listed, _, took_again) = alert_at("/aws/apigateway/scale-unnamed-2", now + 14 * 60_000).await;
    assert_eq!(listed, 0, "14 min later: not listed again");
    assert!(took_again + std::time::Duration::from_secs(2) < took, "no wait for the deadline: {took_again:?}");
    let (listed, _, _) = alert_at("/aws/apigateway/scale-unnamed-3", now + 15 * 60_000 + 1_000).await;
    assert!(listed > 0, "15 min later: tried again");
    e.clear_faults();
    let alerts = env.alerts();
    assert_eq!(alerts.len(), 3, "every alert went out: {alerts:?}");
    assert!(alerts.iter().all(|a| !a.message.contains("Deployment:")), "{alerts:?}");
}
