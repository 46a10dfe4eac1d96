//! The one place SDK clients are made. Every client gets the same timeouts and counts its requests
//! (retries, pages and chunks included), so a summary's `aws_calls` is the number of requests AWS
//! saw, and no call can hang an invocation past [`OPERATION_TIMEOUT`].

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_cloudwatch::config::timeout::TimeoutConfig;
use aws_sdk_cloudwatch::config::{ConfigBag, Intercept, RuntimeComponents};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One attempt of any call: CloudWatch and SNS answer in well under a second; three seconds leave
/// room for a slow answer and still allow a retry inside the operation timeout.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// One call, retries included: a hung call ends the invocation's wait after this (the invocation
/// then fails cleanly, long before Lambda's own timeout, with nothing counted).
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// The SDK timeouts every client uses.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The standard AWS configuration chain (profile, region, `AWS_ENDPOINT_URL`).
pub async fn load_config() -> SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// Counts the requests a client sends (every attempt: retries, pages and chunks included).
#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<AtomicU64>);

impl CallCounter {
    /// Requests sent so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Clients over one SDK configuration whose requests one [`CallCounter`] counts.
#[derive(Debug, Clone)]
pub struct Clients {
    sdk: SdkConfig,
    calls: CallCounter,
    /// The function's [`timeouts`]; a CLI command keeps the SDK's own (a long FilterLogEvents page
    /// is no reason to give up).
    bounded: bool,
    /// The SDK retries failed calls (off for a caller that paces and retries its own calls: a
    /// retry the caller does not see would break its pace).
    retries: bool,
}

/// A client of one service: the configuration's settings, [`timeouts`] where bounded and the
/// configuration can sleep (one from aws-config can), and the counter.
macro_rules! client {
    ($(#[$doc:meta])* $name:ident, $krate:ident) => {
        $(#[$doc])*
        pub fn $name(&self) -> $krate::Client {
            let mut b = $krate::config::Builder::from(&self.sdk).interceptor(self.calls.clone());
            if self.bounded && self.sdk.sleep_impl().is_some() {
                b = b.timeout_config(timeouts());
            }
            if !self.retries {
                b = b.retry_config(aws_config::retry::RetryConfig::disabled());
            }
            $krate::Client::from_conf(b.build())
        }
    };
}

impl Clients {
    /// The function's clients over `sdk`, with [`timeouts`], counted by a counter of their own.
    pub fn new(sdk: &SdkConfig) -> Self {
        Clients { sdk: sdk.clone(), calls: CallCounter::default(), bounded: true, retries: true }
    }

    /// The same clients without the SDK's retries, for a caller that paces its calls and retries
    /// them itself (the sweep); same counter.
    pub fn unretried(&self) -> Self {
        Clients { retries: false, ..self.clone() }
    }

    /// A CLI command's clients over the standard configuration chain ([`load_config`]), with the
    /// SDK's own timeouts.
    pub async fn from_env() -> Self {
        Clients { bounded: false, ..Clients::new(&load_config().await) }
    }

    /// The counter of every request these clients sent.
    pub fn calls(&self) -> &CallCounter {
        &self.calls
    }

    client!(
        /// CloudWatch (metric reads and markers).
        cloudwatch,
        aws_sdk_cloudwatch
    );
    client!(
        /// SNS (alerts).
        sns,
        aws_sdk_sns
    );
    client!(
        /// CloudWatch Logs (log-group reads).
        logs,
        aws_sdk_cloudwatchlogs
    );
    client!(
        /// DynamoDB (the sweep's state).
        dynamodb,
        aws_sdk_dynamodb
    );
    client!(
        /// API Gateway, REST APIs.
        apigateway,
        aws_sdk_apigateway
    );
    client!(
        /// API Gateway, HTTP and WebSocket APIs.
        apigatewayv2,
        aws_sdk_apigatewayv2
    );
}
