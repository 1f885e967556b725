use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

/// Anything the daemon keeps. One writer serves every variant, so a batch may mix them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Call(CallRecord),
}

impl Record {
    /// Short name of the record type, for logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Call(_) => "call",
        }
    }

    /// The record's own id, so a failure can be traced to the call it belongs to.
    pub fn id(&self) -> &str {
        match self {
            Record::Call(call) => &call.id,
        }
    }
}

impl From<CallRecord> for Record {
    fn from(call: CallRecord) -> Self {
        Record::Call(call)
    }
}

/// One inbound call, from offer to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// The daemon's call id (unique).
    pub id: String,
    /// Call-ID of the inbound (trunk) leg.
    pub sip_call_id: String,
    pub trunk: String,
    /// Caller number (From user).
    pub caller: String,
    /// Called number (Request-URI user).
    pub called: String,
    /// The seat that answered.
    pub seat: Option<String>,
    pub offered_at: SystemTime,
    pub answered_at: Option<SystemTime>,
    pub ended_at: SystemTime,
    pub disposition: Disposition,
    /// The SIP status that ended the call (486, 487, 408, 480…); `None` for a normal BYE.
    pub sip_cause: Option<u16>,
    /// "caller", "seat" or "daemon".
    pub ended_by: Option<String>,
}

/// How a call ended, as counted in the line metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    Answered,
    /// The caller hung up while the call was ringing or queued.
    Abandoned,
    Busy,
    NoAnswer,
    Unreachable,
    Rejected,
    Failed,
}

impl Disposition {
    pub const ALL: [Disposition; 7] = [
        Disposition::Answered,
        Disposition::Abandoned,
        Disposition::Busy,
        Disposition::NoAnswer,
        Disposition::Unreachable,
        Disposition::Rejected,
        Disposition::Failed,
    ];

    /// The string stored in the database; changing one orphans existing rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Answered => "answered",
            Disposition::Abandoned => "abandoned",
            Disposition::Busy => "busy",
            Disposition::NoAnswer => "no_answer",
            Disposition::Unreachable => "unreachable",
            Disposition::Rejected => "rejected",
            Disposition::Failed => "failed",
        }
    }
}

impl fmt::Display for Disposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown disposition {0:?}")]
pub struct UnknownDisposition(pub String);

impl FromStr for Disposition {
    type Err = UnknownDisposition;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Disposition::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| UnknownDisposition(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_strings_round_trip() {
        for d in Disposition::ALL {
            assert_eq!(d.as_str().parse::<Disposition>(), Ok(d));
        }
        assert_eq!(
            "NoAnswer".parse::<Disposition>(),
            Err(UnknownDisposition("NoAnswer".into()))
        );
    }
}
