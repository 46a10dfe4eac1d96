//! When an invocation runs and by when it must answer: the clock, Lambda's deadline, and the two
//! ways a call is held to it (an AWS call fails; an optional lookup is dropped).

use crate::aws::error::{AwsError, AwsErrorKind};
use crate::base::time::EpochMillis;
use std::time::Duration;
use tokio::time::Instant;

/// Time kept back from the deadline for printing the counts and answering Lambda.
const DEADLINE_RESERVE: Duration = Duration::from_millis(500);

/// When an invocation runs: the clock, and the time by which it must have answered.
#[derive(Debug, Clone, Copy)]
pub struct Invocation {
    /// Now, in epoch milliseconds.
    pub now: EpochMillis,
    /// Lambda's deadline for this invocation, if any.
    pub deadline: Option<Instant>,
}

impl Invocation {
    /// Now by the system clock, without a deadline.
    pub fn now() -> Invocation {
        Invocation::at(system_now())
    }

    /// At `now` (tests move the clock), without a deadline.
    pub fn at(now: EpochMillis) -> Invocation {
        Invocation { now, deadline: None }
    }

    /// With a deadline `remaining` from now.
    pub fn with_remaining(mut self, remaining: Duration) -> Invocation {
        self.deadline = Some(Instant::now() + remaining);
        self
    }

    /// The same invocation with at most `most` left (an earlier deadline stays).
    pub fn capped(mut self, most: Duration) -> Invocation {
        let cap = Instant::now() + most;
        self.deadline = Some(self.deadline.map_or(cap, |d| d.min(cap)));
        self
    }
}

/// The system clock in epoch milliseconds.
pub fn system_now() -> EpochMillis {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as EpochMillis)
}

/// Runs an AWS call, giving up (as a failed call) when the invocation's deadline, less what the
/// counts need, arrives first.
pub async fn within<T>(
    inv: Invocation,
    call: impl std::future::Future<Output = Result<T, AwsError>>,
) -> Result<T, AwsError> {
    let Some(deadline) = inv.deadline else { return call.await };
    let until = deadline.checked_sub(DEADLINE_RESERVE).unwrap_or(deadline);
    if Instant::now() >= until {
        return Err(AwsError::new(AwsErrorKind::Deadline, "no time left before the invocation's deadline"));
    }
    match tokio::time::timeout_at(until, call).await {
        Ok(r) => r,
        Err(_) => Err(AwsError::new(AwsErrorKind::Deadline, "cut short by the invocation's deadline")),
    }
}

/// Runs a context lookup (optional by nature) within the invocation's deadline, less what the alerts
/// and counts need: out of time, the alert goes without its context.
pub async fn with_deadline<T: Default>(inv: Invocation, lookup: impl std::future::Future<Output = T>) -> T {
    let Some(deadline) = inv.deadline else { return lookup.await };
    let until = deadline.checked_sub(DEADLINE_RESERVE * 4).unwrap_or(deadline);
    tokio::time::timeout_at(until, lookup).await.unwrap_or_else(|_| {
        tracing::warn!("alert context omitted: the invocation's deadline is near");
        T::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_keeps_the_earlier_deadline() {
        let unbounded = Invocation::at(0).capped(Duration::from_secs(120));
        let left = unbounded.deadline.map(|d| d.saturating_duration_since(Instant::now()));
        assert!(left.is_some_and(|l| l > Duration::from_secs(110) && l <= Duration::from_secs(120)), "{left:?}");
        let short = Invocation::at(0).with_remaining(Duration::from_secs(5)).capped(Duration::from_secs(120));
        let left = short.deadline.map(|d| d.saturating_duration_since(Instant::now()));
        assert!(left.is_some_and(|l| l <= Duration::from_secs(5)), "{left:?}");
    }
}
