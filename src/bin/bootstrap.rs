//! The Lambda function: API Gateway access logs in (CloudWatch Logs subscription or Kinesis), window
//! counts out as EMF lines, alert markers to CloudWatch, alerts to SNS. Configuration is read and
//! validated once, at init.
//!
//! With `SWEEP_STATE_TABLE` set, the same binary is the sweep: it keeps this stack's subscription
//! filters on the log groups it watches, on a scheduled event or a CloudFormation custom-resource
//! request (told apart by shape).
// The handler's future (with the alert context) is deep: rustc's default limit of 128 is short.
#![recursion_limit = "256"]

use apigw_4xx::aws::client::{load_config, Clients};
use apigw_4xx::context::apigateway::ApiGateway;
use apigw_4xx::function::config::Config;
use apigw_4xx::function::context::AlertContext;
use apigw_4xx::function::emf::StdoutEmf;
use apigw_4xx::function::stores::{CloudWatchStore, SnsAlerts};
use apigw_4xx::function::sweep::config::{SweepConfig, STATE_TABLE_VAR};
use apigw_4xx::function::sweep::event::SweepEvent;
use apigw_4xx::function::sweep::logs::CloudWatchLogs;
use apigw_4xx::function::sweep::respond::HttpResponder;
use apigw_4xx::function::sweep::store::DynamoState;
use apigw_4xx::function::sweep::{answer_unconfigured, SweepError, Sweeper};
use apigw_4xx::function::{system_now, Function, IncomingEvent, Invocation};
use lambda_runtime::{service_fn, Context, Diagnostic, LambdaEvent};
use lambda_runtime_api_client::{body::Body, build_request, PooledClient};
use std::time::{Duration, Instant};

/// The error type a refused configuration is reported with (the Runtime API's `Category.Reason`
/// form; `Runtime.ConfigInvalid` is one of its documented examples).
const CONFIG_INVALID: &str = "Runtime.ConfigInvalid";

/// Posts `message` to the Runtime API's init-error endpoint (`AWS_LAMBDA_RUNTIME_API`; nothing to
/// do when unset, off Lambda), so that Lambda reports why init failed.
async fn report_init_error(message: &str) -> Result<(), String> {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return Ok(());
    };
    let base = api.parse().map_err(|e| format!("AWS_LAMBDA_RUNTIME_API={api:?}: {e}"))?;
    let client = PooledClient::builder().with_endpoint(base).build();
    if client.base.authority().is_none() {
        // The client would panic on a base without one.
        return Err(format!("AWS_LAMBDA_RUNTIME_API={api:?}: no host:port"));
    }
    let body = serde_json::json!({"errorMessage": message, "errorType": CONFIG_INVALID, "stackTrace": []});
    let request = build_request()
        .method("POST")
        .uri("/2018-06-01/runtime/init/error")
        .header("Lambda-Runtime-Function-Error-Type", CONFIG_INVALID)
        .header("Content-Type", "application/json")
        .body(Body::from(body.to_string()))
        .map_err(|e| e.to_string())?;
    // Lambda answers at once; a hung endpoint must not hold the exit.
    let answer = tokio::time::timeout(Duration::from_secs(2), client.call(request))
        .await
        .map_err(|_| "no answer within 2 s".to_string())?
        .map_err(|e| e.to_string())?;
    match answer.status() {
        s if s.is_success() => Ok(()),
        s => Err(format!("the Runtime API answered {s}")),
    }
}

/// The invocation's clock and Lambda's deadline.
fn invocation(context: &Context) -> (Invocation, u64) {
    let now = system_now();
    let deadline = context.deadline;
    let remaining_ms = deadline.saturating_sub(u64::try_from(now).unwrap_or(0));
    if remaining_ms == 0 {
        // Lambda always sends a deadline ahead of the clock; local emulators may not.
        tracing::warn!(deadline, now, "no usable invocation deadline: running without one");
        (Invocation::at(now), 0)
    } else {
        (Invocation::at(now).with_remaining(Duration::from_millis(remaining_ms)), remaining_ms)
    }
}

/// The sweep over the SDK's clients (without SDK retries: the sweep paces and retries its calls).
type Sweep = Sweeper<ApiGateway, CloudWatchLogs, DynamoState, SnsAlerts, StdoutEmf>;

async fn sweeper(config: SweepConfig) -> Sweep {
    let sdk = load_config().await;
    let clients = Clients::new(&sdk).unretried();
    let table = config.table.clone();
    let alerts = SnsAlerts::new(&Clients::new(&sdk), config.outputs.alert_topic_arn.clone());
    Sweeper::new(
        config,
        ApiGateway::new(&clients),
        CloudWatchLogs::new(&clients),
        DynamoState::new(&clients, table),
        alerts,
        StdoutEmf,
        clients.calls().clone(),
    )
}

/// A sweep that ran but left a call failed (named in its summary) fails the invocation.
fn call_failed(error: Option<String>) -> Result<(), Diagnostic> {
    error.map_or(Ok(()), |e| Err(Diagnostic { error_type: "Sweep.Call".into(), error_message: e }))
}

/// A sweep that could not run, as Lambda reports it.
fn sweep_failed(e: &SweepError) -> Diagnostic {
    Diagnostic { error_type: e.error_type().into(), error_message: e.to_string() }
}

