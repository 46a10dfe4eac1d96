//! Layer 8: what an alert says besides its counts: which stage a log group logs for and its last
//! deployment ([`deployment`]), looked up in API Gateway's control plane (`apigateway`, with AWS).

#[cfg(feature = "aws")]
pub mod apigateway;
pub mod deployment;
