//! hotline: SIP/RTP telephony daemon for citizen-service hotlines.

pub mod config;
pub mod media;
