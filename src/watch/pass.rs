//! One pass over the account: list the APIs and their stages, resolve name prefixes, then check
//! every group that is wanted or may hold this stack's filter. The pass is a queue of steps, each
//! one control-plane call, kept in the sweep's state: a run that runs out of time (or is throttled
//! too long) stops between two steps, and the next run takes the queue up where it stopped.
//!
//! Filters are put or deleted only in the checking steps, once the listing is complete: a group
//! is never unsubscribed because the stage that writes it was not listed yet.

use crate::base::time::EpochMillis;
use crate::context::deployment::{ApiKind, ApiRef, Page, StageInfo};
use crate::watch::select::Selection;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// What a group is wanted for, when `LOG_GROUP_NAMES` names it (outright or by a prefix).
pub const NAMED: &str = "LOG_GROUP_NAMES";

/// One control-plane call of a pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// A page of the APIs of one kind.
    Apis {
        /// REST, or HTTP and WebSocket.
        kind: ApiKind,
        /// The page's token (none for the first).
        token: Option<String>,
    },
    /// A page of one API's stages.
    Stages {
        /// The API.
        api: ApiRef,
        /// The page's token.
        token: Option<String>,
    },
    /// A page of the log groups whose names start with a `LOG_GROUP_NAMES` prefix.
    Groups {
        /// The prefix.
        prefix: String,
        /// The page's token.
        token: Option<String>,
    },
    /// The filters of one group (then, if needed, a put or a delete).
    Check {
        /// The group.
        group: String,
    },
}

/// A pass under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pass {
    /// When it started.
    pub started: EpochMillis,
    /// The settings it runs under ([`Selection::key`]): a pass under other settings starts over.
    pub selection: String,
    /// Runs it has taken so far.
    pub runs: u32,
    /// Listing steps still to take.
    listing: VecDeque<Step>,
    /// Wanted groups, each with what wants it (`api/stage`, or [`NAMED`]).
    found: BTreeMap<String, BTreeSet<String>>,
    /// Groups still to check, once the listing is done.
    checks: Option<VecDeque<String>>,
}

impl Pass {
    /// A new pass at `now` for `selection`: list the APIs when every stage is watched, resolve the
    /// prefixes; the groups named outright are wanted from the start.
    pub fn new(selection: &Selection, now: EpochMillis) -> Pass {
        let mut listing = VecDeque::new();
        if selection.all_stages {
            listing.extend([ApiKind::Rest, ApiKind::Http].map(|kind| Step::Apis { kind, token: None }));
        }
        listing.extend(selection.prefixes().map(|p| Step::Groups { prefix: p.to_string(), token: None }));
        let mut pass =
            Pass { started: now, selection: selection.key(), runs: 0, listing, found: BTreeMap::new(), checks: None };
        for name in selection.exact_names().filter(|n| selection.allows(n)) {
            pass.want(name, NAMED);
        }
        pass
    }

    fn want(&mut self, group: &str, by: &str) {
        self.found.entry(group.to_string()).or_default().insert(by.to_string());
    }

    /// The next step to take. When the listing is done, the checks are laid out first: every
    /// wanted group, and every group that may hold this stack's filter (`subscribed`).
    pub fn next(&mut self, subscribed: &BTreeSet<String>) -> Option<Step> {
        if let Some(step) = self.listing.pop_front() {
            return Some(step);
        }
        let found = &self.found;
        let checks = self.checks.get_or_insert_with(|| {
            let all: BTreeSet<&String> = found.keys().chain(subscribed.iter()).collect();
            all.into_iter().cloned().collect()
        });
        checks.pop_front().map(|group| Step::Check { group })
    }

    /// Puts back a step that was not completed (out of time, throttled), to be taken first.
    pub fn put_back(&mut self, step: Step) {
        match step {
            Step::Check { group } => self.checks.get_or_insert_with(VecDeque::new).push_front(group),
            other => self.listing.push_front(other),
        }
    }

    /// A page of APIs: each API the filter keeps has its stages listed.
    pub fn listed_apis(&mut self, kind: ApiKind, page: Page<ApiRef>, selection: &Selection) {
        if let Some(token) = page.next {
            self.listing.push_front(Step::Apis { kind, token: Some(token) });
        }
        self.listing.extend(
            page.items
                .into_iter()
                .filter(|a| selection.stage_filter.keeps_api(a))
                .map(|api| Step::Stages { api, token: None }),
        );
    }

    /// A page of one API's stages: the groups of those to watch are wanted.
    pub fn listed_stages(&mut self, api: ApiRef, page: Page<StageInfo>, selection: &Selection) {
        for stage in &page.items {
            if let Some(group) = selection.stage_group(stage) {
                self.want(group, &format!("{}/{}", stage.api_name, stage.stage));
            }
        }
        if let Some(token) = page.next {
            self.listing.push_front(Step::Stages { api, token: Some(token) });
        }
    }

    /// A page of the groups under a prefix: each is wanted.
    pub fn listed_groups(&mut self, prefix: String, page: Page<String>, selection: &Selection) {
        for group in page.items.iter().filter(|g| g.starts_with(&prefix) && selection.allows(g)) {
            self.want(group, NAMED);
        }
        if let Some(token) = page.next {
            self.listing.push_front(Step::Groups { prefix, token: Some(token) });
        }
    }

