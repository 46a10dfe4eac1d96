//! What to do with one log group, given the subscription filters it holds now: a pure decision,
//! then the outcome of the call that carried it out. Only this stack's filter (its name) is ever
//! put or deleted; another tool's filter is read, counted and left alone.

use crate::watch::state::{Outcome, Unwatchable};

/// The filter pattern of this stack's filters: every line.
pub const FILTER_PATTERN: &str = "";

/// A subscription filter as DescribeSubscriptionFilters lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Its name.
    pub name: String,
    /// Where it delivers.
    pub destination_arn: String,
    /// Its pattern.
    pub pattern: String,
}

/// What a group holds, as far as the role can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The group's filters.
    Filters(Vec<Filter>),
    /// No such group.
    Missing,
    /// The role may not list its filters.
    Denied,
}

/// This stack's filter: its name and destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The filter name that identifies the stack.
    pub filter_name: String,
    /// The function's ARN.
    pub destination_arn: String,
}

/// What to do with a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to call: the group is as wanted.
    Nothing(Outcome),
    /// Put this stack's filter (add it, or correct it).
    Put,
    /// Delete this stack's filter.
    Delete,
}

/// How a PutSubscriptionFilter or DeleteSubscriptionFilter call ended, besides throttling (which
/// the caller retries) and other failures (left for the next run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Done (a delete of a filter already gone counts as done).
    Done,
    /// `LimitExceededException`: no free slot.
    NoFreeSlot,
    /// `AccessDeniedException`.
    Denied,
    /// `ResourceNotFoundException` on a put: the group is gone.
    Missing,
    /// `InvalidParameterException`: the filter is refused for this group (the service's message).
    Refused(String),
}

/// Decides for `group` (wanted or not) from what it holds. `known` is how it was last reported:
/// a group found full with the same other filters is not tried again (no write call).
pub fn decide(wanted: bool, seen: &Seen, target: &Target, known: Option<&Unwatchable>) -> Decision {
    match seen {
        Seen::Missing if wanted => Decision::Nothing(Outcome::Unwatchable(Unwatchable::Missing)),
        Seen::Missing => Decision::Nothing(Outcome::Unwatched),
        Seen::Denied if wanted => Decision::Nothing(Outcome::UnwatchableHolding(Unwatchable::Denied {
            operation: "DescribeSubscriptionFilters".into(),
        })),
        // Not wanted and unreadable: a delete by this stack's filter name touches nothing else.
        Seen::Denied => Decision::Delete,
        Seen::Filters(filters) => {
            let ours = filters.iter().find(|f| f.name == target.filter_name);
            match (wanted, ours) {
                (true, Some(f)) if f.destination_arn == target.destination_arn && f.pattern == FILTER_PATTERN => {
                    Decision::Nothing(Outcome::Watched)
                }
                (true, Some(_)) => Decision::Put,
                (true, None) => {
                    let others = others(filters, target);
                    match known {
                        Some(Unwatchable::NoFreeSlot { others: before }) if *before == others => {
                            Decision::Nothing(Outcome::Unwatchable(Unwatchable::NoFreeSlot { others }))
                        }
                        _ => Decision::Put,
                    }
                }
                (false, Some(_)) => Decision::Delete,
                (false, None) => Decision::Nothing(Outcome::Unwatched),
            }
        }
    }
}

/// The names of the group's other filters.
fn others(filters: &[Filter], target: &Target) -> Vec<String> {
    let mut names: Vec<String> =
        filters.iter().filter(|f| f.name != target.filter_name).map(|f| f.name.clone()).collect();
    names.sort();
    names
}

