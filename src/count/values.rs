//! Counts of one field's values (routes, methods, response types, consumers), bounded in memory and
//! exact under any merge order: the evidence behind a finding and the Consumers line.

use std::collections::HashMap;

/// Distinct values kept per field and status; past this, values fold into [`OTHER_VALUES`] so that a
/// format that logs raw paths cannot grow memory without bound.
pub const MAX_DISTINCT_VALUES: usize = 1000;
/// The bucket that values past [`MAX_DISTINCT_VALUES`] fold into.
pub const OTHER_VALUES: &str = "(other)";
/// Counts of one field's values, bounded by [`MAX_DISTINCT_VALUES`]: the values kept are those with
/// the smallest [`value_rank`], whatever order they arrive in, and the rest add up in [`OTHER_VALUES`].
/// So every kept count is exact and merging partial counts (files read on other threads) in any
/// order gives what one pass over all the lines gives. (Keeping the first values seen would depend
/// on the order: a value another part folded could not be put back.)
#[derive(Debug, Clone, Default)]
pub struct ValueCounts {
    /// The kept values: the `MAX_DISTINCT_VALUES` smallest by rank of all values seen.
    kept: HashMap<Box<str>, u64>,
    /// Occurrences of every value not kept.
    other: u64,
    /// The largest rank among `kept` while it is full (`None`: not computed since the last change).
    largest: Option<(u64, Box<str>)>,
}

/// The order in which values are kept: a fixed hash (FNV-1a), then the value, so it is the same in
/// every run and on every thread.
pub fn value_rank(value: &str) -> (u64, &str) {
    let hash = value.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    (hash, value)
}

impl PartialEq for ValueCounts {
    fn eq(&self, other: &Self) -> bool {
        self.kept == other.kept && self.other == other.other
    }
}

impl Eq for ValueCounts {}

/// Longest value kept, in characters: longer ones are cut (and end in `…`), so that a route of
/// 60 KB can neither swell memory nor an alert.
pub const MAX_VALUE_CHARS: usize = 200;

/// A value as kept: at most [`MAX_VALUE_CHARS`] characters, control characters escaped (a value
/// stays on one line wherever it is shown).
fn kept_value(value: &str) -> std::borrow::Cow<'_, str> {
    if value.len() <= MAX_VALUE_CHARS && !value.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(value);
    }
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == MAX_VALUE_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

impl ValueCounts {
    pub(crate) fn add(&mut self, value: &str, n: u64) {
        let value = &*kept_value(value);
        if let Some(c) = self.kept.get_mut(value) {
            *c += n;
            return;
        }
        if self.kept.len() < MAX_DISTINCT_VALUES {
            self.kept.insert(value.into(), n);
            self.largest = None;
            return;
        }
        let largest = self.largest.get_or_insert_with(|| {
            let (h, v) = self.kept.keys().map(|k| value_rank(k)).max().unwrap_or((u64::MAX, ""));
            (h, v.into())
        });
        if value_rank(value) < (largest.0, &*largest.1) {
            let evicted = self.kept.remove(&largest.1).unwrap_or(0);
            self.other += evicted;
            self.kept.insert(value.into(), n);
            self.largest = None;
        } else {
            self.other += n;
        }
    }

    pub(crate) fn merge(&mut self, other: &ValueCounts) {
        for (v, n) in &other.kept {
            self.add(v, *n);
        }
        self.other += other.other;
    }

    /// The `k` most frequent values, by count then value ([`OTHER_VALUES`] among them).
    pub fn top(&self, k: usize) -> Vec<(&str, u64)> {
        let mut v: Vec<_> = self.kept.iter().map(|(s, n)| (&**s, *n)).collect();
        if self.other > 0 {
            v.push((OTHER_VALUES, self.other));
        }
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.truncate(k);
        v
    }

    /// Count of one value ([`OTHER_VALUES`]: of all values not kept).
    pub fn get(&self, value: &str) -> u64 {
        match self.kept.get(value) {
            Some(n) => *n,
            None if value == OTHER_VALUES => self.other,
            None => 0,
        }
    }

    /// Sum of all counts.
    pub fn total(&self) -> u64 {
        self.kept.values().sum::<u64>() + self.other
    }

    /// True when nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty() && self.other == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        /// Past the cap, parts counted apart and merged in any order keep the same values with the
        /// same counts as one pass over everything.
        #[test]
        fn value_counts_merge_in_any_order_equals_one_pass(
            values in proptest::collection::vec(0u32..3000, 0..4000),
            cuts in proptest::collection::vec(0usize..4000, 0..6),
            order_seed: u64,
        ) {
            let mut one = ValueCounts::default();
            for v in &values {
                one.add(&v.to_string(), 1);
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(values.len())).collect();
            cuts.extend([0, values.len()]);
            cuts.sort_unstable();
            let mut parts: Vec<ValueCounts> = cuts
                .windows(2)
                .map(|w| {
                    let mut p = ValueCounts::default();
                    for v in &values[w[0]..w[1]] {
                        p.add(&v.to_string(), 1);
                    }
                    p
                })
                .collect();
            let mut merged = ValueCounts::default();
            let mut seed = order_seed;
            while !parts.is_empty() {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                merged.merge(&parts.swap_remove((seed >> 33) as usize % parts.len()));
            }
            proptest::prop_assert_eq!(merged.top(usize::MAX), one.top(usize::MAX));
        }
    }

    #[test]
    fn long_values_are_cut_and_control_characters_escaped() {
        let mut v = ValueCounts::default();
        v.add(&"r".repeat(60_000), 1);
        v.add("/a\nb", 1);
        let top = v.top(2);
        assert!(top.iter().any(|(s, _)| s.chars().count() == MAX_VALUE_CHARS + 1 && s.ends_with('…')));
        assert_eq!(v.get("/a\\nb"), 1);
    }

    #[test]
    fn distinct_values_are_bounded() {
        let mut v = ValueCounts::default();
        for i in 0..MAX_DISTINCT_VALUES + 50 {
            v.add(&format!("/raw/{i}"), 1);
        }
        assert_eq!(v.kept.len(), MAX_DISTINCT_VALUES);
        assert_eq!(v.get(OTHER_VALUES), 50);
        assert_eq!(v.total(), (MAX_DISTINCT_VALUES + 50) as u64);
    }
}
