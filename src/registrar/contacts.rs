//! What a REGISTER asks for, read from its Contact and Expires headers (RFC 3261 §10.3
//! step 6), before anything in the binding table changes.

use super::error::RegisterError;
use crate::sip::grammar::split_commas;
use crate::sip::headers::NameAddr;
use crate::sip::message::Request;

/// Used when neither the contact nor the request gives an expiry (RFC 3261 §10.2.1.1
/// leaves the default to the registrar; 3600 is what the RFC's examples and most
/// registrars use).
const DEFAULT_EXPIRES_SECS: u32 = 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Update {
    /// No Contact: the phone asks what is bound.
    Fetch,
    /// `Contact: *` with `Expires: 0`.
    RemoveAll,
    /// One entry per distinct contact URI, in request order.
    Set(Vec<Change>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Change {
    pub uri: String,
    /// Already clamped to the registrar's limits; 0 removes the binding.
    pub expires_secs: u32,
}

pub(super) fn plan(req: &Request, min: u32, max: u32) -> Result<Update, RegisterError> {
    let header_expires = req.headers.get("Expires").and_then(parse_secs);
    let mut wildcard = false;
    let mut addrs = Vec::new();
    for value in req.headers.get_all("Contact") {
        if value.trim() == "*" {
            wildcard = true;
            continue;
        }
        for part in split_commas(value) {
            let addr = NameAddr::parse(part).map_err(|_| RegisterError::MalformedContact)?;
            addrs.push(addr);
        }
    }
    if wildcard {
        return if addrs.is_empty() && header_expires == Some(0) {
            Ok(Update::RemoveAll)
        } else {
            Err(RegisterError::BadWildcard)
        };
    }
    if addrs.is_empty() {
        return Ok(Update::Fetch);
    }
    let default = DEFAULT_EXPIRES_SECS.clamp(min, max);
    let mut changes: Vec<Change> = Vec::with_capacity(addrs.len());
    for addr in addrs {
        // A malformed expires param counts as absent, as RFC 3261 §10.3 step 6 does for the
        // header, rather than failing the whole request.
        let asked = addr
            .param("expires")
            .flatten()
            .and_then(parse_secs)
            .or(header_expires);
        let expires_secs = match asked {
            None => default,
            Some(0) => 0,
            Some(secs) if secs < min => return Err(RegisterError::IntervalTooBrief),
            Some(secs) => secs.min(max),
        };
        // The same URI twice in one request: the later entry wins, so the table sees one
        // change per binding.
        changes.retain(|c| c.uri != addr.uri);
        changes.push(Change {
            uri: addr.uri,
            expires_secs,
        });
    }
    Ok(Update::Set(changes))
}

/// delta-seconds; values past u32 saturate (RFC 3261 §20.19 asks for at least 2**32-1 to
/// be understood), which the caller then caps at the maximum.
fn parse_secs(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = s.trim_start_matches('0');
    if digits.len() > 10 {
        return Some(u32::MAX);
    }
    Some(
        digits
            .parse::<u64>()
            .map_or(0, |n| n.min(u64::from(u32::MAX)) as u32),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Method;

    fn req(headers: &[(&str, &str)]) -> Request {
        let mut r = Request::new(Method::Register, "sip:hotline.example");
        for (n, v) in headers {
            r.headers.push(n, *v);
        }
        r
    }

    fn set(pairs: &[(&str, u32)]) -> Update {
        Update::Set(
            pairs
                .iter()
                .map(|(u, e)| Change {
                    uri: u.to_string(),
                    expires_secs: *e,
                })
                .collect(),
        )
    }

    #[test]
    fn expiry_precedence_and_limits() {
        let r = req(&[
            ("Contact", "<sip:a@10.0.0.1>;expires=120, <sip:b@10.0.0.1>"),
            ("Contact", "sip:c@10.0.0.1;expires=999999999999"),
            ("Expires", "600"),
        ]);
        assert_eq!(
            plan(&r, 60, 7200),
            Ok(set(&[
                ("sip:a@10.0.0.1", 120),
                ("sip:b@10.0.0.1", 600),
                ("sip:c@10.0.0.1", 7200)
            ]))
        );
        let r = req(&[("Contact", "<sip:a@10.0.0.1>")]);
        assert_eq!(plan(&r, 60, 1800), Ok(set(&[("sip:a@10.0.0.1", 1800)])));
        assert_eq!(plan(&r, 60, 7200), Ok(set(&[("sip:a@10.0.0.1", 3600)])));
        let r = req(&[("Contact", "<sip:a@10.0.0.1>;expires=30")]);
        assert_eq!(plan(&r, 60, 7200), Err(RegisterError::IntervalTooBrief));
        let r = req(&[("Contact", "<sip:a@10.0.0.1>;expires=0")]);
        assert_eq!(plan(&r, 60, 7200), Ok(set(&[("sip:a@10.0.0.1", 0)])));
    }

    #[test]
    fn wildcard_rules() {
        assert_eq!(
            plan(&req(&[("Contact", "*"), ("Expires", "0")]), 60, 3600),
            Ok(Update::RemoveAll)
        );
        for bad in [
            vec![("Contact", "*")],
            vec![("Contact", "*"), ("Expires", "60")],
            vec![("Contact", "*"), ("Contact", "<sip:a@h>"), ("Expires", "0")],
        ] {
            assert_eq!(plan(&req(&bad), 60, 3600), Err(RegisterError::BadWildcard));
        }
    }

    #[test]
    fn no_contact_is_a_fetch_and_duplicates_collapse() {
        assert_eq!(plan(&req(&[]), 60, 3600), Ok(Update::Fetch));
        let r = req(&[("Contact", "<sip:a@h>;expires=100, <sip:a@h>;expires=200")]);
        assert_eq!(plan(&r, 60, 3600), Ok(set(&[("sip:a@h", 200)])));
        let r = req(&[("Contact", "<sip:a@h")]);
        assert_eq!(plan(&r, 60, 3600), Err(RegisterError::MalformedContact));
    }

    #[test]
    fn delta_seconds() {
        assert_eq!(parse_secs(" 0042 "), Some(42));
        assert_eq!(parse_secs("4294967296"), Some(u32::MAX));
        assert_eq!(parse_secs("000000000000000000001"), Some(1));
        assert_eq!(parse_secs("-1"), None);
        assert_eq!(parse_secs(""), None);
    }
}
