//! hotline: SIP/RTP telephony daemon for citizen-service hotlines.

pub mod api;
pub mod auth;
pub mod bus;
pub mod calendar;
pub mod call;
pub mod call_id;
pub mod checks;
pub mod cli_client;
pub mod clock;
pub mod config;
pub mod dialplan;
pub mod features;
#[doc(hidden)]
pub mod fuzzing;
pub mod handoff;
pub mod ledger;
pub mod media;
pub mod metrics;
pub mod queue;
pub mod ratings;
pub mod recording;
pub mod registrar;
pub mod report;
pub mod security;
pub mod server;
pub mod sip;
pub mod store;
mod stored_names;
pub mod supervision;
pub mod survey;
pub mod timer;
pub(crate) mod toml_spans;
