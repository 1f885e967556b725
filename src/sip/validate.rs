//! What a request must satisfy before any logic sees it, and the answer when it does not.
//!
//! Syntax problems get 400 (RFC 4475 §3.1.2); what we understand but do not support gets
//! its specific code (416, 420, 415, 406).

use super::headers::{CSeq, NameAddr, Via};
use super::message::{Method, Request};
use super::uri::{SipUri, UriError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: &'static str,
}

fn bad(reason: &'static str) -> Refusal {
    Refusal {
        status: 400,
        reason,
    }
}

/// The headers every request carries, parsed once.
#[derive(Debug, Clone)]
pub struct Essentials {
    pub vias: Vec<Via>,
    pub from: NameAddr,
    pub to: NameAddr,
    pub call_id: String,
    pub cseq: CSeq,
}

impl Essentials {
    pub fn top_via(&self) -> &Via {
        // `check_request` refuses a request without Via, so there is always a first entry.
        &self.vias[0]
    }
}

pub fn check_request(req: &Request) -> Result<Essentials, Refusal> {
    let h = &req.headers;
    for name in ["From", "To", "Call-ID", "CSeq"] {
        match h.count(name) {
            0 => return Err(bad("missing a required header")),
            1 => {}
            _ => return Err(bad("a single-value header appears more than once")),
        }
    }
    for name in ["Max-Forwards", "Content-Type", "Expires", "Date"] {
        if h.count(name) > 1 {
            return Err(bad("a single-value header appears more than once"));
        }
    }
    let vias = Via::all(h.get_all("Via")).map_err(|_| bad("malformed Via"))?;
    if vias.is_empty() {
        return Err(bad("missing a required header"));
    }
    let from =
        NameAddr::parse(h.get("From").unwrap_or_default()).map_err(|_| bad("malformed From"))?;
    let to = NameAddr::parse(h.get("To").unwrap_or_default()).map_err(|_| bad("malformed To"))?;
    let call_id = h.get("Call-ID").unwrap_or_default().trim().to_string();
    if call_id.is_empty() || call_id.contains(char::is_whitespace) {
        return Err(bad("malformed Call-ID"));
    }
    let cseq = CSeq::parse(h.get("CSeq").unwrap_or_default()).map_err(|_| bad("malformed CSeq"))?;
    if cseq.method != req.method {
        return Err(bad("CSeq method does not match the request"));
    }
    if let Some(mf) = h.get("Max-Forwards") {
        let ok = !mf.is_empty() && mf.len() <= 10 && mf.chars().all(|c| c.is_ascii_digit());
        if !ok || mf.parse::<u32>().map_or(true, |n| n > 255) {
            return Err(bad("malformed Max-Forwards"));
        }
    }
    if let Some(expires) = h.get("Expires") {
        if expires.is_empty() || !expires.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad("malformed Expires"));
        }
    }
    // SIP dates are always GMT (RFC 3261 §20.17, RFC 4475 §3.1.2.11).
    if let Some(date) = h.get("Date") {
        if !date.trim_end().ends_with(" GMT") {
            return Err(bad("malformed Date"));
        }
    }
    for contact in h.get_all("Contact") {
        if contact.trim() == "*" {
            continue;
        }
        for part in super::grammar::split_commas(contact) {
            NameAddr::parse(part).map_err(|_| bad("malformed Contact"))?;
        }
    }
    check_request_uri(&req.uri)?;
    Ok(Essentials {
        vias,
        from,
        to,
        call_id,
        cseq,
    })
}

fn check_request_uri(uri: &str) -> Result<(), Refusal> {
    if uri.contains(['<', '>', '"']) {
        return Err(bad("malformed Request-URI"));
    }
    match SipUri::parse(uri) {
        // Headers are not allowed in a Request-URI (RFC 3261 §19.1.5, RFC 4475 §3.1.2.10).
        Ok(u) if u.headers.is_some() => Err(bad("headers in the Request-URI")),
        Ok(_) => Ok(()),
        Err(UriError::UnsupportedScheme(_)) => Err(Refusal {
            status: 416,
            reason: "Unsupported URI Scheme",
        }),
        Err(UriError::Malformed(_)) => Err(bad("malformed Request-URI")),
    }
}

