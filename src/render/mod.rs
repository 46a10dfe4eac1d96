//! Layer 10: words for people. Alert messages in every format ([`alert`]), notices about the
//! monitor's own reach ([`notice`]), the CLI's text and JSON reports ([`report`]), the `history`
//! table ([`history`]) and the Logs Insights query an alert links to ([`insights`]).

pub mod alert;
pub mod history;
pub mod insights;
pub mod notice;
pub mod report;
