//! The 7x24 call queue: callers wait in named queues and are handed to seats by the automatic
//! call distributor (ACD).
//!
//! Everything here is a state machine on virtual time with no I/O: the lead's driver feeds
//! [`AcdInput`]s and timeouts into [`Acd`], drains [`AcdAction`]s, and does the SIP and prompts.

pub mod acd;
pub mod config;
pub mod gauges;
mod handle;
pub mod seats;
mod service;
mod timer;

pub use acd::{
    Acd, AcdAction, AcdError, AcdInput, OfferFailure, OfferOutcome, OverflowCause, QueueEvent,
    QueueEventKind, SeatCommand, RETRY_DELAY,
};
pub use config::{Members, Overflow, QueueSettings, Strategy};
pub use handle::{AcdHandle, AcdSnapshot, AcdUpdate, Notice, QueueNow, SeatNow};
pub use seats::{PauseReason, SeatChange, SeatError, SeatId, SeatState};
pub use service::{state_name, AcdService};

pub use crate::call_id::CallId;
