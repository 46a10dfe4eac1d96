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
    /// A payload met in a document (`awslogs.data`, a Kinesis record's `data`), still encoded.
    /// Handing it back has it decoded here and now, into this sink; a sink that decodes payloads
    /// elsewhere (on other threads) keeps it and returns `None`.
    fn payload(&mut self, data: String) -> Option<String> {
        Some(data)
    }
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
    let mut doc = Document { s: JsonStream::new(reader), sink, limits, allow_envelope };
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
                self.elements("an array of events", |d| d.value(depth + 1))
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

    /// Walks an object (`what` names it in errors): `field` gets the index of each key in `names`
    /// (or `None`) and must consume its value.
    fn fields(
        &mut self,
        what: &str,
        names: &[&[u8]],
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
            let key = self.s.key(names)?;
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

    /// Skips a value we do not read.
    fn skip(&mut self) -> Result<(), DecodeError> {
        self.s.value()?;
        Ok(())
    }

    fn object(&mut self) -> Result<(), DecodeError> {
        let (mut message_type, mut log_group, mut events_key, mut envelope) = (None::<String>, None, None, false);
        let names: [&[u8]; 6] = [b"awslogs", b"logEvents", b"events", b"messageType", b"logGroup", b"Records"];
        self.fields("a document", &names, |d, key| {
            match key {
                Some(0) if d.allow_envelope => {
                    d.data_object("awslogs")?;
                    envelope = true;
                }
                Some(5) if d.allow_envelope => {
                    // Kinesis: each record's `kinesis.data` is one payload.
                    d.elements("Records", |d| {
                        d.fields("a Kinesis record", &[b"kinesis"], |d, k| match k {
                            Some(_) => d.data_object("kinesis"),
                            None => d.skip(),
                        })
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

    /// `{"data": "<base64>"}` (`awslogs`, or a Kinesis record's `kinesis`): decoded on the spot, so
    /// only one payload is in flight at a time.
    fn data_object(&mut self, name: &str) -> Result<(), DecodeError> {
        let mut seen = false;
        self.fields(name, &[b"data"], |d, key| {
            if key.is_none() {
                return d.skip();
            }
            let data: std::borrow::Cow<'_, str> = d.parse()?;
            seen = true;
            match d.sink.payload(data.into_owned()) {
                Some(data) => decode_data(&data, d.limits, &mut *d.sink),
                None => Ok(()),
            }
        })?;
        if seen {
            Ok(())
        } else {
            Err(DecodeError::Shape(format!("{name} has no data")))
        }
    }

    /// One log event, handed to the sink. Its message is unescaped in place in the stream's buffer
    /// and pinned there (compaction keeps it) until the sink has seen it: no copy, no allocation.
    fn event(&mut self) -> Result<(), DecodeError> {
        let mut timestamp = None;
        self.fields("a log event", &[b"message", b"timestamp"], |d, key| {
            match key {
                Some(0) if d.s.peek()? == Some(b'"') => {
                    let r = d.s.string()?;
                    d.s.pin(r);
                }
                Some(0) => {
                    if d.parse::<Option<serde::de::IgnoredAny>>()?.is_some() {
                        return Err(DecodeError::Shape("a log event's message must be a string".into()));
                    }
                }
                Some(_) => timestamp = d.parse::<Option<f64>>()?.map(|t| t as EpochMillis),
                None => d.skip()?,
            }
            Ok(())
        })?;
        let bytes = self.s.pinned().unwrap_or_default();
        match std::str::from_utf8(bytes) {
            Ok(m) => self.sink.event(timestamp, m),
            // Not UTF-8: kept (as an unparsed line), never dropped.
            Err(_) => self.sink.event(timestamp, &String::from_utf8_lossy(bytes)),
        }
        self.s.unpin();
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
