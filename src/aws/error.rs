//! An AWS call failed: what kind of failure (throttled, timed out, refused…) and the SDK's own
//! explanation. Every module that calls AWS reports through this type, so the kind is never lost.

use aws_sdk_cloudwatch::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

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

/// An AWS call failed: its kind, and the SDK's full error chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct AwsError {
    /// What went wrong.
    pub kind: AwsErrorKind,
    /// The SDK's error chain (service code and message included).
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
    R: std::fmt::Debug,
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
    AwsError { kind, message: DisplayErrorContext(e).to_string() }
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
        assert!(e.to_string().starts_with("Throttling: ") && e.to_string().contains("Throttling"), "{e}");
    }
}
