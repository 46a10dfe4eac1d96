//! From the invocation's event to the batch's counts: every payload decoded into tallies per log
//! group (Kinesis records one by one, a bad one skipped and counted), events CloudWatch would refuse
//! left out before they are bucketed, and the totals per window the ledger decides on.

use crate::base::time::{window_start, EpochMillis};
use crate::count::analysis::Analyzer;
use crate::function::config::Config;
use crate::function::error::HandlerError;
use crate::function::event::{IncomingEvent, KinesisData};
use crate::function::summary::Summary;
use crate::ingest::decode::{decode_data, BatchInfo, BatchKind, EventSink};
use crate::judge::finding::Totals;
use crate::metrics::contract::{dimension_value_problem, MetricPlan};
use crate::window::state::WindowKey;
use std::collections::BTreeMap;
use std::ops::Range;

/// The decoded batch: tallies per log group and what was left out.
pub struct Decoded {
    /// Tallies per log group.
    pub analyzer: Analyzer,
    /// Log events decoded.
    pub events: u64,
    /// Events timestamped where CloudWatch accepts no metrics.
    pub out_of_range: u64,
    /// Kinesis records skipped.
    pub rejected: u64,
    /// Recognises a re-delivered batch.
    pub fingerprint: u64,
}

impl Decoded {
    /// The batch's totals per window (minutes CloudWatch would refuse left out, and windows that
    /// start before the accepted range), and the summary of what will be written.
    pub fn windows(
        &self,
        plan: &MetricPlan,
        window_minutes: u32,
        accepted: &Range<EpochMillis>,
    ) -> (Summary, BTreeMap<WindowKey, Totals>) {
        let a = &self.analyzer;
        let mut summary = Summary {
            events: self.events,
            out_of_range: self.out_of_range,
            rejected: self.rejected,
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
                let start = window_start(*minute, window_minutes);
                if !accepted.contains(&start) {
                    // Counted (each minute is written with its own timestamp), never judged: the
                    // window's marker would carry its start, and PutMetricData refuses the whole
                    // request for one timestamp past two weeks.
                    continue;
                }
                batch.entry((group.clone(), start)).or_default().add(&plan.totals(counts));
            }
        }
        summary.windows = batch.len();
        (summary, batch)
    }
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
    /// Whether an event's minute (the timestamp its counts are written with) lies outside the
    /// accepted range: the same test [`Decoded::windows`] puts to each minute.
    fn outside(&self, timestamp: Option<EpochMillis>) -> bool {
        timestamp.is_some_and(|t| !self.accepted.contains(&window_start(t, 1)))
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
pub fn decode(event: &IncomingEvent, config: &Config, accepted: &Range<EpochMillis>) -> Result<Decoded, HandlerError> {
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
