//! What one invocation did: logged as one line, and returned.

use serde::Serialize;

/// What one invocation did (logged as one line, and returned).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Log events decoded (control messages and out-of-range events included).
    pub events: u64,
    /// Requests counted (written as metrics).
    pub requests: u64,
    /// 4xx counted.
    pub client_errors: u64,
    /// Lines with no valid status, counted.
    pub unparsed: u64,
    /// Events without a timestamp or request time (counted in no window).
    pub untimed: u64,
    /// Events timestamped where CloudWatch accepts no metrics (over two weeks old, or ahead of the
    /// clock): logged, not counted.
    pub out_of_range: u64,
    /// Kinesis records skipped because they cannot be decoded or name a log group CloudWatch
    /// refuses (each logged with its sequence number).
    pub rejected: u64,
    /// The batch was delivered before (same data) and already counted by this container.
    pub duplicate: bool,
    /// Control messages ignored.
    pub control_messages: u64,
    /// Windows touched.
    pub windows: usize,
    /// Windows read back from CloudWatch (decision reads).
    pub windows_read: usize,
    /// Messages published (at most one per log group).
    pub alerts: usize,
    /// Notices that a group's lines mostly did not parse over its last hour.
    pub notices: usize,
    /// Alert markers written.
    pub markers: usize,
    /// Writer marks written (windows this container counted in for the first time).
    pub writer_marks: usize,
    /// Windows whose alert waits: another container's counts of them may still be in flight (they
    /// are decided again once the extraction lag has passed).
    pub withheld: usize,
    /// Windows that crossed a level but began too long ago to be paged (listed in their log
    /// group's message, if one goes out).
    pub too_old: usize,
    /// EMF documents printed.
    pub emf_documents: u64,
    /// Bytes of EMF printed (log ingestion).
    pub emf_bytes: u64,
    /// AWS requests sent (retries, pages and chunks included).
    pub aws_calls: u64,
}
