//! Exported logs in, log events out: detects, per file, which of the six inputs it is (subscription
//! event(s), decoded payload, `filter-log-events` JSON, `create-export-task` text, Logs Insights CSV,
//! plain lines), gzip'd or not, and streams it into an [`EventSink`] without holding the file.

use crate::decode::{read_document, BatchInfo, BatchKind, DecodeError, EventSink, Limits};
use crate::time::{parse_iso8601, EpochMillis};
use std::io::{self, BufRead, BufReader, Read};

/// Keys that mark a JSON document (rather than a file of JSON access-log lines).
const DOCUMENT_KEYS: [&str; 10] = [
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
];
const PEEK: usize = 256 * 1024;

/// The shape an input was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Subscription event(s), decoded payload(s) or `filter-log-events` output.
    JsonDocument,
    /// `create-export-task` text: `<ISO timestamp> <message>` per line.
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
        InputKind::InsightsCsv => read_insights_csv(r, sink)?,
        InputKind::ExportTask | InputKind::PlainLines => read_lines(r, kind == InputKind::ExportTask, sink)?,
    }
    Ok(kind)
}

/// Decides the shape from the first bytes.
pub fn detect(head: &[u8]) -> InputKind {
    let start = head.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(head.len());
    let head = &head[start..];
    match head.first() {
        Some(b'[') => return InputKind::JsonDocument,
        Some(b'{') => {
            let rest = &head[1..];
            let q = rest.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(rest.len());
            if rest.get(q) == Some(&b'"') {
                let key = &rest[q + 1..];
                let end = memchr::memchr(b'"', key).unwrap_or(0);
                if DOCUMENT_KEYS.iter().any(|k| k.as_bytes() == &key[..end]) {
                    return InputKind::JsonDocument;
                }
            }
            return InputKind::PlainLines;
        }
        _ => {}
    }
    let first_line = &head[..memchr::memchr(b'\n', head).unwrap_or(head.len())];
    let first_line = String::from_utf8_lossy(first_line);
    if first_line.contains("@message") && first_line.contains("@timestamp") {
        InputKind::InsightsCsv
    } else if first_line.split(' ').next().and_then(parse_iso8601).is_some() {
        InputKind::ExportTask
    } else {
        InputKind::PlainLines
    }
}

/// Longest event kept from a multi-line export message: its first line is what gets parsed.
const MAX_EVENT_TEXT: usize = 1 << 20;

fn read_lines<R: BufRead>(mut r: R, timestamped: bool, sink: &mut dyn EventSink) -> io::Result<()> {
    sink.begin_batch();
    let mut buf = Vec::with_capacity(4096);
    // In `create-export-task` text a line without its own timestamp continues the event before it (a
    // multi-line message, e.g. an execution log's request body): it is held until the next event starts.
    let mut held: Option<EpochMillis> = None;
    let mut held_text = String::new();
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        if !timestamped {
            sink.event(None, line);
            continue;
        }
        match line.split_once(' ').and_then(|(t, m)| Some((parse_iso8601(t)?, m))) {
            Some((t, m)) => {
                if held.is_some() {
                    sink.event(held, &held_text);
                }
                held = Some(t);
                held_text.clear();
                held_text.push_str(m);
            }
            None if held.is_some() => {
                if held_text.len() + line.len() < MAX_EVENT_TEXT {
                    held_text.push('\n');
                    held_text.push_str(line);
                }
            }
            None => sink.event(None, line),
        }
    }
    if held.is_some() {
        sink.event(held, &held_text);
    }
    sink.end_batch(&BatchInfo { kind: BatchKind::Export, log_group: None });
    Ok(())
}

fn read_insights_csv<R: BufRead>(r: R, sink: &mut dyn EventSink) -> Result<(), InputError> {
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
