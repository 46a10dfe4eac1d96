//! Lines of a text input, bounded: a line longer than the cap is streamed past unread and reported
//! as [`Record::Oversized`], so the buffer never grows past the cap plus two chunks. JSON objects
//! back to back on one line (`}{`: Firehose writes records without a delimiter; or `} {`) come out
//! one by one, each bounded by the same cap, however long the line that holds them; so do JSON
//! objects spread over lines (pretty-printed, as the console and documentation show records).
//!
//! A line that starts an object is one record when the object closes on it and the next line does
//! not go on with it (`,`, `}` or `]` first). Otherwise the object is read across lines until it
//! closes, and at each line break its next token must be one JSON allows there: a truncated line
//! followed by other lines ends where it breaks off, and the lines after it are read as lines.

use memchr::memmem;
use std::io::{self, Read};

const CHUNK: usize = 64 * 1024;
/// How far past a line's end the next line's first token is looked for.
const PEEK: usize = 4096;

/// One record of the input.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Record<'a> {
    /// A line (without its `\n`), or one JSON object of a run of them.
    Line(&'a [u8]),
    /// A line longer than the cap, skipped unread.
    Oversized,
}

pub(super) struct Lines<R> {
    reader: R,
    /// `start..end` is read and not yet handed out. The buffer's length is at most
    /// `max_line + 2 * CHUNK`: it grows only while one line (at most the cap) is in hand.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// `start..scanned` holds no newline: the search resumes there.
    scanned: usize,
    eof: bool,
    max_line: usize,
    /// Whether lines that start with `{` are looked into for `}{` and for objects spread over lines.
    split_objects: bool,
    /// The rest of the current line is a run of JSON objects.
    in_run: bool,
    back_to_back: [memmem::Finder<'static>; 2],
}

impl<R: Read> Lines<R> {
    /// Lines of `reader`, each at most `max_line` bytes; `split_objects` splits runs of JSON objects.
    pub(super) fn new(reader: R, max_line: usize, split_objects: bool) -> Self {
        Lines {
            reader,
            buf: vec![0; (4 * CHUNK).min(max_line + 2 * CHUNK)],
            start: 0,
            end: 0,
            scanned: 0,
            eof: false,
            max_line,
            split_objects,
            in_run: false,
            back_to_back: [memmem::Finder::new(b"}{"), memmem::Finder::new(b"} {")],
        }
    }

    /// The next record, or `None` at the end of the input.
    pub(super) fn next_record(&mut self) -> io::Result<Option<Record<'_>>> {
        loop {
            if self.in_run {
                match self.next_object()? {
                    Some(Some((a, b))) => return Ok(Some(Record::Line(&self.buf[a..b]))),
                    Some(None) => return Ok(Some(Record::Oversized)),
                    None => continue,
                }
            }
            let from = self.scanned.max(self.start);
            if let Some(i) = memchr::memchr(b'\n', &self.buf[from..self.end]) {
                let nl = from + i;
                match self.starts_objects(nl)? {
                    // Objects (`in_run` is set), or more input needed to tell: the same newline
                    // is found again.
                    Some(true) | None => continue,
                    Some(false) => {}
                }
                let line = self.start..nl;
                self.start = nl + 1;
                self.scanned = self.start;
                if line.len() > self.max_line {
                    return Ok(Some(Record::Oversized));
                }
                return Ok(Some(Record::Line(&self.buf[line])));
            }
            self.scanned = self.end;
            if self.end - self.start > self.max_line {
                // An over-long line that starts as an object is skipped object by object: a run's
                // `}{` may lie past what is buffered.
                if self.is_run(self.start, self.end, false) {
                    continue;
                }
                self.skip_line()?;
                return Ok(Some(Record::Oversized));
            }
            if !self.fill()? {
                if self.start == self.end {
                    return Ok(None);
                }
                if self.is_run(self.start, self.end, true) {
                    continue;
                }
                let line = self.start..self.end;
                self.start = self.end;
                return Ok(Some(Record::Line(&self.buf[line])));
            }
        }
    }

    /// Whether `buf[a..b]` (the line so far) is to be read as JSON objects back to back (with a
    /// `}{` or `} {` in it, when `pair`): then `in_run` is set.
    fn is_run(&mut self, a: usize, b: usize, pair: bool) -> bool {
        let line = &self.buf[a..b];
        self.in_run = self.split_objects
            && starts_object(line)
            && (!pair || self.back_to_back.iter().any(|f| f.find(line).is_some()));
        self.in_run
    }

    /// Whether the line ending at `nl` is to be read as JSON objects: back to back, or one that goes
    /// on past its line (it does not end in `}`, or the next line starts with `,`, `}` or `]`). Then
    /// `in_run` is set. `None` when the next line is not read yet (it has been, on the next call).
    fn starts_objects(&mut self, nl: usize) -> io::Result<Option<bool>> {
        if self.is_run(self.start, nl, true) {
            return Ok(Some(true));
        }
        let line = &self.buf[self.start..nl];
        // An over-long line is skipped whatever it holds.
        if !self.split_objects || !starts_object(line) || line.len() > self.max_line {
            return Ok(Some(false));
        }
        let goes_on = match line.iter().rposition(|c| !c.is_ascii_whitespace()).map(|k| line[k]) {
            Some(b'}') => match self.peek_after(nl)? {
                Some(next) => matches!(next, Some(b',' | b'}' | b']')),
                None => return Ok(None),
            },
            _ => true,
        };
        self.in_run = goes_on;
        Ok(Some(goes_on))
    }

