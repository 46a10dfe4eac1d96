//! The function's imperative shell, a straight line: decode → count → read what the ledger lacks →
//! `ledger.plan` → publish → write markers → print counts → `ledger.commit`.
//!
//! Ordering is the guarantee. Counts go out last, as EMF lines on standard output, after which
//! nothing can fail; anything failing before fails the invocation with nothing counted, and Lambda's
//! retry counts the batch once. Alerts go out before their markers (at-least-once), markers are
//! idempotent (a marker is a boolean), and no call is made that the invocation's deadline cannot
//! see through.

use crate::alert::{message, Style};
use crate::alert_context::{AlertSubject, ContextSource, NoContext};
use crate::alerting::Action;
use crate::alerting::Judge;
use crate::analysis::Analyzer;
use crate::aws::{AlertSink, AwsError, AwsErrorKind, MetricsStore};
use crate::config::Config;
use crate::decode::{decode_data, BatchInfo, BatchKind, DecodeError, EventSink};
use crate::emf::{documents, EmfSink};
use crate::finding::Totals;
use crate::ledger::{Ledger, Stored, WindowKey};
use crate::metrics::{accepted_range, dimension_value_problem, fold, MetricPlan};
use crate::severity::{IgnoredStatuses, Severity};
use crate::time::{window_end, window_start, EpochMillis};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Time kept back from the deadline for printing the counts and answering Lambda.
const DEADLINE_RESERVE: Duration = Duration::from_millis(500);

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
    /// The record's sequence number in its shard (logged when the record is rejected).
    #[serde(rename = "sequenceNumber", default)]
    pub sequence_number: Option<String>,
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
    /// The payload's log group cannot be a CloudWatch dimension value.
    #[error("log group {group:?}: {reason}, which CloudWatch refuses as a dimension value")]
    LogGroup {
        /// The name (cut to 100 characters).
        group: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// GetMetricData failed (nothing was sent or counted).
    #[error("GetMetricData: {0}")]
    ReadMetrics(AwsError),
    /// SNS Publish failed (nothing was counted).
    #[error("SNS Publish: {0}")]
    Publish(AwsError),
    /// PutMetricData of the alert markers failed (alerts were sent; counts were not written).
    #[error("PutMetricData: {0}")]
    PutMetrics(AwsError),
    /// The counts could not be printed.
    #[error("writing EMF counts: {0}")]
    Emf(std::io::Error),
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
            HandlerError::LogGroup { .. } => "Decode.LogGroup",
            HandlerError::ReadMetrics(_) => "CloudWatch.GetMetricData",
            HandlerError::Publish(_) => "SNS.Publish",
            HandlerError::PutMetrics(_) => "CloudWatch.PutMetricData",
            HandlerError::Emf(_) => "EMF.Write",
        }
    }
}

/// What one invocation did (logged as one line, and returned).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Log events decoded (control messages and out-of-range events included).
    pub events: u64,
    /// Requests counted (written as metrics).
    pub requests: u64,
    /// 4xx counted.
    pub client_errors: u64,
    /// Lines with no valid status, counted.
    pub unparsed: u64,
    /// Events without a timestamp or request time (counted in no window).
    pub untimed: u64,
    /// Events timestamped where CloudWatch accepts no metrics (over two weeks old, or ahead of the
    /// clock): logged, not counted.
    pub out_of_range: u64,
    /// Kinesis records skipped because they cannot be decoded or name a log group CloudWatch
    /// refuses (each logged with its sequence number).
    pub rejected: u64,
    /// The batch was delivered before (same data) and already counted by this container.
    pub duplicate: bool,
    /// Control messages ignored.
    pub control_messages: u64,
    /// Windows touched.
    pub windows: usize,
    /// Windows read back from CloudWatch (decision reads).
    pub windows_read: usize,
    /// Messages published (at most one per log group).
    pub alerts: usize,
    /// Alert markers written.
    pub markers: usize,
    /// EMF documents printed.
    pub emf_documents: u64,
    /// Bytes of EMF printed (log ingestion).
    pub emf_bytes: u64,
    /// AWS requests sent (retries, pages and chunks included).
    pub aws_calls: u64,
}

/// When an invocation runs: the clock, and the time by which it must have answered.
#[derive(Debug, Clone, Copy)]
pub struct Invocation {
    /// Now, in epoch milliseconds.
    pub now: EpochMillis,
    /// Lambda's deadline for this invocation, if any.
    pub deadline: Option<Instant>,
}

