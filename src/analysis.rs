//! Decoded events into tallies: the [`EventSink`] that parses each line and counts it per log group,
//! dropping control messages (whose events are known to be control only at the end of the batch).

use crate::access_log::LineParser;
use crate::decode::{BatchInfo, BatchKind, EventSink};
use crate::tally::Tally;
use crate::time::EpochMillis;
use std::collections::BTreeMap;

/// Counts decoded events per log group (`""` when the input does not name one).
#[derive(Debug)]
pub struct Analyzer {
    parser: LineParser,
    bucket_minutes: Option<u32>,
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
            parser,
            bucket_minutes,
            pending: Tally::new(bucket_minutes),
            by_log_group: BTreeMap::new(),
            control_messages: 0,
            events: 0,
        }
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
        self.pending = Tally::new(self.bucket_minutes);
    }

    fn event(&mut self, timestamp: Option<EpochMillis>, message: &str) {
        self.events += 1;
        self.pending.add_line(&self.parser, timestamp, message);
    }

    fn oversized(&mut self, timestamp: Option<EpochMillis>, _limit: usize) {
        self.events += 1;
        self.pending.add_unparsed(timestamp, crate::decode::OVERSIZED_LINE);
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
