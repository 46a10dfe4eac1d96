//! Layer 10: the Lambda function as one component. Only `bin/bootstrap.rs` uses it; the CLI never
//! does.
//!
//! - [`event`]: what Lambda hands the function; [`error`]: why an invocation fails, and how Lambda
//!   reports it; [`summary`]: what an invocation did; [`invocation`]: the clock and the deadline.
//! - [`config`]: the environment, read and validated once at init.
//! - [`batch`]: the event decoded into counts per window; [`handler`]: one invocation, a straight
//!   line over the layers below.
//! - [`stores`] and [`emf`]: the AWS edges (CloudWatch, SNS) and the EMF output; [`context`]: the
//!   alert's baseline and deployment lines; [`memory`]: in-memory edges for tests and examples.
//! - [`sweep`]: the same binary's other mode, which keeps this stack's subscription filters on the
//!   log groups it watches (scheduled, and at deploy and deletion through a custom resource).

pub mod batch;
pub mod config;
pub mod context;
pub mod emf;
pub mod error;
pub mod event;
pub mod handler;
pub mod invocation;
pub mod memory;
pub mod stores;
pub mod summary;
pub mod sweep;

pub use error::HandlerError;
pub use event::{AwsLogs, IncomingEvent, KinesisData, Record};
pub use handler::Function;
pub use invocation::{system_now, Invocation};
pub use summary::Summary;
