//! The runner against a fake Logs Insights: each query's one row counts the milliseconds of its
//! range, so a read is exact when the rows add up to the whole range, however it was split.

use super::*;
use crate::ingest::insights::plan::JobKind;
use std::cell::RefCell;
use std::collections::BTreeMap;

#[derive(Default)]
struct State {
    next_id: u64,
    /// id → (range, polls left before the end, how it ends)
    queries: BTreeMap<String, (TimeRange, u32, QueryState)>,
    max_in_flight: usize,
    starts: u64,
    stops: Vec<String>,
    /// Answers for the next StartQuery calls, in order.
    start_errors: VecDeque<ApiError>,
    /// The StartQuery call of this number (from 1) is refused so.
    refuse: Option<(u64, ApiError)>,
    /// How the next queries end (Complete once these run out).
    fates: VecDeque<QueryState>,
    /// StartQuery answers LimitExceededException (Throttled) while this many run.
    account_cap: Option<usize>,
    polls: u32,
    bytes_per_poll: f64,
}

#[derive(Default)]
struct Fake(RefCell<State>);

impl InsightsApi for Fake {
    async fn start(&self, _groups: &[String], range: TimeRange, _query: &str) -> Result<String, ApiError> {
        let mut s = self.0.borrow_mut();
        s.starts += 1;
        if let Some(e) = s.start_errors.pop_front() {
            return Err(e);
        }
        if s.account_cap.is_some_and(|cap| s.queries.len() >= cap) {
            return Err(error(ApiErrorKind::Throttled));
        }
        if let Some((n, e)) = s.refuse.clone() {
            if n == s.starts {
                return Err(e);
            }
        }
        s.next_id += 1;
        let id = format!("q{}", s.next_id);
        let fate = s.fates.pop_front().unwrap_or(QueryState::Complete);
        let polls = s.polls;
        s.queries.insert(id.clone(), (range, polls, fate));
        s.max_in_flight = s.max_in_flight.max(s.queries.len());
        Ok(id)
    }

    async fn results(&self, id: &str) -> Result<Poll, ApiError> {
        let mut s = self.0.borrow_mut();
        let bytes = s.bytes_per_poll;
        let (range, left, fate) = s.queries.get_mut(id).map(|q| (q.0, &mut q.1, q.2)).expect("a known query");
        let scanned = Scanned { records_matched: 1.0, records_scanned: 1.0, bytes_scanned: bytes };
        if *left > 0 {
            *left -= 1;
            return Ok(Poll { state: QueryState::Running, rows: vec![], scanned });
        }
        s.queries.remove(id);
        let n = (range.end - range.start + 1).to_string();
        let rows = if fate == QueryState::Complete { vec![Row::from([("n", n.as_str())])] } else { vec![] };
        Ok(Poll { state: fate, rows, scanned })
    }

    async fn stop(&self, id: &str) -> Result<(), ApiError> {
        let mut s = self.0.borrow_mut();
        s.queries.remove(id);
        s.stops.push(id.to_string());
        Ok(())
    }
}

/// Adds up the `n` of every row.
#[derive(Default)]
struct Sum {
    lines: i64,
    last: Progress,
}

impl Hooks for Sum {
    fn query(&self, _job: &Job) -> String {
        "stats count(*) as n".into()
    }

    fn complete(&mut self, _job: &Job, rows: Vec<Row>) -> Result<Vec<Job>, String> {
        self.lines += rows.iter().map(|r| r.get("n").unwrap().parse::<i64>().unwrap()).sum::<i64>();
        Ok(vec![])
    }

    fn progress(&mut self, progress: &Progress) {
        self.last = *progress;
    }
}

fn jobs(n: i64, width: i64) -> Vec<Job> {
    (0..n)
        .map(|i| Job {
            kind: JobKind::Count,
            groups: vec!["/g".into()],
            range: TimeRange { start: i * width, end: (i + 1) * width - 1 },
            retried: false,
        })
        .collect()
}

