//! Counts of one field's values (routes, methods, response types, consumers), bounded in memory and
//! exact under any merge order: the evidence behind a finding and the Consumers line. And the one
//! rule by which such a value, which came from a request, is written for people ([`shown`]).

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

/// How words for people are written: what [`shown`] guards a request's value against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    /// Plain text: email, the CLI's report (and whatever a subscriber forwards it to).
    Text,
    /// Chat markdown: Amazon Q Developer's `client-markdown`, rendered in Slack or Microsoft Teams.
    Chat,
}

/// Characters that reorder or hide text without showing themselves: bidi embeddings, overrides,
/// isolates and marks, zero-width spaces and joiners, invisible fillers and operators, variation
/// selectors and tags, and the line and paragraph separators (which end a line as `\n` does).
const HIDDEN: [(char, char); 18] = [
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{2028}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{2800}', '\u{2800}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0000}', '\u{E01EF}'),
];

/// True for a character that [`HIDDEN`] lists.
fn hidden(c: char) -> bool {
    HIDDEN.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c))
}

/// A value that came from a request (a route, method, response type, API key id, principal,
/// caller, user, source IP or user agent), written so that no reader of `markup` finds markup in
/// it: the one rule every such value passes through on its way to people.
///
/// - `&`, `<`, `>` become `&amp;`, `&lt;`, `&gt;`: Slack's escaping, so no `<!channel>`, `<!here>`,
///   `<@U…>` or `<https://…|label>` control sequence survives (and a body forwarded to Slack as is
///   stays inert too);
/// - `` ` `` becomes `\u{60}`, so a value can neither open nor close a code span or fence;
/// - `](` becomes `] (`, so no Markdown link `[label](url)` forms, and `://` becomes `[:]//`, so no
///   mail or chat client turns a URL into a link;
/// - control characters, and characters that reorder or hide text (`HIDDEN`: bidi controls such as
///   U+202E, zero-width characters), become visible escapes (`\n`, `\u{202e}`).
///
/// In [`Markup::Chat`] the result is also one code span, so that neither Slack's mrkdwn nor
/// Markdown reads `*`, `_`, `~`, `:emoji:`, `@here` or a bare host name in it. Everything else is
/// kept, so the value stays recognisable: `<!here>` reads `&lt;!here&gt;`.
pub fn shown(value: &str, markup: Markup) -> String {
    let code = markup == Markup::Chat && value != OTHER_VALUES;
    let mut out = String::with_capacity(value.len() + 2);
    if code {
        out.push('`');
    }
    for (i, c) in value.char_indices() {
        let next = &value[i + c.len_utf8()..];
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.extend(c.escape_unicode()),
            ']' if next.starts_with('(') => out.push_str("] "),
            ':' if next.starts_with("//") => out.push_str("[:]"),
            c if c.is_control() => out.extend(c.escape_default()),
            c if hidden(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    if code {
        out.push('`');
    }
    out
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

    proptest::proptest! {
        /// Whatever a request holds (pieces of markup in any order), what [`shown`] writes has no
        /// markup character left bare: no `<`, `>` or stray `&`, no backtick but the chat code
        /// span's own two, no `](` or `://`, no control or hidden character.
        #[test]
        fn shown_values_hold_no_markup(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "<", ">", "&", "`", "]", "(", ":", "/", "!", "@", "*", "_", "|", "a", " ", "&lt;",
                    "\u{202E}", "\u{2066}", "\u{200B}", "\u{FEFF}", "\u{2028}", "\n", "\u{1b}", "é",
                ]),
                0..40,
            ),
        ) {
            let value = parts.concat();
            for markup in [Markup::Text, Markup::Chat] {
                let out = shown(&value, markup);
                let inner = match markup {
                    Markup::Chat => out.strip_prefix('`').and_then(|o| o.strip_suffix('`')).unwrap_or(&out),
                    Markup::Text => &out,
                };
                let bare = inner.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "");
                proptest::prop_assert!(!bare.contains(['<', '>', '&', '`']), "{:?} -> {:?}", value, out);
                proptest::prop_assert!(!inner.contains("](") && !inner.contains("://"), "{:?} -> {:?}", value, out);
                proptest::prop_assert!(!inner.chars().any(|c| c.is_control() || hidden(c)), "{:?} -> {:?}", value, out);
            }
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
