//! Exported logs in, log events out: detects, per file, which of the inputs it is (subscription,
//! Kinesis or Firehose event(s), decoded payload(s), `filter-log-events` JSON, Logs Insights results
//! (JSON or CSV), timestamped text (`create-export-task`, `aws logs tail`), plain lines), gzip'd or
//! not (every gzip member, as `zcat` reads them), and streams it into an [`EventSink`] without
//! holding the file: memory is bounded by the caps in [`Limits`], whatever the input.

use crate::base::fields::is_access_log_key;
use crate::base::time::{parse_iso8601, EpochMillis};
use crate::ingest::decode::{read_document, BatchInfo, BatchKind, DecodeError, EventSink, Limits};
use lines::{Lines, Record};
use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;
use timestamped::Layout;

mod lines;
mod timestamped;

/// Top-level keys that mark a JSON document (rather than a file of JSON access-log lines).
const DOCUMENT_KEYS: [&str; 14] = [
    "awslogs",
    "Records",
    "messageType",
    "owner",
    "logGroup",
    "logStream",
    "subscriptionFilters",
    "logEvents",
    "events",
    "searchedLogStreams",
    "records",
    "invocationId",
    "deliveryStreamArn",
    "results",
];
const PEEK: usize = 256 * 1024;

/// The shape an input was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Subscription event(s), decoded payload(s), `filter-log-events` output or Logs Insights
    /// results.
    JsonDocument,
    /// Timestamped text: `<ISO timestamp> <message>` per line (`create-export-task`, `aws logs tail`
    /// in each of its formats, a console copy), a line without a timestamp continuing the one before.
    ExportTask,
    /// Logs Insights CSV with `@timestamp` and `@message`.
    InsightsCsv,
    /// One access-log line per line.
    PlainLines,
}

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A JSON document failed to decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The Logs Insights CSV is malformed.
    #[error("Logs Insights CSV: {0}")]
    Csv(String),
    /// Reading (or gunzipping) the input failed.
    #[error("read error: {0}")]
    Io(#[from] io::Error),
}

/// Reads one input (a file's bytes, `.gz` or not) into `sink`, detecting its shape.
pub fn read_input<R: Read>(reader: R, limits: Limits, sink: &mut dyn EventSink) -> Result<InputKind, InputError> {
    let mut buffered = BufReader::with_capacity(PEEK, reader);
    if buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        let gz = flate2::bufread::MultiGzDecoder::new(buffered);
        read_plain(BufReader::with_capacity(PEEK, gz), limits, sink)
    } else {
        read_plain(buffered, limits, sink)
    }
}

fn read_plain<R: BufRead>(mut r: R, limits: Limits, sink: &mut dyn EventSink) -> Result<InputKind, InputError> {
    let kind = detect(r.fill_buf()?);
    match kind {
        InputKind::JsonDocument => read_document(r, limits, sink)?,
        InputKind::InsightsCsv => read_insights_csv(r, limits, sink)?,
        InputKind::ExportTask | InputKind::PlainLines => read_lines(r, kind == InputKind::ExportTask, limits, sink)?,
    }
    Ok(kind)
}

/// Decides the shape from the first bytes.
pub fn detect(head: &[u8]) -> InputKind {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(head.len());
    let head = &head[start..];
    match head.first() {
        Some(b'[') => return InputKind::JsonDocument,
        Some(b'{') if is_document(head) => return InputKind::JsonDocument,
        Some(b'{') => return InputKind::PlainLines,
        _ => {}
    }
    let first_line = &head[..memchr::memchr(b'\n', head).unwrap_or(head.len())];
    let first_line = String::from_utf8_lossy(first_line);
    let mut scratch = String::new();
    let first_line = timestamped::without_colors(first_line.trim_end(), &mut scratch);
    if first_line.contains("@message") && first_line.contains("@timestamp") {
        InputKind::InsightsCsv
    } else if timestamped::split(first_line).is_some() {
        InputKind::ExportTask
    } else {
        InputKind::PlainLines
    }
}

/// Whether the object that `head` starts with is a document (an envelope of records, read by the
/// decoder, which names its keys when it knows none of them) rather than an access-log record: it
/// names a document key at its top level, holds an array of objects (no access-log template writes
/// one), or spans lines (pretty-printed) without any key an access log carries. A one-line object,
/// or a pretty-printed one with an access log's keys (`requestId`, `status`, …), is a record: the
/// line reader reads records one by one, each up to the line cap. An object that does not end within
/// `head` is judged on what `head` holds.
fn is_document(head: &[u8]) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0u32, false, false);
    let (mut key_start, mut expect_key, mut after_bracket) = (None, false, false);
    let (mut spans_lines, mut access_log_keys) = (false, false);
    for (i, &b) in head.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => {
                    in_string = false;
                    if let Some(k) = key_start.take() {
                        let key = &head[k..i];
                        if DOCUMENT_KEYS.iter().any(|d| d.as_bytes() == key) {
                            return true;
                        }
                        access_log_keys |= std::str::from_utf8(key).is_ok_and(is_access_log_key);
                    }
                }
                b'\n' => return false,
                _ => {}
            }
            continue;
        }
        match b {
            b'\n' => {
                spans_lines = true;
                continue;
            }
            b' ' | b'\t' | b'\r' => continue,
            b'"' => {
                in_string = true;
                if depth == 1 && expect_key {
                    key_start = Some(i + 1);
                    expect_key = false;
                }
            }
            b'{' if after_bracket => return true,
            b'{' | b'[' => {
                depth += 1;
                expect_key = b == b'{' && depth == 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            b',' => expect_key = depth == 1,
            _ => {}
        }
        after_bracket = b == b'[';
    }
    spans_lines && !access_log_keys
}

