//! Layer 0: the vocabulary every layer shares and that imports nothing of the crate: epoch
//! milliseconds and windows ([`time`]), HTTP status classes and names ([`status`]), the fields of an
//! access-log record and the names they are logged under ([`fields`]), names and name prefixes in
//! settings ([`pattern`]), and how numbers are written for people ([`numbers`]).

pub mod fields;
pub mod numbers;
pub mod pattern;
pub mod status;
pub mod time;
