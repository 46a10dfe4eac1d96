//! From bytes to log events: subscription events (`{"awslogs":{"data":…}}`), decoded payloads
//! (`messageType`, `logEvents`), `filter-log-events` output (`{"events":[…]}`), arrays of those, and
//! Kinesis record data. JSON is streamed: events reach the [`EventSink`] one at a time and the inner
//! payload is never held whole. Decompression is capped, so a gzip bomb is an error, not an OOM.

use crate::time::EpochMillis;
use base64::engine::{general_purpose::GeneralPurposeConfig, DecodePaddingMode, Engine, GeneralPurpose};
use json_stream::{JsonStream, StreamError};
use std::io::{self, Read};

mod json_stream;

/// Default cap on the decompressed size of one subscription payload.
pub const DEFAULT_MAX_INNER_BYTES: u64 = 64 * 1024 * 1024;
/// Nesting of subscription events inside arrays beyond which input is refused.
const MAX_ARRAY_DEPTH: u8 = 4;

/// Why input could not be decoded: one variant per stage.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// `awslogs.data` (or a Kinesis record's data) is not base64.
    #[error("data is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// The gzip stream is corrupt or truncated.
    #[error("gzip data is corrupt or truncated: {0}")]
    Gzip(io::Error),
    /// Decompressed data passed the cap.
    #[error("decompressed payload exceeds the cap of {limit} bytes (gzip bomb?)")]
    TooLarge {
        /// The cap, in bytes.
        limit: u64,
    },
    /// The (decompressed) data is not JSON.
    #[error("payload is not valid JSON: {0}")]
    Json(String),
    /// Valid JSON that is none of the known shapes.
    #[error("unexpected JSON shape: {0}")]
    Shape(String),
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
}

/// Decoding limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Cap on the decompressed bytes of one subscription payload.
    pub max_inner_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_inner_bytes: DEFAULT_MAX_INNER_BYTES }
    }
}

/// Base64 with or without padding: CloudWatch pads, some tools (and `aws_lambda_events`' serializer) do not.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes `awslogs.data` or a Kinesis record's data: base64 of a gzip'd payload (or of plain JSON).
pub fn decode_data(data: &str, limits: Limits, sink: &mut dyn EventSink) -> Result<(), DecodeError> {
    let bytes = BASE64.decode(data.trim())?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let gz = flate2::bufread::MultiGzDecoder::new(&bytes[..]);
        let mut capped = Capped { inner: gz, remaining: limits.max_inner_bytes, exceeded: false };
        let result = read_json(&mut capped, limits, false, sink);
        if capped.exceeded {
            return Err(DecodeError::TooLarge { limit: limits.max_inner_bytes });
        }
        result.map_err(|e| match e {
            DecodeError::Io(io) => DecodeError::Gzip(io),
            other => other,
        })
    } else {
        read_json(&bytes[..], limits, false, sink)
    }
}

/// Streams a JSON document of any known shape from `reader`.
pub fn read_document<R: Read>(reader: R, limits: Limits, sink: &mut dyn EventSink) -> Result<(), DecodeError> {
    read_json(reader, limits, true, sink)
}

fn read_json<R: Read>(
    reader: R,
    limits: Limits,
    allow_envelope: bool,
    sink: &mut dyn EventSink,
) -> Result<(), DecodeError> {
    let mut doc = Document { s: JsonStream::new(reader), sink, limits, allow_envelope, message: Vec::new() };
    doc.value(0)?;
    match doc.s.peek()? {
        None => Ok(()),
        Some(_) => Err(doc.s.syntax("trailing characters").into()),
    }
}

