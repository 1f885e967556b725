//! Label keys, and the fixed label values this module owns. Emitters use these rather than
//! literals so a typo cannot split one series into two.
//!
//! Every label value must come from a bounded set: anything taken from the network (a SIP
//! method, a reason phrase) is mapped to a fixed label first (see `sip::Method::metric_label`).

pub const TRUNK: &str = "trunk";
pub const DISPOSITION: &str = "disposition";
pub const REASON: &str = "reason";
pub const KIND: &str = "kind";
pub const METHOD: &str = "method";
pub const DIRECTION: &str = "direction";
pub const STATUS: &str = "status";
pub const ACTION: &str = "action";
pub const QUEUE: &str = "queue";
pub const STATE: &str = "state";
pub const CATEGORY: &str = "category";
pub const UNIT: &str = "unit";
pub const ROLE: &str = "role";
pub const NUMBER: &str = "number";
pub const VALUE: &str = "value";
pub const OUTCOME: &str = "outcome";
pub const BUS: &str = "bus";

/// `direction` of SIP traffic, seen from the daemon.
pub mod sip_direction {
    pub const IN: &str = "in";
    pub const OUT: &str = "out";
}

/// `direction` of relayed RTP.
pub mod rtp_direction {
    pub const CALLER_TO_SEAT: &str = "caller_to_seat";
    pub const SEAT_TO_CALLER: &str = "seat_to_caller";
}

/// `action` taken on a SIP message that failed to parse or validate.
pub mod malformed_action {
    /// A request we could parse far enough to answer.
    pub const ANSWERED_400: &str = "answered_400";
    /// Anything else: answering garbage would make us a reflector.
    pub const DROPPED: &str = "dropped";
}
