//! apigw-4xx: tells, within minutes, when an unusual share of API Gateway traffic is rejected with
//! 4xx errors, and why.
//!
//! The crate is a functional core: bytes → log events ([`decode`]) → access records ([`access_log`])
//! → window tallies ([`tally`]) → severity ([`severity`]) → finding ([`finding`]). The Lambda
//! function and the `apigw-4xx` CLI are thin shells around it.

#![warn(missing_docs)]

pub mod access_log;
pub mod alert;
pub mod alerting;
pub mod analysis;
#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
pub mod decode;
pub mod finding;
#[cfg(feature = "aws")]
pub mod handler;
pub mod input;
pub mod insights;
#[cfg(feature = "aws")]
pub mod logs_source;
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
