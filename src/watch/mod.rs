//! Layer 9: which log groups the stack watches, and how a sweep keeps their subscription filters
//! right, as pure functions and state over what the control planes answer. The sweep itself (the
//! calls, the clock, where the state is kept) is the Lambda's (`function::sweep`).
//!
//! - [`select`]: the three ways to choose groups (`WATCH_STAGES`, `STAGE_FILTER`, `LOG_GROUP_NAMES`).
//! - [`pass`]: one pass over the account, as a queue of listing and checking steps that survives
//!   from one run to the next.
//! - [`plan`]: what to do with one group, given the filters it holds.
//! - [`state`]: what the sweep remembers between runs: the groups holding this stack's filter, the
//!   groups already reported unwatchable, the pass under way.
//! - [`pace`]: how fast the sweep may call each control plane, and how it backs off.

pub mod pace;
pub mod pass;
pub mod plan;
pub mod select;
pub mod state;
