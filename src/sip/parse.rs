//! Bytes to `Message`: framing, start line, header unfolding. Pure; never panics.

use bytes::Bytes;

use super::grammar::is_token;
use super::message::{Headers, Message, Method, Request, Response};

/// Why a message could not be read, and what is left of it to answer with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Malformed {
    /// 400, or 505 for a version we do not speak.
    pub status: u16,
    pub reason: &'static str,
    /// The headers, when they could be read, so a 400 can still be formed.
    pub headers: Option<Headers>,
    /// Only requests are answered; a broken response is dropped.
    pub is_request: bool,
}

impl Malformed {
    fn new(reason: &'static str) -> Self {
        Self {
            status: 400,
            reason,
            headers: None,
            is_request: false,
        }
    }
}

/// Largest message the daemon reads; longer stream messages close the connection.
pub const MAX_MESSAGE: usize = 65_535;

/// For a byte stream (TCP): how long the first message in `buf` is, once it is all there.
pub enum Frame {
    Incomplete,
    /// Keep-alive CRLFs to skip (RFC 5626 §3.5.1).
    KeepAlive(usize),
    Complete(usize),
    Invalid(&'static str),
}

pub fn frame(buf: &[u8]) -> Frame {
    let leading = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    if leading > 0 {
        return Frame::KeepAlive(leading);
    }
    let Some(end) = find(buf, b"\r\n\r\n") else {
        if buf.len() > MAX_MESSAGE {
            return Frame::Invalid("headers too long");
        }
        return Frame::Incomplete;
    };
    let head = &buf[..end];
    let Ok(head) = std::str::from_utf8(head) else {
        return Frame::Invalid("headers are not UTF-8");
    };
    let mut length = None;
    for line in head.split("\r\n").skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim();
            if name.eq_ignore_ascii_case("content-length") || name == "l" || name == "L" {
                match value.trim().parse::<usize>() {
                    Ok(n) => length = Some(n),
                    Err(_) => return Frame::Invalid("bad Content-Length"),
                }
            }
        }
    }
    // RFC 3261 §18.3: on a stream, Content-Length is how the message ends.
    let Some(length) = length else {
        return Frame::Invalid("no Content-Length on a stream");
    };
    let total = end + 4 + length;
    if total > MAX_MESSAGE {
        return Frame::Invalid("message too long");
    }
    if buf.len() < total {
        Frame::Incomplete
    } else {
        Frame::Complete(total)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Parses one message. Bytes after the Content-Length body are ignored (RFC 4475 §3.1.1.8).
pub fn parse(buf: &[u8]) -> Result<Message, Malformed> {
    let start = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    let buf = &buf[start..];
    let (head, body) = match find(buf, b"\r\n\r\n") {
        Some(end) => (&buf[..end], &buf[end + 4..]),
        None => match find(buf, b"\n\n") {
            Some(end) => (&buf[..end], &buf[end + 2..]),
            None => (buf, &buf[buf.len()..]),
        },
    };
    let head = match std::str::from_utf8(head) {
        Ok(head) => head,
        Err(_) => return Err(not_utf8(head)),
    };
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start_line = lines.next().ok_or(Malformed::new("empty message"))?;
    let is_request = !start_line.starts_with("SIP/");

    let headers = match unfold(lines) {
        Ok(h) => h,
        Err(reason) => {
            return Err(Malformed {
                status: 400,
                reason,
                headers: None,
                is_request,
            })
        }
    };
    let fail = |status: u16, reason: &'static str, headers: &Headers| Malformed {
        status,
        reason,
        headers: Some(headers.clone()),
        is_request,
    };

    let body = match content_length(&headers) {
        Ok(Some(len)) if len <= body.len() => Bytes::copy_from_slice(&body[..len]),
        Ok(Some(_)) => return Err(fail(400, "Content-Length larger than the body", &headers)),
        Ok(None) => Bytes::copy_from_slice(body),
        Err(reason) => return Err(fail(400, reason, &headers)),
    };

    if is_request {
        let (method, uri, version) = split_request_line(start_line)
            .ok_or_else(|| fail(400, "malformed Request-Line", &headers))?;
        if !is_token(method) {
            return Err(fail(400, "malformed method", &headers));
        }
        if !version.starts_with("SIP/") {
            return Err(fail(400, "malformed SIP version", &headers));
        }
        if version != "SIP/2.0" {
            return Err(fail(505, "SIP version not supported", &headers));
        }
        Ok(Message::Request(Request {
            method: Method::from_token(method),
            uri: uri.to_string(),
            headers,
            body,
        }))
    } else {
        let (status, reason) = parse_status_line(start_line)
            .ok_or_else(|| fail(400, "malformed Status-Line", &headers))?;
        Ok(Message::Response(Response {
            status,
            reason: reason.to_string(),
            headers,
            body,
        }))
    }
}

/// Headers with bytes that are not UTF-8 are refused, but when the ones a response needs are
/// intact (the bad bytes sit elsewhere), a 400 can still be formed from them.
fn not_utf8(head: &[u8]) -> Malformed {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let is_request = !lines.next().unwrap_or("").starts_with("SIP/");
    let headers = unfold(lines).ok().filter(|h| {
        ["Via", "From", "To", "Call-ID", "CSeq"]
            .iter()
            .all(|name| h.get(name).is_some_and(|v| !v.contains('\u{FFFD}')))
    });
    Malformed {
        status: 400,
        reason: "headers are not UTF-8",
        headers,
        is_request,
    }
}

