//! Runs planned Logs Insights queries: at most `max_in_flight` at a time, each polled with a
//! growing wait; StartQuery's `LimitExceededException` and throttling backed off; a query that ends
//! `Failed` or `Timeout` split in halves and run once more, then reported by its time range; the
//! bytes scanned added up as they are reported, and every running query stopped (StopQuery) when the
//! budget is passed, on any error, and on cancellation (Ctrl-C). Generic over [`InsightsApi`], so
//! that its decisions are tested without AWS; [`super::api`] is the SDK's side.

use super::plan::{halves, Job};
use super::Row;
use crate::base::time::format_iso8601;
use crate::ingest::time_range::TimeRange;
use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// A query's state, as GetQueryResults reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryState {
    /// Waiting to run.
    Scheduled,
    /// Running.
    Running,
    /// Done: the rows are final.
    Complete,
    /// Ended with an error.
    Failed,
    /// Ran past the 60 minutes.
    Timeout,
    /// Stopped (StopQuery).
    Cancelled,
    /// A state this build does not know: polled again.
    Unknown,
}

impl QueryState {
    /// The state named as the API names it.
    pub fn from_name(name: &str) -> QueryState {
        match name {
            "Scheduled" => QueryState::Scheduled,
            "Running" => QueryState::Running,
            "Complete" => QueryState::Complete,
            "Failed" => QueryState::Failed,
            "Timeout" => QueryState::Timeout,
            "Cancelled" => QueryState::Cancelled,
            _ => QueryState::Unknown,
        }
    }
}

/// What a query has read so far (GetQueryResults' `statistics`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Scanned {
    /// Log events that matched the query.
    pub records_matched: f64,
    /// Log events read.
    pub records_scanned: f64,
    /// Bytes read: what the query costs.
    pub bytes_scanned: f64,
}

impl Scanned {
    fn add(&mut self, other: Scanned) {
        self.records_matched += other.records_matched;
        self.records_scanned += other.records_scanned;
        self.bytes_scanned += other.bytes_scanned;
    }
}

/// One GetQueryResults answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Poll {
    /// The query's state.
    pub state: QueryState,
    /// Its rows (final once `Complete`).
    pub rows: Vec<Row>,
    /// What it has read.
    pub scanned: Scanned,
}

/// What kind of failure a call had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// Throttling, or StartQuery's `LimitExceededException` (too many queries at once): wait, retry.
    Throttled,
    /// A log group does not exist.
    NotFound,
    /// The caller lacks the permission.
    Denied,
    /// The query was refused as invalid (`MalformedQueryException`, `InvalidParameterException`).
    Malformed,
    /// No answer, or the service failed on its side (5xx): worth another try.
    Transient,
    /// Anything else, past the SDK's own retries.
    Other,
}

/// A failed call: its kind and the service's explanation, on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// What kind of failure.
    pub kind: ApiErrorKind,
    /// The explanation.
    pub message: String,
}

/// The three calls a read makes.
pub trait InsightsApi {
    /// StartQuery over `groups` and `range` (both ends inclusive): the query's id.
    fn start(&self, groups: &[String], range: TimeRange, query: &str)
        -> impl Future<Output = Result<String, ApiError>>;
    /// GetQueryResults.
    fn results(&self, id: &str) -> impl Future<Output = Result<Poll, ApiError>>;
    /// StopQuery.
    fn stop(&self, id: &str) -> impl Future<Output = Result<(), ApiError>>;
}

/// What the runner asks of its caller.
pub trait Hooks {
    /// The query text of `job`.
    fn query(&self, job: &Job) -> String;
    /// `job` completed with `rows`: the queries it calls for next (a census's counts), or why its
    /// rows cannot be used.
    fn complete(&mut self, job: &Job, rows: Vec<Row>) -> Result<Vec<Job>, String>;
    /// Where the read stands (after each round of calls).
    fn progress(&mut self, _progress: &Progress) {}
}

