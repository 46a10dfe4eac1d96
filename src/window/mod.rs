//! Layer 6: windows over time. A window's key, state and alert markers ([`state`], [`marker`]), the
//! verdict on one window after a batch ([`decide`]), and the warm container's ledger of what it
//! knows and what a batch must read and write ([`ledger`]), and each group's hour of unparsed lines
//! ([`format_watch`]). Pure: callers pass the clock.

pub mod decide;
pub mod format_watch;
pub mod ledger;
pub mod marker;
pub mod state;
