//! Integration tests: the daemon against real peers on 127.0.0.1.

mod baresip_seat;
mod calendar_routes;
mod calls;
mod check_command;
mod common;
mod consult;
mod handoffs;
mod hold;
mod hunting;
mod ledger_command;
mod lifecycle;
mod metrics_scrape;
mod peers;
mod protos;
mod queue;
mod rating;
mod raw;
mod raw_caller;
mod refer;
mod registration;
mod report_command;
mod scanners;
mod seat_features;
mod sip_basics;
mod survey;
mod torture;
