//! Counts as CloudWatch Embedded Metric Format (EMF) documents: one JSON object per line of the
//! function's output, which CloudWatch Logs extracts into the metric contract ([`crate::metrics::contract`])
//! without a synchronous call. EMF delivers extracted metrics at least once (its specification says
//! duplicates may occasionally occur).
//!
//! A document carries one timestamp and one value per dimension key, so a minute of one log group
//! becomes one document with `Requests`, `ClientErrors` and `UnparsedLines` under `[LogGroup]`, and
//! one per 4xx code with `ClientErrors` under `[LogGroup, StatusCode]`. That keeps every document far
//! inside the specification's limits (checked below and in the tests).
//!
//! The counts of a window another container also wrote to are tagged: each document carries a
//! second dimension set with `Writer` (the writer's position among the window's writers) added, so
//! CloudWatch extracts the same values once more under `[LogGroup, Writer]` and
//! `[LogGroup, StatusCode, Writer]`, from the same log event. The writer reads those back to tell its
//! own extracted counts from the others' ([`crate::window::ledger`]).

use crate::base::time::EpochMillis;
use crate::judge::finding::Totals;
use crate::metrics::contract::{CLIENT_ERRORS, LOG_GROUP, REQUESTS, STATUS_CODE, UNPARSED_LINES, WRITER};
use serde::Serialize;

/// EMF specification: at most 100 metric definitions per directive…
pub const MAX_METRICS_PER_DIRECTIVE: usize = 100;
/// …at most 30 dimension keys per dimension set…
pub const MAX_DIMENSIONS_PER_SET: usize = 30;
/// …at most 100 values per metric (we write one)…
pub const MAX_VALUES_PER_METRIC: usize = 100;
/// …and a document is a log event: at most 256 KB.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

