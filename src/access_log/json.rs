//! JSON access-log lines, read with a lenient scanner: templates leave values unquoted (`"status": 403`)
//! or empty (`"status": -`), so the line need not be valid JSON. Nested objects are walked so that
//! `"error": {"responseType": …}` is found, while a nested `status` (e.g. `integration.status`) is not
//! taken for the response status.

use super::{record, AccessRecord, RawFields};
use crate::base::fields::{nested_field, top_level_field};

/// Deeper than any access-log template nests: refuse rather than recurse without bound.
const MAX_DEPTH: u8 = 8;

pub(super) fn parse(line: &str) -> Option<AccessRecord<'_>> {
    let mut f = RawFields::default();
    Scanner::new(line).object(0, None, &mut f)?;
    record(f)
}

/// What a scan of a JSON object reports: each scalar value (a string's raw contents, or a bare
/// value trimmed) under its key, with its depth (0 for the object's own keys) and its parent's key.
/// Values inside arrays are not reported.
pub(super) trait Visit<'a> {
    /// One scalar value.
    fn scalar(&mut self, depth: u8, parent: Option<&str>, key: &'a str, value: &'a str);
}

/// The line parser's visitor: the fields we read ([`keep`]).
impl<'a> Visit<'a> for RawFields<'a> {
    #[inline]
    fn scalar(&mut self, depth: u8, parent: Option<&str>, key: &'a str, value: &'a str) {
        keep(depth, parent, key, value, self);
    }
}

/// Reports nothing: what arrays hold.
struct Ignore;

impl Visit<'_> for Ignore {
    fn scalar(&mut self, _: u8, _: Option<&str>, _: &str, _: &str) {}
}

/// Scans the object `text` holds (white space around it aside) with the same lenient reading as the
/// line parser, reporting its scalars to `v`; false when `text` is not one such object.
pub(super) fn scan_whole<'a>(text: &'a str, v: &mut impl Visit<'a>) -> bool {
    let mut s = Scanner::new(text);
    s.object(0, None, v).is_some() && {
        s.ws();
        s.i == text.len()
    }
}

/// A JSON line still in its escaped form inside a log event's `message` string (`{\"status\":\"403\"}`),
/// read without unescaping it first: the same record as [`parse`] gives for the unescaped line, or
/// `None`. `None` whenever the two could differ, and the caller then unescapes and parses: the text
/// must be one object (white space before it aside) up to its last byte, and its only escapes the
/// `\"` that delimit its strings (any other backslash, a bare `"` or an array, and it is refused).
/// Unescaping such a text only turns each `\"` into `"`, so both scanners see the same tokens and
/// the same values.
pub(super) fn parse_escaped(raw: &str) -> Option<AccessRecord<'_>> {
    let mut f = RawFields::default();
    let mut s = Escaped { b: raw.as_bytes(), s: raw, i: 0, quotes: Specials::new(raw.as_bytes()) };
    s.ws();
    if s.b.get(s.i) != Some(&b'{') {
        return None;
    }
    s.object(0, None, &mut f)?;
    if s.i != raw.len() {
        return None;
    }
    record(f)
}

/// Scans a line.
struct Scanner<'a> {
    b: &'a [u8],
    s: &'a str,
    i: usize,
}

/// Skips ASCII whitespace from `i`.
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// An unquoted value from `start`: everything up to the next `,`, `}` or `]`, trimmed; and where it ends.
fn bare_value<'a>(b: &[u8], s: &'a str, start: usize) -> Option<(&'a str, usize)> {
    let len = b.get(start..)?.iter().position(|c| matches!(c, b',' | b'}' | b']')).unwrap_or(b.len() - start);
    Some((s.get(start..start + len)?.trim(), start + len))
}

impl<'a> Scanner<'a> {
    fn new(line: &'a str) -> Self {
        Scanner { b: line.as_bytes(), s: line, i: 0 }
    }

    fn ws(&mut self) {
        self.i = skip_ws(self.b, self.i);
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// A quoted string's raw contents (escapes left as they are: the values we keep never need them).
    #[inline]
    fn string(&mut self) -> Option<&'a str> {
        let start = self.i + 1;
        let mut j = start;
        loop {
            let k = j + crate::ingest::decode::find_quote_or_backslash(self.b.get(j..)?)?;
            if self.b[k] == b'\\' {
                j = k + 2;
            } else {
                self.i = k + 1;
                return self.s.get(start..k);
            }
        }
    }

