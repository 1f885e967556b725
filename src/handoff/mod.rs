//! Hand-offs (交办): a matter a seat hands to a unit, on the clock of its category. The seat
//! marks the call it serves (or the route marks it at the seat's answer); the hand-off is made
//! when a contact of a unit answers a call the seat places for it, in time or late; the seat
//! hears a warning before the limit and a tone at it. The open hand-offs are one sans-IO machine
//! (`machine`) driven by one task (`service`) and reached through `HandoffHandle` (`handle`).

pub mod handle;
pub mod machine;
pub mod service;
pub mod settings;

pub use handle::{HandoffHandle, HandoffUpdate, OpenHandoff};
pub use machine::{By, Change, Cue, Handoffs, Input, Refusal};
pub use settings::{Category, HandoffSettings};