/// Request-Line elements are separated by exactly one SP (RFC 4475 §3.1.2.7-9).
fn split_request_line(line: &str) -> Option<(&str, &str, &str)> {
    let mut parts = line.split(' ');
    let method = parts.next()?;
    let uri = parts.next()?;
    let version = parts.next()?;
    if parts.next().is_some() || method.is_empty() || uri.is_empty() || version.is_empty() {
        return None;
    }
    if uri.contains(['\t', '\r']) || version.contains('\t') {
        return None;
    }
    Some((method, uri, version))
}

fn parse_status_line(line: &str) -> Option<(u16, &str)> {
    let rest = line.strip_prefix("SIP/2.0 ")?;
    let (code, reason) = match rest.split_once(' ') {
        Some((c, r)) => (c, r),
        None => (rest, ""),
    };
    if code.len() != 3 || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let code: u16 = code.parse().ok()?;
    (100..700).contains(&code).then_some((code, reason))
}

fn unfold<'a>(lines: impl Iterator<Item = &'a str>) -> Result<Headers, &'static str> {
    let mut raw: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // Line folding (RFC 3261 §7.3.1): a continuation joins the previous value.
            let Some(last) = raw.last_mut() else {
                return Err("continuation line before any header");
            };
            last.1.push(' ');
            last.1.push_str(line.trim());
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let (name, value) = line.split_once(':').ok_or("header line without ':'")?;
        let name = name.trim_end_matches([' ', '\t']);
        if !is_token(name) {
            return Err("malformed header name");
        }
        raw.push((name.to_string(), value.trim().to_string()));
    }
    let mut headers = Headers::new();
    for (name, value) in raw {
        headers.push(&name, value.trim().to_string());
    }
    Ok(headers)
}

fn content_length(headers: &Headers) -> Result<Option<usize>, &'static str> {
    let mut values = headers.get_all("Content-Length");
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("more than one Content-Length");
    }
    let first = first.trim();
    if first.is_empty() || first.len() > 9 || !first.chars().all(|c| c.is_ascii_digit()) {
        return Err("malformed Content-Length");
    }
    first
        .parse::<usize>()
        .map(Some)
        .map_err(|_| "malformed Content-Length")
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[u8] = b"OPTIONS sip:12345@127.0.0.1 SIP/2.0\r\n\
v: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK1\r\n\
f: <sip:a@127.0.0.1>;tag=1\r\nt: <sip:b@127.0.0.1>\r\ni: abc\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n";

    #[test]
    fn compact_headers_expand() {
        let Message::Request(req) = parse(OPTIONS).unwrap() else {
            panic!("not a request")
        };
        assert_eq!(req.method, Method::Options);
        assert_eq!(req.headers.get("Call-ID"), Some("abc"));
        assert_eq!(req.headers.get("via"), req.headers.get("v"));
        assert!(req.body.is_empty());
    }

    #[test]
    fn folded_lines_and_trailing_datagram_bytes() {
        let raw =
            b"INVITE sip:x@y SIP/2.0\r\nSubject: a\r\n  b\r\nContent-Length: 2\r\n\r\nhiGARBAGE";
        let Message::Request(req) = parse(raw).unwrap() else {
            panic!("not a request")
        };
        assert_eq!(req.headers.get("Subject"), Some("a b"));
        assert_eq!(&req.body[..], b"hi");
    }

    #[test]
    fn broken_messages_are_refused_with_what_is_left() {
        let raw = b"INVITE  sip:x@y SIP/2.0\r\nCall-ID: 1\r\n\r\n";
        let err = parse(raw).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.headers.is_some());
        let raw = b"OPTIONS sip:x@y SIP/7.0\r\nCall-ID: 1\r\n\r\n";
        assert_eq!(parse(raw).unwrap_err().status, 505);
        let raw = b"OPTIONS sip:x@y SIP/2.0\r\nContent-Length: 9999\r\n\r\nshort";
        assert_eq!(parse(raw).unwrap_err().status, 400);
        let raw = b"SIP/2.0 4294967301 Big\r\n\r\n";
        assert!(!parse(raw).unwrap_err().is_request);
    }

    #[test]
    fn bad_bytes_outside_the_needed_headers_still_allow_a_400() {
        let mut raw = OPTIONS.to_vec();
        raw.splice(8..8, [0xff, 0xfe]);
        let err = parse(&raw).unwrap_err();
        assert!(err.is_request);
        assert!(err
            .headers
            .is_some_and(|h| crate::sip::build::can_answer(&h)));
        let raw = b"OPTIONS sip:x SIP/2.0\r\nCall-ID: \xff\r\n\r\n";
        assert!(parse(raw).unwrap_err().headers.is_none());
    }

    #[test]
    fn stream_framing() {
        assert!(matches!(frame(b"\r\n\r\nOPT"), Frame::KeepAlive(4)));
        assert!(matches!(frame(&OPTIONS[..20]), Frame::Incomplete));
        assert!(matches!(frame(OPTIONS), Frame::Complete(n) if n == OPTIONS.len()));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x1234_5678_u32;
        for round in 0..2000 {
            let mut msg = OPTIONS.to_vec();
            for _ in 0..(round % 7 + 1) {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let pos = seed as usize % msg.len();
                msg[pos] = (seed >> 8) as u8;
            }
            let _ = parse(&msg);
            let _ = frame(&msg);
        }
    }
}