impl Invocation {
    /// Now by the system clock, without a deadline.
    pub fn now() -> Invocation {
        Invocation::at(system_now())
    }

    /// At `now` (tests move the clock), without a deadline.
    pub fn at(now: EpochMillis) -> Invocation {
        Invocation { now, deadline: None }
    }

    /// With a deadline `remaining` from now.
    pub fn with_remaining(mut self, remaining: Duration) -> Invocation {
        self.deadline = Some(Instant::now() + remaining);
        self
    }
}

/// The system clock in epoch milliseconds.
pub fn system_now() -> EpochMillis {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as EpochMillis)
}

/// The function: configuration, the AWS edges, the EMF output, and the warm container's ledger.
pub struct Function<M, A, E, X = NoContext> {
    config: Config,
    plan: MetricPlan,
    metrics: M,
    alerts: A,
    emf: E,
    ledger: Mutex<Ledger>,
    context: X,
}

/// The decoded batch: tallies per log group and what was left out.
struct Decoded {
    analyzer: Analyzer,
    events: u64,
    out_of_range: u64,
    rejected: u64,
    fingerprint: u64,
}

impl<M: MetricsStore + Sync, A: AlertSink + Sync, E: EmfSink> Function<M, A, E> {
    /// A function over the given edges, with a cold ledger and no alert context.
    pub fn new(config: Config, metrics: M, alerts: A, emf: E) -> Self {
        // Every code any group ignores is read back, so each group's rate can leave its own out.
        let mut ignored = config.rules.ignored.codes().to_vec();
        ignored.extend(config.group_rules.ignored_codes());
        ignored.sort_unstable();
        ignored.dedup();
        let plan = MetricPlan::new(&config.tracked, &ignored);
        let ledger = Mutex::new(Ledger::new(config.window_minutes));
        Function { config, plan, metrics, alerts, emf, ledger, context: NoContext }
    }
}

impl<M: MetricsStore + Sync, A: AlertSink + Sync, E: EmfSink, X: ContextSource + Sync> Function<M, A, E, X> {
    /// The same function with `context` for its alerts (baseline and deployment lines, SPIKE_FACTOR).
    pub fn with_context<Y: ContextSource>(self, context: Y) -> Function<M, A, E, Y> {
        let Function { config, plan, metrics, alerts, emf, ledger, .. } = self;
        Function { config, plan, metrics, alerts, emf, ledger, context }
    }

    /// The same function (configuration and ledger) over another metrics store: a warm container
    /// whose next call meets different AWS behaviour, for fault tests.
    pub fn with_metrics<N: MetricsStore>(self, metrics: N) -> Function<N, A, E, X> {
        let Function { config, plan, alerts, emf, ledger, context, .. } = self;
        Function { config, plan, metrics, alerts, emf, ledger, context }
    }

    /// The metrics store.
    pub fn metrics(&self) -> &M {
        &self.metrics
    }

    /// The alert sink.
    pub fn alerts(&self) -> &A {
        &self.alerts
    }

    /// The EMF sink.
    pub fn emf(&self) -> &E {
        &self.emf
    }

    /// Handles one invocation now, without a deadline.
    pub async fn handle(&self, event: &IncomingEvent) -> Result<Summary, HandlerError> {
        self.handle_at(event, Invocation::now()).await
    }

    /// Handles one invocation at `inv.now`, answering before `inv.deadline`.
    pub async fn handle_at(&self, event: &IncomingEvent, inv: Invocation) -> Result<Summary, HandlerError> {
        let calls = || self.metrics.calls() + self.alerts.calls() + self.context.calls();
        let before = calls();
        let mut summary = self.run(event, inv).await?;
        summary.aws_calls = calls() - before;
        Ok(summary)
    }