    fn array(&mut self, depth: u8) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        if self.eat(b']') {
            return Some(());
        }
        loop {
            self.value(depth, None, None, &mut Ignore)?;
            if self.eat(b']') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// One value; scalars under a known key are recorded in `f`.
    fn value(&mut self, depth: u8, parent: Option<&str>, key: Option<&'a str>, f: &mut impl Visit<'a>) -> Option<()> {
        self.ws();
        let v = match self.b.get(self.i)? {
            b'"' => self.string()?,
            b'{' => return self.object(depth + 1, key, f),
            b'[' => return self.array(depth + 1),
            _ => {
                let (v, end) = bare_value(self.b, self.s, self.i)?;
                self.i = end;
                v
            }
        };
        if let Some(k) = key {
            f.scalar(depth, parent, k, v);
        }
        Some(())
    }

    fn object(&mut self, depth: u8, parent: Option<&str>, f: &mut impl Visit<'a>) -> Option<()> {
        if depth > MAX_DEPTH || !self.eat(b'{') {
            return None;
        }
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            self.ws();
            if self.b.get(self.i) != Some(&b'"') {
                return None;
            }
            let key = self.string()?;
            if !self.eat(b':') {
                return None;
            }
            self.value(depth, parent, Some(key), f)?;
            if self.eat(b'}') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }
}

/// Scans a line as it lies inside a JSON string, where each of its quotes is `\"`: every backslash
/// or quote found inside a string must be the `\"` that closes it, and [`Specials`] finds them
/// all in one pass of the line, a block at a time.
struct Escaped<'a> {
    b: &'a [u8],
    s: &'a str,
    i: usize,
    quotes: Specials<'a>,
}

impl<'a> Escaped<'a> {
    fn ws(&mut self) {
        self.i = skip_ws(self.b, self.i);
    }