fn read_lines<R: Read>(r: R, timestamped: bool, limits: Limits, sink: &mut dyn EventSink) -> io::Result<()> {
    sink.begin_batch();
    // Records (JSON objects back to back, or spread over lines) are split in plain lines only:
    // timestamped lines carry one timestamp each, and their message continues on the lines after.
    let mut lines = Lines::new(r, limits.max_line_bytes, !timestamped);
    let mut events = Timestamped { layout: None, held: None, text: String::new(), limit: limits.max_line_bytes };
    let mut scratch = String::new();
    while let Some(record) = lines.next_record()? {
        let buf = match record {
            Record::Line(line) => line,
            Record::Oversized => {
                events.flush(sink);
                sink.oversized(None, limits.max_line_bytes);
                continue;
            }
        };
        let line = String::from_utf8_lossy(buf);
        let line = line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        if !timestamped {
            sink.event(None, line);
            continue;
        }
        let line = timestamped::without_colors(line, &mut scratch);
        if !timestamped::is_noise(line) {
            events.line(line, sink);
        }
    }
    events.flush(sink);
    sink.end_batch(&BatchInfo { kind: BatchKind::Export, log_group: None });
    Ok(())
}

/// Events of timestamped text in the making: a line without its own timestamp continues the event
/// before it (a multi-line message: an execution log's request body, a pretty-printed JSON record),
/// which is held until the next event starts, up to the line cap.
struct Timestamped {
    /// The text's layout, told by its first timestamp.
    layout: Option<Layout>,
    /// The timestamp of the event held.
    held: Option<EpochMillis>,
    /// Its message so far.
    text: String,
    limit: usize,
}

impl Timestamped {
    fn line(&mut self, line: &str, sink: &mut dyn EventSink) {
        match timestamped::split(line) {
            Some((t, stamp, rest)) => {
                self.flush(sink);
                let layout = *self.layout.get_or_insert_with(|| Layout::of(stamp));
                self.held = Some(t);
                self.text.push_str(timestamped::message(rest, layout));
            }
            None if self.held.is_some() => {
                if self.text.len() + line.len() < self.limit {
                    self.text.push('\n');
                    self.text.push_str(line);
                }
            }
            None => sink.event(None, line),
        }
    }

    /// Hands the event held to `sink`.
    fn flush(&mut self, sink: &mut dyn EventSink) {
        if let Some(t) = self.held.take() {
            sink.event(Some(t), &self.text);
            self.text.clear();
        }
    }
}

/// Fails once more than `limit` bytes pass between two [`Self::reset`]s: bounds what the CSV reader
/// buffers for one record (it has no cap of its own).
struct RecordCap<R> {
    inner: R,
    since: Rc<Cell<usize>>,
    limit: usize,
}

impl<R: Read> Read for RecordCap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let since = self.since.get() + n;
        self.since.set(since);
        if since > self.limit {
            return Err(io::Error::other(format!("a record longer than the cap of {} KiB", self.limit / 1024)));
        }
        Ok(n)
    }
}

fn read_insights_csv<R: BufRead>(r: R, limits: Limits, sink: &mut dyn EventSink) -> Result<(), InputError> {
    let since = Rc::new(Cell::new(0));
    // The line cap, plus what the CSV reader reads ahead.
    let limit = limits.max_line_bytes.saturating_add(1 << 20);
    let r = RecordCap { inner: r, since: since.clone(), limit };
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(r);
    let headers = csv.headers().map_err(|e| InputError::Csv(e.to_string()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let message_at = column("@message").ok_or_else(|| InputError::Csv("no @message column".into()))?;
    let timestamp_at = column("@timestamp");
    let mut record = csv::ByteRecord::new();
    sink.begin_batch();
    while csv.read_byte_record(&mut record).map_err(|e| InputError::Csv(e.to_string()))? {
        let field = |i: usize| String::from_utf8_lossy(record.get(i).unwrap_or_default());
        let timestamp = timestamp_at.and_then(|i| parse_iso8601(&field(i)));
        sink.event(timestamp, &field(message_at));
        since.set(0);
    }
    sink.end_batch(&BatchInfo { kind: BatchKind::Export, log_group: None });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_shape() {
        assert_eq!(detect(br#"  {"awslogs":{"data":"x"}}"#), InputKind::JsonDocument);
        assert_eq!(detect(b"{\n    \"events\": ["), InputKind::JsonDocument);
        assert_eq!(detect(br#"[{"awslogs":{}}]"#), InputKind::JsonDocument);
        assert_eq!(detect(br#"{"messageType":"DATA_MESSAGE"}"#), InputKind::JsonDocument);
        assert_eq!(detect(br#"{"requestId":"x","status":"403"}"#), InputKind::PlainLines);
        assert_eq!(detect(b"2026-11-25T10:00:00.000Z {\"status\":\"403\"}\n"), InputKind::ExportTask);
        assert_eq!(detect(b"@timestamp,@message\n"), InputKind::InsightsCsv);
        assert_eq!(detect(b"1.2.3.4 - - [x]\"GET / HTTP/1.1\" 200 1 r\n"), InputKind::PlainLines);
        assert_eq!(detect(b""), InputKind::PlainLines);
    }
}
