//! Layer 0: the vocabulary every layer shares and that imports nothing of the crate: epoch
//! milliseconds and windows ([`time`]), HTTP status classes and names ([`status`]), and how numbers
//! are written for people ([`numbers`]), names and name prefixes in settings ([`pattern`]).

pub mod numbers;
pub mod pattern;
pub mod status;
pub mod time;