#[derive(Serialize)]
struct Document<'a> {
    #[serde(rename = "_aws")]
    aws: Metadata<'a>,
    /// `LogGroup`, `StatusCode` where the document has it, `Writer` when tagged.
    #[serde(flatten)]
    dimensions: std::collections::BTreeMap<&'static str, &'a str>,
    #[serde(flatten)]
    values: std::collections::BTreeMap<&'static str, u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata<'a> {
    timestamp: EpochMillis,
    cloud_watch_metrics: [Directive<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive<'a> {
    namespace: &'a str,
    dimensions: Vec<&'static [&'static str]>,
    metrics: Vec<Definition>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Definition {
    name: &'static str,
    unit: &'static str,
}

/// One document of account-wide values, with no dimension (the sweep's `WatchedLogGroups` and
/// `UnwatchableLogGroups`).
pub fn account_document(namespace: &str, timestamp: EpochMillis, values: Vec<(&'static str, u64)>) -> String {
    let d = Document {
        aws: Metadata {
            timestamp,
            cloud_watch_metrics: [Directive {
                namespace,
                dimensions: vec![&[]],
                metrics: values.iter().map(|(name, _)| Definition { name, unit: "Count" }).collect(),
            }],
        },
        dimensions: std::collections::BTreeMap::new(),
        values: values.into_iter().collect(),
    };
    // Serializing plain structs of strings and integers cannot fail.
    serde_json::to_string(&d).unwrap_or_default()
}

/// The documents for one log group's counts in one minute (`totals` as the metric plan maps them),
/// tagged with `writer` (the writer's position among the window's writers) when given.
pub fn documents(
    namespace: &str,
    log_group: &str,
    minute: EpochMillis,
    totals: &Totals,
    writer: Option<&str>,
) -> Vec<String> {
    type Sets = (&'static [&'static str], &'static [&'static str]);
    let doc = |(plain, tagged): Sets, status_code: Option<&str>, values: Vec<(&'static str, u64)>| {
        debug_assert!(values.len() <= MAX_METRICS_PER_DIRECTIVE && tagged.len() <= MAX_DIMENSIONS_PER_SET);
        let mut dimensions = vec![plain];
        dimensions.extend(writer.map(|_| tagged));
        let d = Document {
            aws: Metadata {
                timestamp: minute,
                cloud_watch_metrics: [Directive {
                    namespace,
                    dimensions,
                    metrics: values.iter().map(|(name, _)| Definition { name, unit: "Count" }).collect(),
                }],
            },
            dimensions: std::iter::once((LOG_GROUP, log_group))
                .chain(status_code.map(|c| (STATUS_CODE, c)))
                .chain(writer.map(|c| (WRITER, c)))
                .collect(),
            values: values.into_iter().collect(),
        };
        // Serializing plain structs of strings and integers cannot fail.
        serde_json::to_string(&d).unwrap_or_default()
    };
    let mut out = vec![doc(
        (&[LOG_GROUP], &[LOG_GROUP, WRITER]),
        None,
        vec![
            (REQUESTS, totals.requests),
            (CLIENT_ERRORS, totals.client_errors.values().sum()),
            (UNPARSED_LINES, totals.unparsed),
        ],
    )];
    out.extend(totals.client_errors.iter().filter(|(_, n)| **n > 0).map(|(code, n)| {
        doc(
            (&[LOG_GROUP, STATUS_CODE], &[LOG_GROUP, STATUS_CODE, WRITER]),
            Some(&code.key()),
            vec![(CLIENT_ERRORS, *n)],
        )
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::finding::ClientErrorCode;
    use serde_json::Value;

    fn totals() -> Totals {
        let mut t = Totals { requests: 150, unparsed: 2, ..Totals::default() };
        t.client_errors.insert(ClientErrorCode::Status(403), 40);
        t.client_errors.insert(ClientErrorCode::Other4xx, 10);
        t.client_errors.insert(ClientErrorCode::Status(404), 0);
        t
    }

    #[test]
    fn a_minute_is_one_total_document_and_one_per_code() {
        let docs = documents("ApiGateway4xx", "/aws/apigateway/x", 1_764_000_060_000, &totals(), None);
        assert_eq!(docs.len(), 3, "totals, 403, Other4xx (zero codes are left out)");
        let v: Vec<Value> = docs.iter().map(|d| serde_json::from_str(d).unwrap()).collect();
        let d = &v[0]["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(v[0]["_aws"]["Timestamp"], 1_764_000_060_000i64);
        assert_eq!(d["Namespace"], "ApiGateway4xx");
        assert_eq!(d["Dimensions"], serde_json::json!([["LogGroup"]]));
        assert_eq!(
            (v[0]["Requests"].as_u64(), v[0]["ClientErrors"].as_u64(), v[0]["UnparsedLines"].as_u64()),
            (Some(150), Some(50), Some(2))
        );
        assert_eq!(v[0]["LogGroup"], "/aws/apigateway/x");
        assert_eq!(v[1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([["LogGroup", "StatusCode"]]));
        assert_eq!((v[1]["StatusCode"].as_str(), v[1]["ClientErrors"].as_u64()), (Some("403"), Some(40)));
        assert_eq!((v[2]["StatusCode"].as_str(), v[2]["ClientErrors"].as_u64()), (Some("Other4xx"), Some(10)));
        for (doc, value) in docs.iter().zip(&v) {
            assert!(!doc.contains('\n'));
            for m in value["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap() {
                assert_eq!(m["Unit"], "Count");
                assert!(value[m["Name"].as_str().unwrap()].is_u64(), "every metric has its value: {doc}");
            }
        }
    }

    #[test]
    fn account_documents_have_an_empty_dimension_set() {
        let doc = account_document("N", 5, vec![("WatchedLogGroups", 7), ("UnwatchableLogGroups", 1)]);
        let v: Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([[]]));
        assert_eq!((v["WatchedLogGroups"].as_u64(), v["UnwatchableLogGroups"].as_u64()), (Some(7), Some(1)));
    }

    #[test]
    fn documents_stay_inside_the_specification_limits() {
        let longest = "/".repeat(crate::metrics::contract::MAX_DIMENSION_VALUE);
        let namespace = "N".repeat(255);
        for doc in documents(&namespace, &longest, 0, &totals(), Some("4294967295")) {
            let v: Value = serde_json::from_str(&doc).unwrap();
            let d = &v["_aws"]["CloudWatchMetrics"][0];
            assert!(doc.len() < MAX_DOCUMENT_BYTES / 64, "{} bytes", doc.len());
            assert!(d["Metrics"].as_array().unwrap().len() <= MAX_METRICS_PER_DIRECTIVE);
            assert!(d["Dimensions"][0].as_array().unwrap().len() <= MAX_DIMENSIONS_PER_SET);
        }
    }

    #[test]
    fn tagged_documents_add_a_container_dimension_set_to_the_same_values() {
        let plain = documents("N", "/g", 0, &totals(), None);
        let tagged = documents("N", "/g", 0, &totals(), Some("1"));
        assert_eq!(plain.len(), tagged.len());
        for (p, t) in plain.iter().zip(&tagged) {
            let (p, t): (Value, Value) = (serde_json::from_str(p).unwrap(), serde_json::from_str(t).unwrap());
            let sets = t["_aws"]["CloudWatchMetrics"][0]["Dimensions"].as_array().unwrap().clone();
            assert_eq!(sets.len(), 2);
            assert_eq!(sets[0], p["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0], "the contract's set comes first");
            let mut with = sets[0].as_array().unwrap().clone();
            with.push("Writer".into());
            assert_eq!(sets[1], Value::Array(with));
            assert_eq!(t["Writer"], "1");
            assert_eq!(t["ClientErrors"], p["ClientErrors"], "the same values, extracted once per set");
        }
    }
}
