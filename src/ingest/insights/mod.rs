//! CloudWatch Logs Insights as a source of counts (`apigw-4xx analyze --engine insights`): the
//! aggregation runs inside CloudWatch and only the counts come back. This module holds what every
//! part shares: a result [`Row`], the [`plan`] that cuts a read into sub-queries no result of which
//! can reach the row cap (pure), the [`run`]ner that keeps a bounded number of them in flight with
//! backoff, retries and a scan budget (generic over [`run::InsightsApi`]), and the SDK's side of it
//! ([`api`]). The query text is `render::insights`'s, the folding of rows into tallies
//! `count::insights`'s.

#[cfg(feature = "aws")]
pub mod api;
pub mod plan;
#[cfg(feature = "aws")]
pub mod run;

/// One result row of a query: `(field, value)` pairs as GetQueryResults returns them (a field
/// absent from the row had no value for it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row(pub Vec<(String, String)>);

impl Row {
    /// The value of `field`, when the row has one.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(f, _)| f == field).map(|(_, v)| v.as_str())
    }
}

impl<const N: usize> From<[(&str, &str); N]> for Row {
    fn from(pairs: [(&str, &str); N]) -> Row {
        Row(pairs.iter().map(|(f, v)| (f.to_string(), v.to_string())).collect())
    }
}