/// Where a read stands.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Progress {
    /// Queries complete.
    pub done: u64,
    /// Queries running.
    pub running: u64,
    /// Queries waiting to start (more may follow from a census).
    pub waiting: u64,
    /// Read so far, running queries included.
    pub scanned: Scanned,
}

/// How long to wait, between polls and after throttling.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// The first poll of a query comes this long after its start; each later wait doubles.
    pub first_poll: Duration,
    /// The longest wait between polls of a query.
    pub max_poll: Duration,
    /// After a throttled call, the first wait; it doubles while throttling lasts.
    pub first_backoff: Duration,
    /// The longest wait after a throttled call.
    pub max_backoff: Duration,
    /// StartQuery throttled this many times in a row ends the read.
    pub max_throttled: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            first_poll: Duration::from_millis(100),
            max_poll: Duration::from_secs(5),
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            max_throttled: 12,
        }
    }
}

/// The runner's bounds.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Queries in flight at most.
    pub max_in_flight: usize,
    /// Bytes scanned at most; past it, every running query is stopped and the read fails.
    pub max_scan_bytes: Option<f64>,
    /// Bytes earlier runs of the same read scanned (its count queries, before its evidence): they
    /// count against `max_scan_bytes`.
    pub spent_bytes: f64,
    /// Poll and backoff waits.
    pub timing: Timing,
}

/// What a finished read cost.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    /// Queries started (halves of failed ones included).
    pub queries: u64,
    /// Queries that ended `Failed` or `Timeout` and were run again in halves.
    pub split: u64,
    /// StartQuery calls refused for throttling or `LimitExceededException`.
    pub throttled: u64,
    /// What every query read (failed ones included: they are charged too).
    pub scanned: Scanned,
}

impl Totals {
    /// Adds the totals of another run of the same read.
    pub fn merge(&mut self, other: &Totals) {
        self.queries += other.queries;
        self.split += other.split;
        self.throttled += other.throttled;
        self.scanned.add(other.scanned);
    }
}

/// Why a read failed. Each names the log groups (and, for a query, its time range).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    /// A log group does not exist.
    #[error("{groups}: not found ({message})")]
    NotFound {
        /// The query's log groups.
        groups: String,
        /// The service's explanation.
        message: String,
    },
    /// A permission is missing.
    #[error("{action} on {groups}: access denied ({message}); the insights engine needs logs:StartQuery, logs:GetQueryResults and logs:StopQuery")]
    Denied {
        /// The call.
        action: &'static str,
        /// The query's log groups.
        groups: String,
        /// The service's explanation.
        message: String,
    },
    /// The query was refused: its format cannot be read this way.
    #[error("{groups}: Logs Insights refused the query ({message}); use --engine scan")]
    Malformed {
        /// The query's log groups.
        groups: String,
        /// The service's explanation.
        message: String,
    },
    /// Any other failed call.
    #[error("{action} on {groups}: {message}")]
    Request {
        /// The call.
        action: &'static str,
        /// The query's log groups.
        groups: String,
        /// The service's explanation.
        message: String,
    },
    /// A query ended `Failed`, `Timeout` or `Cancelled` after its retry.
    #[error("{groups}: the Logs Insights query over {start} to {end} ended {state:?}{again}")]
    Failed {
        /// The query's log groups.
        groups: String,
        /// The first millisecond, ISO-8601.
        start: String,
        /// The last millisecond, ISO-8601.
        end: String,
        /// How it ended.
        state: QueryState,
        /// ` again (its first run was split in halves)`, or nothing.
        again: &'static str,
    },
    /// The rows of a query could not be used.
    #[error("{groups}: {message}")]
    Rows {
        /// The query's log groups.
        groups: String,
        /// Why.
        message: String,
    },
    /// The bytes scanned passed the budget.
    #[error(
        "Logs Insights scanned {scanned_gb:.3} GB, past --max-scan-gb {cap_gb}: stopped {stopped} running queries"
    )]
    ScanBudget {
        /// Scanned so far, in GB.
        scanned_gb: f64,
        /// The budget, in GB.
        cap_gb: f64,
        /// Queries stopped.
        stopped: usize,
    },
    /// Cancelled (Ctrl-C).
    #[error("interrupted: stopped {stopped} running Logs Insights queries")]
    Interrupted {
        /// Queries stopped.
        stopped: usize,
    },
}

