//! Integration tests: the daemon against real peers on 127.0.0.1.

mod check_command;
mod common;
mod peers;
mod protos;
mod raw;
mod sip_basics;
mod torture;
