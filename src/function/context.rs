//! The lines that put an alert in context, fetched only when an alert is about to go out (and, with
//! `SPIKE_FACTOR`, the baselines a spike check needs): `Baseline: …` from one GetMetricData call,
//! `Deployment: …` from the API Gateway control plane. Both are cached per container (baselines per
//! log group and hour, stages for 15 minutes), bounded in time, and optional: a failed lookup drops
//! its line, logs why, and never fails or holds up the alert beyond the timeout. The baselines and
//! every group's deployment are looked up side by side: an invocation waits at most 3 s for all of
//! them, however many groups alert.

use crate::aws::client::{CallCounter, Clients};
use crate::base::time::EpochMillis;
use crate::context::apigateway::{ApiGateway, ControlPlane, DeploymentFinder, Wanted};
use crate::judge::baseline::Baseline;
use crate::judge::severity::{ClientErrorRate, IgnoredStatuses};
use crate::metrics::baseline;
use crate::metrics::cloudwatch::{CloudWatchHistory, MetricHistory};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::sync::Mutex;

/// How long one invocation waits for baselines.
pub const BASELINE_TIMEOUT: Duration = Duration::from_secs(3);
/// Baselines a container remembers (one per log group and hour).
const MAX_CACHED: usize = 1024;

/// One alert's subject: its log group, window and rate, and the stage its lines name (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSubject<'a> {
    /// The log group.
    pub log_group: &'a str,
    /// The group's ignored codes (left out of its baseline too).
    pub ignored: &'a IgnoredStatuses,
    /// The window's start.
    pub window_start: EpochMillis,
    /// The window's rate.
    pub rate: ClientErrorRate,
    /// `($context.apiId, $context.stage)` when the lines carry them.
    pub stage: Option<(&'a str, &'a str)>,
}

/// Baseline and deployment lookups with their caches.
#[derive(Debug)]
pub struct AlertContext<H, C> {
    history: H,
    deployments: Option<DeploymentFinder<C>>,
    baselines: Mutex<HashMap<(String, EpochMillis), Baseline>>,
    timeout: Duration,
    /// Requests the lookups sent (zero unless built by [`AlertContext::over`]).
    calls: CallCounter,
}

impl AlertContext<CloudWatchHistory, ApiGateway> {
    /// The function's lookups: metric history in `namespace` and, when `deployment_lookup`, the API
    /// Gateway control plane, over `sdk`, with every request counted for the summary's `aws_calls`.
    pub fn over(clients: &Clients, namespace: &str, deployment_lookup: bool) -> Self {
        let history = CloudWatchHistory::new(clients, namespace);
        let control = deployment_lookup.then(|| ApiGateway::new(clients));
        AlertContext { calls: clients.calls().clone(), ..AlertContext::new(history, control) }
    }
}

impl<H: MetricHistory, C: ControlPlane> AlertContext<H, C> {
    /// Lookups over `history` and, unless `DEPLOYMENT_LOOKUP=false`, the control plane.
    pub fn new(history: H, control: Option<C>) -> Self {
        AlertContext {
            history,
            deployments: control.map(DeploymentFinder::new),
            baselines: Mutex::default(),
            timeout: BASELINE_TIMEOUT,
            calls: CallCounter::default(),
        }
    }

