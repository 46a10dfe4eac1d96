//! The function's imperative shell: decode the event, read the touched windows' totals, decide,
//! publish, write, remember. Each step is a call into the pure core or one AWS call.
//!
//! Ordering is the guarantee: alerts are published before the counts are written, and a failed
//! publish or put fails the invocation before anything is counted. So Lambda's retry never loses an
//! alert and never double-counts (alerts are at-least-once, counts exactly-once per success).

use crate::alert::message;
use crate::alerting::{decide, WindowKey};
use crate::analysis::Analyzer;
use crate::aws::{AlertSink, AwsError, MetricsStore};
use crate::config::Config;
use crate::decode::{decode_data, DecodeError};
use crate::finding::Totals;
use crate::metrics::{Datum, MetricPlan, WindowState};
use crate::time::{window_start, EpochMillis};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokio::sync::Mutex;

/// Windows remembered by a warm container, beyond which the oldest are forgotten.
const MEMORY_WINDOWS: usize = 4096;
/// Batches a warm container remembers, to recognise a re-delivered one.
const MEMORY_BATCHES: usize = 1024;
/// CloudWatch accepts metric timestamps up to two weeks back (a day's margin kept)…
const OLDEST_ACCEPTED_MS: i64 = 13 * 24 * 3_600_000;
/// …and up to two hours ahead (ten minutes' margin kept).
const NEWEST_ACCEPTED_MS: i64 = 110 * 60_000;

/// The invocation payload: a CloudWatch Logs subscription event, or a Kinesis Data Streams event
/// whose records carry the same gzip'd payloads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IncomingEvent {
    /// `{"awslogs":{"data":…}}`.
    pub awslogs: Option<AwsLogs>,
    /// Kinesis records.
    #[serde(rename = "Records")]
    pub records: Option<Vec<Record>>,
}

/// `awslogs` of a subscription event.
#[derive(Debug, Clone, Deserialize)]
pub struct AwsLogs {
    /// Base64 of the gzip'd payload.
    pub data: String,
}

/// One Kinesis record.
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    /// The record's data.
    pub kinesis: Option<KinesisData>,
}

/// The data of a Kinesis record.
#[derive(Debug, Clone, Deserialize)]
pub struct KinesisData {
    /// Base64 of the gzip'd payload.
    pub data: String,
}

/// Why an invocation failed: one variant per stage, so the error type names it.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event is neither a subscription event nor a Kinesis event.
    #[error("event shape: expected awslogs.data or Kinesis Records")]
    Shape,
    /// The payload failed to decode.
    #[error("decode: {0}")]
    Decode(#[from] DecodeError),
    /// GetMetricData failed.
    #[error("GetMetricData: {0}")]
    ReadMetrics(AwsError),
    /// SNS Publish failed (nothing was counted).
    #[error("SNS Publish: {0}")]
    Publish(AwsError),
    /// PutMetricData failed (alerts may have been sent; counts were not written).
    #[error("PutMetricData: {0}")]
    PutMetrics(AwsError),
}

impl HandlerError {
    /// The error type Lambda reports: the stage that failed.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Shape => "EventShape",
            HandlerError::Decode(DecodeError::Base64(_)) => "Decode.Base64",
            HandlerError::Decode(DecodeError::Gzip(_)) => "Decode.Gzip",
            HandlerError::Decode(DecodeError::TooLarge { .. }) => "Decode.TooLarge",
            HandlerError::Decode(DecodeError::Json(_)) => "Decode.Json",
            HandlerError::Decode(DecodeError::Shape(_)) => "Decode.Shape",
            HandlerError::Decode(DecodeError::Io(_)) => "Decode.Io",
            HandlerError::ReadMetrics(_) => "CloudWatch.GetMetricData",
            HandlerError::Publish(_) => "SNS.Publish",
            HandlerError::PutMetrics(_) => "CloudWatch.PutMetricData",
        }
    }
}

