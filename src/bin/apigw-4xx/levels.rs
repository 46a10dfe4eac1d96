//! The levels both subcommands take, with the defaults and ranges the function uses (one home each:
//! `Thresholds::default()`, `time::{MIN,MAX}_WINDOW_MINUTES`).

use anyhow::Result;
use apigw_4xx::base::time::{MAX_WINDOW_MINUTES, MIN_WINDOW_MINUTES};
use apigw_4xx::judge::finding::Rules;
use apigw_4xx::judge::severity::{IgnoredStatuses, Percent, Thresholds};

/// Window lengths the function accepts, as a clap range.
pub const WINDOW_RANGE: std::ops::RangeInclusive<i64> = MIN_WINDOW_MINUTES as i64..=MAX_WINDOW_MINUTES as i64;

/// `--min-requests`, `--elevated-percent`, `--high-percent`, `--ignore-status`.
#[derive(clap::Args)]
pub struct LevelArgs {
    /// Fewer requests than this are INSUFFICIENT_DATA.
    #[arg(long, default_value_t = Thresholds::default().min_requests)]
    min_requests: u64,
    /// A 4xx rate above this percentage is ELEVATED.
    #[arg(long, default_value_t = Thresholds::default().elevated)]
    elevated_percent: Percent,
    /// A 4xx rate above this percentage is HIGH.
    #[arg(long, default_value_t = Thresholds::default().high)]
    high_percent: Percent,
    /// 4xx codes to leave out of the rate, e.g. `401,404` (still listed as ignored).
    #[arg(long, value_name = "CODES", default_value = "")]
    ignore_status: IgnoredStatuses,
}

impl LevelArgs {
    /// The rules these options give, validated (ELEVATED below HIGH: a usage error otherwise).
    pub fn rules(&self) -> Result<Rules> {
        let thresholds =
            Thresholds { elevated: self.elevated_percent, high: self.high_percent, min_requests: self.min_requests }
                .validate()
                .map_err(|e| crate::exit::usage(anyhow::Error::msg(e)))?;
        Ok(Rules { thresholds, ignored: self.ignore_status.clone() })
    }
}
