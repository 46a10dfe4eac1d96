//! Thresholds and classification of a client-error rate. Integer-exact: no floats decide a level.

use serde::Serialize;
use std::fmt;

/// A percentage with two decimals, held as hundredths of a percent (basis points) so comparisons stay integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Percent(u32);

impl Percent {
    /// A whole percentage.
    pub const fn whole(p: u32) -> Self {
        Percent(p * 100)
    }

    /// Hundredths of a percent.
    pub fn basis_points(self) -> u32 {
        self.0
    }
}

impl std::str::FromStr for Percent {
    type Err = String;
    /// Accepts `10`, `12.5`, `2.25` (at most two decimals, 0 to 100), with or without a trailing
    /// `%` (so that what [`Display`](fmt::Display) writes reads back).
    fn from_str(s: &str) -> Result<Self, String> {
        let err = || format!("'{s}' is not a percentage between 0 and 100 with at most two decimals");
        let number = s.trim().strip_suffix('%').unwrap_or(s.trim());
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        if int.is_empty() || frac.len() > 2 || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let whole: u32 = int.parse().map_err(|_| err())?;
        let frac_bp: u32 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().map_err(|_| err())? };
        let bp = whole.checked_mul(100).and_then(|w| w.checked_add(frac_bp)).ok_or_else(err)?;
        if bp > 10_000 {
            return Err(err());
        }
        Ok(Percent(bp))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 % 100 {
            0 => write!(f, "{}%", self.0 / 100),
            r if r % 10 == 0 => write!(f, "{}.{}%", self.0 / 100, r / 10),
            r => write!(f, "{}.{:02}%", self.0 / 100, r),
        }
    }
}

/// When a rate is ELEVATED or HIGH, and how much traffic a verdict needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// A rate strictly above this is ELEVATED.
    pub elevated: Percent,
    /// A rate strictly above this is HIGH.
    pub high: Percent,
    /// Below this many requests the verdict is INSUFFICIENT_DATA.
    pub min_requests: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { elevated: Percent::whole(10), high: Percent::whole(25), min_requests: 100 }
    }
}

impl Thresholds {
    /// Checks that ELEVATED lies below HIGH.
    pub fn validate(self) -> Result<Self, String> {
        if self.elevated >= self.high {
            return Err(format!(
                "the ELEVATED threshold ({}) must be below the HIGH threshold ({})",
                self.elevated, self.high
            ));
        }
        Ok(self)
    }

    /// Classifies `client_errors` of `requests`: `rate > threshold` exactly, in integers.
    pub fn classify(&self, rate: ClientErrorRate) -> Severity {
        if rate.requests < self.min_requests.max(1) {
            return Severity::InsufficientData;
        }
        let scaled = u128::from(rate.client_errors) * 10_000;
        let above = |p: Percent| scaled > u128::from(p.basis_points()) * u128::from(rate.requests);
        if above(self.high) {
            Severity::High
        } else if above(self.elevated) {
            Severity::Elevated
        } else {
            Severity::Ok
        }
    }
}

/// 4xx responses out of all requests counted for the rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ClientErrorRate {
    /// Responses with a 4xx status (less ignored codes).
    pub client_errors: u64,
    /// Requests (less ignored codes).
    pub requests: u64,
}

impl ClientErrorRate {
    /// The rate in tenths of a percent, rounded half up: `312` for 31.2%.
    pub fn permille(&self) -> u64 {
        crate::base::numbers::permille(self.client_errors, self.requests)
    }

    /// `31.2%`.
    pub fn percent_text(&self) -> String {
        crate::base::numbers::percent_text(self.client_errors, self.requests)
    }

    /// The rate as a fraction (for JSON output only; decisions use integers).
    pub fn fraction(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.client_errors as f64 / self.requests as f64
        }
    }
}

/// The verdict on a rate, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    /// Too few requests to judge.
    InsufficientData,
    /// At or below the ELEVATED threshold.
    Ok,
    /// Above the ELEVATED threshold.
    Elevated,
    /// Above the HIGH threshold.
    High,
}

