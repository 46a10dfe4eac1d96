//! Layer 7: the CloudWatch metric contract. Names, dimensions, markers and the queries that read a
//! window back ([`contract`]), the Embedded Metric Format documents counts are written as
//! ([`emf`]), the baseline's read ([`baseline`]), and, with AWS, the GetMetricData reader
//! (`cloudwatch`).

pub mod baseline;
#[cfg(feature = "aws")]
pub mod cloudwatch;
pub mod contract;
pub mod emf;
