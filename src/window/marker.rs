//! What a window has had sent about it: an alert at a level, or its recovery notice. The same value
//! is the decision's action and the `AlertsPublished` marker written for it, so a window that alerted
//! once is never paged again for the same level.

use crate::judge::severity::Severity;

/// The `Severity` dimension value (and message attribute) of a recovery notice.
pub const RECOVERED: &str = "RECOVERED";

/// One alert marker: a window alerted at a level, or had its recovery notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Marker {
    /// An alert at ELEVATED or HIGH: a level newly crossed (OK→ELEVATED, OK→HIGH, ELEVATED→HIGH).
    Alerted(Severity),
    /// A recovery notice: the window after an alerted one is OK again.
    Recovered,
}

impl Marker {
    /// Every marker a window can carry, in the order they are read.
    pub const ALL: [Marker; 3] =
        [Marker::Alerted(Severity::Elevated), Marker::Alerted(Severity::High), Marker::Recovered];

    /// `ELEVATED`, `HIGH` or `RECOVERED`: the `Severity` dimension value and the message attribute.
    pub fn level(self) -> &'static str {
        match self {
            Marker::Alerted(s) => s.as_str(),
            Marker::Recovered => RECOVERED,
        }
    }
}