/// `log group /a`, or `log groups /a, /b and 3 more`.
pub fn name_groups(groups: &[String]) -> String {
    match groups {
        [one] => format!("log group {one}"),
        _ if groups.len() <= 3 => format!("log groups {}", groups.join(", ")),
        _ => format!("log groups {} and {} more", groups[..2].join(", "), groups.len() - 2),
    }
}

fn api_failure(action: &'static str, groups: &[String], e: ApiError) -> RunError {
    let groups = name_groups(groups);
    let message = e.message;
    match e.kind {
        ApiErrorKind::NotFound => RunError::NotFound { groups, message },
        ApiErrorKind::Denied => RunError::Denied { action, groups, message },
        ApiErrorKind::Malformed => RunError::Malformed { groups, message },
        ApiErrorKind::Throttled | ApiErrorKind::Transient | ApiErrorKind::Other => {
            RunError::Request { action, groups, message }
        }
    }
}

/// A query under way.
struct Running {
    id: String,
    job: Job,
    next_poll: Instant,
    wait: Duration,
    scanned: Scanned,
}

/// Stops every running query (errors ignored: the read is ending anyway); how many.
async fn stop_all<A: InsightsApi>(api: &A, running: &mut Vec<Running>) -> usize {
    let n = running.len();
    for r in running.drain(..) {
        let _ = api.stop(&r.id).await;
    }
    n
}

/// True once cancellation was asked for.
fn cancelled(cancel: &watch::Receiver<bool>) -> bool {
    *cancel.borrow()
}

