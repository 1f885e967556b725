//! Integration tests against real peers on 127.0.0.1.

mod peers;