impl Severity {
    /// `HIGH`, `ELEVATED`, `OK`, `INSUFFICIENT_DATA`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::InsufficientData => "INSUFFICIENT_DATA",
            Severity::Ok => "OK",
            Severity::Elevated => "ELEVATED",
            Severity::High => "HIGH",
        }
    }

    /// True for ELEVATED and HIGH: the levels that alert.
    pub fn is_alerting(self) -> bool {
        self >= Severity::Elevated
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// 4xx codes left out of the rate (e.g. `401,404` for expected auth challenges or discovery probes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoredStatuses(Vec<u16>);

impl IgnoredStatuses {
    /// True when `code` is left out of the rate.
    pub fn contains(&self, code: u16) -> bool {
        self.0.contains(&code)
    }

    /// The codes, ascending.
    pub fn codes(&self) -> &[u16] {
        &self.0
    }
}

impl std::str::FromStr for IgnoredStatuses {
    type Err = String;
    /// `401,404` (spaces allowed, empty for none); only 4xx codes make sense here.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut codes = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match crate::base::status::parse_status(part) {
                Some(c) if crate::base::status::is_client_error(c) => codes.push(c),
                _ => return Err(format!("'{part}' is not a 4xx status code")),
            }
        }
        codes.sort_unstable();
        codes.dedup();
        Ok(IgnoredStatuses(codes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(c4: u64, n: u64) -> Severity {
        Thresholds::default().classify(ClientErrorRate { client_errors: c4, requests: n })
    }

    #[test]
    fn boundaries_are_strict_and_exact() {
        assert_eq!(classify(10, 100), Severity::Ok, "exactly 10% is not ELEVATED");
        assert_eq!(classify(11, 100), Severity::Elevated);
        assert_eq!(classify(25, 100), Severity::Elevated, "exactly 25% is not HIGH");
        assert_eq!(classify(26, 100), Severity::High);
        assert_eq!(classify(100_001, 1_000_000), Severity::Elevated);
        assert_eq!(classify(100_000, 1_000_000), Severity::Ok);
    }

    #[test]
    fn minimum_volume_gates_every_verdict() {
        assert_eq!(classify(1, 2), Severity::InsufficientData);
        assert_eq!(classify(99, 99), Severity::InsufficientData);
        assert_eq!(classify(0, 0), Severity::InsufficientData);
    }

    #[test]
    fn percent_parses_decimals_and_rejects_junk() {
        assert_eq!("12.5".parse::<Percent>().map(Percent::basis_points), Ok(1250));
        assert_eq!("2.25".parse::<Percent>().map(Percent::basis_points), Ok(225));
        assert_eq!("10".parse::<Percent>().map(|p| p.to_string()), Ok("10%".into()));
        for shown in ["10%", "12.5%", "2.25%"] {
            assert_eq!(shown.parse::<Percent>().map(|p| p.to_string()).as_deref(), Ok(shown), "reads back");
        }
        for bad in ["", "-1", "101", "1.234", "x", "1e2", "%", "10%%"] {
            assert!(bad.parse::<Percent>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ignored_statuses_parse_4xx_only() {
        assert_eq!("404, 401".parse::<IgnoredStatuses>().map(|i| i.codes().to_vec()), Ok(vec![401, 404]));
        assert_eq!("".parse::<IgnoredStatuses>(), Ok(IgnoredStatuses::default()));
        assert!("500".parse::<IgnoredStatuses>().is_err());
        assert!("40x".parse::<IgnoredStatuses>().is_err());
    }

    #[test]
    fn rate_text_rounds_half_up_to_one_decimal() {
        let r = ClientErrorRate { client_errors: 4680, requests: 15000 };
        assert_eq!(r.percent_text(), "31.2%");
        assert_eq!(ClientErrorRate { client_errors: 1, requests: 8 }.percent_text(), "12.5%");
        assert_eq!(ClientErrorRate { client_errors: 1, requests: 3 }.percent_text(), "33.3%");
        assert_eq!(ClientErrorRate { client_errors: 2, requests: 3 }.percent_text(), "66.7%");
    }
}
