//! A log group's own normal: its 4xx rate over the last 7 days, from the function's hourly
//! `Requests` and `ClientErrors` metrics, the current window left out. It says whether a window is
//! unusual for this API, and with `SPIKE_FACTOR` it can alert a window that stays under the fixed
//! levels (the private microservice that should see almost no 4xx).
//!
//! How it is read from CloudWatch is the metric layer's business (`metrics::baseline`).

use crate::judge::severity::{ClientErrorRate, Percent, Severity};

/// How far back the baseline looks.
pub const BASELINE_DAYS: i64 = 7;
/// Less history than this is no baseline.
pub const MIN_HISTORY_HOURS: i64 = 24;

/// A group's normal rate, or why there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// Fewer than 24 hours of history (or no requests in it).
    NotEnoughHistory,
    /// The 4xx rate over the history read (ignored codes left out).
    Rate(ClientErrorRate),
}

/// `ratio` of two rates in tenths (`156` for 15.6×), `None` when the baseline has no 4xx.
fn ratio_tenths(window: ClientErrorRate, base: ClientErrorRate) -> Option<u64> {
    if base.client_errors == 0 || window.requests == 0 {
        return None;
    }
    let num = u128::from(window.client_errors) * u128::from(base.requests) * 10;
    let den = u128::from(window.requests) * u128::from(base.client_errors);
    Some(((num + den / 2) / den) as u64)
}

impl Baseline {
    /// The alert line: `Baseline: 2.0% over the last 7 days (this window 15.6× that)`.
    pub fn line(&self, window: ClientErrorRate) -> String {
        match self {
            Baseline::NotEnoughHistory => "Baseline: not enough history".to_string(),
            Baseline::Rate(b) => {
                let head = format!("Baseline: {} over the last {BASELINE_DAYS} days", b.percent_text());
                match ratio_tenths(window, *b) {
                    Some(r) => format!("{head} (this window {}.{}× that)", r / 10, r % 10),
                    None if window.client_errors > 0 => format!("{head} (no 4xx before this window)"),
                    None => head,
                }
            }
        }
    }
}

/// `SPIKE_FACTOR`: how many times its baseline a window's rate must reach to alert ELEVATED under
/// the fixed level. Two decimals, at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpikeFactor(Percent);

impl std::str::FromStr for SpikeFactor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let err = || format!("'{s}' is not a factor from 1 to 100 (e.g. 5 or 2.5)");
        let p: Percent = s.parse().map_err(|_| err())?;
        if p < Percent::whole(1) {
            return Err(err());
        }
        Ok(SpikeFactor(p))
    }
}

impl std::fmt::Display for SpikeFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.to_string().trim_end_matches('%'))
    }
}

impl SpikeFactor {
    /// True when `window` (already at least MinRequests, judged by the caller) has 4xx and its rate is
    /// at least this factor times `baseline`'s. Integer-exact.
    pub fn is_spike(self, window: ClientErrorRate, baseline: &Baseline) -> bool {
        let Baseline::Rate(b) = baseline else { return false };
        if window.client_errors == 0 || b.requests == 0 {
            return false;
        }
        // window.c / window.r >= f/100 × b.c / b.r  ⇔  window.c × b.r × 100 >= f × b.c × window.r
        let lhs = u128::from(window.client_errors) * u128::from(b.requests) * 100;
        let rhs = u128::from(self.0.basis_points()) * u128::from(b.client_errors) * u128::from(window.requests);
        lhs >= rhs
    }

    /// The severity after the spike rule: OK becomes ELEVATED for a spike; every other verdict stays.
    pub fn apply(self, fixed: Severity, window: ClientErrorRate, baseline: &Baseline) -> Severity {
        if fixed == Severity::Ok && self.is_spike(window, baseline) {
            Severity::Elevated
        } else {
            fixed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(c: u64, r: u64) -> ClientErrorRate {
        ClientErrorRate { client_errors: c, requests: r }
    }

    #[test]
    fn zero_baseline_says_so() {
        let b = Baseline::Rate(rate(0, 10_000));
        assert_eq!(b.line(rate(3, 100)), "Baseline: 0.0% over the last 7 days (no 4xx before this window)");
    }

    #[test]
    fn spike_factor_is_exact_and_only_lifts_ok() {
        let f: SpikeFactor = "5".parse().unwrap();
        let b = Baseline::Rate(rate(2, 1000)); // 0.2%
        assert!(f.is_spike(rate(10, 1000), &b), "1.0% is exactly 5× 0.2%");
        assert!(!f.is_spike(rate(9, 1000), &b));
        assert!(!f.is_spike(rate(0, 1000), &b));
        assert!(!f.is_spike(rate(50, 1000), &Baseline::NotEnoughHistory));
        assert_eq!(f.apply(Severity::Ok, rate(30, 1000), &b), Severity::Elevated);
        assert_eq!(f.apply(Severity::InsufficientData, rate(30, 50), &b), Severity::InsufficientData);
        assert_eq!(f.apply(Severity::High, rate(300, 1000), &b), Severity::High);
        assert!("2.5".parse::<SpikeFactor>().unwrap().is_spike(rate(5, 1000), &b));
        for bad in ["0.5", "x", "", "1000"] {
            assert!(bad.parse::<SpikeFactor>().is_err(), "{bad}");
        }
        assert_eq!("2.5".parse::<SpikeFactor>().unwrap().to_string(), "2.5");
    }
}
