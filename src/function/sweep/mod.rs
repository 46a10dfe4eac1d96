//! The sweep: the same binary as the function, in a mode of its own (the sweep function of the
//! template runs it, on a schedule and once at deploy through a custom resource). A run loads the
//! state, takes the pass's steps one paced call at a time until the pass is done or the time is
//! short, then makes the writes it decided, and keeps the state if anything changed:
//!
//! 1. reads: list APIs, stages and prefixed groups; check each group's filters (the pure plan in
//!    [`crate::watch`] says what to do with it);
//! 2. the groups about to get a filter are written into the state first, so no filter is ever put
//!    that the state does not know of;
//! 3. writes: put or delete this stack's filter, nothing else;
//! 4. a notice per group newly found unwatchable, then the state (only when it changed), then
//!    `WatchedLogGroups` and `UnwatchableLogGroups` as an EMF line.
//!
//! A second sweep that finds nothing changed makes no write call at all. At stack deletion,
//! [`Sweeper::close`] removes every filter the state knows of and stops later runs.

pub mod config;
pub mod event;
pub mod logs;
pub mod respond;
pub mod store;

use crate::aws::client::CallCounter;
use crate::aws::error::{AwsError, AwsErrorKind};
use crate::context::apigateway::{LookupError, StageLister};
use crate::function::emf::EmfSink;
use crate::function::invocation::{within, Invocation};
use crate::function::stores::AlertSink;
use crate::function::sweep::config::SweepConfig;
use crate::function::sweep::event::SweepEvent;
use crate::function::sweep::logs::Subscriptions;
use crate::function::sweep::respond::{physical_id, response, response_url, Responder};
use crate::function::sweep::store::{StateStore, StoreError};
use crate::metrics::contract::{UNWATCHABLE_LOG_GROUPS, WATCHED_LOG_GROUPS};
use crate::metrics::emf::account_document;
use crate::render::notice;
use crate::watch::pace::Pacer;
use crate::watch::pass::{Pass, Step};
use crate::watch::plan::{decide, outcome, Applied, Decision, Seen};
use crate::watch::state::{Outcome, SweepState, Unwatchable};
use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use serde::Serialize;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Time kept back from the deadline: one call's operation timeout, saving the state, answering.
pub const RESERVE: Duration = Duration::from_secs(15);
/// Unwatchable groups named in the summary line (the count is always whole).
const NAMED_IN_SUMMARY: usize = 20;

/// What a run did: logged as one line, and returned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepSummary {
    /// Groups wanted (all of them once the pass is done; so far, before).
    pub wanted: usize,
    /// Groups holding this stack's filter.
    pub watched: usize,
    /// Wanted groups that cannot be watched.
    pub unwatchable: usize,
    /// The first of them, as `group (reason)`.
    pub unwatchable_groups: Vec<String>,
    /// Filters put.
    pub added: usize,
    /// Filters deleted.
    pub removed: usize,
    /// Notices sent (one per group newly found unwatchable).
    pub reported: usize,
    /// Listing and checking steps taken.
    pub steps: usize,
    /// Steps left for the next run.
    pub remaining: usize,
    /// The pass ended in this run.
    pub complete: bool,
    /// Runs the pass has taken, this one included.
    pub runs: u32,
    /// Throttled answers (each backed off).
    pub throttled: u64,
    /// Writes that failed, left for the next pass.
    pub failed: usize,
    /// AWS requests sent.
    pub aws_calls: u64,
    /// The stack is being deleted: nothing was swept.
    pub closed: bool,
    /// Why the run stopped early, when a call failed (the invocation then fails).
    pub error: Option<String>,
}

impl SweepSummary {
    /// The custom resource's `Data`: what CloudFormation shows and `!GetAtt` reads.
    pub fn data(&self) -> HashMap<String, String> {
        HashMap::from([
            ("Watched".to_string(), self.watched.to_string()),
            ("Unwatchable".to_string(), self.unwatchable.to_string()),
            ("Complete".to_string(), self.complete.to_string()),
        ])
    }
}

/// Why a run could not be made at all.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The state could not be read or kept.
    #[error("sweep state: {0}")]
    Store(#[from] StoreError),
    /// The event is not one the sweep knows.
    #[error("event shape: {0}")]
    Shape(String),
    /// The custom resource's answer could not be delivered.
    #[error("CloudFormation response: {0}")]
    Respond(String),
}

