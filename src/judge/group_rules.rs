//! Levels per API: `GROUP_RULES` (the function's environment, the template's `GroupRules`) and the
//! CLI's `--rules FILE`, one JSON object keyed by log group name or by a prefix ending in `*`:
//!
//! ```json
//! {"/aws/apigateway/orders-internal": {"elevated_percent": 1, "high_percent": 5},
//!  "/aws/apigateway/public-*": {"ignore_status": [404], "min_requests": 500}}
//! ```
//!
//! Which entry applies: an exact name wins; otherwise the longest matching prefix; otherwise none.
//! Only that one entry applies (entries never stack), and each key it leaves out keeps the global
//! value (`ELEVATED_PERCENT`, `HIGH_PERCENT`, `MIN_REQUESTS`, `IGNORE_STATUS`). Everything is
//! validated once, when the rules are read, against those global values.

use crate::base::pattern::NamePattern;
use crate::count::tally::Tally;
use crate::ingest::time_range::TimeRange;
use crate::judge::finding::{evidence_spans, Rules};
use crate::judge::severity::{IgnoredStatuses, Percent, Thresholds};
use serde_json::Value;
use std::collections::BTreeMap;

/// The keys an entry may set.
const KEYS: [&str; 4] = ["elevated_percent", "high_percent", "min_requests", "ignore_status"];

/// Why the rules cannot be used: one line, naming the entry and key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupRulesError {
    /// Not JSON, or not an object of objects.
    #[error("not a JSON object of log group rules: {0}")]
    Json(String),
    /// An object names a key twice (JSON parsers keep only one of them, silently).
    #[error("{0:?} is given twice in one object (only one of them would apply)")]
    Duplicate(String),
    /// A key of the outer object is unusable.
    #[error("{0:?}: a log group name, or a prefix ending in a single `*`")]
    Pattern(String),
    /// An entry has a key no rule reads.
    #[error(
        "{group:?}: unknown key {key:?} (expected one of elevated_percent, high_percent, min_requests, ignore_status)"
    )]
    UnknownKey {
        /// The entry.
        group: String,
        /// The key.
        key: String,
    },
    /// An entry's value is unusable.
    #[error("{group:?}: {key}: {reason}")]
    Value {
        /// The entry.
        group: String,
        /// The key.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// What one entry overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Override {
    elevated: Option<Percent>,
    high: Option<Percent>,
    min_requests: Option<u64>,
    ignore_status: Option<IgnoredStatuses>,
}

impl Override {
    fn apply(&self, base: &Rules) -> Rules {
        Rules {
            thresholds: Thresholds {
                elevated: self.elevated.unwrap_or(base.thresholds.elevated),
                high: self.high.unwrap_or(base.thresholds.high),
                min_requests: self.min_requests.unwrap_or(base.thresholds.min_requests),
            },
            ignored: self.ignore_status.clone().unwrap_or_else(|| base.ignored.clone()),
        }
    }
}

/// One entry: a name (exact) or a prefix, and its levels.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    pattern: NamePattern,
    set: Override,
}

/// Validated per-group rules over global ones. The default has no entries: every group gets the
/// global rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupRules {
    base: Rules,
    entries: Vec<Entry>,
}

impl GroupRules {
    /// The global rules alone.
    pub fn new(base: Rules) -> GroupRules {
        GroupRules { base, entries: Vec::new() }
    }

    /// Reads `json` over `base`, checking every entry's effective levels (ELEVATED below HIGH).
    pub fn parse(json: &str, base: Rules) -> Result<GroupRules, GroupRulesError> {
        let value: Value = serde_json::from_str(json).map_err(|e| GroupRulesError::Json(e.to_string()))?;
        if let Some(key) = duplicate_key(json) {
            return Err(GroupRulesError::Duplicate(key));
        }
        let Value::Object(map) = value else {
            return Err(GroupRulesError::Json("the top level must be an object".into()));
        };
        let mut entries = Vec::with_capacity(map.len());
        for (key, v) in map {
            let Some(pattern) = NamePattern::parse(&key) else {
                return Err(GroupRulesError::Pattern(key));
            };
            let Value::Object(fields) = v else {
                return Err(GroupRulesError::Json(format!("{key:?} must map to an object")));
            };
            let mut set = Override::default();
            for (name, value) in &fields {
                let Some(&k) = KEYS.iter().find(|k| *k == name) else {
                    return Err(GroupRulesError::UnknownKey { group: key, key: name.clone() });
                };
                let bad = |reason: String| GroupRulesError::Value { group: key.clone(), key: k, reason };
                match k {
                    "elevated_percent" => set.elevated = Some(percent(value).map_err(bad)?),
                    "high_percent" => set.high = Some(percent(value).map_err(bad)?),
                    "min_requests" => {
                        set.min_requests = Some(
                            value
                                .as_u64()
                                .filter(|n| *n >= 1)
                                .ok_or_else(|| bad(format!("{value} is not a whole number of at least 1")))?,
                        )
                    }
                    _ => set.ignore_status = Some(codes(value).map_err(bad)?),
                }
            }
            let effective = set.apply(&base);
            effective.thresholds.validate().map_err(|reason| GroupRulesError::Value {
                group: key.clone(),
                key: "high_percent",
                reason,
            })?;
            entries.push(Entry { pattern, set });
        }
        Ok(GroupRules { base, entries })
    }

