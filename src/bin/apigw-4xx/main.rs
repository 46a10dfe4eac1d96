//! `apigw-4xx analyze`: the 4xx finding over exported API Gateway access logs, or straight from a
//! CloudWatch Logs log group.

use anyhow::{Context, Result};
use apigw_4xx::access_log::{LineParser, Template};
use apigw_4xx::count::analysis::Analyzer;
use apigw_4xx::count::parallel::{self, Settings, Source};
use apigw_4xx::ingest::decode::{Limits, DEFAULT_MAX_INNER_BYTES, DEFAULT_MAX_LINE_BYTES};
use apigw_4xx::judge::group_rules::GroupRules;
use apigw_4xx::judge::severity::Severity;
use apigw_4xx::render::report::Report;
use apigw_4xx::render::warnings::{warnings, Reading};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

mod context;
mod exit;
#[cfg(feature = "aws")]
mod history;
mod insights;
mod levels;

/// Input larger than this (or of unknown size, once this much is read) gets a progress bar.
const PROGRESS_FROM_BYTES: u64 = 64 << 20;
/// What a person typing `apigw-4xx analyze` at a terminal is told while it waits for them.
const STDIN_HINT: &str = "apigw-4xx: reading access logs from the terminal: paste them and end with Ctrl-D, or pass files, a directory or --log-group (--help)";

#[derive(Parser)]
#[command(name = "apigw-4xx", version, about = "Finds unusual shares of 4xx in API Gateway access logs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyze exported logs: subscription events, decoded payloads, filter-log-events JSON,
    /// create-export-task text, Logs Insights CSV or plain access-log lines (gzip'd or not); or
    /// read a log group straight from CloudWatch Logs.
    Analyze(Analyze),
    /// Judge a log group's past windows (the function's own metrics) with given levels, to see where
    /// they would have alerted before changing them.
    #[cfg(feature = "aws")]
    History(history::HistoryArgs),
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("cloudwatch").args(["log_group", "log_group_prefix"]).multiple(true)))]
struct Analyze {
    /// Files to read; a directory is read as an S3 export (every file below it, in name order);
    /// `-` (the default) is standard input.
    #[arg(conflicts_with = "cloudwatch")]
    files: Vec<PathBuf>,
    /// Read this log group from CloudWatch Logs (the standard AWS configuration: profile, region,
    /// AWS_ENDPOINT_URL). Repeat for several.
    #[arg(long, value_name = "NAME")]
    log_group: Vec<String>,
    /// Read every log group whose name starts with PREFIX (DescribeLogGroups), each with its own
    /// finding.
    #[arg(long, value_name = "PREFIX")]
    log_group_prefix: Option<String>,
    /// How to read log groups: `scan` downloads every event (FilterLogEvents), `insights` counts
    /// inside CloudWatch (Logs Insights, $0.005 per GB scanned), `auto` takes Logs Insights for
    /// ranges longer than 6 hours.
    #[arg(long, value_enum, default_value_t = insights::Engine::Auto, requires = "cloudwatch")]
    engine: insights::Engine,
    #[command(flatten)]
    insights: insights::InsightsArgs,
    /// With --log-group: the last DURATION, up to now (90s, 15m, 1h, 2d, 1h30m).
    #[arg(long, value_name = "DURATION", requires = "cloudwatch", conflicts_with = "start")]
    since: Option<String>,
    /// With --log-group: from TIME (ISO-8601, e.g. 2026-11-25T10:00:00Z, or epoch milliseconds).
    #[arg(long, value_name = "TIME", requires = "cloudwatch")]
    start: Option<String>,
    /// With --start: up to TIME (default: now).
    #[arg(long, value_name = "TIME", requires = "start", conflicts_with = "since")]
    end: Option<String>,
    /// The stage's access-log format ($context template), or a file holding it.
    #[arg(long, value_name = "TEMPLATE|FILE")]
    log_format: Option<String>,
    /// Judge tumbling windows of this many minutes (aligned to the epoch, by event time) as well.
    #[arg(long, value_name = "MINUTES", value_parser = clap::value_parser!(u32).range(levels::WINDOW_RANGE))]
    window: Option<u32>,
    #[command(flatten)]
    levels: levels::LevelArgs,
    /// Print the finding as JSON.
    #[arg(long)]
    json: bool,
    /// Exit with code 3 when this level is reached (overall or in any window).
    #[arg(long, value_enum)]
    fail_on: Option<FailOn>,
    /// No progress bar and no hint on stderr (warnings and errors still go there).
    #[arg(long, short)]
    quiet: bool,
    /// Threads reading files and payloads side by side (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Cap on the decompressed size of one subscription payload, in MiB.
    #[arg(long, default_value_t = DEFAULT_MAX_INNER_BYTES >> 20, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    max_inner_mib: u64,
    /// Cap on one log line, in KiB: a longer line is counted as unparsed, skipped unread.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE_BYTES as u64 >> 10, value_name = "KIB", value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    max_line_kib: u64,
    #[command(flatten)]
    context: context::ContextArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Elevated,
    High,
}

