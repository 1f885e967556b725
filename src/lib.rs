//! hotline: SIP/RTP telephony daemon for citizen-service hotlines.

pub mod call;
pub mod config;
pub mod sip;
pub mod store;
