//! From bytes to log events: subscription events (`{"awslogs":{"data":…}}`), decoded payloads
//! (`messageType`, `logEvents`), `filter-log-events` output (`{"events":[…]}`), arrays of those, and
//! Kinesis record data. JSON is streamed: events reach the [`EventSink`] one at a time and the inner
//! payload is never held whole. Decompression is capped, so a gzip bomb is an error, not an OOM.

use crate::time::EpochMillis;
use base64::engine::{general_purpose::GeneralPurposeConfig, DecodePaddingMode, Engine, GeneralPurpose};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::io::{self, BufReader, Read};

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
    Json(serde_json::Error),
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
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(64 * 1024, reader));
    let mut failure = None;
    let doc = Document { sink, limits, allow_envelope, failure: &mut failure, depth: 0 };
    let result = doc.deserialize(&mut de).and_then(|()| de.end());
    match (failure, result) {
        (Some(e), _) => Err(e),
        (None, Ok(())) => Ok(()),
        (None, Err(e)) => Err(match e.classify() {
            serde_json::error::Category::Io => DecodeError::Io(e.into()),
            serde_json::error::Category::Data => DecodeError::Shape(e.to_string()),
            _ => DecodeError::Json(e),
        }),
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

/// A top-level JSON value: an object of a known shape or an array of them.
struct Document<'a> {
    sink: &'a mut dyn EventSink,
    limits: Limits,
    allow_envelope: bool,
    failure: &'a mut Option<DecodeError>,
    depth: u8,
}

impl<'de> DeserializeSeed<'de> for Document<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

const EXPECTED: &str = "an object with awslogs, logEvents or events";

impl<'de> Visitor<'de> for Document<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if !self.allow_envelope || self.depth >= MAX_ARRAY_DEPTH {
            return Err(de::Error::custom(format!("expected {EXPECTED}, found an array")));
        }
        while seq
            .next_element_seed(Document {
                sink: &mut *self.sink,
                limits: self.limits,
                allow_envelope: true,
                failure: &mut *self.failure,
                depth: self.depth + 1,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut message_type, mut log_group, mut events_key, mut envelope) = (None::<String>, None, None, false);
        let mut message = String::new();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::AwsLogs if self.allow_envelope => {
                    map.next_value_seed(AwsLogs {
                        sink: &mut *self.sink,
                        limits: self.limits,
                        failure: &mut *self.failure,
                    })?;
                    envelope = true;
                }
                k @ (Key::LogEvents | Key::Events) => {
                    self.sink.begin_batch();
                    map.next_value_seed(Events { sink: &mut *self.sink, message: &mut message })?;
                    events_key = Some(k == Key::LogEvents);
                }
                Key::MessageType => message_type = Some(map.next_value::<String>()?),
                Key::LogGroup => log_group = map.next_value::<Option<String>>()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
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
            (None, _) => return Err(de::Error::custom(format!("expected {EXPECTED}"))),
        };
        self.sink.end_batch(&BatchInfo { kind, log_group });
        Ok(())
    }
}

/// The object keys this module reads, matched without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    AwsLogs,
    LogEvents,
    Events,
    MessageType,
    LogGroup,
    Data,
    Message,
    Timestamp,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "awslogs" => Key::AwsLogs,
                    "logEvents" => Key::LogEvents,
                    "events" => Key::Events,
                    "messageType" => Key::MessageType,
                    "logGroup" => Key::LogGroup,
                    "data" => Key::Data,
                    "message" => Key::Message,
                    "timestamp" => Key::Timestamp,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// `{"data": "<base64>"}`: decoded on the spot, so only one payload is in flight at a time.
struct AwsLogs<'a> {
    sink: &'a mut dyn EventSink,
    limits: Limits,
    failure: &'a mut Option<DecodeError>,
}

impl<'de> DeserializeSeed<'de> for AwsLogs<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for AwsLogs<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("awslogs: an object with a data string")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<Key>()? {
            if key == Key::Data {
                let data = map.next_value::<std::borrow::Cow<'_, str>>()?;
                if let Err(e) = decode_data(&data, self.limits, &mut *self.sink) {
                    let line = e.to_string();
                    *self.failure = Some(e);
                    return Err(de::Error::custom(line));
                }
                seen = true;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if seen {
            Ok(())
        } else {
            Err(de::Error::custom("awslogs has no data"))
        }
    }
}

/// `logEvents` / `events`: each element goes to the sink as soon as it is read.
struct Events<'a> {
    sink: &'a mut dyn EventSink,
    message: &'a mut String,
}

impl<'de> DeserializeSeed<'de> for Events<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Events<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of log events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(timestamp) = seq.next_element_seed(Event { message: &mut *self.message })? {
            self.sink.event(timestamp, self.message);
        }
        Ok(())
    }
}

/// One log event: its timestamp is returned, its message left in the reused buffer.
struct Event<'a> {
    message: &'a mut String,
}

impl<'de> DeserializeSeed<'de> for Event<'_> {
    type Value = Option<EpochMillis>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Event<'_> {
    type Value = Option<EpochMillis>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a log event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        self.message.clear();
        let mut timestamp = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Message => map.next_value_seed(Message(&mut *self.message))?,
                Key::Timestamp => timestamp = map.next_value::<Option<f64>>()?.map(|t| t as EpochMillis),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(timestamp)
    }
}

/// A message string copied into a reused buffer: no allocation per event.
struct Message<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for Message<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Message<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a message string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.push_str(v);
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;

/// The inverse of [`decode_data`]: gzip, then padded base64, as CloudWatch Logs sends it. For event
/// generators and tests.
pub fn encode_data(payload_json: &[u8]) -> String {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(payload_json);
    BASE64.encode(gz.finish().unwrap_or_default())
}
