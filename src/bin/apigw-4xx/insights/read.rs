//! Reading log groups with Logs Insights: each group's line format from a sample, the queries
//! planned and run (Ctrl-C stops them), the rows folded into a tally per log group, then, where a
//! finding alerts, the evidence queries over just those spans folded into the same tallies, and
//! what it all cost.

use super::InsightsArgs;
use anyhow::{bail, Result};
use apigw_4xx::access_log::{Line, LineParser, LineShape};
use apigw_4xx::base::time::format_iso8601;
use apigw_4xx::count::insights::{census, fold_counts, fold_evidence};
use apigw_4xx::count::tally::Tally;
use apigw_4xx::ingest::insights::api::Logs;
use apigw_4xx::ingest::insights::plan::{
    count_jobs, evidence_jobs, evidence_limit, initial_jobs, GroupKeys, Job, JobKind, BYTES_PER_GB,
};
use apigw_4xx::ingest::insights::run::{self, Hooks, Progress, Settings, Timing, Totals};
use apigw_4xx::ingest::insights::Row;
use apigw_4xx::ingest::log_group::sample_lines;
use apigw_4xx::ingest::time_range::TimeRange;
use apigw_4xx::judge::group_rules::GroupRules;
use apigw_4xx::render::insights::{census_query, cost_text, count_query, evidence_query, Reading};
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
    /// Evidence queries whose result filled their `limit`: `(group, span)`.
    cut: Vec<(String, TimeRange)>,
    /// What earlier runs of this read cost (the counts, while the evidence runs).
    before: Totals,
    /// What the read has cost so far, as last reported: said even when it ends in an error.
    spent: Totals,
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
            JobKind::Evidence(facet) => {
                evidence_query(self.reading(job), job.range, facet, evidence_limit(self.row_cap))
            }
        }
    }

    fn complete(&mut self, job: &Job, rows: Vec<Row>) -> Result<Vec<Job>, String> {
        let full = |rows: &[Row], cap: u64| rows.len() as u64 >= cap;
        if !matches!(job.kind, JobKind::Evidence(_)) && full(&rows, self.row_cap) {
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
            JobKind::Evidence(facet) => {
                // Sorted by count: a full result lacks only the rarest values; said, not fatal.
                if full(&rows, evidence_limit(self.row_cap)) {
                    self.cut.extend(job.groups.iter().map(|g| (g.clone(), job.range)));
                }
                fold_evidence(&rows, &job.groups, facet, &mut self.tallies).map_err(|e| e.to_string())?;
                Ok(vec![])
            }
        }
    }

    fn progress(&mut self, p: &Progress) {
        let mut spent = self.before;
        spent.scanned.bytes_scanned += p.scanned.bytes_scanned;
        spent.scanned.records_scanned += p.scanned.records_scanned;
        spent.queries += p.done + p.running;
        self.spent = spent;
        self.bar.set_message(format!(
            "{} queries done, {} running, {} waiting: {}",
            self.before.queries + p.done,
            p.running,
            p.waiting,
            cost_text(
                self.before.queries + p.done + p.running,
                spent.scanned.bytes_scanned,
                spent.scanned.records_scanned
            )
            .trim_start_matches("Logs Insights: ")
        ));
    }
}

/// Counts `groups` over `range` with Logs Insights: a tally per group (groups with no lines in the
/// range have none) and what it cost, which is printed on stderr unless `quiet`. With `evidence`
/// (the rules the report judges by), each group where a finding alerts also gets the evidence of
/// those spans' 4xx, as a scan would have counted it.
#[allow(clippy::too_many_arguments)]
pub async fn read(
    client: &aws_sdk_cloudwatchlogs::Client,
    groups: &[String],
    range: TimeRange,
    parser: &LineParser,
    window: Option<u32>,
    args: &InsightsArgs,
    evidence: Option<&GroupRules>,
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
    let mut engine = Engine {
        readings,
        window,
        row_cap: args.max_rows_per_query,
        tallies: BTreeMap::new(),
        cut: Vec::new(),
        before: Totals::default(),
        spent: Totals::default(),
        bar,
    };
    let mut settings = Settings {
        max_in_flight: usize::from(args.max_queries),
        max_scan_bytes: args.max_scan_gb.map(|gb| gb * BYTES_PER_GB),
        spent_bytes: 0.0,
        timing: Timing::default(),
    };
    let (tx, mut cancel) = tokio::sync::watch::channel(false);
    let interrupt = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = tx.send(true);
        }
    });
    let api = Logs::new(client.clone());
    let mut result = run::run(&api, jobs, &settings, &mut engine, &mut cancel).await;
    if let (Ok(counted), Some(rules)) = (&result, evidence) {
        // The evidence is planned on the finished counts: the spans where a finding alerts.
        engine.tallies = std::mem::take(&mut engine.tallies).into_iter().map(|(g, t)| (g, t.finish())).collect();
        let jobs: Vec<Job> = rules
            .evidence_spans(&engine.tallies, range)
            .iter()
            .flat_map(|(group, spans)| evidence_jobs(group, spans, window, &engine.readings[group].evidence_facets()))
            .collect();
        engine.before = *counted;
        settings.spent_bytes = counted.scanned.bytes_scanned;
        result = run::run(&api, jobs, &settings, &mut engine, &mut cancel).await.map(|mut evidence| {
            evidence.merge(counted);
            evidence
        });
    }
    interrupt.abort();
    engine.bar.finish_and_clear();
    if result.is_err() && !quiet {
        // The queries are charged whether or not the read finished.
        let s = engine.spent;
        eprintln!("{}, before it stopped", cost_text(s.queries, s.scanned.bytes_scanned, s.scanned.records_scanned));
    }
    let totals = result?;
    for (group, span) in &engine.cut {
        eprintln!(
            "warning: log group {group}: the evidence from {} to {} lists the {} most frequent values; rarer ones are left out",
            format_iso8601(span.start),
            format_iso8601(span.end),
            evidence_limit(args.max_rows_per_query)
        );
    }
    if !quiet {
        eprintln!("{}", cost_text(totals.queries, totals.scanned.bytes_scanned, totals.scanned.records_scanned));
    }
    let tallies = engine.tallies.into_iter().map(|(g, t)| (g, t.finish())).collect();
    Ok((tallies, totals))
}
