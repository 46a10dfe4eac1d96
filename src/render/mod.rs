//! Layer 10: words for people. Alert messages in every format ([`alert`]), notices about the
//! monitor's own reach ([`notice`]), the CLI's text and JSON reports ([`report`]) and warnings about
//! what it read ([`warnings`]), the `history` table ([`history`]), the Logs Insights query an alert
//! links to ([`insights`]), and the line about windows too old to page ([`withheld`]).

pub mod alert;
pub mod history;
pub mod insights;
pub mod notice;
pub mod report;
pub mod warnings;
pub mod withheld;
