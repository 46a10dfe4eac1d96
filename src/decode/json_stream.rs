//! A chunked JSON reader: finds where each value ends (memchr over strings, resumable across chunk
//! edges) so that the caller can parse complete values with serde_json's fast slice parser, while
//! only the value in hand is buffered. Values it is told to skip are not validated, only delimited.

use std::io::{self, Read};
use std::ops::Range;

const CHUNK: usize = 64 * 1024;

/// Where and why the JSON is broken.
#[derive(Debug)]
pub(super) enum StreamError {
    /// Reading failed.
    Io(io::Error),
    /// Not JSON at this byte offset.
    Syntax(String),
}

impl From<io::Error> for StreamError {
    fn from(e: io::Error) -> Self {
        StreamError::Io(e)
    }
}

pub(super) struct JsonStream<R> {
    reader: R,
    /// Always initialized to its length; `filled` marks the end of the data.
    buf: Vec<u8>,
    filled: usize,
    pos: usize,
    /// Bytes drained from the front of `buf` so far: offsets in errors are absolute.
    drained: u64,
    eof: bool,
}

impl<R: Read> JsonStream<R> {
    pub(super) fn new(reader: R) -> Self {
        JsonStream { reader, buf: vec![0; CHUNK], filled: 0, pos: 0, drained: 0, eof: false }
    }

    /// Reads more, first moving the unconsumed bytes to the front (or growing the buffer when a
    /// single value fills it). Returns false at end of input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 && self.buf.len() - self.filled < CHUNK / 2 {
            self.buf.copy_within(self.pos..self.filled, 0);
            self.filled -= self.pos;
            self.drained += self.pos as u64;
            self.pos = 0;
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
    pub(super) fn value(&mut self) -> Result<Range<usize>, StreamError> {
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
                memchr::memchr2(b'"', b'\\', &hay[i.min(hay.len())..]).map(|k| i + k)
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

    /// Reads an object key and the `:` after it; returns the index of the key in `names`, if listed.
    /// Keys are compared as raw bytes: the keys we act on have no escapes.
    pub(super) fn key(&mut self, names: &[&[u8]]) -> Result<Option<usize>, StreamError> {
        if self.peek()? != Some(b'"') {
            return Err(self.syntax("expected an object key"));
        }
        let r = self.value()?;
        let raw = &self.buf[r.start + 1..r.end - 1];
        let found = names.iter().position(|n| *n == raw);
        self.expect(b':')?;
        Ok(found)
    }

    /// Reads a string value, unescaped, into `out` (cleared first): one pass, no allocation once
    /// `out` has grown to the longest string.
    pub(super) fn string_into(&mut self, out: &mut Vec<u8>) -> Result<(), StreamError> {
        out.clear();
        self.expect(b'"')?;
        loop {
            let hay = &self.buf[self.pos..self.filled];
            let Some(k) = memchr::memchr2(b'"', b'\\', hay) else {
                out.extend_from_slice(hay);
                self.pos = self.filled;
                if !self.fill()? {
                    return Err(self.syntax("unexpected end of input inside a string"));
                }
                continue;
            };
            out.extend_from_slice(&hay[..k]);
            self.pos += k + 1;
            if hay[k] == b'"' {
                return Ok(());
            }
            self.escape(out)?;
        }
    }

    fn byte(&mut self) -> Result<u8, StreamError> {
        if self.pos >= self.filled && !self.fill()? {
            return Err(self.syntax("unexpected end of input inside a string"));
        }
        self.pos += 1;
        Ok(self.buf[self.pos - 1])
    }

    fn hex4(&mut self) -> Result<u32, StreamError> {
        let mut v = 0;
        for _ in 0..4 {
            let d = (self.byte()? as char).to_digit(16).ok_or_else(|| self.syntax("bad \\u escape"))?;
            v = v * 16 + d;
        }
        Ok(v)
    }

    /// One escape sequence, the backslash already consumed.
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), StreamError> {
        let c = match self.byte()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                // A surrogate pair may straddle a chunk edge: have its second half in view.
                while (0xD800..0xDC00).contains(&hi) && self.filled - self.pos < 2 && self.fill()? {}
                let code = if (0xD800..0xDC00).contains(&hi) && self.buf[self.pos..self.filled].starts_with(b"\\u") {
                    self.pos += 2;
                    let lo = self.hex4()?;
                    if (0xDC00..0xE000).contains(&lo) {
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    } else {
                        0xFFFD
                    }
                } else {
                    hi
                };
                char::from_u32(code).unwrap_or('\u{FFFD}')
            }
            _ => return Err(self.syntax("bad escape in a string")),
        };
        let mut utf8 = [0; 4];
        out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        Ok(())
    }

    /// The buffered bytes (index with a range from [`Self::value`]).
    pub(super) fn bytes(&self) -> &[u8] {
        &self.buf[..self.filled]
    }
}
