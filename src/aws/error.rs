//! An AWS call failed: what kind of failure (throttled, timed out, refused…) and the SDK's own
//! explanation, on one line. Every module that calls AWS reports through this type, so the kind is
//! never lost.

use aws_sdk_cloudwatch::error::{ProvideErrorMetadata, SdkError};

/// What kind of failure an AWS call had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// The service throttled the call (not applied).
    Throttling,
    /// No answer in time (it may have been applied).
    Timeout,
    /// The connection failed or the answer could not be read (it may have been applied).
    Connection,
    /// The service answered with an error (a 5xx may have been applied).
    Service,
    /// The request could not be built or was refused as invalid.
    Request,
    /// The invocation's deadline left no time for the call.
    Deadline,
}

/// An AWS call failed: its kind, and the SDK's explanation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct AwsError {
    /// What went wrong.
    pub kind: AwsErrorKind,
    /// One line: the service's error code and message, or the SDK's error and its causes.
    pub message: String,
}

impl AwsError {
    /// An error of `kind`.
    pub fn new(kind: AwsErrorKind, message: impl Into<String>) -> AwsError {
        AwsError { kind, message: message.into() }
    }
}

/// Error codes AWS services use for throttling.
const THROTTLING_CODES: [&str; 7] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "LimitExceededException",
];

/// Classifies an SDK error.
pub fn classify<E, R>(e: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + 'static,
{
    let kind = match &e {
        SdkError::TimeoutError(_) => AwsErrorKind::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => AwsErrorKind::Timeout,
        SdkError::DispatchFailure(d) if d.is_user() => AwsErrorKind::Request,
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => AwsErrorKind::Connection,
        SdkError::ServiceError(s) if s.err().code().is_some_and(|c| THROTTLING_CODES.contains(&c)) => {
            AwsErrorKind::Throttling
        }
        SdkError::ServiceError(_) => AwsErrorKind::Service,
        _ => AwsErrorKind::Request,
    };
    let message = match &e {
        SdkError::ServiceError(s) => {
            let (code, text) = (s.err().code().unwrap_or("unknown error"), s.err().message().unwrap_or_default());
            one_line(&format!("{code}: {text}"))
        }
        _ => causes(&e),
    };
    AwsError { kind, message }
}

/// An error and its sources, each said once, on one line. (The SDK's `DisplayErrorContext` appends
/// a multi-kilobyte debug dump.)
pub fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    one_line(&out)
}

/// `text` with every run of whitespace (line breaks included) made one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudwatch::config::http::HttpResponse;
    use aws_sdk_cloudwatch::error::ErrorMetadata;
    use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataError;

    fn service(code: &str) -> SdkError<GetMetricDataError, HttpResponse> {
        let err = GetMetricDataError::generic(ErrorMetadata::builder().code(code).message("m").build());
        let raw = HttpResponse::new(500.try_into().unwrap(), aws_smithy_types::body::SdkBody::empty());
        SdkError::service_error(err, raw)
    }

    #[test]
    fn errors_keep_their_kind() {
        assert_eq!(classify(service("Throttling")).kind, AwsErrorKind::Throttling);
        assert_eq!(classify(service("InternalServiceError")).kind, AwsErrorKind::Service);
        let t: SdkError<GetMetricDataError, HttpResponse> = SdkError::timeout_error("slow");
        assert_eq!(classify(t).kind, AwsErrorKind::Timeout);
        let c: SdkError<GetMetricDataError, HttpResponse> = SdkError::construction_failure("bad");
        assert_eq!(classify(c).kind, AwsErrorKind::Request);
        let e = classify(service("Throttling"));
        assert_eq!(e.to_string(), "Throttling: Throttling: m");
    }

    #[test]
    fn every_message_is_one_line_without_a_debug_dump() {
        let io = std::io::Error::other("connection refused\nby peer");
        let d: SdkError<GetMetricDataError, HttpResponse> =
            SdkError::dispatch_failure(aws_sdk_cloudwatch::error::ConnectorError::io(io.into()));
        let e = classify(d);
        assert_eq!(e.message, "dispatch failure: io error: connection refused by peer");
        assert_eq!(e.kind, AwsErrorKind::Connection);
    }
}