impl SweepError {
    /// The error type Lambda reports.
    pub fn error_type(&self) -> &'static str {
        match self {
            SweepError::Store(_) => "Sweep.State",
            SweepError::Shape(_) => "Sweep.EventShape",
            SweepError::Respond(_) => "Sweep.Respond",
        }
    }
}

/// Which control plane a call goes to (each has its own pace).
#[derive(Debug, Clone, Copy)]
enum Plane {
    ApiGateway,
    Logs,
}

/// Why a call was not made or not answered.
enum Stop {
    /// Too close to the deadline: left for the next run.
    OutOfTime,
    /// Throttled too many times in a row: left for the next run.
    Throttled,
    /// Failed otherwise.
    Failed(AwsError),
}

/// One run's clock, deadline and pacers.
struct Run {
    started: Instant,
    deadline: Option<Instant>,
    reserve: Duration,
    apigateway: Pacer,
    logs: Pacer,
    throttled: u64,
}

impl Run {
    fn new(inv: Invocation, reserve: Duration, config: &SweepConfig) -> Run {
        Run {
            started: Instant::now(),
            deadline: inv.deadline,
            reserve,
            apigateway: Pacer::per_second(config.apigateway_per_second),
            logs: Pacer::per_second(config.logs_per_second),
            throttled: 0,
        }
    }

    /// True when `more` (and the reserve) still fit before the deadline.
    fn has_time(&self, more: Duration) -> bool {
        self.deadline.is_none_or(|d| Instant::now() + self.reserve + more <= d)
    }

    /// One call at its plane's pace; throttled answers back off and try again.
    async fn call<T, F, Fut>(&mut self, plane: Plane, mut send: F) -> Result<T, Stop>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        loop {
            let now = Instant::now() - self.started;
            let pacer = match plane {
                Plane::ApiGateway => &mut self.apigateway,
                Plane::Logs => &mut self.logs,
            };
            let wait = pacer.reserve(now);
            if !self.has_time(wait) {
                return Err(Stop::OutOfTime);
            }
            tokio::time::sleep(wait).await;
            let answer = send().await;
            let pacer = match plane {
                Plane::ApiGateway => &mut self.apigateway,
                Plane::Logs => &mut self.logs,
            };
            match answer {
                Ok(t) => {
                    pacer.answered();
                    return Ok(t);
                }
                Err(e) if e.kind == AwsErrorKind::Throttling => {
                    self.throttled += 1;
                    if pacer.throttled() {
                        return Err(Stop::Throttled);
                    }
                }
                Err(e) => return Err(Stop::Failed(e)),
            }
        }
    }
}

fn control_plane(e: LookupError) -> AwsError {
    match e {
        LookupError::Aws(e) => e,
        other => AwsError::new(AwsErrorKind::Service, other.to_string()),
    }
}

/// A group with a write decided, and what it held.
type Planned = (String, Decision, Seen);

/// The sweep over its edges: API Gateway listings, CloudWatch Logs filters, the state, notices and
/// the EMF output.
pub struct Sweeper<L, S, T, A, E> {
    config: SweepConfig,
    lister: L,
    logs: S,
    store: T,
    alerts: A,
    emf: E,
    calls: CallCounter,
    reserve: Duration,
}

