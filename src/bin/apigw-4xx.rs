//! `apigw-4xx analyze`: the 4xx finding over exported API Gateway access logs.

use anyhow::{Context, Result};
use apigw_4xx::access_log::{LineParser, Template};
use apigw_4xx::analysis::Analyzer;
use apigw_4xx::decode::Limits;
use apigw_4xx::finding::{thousands, Rules};
use apigw_4xx::input::read_input;
use apigw_4xx::report::Report;
use apigw_4xx::severity::{IgnoredStatuses, Percent, Severity, Thresholds};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[path = "commands/context.rs"]
mod context;
#[cfg(feature = "aws")]
#[path = "commands/history.rs"]
mod history;

/// Exit code when `--fail-on` is reached.
const EXIT_FAIL_ON: u8 = 3;

#[derive(Parser)]
#[command(name = "apigw-4xx", version, about = "Finds unusual shares of 4xx in API Gateway access logs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyze exported logs: subscription events, decoded payloads, filter-log-events JSON,
    /// create-export-task text, Logs Insights CSV or plain access-log lines (gzip'd or not).
    Analyze(Analyze),
    /// Judge a log group's past windows (the function's own metrics) with given levels, to see where
    /// they would have alerted before changing them.
    #[cfg(feature = "aws")]
    History(history::HistoryArgs),
}

#[derive(clap::Args)]
struct Analyze {
    /// Files to read; `-` (the default) is standard input.
    #[arg(default_value = "-")]
    files: Vec<PathBuf>,
    /// The stage's access-log format ($context template), or a file holding it.
    #[arg(long, value_name = "TEMPLATE|FILE")]
    log_format: Option<String>,
    /// Judge tumbling windows of this many minutes (aligned to the epoch, by event time) as well.
    #[arg(long, value_name = "MINUTES", value_parser = clap::value_parser!(u32).range(1..=1440))]
    window: Option<u32>,
    /// Fewer requests than this are INSUFFICIENT_DATA.
    #[arg(long, default_value_t = 100)]
    min_requests: u64,
    /// A 4xx rate above this percentage is ELEVATED.
    #[arg(long, default_value = "10")]
    elevated_percent: Percent,
    /// A 4xx rate above this percentage is HIGH.
    #[arg(long, default_value = "25")]
    high_percent: Percent,
    /// 4xx codes to leave out of the rate, e.g. `401,404` (still listed as ignored).
    #[arg(long, value_name = "CODES", default_value = "")]
    ignore_status: IgnoredStatuses,
    /// Print the finding as JSON.
    #[arg(long)]
    json: bool,
    /// Exit with code 3 when this level is reached (overall or in any window).
    #[arg(long, value_enum)]
    fail_on: Option<FailOn>,
    /// Cap on the decompressed size of one subscription payload, in MiB.
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    max_inner_mib: u64,
    /// Cap on one log line, in KiB: a longer line is counted as unparsed, skipped unread.
    #[arg(long, default_value_t = 1024, value_name = "KIB", value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    max_line_kib: u64,
    #[command(flatten)]
    context: context::ContextArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Elevated,
    High,
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Analyze(args) => analyze(&args),
        #[cfg(feature = "aws")]
        Command::History(args) => history::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn parser(log_format: Option<&str>) -> Result<LineParser> {
    let Some(spec) = log_format else { return Ok(LineParser::Auto) };
    let path = std::path::Path::new(spec);
    let source = if !spec.contains("$context") && path.is_file() {
        std::fs::read_to_string(path).with_context(|| format!("--log-format {spec}"))?
    } else {
        spec.to_string()
    };
    Ok(LineParser::Template(Template::compile(&source).context("--log-format")?))
}

fn analyze(args: &Analyze) -> Result<ExitCode> {
    let thresholds =
        Thresholds { elevated: args.elevated_percent, high: args.high_percent, min_requests: args.min_requests }
            .validate()
            .map_err(anyhow::Error::msg)?;
    let rules = Rules { thresholds, ignored: args.ignore_status.clone() };
    let limits = Limits {
        max_inner_bytes: args.max_inner_mib.saturating_mul(1024 * 1024),
        max_line_bytes: usize::try_from(args.max_line_kib * 1024).unwrap_or(usize::MAX),
    };
    let mut analyzer = Analyzer::new(parser(args.log_format.as_deref())?, args.window);
    for file in &args.files {
        let name = file.display();
        let result = if file.as_os_str() == "-" {
            read_input(std::io::stdin().lock(), limits, &mut analyzer)
        } else {
            let f = std::fs::File::open(file).with_context(|| format!("{name}"))?;
            read_input(f, limits, &mut analyzer)
        };
        result.with_context(|| format!("{name}"))?;
    }
    let groups = args.context.groups(&rules, &analyzer.by_log_group)?;
    let deployment = args.context.deployment();
    let tally = analyzer.merged();
    let report = Report::new(&tally, &rules);
    let requests = tally.overall.requests();
    if tally.overall.unparsed > requests {
        eprintln!(
            "warning: {} of {} lines did not parse as access-log lines (e.g. {:?}); pass --log-format with the stage's access-log format",
            thousands(tally.overall.unparsed),
            thousands(tally.overall.unparsed + requests),
            tally.unparsed_example.as_deref().unwrap_or_default()
        );
    }
    if tally.untimed > 0 {
        eprintln!(
            "warning: {} requests carry no timestamp and no readable request time: counted overall, in no window",
            thousands(tally.untimed)
        );
    }
    if tally.unbucketed > 0 {
        eprintln!(
            "warning: {} lines fall in windows past the first {} (the cap): counted overall, in no window; pass a larger --window",
            thousands(tally.unbucketed),
            thousands(apigw_4xx::tally::MAX_BUCKETS as u64)
        );
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut json = report.to_json();
        json.groups = groups.as_ref().map(|g| g.iter().map(|g| g.to_json()).collect());
        json.deployment = deployment;
        serde_json::to_writer_pretty(&mut out, &json)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", report.to_text(&rules))?;
        if let Some(d) = deployment {
            writeln!(out, "\n{d}")?;
        }
        for g in groups.iter().flatten() {
            writeln!(out, "\n{}", g.to_text())?;
        }
    }
    let threshold = args.fail_on.map(|f| match f {
        FailOn::Elevated => Severity::Elevated,
        FailOn::High => Severity::High,
    });
    let worst = groups.iter().flatten().map(|g| g.finding.severity).fold(report.worst(), Severity::max);
    if threshold.is_some_and(|t| worst >= t) {
        return Ok(ExitCode::from(EXIT_FAIL_ON));
    }
    Ok(ExitCode::SUCCESS)
}
