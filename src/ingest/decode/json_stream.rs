//! A chunked JSON reader: finds where each value ends (memchr over strings, resumable across chunk
//! edges) so that the caller can parse complete values with serde_json's fast slice parser, while
//! only the value in hand is buffered. Values it is told to skip are not validated, only delimited,
//! and streamed past without being buffered. A value that must be held has a length cap, so the
//! buffer never grows past the cap plus a chunk.

use std::io::{self, Read};
use std::ops::Range;

const CHUNK: usize = 64 * 1024;
/// Longest object key held.
const MAX_KEY: usize = 64 * 1024;

/// Where and why the JSON is broken.
#[derive(Debug)]
pub(super) enum StreamError {
    /// Reading failed.
    Io(io::Error),
    /// Not JSON at this byte offset.
    Syntax(String),
    /// A value that must be held is longer than its cap.
    TooLong {
        /// The cap, in bytes.
        limit: usize,
    },
}

impl From<io::Error> for StreamError {
    fn from(e: io::Error) -> Self {
        StreamError::Io(e)
    }
}

pub(super) struct JsonStream<R> {
    reader: R,
    /// Always initialized to its length; `filled` marks the end of the data. Grows only while a
    /// held value (at most its cap) fills it, so its length stays below the largest cap plus two
    /// chunks.
    buf: Vec<u8>,
    filled: usize,
    pos: usize,
    /// A range the caller still needs (a message unescaped in place): compaction keeps it.
    pinned: Option<Range<usize>>,
    /// Bytes drained from the front of `buf` so far: offsets in errors are absolute.
    drained: u64,
    eof: bool,
}

impl<R: Read> JsonStream<R> {
    pub(super) fn new(reader: R) -> Self {
        JsonStream { reader, buf: vec![0; CHUNK], filled: 0, pos: 0, pinned: None, drained: 0, eof: false }
    }

    /// A stream over bytes already in memory (an inflated payload): parsed where they lie, no copy.
    pub(super) fn whole(bytes: Vec<u8>, reader: R) -> Self {
        JsonStream { reader, filled: bytes.len(), buf: bytes, pos: 0, pinned: None, drained: 0, eof: true }
    }