    async fn run(&self, event: &IncomingEvent, inv: Invocation) -> Result<Summary, HandlerError> {
        let c = &self.config;
        let now = inv.now;
        let accepted = accepted_range(now);
        let decoded = decode(event, c, &accepted)?;
        let mut ledger = self.ledger.lock().await;
        ledger.begin(now);
        if ledger.seen_batch(decoded.fingerprint) {
            return Ok(Summary { duplicate: true, events: decoded.events, ..Summary::default() });
        }
        let (mut summary, batch) = self.count(&decoded, &accepted);

        // Read only what the ledger lacks; the breakdown only for windows about to alert.
        let need = ledger.reads(batch.keys(), now);
        summary.windows_read = need.len();
        let mut stored = self.read(&need, false, inv).await?;
        let mut judge =
            Judge { rules: &c.rules, notify_recovery: c.notify_recovery, groups: Some(&c.group_rules), spike: None };
        let mut plan = ledger.plan(&batch, &stored, &judge);
        // SPIKE_FACTOR: windows that stay quiet under the fixed levels but have 4xx are judged
        // against their group's baseline (cached per group and hour).
        let spike_baselines;
        if let Some(factor) = c.spike_factor {
            let quiet: Vec<(&str, IgnoredStatuses, EpochMillis)> = plan
                .decisions
                .iter()
                .filter(|d| d.finding.severity == Severity::Ok && d.finding.rate.client_errors > 0)
                .map(|d| (d.key.0.as_str(), c.group_rules.for_group(&d.key.0).ignored, d.key.1))
                .collect();
            if !quiet.is_empty() {
                let wanted: Vec<_> = quiet.iter().map(|(g, i, w)| (*g, i, *w)).collect();
                spike_baselines = with_deadline(inv, self.context.baselines(&wanted)).await;
                judge.spike = Some((factor, &spike_baselines));
                plan = ledger.plan(&batch, &stored, &judge);
            }
        }
        let breakdown = plan.breakdown_needed();
        if !breakdown.is_empty() {
            stored.add_breakdown(self.read(&breakdown, true, inv).await?.states);
            plan = ledger.plan(&batch, &stored, &judge);
        }

        // The alerts' context, looked up only now that alerts are going out (recoveries need none).
        let by_group = plan.alerts_by_group();
        let group_rules: BTreeMap<&str, crate::finding::Rules> =
            by_group.keys().map(|g| (*g, c.group_rules.for_group(g))).collect();
        let subjects: Vec<AlertSubject<'_>> = by_group
            .iter()
            .filter_map(|(group, ds)| {
                let latest = ds.iter().rev().find(|d| matches!(d.action, Some(Action::Alert(_))))?;
                Some(AlertSubject {
                    log_group: group,
                    ignored: &group_rules[group].ignored,
                    window_start: latest.key.1,
                    rate: latest.finding.rate,
                    stage: decoded.analyzer.by_log_group.get(*group).and_then(|t| t.stage()),
                })
            })
            .collect();
        let context = if subjects.is_empty() {
            BTreeMap::new()
        } else {
            with_deadline(inv, self.context.lines(&subjects, now)).await
        };

        // One message per log group; each remembered as soon as it is out.
        for (group, decisions) in by_group {
            let tally = decoded.analyzer.by_log_group.get(group);
            let query = crate::insights::query(&c.parser, tally.and_then(|t| t.shape));
            let none = BTreeMap::new();
            let evidence = tally.map_or(&none, |t| &t.evidence);
            let style = Style {
                rules: &group_rules[group],
                window_minutes: c.window_minutes,
                format: c.alert_format,
                query: &query,
                region: &c.region,
                context: context.get(group).map_or(&[], Vec::as_slice),
            };
            let Some(m) = message(&decisions, evidence, &style) else { continue };
            within(inv, self.alerts.publish(&m)).await.map_err(HandlerError::Publish)?;
            ledger.published(decisions, now);
            summary.alerts += 1;
        }

        let markers: Vec<_> = plan.markers.iter().map(|((g, w), m)| self.plan.marker(g, *w, *m)).collect();
        if !markers.is_empty() {
            within(inv, self.metrics.put(&markers)).await.map_err(HandlerError::PutMetrics)?;
            summary.markers = markers.len();
        }

        // Last: the counts. Nothing after this can fail.
        let written =
            self.emf.write(&mut self.emf_documents(&decoded.analyzer, &accepted)).map_err(HandlerError::Emf)?;
        (summary.emf_documents, summary.emf_bytes) = (written.documents, written.bytes);
        ledger.commit(&plan, &stored, decoded.fingerprint, now);
        Ok(summary)
    }

