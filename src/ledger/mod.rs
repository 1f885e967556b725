//! The contact-failure ledger (联络畅通, 40 of 1000 points a month): the failure rule over
//! attempts to reach a unit, the monthly ledger per unit, appeals, and the commands that read and
//! void it. Everything but `commands` is pure.

mod appeal;
pub mod commands;
mod month;
mod render;
mod rule;

pub use appeal::{
    appeal_deadline, void_failure, weekdays, VoidError, VoidRequest, APPEAL_WORKING_DAYS,
};
pub use month::{
    month_ledger, HandoffCount, LedgerInput, LedgerUnit, MadeCounts, MonthLedger, UnitLedger,
    DEFAULT_CATEGORIES,
};
pub use render::{group_attempts, AttemptGroup, HandoffListing};
pub use rule::{AttemptTally, FailureRule, Group, Tallies};