impl Analyze {
    fn reads_cloudwatch(&self) -> bool {
        !self.log_group.is_empty() || self.log_group_prefix.is_some()
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return exit::refused(e),
    };
    let result = match cli.command {
        Command::Analyze(args) => {
            if args.reads_cloudwatch() && args.since.is_none() && args.start.is_none() {
                return exit::refused(Cli::command().error(
                    clap::error::ErrorKind::MissingRequiredArgument,
                    "--log-group needs --since DURATION or --start TIME",
                ));
            }
            analyze(&args)
        }
        #[cfg(feature = "aws")]
        Command::History(args) => history::run(&args),
    };
    result.unwrap_or_else(|e| exit::fail(&e))
}

fn parser(log_format: Option<&str>) -> Result<LineParser> {
    let Some(spec) = log_format else { return Ok(LineParser::Auto) };
    let path = std::path::Path::new(spec);
    let source = if !spec.contains("$context") && path.is_file() {
        std::fs::read_to_string(path).with_context(|| format!("--log-format {spec}"))?
    } else {
        spec.to_string()
    };
    Ok(LineParser::Template(Template::compile(&source).context("--log-format").map_err(exit::usage)?))
}

fn analyze(args: &Analyze) -> Result<ExitCode> {
    let rules = args.levels.rules()?;
    let limits = Limits {
        max_inner_bytes: args.max_inner_mib.saturating_mul(1024 * 1024),
        max_line_bytes: usize::try_from(args.max_line_kib * 1024).unwrap_or(usize::MAX),
    };
    let parser = parser(args.log_format.as_deref())?;
    let group_rules = args.context.group_rules(&rules)?;
    let analyzer = if args.reads_cloudwatch() {
        from_cloudwatch(args, parser, &group_rules)?
    } else {
        from_files(args, parser, limits)?
    };
    let groups = args.context.groups(&group_rules, &analyzer.by_log_group);
    let deployment = args.context.deployment();
    let tally = analyzer.merged();
    let report = Report::new(&tally, &rules);
    let reading = if args.log_format.is_some() { Reading::Template } else { Reading::Detected };
    for warning in warnings(&tally, reading) {
        eprintln!("warning: {warning}");
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
        return Ok(ExitCode::from(exit::FAIL_ON));
    }
    Ok(ExitCode::from(exit::SUCCESS))
}

/// One input of the command line.
enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    fn name(&self) -> String {
        match self {
            Input::Stdin => "-".into(),
            Input::File(p) => p.display().to_string(),
        }
    }

    /// Bytes to read, when known (a regular file, or standard input redirected from one).
    fn size(&self) -> Option<u64> {
        let meta = match self {
            Input::Stdin => std::fs::metadata("/dev/stdin").ok()?,
            Input::File(p) => std::fs::metadata(p).ok()?,
        };
        meta.is_file().then_some(meta.len())
    }
}

impl Source for Input {
    fn open(&self) -> std::io::Result<Box<dyn Read + Send + '_>> {
        Ok(match self {
            Input::Stdin => Box::new(std::io::stdin()),
            Input::File(p) => Box::new(std::fs::File::open(p)?),
        })
    }
}

fn from_files(args: &Analyze, parser: LineParser, limits: Limits) -> Result<Analyzer> {
    let paths = if args.files.is_empty() { vec![PathBuf::from("-")] } else { args.files.clone() };
    let inputs: Vec<Input> = apigw_4xx::ingest::walk::expand(&paths)?
        .into_iter()
        .map(|p| if p.as_os_str() == "-" { Input::Stdin } else { Input::File(p) })
        .collect();
    let reads_stdin = inputs.iter().any(|i| matches!(i, Input::Stdin));
    if stdin_hint(args.quiet, reads_stdin, std::io::stdin().is_terminal()) {
        eprintln!("{STDIN_HINT}");
    }
    let total = inputs.iter().map(Input::size).sum::<Option<u64>>();
    let meter = Meter::new(progress_for(args.quiet, std::io::stderr().is_terminal(), total));
    let settings = Settings { parser, bucket_minutes: args.window, limits, threads: threads(args.jobs) };
    let result = parallel::analyze(&inputs, &settings, &|n| meter.add(n));
    meter.bar.finish_and_clear();
    result.map_err(|f| anyhow::anyhow!("{}: {}", inputs[f.input].name(), f.error))
}

fn threads(jobs: Option<u16>) -> usize {
    jobs.map_or_else(|| std::thread::available_parallelism().map_or(1, usize::from), usize::from)
}

/// The hint is for a person at a terminal who may not know the command waits for them.
fn stdin_hint(quiet: bool, reads_stdin: bool, stdin_is_terminal: bool) -> bool {
    !quiet && reads_stdin && stdin_is_terminal
}

/// Whether (and how) to show progress.
#[derive(Debug, PartialEq, Eq)]
enum Progress {
    Off,
    /// A bar over this many bytes.
    Bytes(u64),
    /// A byte counter, shown once the input has proven large.
    UnknownSize,
}