    /// The baselines of `wanted` (log group, its ignored codes, window start): cached ones, and the
    /// rest from one GetMetricData call. Groups whose read failed are missing (the reason logged).
    pub async fn baselines(&self, wanted: &[(&str, &IgnoredStatuses, EpochMillis)]) -> BTreeMap<String, Baseline> {
        let mut out = BTreeMap::new();
        let mut missing: Vec<(&str, &IgnoredStatuses, EpochMillis)> = Vec::new();
        {
            let cache = self.baselines.lock().await;
            for (group, ignored, window) in wanted {
                let end = baseline::span(*window).1;
                match cache.get(&(group.to_string(), end)) {
                    Some(b) => {
                        out.insert(group.to_string(), *b);
                    }
                    None if !missing.iter().any(|(g, _, _)| g == group) => missing.push((group, ignored, *window)),
                    None => {}
                }
            }
        }
        if missing.is_empty() {
            return out;
        }
        // One call: the span of the latest window asked for (the others' differ by at most an hour).
        let latest = missing.iter().map(|(_, _, w)| *w).max().unwrap_or_default();
        let (start, end) = baseline::span(latest);
        let groups: Vec<(&str, &IgnoredStatuses)> = missing.iter().map(|(g, i, _)| (*g, *i)).collect();
        let queries = baseline::queries(&groups);
        let read =
            tokio::time::timeout(self.timeout, self.history.sums(&queries, start, end, baseline::PERIOD_SECONDS));
        let series = match read.await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "baseline line omitted: read failed");
                return out;
            }
            Err(_) => {
                tracing::warn!(
                    timeout_ms = self.timeout.as_millis() as u64,
                    "baseline line omitted: no answer in time"
                );
                return out;
            }
        };
        let mut cache = self.baselines.lock().await;
        if cache.len() + groups.len() > MAX_CACHED {
            cache.clear();
        }
        for (i, (group, ignored)) in groups.iter().enumerate() {
            let b = baseline::from_results(i, ignored, &series, end);
            cache.insert((group.to_string(), end), b);
            out.insert(group.to_string(), b);
        }
        out
    }

    /// The context lines of each alert, keyed by log group: `Baseline: …`, then `Deployment: …`.
    pub async fn lines(&self, alerts: &[AlertSubject<'_>], now: EpochMillis) -> BTreeMap<String, Vec<String>> {
        let wanted: Vec<(&str, &IgnoredStatuses, EpochMillis)> =
            alerts.iter().map(|a| (a.log_group, a.ignored, a.window_start)).collect();
        let stages: Vec<Wanted<'_>> = alerts
            .iter()
            .map(|a| Wanted { log_group: a.log_group, named: a.stage, window_start: Some(a.window_start) })
            .collect();
        let deployments = async {
            match &self.deployments {
                Some(d) => d.lines(&stages, now).await,
                None => BTreeMap::new(),
            }
        };
        let (baselines, mut deployments) = tokio::join!(self.baselines(&wanted), deployments);
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for a in alerts {
            let lines = out.entry(a.log_group.to_string()).or_default();
            lines.extend(baselines.get(a.log_group).map(|b| b.line(a.rate)));
            lines.extend(deployments.remove(a.log_group));
        }
        out
    }
}

/// What the handler asks for an alert's context: the trait the function is generic over, so that
/// tests and `DEPLOYMENT_LOOKUP=false` builds need no AWS clients for it.
pub trait ContextSource {
    /// Baselines of `wanted` (log group, ignored codes, window start), as far as they can be had.
    fn baselines(
        &self,
        wanted: &[(&str, &IgnoredStatuses, EpochMillis)],
    ) -> impl std::future::Future<Output = BTreeMap<String, Baseline>> + Send;
    /// The context lines per log group.
    fn lines(
        &self,
        alerts: &[AlertSubject<'_>],
        now: EpochMillis,
    ) -> impl std::future::Future<Output = BTreeMap<String, Vec<String>>> + Send;
    /// Requests the lookups have sent so far.
    fn calls(&self) -> u64 {
        0
    }
}

/// No context: alerts carry the finding alone, and no lookup is ever made.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoContext;

impl ContextSource for NoContext {
    async fn baselines(&self, _: &[(&str, &IgnoredStatuses, EpochMillis)]) -> BTreeMap<String, Baseline> {
        BTreeMap::new()
    }
    async fn lines(&self, _: &[AlertSubject<'_>], _: EpochMillis) -> BTreeMap<String, Vec<String>> {
        BTreeMap::new()
    }
}

impl<H: MetricHistory + Sync, C: ControlPlane + Sync> ContextSource for AlertContext<H, C> {
    async fn baselines(&self, wanted: &[(&str, &IgnoredStatuses, EpochMillis)]) -> BTreeMap<String, Baseline> {
        AlertContext::baselines(self, wanted).await
    }
    async fn lines(&self, alerts: &[AlertSubject<'_>], now: EpochMillis) -> BTreeMap<String, Vec<String>> {
        AlertContext::lines(self, alerts, now).await
    }
    fn calls(&self) -> u64 {
        self.calls.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::error::{AwsError, AwsErrorKind};
    use crate::context::apigateway::LookupError;
    use crate::context::deployment::{Deployment, StageInfo};
    use crate::metrics::cloudwatch::Series;
    use crate::metrics::contract::Query;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const W: EpochMillis = 1_764_000_300_000;

    #[derive(Default)]
    struct Metrics {
        calls: AtomicUsize,
        fail: bool,
        takes: Duration,
    }

    impl MetricHistory for Metrics {
        async fn sums(&self, q: &[Query], start: EpochMillis, end: EpochMillis, _: i32) -> Result<Series, AwsError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.takes).await;
            if self.fail {
                return Err(AwsError::new(AwsErrorKind::Throttling, "throttled"));
            }
            let mut s = Series::new();
            for query in q {
                let v = if query.id.ends_with("_r") { 1000.0 } else { 20.0 };
                s.insert(query.id.clone(), (0..168).map(|h| (start + h * 3_600_000, v)).collect());
            }
            assert!(end > start);
            Ok(s)
        }
    }

