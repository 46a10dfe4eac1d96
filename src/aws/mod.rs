//! Layer 1: SDK plumbing, and nothing of the domain. One constructor gives every client the same
//! timeouts and a request counter ([`client::Clients`]); one error type keeps the SDK's failure
//! kind ([`error::AwsError`]). The modules that speak to a service (metric reads, log-group reads,
//! API Gateway lookups, the function's stores) take their clients from here.

pub mod client;
pub mod error;