    /// The batch's totals per window (minutes CloudWatch would refuse left out), and the summary
    /// of what will be written.
    fn count(&self, decoded: &Decoded, accepted: &Range<EpochMillis>) -> (Summary, BTreeMap<WindowKey, Totals>) {
        let a = &decoded.analyzer;
        let mut summary = Summary {
            events: decoded.events,
            out_of_range: decoded.out_of_range,
            rejected: decoded.rejected,
            control_messages: a.control_messages,
            ..Summary::default()
        };
        let mut batch: BTreeMap<WindowKey, Totals> = BTreeMap::new();
        for (group, tally) in &a.by_log_group {
            summary.untimed += tally.untimed;
            // Only lines placed by their own request time can pass the bucket cap (timestamped ones
            // out of range were dropped before it): not written, so reported with those.
            summary.out_of_range += tally.unbucketed;
            for (minute, counts) in &tally.buckets {
                if !accepted.contains(minute) {
                    // Untimed events placed by their own request time can still land out of range.
                    summary.out_of_range += counts.requests() + counts.unparsed;
                    continue;
                }
                summary.requests += counts.requests();
                summary.client_errors += counts.client_errors();
                summary.unparsed += counts.unparsed;
                let key = (group.clone(), window_start(*minute, self.config.window_minutes));
                batch.entry(key).or_default().add(&self.plan.totals(counts));
            }
        }
        summary.windows = batch.len();
        (summary, batch)
    }

    /// The EMF documents of the batch, built one minute at a time as they are written.
    fn emf_documents<'a>(
        &'a self,
        analyzer: &'a Analyzer,
        accepted: &'a Range<EpochMillis>,
    ) -> impl Iterator<Item = String> + 'a {
        analyzer.by_log_group.iter().flat_map(move |(group, tally)| {
            tally.buckets.iter().filter(|(minute, _)| accepted.contains(*minute)).flat_map(move |(minute, counts)| {
                documents(&self.config.namespace, group, *minute, &self.plan.totals(counts))
            })
        })
    }

    /// Reads `keys` back: totals, ignored codes and markers (`breakdown` false), or the per-code
    /// breakdown. One GetMetricData request per 500 queries over the span of the windows.
    async fn read(&self, keys: &BTreeSet<WindowKey>, breakdown: bool, inv: Invocation) -> Result<Stored, HandlerError> {
        let mut stored = Stored { keys: if breakdown { BTreeSet::new() } else { keys.clone() }, ..Stored::default() };
        let (Some(first), Some(last)) = (keys.iter().map(|k| k.1).min(), keys.iter().map(|k| k.1).max()) else {
            return Ok(stored);
        };
        let mut groups: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
        groups.dedup();
        let queries = if breakdown { self.plan.breakdown_queries(groups) } else { self.plan.decision_queries(groups) };
        let end = window_end(last, self.config.window_minutes);
        let results = within(inv, self.metrics.read(&queries, first, end)).await.map_err(HandlerError::ReadMetrics)?;
        stored.states = fold(&queries, &results, self.config.window_minutes)
            .into_iter()
            .filter(|(k, _)| keys.contains(k))
            .collect();
        Ok(stored)
    }
}

/// Runs an AWS call, giving up (as a failed call) when the invocation's deadline, less what the
/// counts need, arrives first.
async fn within<T>(
    inv: Invocation,
    call: impl std::future::Future<Output = Result<T, AwsError>>,
) -> Result<T, AwsError> {
    let Some(deadline) = inv.deadline else { return call.await };
    let until = deadline.checked_sub(DEADLINE_RESERVE).unwrap_or(deadline);
    if Instant::now() >= until {
        return Err(AwsError::new(AwsErrorKind::Deadline, "no time left before the invocation's deadline"));
    }
    match tokio::time::timeout_at(until, call).await {
        Ok(r) => r,
        Err(_) => Err(AwsError::new(AwsErrorKind::Deadline, "cut short by the invocation's deadline")),
    }
}

/// Runs a context lookup (optional by nature) within the invocation's deadline, less what the alerts
/// and counts need: out of time, the alert goes without its context.
async fn with_deadline<T: Default>(inv: Invocation, lookup: impl std::future::Future<Output = T>) -> T {
    let Some(deadline) = inv.deadline else { return lookup.await };
    let until = deadline.checked_sub(DEADLINE_RESERVE * 4).unwrap_or(deadline);
    tokio::time::timeout_at(until, lookup).await.unwrap_or_else(|_| {
        tracing::warn!("alert context omitted: the invocation's deadline is near");
        T::default()
    })
}

/// An [`EventSink`] that drops events timestamped where CloudWatch accepts no metrics before they
/// are bucketed (a batch of 100,000 distinct old minutes allocates nothing for them).
struct InRange<'a> {
    inner: &'a mut Analyzer,
    accepted: &'a Range<EpochMillis>,
    events: u64,
    pending_out: u64,
    out_of_range: u64,
}

