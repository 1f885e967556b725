//! The contact syntax of a unit's handlers, head and duty line: a pure parser from the string in
//! a dialplan file to a typed contact, so that `hotline check` can say exactly what is wrong.
//!
//! ```text
//! seat:1002                 a seat of [[seats]] (its registered phones ring)
//! sip:duty@192.0.2.10:5060  a SIP URI whose host is an IP address; port 5060 when left out
//! 0551-62345678, +8655162345678
//!                           a phone number: digits, an optional leading +, and `-` or spaces
//!                           to group digits (dropped); it must match an [[outbound]] route
//! ```
//!
//! Seats carry an explicit `seat:` prefix because a seat user such as "1002" is also a valid
//! phone number: without it, one string could mean two different calls.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::sip::uri::SipUri;

/// Where a contact of a unit is reached, before any outbound route is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    /// A seat user of `[[seats]]`.
    Seat(String),
    /// `uri` as written; `addr` is its IP host and port (5060 when the URI has none).
    Sip { uri: String, addr: SocketAddr },
    /// Digits with an optional leading `+`, grouping characters removed.
    Number(String),
}

/// The port of a SIP URI without one (RFC 3261 §19.1.2).
const SIP_PORT: u16 = 5060;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactError {
    #[error("empty contact; write seat:<user>, sip:<user>@<ip>:<port> or a phone number")]
    Empty,
    #[error("`seat:` needs the seat user after it, e.g. seat:1002")]
    EmptySeat,
    #[error("not a SIP URI: {0}")]
    BadUri(String),
    #[error("only sip: URIs are dialled (over UDP); sips: is not supported")]
    Sips,
    #[error("the SIP URI needs a user part, e.g. sip:duty@192.0.2.10:5060")]
    NoUser,
    #[error("host {0:?} is not an IP address; contacts are dialled without DNS")]
    NotAnIp(String),
    #[error("URI parameters and headers are not supported in a contact")]
    Params,
    #[error(
        "{0:?} is neither seat:<user>, a sip: URI nor a phone number (digits, optional leading +)"
    )]
    Unrecognised(String),
}

impl Contact {
    pub fn parse(text: &str) -> Result<Contact, ContactError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ContactError::Empty);
        }
        if let Some(user) = text.strip_prefix("seat:") {
            let user = user.trim();
            if user.is_empty() {
                return Err(ContactError::EmptySeat);
            }
            return Ok(Contact::Seat(user.to_string()));
        }
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("sips:") {
            return Err(ContactError::Sips);
        }
        if lower.starts_with("sip:") {
            return sip(text);
        }
        phone_number(text)
            .map(Contact::Number)
            .ok_or_else(|| ContactError::Unrecognised(text.to_string()))
    }
}

/// In the syntax it is written in (numbers without their grouping characters).
impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contact::Seat(user) => write!(f, "seat:{user}"),
            Contact::Sip { uri, .. } => f.write_str(uri),
            Contact::Number(number) => f.write_str(number),
        }
    }
}

fn sip(text: &str) -> Result<Contact, ContactError> {
    let uri = SipUri::parse(text).map_err(|e| ContactError::BadUri(e.to_string()))?;
    if uri.user.is_none() {
        return Err(ContactError::NoUser);
    }
    if !uri.params.is_empty() || uri.headers.is_some() {
        return Err(ContactError::Params);
    }
    let host = uri.host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = host
        .parse()
        .map_err(|_| ContactError::NotAnIp(uri.host.clone()))?;
    Ok(Contact::Sip {
        uri: text.to_string(),
        addr: SocketAddr::new(ip, uri.port.unwrap_or(SIP_PORT)),
    })
}

/// Digits with an optional leading `+`; `-` and spaces between digits are dropped, since unit
/// directories print numbers as "0551-6234 5678". `None` when anything else is in it.
pub fn phone_number(text: &str) -> Option<String> {
    let text = text.trim();
    let (plus, rest) = match text.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", text),
    };
    if rest.is_empty() || !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if !rest
        .chars()
        .all(|c| c.is_ascii_digit() || c == '-' || c == ' ')
    {
        return None;
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    Some(format!("{plus}{digits}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_kinds() {
        assert_eq!(
            Contact::parse("seat:1002"),
            Ok(Contact::Seat("1002".into()))
        );
        assert_eq!(
            Contact::parse("sip:duty@192.0.2.10:5070"),
            Ok(Contact::Sip {
                uri: "sip:duty@192.0.2.10:5070".into(),
                addr: "192.0.2.10:5070".parse().unwrap(),
            })
        );
        assert_eq!(
            Contact::parse("sip:duty@[2001:db8::1]"),
            Ok(Contact::Sip {
                uri: "sip:duty@[2001:db8::1]".into(),
                addr: "[2001:db8::1]:5060".parse().unwrap(),
            })
        );
        assert_eq!(
            Contact::parse("0551-6234 5678"),
            Ok(Contact::Number("055162345678".into()))
        );
        assert_eq!(
            Contact::parse("+8613800000000"),
            Ok(Contact::Number("+8613800000000".into()))
        );
    }

    #[test]
    fn shown_as_written() {
        for text in ["seat:1002", "sip:duty@192.0.2.10:5070", "+8613800000000"] {
            assert_eq!(Contact::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn what_is_refused() {
        let err = |s: &str| Contact::parse(s).unwrap_err();
        assert_eq!(err(" "), ContactError::Empty);
        assert_eq!(err("seat:"), ContactError::EmptySeat);
        assert_eq!(err("sip:duty.example.org"), ContactError::NoUser);
        assert_eq!(
            err("sip:duty@pbx.example.org"),
            ContactError::NotAnIp("pbx.example.org".into())
        );
        assert_eq!(err("sips:duty@192.0.2.1"), ContactError::Sips);
        assert_eq!(
            err("sip:duty@192.0.2.1;transport=tcp"),
            ContactError::Params
        );
        assert!(matches!(
            err("sip:duty@192.0.2.1:0"),
            ContactError::BadUri(_)
        ));
        assert!(matches!(err("tel:12345"), ContactError::Unrecognised(_)));
        assert!(matches!(err("12a45"), ContactError::Unrecognised(_)));
        assert!(matches!(err("+"), ContactError::Unrecognised(_)));
        assert!(matches!(err("-123"), ContactError::Unrecognised(_)));
    }
}
