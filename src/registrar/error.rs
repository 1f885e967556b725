//! Why a REGISTER was refused after authentication, and the status each reason gets.

/// A refusal the registrar answers itself. Each variant has a fixed status so the SIP
/// answer and the log line cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("not a REGISTER")]
    NotRegister,
    #[error("Contact: * needs Expires: 0 and no other Contact")]
    BadWildcard,
    #[error("malformed Contact")]
    MalformedContact,
    #[error("expiry shorter than the minimum")]
    IntervalTooBrief,
    #[error("out-of-order REGISTER: same Call-ID and CSeq not higher than the binding's")]
    OutOfOrder,
    #[error("too many contacts for one seat")]
    TooManyContacts,
}

impl RegisterError {
    pub fn status(self) -> u16 {
        match self {
            RegisterError::NotRegister => 405,
            RegisterError::BadWildcard | RegisterError::MalformedContact => 400,
            RegisterError::IntervalTooBrief => 423,
            // RFC 3261 §10.3 step 7 names 500 for a request older than the binding.
            RegisterError::OutOfOrder => 500,
            RegisterError::TooManyContacts => 403,
        }
    }

    /// The same text as `Display`, but `'static` so events can carry it without allocating.
    pub fn reason(self) -> &'static str {
        match self {
            RegisterError::NotRegister => "not a REGISTER",
            RegisterError::BadWildcard => "Contact: * needs Expires: 0 and no other Contact",
            RegisterError::MalformedContact => "malformed Contact",
            RegisterError::IntervalTooBrief => "expiry shorter than the minimum",
            RegisterError::OutOfOrder => {
                "out-of-order REGISTER: same Call-ID and CSeq not higher than the binding's"
            }
            RegisterError::TooManyContacts => "too many contacts for one seat",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RegisterError::*;

    #[test]
    fn reason_matches_display() {
        for e in [
            NotRegister,
            BadWildcard,
            MalformedContact,
            IntervalTooBrief,
            OutOfOrder,
            TooManyContacts,
        ] {
            assert_eq!(e.reason(), e.to_string());
        }
    }
}