    /// Reads more, first moving the unconsumed bytes (and the pinned range, if any) to the front,
    /// or growing the buffer when a single held value fills it. Returns false at end of input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.buf.len() - self.filled < CHUNK / 2 {
            match self.pinned.clone() {
                // A pinned message before the value in hand: keep it, drop what lies between
                // (a field being skipped), so that skipping never grows the buffer.
                Some(p) if p.end <= self.pos && p.len() < self.pos => {
                    let len = p.len();
                    self.buf.copy_within(p, 0);
                    self.buf.copy_within(self.pos..self.filled, len);
                    self.drained += (self.pos - len) as u64;
                    self.filled = len + self.filled - self.pos;
                    self.pos = len;
                    self.pinned = Some(0..len);
                }
                _ => {
                    let keep = self.pinned.as_ref().map_or(self.pos, |p| p.start.min(self.pos));
                    if keep > 0 {
                        self.buf.copy_within(keep..self.filled, 0);
                        self.filled -= keep;
                        self.drained += keep as u64;
                        self.pos -= keep;
                        self.pinned = self.pinned.take().map(|p| p.start - keep..p.end - keep);
                    }
                }
            }
        }
        if self.buf.len() - self.filled < CHUNK / 2 {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = loop {
            match self.reader.read(&mut self.buf[self.filled..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.filled += n;
        self.eof = n == 0;
        Ok(n > 0)
    }

    pub(super) fn syntax(&self, what: &str) -> StreamError {
        StreamError::Syntax(format!("{what} at byte {}", self.drained + self.pos as u64))
    }

    /// The next byte that is not white space, without consuming it (`None` at end of input).
    pub(super) fn peek(&mut self) -> Result<Option<u8>, StreamError> {
        loop {
            while let Some(b) = self.buf[..self.filled].get(self.pos) {
                if !b.is_ascii_whitespace() {
                    return Ok(Some(*b));
                }
                self.pos += 1;
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// Consumes `byte` (after white space) or fails naming it.
    pub(super) fn expect(&mut self, byte: u8) -> Result<(), StreamError> {
        match self.peek()? {
            Some(b) if b == byte => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(self.syntax(&format!("expected '{}'", byte as char))),
            None => Err(self.syntax(&format!("unexpected end of input, expected '{}'", byte as char))),
        }
    }

    /// After an element of an array or object: true if another follows (`,`), false at `close`.
    pub(super) fn more(&mut self, close: u8) -> Result<bool, StreamError> {
        match self.peek()? {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            Some(_) => Err(self.syntax(&format!("expected ',' or '{}'", close as char))),
            None => Err(self.syntax(&format!("unexpected end of input, expected ',' or '{}'", close as char))),
        }
    }

    /// Consumes `close` if it comes next (an empty array or object).
    pub(super) fn empty(&mut self, close: u8) -> Result<bool, StreamError> {
        if self.peek()? == Some(close) {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// Delimits the next value and consumes it; the range indexes `self.bytes()` until the next call.
    /// A value longer than `limit` bytes is an error (it would have to be held whole).
    pub(super) fn value(&mut self, limit: usize) -> Result<Range<usize>, StreamError> {
        let Some(first) = self.peek()? else { return Err(self.syntax("unexpected end of input")) };
        let (mut i, mut depth, mut in_string) = (1usize, 0u32, first == b'"');
        if matches!(first, b'{' | b'[') {
            depth = 1;
        }
        let scalar = !in_string && depth == 0;
        loop {
            let start = self.pos;
            let hay = &self.buf[start..self.filled];
            let found = if in_string {
                find_quote_or_backslash(&hay[i.min(hay.len())..]).map(|k| i + k)
            } else if scalar {
                hay[i.min(hay.len())..]
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())
                    .map(|k| i + k)
            } else {
                // Between strings inside a container: short runs (`,"timestamp":123,`), a plain loop.
                hay[i.min(hay.len())..]
                    .iter()
                    .position(|b| matches!(b, b'"' | b'{' | b'}' | b'[' | b']'))
                    .map(|k| i + k)
            };
            let Some(k) = found else {
                i = hay.len();
                if i > limit {
                    return Err(StreamError::TooLong { limit });
                }
                if !self.fill()? {
                    if scalar && i > 0 {
                        self.pos = start + i;
                        return Ok(start..start + i);
                    }
                    return Err(self.syntax("unexpected end of input inside a value"));
                }
                continue;
            };
            if scalar {
                self.pos = start + k;
                return Ok(start..start + k);
            }
            match (in_string, hay[k]) {
                (true, b'\\') => {
                    // Skip the escaped byte, which may lie in the next chunk.
                    i = k + 2;
                    if i > hay.len() && !self.fill()? {
                        return Err(self.syntax("unexpected end of input inside a string"));
                    }
                    continue;
                }
                (true, _) => {
                    in_string = false;
                    if depth == 0 {
                        self.pos = start + k + 1;
                        return Ok(start..start + k + 1);
                    }
                }
                (false, b'"') => in_string = true,
                (false, b'{' | b'[') => depth += 1,
                (false, _) => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos = start + k + 1;
                        return Ok(start..start + k + 1);
                    }
                }
            }
            i = k + 1;
        }
    }

    /// Reads an object key and the `:` after it; returns the index of the key in `names`, if listed,
    /// and the key's raw text when `want_name` (for error messages). Keys are compared as raw
    /// bytes: the keys we act on have no escapes.
    pub(super) fn key(
        &mut self,
        names: &[&[u8]],
        want_name: bool,
    ) -> Result<(Option<usize>, Option<String>), StreamError> {
        if self.peek()? != Some(b'"') {
            return Err(self.syntax("expected an object key"));
        }
        let r = self.value(MAX_KEY)?;
        let raw = &self.buf[r.start + 1..r.end - 1];
        let found = names.iter().position(|n| *n == raw);
        let name = want_name.then(|| String::from_utf8_lossy(raw).into_owned());
        self.expect(b':')?;
        Ok((found, name))
    }

    /// Consumes the next value without holding it: bytes are dropped as they are scanned, so a
    /// value of any length costs no memory.
    pub(super) fn skip(&mut self) -> Result<(), StreamError> {
        let Some(first) = self.peek()? else { return Err(self.syntax("unexpected end of input")) };
        match first {
            b'"' | b'{' | b'[' => {
                self.pos += 1;
                self.skip_rest(first == b'"', u32::from(first != b'"'))
            }
            _ => loop {
                let hay = &self.buf[self.pos..self.filled];
                if let Some(k) = hay.iter().position(|b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace()) {
                    self.pos += k;
                    return Ok(());
                }
                self.pos = self.filled;
                if !self.fill()? {
                    return Ok(());
                }
            },
        }
    }

    /// Skips to the end of a value begun before `pos`, `depth` containers deep, inside a string or not.
    fn skip_rest(&mut self, mut in_string: bool, mut depth: u32) -> Result<(), StreamError> {
        let mut escaped = false;
        loop {
            while self.pos < self.filled {
                if escaped {
                    escaped = false;
                    self.pos += 1;
                    continue;
                }
                let hay = &self.buf[self.pos..self.filled];
                let found = if in_string {
                    memchr::memchr2(b'"', b'\\', hay)
                } else {
                    hay.iter().position(|b| matches!(b, b'"' | b'{' | b'}' | b'[' | b']'))
                };
                let Some(k) = found else {
                    self.pos = self.filled;
                    break;
                };
                self.pos += k + 1;
                match (in_string, hay[k]) {
                    (true, b'\\') => escaped = true,
                    (true, _) => {
                        in_string = false;
                        if depth == 0 {
                            return Ok(());
                        }
                    }
                    (false, b'"') => in_string = true,
                    (false, b'{' | b'[') => depth += 1,
                    (false, _) => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(());
                        }
                    }
                }
            }
            if !self.fill()? {
                return Err(self.syntax("unexpected end of input inside a value"));
            }
        }
    }

    /// Reads a string value and unescapes it in place (the unescaped text is never longer): the
    /// range indexes `self.bytes()` until the next call. One pass, eight bytes at a time between
    /// escapes, no copy when the string has none. A string longer than `limit` bytes is streamed
    /// past, never held: `None`.
    pub(super) fn string(&mut self, limit: usize) -> Result<Option<Range<usize>>, StreamError> {
        self.expect(b'"')?;
        // `pos` stays at the string's start while scanning, so compaction keeps it; `w` and `r`
        // (write and read offsets from the start) satisfy w <= r.
        let (mut w, mut r) = (0usize, 0usize);
        loop {
            let start = self.pos;
            let end = self.filled - start;
            let buf = &mut self.buf[start..self.filled];
            if w == r {
                // No escape so far, nothing to move: jump to the next quote or backslash (SIMD).
                let j = memchr::memchr2(b'"', b'\\', &buf[r..end]).unwrap_or(end - r);
                r += j;
                w += j;
            }
            while r + 8 <= end {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&buf[r..r + 8]);
                let word = u64::from_le_bytes(bytes);
                let hit = special(word);
                if hit != 0 {
                    let j = (hit.trailing_zeros() / 8) as usize;
                    if r - w >= 8 {
                        // The whole word fits in the gap: one store (bytes past `j` are rewritten later).
                        buf[w..w + 8].copy_from_slice(&bytes);
                    } else if w != r {
                        // Fewer than eight bytes: a plain loop, not a call to memmove.
                        for (t, b) in bytes[..j].iter().enumerate() {
                            buf[w + t] = *b;
                        }
                    }
                    r += j;
                    w += j;
                    // The usual escapes (`\"`, `\\`, `\/`) inline; the rest below.
                    if buf[r] == b'\\' && r + 1 < end && matches!(buf[r + 1], b'"' | b'\\' | b'/') {
                        buf[w] = buf[r + 1];
                        r += 2;
                        w += 1;
                        continue;
                    }
                    break;
                }
                if w != r {
                    buf[w..w + 8].copy_from_slice(&bytes);
                }
                r += 8;
                w += 8;
            }
            while r < end && !matches!(buf[r], b'"' | b'\\') {
                buf[w] = buf[r];
                r += 1;
                w += 1;
            }
            if r < end && buf[r] == b'"' {
                self.pos = start + r + 1;
                return Ok((w <= limit).then_some(start..start + w));
            }
            // A backslash needs its whole escape in view (`\uXXXX\uXXXX` at most); the end of the
            // buffer needs more input. Either way: close the gap, read on.
            if r < end && (end - r >= 12 || self.eof) {
                let (read, written) = unescape(&mut buf[..end], r, w).map_err(|what| self.syntax(what))?;
                r += read;
                w += written;
                continue;
            }
            buf.copy_within(r..end, w);
            self.filled = start + w + (end - r);
            r = w;
            if w > limit {
                self.pos = start + r;
                self.skip_rest(true, 0)?;
                return Ok(None);
            }
            if !self.fill()? && r >= self.filled - self.pos {
                return Err(self.syntax("unexpected end of input inside a string"));
            }
        }
    }

    /// Where the string at `pos` ends, when it holds a JSON line (`{…}`) and is the last value of its
    /// object, all in the buffer already: the range of its raw text (escapes left in place), `}"`
    /// its last bytes, an object's `}` after them. Nothing is consumed, nothing read
    /// ([`Self::consume_to`] does). `None` says only "not found so": the string may still be one, and
    /// is read with [`Self::string`]; the range is a candidate the caller must check: its first `}"`
    /// is not always the string's end (a bare `"` earlier would be), so a reader of the range must
    /// refuse a bare `"`. The `"` after a `}` is never escaped.
    pub(super) fn last_json_string(&self, limit: usize) -> Option<Range<usize>> {
        let hay = &self.buf[self.pos..self.filled];
        if hay.get(..2) != Some(b"\"{") {
            return None;
        }
        // At most `limit` bytes of raw text between the quotes (never more unescaped: the cap holds).
        let window = &hay[..hay.len().min(limit + 2)];
        // A `}` followed by `"`; memchr rather than memmem, whose searcher costs more to build than
        // one message takes to scan.
        let close = memchr::memchr_iter(b'}', window).find(|&k| window.get(k + 1) == Some(&b'"'))?;
        let after = hay[close + 2..].iter().find(|b| !b.is_ascii_whitespace())?;
        (*after == b'}').then(|| self.pos + 1..self.pos + close + 1)
    }

    /// Consumes the buffered bytes up to `end` (an index into [`Self::bytes`], at or after `pos`).
    pub(super) fn consume_to(&mut self, end: usize) {
        debug_assert!(end >= self.pos && end <= self.filled);
        self.pos = end;
    }

    /// Keeps `range` (from [`Self::string`]) readable through later reads, until [`Self::unpin`].
    pub(super) fn pin(&mut self, range: Range<usize>) {
        self.pinned = Some(range);
    }

    /// The pinned bytes, if any.
    pub(super) fn pinned(&self) -> Option<&[u8]> {
        self.pinned.as_ref().map(|r| &self.buf[r.clone()])
    }

    /// Releases the pinned range.
    pub(super) fn unpin(&mut self) {
        self.pinned = None;
    }

    /// The buffer's size: what it holds at most.
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// The buffered bytes (index with a range from [`Self::value`]).
    pub(super) fn bytes(&self) -> &[u8] {
        &self.buf[..self.filled]
    }
}

/// The first `"` or `\\` in `b`, eight bytes at a time in plain code. Most strings are short (keys,
/// ids, paths; a log line's values): this beats setting up a SIMD search (memchr) for each.
pub(crate) fn find_quote_or_backslash(b: &[u8]) -> Option<usize> {
    let mut chunks = b.chunks_exact(8);
    let mut at = 0;
    for c in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(c);
        let hit = special(u64::from_le_bytes(bytes));
        if hit != 0 {
            return Some(at + (hit.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks.remainder().iter().position(|c| matches!(c, b'"' | b'\\')).map(|k| at + k)
}

/// Bytes of `word` that are `"` or `\`: the lowest set high bit marks the first (exact; higher bits
/// may be false positives, which the caller never uses).
fn special(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    zero(word ^ (ONES * u64::from(b'"'))) | zero(word ^ (ONES * u64::from(b'\\')))
}

/// Decodes the escape at `buf[r]` (a backslash) into `buf[w..]`; returns (bytes read, bytes written).
fn unescape(buf: &mut [u8], r: usize, w: usize) -> Result<(usize, usize), &'static str> {
    const EOF: &str = "unexpected end of input inside a string";
    let hex4 = |buf: &[u8], at: usize| -> Result<u32, &'static str> {
        let digits = buf.get(at..at + 4).ok_or(EOF)?;
        digits.iter().try_fold(0u32, |v, d| Ok(v * 16 + (*d as char).to_digit(16).ok_or("bad \\u escape")?))
    };
    let (c, read) = match buf.get(r + 1).ok_or(EOF)? {
        b'"' => ('"', 2),
        b'\\' => ('\\', 2),
        b'/' => ('/', 2),
        b'b' => ('\u{8}', 2),
        b'f' => ('\u{c}', 2),
        b'n' => ('\n', 2),
        b'r' => ('\r', 2),
        b't' => ('\t', 2),
        b'u' => {
            let hi = hex4(buf, r + 2)?;
            if (0xD800..0xDC00).contains(&hi) && buf.get(r + 6..r + 8) == Some(b"\\u") {
                let lo = hex4(buf, r + 8)?;
                if (0xDC00..0xE000).contains(&lo) {
                    (char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)).unwrap_or('\u{FFFD}'), 12)
                } else {
                    ('\u{FFFD}', 6)
                }
            } else {
                (char::from_u32(hi).unwrap_or('\u{FFFD}'), 6)
            }
        }
        _ => return Err("bad escape in a string"),
    };
    let mut utf8 = [0; 4];
    let bytes = c.encode_utf8(&mut utf8).as_bytes();
    buf[w..w + bytes.len()].copy_from_slice(bytes);
    Ok((read, bytes.len()))
}
