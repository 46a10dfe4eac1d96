//! Why an invocation failed, one variant per stage, and how Lambda reports it: the stage is the
//! error type, so a dashboard can count failures by where they happened.

use crate::aws::error::AwsError;
use crate::ingest::decode::DecodeError;
use lambda_runtime::Diagnostic;

/// Why an invocation failed: one variant per stage, so the error type names it.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event is neither a subscription event nor a Kinesis event.
    #[error("event shape: expected awslogs.data or Kinesis Records")]
    Shape,
    /// The payload failed to decode.
    #[error("decode: {0}")]
    Decode(#[from] DecodeError),
    /// The payload's log group cannot be a CloudWatch dimension value.
    #[error("log group {group:?}: {reason}, which CloudWatch refuses as a dimension value")]
    LogGroup {
        /// The name (cut to 100 characters).
        group: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// GetMetricData failed (nothing was sent or counted).
    #[error("GetMetricData: {0}")]
    ReadMetrics(AwsError),
    /// SNS Publish failed (nothing was counted).
    #[error("SNS Publish: {0}")]
    Publish(AwsError),
    /// PutMetricData of the alert markers failed (alerts were sent; counts were not written).
    #[error("PutMetricData: {0}")]
    PutMetrics(AwsError),
    /// The counts could not be printed.
    #[error("writing EMF counts: {0}")]
    Emf(std::io::Error),
}

impl HandlerError {
    /// The error type Lambda reports: the stage that failed.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Shape => "EventShape",
            HandlerError::Decode(DecodeError::Base64(_)) => "Decode.Base64",
            HandlerError::Decode(DecodeError::Gzip(_)) => "Decode.Gzip",
            HandlerError::Decode(DecodeError::TooLarge { .. }) => "Decode.TooLarge",
            HandlerError::Decode(DecodeError::Json(_)) => "Decode.Json",
            HandlerError::Decode(DecodeError::Shape(_) | DecodeError::Aggregated(_)) => "Decode.Shape",
            HandlerError::Decode(DecodeError::Io(_)) => "Decode.Io",
            HandlerError::LogGroup { .. } => "Decode.LogGroup",
            HandlerError::ReadMetrics(_) => "CloudWatch.GetMetricData",
            HandlerError::Publish(_) => "SNS.Publish",
            HandlerError::PutMetrics(_) => "CloudWatch.PutMetricData",
            HandlerError::Emf(_) => "EMF.Write",
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Diagnostic {
        Diagnostic { error_type: e.error_type().to_string(), error_message: e.to_string() }
    }
}