    struct Control;

    impl ControlPlane for Control {
        async fn named(&self, _: &str, _: &str) -> Result<Option<StageInfo>, LookupError> {
            Err(LookupError::Incomplete("AccessDenied".into()))
        }
        async fn stages(&self) -> Result<Vec<StageInfo>, LookupError> {
            Err(LookupError::Incomplete("AccessDenied".into()))
        }
        async fn deployment(&self, _: &StageInfo) -> Result<Deployment, LookupError> {
            unreachable!("no stage is found")
        }
    }

    /// One REST stage, `orders/prod`, whose deployment takes 2 s to read.
    struct SlowControl;

    impl ControlPlane for SlowControl {
        async fn named(&self, api_id: &str, stage: &str) -> Result<Option<StageInfo>, LookupError> {
            Ok(Some(StageInfo {
                kind: crate::context::deployment::ApiKind::Rest,
                api_id: api_id.into(),
                api_name: "orders".into(),
                stage: stage.into(),
                destination_arn: None,
                tags: Default::default(),
            }))
        }
        async fn stages(&self) -> Result<Vec<StageInfo>, LookupError> {
            unreachable!("the lines name their stage")
        }
        async fn deployment(&self, s: &StageInfo) -> Result<Deployment, LookupError> {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Ok(Deployment { id: Some("d1".into()), description: String::new(), target: s.stage.clone(), at: W })
        }
    }

    fn subject<'a>(group: &'a str, ignored: &'a IgnoredStatuses) -> AlertSubject<'a> {
        AlertSubject {
            log_group: group,
            ignored,
            window_start: W,
            rate: ClientErrorRate { client_errors: 156, requests: 500 },
            stage: None,
        }
    }

    #[tokio::test]
    async fn one_call_for_every_group_then_the_cache() {
        let none = IgnoredStatuses::default();
        let ctx: AlertContext<Metrics, Control> = AlertContext::new(Metrics::default(), None);
        let lines = ctx.lines(&[subject("/a", &none), subject("/b", &none)], W).await;
        assert_eq!(lines["/a"], ["Baseline: 2.0% over the last 7 days (this window 15.6× that)"]);
        assert_eq!(lines["/b"].len(), 1);
        ctx.lines(&[subject("/a", &none)], W + 60_000).await;
        assert_eq!(ctx.history.calls.load(Ordering::SeqCst), 1, "same hour: cached");
        ctx.lines(&[subject("/a", &none)], W).await;
        let next_hour = AlertSubject { window_start: W + 3_600_000, ..subject("/a", &none) };
        ctx.lines(&[next_hour], W).await;
        assert_eq!(ctx.history.calls.load(Ordering::SeqCst), 2, "a new hour: read again");
    }

    #[tokio::test(start_paused = true)]
    async fn baselines_and_deployments_are_looked_up_side_by_side() {
        let none = IgnoredStatuses::default();
        let slow = Metrics { takes: Duration::from_secs(2), ..Metrics::default() };
        let ctx = AlertContext::new(slow, Some(SlowControl));
        let alerts: Vec<AlertSubject<'_>> = ["/a", "/b", "/c"]
            .into_iter()
            .map(|g| AlertSubject { stage: Some(("a1", "prod")), ..subject(g, &none) })
            .collect();
        let started = tokio::time::Instant::now();
        let lines = ctx.lines(&alerts, W).await;
        assert_eq!(started.elapsed(), Duration::from_secs(2), "2 s for all of them, not 8 s");
        assert_eq!(lines["/c"].len(), 2, "{lines:?}");
        assert!(lines["/c"][1].starts_with("Deployment: d1 to prod at "), "{lines:?}");
    }

    #[tokio::test]
    async fn failures_drop_lines_not_alerts() {
        let none = IgnoredStatuses::default();
        let ctx = AlertContext::new(Metrics { fail: true, ..Metrics::default() }, Some(Control));
        assert_eq!(ctx.lines(&[subject("/a", &none)], W).await["/a"], Vec::<String>::new());
    }
}
