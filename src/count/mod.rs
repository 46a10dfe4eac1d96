//! Layer 4: records → counts. Per-minute status counts and their evidence ([`tally`]), the bounded
//! value counts behind the evidence ([`values`]), who sent the 4xx ([`consumers`]), the event sink
//! that routes log events to a tally per log group ([`analysis`]), the exact merge of tallies
//! counted on every core ([`parallel`]), and Logs Insights results folded into tallies ([`insights`]).

pub mod analysis;
pub mod consumers;
pub mod insights;
pub mod parallel;
pub mod tally;
pub mod values;
