//! What the settings checks of every module share: the `Issue` each reports, and the limits more
//! than one module's settings are held to. A leaf: the checks live with the settings they check,
//! and `config` gathers their issues.

/// Ring timeouts, in seconds, that a route, a queue or `sip.ring_timeout_secs` may use.
pub const RING_TIMEOUT_RANGE: std::ops::RangeInclusive<u32> = 1..=300;

/// A semantic problem at a key path such as `seats[1].user`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub key: String,
    pub reason: String,
}

impl Issue {
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            reason: reason.into(),
        }
    }
}
