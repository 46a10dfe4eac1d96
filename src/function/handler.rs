//! The handler: one invocation as a straight line (see [`Function::run`'s steps](Function)).
//!
//! Ordering is the guarantee. Counts go out last, as EMF lines on standard output, after which
//! nothing can fail; anything failing before fails the invocation with nothing counted, and Lambda's
//! retry counts the batch once. Alerts go out before their markers (at-least-once), markers are
//! idempotent (a marker is a boolean), a container's writer mark for a window is stored before its
//! first counts for it (so another container never holds counts it cannot know of), and no call is
//! made that the invocation's deadline cannot see through.

use crate::base::time::{window_end, window_start, EpochMillis};
use crate::count::analysis::Analyzer;
use crate::function::batch::{self, Decoded};
use crate::function::config::Config;
use crate::function::context::{AlertSubject, ContextSource, NoContext};
use crate::function::emf::EmfSink;
use crate::function::error::HandlerError;
use crate::function::event::IncomingEvent;
use crate::function::invocation::{with_deadline, within, Invocation};
use crate::function::stores::{AlertSink, MetricsStore};
use crate::function::summary::Summary;
use crate::judge::finding::Rules;
use crate::judge::severity::IgnoredStatuses;
use crate::metrics::contract::{accepted_range, fold, MetricPlan, WriterId};
use crate::metrics::emf::documents;
use crate::render::alert::{lead, message, AlertMessage, Style};
use crate::render::notice;
use crate::render::withheld::old_windows_line;
use crate::window::decide::{Judge, WindowDecision};
use crate::window::format_watch::FormatWatch;
use crate::window::ledger::{Ledger, Plan, Reads, Stored};
use crate::window::marker::Marker;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use tokio::sync::Mutex;

/// The function: configuration, the AWS edges, the EMF output, and the warm container's ledger.
pub struct Function<M, A, E, X = NoContext> {
    config: Config,
    plan: MetricPlan,
    /// This container's id: the value of its writer marks.
    writer: WriterId,
    metrics: M,
    alerts: A,
    emf: E,
    ledger: Mutex<Ledger>,
    /// Each group's hour of unparsed lines (the format-mismatch notice).
    format_watch: Mutex<FormatWatch>,
    context: X,
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
        let writer = WriterId::from_bits(random_bits());
        Function {
            config,
            plan,
            writer,
            metrics,
            alerts,
            emf,
            ledger,
            format_watch: Mutex::default(),
            context: NoContext,
        }
    }
}