/// A bar only for a person watching (stderr a terminal), not with `--quiet`, and only for large
/// input: quick runs and pipelines get nothing.
fn progress_for(quiet: bool, stderr_is_terminal: bool, total: Option<u64>) -> Progress {
    match total {
        _ if quiet || !stderr_is_terminal => Progress::Off,
        Some(n) if n > PROGRESS_FROM_BYTES => Progress::Bytes(n),
        Some(_) => Progress::Off,
        None => Progress::UnknownSize,
    }
}

/// Bytes read, on a bar (or, for input of unknown size, a counter that appears once it is large).
struct Meter {
    bar: ProgressBar,
    /// Unknown size: draw once this many bytes are read.
    reveal_after: Option<u64>,
    shown: AtomicBool,
}

impl Meter {
    fn new(progress: Progress) -> Meter {
        let style = |template| ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
        let (bar, reveal_after) = match progress {
            Progress::Off => (ProgressBar::hidden(), None),
            Progress::Bytes(total) => (
                ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()).with_style(style(
                    "{wide_bar} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
                )),
                None,
            ),
            Progress::UnknownSize => (
                ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
                    .with_style(style("{spinner} {binary_bytes} read, {binary_bytes_per_sec}")),
                Some(PROGRESS_FROM_BYTES),
            ),
        };
        Meter { bar, reveal_after, shown: AtomicBool::new(false) }
    }

    fn add(&self, bytes: u64) {
        self.bar.inc(bytes);
        if let Some(after) = self.reveal_after {
            if self.bar.position() > after && !self.shown.swap(true, Ordering::Relaxed) {
                self.bar.set_draw_target(ProgressDrawTarget::stderr());
            }
        }
    }
}

#[cfg(feature = "aws")]
fn from_cloudwatch(args: &Analyze, parser: LineParser, rules: &GroupRules) -> Result<Analyzer> {
    use apigw_4xx::ingest::log_group::{client_from_env, read_log_group};
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let range =
        apigw_4xx::ingest::time_range::resolve(args.since.as_deref(), args.start.as_deref(), args.end.as_deref(), now)
            .map_err(exit::usage)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let client = client_from_env().await.map_err(|e| anyhow::anyhow!(e.message))?;
        let groups = log_groups(&client, args).await?;
        if args.engine.for_range(range) == insights::Engine::Insights {
            let (tallies, _) =
                insights::read(&client, &groups, range, &parser, args.window, &args.insights, Some(rules), args.quiet)
                    .await?;
            let mut analyzer = Analyzer::new(parser, args.window);
            analyzer.by_log_group = tallies;
            return Ok(analyzer);
        }
        // Size unknown until the last page: a counter of events, for a person watching.
        let bar = if args.quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {human_pos} events read from CloudWatch Logs, {per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        };
        let mut analyzer = Analyzer::new(parser, args.window);
        let mut read = Ok(0);
        for group in &groups {
            read = read_log_group(&client, group, range, &mut analyzer, &|n| bar.inc(n)).await;
            if read.is_err() {
                break;
            }
        }
        bar.finish_and_clear();
        read?;
        Ok(analyzer)
    })
}

/// `--log-group` names, then every group `--log-group-prefix` lists, each once.
#[cfg(feature = "aws")]
async fn log_groups(client: &aws_sdk_cloudwatchlogs::Client, args: &Analyze) -> Result<Vec<String>> {
    let mut groups = args.log_group.clone();
    if let Some(prefix) = &args.log_group_prefix {
        let listed = apigw_4xx::ingest::insights::api::Logs::new(client.clone())
            .log_groups(prefix)
            .await
            .map_err(|e| anyhow::anyhow!("DescribeLogGroups with prefix {prefix}: {}", e.message))?;
        if listed.is_empty() {
            anyhow::bail!("--log-group-prefix {prefix}: no log group starts with it (in this account and region)");
        }
        groups.extend(listed);
    }
    let mut seen = std::collections::HashSet::new();
    groups.retain(|g| seen.insert(g.clone()));
    Ok(groups)
}

#[cfg(not(feature = "aws"))]
fn from_cloudwatch(_: &Analyze, _: LineParser, _: &GroupRules) -> Result<Analyzer> {
    anyhow::bail!("--log-group: this build has no AWS support (built without the `aws` feature)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_only_for_a_person_watching_large_input() {
        let big = Some(PROGRESS_FROM_BYTES + 1);
        assert_eq!(progress_for(false, true, big), Progress::Bytes(PROGRESS_FROM_BYTES + 1));
        assert_eq!(progress_for(false, true, None), Progress::UnknownSize);
        assert_eq!(progress_for(false, true, Some(PROGRESS_FROM_BYTES)), Progress::Off);
        assert_eq!(progress_for(true, true, big), Progress::Off, "--quiet");
        assert_eq!(progress_for(false, false, big), Progress::Off, "stderr not a terminal");
        assert_eq!(progress_for(false, false, None), Progress::Off, "stderr not a terminal");
    }

    #[test]
    fn hint_only_when_a_terminal_feeds_stdin() {
        assert!(stdin_hint(false, true, true));
        assert!(!stdin_hint(true, true, true), "--quiet");
        assert!(!stdin_hint(false, false, true), "files given");
        assert!(!stdin_hint(false, true, false), "piped");
    }
}
