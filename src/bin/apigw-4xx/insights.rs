//! The Logs Insights engine of `analyze --log-group` and `history --source logs`: its options, and
//! (with AWS support) the read itself ([`read`]). The decisions are the library's
//! (`ingest::insights`, `render::insights`, `count::insights`); this is the wiring.

use apigw_4xx::ingest::insights::plan::{auto_picks_insights, ACCOUNT_MAX_QUERIES, DEFAULT_MAX_QUERIES, MAX_ROWS};
use apigw_4xx::ingest::time_range::TimeRange;

#[cfg(feature = "aws")]
mod read;
#[cfg(feature = "aws")]
pub use read::read;

/// How `--log-group` is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// Every event downloaded (FilterLogEvents) and counted here.
    Scan,
    /// Counted inside CloudWatch by Logs Insights queries; only the counts come back.
    Insights,
    /// Logs Insights for ranges longer than 6 hours, the scan otherwise.
    Auto,
}

#[cfg_attr(not(feature = "aws"), allow(dead_code))]
impl Engine {
    /// The engine that reads `range`.
    pub fn for_range(self, range: TimeRange) -> Engine {
        match self {
            Engine::Auto if auto_picks_insights(range) => Engine::Insights,
            Engine::Auto => Engine::Scan,
            chosen => chosen,
        }
    }
}

/// The engine's options, shared by `analyze` and `history`.
#[derive(clap::Args, Clone)]
pub struct InsightsArgs {
    /// Logs Insights queries in flight at most (the account allows about 30 at once).
    #[arg(long, default_value_t = DEFAULT_MAX_QUERIES, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=i64::from(ACCOUNT_MAX_QUERIES)))]
    pub max_queries: u16,
    /// Stop every Logs Insights query and exit 1 once they have scanned more than this many GB.
    #[arg(long, value_name = "GB")]
    pub max_scan_gb: Option<f64>,
    /// Rows one query may return (tests lower it to split small ranges).
    #[arg(long, default_value_t = MAX_ROWS, hide = true, value_parser = clap::value_parser!(u64).range(2..=MAX_ROWS))]
    pub max_rows_per_query: u64,
}