/// What one invocation did (logged as one line, and returned).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Log events decoded (control messages included).
    pub events: u64,
    /// Requests counted.
    pub requests: u64,
    /// 4xx counted.
    pub client_errors: u64,
    /// Lines with no valid status.
    pub unparsed: u64,
    /// Events without a timestamp (counted in no window).
    pub untimed: u64,
    /// Requests and unparsed lines timestamped where CloudWatch accepts no metrics (over two weeks
    /// old, or ahead of the clock): logged, not counted.
    pub out_of_range: u64,
    /// The batch was delivered before (same data) and already counted by this container.
    pub duplicate: bool,
    /// Control messages ignored.
    pub control_messages: u64,
    /// Windows touched.
    pub windows: usize,
    /// Alerts (and recovery notices) published.
    pub alerts: usize,
    /// AWS calls made.
    pub aws_calls: usize,
}

/// The function: configuration, the AWS edges, and what a warm container remembers.
pub struct Function<M, A> {
    config: Config,
    plan: MetricPlan,
    metrics: M,
    alerts: A,
    memory: Mutex<BTreeMap<WindowKey, WindowState>>,
    batches: Mutex<std::collections::VecDeque<u64>>,
}

impl<M: MetricsStore, A: AlertSink> Function<M, A> {
    /// A function over the given edges.
    pub fn new(config: Config, metrics: M, alerts: A) -> Self {
        let plan = MetricPlan::new(&config.tracked);
        Function { config, plan, metrics, alerts, memory: Mutex::default(), batches: Mutex::default() }
    }

    /// The same function (configuration and memory) over another metrics store: a warm container
    /// whose next call meets different AWS behaviour, for fault tests.
    pub fn with_metrics<N: MetricsStore>(self, metrics: N) -> Function<N, A> {
        let Function { config, plan, alerts, memory, batches, .. } = self;
        Function { config, plan, metrics, alerts, memory, batches }
    }

    /// Handles one invocation.
    pub async fn handle(&self, event: &IncomingEvent) -> Result<Summary, HandlerError> {
        let c = &self.config;
        let mut analyzer = Analyzer::new(c.parser.clone(), Some(1));
        let data: Vec<&str> = match (&event.awslogs, &event.records) {
            (Some(a), _) => vec![&a.data],
            (None, Some(records)) => {
                records.iter().filter_map(|r| r.kinesis.as_ref()).map(|k| k.data.as_str()).collect()
            }
            (None, None) => return Err(HandlerError::Shape),
        };
        if data.is_empty() {
            // `Records` of some other source (SQS, S3…): not ours to drop silently.
            return Err(HandlerError::Shape);
        }
        let fingerprint = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            data.hash(&mut h);
            h.finish()
        };
        if self.batches.lock().await.contains(&fingerprint) {
            return Ok(Summary { duplicate: true, ..Summary::default() });
        }
        for d in data {
            decode_data(d, c.limits, &mut analyzer)?;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as EpochMillis);
        let (mut summary, mut datums, batch) = self.count(&analyzer, now);
        if batch.is_empty() {
            self.remember_batch(fingerprint).await;
            return Ok(summary);
        }

        let (stored, known) = self.known_windows(&batch, &mut summary).await?;
        let evidence = analyzer.by_log_group.iter().map(|(g, t)| (g.clone(), t.evidence.clone())).collect();
        let decisions = decide(&batch, &known, &evidence, &c.rules, c.window_minutes, c.notify_recovery);

        for d in &decisions {
            let shape = analyzer.by_log_group.get(&d.key.0).and_then(|t| t.shape);
            let query = crate::insights::query(&c.parser, shape);
            let Some(m) = message(d, &c.rules, c.window_minutes, c.alert_format, &query, &c.region) else {
                continue;
            };
            summary.aws_calls += 1;
            self.alerts.publish(&m).await.map_err(HandlerError::Publish)?;
            summary.alerts += 1;
            // Remembered at once: if the put fails, a warm retry does not alert again.
            let mut memory = self.memory.lock().await;
            let seen = memory.entry(d.key.clone()).or_default();
            seen.alerted = seen.alerted.max(d.state.alerted);
            seen.recovered |= d.state.recovered;
        }
        // Markers for every level known but not yet stored: new alerts, and those of a warm retry
        // whose earlier put failed.
        for d in &decisions {
            let before = stored.get(&d.key);
            if d.state.alerted > before.and_then(|b| b.alerted) {
                let level = d.state.alerted.map_or("", |a| a.as_str());
                datums.push(self.plan.marker(&d.key.0, d.key.1, level));
            }
            if d.state.recovered && !before.is_some_and(|b| b.recovered) {
                datums.push(self.plan.marker(&d.key.0, d.key.1, crate::metrics::RECOVERED));
            }
        }

