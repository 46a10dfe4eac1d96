//! `apigw-4xx history`: where the given levels would have alerted, window by window, over the
//! function's own metrics (`--source metrics`) or the access logs themselves (`--source logs`,
//! through the Logs Insights engine: no deployment needed).

use anyhow::{Context, Result};
use apigw_4xx::base::time::DEFAULT_WINDOW_MINUTES;
use apigw_4xx::judge::finding::Rules;
use apigw_4xx::judge::group_rules::GroupRules;
use apigw_4xx::metrics::cloudwatch::{CloudWatchHistory, MetricHistory};
use apigw_4xx::metrics::contract::DEFAULT_NAMESPACE;
use apigw_4xx::render::history::{self, History, MAX_DAYS};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Where `history` reads past windows from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HistorySource {
    /// The function's own metrics (it must have run that long).
    Metrics,
    /// The log group's access logs, counted by Logs Insights (no deployment needed).
    Logs,
}

/// Judge a log group's past windows (from the function's metrics, or its logs) with the given levels.
#[derive(clap::Args)]
pub struct HistoryArgs {
    /// The log group whose windows to judge (the `LogGroup` dimension the function writes).
    #[arg(long, value_name = "NAME")]
    log_group: String,
    /// Where the windows come from: the function's metrics, or the access logs (Logs Insights,
    /// $0.005 per GB scanned).
    #[arg(long, value_enum, default_value_t = HistorySource::Metrics)]
    source: HistorySource,
    /// With --source logs: the stage's access-log format ($context template), or a file holding it.
    #[arg(long, value_name = "TEMPLATE|FILE")]
    log_format: Option<String>,
    #[command(flatten)]
    insights: crate::insights::InsightsArgs,
    /// With --source logs: no progress and no cost line on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// How many days back.
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_DAYS)))]
    days: u32,
    /// The function's window length (its WINDOW_MINUTES).
    #[arg(long, default_value_t = DEFAULT_WINDOW_MINUTES, value_name = "MINUTES", value_parser = clap::value_parser!(u32).range(crate::levels::WINDOW_RANGE))]
    window: u32,
    /// The function's metric namespace.
    #[arg(long, default_value = DEFAULT_NAMESPACE, env = "METRIC_NAMESPACE")]
    namespace: String,
    /// Levels per log group (the GROUP_RULES JSON) from this file; its entry for --log-group wins
    /// over the options below.
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    #[command(flatten)]
    levels: crate::levels::LevelArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Reads `--rules FILE` over the global levels.
pub fn group_rules(file: Option<&PathBuf>, base: Rules) -> Result<GroupRules> {
    match file {
        None => Ok(GroupRules::new(base)),
        Some(f) => {
            let text = std::fs::read_to_string(f).with_context(|| format!("--rules {}", f.display()))?;
            GroupRules::parse(&text, base).with_context(|| format!("--rules {}", f.display()))
        }
    }
}

pub fn run(args: &HistoryArgs) -> Result<ExitCode> {
    let rules = group_rules(args.rules.as_ref(), args.levels.rules()?)?.for_group(&args.log_group);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let (start, end) = history::span(now, args.days, args.window);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let series = runtime.block_on(async {
        let clients = apigw_4xx::aws::client::Clients::from_env().await.map_err(|e| anyhow::anyhow!(e.message))?;
        if args.source == HistorySource::Logs {
            let parser = crate::parser(args.log_format.as_deref())?;
            let range = apigw_4xx::ingest::time_range::TimeRange { start, end: end - 1 };
            let groups = [args.log_group.clone()];
            let (tallies, _) = crate::insights::read(
                &clients.logs(),
                &groups,
                range,
                &parser,
                Some(args.window),
                &args.insights,
                None,
                args.quiet,
            )
            .await?;
            let windows = tallies.get(&args.log_group).map(|t| t.buckets.clone()).unwrap_or_default();
            return Ok(history::series_of(&windows, &rules));
        }
        let reader = CloudWatchHistory::new(&clients, &args.namespace);
        let queries = history::queries(&args.log_group, &rules);
        reader
            .sums(&queries, start, end, (args.window * 60) as i32)
            .await
            .map_err(|e| anyhow::anyhow!("GetMetricData in {}: {}", args.namespace, e.message))
    })?;
    let h = History::judge(&args.log_group, args.days, args.window, &rules, &series);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &h.to_json())?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", h.to_text(&rules))?;
    }
    if h.windows.is_empty() && args.source == HistorySource::Logs {
        eprintln!(
            "warning: no access-log line with a status in {} over the last {} days (check the region and the log group name, or pass --log-format)",
            args.log_group, args.days
        );
    } else if h.windows.is_empty() {
        eprintln!(
            "warning: no Requests metric for {} in namespace {} over the last {} days (check --namespace, the region and the log group name)",
            args.log_group, args.namespace, args.days
        );
    }
    Ok(ExitCode::from(crate::exit::SUCCESS))
}
