//! The one place SDK clients are made. Every client counts its requests (retries, pages and chunks
//! included), so a summary's `aws_calls` is the number of requests AWS saw. The function's clients
//! get the same timeouts, so no call can hang an invocation past [`OPERATION_TIMEOUT`]; a CLI
//! command's clients get patient retries instead ([`cli_retries`]), so that throttling slows a
//! read down and does not end it.

use crate::aws::error::{AwsError, AwsErrorKind};
use aws_config::retry::{RetryConfig, RetryMode};
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

/// Attempts of one CLI call, the first included. With the SDK's backoff (a random wait of up to 1,
/// 2, 4, 8, 16, then 20 s before each retry), a call gives up after at most about two minutes of
/// throttling (one on average), not after three tries.
pub const CLI_MAX_ATTEMPTS: u32 = 10;

/// A CLI command's retries: the SDK's standard mode (exponential backoff with jitter, throttling
/// and transient errors retried) with [`CLI_MAX_ATTEMPTS`]. Not the adaptive mode: its client-side
/// rate limiter, in this SDK's default retry behaviour, starves a sequential reader after a few
/// throttles (five FilterLogEvents pages under six throttled calls took 120 s, against 7 s in
/// standard mode; smithy-rs pull request 4749 fixes it for retry behaviour 2.1 only), and a CLI
/// read, one page after another, gains nothing from rate limiting.
pub fn cli_retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(CLI_MAX_ATTEMPTS)
}

/// The SDK timeouts the function's clients use.
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

/// `sdk` with [`cli_retries`], unless the environment set retries (`env_sets`) or the profile did
/// (the chain then gives something other than its default: standard mode, 3 attempts).
fn with_cli_retries(sdk: SdkConfig, env_sets: bool) -> SdkConfig {
    if env_sets || sdk.retry_config().is_some_and(|r| *r != RetryConfig::standard()) {
        return sdk;
    }
    sdk.into_builder().retry_config(cli_retries()).build()
}

/// Whether the environment sets retries (`AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE`), checked as
/// aws-config reads them (it panics on a bad value).
fn retry_env(var: impl Fn(&str) -> Option<String>) -> Result<bool, String> {
    let attempts = var("AWS_MAX_ATTEMPTS");
    if let Some(v) = &attempts {
        if !v.parse::<u32>().is_ok_and(|n| n >= 1) {
            return Err(format!("AWS_MAX_ATTEMPTS={v}: expected a whole number of at least 1"));
        }
    }
    let mode = var("AWS_RETRY_MODE");
    if let Some(v) = &mode {
        if v.parse::<RetryMode>().is_err() {
            return Err(format!("AWS_RETRY_MODE={v}: expected standard or adaptive"));
        }
    }
    Ok(attempts.is_some() || mode.is_some())
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
    /// SDK's own timeouts and [`cli_retries`], unless that chain sets retries of its own
    /// (`AWS_RETRY_MODE`, `AWS_MAX_ATTEMPTS`, or `retry_mode` / `max_attempts` in the profile).
    /// A bad `AWS_RETRY_MODE` or `AWS_MAX_ATTEMPTS` is an error here (aws-config would panic).
    pub async fn from_env() -> Result<Self, AwsError> {
        let env_sets =
            retry_env(|name| std::env::var(name).ok()).map_err(|e| AwsError::new(AwsErrorKind::Request, e))?;
        Ok(Clients { bounded: false, ..Clients::new(&with_cli_retries(load_config().await, env_sets)) })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_retries_patiently_unless_told_otherwise() {
        let default = SdkConfig::builder().retry_config(RetryConfig::standard()).build();
        let r = with_cli_retries(default.clone(), false).retry_config().cloned().unwrap();
        assert_eq!((r.mode(), r.max_attempts()), (RetryMode::Standard, CLI_MAX_ATTEMPTS));
        let attempts =
            |sdk: SdkConfig, env_sets| with_cli_retries(sdk, env_sets).retry_config().unwrap().max_attempts();
        assert_eq!(attempts(default, true), 3, "AWS_MAX_ATTEMPTS=3 is taken as asked");
        assert_eq!(attempts(SdkConfig::builder().build(), false), CLI_MAX_ATTEMPTS);
        let own = SdkConfig::builder().retry_config(RetryConfig::standard().with_max_attempts(2)).build();
        assert_eq!(attempts(own, false), 2, "the profile's own");
        let adaptive = SdkConfig::builder().retry_config(RetryConfig::adaptive()).build();
        assert_eq!(with_cli_retries(adaptive, false).retry_config().map(RetryConfig::mode), Some(RetryMode::Adaptive));
    }

    #[test]
    fn bad_retry_settings_are_one_line_not_a_panic() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(retry_env(env(&[])), Ok(false));
        assert_eq!(retry_env(env(&[("AWS_MAX_ATTEMPTS", "4"), ("AWS_RETRY_MODE", "adaptive")])), Ok(true));
        assert_eq!(retry_env(env(&[("AWS_RETRY_MODE", "standard")])), Ok(true));
        assert_eq!(
            retry_env(env(&[("AWS_MAX_ATTEMPTS", "0")])),
            Err("AWS_MAX_ATTEMPTS=0: expected a whole number of at least 1".into())
        );
        assert_eq!(
            retry_env(env(&[("AWS_RETRY_MODE", "eager")])),
            Err("AWS_RETRY_MODE=eager: expected standard or adaptive".into())
        );
    }
}
