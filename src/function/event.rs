//! What Lambda hands the function: a CloudWatch Logs subscription event, or a Kinesis Data Streams
//! event whose records carry the same gzip'd payloads.

use serde::Deserialize;

/// The invocation payload: a CloudWatch Logs subscription event, or a Kinesis Data Streams event
/// whose records carry the same gzip'd payloads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IncomingEvent {
    /// `{"awslogs":{"data":…}}`.
    pub awslogs: Option<AwsLogs>,
    /// Kinesis records.
    #[serde(rename = "Records")]
    pub records: Option<Vec<Record>>,
}

/// `awslogs` of a subscription event.
#[derive(Debug, Clone, Deserialize)]
pub struct AwsLogs {
    /// Base64 of the gzip'd payload.
    pub data: String,
}

/// One Kinesis record.
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    /// The record's data.
    pub kinesis: Option<KinesisData>,
}

/// The data of a Kinesis record.
#[derive(Debug, Clone, Deserialize)]
pub struct KinesisData {
    /// Base64 of the gzip'd payload.
    pub data: String,
    /// The record's sequence number in its shard (logged when the record is rejected).
    #[serde(rename = "sequenceNumber", default)]
    pub sequence_number: Option<String>,
}