        summary.aws_calls += 1;
        self.metrics.put(&datums).await.map_err(HandlerError::PutMetrics)?;
        let mut memory = self.memory.lock().await;
        for d in decisions {
            let merged = memory.get(&d.key).map_or_else(|| d.state.clone(), |m| m.max(&d.state));
            memory.insert(d.key, merged);
        }
        while memory.len() > MEMORY_WINDOWS {
            // Keys sort by log group first: find the oldest window across groups.
            let Some(oldest) = memory.keys().min_by_key(|(_, w)| *w).cloned() else { break };
            memory.remove(&oldest);
        }
        drop(memory);
        self.remember_batch(fingerprint).await;
        Ok(summary)
    }

    /// The batch's counts: datums per log group and minute for the metrics, totals per log group and
    /// window for the decisions, and the summary. Minutes CloudWatch would reject are left out.
    fn count(&self, analyzer: &Analyzer, now: EpochMillis) -> (Summary, Vec<Datum>, BTreeMap<WindowKey, Totals>) {
        let accepted = now - OLDEST_ACCEPTED_MS..now + NEWEST_ACCEPTED_MS;
        let mut summary =
            Summary { events: analyzer.events, control_messages: analyzer.control_messages, ..Summary::default() };
        let mut datums = Vec::new();
        let mut batch: BTreeMap<WindowKey, Totals> = BTreeMap::new();
        for (group, tally) in &analyzer.by_log_group {
            summary.requests += tally.overall.requests();
            summary.client_errors += tally.overall.client_errors();
            summary.unparsed += tally.overall.unparsed;
            summary.untimed += tally.untimed;
            for (minute, counts) in &tally.buckets {
                if !accepted.contains(minute) {
                    summary.out_of_range += counts.requests() + counts.unparsed;
                    tracing::warn!(log_group = %group, minute, "events outside the range CloudWatch accepts: not counted");
                    continue;
                }
                datums.extend(self.plan.count_datums(group, *minute, counts));
                let window = (group.clone(), window_start(*minute, self.config.window_minutes));
                batch.entry(window).or_default().add(&self.plan.totals(counts));
            }
        }
        summary.windows = batch.len();
        (summary, datums, batch)
    }

    /// Records a counted batch, so that a re-delivery to this container is not counted again.
    async fn remember_batch(&self, fingerprint: u64) {
        let mut batches = self.batches.lock().await;
        batches.push_back(fingerprint);
        if batches.len() > MEMORY_BATCHES {
            batches.pop_front();
        }
    }

    /// What is stored for the touched windows and the ones just before them (one GetMetricData call,
    /// more only past 500 queries), and that merged with this container's memory.
    async fn known_windows(
        &self,
        batch: &BTreeMap<WindowKey, Totals>,
        summary: &mut Summary,
    ) -> Result<(BTreeMap<WindowKey, WindowState>, BTreeMap<WindowKey, WindowState>), HandlerError> {
        let width = i64::from(self.config.window_minutes) * 60_000;
        let groups: Vec<&str> = {
            let mut g: Vec<&str> = batch.keys().map(|(g, _)| g.as_str()).collect();
            g.dedup();
            g
        };
        let first: EpochMillis = batch.keys().map(|(_, w)| *w).min().unwrap_or_default() - width;
        let end: EpochMillis = batch.keys().map(|(_, w)| *w).max().unwrap_or_default() + width;
        let queries = self.plan.queries(&groups);
        summary.aws_calls += queries.len().div_ceil(crate::aws::MAX_QUERIES_PER_GET);
        let results = self.metrics.read(&queries, first, end).await.map_err(HandlerError::ReadMetrics)?;
        let stored = self.plan.window_states(&groups, &results, self.config.window_minutes);
        let mut known = stored.clone();
        let memory = self.memory.lock().await;
        for (key, remembered) in memory.iter() {
            if let Some(k) = known.get_mut(key) {
                *k = k.max(remembered);
            } else if batch.contains_key(key) || batch.contains_key(&(key.0.clone(), key.1 + width)) {
                known.insert(key.clone(), remembered.clone());
            }
        }
        Ok((stored, known))
    }
}
