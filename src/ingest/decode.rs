//! From bytes to log events: subscription events (`{"awslogs":{"data":…}}`), Kinesis and Firehose
//! events (`Records[].kinesis.data`, `records[].data`), decoded payloads (`messageType`,
//! `logEvents`), `filter-log-events` output (`{"events":[…]}`), arrays of those, and several of them
//! back to back (a Firehose → S3 object), and Logs Insights results (`get-query-results` JSON and the
//! console's JSON download). JSON is streamed: events reach the [`EventSink`] one at a
//! time and the inner payload is never held whole when it comes from a file. Decompression is
//! capped, so a gzip bomb is an error, not an OOM; a message longer than the line cap is streamed
//! past, never held. JSON that is none of these is refused with its top-level keys named.

use crate::base::time::EpochMillis;
use base64::engine::{general_purpose::GeneralPurposeConfig, DecodePaddingMode, Engine, GeneralPurpose};
use json_stream::{JsonStream, StreamError};
use std::io::{self, Read};

mod json_stream;
pub(crate) use json_stream::find_quote_or_backslash;

/// Default cap on the decompressed size of one subscription payload.
pub const DEFAULT_MAX_INNER_BYTES: u64 = 64 * 1024 * 1024;
/// Default cap on one log line (a message, or a line of a text file).
pub const DEFAULT_MAX_LINE_BYTES: usize = 1024 * 1024;
/// Nesting of subscription events inside arrays beyond which input is refused.
const MAX_ARRAY_DEPTH: u8 = 4;
/// Top-level keys named in an "unrecognised document" error, and the characters kept of each.
const KEYS_NAMED: usize = 12;
const KEY_CHARS: usize = 64;

/// Why input could not be decoded: one variant per stage.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// `awslogs.data` (or a Kinesis record's data) is not base64.
    #[error("data is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// The gzip stream is corrupt or truncated.
    #[error("gzip data is corrupt or truncated: {0}")]
    Gzip(io::Error),
    /// Decompressed data (a gzip bomb?), or a value that must be held, passed its cap.
    #[error("{what} exceeds the cap of {limit} bytes")]
    TooLarge {
        /// The cap, in bytes.
        limit: u64,
        /// What passed it.
        what: &'static str,
    },
    /// The (decompressed) data is not JSON.
    #[error("payload is not valid JSON: {0}")]
    Json(String),
    /// Valid JSON that is none of the known shapes.
    #[error("unexpected JSON shape: {0}")]
    Shape(String),
    /// Logs Insights results whose rows hold no `@message`: counts already aggregated (`stats`), or
    /// fields picked out of the lines, not the lines. Not read: their numbers are not requests.
    #[error("Logs Insights results without @message (fields {0}): aggregated or projected rows are not log lines and are not counted; run the query as `fields @timestamp, @message` (no stats) and export that")]
    Aggregated(String),
    /// Reading the input failed.
    #[error("read error: {0}")]
    Io(io::Error),
}

/// What kind of batch a payload was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchKind {
    /// `DATA_MESSAGE`: count it.
    Data,
    /// `CONTROL_MESSAGE`: CloudWatch Logs checking the destination; ignore it.
    Control,
    /// `filter-log-events` / `get-log-events` output.
    Export,
}

/// Facts about a batch that are known only once it has been read (JSON keys have no order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchInfo {
    /// Data, control or export.
    pub kind: BatchKind,
    /// The payload's `logGroup`, when present.
    pub log_group: Option<String>,
}

