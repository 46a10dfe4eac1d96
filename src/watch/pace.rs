//! How fast the sweep calls each control plane. Calls are spaced, never bursted: one every
//! `1 / rate` seconds at most, so no second ever holds more than `rate` calls. A throttled call
//! (`TooManyRequestsException`, `ThrottlingException`) doubles the spacing, up to
//! [`MAX_SPACING`]; each answered call takes a quarter of the extra back off. The SDK's own
//! retries are off for these calls, so this is the only place a call is repeated.
//!
//! API Gateway allows 10 control-plane requests a second per account and Region, shared with
//! every other caller (the console, deploy pipelines); the sweep takes 2 by default.

use std::time::Duration;

/// API Gateway control-plane calls a second, by default.
pub const DEFAULT_APIGATEWAY_PER_SECOND: u32 = 2;
/// CloudWatch Logs calls a second (describe, put and delete filters, list groups), by default.
pub const DEFAULT_LOGS_PER_SECOND: u32 = 5;
/// The most calls a second the settings accept: API Gateway's total for control-plane calls per
/// account and Region ("Total operations" in its quotas).
pub const MAX_PER_SECOND: u32 = 10;
/// The widest spacing backing off reaches.
pub const MAX_SPACING: Duration = Duration::from_secs(10);
/// Throttled answers in a row after which a run stops and leaves the rest to the next run.
pub const MAX_THROTTLED_IN_A_ROW: u32 = 6;

/// Spaces the calls to one control plane. Times are offsets from any fixed origin (the shell
/// passes the time since its clock started), so the pacer is a pure function of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pacer {
    base: Duration,
    spacing: Duration,
    next: Duration,
    throttled: u32,
}

impl Pacer {
    /// At most `per_second` calls a second (at least one).
    pub fn per_second(per_second: u32) -> Pacer {
        // Rounded up, so that `per_second` spacings never fall short of a second.
        let base = Duration::from_nanos(1_000_000_000u64.div_ceil(u64::from(per_second.max(1))));
        Pacer { base, spacing: base, next: Duration::ZERO, throttled: 0 }
    }

    /// Takes the next call's slot at `now`: how long to wait before sending it.
    pub fn reserve(&mut self, now: Duration) -> Duration {
        let at = now.max(self.next);
        self.next = at + self.spacing;
        at - now
    }

    /// The call just sent was throttled: space further (the next slot moves back too). True when
    /// the run should stop ([`MAX_THROTTLED_IN_A_ROW`]).
    pub fn throttled(&mut self) -> bool {
        self.spacing = (self.spacing * 2).min(MAX_SPACING).max(self.base);
        self.next += self.spacing;
        self.throttled += 1;
        self.throttled >= MAX_THROTTLED_IN_A_ROW
    }

    /// The call just sent was answered: a quarter of the extra spacing goes.
    pub fn answered(&mut self) {
        let extra = (self.spacing - self.base) * 3 / 4;
        // Under a millisecond of extra is none.
        self.spacing = if extra < Duration::from_millis(1) { self.base } else { self.base + extra };
        self.throttled = 0;
    }

    /// The spacing now.
    pub fn spacing(&self) -> Duration {
        self.spacing
    }

    /// The narrowest spacing: the documented pace.
    pub fn base(&self) -> Duration {
        self.base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn calls_are_spaced_and_back_off() {
        let mut p = Pacer::per_second(2);
        assert_eq!(p.reserve(Duration::ZERO), Duration::ZERO);
        assert_eq!(p.reserve(Duration::ZERO), Duration::from_millis(500));
        assert_eq!(p.reserve(Duration::from_secs(5)), Duration::ZERO, "idle time is not banked");
        assert!(!p.throttled());
        assert_eq!(p.spacing(), Duration::from_secs(1));
        for _ in 0..4 {
            assert!(!p.throttled());
        }
        assert_eq!(p.spacing(), MAX_SPACING);
        assert!(p.throttled(), "the sixth in a row ends the run");
        p.answered();
        assert_eq!(p.spacing(), Duration::from_millis(7_625));
        for _ in 0..40 {
            p.answered();
        }
        assert_eq!(p.spacing(), p.base());
    }

    proptest! {
        /// Whatever the answers and the caller's timing, no second holds more than `rate` calls.
        #[test]
        fn never_faster_than_the_rate(rate in 1u32..=10, steps in prop::collection::vec((0u64..700, any::<bool>()), 1..200)) {
            let mut p = Pacer::per_second(rate);
            let mut now = Duration::ZERO;
            let mut sent = Vec::new();
            for (gap_ms, throttled) in steps {
                now += Duration::from_millis(gap_ms);
                now += p.reserve(now);
                sent.push(now);
                if throttled { p.throttled(); } else { p.answered(); }
            }
            for (i, t) in sent.iter().enumerate() {
                let within = sent[i..].iter().take_while(|s| **s < *t + Duration::from_secs(1)).count();
                prop_assert!(within as u32 <= rate, "{} calls in the second from {:?}", within, t);
            }
        }
    }
}