/// Resolves when cancellation is asked for (never, once its sender is gone without asking).
async fn until_cancelled(cancel: &mut watch::Receiver<bool>) {
    while !*cancel.borrow_and_update() {
        if cancel.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Runs `jobs` (and those their completion calls for) to the end: the totals, or the first error,
/// once every running query is stopped.
pub async fn run<A: InsightsApi, H: Hooks>(
    api: &A,
    jobs: Vec<Job>,
    settings: &Settings,
    hooks: &mut H,
    cancel: &mut watch::Receiver<bool>,
) -> Result<Totals, RunError> {
    let t = settings.timing;
    // At most this many in flight; lowered to what runs when the account refuses one more (its cap
    // on concurrent queries, shared with people and dashboards), raised again as queries finish.
    let mut max = settings.max_in_flight.max(1);
    let mut queue: VecDeque<Job> = jobs.into();
    let mut running: Vec<Running> = Vec::new();
    let mut totals = Totals::default();
    let mut done = 0u64;
    let (mut start_after, mut backoff, mut throttled_in_a_row) = (Instant::now(), t.first_backoff, 0u32);
    macro_rules! fail {
        ($e:expr) => {{
            let e = $e;
            stop_all(api, &mut running).await;
            return Err(e);
        }};
    }
    loop {
        if cancelled(cancel) {
            let stopped = stop_all(api, &mut running).await;
            return Err(RunError::Interrupted { stopped });
        }
        while running.len() < max && Instant::now() >= start_after && !cancelled(cancel) {
            let Some(job) = queue.pop_front() else { break };
            match api.start(&job.groups, job.range, &hooks.query(&job)).await {
                Ok(id) => {
                    totals.queries += 1;
                    (backoff, throttled_in_a_row) = (t.first_backoff, 0);
                    let next_poll = Instant::now() + t.first_poll;
                    running.push(Running { id, job, next_poll, wait: t.first_poll, scanned: Scanned::default() });
                }
                // A transient failure may have started a query we never hear of: it runs to its
                // end unstopped (rare; the SDK's retries of other calls would do the same).
                Err(e) if e.kind == ApiErrorKind::Transient && throttled_in_a_row < t.max_throttled => {
                    throttled_in_a_row += 1;
                    queue.push_front(job);
                    start_after = Instant::now() + backoff;
                    backoff = (backoff * 2).min(t.max_backoff);
                }
                Err(e) if e.kind == ApiErrorKind::Throttled && throttled_in_a_row < t.max_throttled => {
                    totals.throttled += 1;
                    throttled_in_a_row += 1;
                    queue.push_front(job);
                    if running.is_empty() {
                        start_after = Instant::now() + backoff;
                        backoff = (backoff * 2).min(t.max_backoff);
                    } else {
                        // The next start waits for one of ours to finish.
                        max = running.len();
                    }
                }
                Err(e) => fail!(api_failure("StartQuery", &job.groups, e)),
            }
        }
        if running.is_empty() && queue.is_empty() {
            return Ok(totals);
        }
        let mut i = 0;
        while i < running.len() && !cancelled(cancel) {
            if running[i].next_poll > Instant::now() {
                i += 1;
                continue;
            }
            let poll = match api.results(&running[i].id).await {
                Ok(p) => p,
                Err(e) if e.kind == ApiErrorKind::Throttled => {
                    running[i].next_poll = Instant::now() + backoff;
                    i += 1;
                    continue;
                }
                Err(e) => fail!(api_failure("GetQueryResults", &running[i].job.groups, e)),
            };
            running[i].scanned = poll.scanned;
            match poll.state {
                QueryState::Complete => {
                    let r = running.remove(i);
                    totals.scanned.add(r.scanned);
                    done += 1;
                    max = (max + 1).min(settings.max_in_flight.max(1));
                    match hooks.complete(&r.job, poll.rows) {
                        Ok(more) => queue.extend(more),
                        Err(message) => fail!(RunError::Rows { groups: name_groups(&r.job.groups), message }),
                    }
                }
                QueryState::Failed | QueryState::Timeout | QueryState::Cancelled => {
                    let r = running.remove(i);
                    totals.scanned.add(r.scanned);
                    match halves(&r.job).filter(|_| poll.state != QueryState::Cancelled) {
                        Some([a, b]) => {
                            totals.split += 1;
                            queue.push_front(b);
                            queue.push_front(a);
                        }
                        None => fail!(failed(&r.job, poll.state)),
                    }
                }
                QueryState::Scheduled | QueryState::Running | QueryState::Unknown => {
                    let r = &mut running[i];
                    r.wait = (r.wait * 2).min(t.max_poll);
                    r.next_poll = Instant::now() + r.wait;
                    i += 1;
                }
            }
        }
        let mut scanned = totals.scanned;
        for r in &running {
            scanned.add(r.scanned);
        }
        let spent = scanned.bytes_scanned + settings.spent_bytes;
        if let Some(cap) = settings.max_scan_bytes.filter(|cap| spent > *cap) {
            let stopped = stop_all(api, &mut running).await;
            let gb = super::plan::BYTES_PER_GB;
            return Err(RunError::ScanBudget { scanned_gb: spent / gb, cap_gb: cap / gb, stopped });
        }
        let waiting = queue.len() as u64;
        hooks.progress(&Progress { done, running: running.len() as u64, waiting, scanned });
        let mut wake = running.iter().map(|r| r.next_poll).min();
        if !queue.is_empty() && running.len() < max {
            wake = Some(wake.map_or(start_after, |w| w.min(start_after)));
        }
        if let Some(at) = wake {
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = until_cancelled(cancel) => {}
            }
        }
    }
}

fn failed(job: &Job, state: QueryState) -> RunError {
    RunError::Failed {
        groups: name_groups(&job.groups),
        start: format_iso8601_ms(job.range.start),
        end: format_iso8601_ms(job.range.end),
        state,
        again: if job.retried { " again (its first run was split in halves)" } else { "" },
    }
}

/// ISO-8601 with milliseconds when they are not zero (a half's edges fall anywhere).
fn format_iso8601_ms(t: i64) -> String {
    let s = format_iso8601(t);
    match t.rem_euclid(1000) {
        0 => s,
        ms => format!("{}.{ms:03}Z", s.trim_end_matches('Z')),
    }
}

#[cfg(test)]
mod tests;
