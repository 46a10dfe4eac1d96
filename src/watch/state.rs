//! What the sweep remembers between runs, kept as one JSON document by the Lambda (a DynamoDB item):
//!
//! - `subscribed`: every group that may hold this stack's filter. A group enters *before* its
//!   filter is put and leaves only once the filter is gone, so a run cut short anywhere never leaves
//!   a filter the stack has forgotten: stack deletion removes them all.
//! - `unwatchable`: groups reported as impossible to watch, with why, so each is reported once.
//! - `pass`: the pass under way, so a run that runs out of time is resumed, not restarted.
//! - `closed`: the stack is being deleted; sweeps do nothing more.

use crate::watch::pass::Pass;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Why a group that should be watched is not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Unwatchable {
    /// Every subscription-filter slot of the group is taken by other filters (named here).
    NoFreeSlot {
        /// The other filters, by name, when the slot was found taken.
        others: Vec<String>,
    },
    /// The role may not read or change the group's filters.
    Denied {
        /// The call refused.
        operation: String,
    },
    /// No log group of that name exists (yet).
    Missing,
    /// CloudWatch Logs refused the filter as invalid for this group (`InvalidParameterException`,
    /// its message kept): tried again each pass, reported once.
    Refused {
        /// The service's message.
        message: String,
    },
}

impl Unwatchable {
    /// A short name for the reason, for the summary line and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Unwatchable::NoFreeSlot { .. } => "no_free_slot",
            Unwatchable::Denied { .. } => "access_denied",
            Unwatchable::Missing => "no_such_group",
            Unwatchable::Refused { .. } => "refused",
        }
    }
}

/// What happened to a group in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It holds this stack's filter.
    Watched,
    /// It holds no filter of this stack, as wanted (removed, or never there).
    Unwatched,
    /// It should be watched and cannot be; it holds no filter of this stack.
    Unwatchable(Unwatchable),
    /// It should be watched and cannot be, and may hold a filter of this stack (its filters could
    /// not be read, or correcting this stack's filter was refused): still remembered.
    UnwatchableHolding(Unwatchable),
}

/// The sweep's memory between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepState {
    /// Groups that may hold this stack's filter.
    #[serde(default)]
    pub subscribed: BTreeSet<String>,
    /// Groups reported unwatchable, and why.
    #[serde(default)]
    pub unwatchable: BTreeMap<String, Unwatchable>,
    /// The pass under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<Pass>,
    /// The stack is being deleted.
    #[serde(default)]
    pub closed: bool,
}

impl SweepState {
    /// Notes that a filter is about to be put on each of `groups` (before the calls).
    pub fn intend<'g>(&mut self, groups: impl IntoIterator<Item = &'g str>) {
        self.subscribed.extend(groups.into_iter().map(str::to_string));
    }

    /// Records what happened to `group`. True when it is newly unwatchable, or unwatchable for
    /// another reason than the one reported: the cue to report it (once).
    pub fn record(&mut self, group: &str, outcome: Outcome) -> bool {
        let holds_none = matches!(outcome, Outcome::Unwatchable(_));
        match outcome {
            Outcome::Watched => {
                self.subscribed.insert(group.to_string());
                self.unwatchable.remove(group);
                false
            }
            Outcome::Unwatched => {
                self.subscribed.remove(group);
                self.unwatchable.remove(group);
                false
            }
            Outcome::Unwatchable(why) | Outcome::UnwatchableHolding(why) => {
                if holds_none {
                    self.subscribed.remove(group);
                }
                let new = self.unwatchable.get(group).is_none_or(|known| known.code() != why.code());
                self.unwatchable.insert(group.to_string(), why);
                new
            }
        }
    }

    /// Forgets the reports of groups no longer wanted, so one that is wanted again and still cannot
    /// be watched is reported again.
    pub fn forget_unwanted(&mut self, wanted: &BTreeSet<String>) {
        self.unwatchable.retain(|g, _| wanted.contains(g));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reported_once_per_group_and_reason() {
        let mut s = SweepState::default();
        let full = || Outcome::Unwatchable(Unwatchable::NoFreeSlot { others: vec!["a".into(), "b".into()] });
        assert!(s.record("/g", full()));
        assert!(!s.record("/g", full()), "same reason: not again");
        assert!(s.record("/g", Outcome::Unwatchable(Unwatchable::Missing)), "another reason");
        assert!(!s.record("/g", Outcome::Watched));
        assert!(s.subscribed.contains("/g") && s.unwatchable.is_empty());
        assert!(s.record("/g", full()), "unwatchable again after being watched");
        assert!(!s.subscribed.contains("/g"));
        s.forget_unwanted(&BTreeSet::new());
        assert!(s.unwatchable.is_empty());
        s.intend(["/h"]);
        assert!(!s.record("/h", Outcome::Unwatched));
        assert!(s.subscribed.is_empty());
        s.intend(["/u"]);
        assert!(s.record("/u", Outcome::UnwatchableHolding(Unwatchable::Denied { operation: "x".into() })));
        assert!(s.subscribed.contains("/u"), "it may hold this stack's filter: remembered for the stack's deletion");
    }

    #[test]
    fn state_round_trips_as_json() {
        let mut s = SweepState::default();
        s.intend(["/a"]);
        s.record("/b", Outcome::Unwatchable(Unwatchable::Denied { operation: "PutSubscriptionFilter".into() }));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<SweepState>(&json).unwrap(), s);
        assert!(json.contains(r#""reason":"denied""#), "{json}");
        assert_eq!(serde_json::from_str::<SweepState>("{}").unwrap(), SweepState::default());
    }
}