impl From<StreamError> for DecodeError {
    fn from(e: StreamError) -> Self {
        match e {
            StreamError::Io(e) => DecodeError::Io(e),
            StreamError::Syntax(what) => DecodeError::Json(what),
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

const EXPECTED: &str = "expected an object with awslogs, Records, logEvents or events";

/// Walks a document of a known shape: an object, or (for exports) an array of them.
struct Document<'a, R> {
    s: JsonStream<R>,
    sink: &'a mut dyn EventSink,
    limits: Limits,
    allow_envelope: bool,
    /// Reused for every event's message: no allocation per event.
    message: Vec<u8>,
}

/// serde_json's verdict on a value we parse: syntax is `Json`, a wrong type is `Shape`.
fn parsed(e: serde_json::Error) -> DecodeError {
    match e.classify() {
        serde_json::error::Category::Data => DecodeError::Shape(e.to_string()),
        _ => DecodeError::Json(e.to_string()),
    }
}

impl<R: Read> Document<'_, R> {
    fn value(&mut self, depth: u8) -> Result<(), DecodeError> {
        match self.s.peek()? {
            Some(b'{') => self.object(),
            Some(b'[') if self.allow_envelope && depth < MAX_ARRAY_DEPTH => {
                self.s.expect(b'[')?;
                if self.s.empty(b']')? {
                    return Ok(());
                }
                loop {
                    self.value(depth + 1)?;
                    if !self.s.more(b']')? {
                        return Ok(());
                    }
                }
            }
            Some(b'[') => Err(DecodeError::Shape(format!("{EXPECTED}, found an array"))),
            Some(b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => Err(DecodeError::Shape(EXPECTED.into())),
            Some(_) => Err(self.s.syntax("not JSON").into()),
            None => Err(DecodeError::Json("empty input".into())),
        }
    }

    /// Parses the next value with serde_json.
    fn parse<'de, T: serde::Deserialize<'de>>(&'de mut self) -> Result<T, DecodeError> {
        let r = self.s.value()?;
        serde_json::from_slice(&self.s.bytes()[r]).map_err(parsed)
    }

    fn object(&mut self) -> Result<(), DecodeError> {
        self.s.expect(b'{')?;
        let (mut message_type, mut log_group, mut events_key, mut envelope) = (None::<String>, None, None, false);
        if !self.s.empty(b'}')? {
            loop {
                match self.s.key(&[b"awslogs", b"logEvents", b"events", b"messageType", b"logGroup", b"Records"])? {
                    Some(0) if self.allow_envelope => {
                        self.data_object("awslogs")?;
                        envelope = true;
                    }
                    Some(5) if self.allow_envelope => {
                        self.kinesis_records()?;
                        envelope = true;
                    }
                    Some(k @ (1 | 2)) => {
                        events_key = Some(k == 1);
                        self.sink.begin_batch();
                        self.events()?;
                    }
                    Some(3) => message_type = Some(self.parse::<String>()?),
                    Some(4) => log_group = self.parse::<Option<String>>()?,
                    _ => {
                        self.s.value()?;
                    }
                }
                if !self.s.more(b'}')? {
                    break;
                }
            }
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
            (None, _) => return Err(DecodeError::Shape(EXPECTED.into())),
        };
        self.sink.end_batch(&BatchInfo { kind, log_group });
        Ok(())
    }

    /// Kinesis `Records`: each record's `kinesis.data` is one payload.
    fn kinesis_records(&mut self) -> Result<(), DecodeError> {
        if self.s.peek()? != Some(b'[') {
            return Err(DecodeError::Shape("Records must be an array".into()));
        }
        self.s.expect(b'[')?;
        if self.s.empty(b']')? {
            return Ok(());
        }
        loop {
            self.s.expect(b'{')?;
            if !self.s.empty(b'}')? {
                loop {
                    if self.s.key(&[b"kinesis"])? == Some(0) {
                        self.data_object("kinesis")?;
                    } else {
                        self.s.value()?;
                    }
                    if !self.s.more(b'}')? {
                        break;
                    }
                }
            }
            if !self.s.more(b']')? {
                return Ok(());
            }
        }
    }

    /// `{"data": "<base64>"}` (`awslogs`, or a Kinesis record's `kinesis`): decoded on the spot, so
    /// only one payload is in flight at a time.
    fn data_object(&mut self, name: &str) -> Result<(), DecodeError> {
        if self.s.peek()? != Some(b'{') {
            return Err(DecodeError::Shape(format!("{name} must be an object with a data string")));
        }
        self.s.expect(b'{')?;
        let mut seen = false;
        if !self.s.empty(b'}')? {
            loop {
                if self.s.key(&[b"data"])? == Some(0) {
                    let data: std::borrow::Cow<'_, str> = self.parse()?;
                    let data = data.into_owned();
                    decode_data(&data, self.limits, &mut *self.sink)?;
                    seen = true;
                } else {
                    self.s.value()?;
                }
                if !self.s.more(b'}')? {
                    break;
                }
            }
        }
        if seen {
            Ok(())
        } else {
            Err(DecodeError::Shape(format!("{name} has no data")))
        }
    }

    /// `logEvents` / `events`: each element goes to the sink as soon as it is read.
    fn events(&mut self) -> Result<(), DecodeError> {
        if self.s.peek()? != Some(b'[') {
            return Err(DecodeError::Shape("logEvents must be an array".into()));
        }
        self.s.expect(b'[')?;
        if self.s.empty(b']')? {
            return Ok(());
        }
        loop {
            let timestamp = self.event()?;
            let bytes = self.s.pinned().unwrap_or(&self.message);
            match std::str::from_utf8(bytes) {
                Ok(m) => self.sink.event(timestamp, m),
                // Not UTF-8: kept (as an unparsed line), never dropped.
                Err(_) => self.sink.event(timestamp, &String::from_utf8_lossy(bytes)),
            }
            self.s.unpin();
            if !self.s.more(b']')? {
                return Ok(());
            }
        }
    }

    /// One log event: its timestamp is returned; its message is left pinned in the stream (when it
    /// is the last field, as CloudWatch writes it) or copied into `self.message`.
    fn event(&mut self) -> Result<Option<EpochMillis>, DecodeError> {
        self.message.clear();
        if self.s.peek()? != Some(b'{') {
            return Err(DecodeError::Shape("a log event must be an object".into()));
        }
        self.s.expect(b'{')?;
        let mut timestamp = None;
        if self.s.empty(b'}')? {
            return Ok(None);
        }
        loop {
            match self.s.key(&[b"message", b"timestamp"])? {
                Some(0) if self.s.peek()? == Some(b'"') => {
                    let r = self.s.string()?;
                    self.s.pin(r);
                }
                Some(0) => match self.parse::<Option<serde::de::IgnoredAny>>()? {
                    None => {}
                    Some(_) => return Err(DecodeError::Shape("a log event's message must be a string".into())),
                },
                Some(_) => timestamp = self.parse::<Option<f64>>()?.map(|t| t as EpochMillis),
                None => {
                    self.s.value()?;
                }
            }
            if !self.s.more(b'}')? {
                return Ok(timestamp);
            }
            if let Some(m) = self.s.pinned() {
                // Another field follows: keep the message aside rather than pin the stream long.
                self.message.clear();
                self.message.extend_from_slice(m);
                self.s.unpin();
            }
        }
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