    /// The rules for `log_group`: the exact entry, else the longest matching prefix, else the global rules.
    pub fn for_group(&self, log_group: &str) -> Rules {
        let exact = self.entries.iter().find(|e| !e.pattern.prefix && e.pattern.matches(log_group));
        let entry = exact.or_else(|| {
            self.entries
                .iter()
                .filter(|e| e.pattern.prefix && e.pattern.matches(log_group))
                .max_by_key(|e| e.pattern.text.len())
        });
        entry.map_or_else(|| self.base.clone(), |e| e.set.apply(&self.base))
    }

    /// Where a read that counts elsewhere (Logs Insights) must ask for evidence, per log group of
    /// `tallies` (read over `range`): every span in which a finding of the report alerts
    /// ([`evidence_spans`]): the group's own under its rules and under the global ones, and, with
    /// several groups, the finding over all of them (under the global rules). Groups with nothing
    /// alerting are left out.
    pub fn evidence_spans(
        &self,
        tallies: &BTreeMap<String, Tally>,
        range: TimeRange,
    ) -> BTreeMap<String, Vec<TimeRange>> {
        let merged = (tallies.len() > 1).then(|| {
            let mut all = Tally::new(tallies.values().next().and_then(Tally::bucket_minutes));
            for t in tallies.values() {
                all.merge(t.clone());
            }
            evidence_spans(&all.finish(), &self.base, range)
        });
        tallies
            .iter()
            .filter_map(|(group, t)| {
                let mut spans = evidence_spans(t, &self.for_group(group), range);
                spans.extend(evidence_spans(t, &self.base, range));
                spans.extend(merged.iter().flatten().copied());
                let spans = TimeRange::union(spans);
                (!spans.is_empty()).then(|| (group.clone(), spans))
            })
            .collect()
    }

    /// The global rules.
    pub fn base(&self) -> &Rules {
        &self.base
    }

    /// True when no entry is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every code some entry ignores: each needs a `StatusCode` metric of its own, so that baselines
    /// and `history` can leave it out.
    pub fn ignored_codes(&self) -> Vec<u16> {
        let mut v: Vec<u16> = self
            .entries
            .iter()
            .filter_map(|e| e.set.ignore_status.as_ref())
            .flat_map(|i| i.codes().iter().copied())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// The first key that some object of `json` (valid JSON) names twice, at any depth: `Value` keeps
/// the last one silently, so that `{"/g": {…}, "/g": {…}}` would drop the first entry unseen.
fn duplicate_key(json: &str) -> Option<String> {
    use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde::Deserialize;
    use std::collections::HashSet;

    /// Reads any JSON, failing with the key on the first object that repeats one.
    struct Unique;

    impl<'de> Deserialize<'de> for Unique {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(Unique)
        }
    }

    impl<'de> Visitor<'de> for Unique {
        type Value = Unique;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_unit<E>(self) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
            while seq.next_element::<Unique>()?.is_some() {}
            Ok(Unique)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
            let mut seen = HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if seen.contains(&key) {
                    // The key alone, for the caller to name (the error's text is serde's).
                    return Err(de::Error::custom(key));
                }
                map.next_value::<Unique>()?;
                seen.insert(key);
            }
            Ok(Unique)
        }
    }

    let mut d = serde_json::Deserializer::from_str(json);
    // Only the custom error above can fail a text that already parsed as a `Value`.
    Unique::deserialize(&mut d).err().map(|e| {
        let text = e.to_string();
        let at = text.rfind(" at line ").unwrap_or(text.len());
        text[..at].to_string()
    })
}

/// `1`, `2.5` or `"2.5"`: at most two decimals, 0 to 100.
fn percent(v: &Value) -> Result<Percent, String> {
    match v {
        Value::Number(n) => n.to_string().parse(),
        Value::String(s) => s.parse(),
        other => Err(format!("{other} is not a percentage")),
    }
}