    /// At `\"`: the string's contents, up to the next backslash or quote, which must be its closing `\"`.
    #[inline(always)]
    fn string(&mut self) -> Option<&'a str> {
        if self.b.get(self.i..self.i + 2) != Some(b"\\\"") {
            return None;
        }
        let start = self.i + 2;
        let end = self.quotes.next_from(start)?;
        if self.b.get(end..end + 2) != Some(b"\\\"") {
            return None;
        }
        self.i = end + 2;
        self.s.get(start..end)
    }

    /// At `{`: the object, as [`Scanner::object`] reads it (arrays are refused).
    fn object(&mut self, depth: u8, parent: Option<&str>, f: &mut RawFields<'a>) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.ws();
            if self.b.get(self.i) != Some(&b':') {
                return None;
            }
            self.i = skip_ws(self.b, self.i + 1);
            match self.b.get(self.i)? {
                b'\\' => {
                    let v = self.string()?;
                    keep(depth, parent, key, v, f);
                }
                b'{' => self.object(depth + 1, Some(key), f)?,
                b'[' => return None,
                _ => {
                    let (v, end) = bare_value(self.b, self.s, self.i)?;
                    // A backslash here would be an escape that unescaping changes; a quote, bare.
                    if self.quotes.next_from(self.i).is_some_and(|k| k < end) {
                        return None;
                    }
                    self.i = end;
                    keep(depth, parent, key, v, f);
                }
            }
            self.ws();
            match self.b.get(self.i)? {
                b',' => self.i = skip_ws(self.b, self.i + 1),
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// The backslashes and quotes of a text in order, found 64 bytes at a time as a bit mask: the
/// string scanning of [`Escaped`] costs a few instructions per block of the line, not a search
/// per string (most strings are a few bytes, shorter than a search takes to set up).
struct Specials<'a> {
    b: &'a [u8],
    /// Where the current block starts (a multiple of [`BLOCK`]).
    base: usize,
    /// The specials of the current block: bit `j` for byte `base + j`.
    mask: u64,
}

/// Bytes per mask of [`Specials`].
const BLOCK: usize = 64;

impl<'a> Specials<'a> {
    fn new(b: &'a [u8]) -> Self {
        Specials { b, base: 0, mask: block_specials(b, 0) }
    }

    /// The first backslash or quote at `i` or after.
    #[inline(always)]
    fn next_from(&mut self, i: usize) -> Option<usize> {
        if i < self.base || i >= self.base + BLOCK {
            self.base = i - i % BLOCK;
            self.mask = block_specials(self.b, self.base);
        }
        let mut ahead = self.mask & (u64::MAX << (i - self.base));
        loop {
            if ahead != 0 {
                return Some(self.base + ahead.trailing_zeros() as usize);
            }
            self.base += BLOCK;
            if self.base >= self.b.len() {
                self.mask = 0;
                return None;
            }
            self.mask = block_specials(self.b, self.base);
            ahead = self.mask;
        }
    }
}

/// Bit `j` set where byte `at + j` of `b` is a backslash or a quote (past the end: not).
#[inline(never)]
fn block_specials(b: &[u8], at: usize) -> u64 {
    match b.get(at..at + BLOCK).and_then(|full| <&[u8; BLOCK]>::try_from(full).ok()) {
        Some(full) => gather_specials(full),
        None => {
            let mut block = [0u8; BLOCK];
            let tail = b.get(at..).unwrap_or_default();
            let n = tail.len().min(BLOCK);
            block[..n].copy_from_slice(&tail[..n]);
            gather_specials(&block)
        }
    }
}

/// [`block_specials`] of one whole block: SSE2 compares 16 bytes at once.
#[cfg(target_arch = "x86_64")]
fn gather_specials(block: &[u8; BLOCK]) -> u64 {
    // SAFETY: SSE2 is part of the x86-64 baseline: every CPU this code is built for has it.
    unsafe { gather_sse2(block) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn gather_sse2(block: &[u8; BLOCK]) -> u64 {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_set_epi64x};
    let (backslash, quote) = (_mm_set1_epi8(b'\\' as i8), _mm_set1_epi8(b'"' as i8));
    let mut m = 0;
    for (k, lane) in block.as_chunks::<16>().0.iter().enumerate() {
        let (lo, hi) = lane.split_at(8);
        let word = |h: &[u8]| h.try_into().map(i64::from_le_bytes).unwrap_or_default();
        let v = _mm_set_epi64x(word(hi), word(lo));
        let hits = _mm_or_si128(_mm_cmpeq_epi8(v, backslash), _mm_cmpeq_epi8(v, quote));
        m |= u64::from(_mm_movemask_epi8(hits) as u16) << (16 * k);
    }
    m
}

#[cfg(not(target_arch = "x86_64"))]
use gather_swar as gather_specials;

/// [`block_specials`] of one whole block, eight bytes at a time in plain code (the arm64 Lambda
/// runs this): an exact per-byte zero test (no borrow crosses bytes), each word's high bits
/// gathered into one byte by a multiply.
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
fn gather_swar(block: &[u8; BLOCK]) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let zero = |x: u64| !(((x & LOW7) + LOW7) | x | LOW7);
    let mut m = 0;
    for (k, w) in block.as_chunks::<8>().0.iter().enumerate() {
        let w = u64::from_le_bytes(*w);
        let high = zero(w ^ (ONES * u64::from(b'\\'))) | zero(w ^ (ONES * u64::from(b'"')));
        m |= ((high >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
    }
    m
}

/// Records `v` under `key` when the key names a field we read (the first occurrence wins).
fn keep<'a>(depth: u8, parent: Option<&str>, key: &str, v: &'a str, f: &mut RawFields<'a>) {
    let field = match (depth, parent) {
        (0, _) => top_level_field(key),
        (_, Some(parent)) => nested_field(parent, key),
        (_, None) => None,
    };
    if let Some(slot) = field.and_then(|field| f.slot(field)) {
        if slot.is_none() {
            *slot = Some(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{gather_specials, gather_swar, parse, Specials, BLOCK};
    use crate::base::fields::{ROUTE_KEYS, SOURCE_IP_KEYS, STATUS_KEYS};
    use proptest::prelude::*;

    /// Every name of a list fills its field at the top level; nested, only under its own parent.
    #[test]
    fn each_key_name_fills_its_field() {
        for k in STATUS_KEYS {
            assert_eq!(parse(&format!(r#"{{"{k}":"403"}}"#)).map(|r| r.status), Some(403), "{k}");
        }
        for k in ROUTE_KEYS {
            let line = format!(r#"{{"status":"403","{k}":"/a"}}"#);
            assert_eq!(parse(&line).and_then(|r| r.route), Some("/a"), "{k}");
        }
        for k in SOURCE_IP_KEYS {
            let line = format!(r#"{{"status":"403","{k}":"1.2.3.4"}}"#);
            assert_eq!(parse(&line).and_then(|r| r.origin.source_ip), Some("1.2.3.4"), "{k}");
        }
        let nested = |line: &str| {
            parse(line).map(|r| {
                format!("{} {:?} {:?} {:?}", r.status, r.response_type, r.origin.source_ip, r.origin.principal)
            })
        };
        assert_eq!(
            nested(
                r#"{"integration":{"status":"500"},"status":"403","error":{"responseType":"DENIED"},"identity":{"sourceIp":"1.2.3.4"},"authorizer":{"principalId":"u1"}}"#
            ),
            Some(r#"403 Some("DENIED") Some("1.2.3.4") Some("u1")"#.to_string())
        );
        assert_eq!(
            nested(
                r#"{"status":"403","other":{"responseType":"DENIED","sourceIp":"1.2.3.4","principalId":"u1"},"identity":{"ip":"5.6.7.8"}}"#
            ),
            Some("403 None None None".to_string())
        );
    }

    proptest! {
        /// Both gatherers (SSE2 on x86-64, plain code elsewhere) mark exactly the backslashes and quotes.
        #[test]
        fn a_block_marks_its_backslashes_and_quotes(block in prop::collection::vec(prop::sample::select(vec![b'\\', b'"', b'a', 0x5d, 0xdc, 0xa2, 0, 0x7f]), BLOCK)) {
            let block: [u8; BLOCK] = block.try_into().unwrap_or([0; BLOCK]);
            let want = block.iter().enumerate().fold(0u64, |m, (j, &c)| m | u64::from(c == b'\\' || c == b'"') << j);
            prop_assert_eq!(gather_swar(&block), want);
            prop_assert_eq!(gather_specials(&block), want);
        }

        /// Asked from any position, in any order, the first backslash or quote at or after it.
        #[test]
        fn the_next_special_is_the_first_at_or_after(text in r#"[a\\"]{0,300}"#, at in prop::collection::vec(0usize..320, 1..20)) {
            let mut specials = Specials::new(text.as_bytes());
            for i in at {
                let want = text.bytes().enumerate().skip(i).find(|&(_, c)| c == b'\\' || c == b'"').map(|(k, _)| k);
                prop_assert_eq!(specials.next_from(i), want, "from {}", i);
            }
        }
    }
}
