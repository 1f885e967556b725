//! Call transfer by the phone's own buttons: the Refer-To header (RFC 3515 §2.1), the Replaces
//! header of attended transfer (RFC 3891, RFC 5589), and the `message/sipfrag` bodies of the
//! NOTIFYs that report progress.
//!
//! Pure functions only. The daemon must never be a path to toll fraud: a REFER is routed by the
//! *number* `target_number` returns, through the dialplan (`call::dial`), never by the host of the
//! URI the phone wrote, and anything the dialplan does not allow gets 403 and a security event. Other URI
//! headers in a Refer-To (`?Route=..`, `?Require=..`) are dropped here, never copied into the new
//! INVITE.

use super::grammar::{param, parse_params, split_commas};
use super::headers::{HeaderError, NameAddr};
use super::uri::{percent_decode, SipUri, UriError};

/// The Content-Type of a NOTIFY body reporting a REFER's progress (RFC 3515 §2.4.5).
pub const SIPFRAG_CONTENT_TYPE: &str = "message/sipfrag;version=2.0";

/// Longest dialled number we accept at all (E.164 is 15 digits; room for access codes).
pub const MAX_NUMBER_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferError {
    #[error("Refer-To: {0}")]
    Address(#[from] HeaderError),
    #[error("Refer-To URI: {0}")]
    Uri(#[from] UriError),
    #[error("Refer-To holds more than one target")]
    MultipleTargets,
    #[error("malformed tel: URI: {0}")]
    Tel(&'static str),
    #[error("malformed URI headers: {0}")]
    UriHeaders(&'static str),
    #[error("malformed Replaces: {0}")]
    Replaces(&'static str),
}

/// Where a REFER sends the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferTarget {
    Sip(SipUri),
    /// A tel: URI (RFC 3966): the number with visual separators removed, and its parameters.
    Tel {
        number: String,
        params: Vec<(String, Option<String>)>,
    },
}

/// A parsed Refer-To header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferTo {
    pub display: Option<String>,
    pub target: ReferTarget,
    /// The `?Replaces=` URI header of an attended transfer, decoded.
    pub replaces: Option<Replaces>,
    /// Header parameters after the `<uri>`.
    pub params: Vec<(String, Option<String>)>,
}

/// The dialog an attended transfer replaces (RFC 3891 §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces {
    pub call_id: String,
    pub to_tag: String,
    pub from_tag: String,
    pub early_only: bool,
}

/// Parses a Refer-To value (full name `Refer-To` or compact `r`; `message::canonical_name` has
/// already folded the two). Exactly one target is allowed (RFC 3515 §2.1).
pub fn parse_refer_to(value: &str) -> Result<ReferTo, ReferError> {
    if split_commas(value).len() != 1 {
        return Err(ReferError::MultipleTargets);
    }
    let addr = NameAddr::parse(value)?;
    let (target, replaces) = match scheme_of(&addr.uri) {
        Some(s) if s.eq_ignore_ascii_case("tel") => (parse_tel(&addr.uri)?, None),
        _ => {
            let uri = SipUri::parse(&addr.uri)?;
            let replaces = match &uri.headers {
                Some(h) => replaces_from_uri_headers(h)?,
                None => None,
            };
            (ReferTarget::Sip(uri), replaces)
        }
    };
    Ok(ReferTo {
        display: addr.display,
        target,
        replaces,
        params: addr.params,
    })
}

fn scheme_of(uri: &str) -> Option<&str> {
    uri.split_once(':').map(|(s, _)| s)
}

/// `tel:` number `*(;param)` (RFC 3966 §3). No URI headers in a tel: URI.
fn parse_tel(uri: &str) -> Result<ReferTarget, ReferError> {
    let rest = &uri[4..];
    if rest.contains('?') {
        return Err(ReferError::Tel("URI headers in tel:"));
    }
    let (raw, params) = match rest.find(';') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let number = normalise_number(raw).ok_or(ReferError::Tel("bad number"))?;
    let params = parse_params(params).map_err(ReferError::Tel)?;
    Ok(ReferTarget::Tel { number, params })
}

/// Drops visual separators and checks what is left: an optional leading `+`, then digits, `*`
/// and `#`, at most `MAX_NUMBER_LEN` long.
fn normalise_number(raw: &str) -> Option<String> {
    let number: String = raw.chars().filter(|c| !"-.()".contains(*c)).collect();
    valid_number(&number).then_some(number)
}

fn valid_number(number: &str) -> bool {
    if number.is_empty() || number.len() > MAX_NUMBER_LEN {
        return false;
    }
    match number.strip_prefix('+') {
        // A global number is digits only.
        Some(body) => !body.is_empty() && body.chars().all(|c| c.is_ascii_digit()),
        None => number
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#'),
    }
}

/// `hname=hvalue *(& hname=hvalue)` (RFC 3261 §19.1.1); only Replaces is kept.
fn replaces_from_uri_headers(headers: &str) -> Result<Option<Replaces>, ReferError> {
    let mut replaces = None;
    for field in headers.split('&') {
        let (name, value) = field
            .split_once('=')
            .ok_or(ReferError::UriHeaders("header without '='"))?;
        let name = percent_decode(name);
        if name.is_empty() {
            return Err(ReferError::UriHeaders("empty header name"));
        }
        if name.eq_ignore_ascii_case("Replaces") {
            if replaces.is_some() {
                return Err(ReferError::Replaces("more than one Replaces"));
            }
            replaces = Some(parse_replaces(&percent_decode(value))?);
        }
    }
    Ok(replaces)
}

/// Parses a Replaces value: `call-id ;to-tag=.. ;from-tag=.. [;early-only]` (RFC 3891 §6.1),
/// with exactly one to-tag and one from-tag.
pub fn parse_replaces(value: &str) -> Result<Replaces, ReferError> {
    let value = value.trim();
    let (call_id, params) = match value.find(';') {
        Some(i) => (value[..i].trim(), &value[i..]),
        None => (value, ""),
    };
    if !valid_call_id(call_id) {
        return Err(ReferError::Replaces("bad call-id"));
    }
    let params = parse_params(params).map_err(ReferError::Replaces)?;
    let one_tag = |name: &str| -> Result<String, ReferError> {
        let mut found = params.iter().filter(|(n, _)| n == name);
        match (found.next(), found.next()) {
            (Some((_, Some(tag))), None) if !tag.is_empty() => Ok(tag.clone()),
            (None, _) => Err(ReferError::Replaces("missing tag")),
            _ => Err(ReferError::Replaces("bad or repeated tag")),
        }
    };
    let to_tag = one_tag("to-tag")?;
    let from_tag = one_tag("from-tag")?;
    let early_only = match param(&params, "early-only") {
        None => false,
        Some(None) => true,
        Some(Some(_)) => return Err(ReferError::Replaces("early-only takes no value")),
    };
    Ok(Replaces {
        call_id: call_id.to_string(),
        to_tag,
        from_tag,
        early_only,
    })
}

/// `callid = word [ "@" word ]` (RFC 3261 §25.1).
fn valid_call_id(s: &str) -> bool {
    let is_word = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.!%*_+`'~()<>:\\\"/[]?{}".contains(c))
    };
    match s.split_once('@') {
        Some((a, b)) => is_word(a) && is_word(b),
        None => is_word(s),
    }
}

/// The number a transfer dials: a tel: number, or the user part of a sip/sips URI when it is a
/// number (visual separators are only dropped with `;user=phone`). `None` means nothing we may
/// dial, which is the 403 path like a refused number. The host is ignored on purpose.
pub fn target_number(refer_to: &ReferTo) -> Option<String> {
    match &refer_to.target {
        ReferTarget::Tel { number, .. } => Some(number.clone()),
        ReferTarget::Sip(uri) => {
            let user = uri.user_decoded()?;
            // A telephone-subscriber user part may carry its own ;params (RFC 3261 §19.1.1).
            let number = user.split(';').next().unwrap_or_default();
            if uri.param("user") == Some(Some("phone")) {
                normalise_number(number)
            } else {
                valid_number(number).then(|| number.to_string())
            }
        }
    }
}

/// A NOTIFY body reporting a REFER's progress: `SIP/2.0 200 OK\r\n`. CR, LF and other control
/// characters in `reason` are dropped so the body stays one line.
pub fn sipfrag(status: u16, reason: &str) -> String {
    let reason: String = reason.chars().filter(|c| !c.is_control()).collect();
    format!("SIP/2.0 {status} {}\r\n", reason.trim())
}

/// The status code of a sipfrag body's status line, if it has one (100..=699).
pub fn parse_sipfrag(body: &[u8]) -> Option<u16> {
    let line = body.split(|&b| b == b'\n').next()?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let rest = line.get(..8)?;
    if !rest.eq_ignore_ascii_case(b"SIP/2.0 ") {
        return None;
    }
    let code = line.get(8..11)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    match line.get(11) {
        None | Some(b' ') => {}
        Some(_) => return None,
    }
    let status = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    (100..=699).contains(&status).then_some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(r: &ReferTo) -> &SipUri {
        match &r.target {
            ReferTarget::Sip(u) => u,
            other => panic!("not sip: {other:?}"),
        }
    }

    #[test]
    fn name_addr_with_params() {
        let r = parse_refer_to("\"Desk 2\" <sip:8002@pbx.example.com;user=phone>;method=INVITE")
            .unwrap();
        assert_eq!(r.display.as_deref(), Some("Desk 2"));
        assert_eq!(sip(&r).host, "pbx.example.com");
        assert_eq!(param(&r.params, "method"), Some(Some("INVITE")));
        assert_eq!(r.replaces, None);
        assert_eq!(target_number(&r).as_deref(), Some("8002"));
    }

    #[test]
    fn addr_spec_and_compact_name() {
        let r = parse_refer_to("sips:12345@10.0.0.1:5061").unwrap();
        assert!(sip(&r).secure);
        assert_eq!(target_number(&r).as_deref(), Some("12345"));
        assert_eq!(
            crate::sip::message::canonical_name("r"),
            "Refer-To".to_string()
        );
    }

    #[test]
    fn tel_uri_drops_visual_separators() {
        let r = parse_refer_to("<tel:+86-10-(6512).3456;phone-context=+86>").unwrap();
        assert_eq!(target_number(&r).as_deref(), Some("+861065123456"));
        let r = parse_refer_to("tel:12345").unwrap();
        assert_eq!(target_number(&r).as_deref(), Some("12345"));
        assert!(matches!(
            parse_refer_to("<tel:+86-abc>"),
            Err(ReferError::Tel(_))
        ));
        assert!(parse_refer_to("<tel:>").is_err());
        assert!(parse_refer_to("<tel:+>").is_err());
        assert!(parse_refer_to("<tel:123?Replaces=x>").is_err());
    }

    #[test]
    fn sip_user_that_is_not_a_number_has_no_target_number() {
        let r = parse_refer_to("<sip:alice@example.com>").unwrap();
        assert_eq!(target_number(&r), None);
        let r = parse_refer_to("<sip:example.com>").unwrap();
        assert_eq!(target_number(&r), None);
        // Separators only count as such with user=phone.
        let r = parse_refer_to("<sip:010-1234@example.com>").unwrap();
        assert_eq!(target_number(&r), None);
        let r = parse_refer_to("<sip:010-1234@example.com;user=phone>").unwrap();
        assert_eq!(target_number(&r).as_deref(), Some("0101234"));
        let r = parse_refer_to("<sip:%2A21%23@example.com>").unwrap();
        assert_eq!(target_number(&r).as_deref(), Some("*21#"));
    }

    #[test]
    fn escaped_replaces_in_refer_to() {
        let r = parse_refer_to(
            "<sip:8003@pbx.example.com?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>",
        )
        .unwrap();
        assert_eq!(
            r.replaces,
            Some(Replaces {
                call_id: "12345@192.168.118.3".into(),
                to_tag: "12345".into(),
                from_tag: "5FFE-3994".into(),
                early_only: false,
            })
        );
        let r = parse_refer_to(
            "<sip:8003@pbx?Require=replaces&Replaces=abc%3bfrom-tag%3dF%3bto-tag%3dT%3bearly-only>",
        )
        .unwrap();
        let rep = r.replaces.unwrap();
        assert_eq!((rep.to_tag.as_str(), rep.from_tag.as_str()), ("T", "F"));
        assert!(rep.early_only);
        // Other URI headers are dropped, not an error.
        let r = parse_refer_to("<sip:8003@pbx?Route=%3Csip:evil%3E>").unwrap();
        assert_eq!(r.replaces, None);
        assert!(parse_refer_to("<sip:8003@pbx?Replaces=a%3Bto-tag%3D1>").is_err());
        assert!(parse_refer_to("<sip:8003@pbx?Replaces>").is_err());
        assert!(parse_refer_to(
            "<sip:8@p?Replaces=a%3Bto-tag%3D1%3Bfrom-tag%3D2&Replaces=a%3Bto-tag%3D1%3Bfrom-tag%3D2>"
        )
        .is_err());
    }

    #[test]
    fn replaces_header_of_an_invite() {
        let r = parse_replaces("425928@bobster.example.org;to-tag=7743;from-tag=6472").unwrap();
        assert_eq!(r.call_id, "425928@bobster.example.org");
        assert_eq!(r.to_tag, "7743");
        assert_eq!(r.from_tag, "6472");
        assert!(!r.early_only);
        let r = parse_replaces(
            "98732@sip.example.com ; from-tag=r33th4x0r ; to-tag=ff87ff ; early-only",
        )
        .unwrap();
        assert!(r.early_only);
        assert_eq!(r.from_tag, "r33th4x0r");
        for bad in [
            "",
            "abc",
            "abc;to-tag=1",
            "abc;from-tag=1",
            "abc;to-tag=1;to-tag=2;from-tag=3",
            "abc;to-tag;from-tag=3",
            "abc;to-tag=1;from-tag=3;early-only=yes",
            "a b;to-tag=1;from-tag=2",
            "a@;to-tag=1;from-tag=2",
            ";to-tag=1;from-tag=2",
        ] {
            assert!(parse_replaces(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refer_to_refuses_malformed_and_multiple() {
        assert_eq!(
            parse_refer_to("<sip:1@a>, <sip:2@b>"),
            Err(ReferError::MultipleTargets)
        );
        assert!(matches!(
            parse_refer_to("<mailto:a@b>"),
            Err(ReferError::Uri(UriError::UnsupportedScheme(_)))
        ));
        assert!(parse_refer_to("").is_err());
        assert!(parse_refer_to("<sip:1@a").is_err());
        assert!(parse_refer_to("sip:1@a?Replaces=x").is_err());
    }

    #[test]
    fn sipfrag_round_trip() {
        assert_eq!(sipfrag(200, "OK"), "SIP/2.0 200 OK\r\n");
        assert_eq!(sipfrag(100, "Trying\r\nX: y"), "SIP/2.0 100 TryingX: y\r\n");
        for (code, reason) in [
            (100, "Trying"),
            (180, "Ringing"),
            (200, "OK"),
            (603, "Decline"),
        ] {
            assert_eq!(parse_sipfrag(sipfrag(code, reason).as_bytes()), Some(code));
        }
        assert_eq!(parse_sipfrag(b"SIP/2.0 486 Busy Here"), Some(486));
        assert_eq!(parse_sipfrag(b"sip/2.0 503\n"), Some(503));
        assert_eq!(
            parse_sipfrag(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n"),
            Some(200)
        );
        for bad in [
            &b""[..],
            b"SIP/2.0",
            b"SIP/2.0 20 OK",
            b"SIP/2.0 2000 OK",
            b"SIP/2.0 099 x",
            b"SIP/2.0 700 x",
            b"SIP/1.0 200 OK",
            b"INVITE sip:a@b SIP/2.0",
            b"SIP/2.0 2\xff0 OK",
        ] {
            assert_eq!(parse_sipfrag(bad), None, "{bad:?}");
        }
    }

    /// Mutates good inputs byte by byte (with multi-byte characters in the mix) and feeds every
    /// parser; none may panic.
    #[test]
    fn mutated_inputs_never_panic() {
        let seeds = [
            "\"Desk\" <sip:8002@pbx.example.com;user=phone>;method=INVITE",
            "<sip:8003@pbx?Replaces=12345%40h%3Bto-tag%3D1%3Bfrom-tag%3D2%3Bearly-only>",
            "<tel:+86-10-6512.3456;phone-context=+86>",
            "sips:[2001:db8::1]:5061",
            "a@b;to-tag=1;from-tag=2;early-only",
            "SIP/2.0 200 OK\r\n",
        ];
        let alphabet: Vec<char> = "<>\"\\;:=?&%@,+-.()*#0123456789aAxX \t\r\n[]é中\u{0}"
            .chars()
            .collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for seed in seeds {
            for _ in 0..3000 {
                let mut chars: Vec<char> = seed.chars().collect();
                for _ in 0..(1 + next() % 4) {
                    let len = chars.len();
                    let at = if len == 0 { 0 } else { (next() as usize) % len };
                    let c = alphabet[(next() as usize) % alphabet.len()];
                    match next() % 4 {
                        0 if len > 0 => chars[at] = c,
                        1 if len > 0 => {
                            chars.remove(at);
                        }
                        2 => chars.insert(at, c),
                        _ => chars.truncate(at),
                    }
                }
                let s: String = chars.into_iter().collect();
                if let Ok(r) = parse_refer_to(&s) {
                    let _ = target_number(&r);
                }
                let _ = parse_replaces(&s);
                let _ = parse_sipfrag(s.as_bytes());
                let _ = parse_sipfrag(&s.as_bytes()[..s.len() / 2]);
                let _ = sipfrag(200, &s);
            }
        }
    }
}
