//! Decoded events into tallies: the [`EventSink`] that parses each line and counts it per log group,
//! dropping control messages (whose events are known to be control only at the end of the batch).
//!
//! Analyzers of parts of the input (files, payloads read on other threads) merge into exactly what
//! one analyzer reading everything in order gives, in any merge order: counts add up, and each
//! batch's tally carries its [`Position`] so that the first unparsed example and shape stay first.

use crate::access_log::LineParser;
use crate::base::time::EpochMillis;
use crate::count::tally::{Position, Tally};
use crate::ingest::decode::{BatchInfo, BatchKind, EventSink};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Counts decoded events per log group (`""` when the input does not name one).
#[derive(Debug)]
pub struct Analyzer {
    parser: Arc<LineParser>,
    bucket_minutes: Option<u32>,
    /// The position of the next batch: `batch` grows with each one.
    position: Position,
    pending: Tally,
    /// Finished tallies by log group.
    pub by_log_group: BTreeMap<String, Tally>,
    /// Control messages seen (and ignored).
    pub control_messages: u64,
    /// Log events read, control messages included.
    pub events: u64,
}

impl Analyzer {
    /// An analyzer that parses with `parser` and buckets by `bucket_minutes` (if any).
    pub fn new(parser: LineParser, bucket_minutes: Option<u32>) -> Self {
        Analyzer {
            parser: Arc::new(parser),
            bucket_minutes,
            position: Position::default(),
            pending: Tally::new(bucket_minutes),
            by_log_group: BTreeMap::new(),
            control_messages: 0,
            events: 0,
        }
    }

    /// An empty analyzer with the same parser and bucketing, for the part of the input that starts
    /// at `position` (see [`Position`]: later parts must get larger positions).
    pub fn part(&self, position: Position) -> Analyzer {
        Analyzer {
            parser: Arc::clone(&self.parser),
            bucket_minutes: self.bucket_minutes,
            position,
            pending: Tally::new(self.bucket_minutes),
            by_log_group: BTreeMap::new(),
            control_messages: 0,
            events: 0,
        }
    }

    /// Where the next batch will be counted.
    pub fn position(&self) -> Position {
        self.position
    }

    /// Moves on to `position` (which must not be before the current one) for the batches that follow.
    pub fn seek(&mut self, position: Position) {
        self.position = position;
    }

    /// Adds the counts of another analyzer (of another part of the input). Exact and independent of
    /// the merge order.
    pub fn merge(&mut self, other: Analyzer) {
        for (group, tally) in other.by_log_group {
            match self.by_log_group.get_mut(&group) {
                Some(t) => t.merge(tally),
                None => {
                    self.by_log_group.insert(group, tally);
                }
            }
        }
        self.control_messages += other.control_messages;
        self.events += other.events;
    }

    /// Every log group's tally merged into one.
    pub fn merged(self) -> Tally {
        let mut all = Tally::new(self.bucket_minutes);
        for (_, t) in self.by_log_group {
            all.merge(t);
        }
        all.finish()
    }
}

impl EventSink for Analyzer {
    fn begin_batch(&mut self) {
        self.pending = Tally::new(self.bucket_minutes).at(self.position);
        self.position.batch += 1;
    }

    fn event(&mut self, timestamp: Option<EpochMillis>, message: &str) {
        self.events += 1;
        self.pending.add_line(&self.parser, timestamp, message);
    }

    fn reads_escaped(&self) -> bool {
        matches!(*self.parser, LineParser::Auto)
    }

    fn escaped_event(&mut self, timestamp: Option<EpochMillis>, raw: &str) -> bool {
        let counted = self.pending.add_escaped(&self.parser, timestamp, raw);
        self.events += u64::from(counted);
        counted
    }

    fn oversized(&mut self, timestamp: Option<EpochMillis>, _limit: usize) {
        self.events += 1;
        self.pending.add_unparsed(timestamp, crate::ingest::decode::OVERSIZED_LINE);
    }

    fn end_batch(&mut self, batch: &BatchInfo) {
        let done = std::mem::replace(&mut self.pending, Tally::new(self.bucket_minutes));
        if batch.kind == BatchKind::Control {
            self.control_messages += 1;
            return;
        }
        let group = batch.log_group.clone().unwrap_or_default();
        match self.by_log_group.get_mut(&group) {
            Some(t) => t.merge(done),
            None => {
                self.by_log_group.insert(group, done.finish());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_batches_count_nothing_and_groups_stay_apart() {
        let mut a = Analyzer::new(LineParser::Auto, Some(5));
        for (group, kind) in [("a", BatchKind::Data), ("b", BatchKind::Data), ("a", BatchKind::Control)] {
            a.begin_batch();
            a.event(Some(0), r#"{"status":"403"}"#);
            a.end_batch(&BatchInfo { kind, log_group: Some(group.into()) });
        }
        assert_eq!(a.control_messages, 1);
        assert_eq!(a.by_log_group["a"].overall.requests(), 1);
        assert_eq!(a.by_log_group["b"].overall.get(403), 1);
        assert_eq!(a.merged().overall.requests(), 2);
    }
}
