//! SIP signalling: the message model and parser, transactions, transports.

pub mod admission;
pub mod build;
pub mod flow;
pub mod grammar;
pub mod headers;
pub mod ids;
pub mod message;
pub mod parse;
pub mod refer;
pub mod transaction;
pub mod transport;
pub mod uri;
pub mod validate;
