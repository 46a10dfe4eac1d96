//! Layer 4: records → counts. Per-minute status counts and their evidence ([`tally`]), the bounded
//! value counts behind the evidence ([`values`]), who sent the 4xx ([`consumers`]), the event sink
//! that routes log events to a tally per log group ([`analysis`]), and the exact merge of tallies
//! counted on every core ([`parallel`]).

pub mod analysis;
pub mod consumers;
pub mod parallel;
pub mod tally;
pub mod values;