impl InRange<'_> {
    /// Whether an event's time lies outside the accepted range.
    fn outside(&self, timestamp: Option<EpochMillis>) -> bool {
        timestamp.is_some_and(|t| !self.accepted.contains(&t))
    }
}

impl EventSink for InRange<'_> {
    fn begin_batch(&mut self) {
        self.pending_out = 0;
        self.inner.begin_batch();
    }

    fn event(&mut self, timestamp: Option<EpochMillis>, message: &str) {
        self.events += 1;
        if self.outside(timestamp) {
            self.pending_out += 1;
        } else {
            self.inner.event(timestamp, message);
        }
    }

    fn reads_escaped(&self) -> bool {
        self.inner.reads_escaped()
    }

    fn escaped_event(&mut self, timestamp: Option<EpochMillis>, raw: &str) -> bool {
        // Out of range: `event` counts it. (Taking it here unread would skip the check that the
        // decoder's candidate is the whole message: only a parse that succeeds confirms it.)
        if self.outside(timestamp) {
            return false;
        }
        let counted = self.inner.escaped_event(timestamp, raw);
        self.events += u64::from(counted);
        counted
    }

    fn end_batch(&mut self, batch: &BatchInfo) {
        if batch.kind != BatchKind::Control {
            self.out_of_range += self.pending_out;
        }
        self.pending_out = 0;
        self.inner.end_batch(batch);
    }
}

/// Decodes one payload into a fresh analyzer, checking its log groups.
fn decode_one(data: &str, config: &Config, accepted: &Range<EpochMillis>) -> Result<Decoded, HandlerError> {
    let mut analyzer = Analyzer::new(config.parser.clone(), Some(1));
    let mut sink = InRange { inner: &mut analyzer, accepted, events: 0, pending_out: 0, out_of_range: 0 };
    decode_data(data, config.limits, &mut sink)?;
    let (events, out_of_range) = (sink.events, sink.out_of_range);
    for group in analyzer.by_log_group.keys() {
        if let Some(reason) = dimension_value_problem(group) {
            return Err(HandlerError::LogGroup { group: group.chars().take(100).collect(), reason });
        }
    }
    Ok(Decoded { analyzer, events, out_of_range, rejected: 0, fingerprint: 0 })
}

/// Decodes the event: a subscription event fails whole on bad data; a Kinesis record that cannot
/// be decoded (or names a log group CloudWatch refuses) is skipped, logged and counted as rejected.
fn decode(event: &IncomingEvent, config: &Config, accepted: &Range<EpochMillis>) -> Result<Decoded, HandlerError> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut decoded = match (&event.awslogs, &event.records) {
        (Some(a), _) => {
            a.data.hash(&mut h);
            decode_one(&a.data, config, accepted)?
        }
        (None, Some(records)) => {
            let kinesis: Vec<&KinesisData> = records.iter().filter_map(|r| r.kinesis.as_ref()).collect();
            if kinesis.is_empty() {
                // `Records` of some other source (SQS, S3…): not ours to drop silently.
                return Err(HandlerError::Shape);
            }
            let mut all = Decoded {
                analyzer: Analyzer::new(config.parser.clone(), Some(1)),
                events: 0,
                out_of_range: 0,
                rejected: 0,
                fingerprint: 0,
            };
            for k in kinesis {
                k.data.hash(&mut h);
                match decode_one(&k.data, config, accepted) {
                    Ok(one) => merge(&mut all, one),
                    Err(e) => {
                        all.rejected += 1;
                        tracing::warn!(
                            sequence_number = k.sequence_number.as_deref().unwrap_or("-"),
                            error = %e,
                            error_type = e.error_type(),
                            "Kinesis record rejected: skipped, not counted"
                        );
                    }
                }
            }
            all
        }
        (None, None) => return Err(HandlerError::Shape),
    };
    decoded.fingerprint = h.finish();
    Ok(decoded)
}

fn merge(all: &mut Decoded, one: Decoded) {
    all.events += one.events;
    all.out_of_range += one.out_of_range;
    all.analyzer.events += one.analyzer.events;
    all.analyzer.control_messages += one.analyzer.control_messages;
    for (group, tally) in one.analyzer.by_log_group {
        match all.analyzer.by_log_group.get_mut(&group) {
            Some(t) => t.merge(tally),
            None => {
                all.analyzer.by_log_group.insert(group, tally);
            }
        }
    }
}