impl<L, S, T, A, E> Sweeper<L, S, T, A, E>
where
    L: StageLister + Sync,
    S: Subscriptions + Sync,
    T: StateStore + Sync,
    A: AlertSink + Sync,
    E: EmfSink,
{
    /// A sweep over the given edges; `calls` counts the requests they send.
    pub fn new(config: SweepConfig, lister: L, logs: S, store: T, alerts: A, emf: E, calls: CallCounter) -> Self {
        Sweeper { config, lister, logs, store, alerts, emf, calls, reserve: RESERVE }
    }

    /// The same sweep keeping `reserve` back from the deadline (tests with short deadlines).
    pub fn with_reserve(mut self, reserve: Duration) -> Self {
        self.reserve = reserve;
        self
    }

    /// The state store.
    pub fn store(&self) -> &T {
        &self.store
    }

    /// The EMF sink.
    pub fn emf(&self) -> &E {
        &self.emf
    }

    /// One run: resume the pass under way (or start one), then save what changed.
    pub async fn sweep(&self, inv: Invocation) -> Result<SweepSummary, SweepError> {
        let before_calls = self.calls.get() + self.alerts.calls();
        let mut state = self.store.load().await?;
        let mut sum = SweepSummary::default();
        if state.closed {
            sum.closed = true;
            return Ok(sum);
        }
        let before = state.clone();
        let selection = &self.config.selection;
        let mut pass = match state.pass.take() {
            Some(p) if p.selection == selection.key() => p,
            _ => Pass::new(selection, inv.now),
        };
        pass.runs += 1;
        let mut run = Run::new(inv, self.reserve, &self.config);
        let mut planned: Vec<Planned> = Vec::new();
        let mut newly: Vec<(String, Unwatchable)> = Vec::new();

        // 1. Reads, as long as the writes decided so far still fit.
        loop {
            let writes = run.logs.base() * u32::try_from(planned.len()).unwrap_or(u32::MAX);
            if !run.has_time(writes) {
                break;
            }
            let Some(step) = pass.next(&state.subscribed) else { break };
            match self.take(&step, &mut pass, &mut state, &mut run, &mut planned, &mut newly).await {
                Ok(()) => sum.steps += 1,
                Err(stop) => {
                    pass.put_back(step);
                    if let Stop::Failed(e) = stop {
                        sum.error = Some(e.to_string());
                    }
                    break;
                }
            }
        }

        // 2. The state learns of every filter about to be put, before any is.
        let puts: Vec<&str> = planned.iter().filter(|p| p.1 == Decision::Put).map(|p| p.0.as_str()).collect();
        if puts.iter().any(|g| !state.subscribed.contains(*g)) {
            state.intend(puts);
            let mut ahead = state.clone();
            let mut resumable = pass.clone();
            for (group, ..) in planned.iter().rev() {
                resumable.put_back(Step::Check { group: group.clone() });
            }
            ahead.pass = Some(resumable);
            self.store.save(&ahead).await?;
        }

        // 3. Writes: this stack's filter only.
        let mut planned = planned.into_iter();
        while let Some((group, decision, seen)) = planned.next() {
            let target = &self.config.target;
            let answer = match decision {
                Decision::Delete => run.call(Plane::Logs, || self.logs.delete(&group, &target.filter_name)).await,
                _ => run.call(Plane::Logs, || self.logs.put(&group, target)).await,
            };
            match answer {
                Ok(applied) => {
                    match (&decision, &applied) {
                        (Decision::Put, Applied::Done) => sum.added += 1,
                        (Decision::Delete, Applied::Done) => sum.removed += 1,
                        _ => {}
                    }
                    self.record(&mut state, &mut newly, &group, outcome(&decision, applied, &seen, target));
                }
                Err(Stop::Failed(e)) => {
                    tracing::warn!(group, error = %e, "subscription filter not changed: left for the next pass");
                    sum.failed += 1;
                }
                Err(_) => {
                    // Out of time or throttled: this group and the rest are checked again next run.
                    let rest: Vec<String> = std::iter::once(group).chain(planned.by_ref().map(|(g, ..)| g)).collect();
                    for g in rest.into_iter().rev() {
                        pass.put_back(Step::Check { group: g });
                    }
                    break;
                }
            }
        }

        // 4. Notices, then the state, then the gauges.
        for (group, why) in &newly {
            // Inside the reserve the state must still be saved: the rest are reported next pass.
            if !run.has_time(Duration::ZERO) {
                state.unwatchable.remove(group);
                continue;
            }
            let by: Vec<&str> = pass.wanted_by(group).collect();
            let message =
                notice::unwatchable(group, why, &by, self.config.outputs.alert_format, &self.config.outputs.region);
            if let Err(e) = within(inv, self.alerts.publish(&message)).await {
                tracing::warn!(group, error = %e, "notice not sent: it is tried again next pass");
                state.unwatchable.remove(group);
            } else {
                sum.reported += 1;
            }
        }
        sum.runs = pass.runs;
        sum.wanted = pass.wanted().len();
        if pass.is_done() {
            state.forget_unwanted(&pass.wanted());
            sum.complete = true;
        } else {
            sum.remaining = pass.remaining();
            state.pass = Some(pass);
        }
        if state != before {
            self.store.save(&state).await?;
        }
        self.finish(&state, &mut sum, &run, inv, before_calls);
        Ok(sum)
    }

    /// One step of the pass.
    async fn take(
        &self,
        step: &Step,
        pass: &mut Pass,
        state: &mut SweepState,
        run: &mut Run,
        planned: &mut Vec<Planned>,
        newly: &mut Vec<(String, Unwatchable)>,
    ) -> Result<(), Stop> {
        let selection = &self.config.selection;
        match step {
            Step::Apis { kind, token } => {
                let page = run
                    .call(Plane::ApiGateway, || async {
                        self.lister.api_page(*kind, token.clone()).await.map_err(control_plane)
                    })
                    .await?;
                pass.listed_apis(*kind, page, selection);
            }
            Step::Stages { api, token } => {
                let page = run
                    .call(Plane::ApiGateway, || async {
                        self.lister.stage_page(api, token.clone()).await.map_err(control_plane)
                    })
                    .await?;
                pass.listed_stages(api.clone(), page, selection);
            }
            Step::Groups { prefix, token } => {
                let page = run.call(Plane::Logs, || self.logs.groups(prefix, token.clone())).await?;
                pass.listed_groups(prefix.clone(), page, selection);
            }
            Step::Check { group } => {
                let seen = run.call(Plane::Logs, || self.logs.filters(group)).await?;
                let wanted = pass.wants(group);
                match decide(wanted, &seen, &self.config.target, state.unwatchable.get(group)) {
                    Decision::Nothing(outcome) => self.record(state, newly, group, outcome),
                    decision => planned.push((group.clone(), decision, seen)),
                }
            }
        }
        Ok(())
    }

    fn record(&self, state: &mut SweepState, newly: &mut Vec<(String, Unwatchable)>, group: &str, outcome: Outcome) {
        let why = match &outcome {
            Outcome::Unwatchable(w) | Outcome::UnwatchableHolding(w) => Some(w.clone()),
            _ => None,
        };
        if state.record(group, outcome) {
            if let Some(w) = why {
                newly.push((group.to_string(), w));
            }
        }
    }

    /// The gauges (one EMF line) and the summary's counts.
    fn finish(&self, state: &SweepState, sum: &mut SweepSummary, run: &Run, inv: Invocation, before_calls: u64) {
        sum.watched = state.subscribed.len();
        sum.unwatchable = state.unwatchable.len();
        sum.unwatchable_groups =
            state.unwatchable.iter().take(NAMED_IN_SUMMARY).map(|(g, w)| format!("{g} ({})", w.code())).collect();
        sum.throttled = run.throttled;
        let gauges = account_document(
            &self.config.outputs.namespace,
            inv.now,
            vec![(WATCHED_LOG_GROUPS, sum.watched as u64), (UNWATCHABLE_LOG_GROUPS, sum.unwatchable as u64)],
        );
        if let Err(e) = self.emf.write(&mut std::iter::once(gauges)) {
            tracing::warn!(error = %e, "gauges not written");
        }
        sum.aws_calls = self.calls.get() + self.alerts.calls() - before_calls;
    }

    /// The stack is being deleted: no sweep may put a filter from now on, and every filter the
    /// state knows of is deleted (this stack's name only). Filters that could not be deleted are the
    /// summary's error.
    pub async fn close(&self, inv: Invocation) -> Result<SweepSummary, SweepError> {
        let before_calls = self.calls.get() + self.alerts.calls();
        let mut state = self.store.load().await?;
        state.closed = true;
        state.pass = None;
        self.store.save(&state).await?;
        let mut sum = SweepSummary { closed: true, ..SweepSummary::default() };
        let mut run = Run::new(inv, self.reserve, &self.config);
        let name = &self.config.target.filter_name;
        for group in state.subscribed.clone() {
            match run.call(Plane::Logs, || self.logs.delete(&group, name)).await {
                Ok(Applied::Done) => {
                    state.record(&group, Outcome::Unwatched);
                    sum.removed += 1;
                }
                Ok(refused) => tracing::warn!(group, ?refused, "filter not deleted"),
                Err(Stop::Failed(e)) => tracing::warn!(group, error = %e, "filter not deleted"),
                Err(_) => break,
            }
        }
        state.unwatchable.clear();
        self.store.save(&state).await?;
        if !state.subscribed.is_empty() {
            let left: Vec<&str> = state.subscribed.iter().take(NAMED_IN_SUMMARY).map(String::as_str).collect();
            sum.error = Some(format!(
                "{} subscription filters could not be deleted (run the delete again): {}",
                state.subscribed.len(),
                left.join(", ")
            ));
        }
        self.finish(&state, &mut sum, &run, inv, before_calls);
        Ok(sum)
    }

    /// Lets sweeps run again (a stack created anew over a state left closed).
    async fn reopen(&self) -> Result<(), SweepError> {
        let mut state = self.store.load().await?;
        if state.closed {
            state.closed = false;
            self.store.save(&state).await?;
        }
        Ok(())
    }

    /// One invocation: a scheduled event sweeps; a custom-resource request sweeps (Create, Update)
    /// or closes (Delete), and is always answered through `responder`.
    pub async fn handle<R: Responder + Sync>(
        &self,
        event: SweepEvent,
        inv: Invocation,
        responder: &R,
    ) -> Result<SweepSummary, SweepError> {
        let request = match event {
            SweepEvent::Scheduled => return self.sweep(inv).await,
            SweepEvent::Resource(r) => r,
        };
        let result = match *request {
            CloudFormationCustomResourceRequest::Delete(_) => self.close(inv).await,
            _ => match self.reopen().await {
                Ok(()) => self.sweep(inv.capped(DEPLOY_SWEEP)).await,
                Err(e) => Err(e),
            },
        };
        let outcome = match &result {
            Ok(s) => s.error.clone().map_or_else(|| Ok(s.data()), Err),
            Err(e) => Err(e.to_string()),
        };
        let body = response(&request, physical_id(&request, &self.config.target.filter_name), outcome);
        responder.put(response_url(&request), body).await.map_err(SweepError::Respond)?;
        result
    }
}