fn settings(max_in_flight: usize) -> Settings {
    Settings { max_in_flight, max_scan_bytes: None, spent_bytes: 0.0, timing: Timing::default() }
}

fn no_cancel() -> watch::Receiver<bool> {
    watch::channel(false).1
}

fn error(kind: ApiErrorKind) -> ApiError {
    ApiError { kind, message: format!("{kind:?}") }
}

#[tokio::test(start_paused = true)]
async fn never_more_than_max_in_flight_and_every_millisecond_counted() {
    let fake = Fake::default();
    fake.0.borrow_mut().polls = 3;
    let mut sum = Sum::default();
    let totals = run(&fake, jobs(40, 1_000), &settings(5), &mut sum, &mut no_cancel()).await.unwrap();
    assert_eq!(sum.lines, 40_000);
    assert_eq!((totals.queries, fake.0.borrow().max_in_flight), (40, 5), "the bound is reached and kept");
    assert_eq!(sum.last.done, 40);
    assert!(fake.0.borrow().stops.is_empty());
}

#[tokio::test(start_paused = true)]
async fn limit_exceeded_is_waited_out() {
    let fake = Fake::default();
    fake.0.borrow_mut().start_errors = (0..3).map(|_| error(ApiErrorKind::Throttled)).collect();
    let began = Instant::now();
    let mut sum = Sum::default();
    let totals = run(&fake, jobs(4, 10), &settings(2), &mut sum, &mut no_cancel()).await.unwrap();
    assert_eq!((sum.lines, totals.throttled, totals.queries), (40, 3, 4));
    assert!(Instant::now() - began >= Duration::from_secs(1 + 2 + 4), "waits of 1, 2 and 4 s");
    // A 5xx or a lost answer is tried again after a wait, uncounted as throttling.
    let fake = Fake::default();
    fake.0.borrow_mut().start_errors = (0..2).map(|_| error(ApiErrorKind::Transient)).collect();
    let totals = run(&fake, jobs(2, 10), &settings(2), &mut Sum::default(), &mut no_cancel()).await.unwrap();
    assert_eq!((totals.throttled, totals.queries), (0, 2));
    // Throttled past the limit: the read ends, naming the group.
    let fake = Fake::default();
    fake.0.borrow_mut().start_errors = (0..20).map(|_| error(ApiErrorKind::Throttled)).collect();
    let e = run(&fake, jobs(1, 10), &settings(2), &mut Sum::default(), &mut no_cancel()).await.unwrap_err();
    assert_eq!(e.to_string(), "StartQuery on log group /g: Throttled");
}

#[tokio::test(start_paused = true)]
async fn the_accounts_cap_lowers_the_bound_until_queries_finish() {
    let fake = Fake::default();
    fake.0.borrow_mut().polls = 3;
    fake.0.borrow_mut().account_cap = Some(2);
    let began = Instant::now();
    let mut sum = Sum::default();
    let totals = run(&fake, jobs(30, 10), &settings(5), &mut sum, &mut no_cancel()).await.unwrap();
    assert_eq!((sum.lines, totals.queries), (300, 30));
    assert!(totals.throttled <= 30, "{} refusals: no hammering", totals.throttled);
    assert!(Instant::now() - began < Duration::from_secs(60), "no time lost to backoff while ours run");
}

