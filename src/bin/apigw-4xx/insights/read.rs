//! Reading log groups with Logs Insights: each group's line format from a sample, the queries
//! planned and run (Ctrl-C stops them), the rows folded into a tally per log group, and what it
//! cost.

use super::InsightsArgs;
use anyhow::{bail, Result};
use apigw_4xx::access_log::{Line, LineParser, LineShape};
use apigw_4xx::count::insights::{census, fold_counts};
use apigw_4xx::count::tally::Tally;
use apigw_4xx::ingest::insights::api::Logs;
use apigw_4xx::ingest::insights::plan::{count_jobs, initial_jobs, GroupKeys, Job, JobKind, BYTES_PER_GB};
use apigw_4xx::ingest::insights::run::{self, Hooks, Progress, Settings, Timing, Totals};
use apigw_4xx::ingest::insights::Row;
use apigw_4xx::ingest::log_group::sample_lines;
use apigw_4xx::ingest::time_range::TimeRange;
use apigw_4xx::render::insights::{census_query, cost_text, count_query, Reading};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;

/// Lines read (one FilterLogEvents call per group) to tell a group's line format.
const SAMPLE_LINES: i32 = 100;

/// How a group's lines are read: from the template, or from the formats a sample shows.
async fn reading(
    client: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    range: TimeRange,
    parser: &LineParser,
) -> Result<Reading> {
    if matches!(parser, LineParser::Template(_)) {
        return Ok(Reading::new(parser, None));
    }
    let lines = sample_lines(client, group, range, SAMPLE_LINES).await?;
    let mut shapes: Vec<LineShape> = Vec::new();
    for line in &lines {
        if matches!(parser.parse(line), Line::Unparsed) {
            continue;
        }
        if let Some(shape) = LineShape::of(line).filter(|s| !shapes.contains(s)) {
            shapes.push(shape);
        }
    }
    if shapes.len() > 1 {
        bail!(
            "log group {group}: its lines are in several formats ({}); one Logs Insights query reads one: use --engine scan, or --log-format",
            shapes.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(Reading::new(parser, shapes.first().copied()))
}

/// Plans, runs and folds.
struct Engine {
    readings: HashMap<String, Reading>,
    window: Option<u32>,
    row_cap: u64,
    tallies: BTreeMap<String, Tally>,
    bar: ProgressBar,
}

impl Engine {
    fn reading(&self, job: &Job) -> &Reading {
        &self.readings[&job.groups[0]]
    }
}

impl Hooks for Engine {
    fn query(&self, job: &Job) -> String {
        let by_log = job.groups.len() > 1;
        match job.kind {
            JobKind::Census => census_query(self.reading(job), job.range, by_log),
            JobKind::Count => count_query(self.reading(job), job.range, self.window, by_log),
        }
    }

    fn complete(&mut self, job: &Job, rows: Vec<Row>) -> Result<Vec<Job>, String> {
        if rows.len() as u64 >= self.row_cap {
            return Err(format!("a Logs Insights result reached {} rows, the most a query returns", rows.len()));
        }
        match job.kind {
            JobKind::Census => {
                let found = census(&rows, &job.groups).map_err(|e| e.to_string())?;
                let keys: Vec<GroupKeys> = found.into_iter().map(|(group, keys)| GroupKeys { group, keys }).collect();
                Ok(count_jobs(job.range, self.window, &keys, self.row_cap))
            }
            JobKind::Count => {
                let execution = self.reading(job).execution();
                fold_counts(&rows, &job.groups, execution, self.window, &mut self.tallies)
                    .map_err(|e| e.to_string())?;
                Ok(vec![])
            }
        }
    }

    fn progress(&mut self, p: &Progress) {
        self.bar.set_message(format!(
            "{} queries done, {} running, {} waiting: {}",
            p.done,
            p.running,
            p.waiting,
            cost_text(p.done + p.running, p.scanned.bytes_scanned, p.scanned.records_scanned)
                .trim_start_matches("Logs Insights: ")
        ));
    }
}

/// Counts `groups` over `range` with Logs Insights: a tally per group (groups with no lines in the
/// range have none) and what it cost, which is printed on stderr unless `quiet`.
pub async fn read(
    client: &aws_sdk_cloudwatchlogs::Client,
    groups: &[String],
    range: TimeRange,
    parser: &LineParser,
    window: Option<u32>,
    args: &InsightsArgs,
    quiet: bool,
) -> Result<(BTreeMap<String, Tally>, Totals)> {
    let mut readings = HashMap::new();
    let mut by_reading: Vec<(Reading, Vec<GroupKeys>)> = Vec::new();
    for group in groups {
        let r = reading(client, group, range, parser).await?;
        let keys = GroupKeys { group: group.clone(), keys: r.max_keys_per_window() };
        match by_reading.iter_mut().find(|(known, _)| *known == r) {
            Some((_, members)) => members.push(keys),
            None => by_reading.push((r.clone(), vec![keys])),
        }
        readings.insert(group.clone(), r);
    }
    let jobs: Vec<Job> = by_reading
        .iter()
        .flat_map(|(_, members)| initial_jobs(range, window, members, args.max_rows_per_query))
        .collect();
    let bar = if quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    };
    let mut engine = Engine { readings, window, row_cap: args.max_rows_per_query, tallies: BTreeMap::new(), bar };
    let settings = Settings {
        max_in_flight: usize::from(args.max_queries),
        max_scan_bytes: args.max_scan_gb.map(|gb| gb * BYTES_PER_GB),
        timing: Timing::default(),
    };
    let (tx, mut cancel) = tokio::sync::watch::channel(false);
    let interrupt = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = tx.send(true);
        }
    });
    let result = run::run(&Logs::new(client.clone()), jobs, &settings, &mut engine, &mut cancel).await;
    interrupt.abort();
    engine.bar.finish_and_clear();
    let totals = result?;
    if !quiet {
        eprintln!("{}", cost_text(totals.queries, totals.scanned.bytes_scanned, totals.scanned.records_scanned));
    }
    let tallies = engine.tallies.into_iter().map(|(g, t)| (g, t.finish())).collect();
    Ok((tallies, totals))
}