    /// The first byte after `nl` that is not white space (within [`PEEK`] bytes), `Some(None)` when
    /// there is none; `None` when more had to be read first (read now, the buffer moved: find the
    /// line again).
    #[allow(clippy::option_option)]
    fn peek_after(&mut self, nl: usize) -> io::Result<Option<Option<u8>>> {
        let window = &self.buf[nl + 1..self.end.min(nl + 1 + PEEK)];
        if let Some(c) = window.iter().find(|c| !c.is_ascii_whitespace()) {
            return Ok(Some(Some(*c)));
        }
        if window.len() == PEEK || self.eof {
            return Ok(Some(None));
        }
        // Reading moves what is buffered (`nl` with it), whether or not more comes.
        self.fill()?;
        Ok(None)
    }

    /// In a run: the next object's range, `Some(None)` for one longer than the cap (skipped), or
    /// `None` when the run ended (the rest of the line is read as a line).
    #[allow(clippy::option_option)]
    fn next_object(&mut self) -> io::Result<Option<Option<(usize, usize)>>> {
        loop {
            // Between objects: spaces, then `{`, a newline (the run ends with its line), or else.
            let gap = self.buf[self.start..self.end].iter().position(|c| !is_gap(*c));
            match gap.map(|i| (i, self.buf[self.start + i])) {
                Some((i, b'\n')) => {
                    self.start += i + 1;
                    self.scanned = self.start;
                    self.in_run = false;
                    return Ok(None);
                }
                Some((i, b'{')) => {
                    self.start += i;
                    let mut scan = ObjectEnd::default();
                    if let Some((k, closed)) = scan.feed(&self.buf[self.start..self.end]) {
                        let object = (self.start, self.start + k);
                        self.start += k;
                        if !closed {
                            // A raw newline inside: not an object after all; the line ends here.
                            self.in_run = false;
                        }
                        self.scanned = self.start;
                        return Ok(Some((k <= self.max_line).then_some(object)));
                    }
                    if self.end - self.start > self.max_line {
                        self.skip_object(scan)?;
                        return Ok(Some(None));
                    }
                    if !self.fill()? {
                        // Cut off at the end of the input: handed out as it is (unparsed).
                        let object = (self.start, self.end);
                        self.start = self.end;
                        self.in_run = false;
                        return Ok(Some(Some(object)));
                    }
                    continue;
                }
                Some(_) => {
                    self.in_run = false;
                    self.scanned = self.start;
                    return Ok(None);
                }
                None => {}
            }
            if !self.fill()? {
                self.in_run = false;
                return Ok(None);
            }
        }
    }

    /// Drops the rest of an over-long object (`scan` has seen `start..end`), reading as it goes.
    fn skip_object(&mut self, mut scan: ObjectEnd) -> io::Result<()> {
        loop {
            self.start = self.end;
            if !self.fill()? {
                self.in_run = false;
                return Ok(());
            }
            if let Some((k, closed)) = scan.feed(&self.buf[self.start..self.end]) {
                self.start += k;
                self.scanned = self.start;
                self.in_run &= closed;
                return Ok(());
            }
        }
    }

    /// Drops the rest of an over-long line, through its newline, reading as it goes.
    fn skip_line(&mut self) -> io::Result<()> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                self.start += i + 1;
                self.scanned = self.start;
                return Ok(());
            }
            self.start = self.end;
            if !self.fill()? {
                return Ok(());
            }
        }
    }

    /// Reads more: first moves the unread bytes to the front, grows the buffer only when a line in
    /// hand (at most the cap) fills it. Returns false at the end of the input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scanned -= self.start.min(self.scanned);
            self.start = 0;
        }
        if self.buf.len() - self.end < CHUNK {
            let len = (self.buf.len() * 2).min(self.max_line + 2 * CHUNK).max(self.end + CHUNK);
            self.buf.resize(len, 0);
        }
        let n = loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.end += n;
        self.eof = n == 0;
        Ok(n > 0)
    }
}

/// White space between objects of a run (a newline ends the run).
fn is_gap(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r')
}

/// Whether a line (or the start of one) opens a JSON object: `{` after white space.
fn starts_object(line: &[u8]) -> bool {
    line.iter().find(|c| !is_gap(**c)) == Some(&b'{')
}

/// Where a JSON object that starts at the front ends: brace depth outside strings, resumable
/// across reads. Not a validator: the line parser judges the object; only at a line break is the
/// next token checked, so that an object cut off on its line does not swallow the lines after it.
#[derive(Debug, Default, Clone, Copy)]
struct ObjectEnd {
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Bit `d` set when the container `d + 1` deep is an array (the first 64 levels).
    arrays: u64,
    /// The last token outside strings.
    last: Token,
    /// A line break came after `last`: the next token starts a line, and is checked.
    at_line_start: bool,
}