/// Receives log events as they are decoded. A batch's events arrive between `begin_batch` and
/// `end_batch`; whether they count is known only at `end_batch` (a control message).
pub trait EventSink {
    /// A batch begins.
    fn begin_batch(&mut self);
    /// One log event of the current batch.
    fn event(&mut self, timestamp: Option<EpochMillis>, message: &str);
    /// The current batch ended.
    fn end_batch(&mut self, batch: &BatchInfo);
    /// A payload met in a document (`awslogs.data`, a Kinesis record's `data`), still encoded.
    /// Handing it back has it decoded here and now, into this sink; a sink that decodes payloads
    /// elsewhere (on other threads) keeps it and returns `None`.
    fn payload(&mut self, data: String) -> Option<String> {
        Some(data)
    }
    /// Whether this sink reads messages still escaped ([`Self::escaped_event`]).
    fn reads_escaped(&self) -> bool {
        false
    }
    /// One log event of the current batch whose message is a JSON line still escaped as it lies in
    /// the payload: `raw` is the text between the message's quotes. A sink that reads it so counts
    /// it and returns true (one pass over the line instead of unescaping it, then scanning it);
    /// false and the decoder unescapes it and calls [`Self::event`] instead.
    fn escaped_event(&mut self, timestamp: Option<EpochMillis>, raw: &str) -> bool {
        let _ = (timestamp, raw);
        false
    }
    /// One log event of the current batch whose message is longer than `limit` bytes: streamed
    /// past unread. It must count as an unparsed line (never dropped, never a request).
    fn oversized(&mut self, timestamp: Option<EpochMillis>, limit: usize) {
        let _ = limit;
        self.event(timestamp, OVERSIZED_LINE);
    }
}

/// What stands for a line longer than the cap in place of its text: no digits, so no parser reads
/// a status in it.
pub const OVERSIZED_LINE: &str = "(a line longer than the line cap, skipped unread)";

/// Decoding limits: what bounds memory, whatever the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Cap on the decompressed bytes of one subscription payload (and on its base64 text).
    pub max_inner_bytes: u64,
    /// Cap on one log line: a longer message or text line is counted as unparsed, streamed past
    /// without being held.
    pub max_line_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_inner_bytes: DEFAULT_MAX_INNER_BYTES, max_line_bytes: DEFAULT_MAX_LINE_BYTES }
    }
}

/// Base64 with or without padding: CloudWatch pads, some tools (and `aws_lambda_events`' serializer) do not.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes `awslogs.data`, a Kinesis record's data or a Firehose record's data: base64 of a gzip'd
/// payload (or of plain JSON).
pub fn decode_data(data: &str, limits: Limits, sink: &mut dyn EventSink) -> Result<(), DecodeError> {
    let bytes = BASE64.decode(data.trim())?;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return read_json(JsonStream::whole(bytes, io::empty()), limits, false, sink);
    }
    let gz = flate2::bufread::MultiGzDecoder::new(&bytes[..]);
    let mut capped = Capped { inner: gz, remaining: limits.max_inner_bytes, exceeded: false };
    let result = read_json(JsonStream::new(&mut capped), limits, false, sink);
    if capped.exceeded {
        return Err(DecodeError::TooLarge { limit: limits.max_inner_bytes, what: INFLATED });
    }
    result.map_err(|e| match e {
        DecodeError::Io(io) => DecodeError::Gzip(io),
        other => other,
    })
}

const INFLATED: &str = "decompressed payload";

/// Streams a JSON document of any known shape from `reader`, or several back to back.
pub fn read_document<R: Read>(reader: R, limits: Limits, sink: &mut dyn EventSink) -> Result<(), DecodeError> {
    read_json(JsonStream::new(reader), limits, true, sink)
}

fn read_json<R: Read>(
    s: JsonStream<R>,
    limits: Limits,
    allow_envelope: bool,
    sink: &mut dyn EventSink,
) -> Result<(), DecodeError> {
    let mut doc = Document { s, sink, limits, allow_envelope, rows: false };
    doc.value(0)?;
    // More documents back to back (`}{`, or one per line): Firehose writes its records so.
    while let Some(b) = doc.s.peek()? {
        if b != b'{' {
            return Err(doc.s.syntax("trailing characters").into());
        }
        doc.value(0)?;
    }
    doc.close_rows();
    Ok(())
}

impl From<StreamError> for DecodeError {
    fn from(e: StreamError) -> Self {
        match e {
            StreamError::Io(e) => DecodeError::Io(e),
            StreamError::Syntax(what) => DecodeError::Json(what),
            StreamError::TooLong { limit } => {
                DecodeError::TooLarge { limit: limit as u64, what: "a JSON key or value that must be held" }
            }
        }
    }
}

/// A reader that fails once more than `remaining` bytes come out of `inner`.
struct Capped<R> {
    inner: R,
    remaining: u64,
    exceeded: bool,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        match self.remaining.checked_sub(n as u64) {
            Some(r) => {
                self.remaining = r;
                Ok(n)
            }
            None => {
                self.exceeded = true;
                Err(io::Error::other("decompressed size cap exceeded"))
            }
        }
    }
}