/// 64 bits no other container draws: std's per-process random hash keys over the clock, the
/// process id and Lambda's log stream name (one per execution environment).
fn random_bits() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.write_u32(std::process::id());
    h.write(std::env::var("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_default().as_bytes());
    h.finish()
}

impl<M: MetricsStore + Sync, A: AlertSink + Sync, E: EmfSink, X: ContextSource + Sync> Function<M, A, E, X> {
    /// The same function with `context` for its alerts (baseline and deployment lines, SPIKE_FACTOR).
    pub fn with_context<Y: ContextSource>(self, context: Y) -> Function<M, A, E, Y> {
        let Function { config, plan, writer, metrics, alerts, emf, ledger, format_watch, .. } = self;
        Function { config, plan, writer, metrics, alerts, emf, ledger, format_watch, context }
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

    /// One invocation, a straight line: decode → count → read what the ledger lacks → decide once
    /// (then lift quiet windows by their baseline and add the breakdown of those about to alert) →
    /// publish → write markers and writer marks → print counts → commit → format-mismatch notices
    /// (best effort).
    async fn run(&self, event: &IncomingEvent, inv: Invocation) -> Result<Summary, HandlerError> {
        let c = &self.config;
        let now = inv.now;
        let accepted = accepted_range(now);
        let decoded = batch::decode(event, c, &accepted)?;
        let mut ledger = self.ledger.lock().await;
        ledger.begin(now);
        if ledger.seen_batch(decoded.fingerprint) {
            return Ok(Summary { duplicate: true, events: decoded.events, ..Summary::default() });
        }
        let (mut summary, windows) = decoded.windows(&self.plan, c.window_minutes, &accepted);

        // Read only what the ledger lacks, and decide every window once.
        let need = ledger.reads(windows.keys(), now);
        summary.windows_read = need.windows.len();
        let stored = self.read(&need, false, inv).await?;
        let judge = Judge { rules: &c.rules, notify_recovery: c.notify_recovery, groups: Some(&c.group_rules) };
        let mut plan = ledger.plan(&windows, &stored, &judge, now);
        if let Some(factor) = c.spike_factor {
            // Quiet windows with 4xx, against their group's baseline (cached per group and hour).
            let quiet = spike_subjects(&plan, &judge);
            if !quiet.is_empty() {
                let wanted: Vec<_> = quiet.iter().map(|(g, i, w)| (*g, i, *w)).collect();
                let baselines = with_deadline(inv, self.context.baselines(&wanted)).await;
                plan.lift(&judge, factor, &baselines);
            }
        }
        let breakdown = self.read(&plan.breakdown_needed(), true, inv).await?;
        plan.add_breakdown(&judge, &breakdown);

        // One message per log group, each remembered as soon as it is out.
        for (decisions, message) in self.messages(&plan, &judge, &decoded, inv).await {
            within(inv, self.alerts.publish(&message)).await.map_err(HandlerError::Publish)?;
            ledger.published(decisions, now);
            summary.alerts += 1;
        }

        // Alert markers, and the writer marks of windows this container counts in for the first time.
        let alert_markers = plan.markers();
        let marks = plan.writer_marks();
        let datums: Vec<_> = alert_markers
            .iter()
            .map(|((g, w), m)| self.plan.marker(g, *w, *m))
            .chain(marks.iter().map(|(g, w)| self.plan.writer_mark(g, *w, self.writer)))
            .collect();
        if !datums.is_empty() {
            within(inv, self.metrics.put(&datums)).await.map_err(HandlerError::PutMetrics)?;
            (summary.markers, summary.writer_marks) = (alert_markers.len(), marks.len());
        }
        (summary.withheld, summary.too_old) = (plan.withheld(false).count(), plan.withheld(true).count());
        if summary.too_old > 0 {
            tracing::warn!(windows = summary.too_old, "windows too old to page crossed a level: not paged");
        }

        // Last: the counts. Nothing after this can fail.
        let written =
            self.emf.write(&mut self.emf_documents(&decoded.analyzer, &accepted, &plan)).map_err(HandlerError::Emf)?;
        (summary.emf_documents, summary.emf_bytes) = (written.documents, written.bytes);
        ledger.commit(&plan, &stored, decoded.fingerprint, now);
        drop(ledger);
        summary.notices = self.format_notices(&decoded.analyzer, inv).await;
        Ok(summary)
    }

    /// After the counts: a notice for each group whose last hour's lines mostly did not parse.
    /// Best effort: a notice that fails is logged, and the batch still succeeds.
    async fn format_notices(&self, analyzer: &Analyzer, inv: Invocation) -> usize {
        let due: Vec<_> = {
            let mut watch = self.format_watch.lock().await;
            analyzer
                .by_log_group
                .iter()
                .filter_map(|(group, t)| {
                    let unparsed = t.overall.unparsed;
                    watch.observe(group, unparsed, t.overall.requests() + unparsed, inv.now)
                })
                .collect()
        };
        let c = &self.config;
        let mut sent = 0;
        for m in due {
            let message = notice::format_mismatch(&m.group, m.unparsed, m.lines, c.alert_format, &c.region);
            match within(inv, self.alerts.publish(&message)).await {
                Ok(()) => {
                    self.format_watch.lock().await.told(&m.group, inv.now);
                    sent += 1;
                }
                Err(e) => tracing::warn!(group = m.group, error = %e, "format-mismatch notice not sent"),
            }
        }
        sent
    }

    /// The messages of the batch, one per log group with an action, with their context (baseline
    /// and deployment lines), looked up only now that alerts are going out (recoveries need none).
    async fn messages<'p>(
        &self,
        plan: &'p Plan,
        judge: &Judge<'_>,
        decoded: &Decoded,
        inv: Invocation,
    ) -> Vec<(Vec<&'p WindowDecision>, AlertMessage)> {
        let c = &self.config;
        let by_group = plan.alerts_by_group();
        let rules: BTreeMap<&str, Rules> = by_group.keys().map(|g| (*g, judge.rules_for(g))).collect();
        let tallies = &decoded.analyzer.by_log_group;
        let subjects: Vec<AlertSubject<'_>> = by_group
            .iter()
            .filter_map(|(group, ds)| {
                // The window the message leads with; a recovery (which leads only recoveries) needs none.
                let lead = lead(ds).filter(|d| matches!(d.action, Some(Marker::Alerted(_))))?;
                Some(AlertSubject {
                    log_group: group,
                    ignored: &rules[group].ignored,
                    window_start: lead.key.1,
                    rate: lead.finding.rate,
                    stage: tallies.get(*group).and_then(|t| t.stage()),
                })
            })
            .collect();
        let context = if subjects.is_empty() {
            BTreeMap::new()
        } else {
            with_deadline(inv, self.context.lines(&subjects, inv.now)).await
        };
        let none = BTreeMap::new();
        let mut old: BTreeMap<&str, Vec<&WindowDecision>> = BTreeMap::new();
        for d in plan.withheld(true) {
            old.entry(d.key.0.as_str()).or_default().push(d);
        }
        let mut out = Vec::new();
        for (group, decisions) in by_group {
            let mut lines = context.get(group).cloned().unwrap_or_default();
            lines.extend(old.get(group).and_then(|ds| old_windows_line(ds, c.window_minutes)));
            let tally = tallies.get(group);
            let query = crate::render::insights::query(&c.parser, tally.and_then(|t| t.shape));
            let style = Style {
                rules: &rules[group],
                window_minutes: c.window_minutes,
                format: c.alert_format,
                query: &query,
                region: &c.region,
                context: &lines,
            };
            if let Some(m) = message(&decisions, tally.map_or(&none, |t| &t.evidence), &style) {
                out.push((decisions, m));
            }
        }
        out
    }

    /// The EMF documents of the batch, built one minute at a time as they are written; the minutes
    /// of shared windows tagged with this container's position among their writers.
    fn emf_documents<'a>(
        &'a self,
        analyzer: &'a Analyzer,
        accepted: &'a Range<EpochMillis>,
        plan: &'a Plan,
    ) -> impl Iterator<Item = String> + 'a {
        let wm = self.config.window_minutes;
        analyzer.by_log_group.iter().flat_map(move |(group, tally)| {
            tally.buckets.iter().filter(|(minute, _)| accepted.contains(*minute)).flat_map(move |(minute, counts)| {
                let tag = plan.tag(&(group.clone(), window_start(*minute, wm))).map(|p| p.to_string());
                documents(&self.config.namespace, group, *minute, &self.plan.totals(counts), tag.as_deref())
            })
        })
    }

    /// Reads `reads` back: totals, ignored codes, markers and writer marks (`breakdown` false), or
    /// the per-code breakdown; with this container's tagged counts of the windows that need them.
    /// One GetMetricData request per 500 queries over the span of the windows.
    async fn read(&self, reads: &Reads, breakdown: bool, inv: Invocation) -> Result<Stored, HandlerError> {
        let keys = &reads.windows;
        let mut stored = Stored { keys: if breakdown { BTreeSet::new() } else { keys.clone() }, ..Stored::default() };
        let (Some(first), Some(last)) = (keys.iter().map(|k| k.1).min(), keys.iter().map(|k| k.1).max()) else {
            return Ok(stored);
        };
        let mut groups: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
        groups.dedup();
        let mut queries = if breakdown {
            self.plan.breakdown_queries(groups)
        } else {
            self.plan.decision_queries(groups, self.writer)
        };
        let all = queries.len();
        // This container's tagged counts: one set of queries per log group and position.
        let mut tags: Vec<(&str, u32)> = reads.own.iter().map(|((g, _), p)| (g.as_str(), *p)).collect();
        tags.dedup();
        let mut sets = Vec::new();
        for (i, (group, position)) in tags.into_iter().enumerate() {
            let start = queries.len();
            queries.extend(self.plan.own_queries(group, position, i, breakdown));
            sets.push((start..queries.len(), position));
        }
        let end = window_end(last, self.config.window_minutes);
        let results = within(inv, self.metrics.read(&queries, first, end)).await.map_err(HandlerError::ReadMetrics)?;
        let wm = self.config.window_minutes;
        stored.states = fold(&queries[..all], &results, wm).into_iter().filter(|(k, _)| keys.contains(k)).collect();
        for (range, position) in sets {
            let mine = fold(&queries[range], &results, wm).into_iter();
            stored.own.extend(mine.filter(|(k, _)| reads.own.get(k) == Some(&position)));
        }
        Ok(stored)
    }
}

/// The quiet windows with 4xx that `SPIKE_FACTOR` judges against their group's baseline.
fn spike_subjects<'p>(plan: &'p Plan, judge: &Judge<'_>) -> Vec<(&'p str, IgnoredStatuses, EpochMillis)> {
    plan.quiet_with_client_errors().map(|d| (d.key.0.as_str(), judge.rules_for(&d.key.0).ignored, d.key.1)).collect()
}