/// The sweep whose settings do not read: every invocation fails naming the setting, and every
/// custom-resource request is answered. A Delete still removes this stack's filters when the state
/// table and the filter name read (all a deletion uses), so no filter outlives the function.
async fn unconfigured(problem: String, responder: &HttpResponder) -> Result<(), lambda_runtime::Error> {
    tracing::error!(error = %problem, "invalid configuration");
    let closer = match SweepConfig::for_deletion(|k| std::env::var(k).ok()) {
        Some(c) => Some(sweeper(c).await),
        None => None,
    };
    let (problem, closer) = (&problem, &closer);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let (inv, _) = invocation(&event.context);
        let refused = || Diagnostic { error_type: "Sweep.Config".into(), error_message: problem.clone() };
        let Ok(event) = SweepEvent::from_value(event.payload) else { return Err(refused()) };
        if let (true, Some(closer)) = (event.is_delete(), closer) {
            return match closer.handle(event, inv, responder).await {
                Ok(s) => call_failed(s.error),
                Err(e) => Err(sweep_failed(&e)),
            };
        }
        if let Err(e) = answer_unconfigured(event, problem, responder).await {
            tracing::error!(error = %e, "no answer delivered");
        }
        Err(refused())
    }))
    .await
}

/// The sweep mode: its own configuration (a bad one still answers CloudFormation), its clients
/// without SDK retries (the sweep paces and retries its calls), one summary line per run.
async fn sweep() -> Result<(), lambda_runtime::Error> {
    let responder = match HttpResponder::new() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "no HTTPS client for CloudFormation responses");
            std::process::exit(1);
        }
    };
    let responder = &responder;
    let config = match SweepConfig::from_lookup(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => return unconfigured(e.to_string(), responder).await,
    };
    let sweeper = sweeper(config).await;
    let sweeper = &sweeper;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let started = Instant::now();
        let (inv, remaining_ms) = invocation(&event.context);
        let result = match SweepEvent::from_value(event.payload) {
            Ok(e) => sweeper.handle(e, inv, responder).await,
            Err(shape) => Err(SweepError::Shape(shape)),
        };
        let ms = started.elapsed().as_secs_f64() * 1e3;
        match result {
            Ok(s) => {
                tracing::info!(
                    wanted = s.wanted,
                    watched = s.watched,
                    unwatchable = s.unwatchable,
                    unwatchable_groups = ?s.unwatchable_groups,
                    added = s.added,
                    removed = s.removed,
                    reported = s.reported,
                    steps = s.steps,
                    remaining = s.remaining,
                    complete = s.complete,
                    runs = s.runs,
                    throttled = s.throttled,
                    failed = s.failed,
                    aws_calls = s.aws_calls,
                    closed = s.closed,
                    error = s.error.as_deref(),
                    remaining_ms,
                    ms,
                    "sweep"
                );
                call_failed(s.error)
            }
            Err(e) => {
                tracing::error!(error = %e, error_type = e.error_type(), ms, "sweep failed");
                Err(sweep_failed(&e))
            }
        }
    }))
    .await
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    if std::env::args().nth(1).as_deref() == Some("--print-defaults") {
        // For the template's test: the defaults it must state, from their one home.
        println!("{}", apigw_4xx::function::config::defaults_json());
        return Ok(());
    }
    lambda_runtime::tracing::init_default_subscriber();
    if std::env::var(STATE_TABLE_VAR).is_ok_and(|v| !v.trim().is_empty()) {
        return sweep().await;
    }
    let init = Instant::now();
    let config = match Config::from_lookup(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            // One line, told to Lambda too, then a failed init: Lambda shows the reason as the
            // invocation's error and retries the cold start.
            tracing::error!(error = %e, variable = e.variable(), "invalid configuration");
            if let Err(why) = report_init_error(&e.to_string()).await {
                tracing::warn!(error = %why, "the Runtime API was not told why init failed");
            }
            std::process::exit(1);
        }
    };
    // Clients built once, each edge counting its own requests for the summary's `aws_calls`.
    let sdk = load_config().await;
    let metrics = CloudWatchStore::new(&Clients::new(&sdk), config.namespace.clone());
    let alerts = SnsAlerts::new(&Clients::new(&sdk), config.alert_topic_arn.clone());
    // The alert's context: the baseline reader, and the control plane unless DEPLOYMENT_LOOKUP=false.
    let context = AlertContext::over(&Clients::new(&sdk), &config.namespace, config.deployment_lookup);
    let function = Function::new(config, metrics, alerts, StdoutEmf).with_context(context);
    tracing::info!(init_ms = init.elapsed().as_secs_f64() * 1e3, "initialized");
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<IncomingEvent>| async move {
        let started = Instant::now();
        let (inv, remaining_ms) = invocation(&event.context);
        let result = function.handle_at(&event.payload, inv).await;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        match &result {
            Ok(s) => tracing::info!(
                events = s.events,
                requests = s.requests,
                client_errors = s.client_errors,
                unparsed = s.unparsed,
                untimed = s.untimed,
                out_of_range = s.out_of_range,
                rejected = s.rejected,
                duplicate = s.duplicate,
                control_messages = s.control_messages,
                windows = s.windows,
                windows_read = s.windows_read,
                alerts = s.alerts,
                notices = s.notices,
                markers = s.markers,
                emf_documents = s.emf_documents,
                emf_bytes = s.emf_bytes,
                aws_calls = s.aws_calls,
                remaining_ms,
                ms,
                "batch"
            ),
            Err(e) => tracing::error!(error = %e, error_type = e.error_type(), ms, "batch failed"),
        }
        result.map_err(Diagnostic::from)
    }))
    .await
}