#[tokio::test(start_paused = true)]
async fn failed_and_timed_out_queries_are_halved_once_then_named() {
    for fate in [QueryState::Failed, QueryState::Timeout] {
        let fake = Fake::default();
        fake.0.borrow_mut().fates = [fate].into();
        let mut sum = Sum::default();
        let totals = run(&fake, jobs(3, 1_000), &settings(1), &mut sum, &mut no_cancel()).await.unwrap();
        assert_eq!((sum.lines, totals.split, totals.queries), (3_000, 1, 5), "{fate:?}: one failed, two halves");
    }
    let fake = Fake::default();
    // The second job times out, and so does the first of its halves.
    fake.0.borrow_mut().fates =
        [QueryState::Complete, QueryState::Timeout, QueryState::Complete, QueryState::Timeout].into();
    fake.0.borrow_mut().polls = 1;
    let e = run(&fake, jobs(3, 1_000), &settings(3), &mut Sum::default(), &mut no_cancel()).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "log group /g: the Logs Insights query over 1970-01-01T00:00:01Z to 1970-01-01T00:00:01.499Z ended Timeout again (its first run was split in halves)"
    );
    let s = fake.0.borrow();
    assert_eq!(s.stops, ["q5"], "the other half was running: stopped");
    assert!(s.queries.is_empty(), "nothing left running");
}

#[tokio::test(start_paused = true)]
async fn the_scan_budget_stops_every_running_query() {
    let fake = Fake::default();
    fake.0.borrow_mut().polls = 2;
    fake.0.borrow_mut().bytes_per_poll = super::super::plan::BYTES_PER_GB;
    let s = Settings { max_scan_bytes: Some(2.5 * super::super::plan::BYTES_PER_GB), ..settings(3) };
    let e = run(&fake, jobs(10, 10), &s, &mut Sum::default(), &mut no_cancel()).await.unwrap_err();
    assert_eq!(e, RunError::ScanBudget { scanned_gb: 3.0, cap_gb: 2.5, stopped: 3 });
    assert!(fake.0.borrow().queries.is_empty());
    assert!(e.to_string().starts_with("Logs Insights scanned 3.000 GB, past --max-scan-gb 2.5: stopped 3"), "{e}");

    // A second run of the same read (the evidence, after the counts) starts with what the first
    // scanned: its first poll passes the budget.
    let fake = Fake::default();
    fake.0.borrow_mut().bytes_per_poll = super::super::plan::BYTES_PER_GB;
    let s = Settings { spent_bytes: 2.0 * super::super::plan::BYTES_PER_GB, ..s };
    let e = run(&fake, jobs(1, 10), &s, &mut Sum::default(), &mut no_cancel()).await.unwrap_err();
    assert_eq!(e, RunError::ScanBudget { scanned_gb: 3.0, cap_gb: 2.5, stopped: 0 });
}

#[tokio::test(start_paused = true)]
async fn cancelling_stops_every_running_query() {
    let fake = Fake::default();
    fake.0.borrow_mut().polls = 1_000;
    let (tx, mut rx) = watch::channel(false);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let _ = tx.send(true);
    });
    let e = run(&fake, jobs(10, 10), &settings(4), &mut Sum::default(), &mut rx).await.unwrap_err();
    assert_eq!(e, RunError::Interrupted { stopped: 4 });
    let s = fake.0.borrow();
    assert_eq!((s.stops.len(), s.starts), (4, 4));
    assert!(s.queries.is_empty());
}

#[tokio::test(start_paused = true)]
async fn refusals_end_the_read_naming_the_groups_and_stop_what_runs() {
    for (kind, text) in [
        (ApiErrorKind::Denied, "StartQuery on log group /g: access denied (Denied); the insights engine needs"),
        (ApiErrorKind::NotFound, "log group /g: not found (NotFound)"),
        (ApiErrorKind::Malformed, "log group /g: Logs Insights refused the query (Malformed); use --engine scan"),
    ] {
        let fake = Fake::default();
        fake.0.borrow_mut().polls = 5;
        fake.0.borrow_mut().refuse = Some((2, error(kind)));
        let e = run(&fake, jobs(2, 10), &settings(2), &mut Sum::default(), &mut no_cancel()).await.unwrap_err();
        assert!(e.to_string().starts_with(text), "{e}");
        assert_eq!(fake.0.borrow().stops, ["q1"], "the query already running is stopped");
    }
    assert_eq!(name_groups(&["/a".into(), "/b".into(), "/c".into(), "/d".into()]), "log groups /a, /b and 2 more");
}