    /// True when every stage and prefix is listed.
    pub fn listing_done(&self) -> bool {
        self.listing.is_empty()
    }

    /// True when nothing is left to list or check.
    pub fn is_done(&self) -> bool {
        self.listing.is_empty() && self.checks.as_ref().is_some_and(VecDeque::is_empty)
    }

    /// True when `group` is wanted (so far: complete once the listing is done).
    pub fn wants(&self, group: &str) -> bool {
        self.found.contains_key(group)
    }

    /// What wants `group`.
    pub fn wanted_by(&self, group: &str) -> impl Iterator<Item = &str> {
        self.found.get(group).into_iter().flatten().map(String::as_str)
    }

    /// Every wanted group.
    pub fn wanted(&self) -> BTreeSet<String> {
        self.found.keys().cloned().collect()
    }

    /// Steps left: listing and checks.
    pub fn remaining(&self) -> usize {
        self.listing.len() + self.checks.as_ref().map_or(0, VecDeque::len)
    }
}

impl Selection {
    /// The settings in one string: a pass started under other settings is not resumed.
    pub fn key(&self) -> String {
        let names: Vec<String> = self.names.iter().map(ToString::to_string).collect();
        format!("{}|{:?}|{}", self.all_stages, self.stage_filter, names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn api(kind: ApiKind, id: &str) -> ApiRef {
        ApiRef { kind, id: id.into(), name: format!("{id}-api"), tags: BTreeMap::new() }
    }

    fn stage(api: &ApiRef, name: &str, group: Option<&str>) -> StageInfo {
        StageInfo {
            kind: api.kind,
            api_id: api.id.clone(),
            api_name: api.name.clone(),
            stage: name.into(),
            destination_arn: group.map(|g| format!("arn:aws:logs:us-east-1:1:log-group:{g}:*")),
            tags: BTreeMap::new(),
        }
    }

    fn page<T>(items: Vec<T>, next: Option<&str>) -> Page<T> {
        Page { items, next: next.map(Into::into) }
    }

    #[test]
    fn listing_then_checks_of_wanted_and_subscribed_groups() {
        let sel = Selection::parse(Some("all"), None, Some("/named,/pre-*")).unwrap();
        let mut p = Pass::new(&sel, 0);
        let subscribed = BTreeSet::from(["/old".to_string(), "/shared".to_string()]);
        assert_eq!(p.next(&subscribed), Some(Step::Apis { kind: ApiKind::Rest, token: None }));
        let (a, b) = (api(ApiKind::Rest, "a"), api(ApiKind::Rest, "b"));
        p.listed_apis(ApiKind::Rest, page(vec![a.clone()], Some("t2")), &sel);
        assert_eq!(p.next(&subscribed), Some(Step::Apis { kind: ApiKind::Rest, token: Some("t2".into()) }));
        p.listed_apis(ApiKind::Rest, page(vec![b.clone()], None), &sel);
        assert_eq!(p.next(&subscribed), Some(Step::Apis { kind: ApiKind::Http, token: None }));
        p.listed_apis(ApiKind::Http, page(vec![], None), &sel);
        assert_eq!(p.next(&subscribed), Some(Step::Groups { prefix: "/pre-".into(), token: None }));
        p.listed_groups("/pre-".into(), page(vec!["/pre-1".into(), "/elsewhere".into()], None), &sel);
        let Some(Step::Stages { api: got, token: None }) = p.next(&subscribed) else { panic!() };
        assert_eq!(got, a);
        p.listed_stages(a.clone(), page(vec![stage(&a, "prod", Some("/shared")), stage(&a, "dev", None)], None), &sel);
        // Out of time here: the step is put back, and taken again first.
        let step = p.next(&subscribed).unwrap();
        p.put_back(step.clone());
        assert_eq!(p.next(&subscribed), Some(step));
        p.listed_stages(b.clone(), page(vec![stage(&b, "prod", Some("/shared"))], None), &sel);
        assert!(p.listing_done() && !p.is_done());
        let mut checked = Vec::new();
        while let Some(Step::Check { group }) = p.next(&subscribed) {
            checked.push(group);
        }
        assert_eq!(checked, ["/named", "/old", "/pre-1", "/shared"]);
        assert!(p.is_done());
        assert!(p.wants("/shared") && !p.wants("/old") && !p.wants("/elsewhere"));
        assert_eq!(p.wanted_by("/shared").collect::<Vec<_>>(), ["a-api/prod", "b-api/prod"]);
    }

    #[test]
    fn a_pass_survives_a_round_trip_through_json() {
        let sel = Selection::parse(None, Some("team=legacy"), None).unwrap();
        let mut p = Pass::new(&sel, 5);
        let a = api(ApiKind::Http, "h");
        p.listed_apis(ApiKind::Rest, page(vec![a], None), &sel);
        let back: Pass = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        assert_ne!(sel.key(), Selection::parse(None, None, None).unwrap().key());
    }
}
