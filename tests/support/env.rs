//! The function over the emulator's CloudWatch and SNS: a test's own names (topic, namespace, log
//! group), cold containers configured with them, the alerts SNS accepted, and the counts read back
//! with GetMetricData, independently of the function's own reader.
//!
//! Each test has its own log group: moto 5.2.5's GetMetricData ignores the namespace when a query
//! has dimensions, so the `LogGroup` dimension is what keeps tests apart.
#![allow(dead_code)]

use super::emulator::{Emulator, Exclusive, SentMessage};
use super::{events, subscription, Format};
use apigw_4xx::aws::client::Clients;
use apigw_4xx::context::apigateway::ApiGateway;
use apigw_4xx::function::config::Config;
use apigw_4xx::function::context::AlertContext;
use apigw_4xx::function::context::ContextSource;
use apigw_4xx::function::emf::CapturedEmf;
use apigw_4xx::function::stores::{AlertSink, CloudWatchStore, MetricsStore, SnsAlerts};
use apigw_4xx::function::{Function, HandlerError, IncomingEvent, Invocation, Summary};
use apigw_4xx::metrics::cloudwatch::CloudWatchHistory;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};

/// The function as deployed, its EMF output captured for the emulator's collector.
pub type Deployed = Function<CloudWatchStore, SnsAlerts, CapturedEmf>;

/// [`Deployed`] with its alert context.
pub type WithContext = Function<CloudWatchStore, SnsAlerts, CapturedEmf, AlertContext<CloudWatchHistory, ApiGateway>>;

/// One test's names on the shared emulator.
pub struct Env {
    _x: Option<Exclusive>,
    /// `/aws/apigateway/{name}-access`.
    pub group: String,
    /// The topic `alerts-{name}`.
    pub topic: String,
    /// `Test/{name}`.
    pub namespace: String,
    /// SDK configuration pointing at the emulator.
    pub sdk: aws_config::SdkConfig,
    cw: aws_sdk_cloudwatch::Client,
}

impl Env {
    /// Names for test `name`, holding the emulator for the test ([`Emulator::exclusive`]): calls
    /// are counted and faults injected per emulator, so the tests that hold it run one at a time.
    pub async fn exclusive(name: &str) -> Env {
        let x = Emulator::exclusive();
        Env { _x: Some(x), ..Env::new(name).await }
    }

    /// Names for `name` without taking the emulator: more names within a test that holds it.
    pub async fn new(name: &str) -> Env {
        let sdk = Emulator::shared().sdk_config().await;
        let sns = aws_sdk_sns::Client::new(&sdk);
        let topic = sns.create_topic().name(format!("alerts-{name}")).send().await.unwrap().topic_arn.unwrap();
        Env {
            _x: None,
            group: format!("/aws/apigateway/{name}-access"),
            topic,
            namespace: format!("Test/{name}"),
            cw: aws_sdk_cloudwatch::Client::new(&sdk),
            sdk,
        }
    }

    /// The configuration: this test's topic and namespace, and `extra` variables.
    pub fn config(&self, extra: &[(&str, &str)]) -> Config {
        let mut vars = extra.to_vec();
        vars.extend([("ALERT_TOPIC_ARN", self.topic.as_str()), ("METRIC_NAMESPACE", self.namespace.as_str())]);
        super::config(&vars)
    }

    /// A cold container, its edges built as `bootstrap` builds them (each counting its own calls).
    pub fn function(&self, extra: &[(&str, &str)]) -> Deployed {
        let c = self.config(extra);
        Function::new(
            c.clone(),
            CloudWatchStore::new(&Clients::new(&self.sdk), &c.namespace),
            SnsAlerts::new(&Clients::new(&self.sdk), &c.alert_topic_arn),
            CapturedEmf::default(),
        )
    }

    /// A cold container with its alert context (baseline and deployment lines), as `bootstrap`
    /// builds it.
    pub fn with_context(&self, extra: &[(&str, &str)]) -> WithContext {
        let c = self.config(extra);
        let context = AlertContext::over(&Clients::new(&self.sdk), &c.namespace, c.deployment_lookup);
        self.function(extra).with_context(context)
    }

    /// The messages SNS accepted on this test's topic.
    pub fn alerts(&self) -> Vec<SentMessage> {
        Emulator::shared().sns_messages(&self.topic)
    }

    /// Sum of a metric of this test's log group (and the `extra` dimension) over `[start, start + 5 min)`.
    pub async fn sum(&self, name: &str, extra: Option<(&str, &str)>, start: i64) -> f64 {
        self.sum_over(name, extra, start, start + 300_000).await
    }

    /// Sum of a metric of this test's log group (and the `extra` dimension) over `[start, end)`.
    pub async fn sum_over(&self, name: &str, extra: Option<(&str, &str)>, start: i64, end: i64) -> f64 {
        let mut dims = vec![Dimension::builder().name("LogGroup").value(&self.group).build()];
        dims.extend(extra.map(|(n, v)| Dimension::builder().name(n).value(v).build()));
        let metric = Metric::builder().namespace(&self.namespace).metric_name(name).set_dimensions(Some(dims)).build();
        let q = MetricDataQuery::builder()
            .id("q")
            .metric_stat(MetricStat::builder().metric(metric).period(60).stat("Sum").build())
            .build();
        let out = self
            .cw
            .get_metric_data()
            .metric_data_queries(q)
            .start_time(DateTime::from_millis(start))
            .end_time(DateTime::from_millis(end))
            .send()
            .await
            .unwrap();
        out.metric_data_results().iter().flat_map(|r| r.values().to_vec()).sum()
    }

    /// A subscription event of this test's log group: console JSON lines answered with `statuses`,
    /// one every `step_ms` from `t0`.
    pub fn event(&self, statuses: &[u16], t0: i64, step_ms: i64) -> IncomingEvent {
        subscription(&self.group, &events(Format::ConsoleJson, statuses, t0, step_ms))
    }
}

/// Invokes `f` now, then hands what it printed to the EMF collector (as CloudWatch Logs extracts
/// the function's log output).
pub async fn run<M, A, X>(f: &Function<M, A, CapturedEmf, X>, event: &IncomingEvent) -> Result<Summary, HandlerError>
where
    M: MetricsStore + Sync,
    A: AlertSink + Sync,
    X: ContextSource + Sync,
{
    run_at(f, event, Invocation::now()).await
}

/// As [`run`], for the invocation `inv`.
pub async fn run_at<M, A, X>(
    f: &Function<M, A, CapturedEmf, X>,
    event: &IncomingEvent,
    inv: Invocation,
) -> Result<Summary, HandlerError>
where
    M: MetricsStore + Sync,
    A: AlertSink + Sync,
    X: ContextSource + Sync,
{
    let r = f.handle_at(event, inv).await;
    let lines = f.emf().take();
    if !lines.is_empty() {
        Emulator::shared().emf(&lines.join("\n"));
    }
    r
}
