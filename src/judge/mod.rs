//! Layer 5: counts → a verdict. Status classes, levels and ignored codes ([`severity`]), levels per
//! log group ([`group_rules`]), a group's own normal rate and `SPIKE_FACTOR` ([`baseline`]), the
//! finding with its breakdown ([`finding`]) and the recommendation keyed on the dominant code
//! ([`recommendation`]).

pub mod baseline;
pub mod finding;
pub mod group_rules;
pub mod recommendation;
pub mod severity;