/// `[404, 401]` or `"404,401"`.
fn codes(v: &Value) -> Result<IgnoredStatuses, String> {
    match v {
        Value::Array(items) => {
            let parts: Result<Vec<String>, String> = items
                .iter()
                .map(|i| i.as_u64().map(|n| n.to_string()).ok_or_else(|| format!("{i} is not a status code")))
                .collect();
            parts?.join(",").parse()
        }
        Value::String(s) => s.parse(),
        other => Err(format!("{other} is not a list of status codes")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: &str) -> Result<GroupRules, GroupRulesError> {
        GroupRules::parse(json, Rules::default())
    }

    #[test]
    fn exact_beats_prefix_and_longest_prefix_wins() {
        let r = rules(
            r#"{"/aws/apigateway/*": {"elevated_percent": 20, "high_percent": 40},
                "/aws/apigateway/private-*": {"elevated_percent": 1, "high_percent": 5},
                "/aws/apigateway/private-orders": {"min_requests": 10}}"#,
        )
        .unwrap();
        let t = |g: &str| r.for_group(g).thresholds;
        assert_eq!(t("/aws/apigateway/private-users").elevated, Percent::whole(1));
        assert_eq!(t("/aws/apigateway/public").elevated, Percent::whole(20));
        let exact = t("/aws/apigateway/private-orders");
        assert_eq!((exact.elevated, exact.min_requests), (Percent::whole(10), 10), "exact entry only, over globals");
        assert_eq!(t("/other"), Thresholds::default());
    }

    #[test]
    fn keys_left_out_keep_the_global_values() {
        let base = Rules { ignored: "401".parse().unwrap(), ..Rules::default() };
        let r = GroupRules::parse(r#"{"/g": {"ignore_status": [404]}, "/h": {"high_percent": "30.5"}}"#, base).unwrap();
        assert_eq!(r.for_group("/g").ignored.codes(), &[404]);
        assert_eq!(r.for_group("/g").thresholds, Thresholds::default());
        assert_eq!(r.for_group("/h").thresholds.high.basis_points(), 3050);
        assert_eq!(r.for_group("/h").ignored.codes(), &[401]);
        assert_eq!(r.ignored_codes(), vec![404]);
    }

    #[test]
    fn every_mistake_is_one_line_naming_it() {
        let err = |j: &str| rules(j).unwrap_err().to_string();
        assert!(err("{").starts_with("not a JSON object"));
        assert!(err("[1]").contains("top level must be an object"));
        assert!(err(r#"{"/g": 5}"#).contains("\"/g\" must map to an object"));
        assert_eq!(
            err(r#"{"/g": {"elevated": 1}}"#),
            "\"/g\": unknown key \"elevated\" (expected one of elevated_percent, high_percent, min_requests, ignore_status)"
        );
        assert!(err(r#"{"/g": {"elevated_percent": 101}}"#)
            .starts_with("\"/g\": elevated_percent: '101' is not a percentage"));
        assert!(err(r#"{"/g": {"elevated_percent": true}}"#).contains("true is not a percentage"));
        assert!(err(r#"{"/g": {"min_requests": -3}}"#).contains("min_requests: -3 is not a whole number"));
        assert!(err(r#"{"/g": {"min_requests": 0}}"#).contains("min_requests"));
        assert!(err(r#"{"/g": {"ignore_status": [500]}}"#).contains("'500' is not a 4xx status code"));
        assert!(err(r#"{"/g": {"elevated_percent": 30}}"#).contains("must be below the HIGH threshold (25%)"));
        assert!(err(r#"{"/a*b": {}}"#).contains("prefix ending in a single `*`"));
        assert!(err(r#"{"": {}}"#).contains("prefix ending"));
        assert!(!err("{").contains('\n'));
    }

    #[test]
    fn a_key_given_twice_is_refused_at_any_depth() {
        let err = |j: &str| rules(j).unwrap_err();
        let twice = |k: &str| GroupRulesError::Duplicate(k.into());
        assert_eq!(err(r#"{"/g": {"min_requests": 5}, "/g": {"min_requests": 9}}"#), twice("/g"));
        assert_eq!(err(r#"{"/g": {"high_percent": 40, "high_percent": 50}}"#), twice("high_percent"));
        assert_eq!(err(r#"{"/g": {"ignore_status": [{"a": 1, "a": 2}]}}"#), twice("a"));
        assert_eq!(
            err(r#"{"/g*": {}, "/g*": {}}"#).to_string(),
            "\"/g*\" is given twice in one object (only one of them would apply)"
        );
        // The same key in different objects is no repetition.
        assert!(rules(r#"{"/g": {"min_requests": 5}, "/h": {"min_requests": 5}}"#).is_ok());
        assert!(rules(r#"{"/g": {"ignore_status": [401, 401]}}"#).is_ok(), "a repeated code is not a repeated key");
    }

    #[test]
    fn star_alone_applies_to_every_group() {
        let r = rules(r#"{"*": {"min_requests": 7}}"#).unwrap();
        assert_eq!(r.for_group("/anything").thresholds.min_requests, 7);
        assert!(rules("{}").unwrap().is_empty());
    }
}