/// What a document may be, for errors: at the top level (a file) and inside `data` (a payload).
const EXPECTED_DOCUMENT: &str = "expected a CloudWatch Logs subscription event, Kinesis or Firehose event, decoded payload, or filter-log-events output";
const EXPECTED_PAYLOAD: &str = "expected a decoded subscription payload (messageType, logEvents)";

/// Walks a document of a known shape: an object, or (for exports) an array of them.
struct Document<'a, R> {
    s: JsonStream<R>,
    sink: &'a mut dyn EventSink,
    limits: Limits,
    allow_envelope: bool,
    /// A batch of Logs Insights rows (the console's JSON download) is open.
    rows: bool,
}

/// serde_json's verdict on a value we parse: syntax is `Json`, a wrong type is `Shape`.
fn parsed(e: serde_json::Error) -> DecodeError {
    match e.classify() {
        serde_json::error::Category::Data => DecodeError::Shape(e.to_string()),
        _ => DecodeError::Json(e.to_string()),
    }
}

/// The one-line refusal of JSON that is none of the known shapes, naming its top-level keys.
fn unrecognised(keys: &[String], more: bool, expected: &str) -> DecodeError {
    let keys = if keys.is_empty() {
        "no top-level keys".to_string()
    } else {
        format!("top-level keys {}{}", keys.join(", "), if more { ", …" } else { "" })
    };
    DecodeError::Shape(format!("unrecognised JSON document with {keys}: {expected}"))
}

/// Whether a key is one Logs Insights writes (`@timestamp`, `@log`, …) or names an aggregate or
/// function column (`count(*)`, `bin(5m)`): a row of its results.
fn is_insights_field(key: &str) -> bool {
    key.starts_with('@') || key.contains('(')
}

/// A key as an error message shows it: one line, not too long.
fn key_for_message(raw: &str) -> String {
    raw.chars().take(KEY_CHARS).map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect()
}