/// What a put or delete on a group that held `seen` leaves it as. A delete refused leaves the
/// filter in place: still this stack's, tried again next pass.
pub fn outcome(decision: &Decision, applied: Applied, seen: &Seen, target: &Target) -> Outcome {
    match (decision, applied) {
        (Decision::Delete, Applied::Done | Applied::Missing) => Outcome::Unwatched,
        (Decision::Delete, _) => Outcome::Watched,
        (_, Applied::Done) => Outcome::Watched,
        (_, Applied::NoFreeSlot) => {
            let others = match seen {
                Seen::Filters(f) => others(f, target),
                _ => Vec::new(),
            };
            Outcome::Unwatchable(Unwatchable::NoFreeSlot { others })
        }
        (_, Applied::Denied) => {
            let why = Unwatchable::Denied { operation: "PutSubscriptionFilter".into() };
            if matches!(seen, Seen::Filters(f) if f.iter().any(|f| f.name == target.filter_name)) {
                Outcome::UnwatchableHolding(why)
            } else {
                Outcome::Unwatchable(why)
            }
        }
        (_, Applied::Missing) => Outcome::Unwatchable(Unwatchable::Missing),
        (_, Applied::Refused(message)) => Outcome::Unwatchable(Unwatchable::Refused { message }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target { filter_name: "apigw-4xx-stack".into(), destination_arn: "arn:fn".into() }
    }

    fn filter(name: &str, dest: &str) -> Filter {
        Filter { name: name.into(), destination_arn: dest.into(), pattern: String::new() }
    }

    #[test]
    fn only_this_stacks_filter_is_put_or_deleted() {
        let t = target();
        let ours = filter("apigw-4xx-stack", "arn:fn");
        let other = filter("datadog", "arn:dd");
        let seen = |f: Vec<Filter>| Seen::Filters(f);
        assert_eq!(
            decide(true, &seen(vec![other.clone(), ours.clone()]), &t, None),
            Decision::Nothing(Outcome::Watched)
        );
        assert_eq!(decide(true, &seen(vec![other.clone()]), &t, None), Decision::Put);
        let moved = filter("apigw-4xx-stack", "arn:old-fn");
        assert_eq!(decide(true, &seen(vec![moved]), &t, None), Decision::Put, "pointing elsewhere: corrected");
        assert_eq!(decide(false, &seen(vec![other.clone(), ours]), &t, None), Decision::Delete);
        assert_eq!(decide(false, &seen(vec![other.clone()]), &t, None), Decision::Nothing(Outcome::Unwatched));
        assert_eq!(decide(false, &Seen::Missing, &t, None), Decision::Nothing(Outcome::Unwatched));
        assert_eq!(
            decide(true, &Seen::Missing, &t, None),
            Decision::Nothing(Outcome::Unwatchable(Unwatchable::Missing))
        );
        assert!(matches!(decide(true, &Seen::Denied, &t, None), Decision::Nothing(Outcome::UnwatchableHolding(_))));
    }

    #[test]
    fn a_full_group_is_tried_once_until_its_filters_change() {
        let t = target();
        let full = Seen::Filters(vec![filter("b", "arn:b"), filter("a", "arn:a")]);
        assert_eq!(decide(true, &full, &t, None), Decision::Put);
        let after = outcome(&Decision::Put, Applied::NoFreeSlot, &full, &t);
        let Outcome::Unwatchable(known) = after else { panic!("{after:?}") };
        assert_eq!(known, Unwatchable::NoFreeSlot { others: vec!["a".into(), "b".into()] });
        assert_eq!(decide(true, &full, &t, Some(&known)), Decision::Nothing(Outcome::Unwatchable(known.clone())));
        let freed = Seen::Filters(vec![filter("a", "arn:a")]);
        assert_eq!(decide(true, &freed, &t, Some(&known)), Decision::Put, "a slot was freed");
    }

    #[test]
    fn outcomes() {
        let t = target();
        let s = Seen::Filters(vec![]);
        assert_eq!(outcome(&Decision::Put, Applied::Done, &s, &t), Outcome::Watched);
        assert_eq!(outcome(&Decision::Delete, Applied::Done, &s, &t), Outcome::Unwatched);
        assert_eq!(outcome(&Decision::Delete, Applied::Missing, &s, &t), Outcome::Unwatched);
        assert_eq!(outcome(&Decision::Delete, Applied::Denied, &s, &t), Outcome::Watched, "still there, still ours");
        assert_eq!(
            outcome(&Decision::Put, Applied::Denied, &s, &t),
            Outcome::Unwatchable(Unwatchable::Denied { operation: "PutSubscriptionFilter".into() })
        );
        assert_eq!(outcome(&Decision::Put, Applied::Missing, &s, &t), Outcome::Unwatchable(Unwatchable::Missing));
        let moved = Seen::Filters(vec![filter("apigw-4xx-stack", "arn:old")]);
        assert!(matches!(outcome(&Decision::Put, Applied::Denied, &moved, &t), Outcome::UnwatchableHolding(_)));
    }
}