/// How long a Create or Update sweeps before it answers CloudFormation: the deploy waits for the
/// answer, and may already have waited behind a scheduled run (one run at a time); the schedule
/// resumes the pass where this part stopped.
pub const DEPLOY_SWEEP: Duration = Duration::from_secs(120);

/// Answers a custom-resource request when the sweep's configuration does not read: Create and
/// Update fail with the configuration's line; Delete succeeds. (A Delete is handed here only when
/// not even the state table and the filter name read, [`config::SweepConfig::for_deletion`]: no
/// filter of the stack can be found then.)
pub async fn answer_unconfigured<R: Responder + Sync>(
    event: SweepEvent,
    problem: &str,
    responder: &R,
) -> Result<(), SweepError> {
    let SweepEvent::Resource(request) = event else { return Ok(()) };
    let outcome = match *request {
        CloudFormationCustomResourceRequest::Delete(_) => Ok(HashMap::new()),
        _ => Err(format!("invalid configuration: {problem}")),
    };
    let body = response(&request, physical_id(&request, "apigw-4xx-sweep"), outcome);
    responder.put(response_url(&request), body).await.map_err(SweepError::Respond)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Captured(Mutex<Vec<(String, serde_json::Value)>>);

    impl Responder for Captured {
        async fn put(&self, url: &str, body: String) -> Result<(), String> {
            let v = serde_json::from_str(&body).map_err(|e| e.to_string())?;
            self.0.lock().map_err(|e| e.to_string())?.push((url.to_string(), v));
            Ok(())
        }
    }

    fn request(kind: &str) -> SweepEvent {
        SweepEvent::from_value(serde_json::json!({
            "RequestType": kind, "ResponseURL": format!("https://s3/{kind}"), "StackId": "s", "RequestId": "r",
            "LogicalResourceId": "Sweep", "PhysicalResourceId": "p", "ResourceType": "Custom::Sweep",
            "ResourceProperties": {}, "OldResourceProperties": {}
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn a_sweep_whose_settings_do_not_read_still_answers_cloudformation() {
        let r = Captured::default();
        for kind in ["Create", "Update", "Delete"] {
            answer_unconfigured(request(kind), "STAGE_FILTER=\"a*b\": …", &r).await.unwrap();
        }
        answer_unconfigured(SweepEvent::Scheduled, "x", &r).await.unwrap();
        let answers = r.0.into_inner().unwrap();
        assert_eq!(answers.len(), 3, "one answer per request, none for a scheduled run");
        assert_eq!((answers[0].0.as_str(), answers[0].1["Status"].as_str()), ("https://s3/Create", Some("FAILED")));
        assert!(answers[1].1["Reason"].as_str().unwrap().starts_with("invalid configuration: STAGE_FILTER="));
        assert_eq!(answers[1].1["PhysicalResourceId"], "p", "an update keeps its id");
        assert_eq!(answers[2].1["Status"], "SUCCESS", "a stack never swept under these settings holds no filter");
    }
}
