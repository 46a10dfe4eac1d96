//! apigw-4xx: tells, within minutes, when an unusual share of API Gateway traffic is rejected with
//! 4xx errors, and why.
//!
//! The crate is a functional core: bytes → log events ([`decode`]) → access records ([`access_log`])
//! → window tallies ([`tally`]) → severity ([`severity`]) → finding ([`finding`]). The Lambda
//! function and the `apigw-4xx` CLI are thin shells around it.

#![warn(missing_docs)]

pub mod access_log;
pub mod alert;
#[cfg(feature = "aws")]
pub mod alert_context;
pub mod alerting;
pub mod analysis;
#[cfg(feature = "aws")]
pub mod apigateway;
#[cfg(feature = "aws")]
pub mod aws;
pub mod baseline;
pub mod config;
pub mod consumers;
pub mod decode;
pub mod deployment;
pub mod emf;
pub mod finding;
pub mod group_rules;
#[cfg(feature = "aws")]
pub mod handler;
pub mod history;
pub mod input;
pub mod insights;
pub mod ledger;
#[cfg(feature = "aws")]
pub mod logs_source;
#[cfg(feature = "aws")]
pub mod metric_history;
pub mod metrics;
pub mod parallel;
pub mod recommendation;
pub mod report;
pub mod severity;
pub mod status;
pub mod tally;
pub mod time;
pub mod time_range;
pub mod walk;