impl<R: Read> Document<'_, R> {
    fn expected(&self) -> &'static str {
        if self.allow_envelope {
            EXPECTED_DOCUMENT
        } else {
            EXPECTED_PAYLOAD
        }
    }

    fn value(&mut self, depth: u8) -> Result<(), DecodeError> {
        match self.s.peek()? {
            Some(b'{') => self.object(),
            Some(b'[') if self.allow_envelope && depth < MAX_ARRAY_DEPTH => {
                self.elements("an array of events", |d| d.value(depth + 1))
            }
            Some(b'[') => Err(DecodeError::Shape(format!(
                "found an array nested too deep or where a payload belongs: {}",
                self.expected()
            ))),
            Some(b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
                Err(DecodeError::Shape(format!("found a JSON scalar: {}", self.expected())))
            }
            Some(_) => Err(self.s.syntax("not JSON").into()),
            None => Err(DecodeError::Json("empty input".into())),
        }
    }

    /// Parses the next value with serde_json (held: at most a line long).
    fn parse<'de, T: serde::Deserialize<'de>>(&'de mut self) -> Result<T, DecodeError> {
        let r = self.s.value(self.limits.max_line_bytes)?;
        serde_json::from_slice(&self.s.bytes()[r]).map_err(parsed)
    }

    /// A log event's `timestamp`: a number (read as `f64`, as JSON numbers are), or null. Plain
    /// integers of up to 15 digits (every epoch-millisecond timestamp) are read directly: exact in
    /// `f64`, so the result is the same, without serde_json's set-up per event.
    fn timestamp(&mut self) -> Result<Option<EpochMillis>, DecodeError> {
        let r = self.s.value(self.limits.max_line_bytes)?;
        let text = &self.s.bytes()[r];
        let plain = matches!(text, [b'1'..=b'9', ..] | [b'0']) && text.len() <= 15;
        if plain && text.iter().all(u8::is_ascii_digit) {
            return Ok(Some(text.iter().fold(0, |v, d| v * 10 + EpochMillis::from(d - b'0'))));
        }
        Ok(serde_json::from_slice::<Option<f64>>(text).map_err(parsed)?.map(|t| t as EpochMillis))
    }

    /// Walks an object (`what` names it in errors): `field` gets the index of each key in `names`
    /// (or `None`) and must consume its value.
    fn fields(
        &mut self,
        what: &str,
        names: &[&[u8]],
        mut field: impl FnMut(&mut Self, Option<usize>) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        self.fields_named(what, names, None, |d, key| field(d, key))
    }

    /// [`Self::fields`], pushing the first [`KEYS_NAMED`] keys into `seen` (and flagging more).
    fn fields_named(
        &mut self,
        what: &str,
        names: &[&[u8]],
        mut seen: Option<(&mut Vec<String>, &mut bool)>,
        mut field: impl FnMut(&mut Self, Option<usize>) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        if self.s.peek()? != Some(b'{') {
            return Err(DecodeError::Shape(format!("{what} must be an object")));
        }
        self.s.expect(b'{')?;
        if self.s.empty(b'}')? {
            return Ok(());
        }
        loop {
            let (key, name) = self.s.key(names, seen.is_some())?;
            if let (Some((keys, more)), Some(name)) = (seen.as_mut(), name) {
                if keys.len() < KEYS_NAMED {
                    keys.push(key_for_message(&name));
                } else {
                    **more = true;
                }
            }
            field(self, key)?;
            if !self.s.more(b'}')? {
                return Ok(());
            }
        }
    }

    /// Walks an array (`what` names it in errors): `element` must consume each element.
    fn elements(
        &mut self,
        what: &str,
        mut element: impl FnMut(&mut Self) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        if self.s.peek()? != Some(b'[') {
            return Err(DecodeError::Shape(format!("{what} must be an array")));
        }
        self.s.expect(b'[')?;
        if self.s.empty(b']')? {
            return Ok(());
        }
        loop {
            element(self)?;
            if !self.s.more(b']')? {
                return Ok(());
            }
        }
    }

    /// Skips a value we do not read, without holding it.
    fn skip(&mut self) -> Result<(), DecodeError> {
        self.s.skip()?;
        Ok(())
    }

    fn object(&mut self) -> Result<(), DecodeError> {
        let (mut message_type, mut log_group, mut events_key, mut envelope) = (None::<String>, None, None, false);
        // Set when `Records`/`records` hold something other than Kinesis or Firehose records.
        let mut foreign_records = false;
        let (mut keys, mut more_keys) = (Vec::new(), false);
        // A Logs Insights row of the console's JSON download: its message (pinned) and timestamp.
        let (mut row, mut row_time, mut oversized) = (false, None, false);
        let names: [&[u8]; 10] = [
            b"awslogs",
            b"logEvents",
            b"events",
            b"messageType",
            b"logGroup",
            b"Records",
            b"records",
            b"results",
            b"@message",
            b"@timestamp",
        ];
        self.fields_named("a document", &names, Some((&mut keys, &mut more_keys)), |d, key| {
            if matches!(key, Some(0..=2 | 5..=7)) {
                // Another batch begins: rows before it are one batch of their own.
                d.close_rows();
            }
            match key {
                Some(0) if d.allow_envelope => {
                    d.data_object("awslogs")?;
                    envelope = true;
                }
                Some(7) if d.allow_envelope => {
                    d.insights_results()?;
                    envelope = true;
                }
                Some(8) if d.allow_envelope && !row => {
                    if d.s.peek()? != Some(b'"') {
                        return Err(DecodeError::Shape("a Logs Insights row's @message must be a string".into()));
                    }
                    row = true;
                    oversized = d.pin_message()?;
                }
                Some(9) if d.allow_envelope => row_time = d.insights_time()?,
                // Kinesis (`Records[].kinesis.data`) and Firehose (`records[].data`, the data
                // transformation event): each record's data is one payload.
                Some(k @ (5 | 6)) if d.allow_envelope => {
                    let kinesis = k == 5;
                    d.elements(if kinesis { "Records" } else { "records" }, |d| {
                        if foreign_records {
                            return d.skip();
                        }
                        let mut data = false;
                        d.fields("a record", &[if kinesis { b"kinesis" } else { b"data" }], |d, k| match k {
                            Some(_) if kinesis => {
                                data = true;
                                d.data_object("kinesis")
                            }
                            Some(_) => {
                                data = true;
                                d.data_string("a Firehose record's data")
                            }
                            None => d.skip(),
                        })?;
                        foreign_records |= !data;
                        Ok(())
                    })?;
                    envelope = true;
                }
                Some(k @ (1 | 2)) => {
                    events_key = Some(k == 1);
                    d.sink.begin_batch();
                    d.elements("logEvents", Self::event)?;
                }
                Some(3) => message_type = Some(d.parse::<String>()?),
                Some(4) => log_group = d.parse::<Option<String>>()?,
                _ => d.skip()?,
            }
            Ok(())
        })?;
        if foreign_records {
            // An S3 or SQS event, say: not ours, and never silently zero requests.
            return Err(unrecognised(&keys, more_keys, self.expected()));
        }
        if row {
            if !self.rows {
                self.sink.begin_batch();
                self.rows = true;
            }
            self.emit_message(row_time, oversized);
            return Ok(());
        }
        if self.allow_envelope && events_key.is_none() && !envelope && keys.iter().any(|k| is_insights_field(k)) {
            return Err(DecodeError::Aggregated(keys.join(", ")));
        }
        let kind = match (events_key, message_type.as_deref()) {
            (Some(_), Some("CONTROL_MESSAGE")) => BatchKind::Control,
            (Some(true), _) => BatchKind::Data,
            (Some(false), _) => BatchKind::Export,
            (None, Some("CONTROL_MESSAGE")) => {
                // A control message without logEvents still is one: nothing to count.
                self.sink.begin_batch();
                BatchKind::Control
            }
            (None, _) if envelope => return Ok(()),
            (None, _) => return Err(unrecognised(&keys, more_keys, self.expected())),
        };
        self.sink.end_batch(&BatchInfo { kind, log_group });
        Ok(())
    }

    /// `{"data": "<base64>"}` (`awslogs`, or a Kinesis record's `kinesis`).
    fn data_object(&mut self, name: &str) -> Result<(), DecodeError> {
        let mut seen = false;
        self.fields(name, &[b"data"], |d, key| {
            if key.is_none() {
                return d.skip();
            }
            seen = true;
            d.data_string(name)
        })?;
        if seen {
            Ok(())
        } else {
            Err(DecodeError::Shape(format!("{name} has no data")))
        }
    }

    /// A `data` string (`awslogs`, Kinesis or Firehose): unescaped in place and handed to the sink,
    /// which decodes it on the spot or elsewhere ([`EventSink::payload`]). Its base64 text is held
    /// whole, so it has the payload's cap.
    fn data_string(&mut self, name: &str) -> Result<(), DecodeError> {
        if self.s.peek()? != Some(b'"') {
            return Err(DecodeError::Shape(format!("{name}: data must be a string")));
        }
        let limit = usize::try_from(self.limits.max_inner_bytes).unwrap_or(usize::MAX);
        let Some(r) = self.s.string(limit)? else {
            return Err(DecodeError::TooLarge { limit: limit as u64, what: "the base64 data of one payload" });
        };
        // Not UTF-8 is not base64 either: the decoder names the byte. (`from_utf8` first: its ASCII
        // fast path is several times quicker than the lossy decoder's on megabytes of base64.)
        let bytes = &self.s.bytes()[r];
        let data = match std::str::from_utf8(bytes) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(bytes).into_owned(),
        };
        match self.sink.payload(data) {
            Some(data) => decode_data(&data, self.limits, &mut *self.sink),
            None => Ok(()),
        }
    }

    /// One log event, handed to the sink. Its message is unescaped in place in the stream's buffer
    /// and pinned there (compaction keeps it) until the sink has seen it: no copy, no allocation.
    /// A message longer than the line cap is streamed past and reported as such.
    ///
    /// The usual event (`id`, `timestamp`, then a JSON line as `message`, last) goes faster: when
    /// the sink reads escaped lines, the message is handed over as it lies, before its event's
    /// closing brace. Only when it is the event's last field, so that every field the event has is
    /// known, and the sink sees the same timestamp and the same line as it would after the object.
    fn event(&mut self) -> Result<(), DecodeError> {
        let (mut timestamp, mut oversized, mut counted) = (None, false, false);
        let escaped = self.sink.reads_escaped();
        self.fields("a log event", &[b"message", b"timestamp"], |d, key| {
            match key {
                Some(0) if d.s.peek()? == Some(b'"') => {
                    if escaped {
                        if let Some(r) = d.s.last_json_string(d.limits.max_line_bytes) {
                            let raw = std::str::from_utf8(&d.s.bytes()[r.clone()]).ok();
                            if raw.is_some_and(|raw| d.sink.escaped_event(timestamp, raw)) {
                                // Counted: an earlier `message` of the same event is not.
                                d.s.unpin();
                                d.s.consume_to(r.end + 1);
                                counted = true;
                                return Ok(());
                            }
                        }
                    }
                    oversized = d.pin_message()?;
                }
                Some(0) => {
                    if d.parse::<Option<serde::de::IgnoredAny>>()?.is_some() {
                        return Err(DecodeError::Shape("a log event's message must be a string".into()));
                    }
                }
                Some(_) => timestamp = d.timestamp()?,
                None => d.skip()?,
            }
            Ok(())
        })?;
        if !counted {
            self.emit_message(timestamp, oversized);
        }
        Ok(())
    }

    /// Reads a message string (at a `"`) and pins it in the buffer; true when it is longer than the
    /// line cap (then streamed past, not held).
    fn pin_message(&mut self) -> Result<bool, DecodeError> {
        match self.s.string(self.limits.max_line_bytes)? {
            Some(r) => {
                self.s.pin(r);
                Ok(false)
            }
            None => Ok(true),
        }
    }

    /// Hands the pinned message (or, when `oversized`, its stand-in) to the sink, and unpins it.
    fn emit_message(&mut self, timestamp: Option<EpochMillis>, oversized: bool) {
        if oversized {
            self.s.unpin();
            self.sink.oversized(timestamp, self.limits.max_line_bytes);
            return;
        }
        let bytes = self.s.pinned().unwrap_or_default();
        match std::str::from_utf8(bytes) {
            Ok(m) => self.sink.event(timestamp, m),
            // Not UTF-8: kept (as an unparsed line), never dropped.
            Err(_) => self.sink.event(timestamp, &String::from_utf8_lossy(bytes)),
        }
        self.s.unpin();
    }

    /// Ends the batch of Logs Insights rows, if one is open.
    fn close_rows(&mut self) {
        if std::mem::take(&mut self.rows) {
            self.sink.end_batch(&BatchInfo { kind: BatchKind::Export, log_group: None });
        }
    }

    /// A Logs Insights `@timestamp` (`2025-11-24 16:00:00.000`, UTC; or epoch milliseconds).
    fn insights_time(&mut self) -> Result<Option<EpochMillis>, DecodeError> {
        Ok(match self.parse::<serde_json::Value>()? {
            serde_json::Value::String(t) => crate::base::time::parse_iso8601(&t),
            serde_json::Value::Number(n) => n.as_i64(),
            _ => None,
        })
    }

    /// `aws logs get-query-results`' `results`: rows of `{field, value}` cells, each row one event
    /// (`@message` at `@timestamp`), all one batch.
    fn insights_results(&mut self) -> Result<(), DecodeError> {
        #[derive(serde::Deserialize)]
        struct Cell {
            field: String,
            value: Option<String>,
        }
        self.sink.begin_batch();
        let mut fields = Vec::new();
        self.elements("results", |d| {
            let (mut message, mut timestamp) = (None, None);
            fields.clear();
            d.elements("a Logs Insights result row", |d| {
                let cell: Cell = d.parse()?;
                match cell.field.as_str() {
                    "@message" => message = cell.value,
                    "@timestamp" => timestamp = cell.value.as_deref().and_then(crate::base::time::parse_iso8601),
                    _ if fields.len() < KEYS_NAMED => fields.push(key_for_message(&cell.field)),
                    _ => {}
                }
                Ok(())
            })?;
            match message {
                Some(m) => {
                    d.sink.event(timestamp, &m);
                    Ok(())
                }
                None => Err(DecodeError::Aggregated(fields.join(", "))),
            }
        })?;
        self.sink.end_batch(&BatchInfo { kind: BatchKind::Export, log_group: None });
        Ok(())
    }
}

/// The inverse of [`decode_data`]: gzip, then padded base64, as CloudWatch Logs sends it. For event
/// generators and tests.
pub fn encode_data(payload_json: &[u8]) -> String {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(payload_json);
    BASE64.encode(gz.finish().unwrap_or_default())
}

#[cfg(test)]
mod tests;
