//! hotline: SIP/RTP telephony daemon for citizen-service hotlines.

pub mod auth;
pub mod config;