/// Extensions the daemon implements; anything else in Require gets 420 (RFC 3261 §8.2.2.3).
pub const SUPPORTED_EXTENSIONS: &[&str] = &[];

/// Checks of what the request asks for, after the syntax is known to be sound.
/// Returns the refusal and, for 420, the extensions to list in Unsupported.
pub fn check_support(req: &Request) -> Result<(), (Refusal, Vec<String>)> {
    let unsupported: Vec<String> = req
        .headers
        .get_all("Require")
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_string())
        .filter(|t| {
            !t.is_empty()
                && !SUPPORTED_EXTENSIONS
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(t))
        })
        .collect();
    if !unsupported.is_empty() && req.method != Method::Cancel && req.method != Method::Ack {
        return Err((
            Refusal {
                status: 420,
                reason: "Bad Extension",
            },
            unsupported,
        ));
    }
    if req.method == Method::Invite {
        if !req.body.is_empty() {
            let ctype = req.headers.get("Content-Type").unwrap_or("");
            let media = ctype.split(';').next().unwrap_or("").trim();
            if !media.eq_ignore_ascii_case("application/sdp") {
                return Err((
                    Refusal {
                        status: 415,
                        reason: "Unsupported Media Type",
                    },
                    Vec::new(),
                ));
            }
        }
        if let Some(accept) = req.headers.get("Accept") {
            let takes_sdp = accept.split(',').any(|t| {
                let t = t.split(';').next().unwrap_or("").trim();
                t.eq_ignore_ascii_case("application/sdp")
                    || t == "*/*"
                    || t.eq_ignore_ascii_case("application/*")
            });
            if !accept.trim().is_empty() && !takes_sdp {
                return Err((
                    Refusal {
                        status: 406,
                        reason: "Not Acceptable",
                    },
                    Vec::new(),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Message;
    use crate::sip::parse::parse;

    fn request(raw: &str) -> Request {
        match parse(raw.as_bytes()) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    const GOOD: &str = "OPTIONS sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK1\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: abc\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn a_plain_request_passes() {
        let e = check_request(&request(GOOD)).unwrap();
        assert_eq!(e.cseq.seq, 1);
        assert_eq!(e.top_via().rfc3261_branch(), Some("z9hG4bK1"));
    }

    #[test]
    fn broken_headers_get_400() {
        for (from, to) in [
            ("CSeq: 1 OPTIONS", "CSeq: 1 INVITE"),
            ("Max-Forwards: 70", "Max-Forwards: 300"),
            ("Call-ID: abc", "Call-ID: abc\r\nCall-ID: def"),
            ("To: <sip:b@127.0.0.1>", "To: \"b <sip:b@127.0.0.1>"),
            (
                "sip:12345@127.0.0.1 SIP",
                "sip:12345@127.0.0.1?Route=%3Cx%3E SIP",
            ),
        ] {
            let r = request(&GOOD.replace(from, to));
            assert_eq!(check_request(&r).unwrap_err().status, 400, "{to}");
        }
    }

    #[test]
    fn unknown_scheme_gets_416_and_require_420() {
        let r = request(&GOOD.replace("sip:12345@127.0.0.1 SIP", "isbn:2983792873 SIP"));
        assert_eq!(check_request(&r).unwrap_err().status, 416);
        let r = request(&GOOD.replace("Max-Forwards: 70", "Require: nothingSupportedHere"));
        let (refusal, unsupported) = check_support(&r).unwrap_err();
        assert_eq!(refusal.status, 420);
        assert_eq!(unsupported, vec!["nothingSupportedHere".to_string()]);
    }
}