/// The last token of an object so far, as far as the next one depends on it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// `{`, or nothing yet.
    #[default]
    Open,
    /// `[`.
    OpenArray,
    /// `:`.
    Colon,
    /// `,`.
    Comma,
    /// The end of a value or a key: a string, a bare value, `}` or `]`.
    Value,
}

impl ObjectEnd {
    /// Feeds the next bytes; returns the offset just past the closing brace (`true`), or of the line
    /// break before a line that cannot go on with the object (`false`: it ends there, broken), when
    /// either is in `bytes`. A raw line break inside a string breaks it too (no JSON string holds one).
    fn feed(&mut self, bytes: &[u8]) -> Option<(usize, bool)> {
        // The latest line break outside strings in `bytes`: where a broken object ends.
        let mut line_break = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if self.in_string {
                match b {
                    _ if self.escaped => self.escaped = false,
                    b'\\' => self.escaped = true,
                    b'"' => {
                        self.in_string = false;
                        self.last = Token::Value;
                    }
                    b'\n' => return Some((i, false)),
                    _ => {}
                }
                continue;
            }
            if b == b'\n' {
                self.at_line_start = true;
                line_break = i;
                continue;
            }
            if b.is_ascii_whitespace() {
                continue;
            }
            if std::mem::take(&mut self.at_line_start) && !self.goes_on_with(b) {
                return Some((line_break, false));
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    if self.depth < 64 {
                        let bit = 1u64 << self.depth;
                        self.arrays = if b == b'[' { self.arrays | bit } else { self.arrays & !bit };
                    }
                    self.depth += 1;
                    self.last = if b == b'[' { Token::OpenArray } else { Token::Open };
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    self.last = Token::Value;
                    if self.depth == 0 {
                        return Some((i + 1, true));
                    }
                }
                b':' => self.last = Token::Colon,
                b',' => self.last = Token::Comma,
                _ => self.last = Token::Value,
            }
        }
        None
    }

    /// Whether JSON (read leniently: a bare value may be anything) allows `b` as the next token.
    fn goes_on_with(&self, b: u8) -> bool {
        let in_array = self.depth > 0 && self.depth <= 64 && self.arrays & (1 << (self.depth - 1)) != 0;
        let value_start = !matches!(b, b',' | b':' | b'}' | b']');
        match self.last {
            Token::Open => matches!(b, b'"' | b'}'),
            Token::OpenArray => value_start || b == b']',
            Token::Colon => value_start,
            Token::Comma if in_array => value_start,
            Token::Comma => b == b'"',
            Token::Value => matches!(b, b',' | b':' | b'}' | b']'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object_end(bytes: &[u8]) -> Option<usize> {
        match ObjectEnd::default().feed(bytes) {
            Some((k, true)) => Some(k),
            _ => None,
        }
    }

    fn records(input: &[u8], max_line: usize, chunked: bool) -> Vec<String> {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(self.1);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut lines = Lines::new(Trickle(input, if chunked { 7 } else { usize::MAX }), max_line, true);
        let mut out = Vec::new();
        while let Some(r) = lines.next_record().unwrap() {
            out.push(match r {
                Record::Line(l) => String::from_utf8_lossy(l).into_owned(),
                Record::Oversized => "<oversized>".into(),
            });
        }
        assert!(lines.buf.len() <= max_line + 2 * CHUNK, "buffer {}", lines.buf.len());
        out
    }

    #[test]
    fn lines_and_runs_of_objects() {
        let input = b"a b\n{\"x\":\"}{\"}{\"y\":2} {\"z\":3}\nplain }{ text\n{\"a\":1}\n\nlast";
        for chunked in [false, true] {
            assert_eq!(
                records(input, 1 << 20, chunked),
                ["a b", r#"{"x":"}{"}"#, r#"{"y":2}"#, r#"{"z":3}"#, "plain }{ text", r#"{"a":1}"#, "", "last"],
                "chunked: {chunked}"
            );
        }
    }

    #[test]
    fn over_long_lines_and_objects_are_skipped_unheld() {
        let long = "x".repeat(300_000);
        let input = format!("ok\n{long}\n{{\"a\":\"{long}\"}}{{\"b\":1}}\n{long}");
        assert_eq!(
            records(input.as_bytes(), 100_000, false),
            ["ok", "<oversized>", "<oversized>", r#"{"b":1}"#, "<oversized>"]
        );
        // A run with no newline at all, far longer than the cap: every object comes out.
        let run = r#"{"status":"200"}"#.repeat(50_000);
        let got = records(run.as_bytes(), 4096, false);
        assert_eq!(got.len(), 50_000);
        assert!(got.iter().all(|l| l == r#"{"status":"200"}"#));
    }

    #[test]
    fn object_end_respects_strings() {
        assert_eq!(object_end(br#"{"a":"}\"{"}x"#), Some(12));
        assert_eq!(object_end(b"{\"a\":1"), None);
    }
}
