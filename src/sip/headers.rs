//! Typed views of the headers the daemon acts on: Via, From/To/Contact, CSeq.

use super::grammar::{is_token, is_token_char, param, parse_params, split_commas};
use super::message::Method;
use super::uri::split_hostport;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("malformed Via: {0}")]
    Via(&'static str),
    #[error("malformed address: {0}")]
    Address(&'static str),
    #[error("malformed CSeq: {0}")]
    CSeq(&'static str),
}

/// One Via entry (RFC 3261 §20.42). `SIP / 2.0 / UDP` with spaces is legal (RFC 4475 §3.1.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    pub transport: String,
    pub host: String,
    pub port: Option<u16>,
    pub params: Vec<(String, Option<String>)>,
}

/// The RFC 3261 branch prefix; without it the request comes from an RFC 2543 element.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

impl Via {
    pub fn parse(value: &str) -> Result<Via, HeaderError> {
        let s = value.trim();
        let (name, s) = take_until_slash(s)?;
        if !name.eq_ignore_ascii_case("SIP") {
            return Err(HeaderError::Via("protocol is not SIP"));
        }
        let (version, s) = take_until_slash(s)?;
        if version != "2.0" {
            return Err(HeaderError::Via("version is not 2.0"));
        }
        let s = s.trim_start();
        let end = s
            .find(|c: char| c.is_whitespace())
            .ok_or(HeaderError::Via("no sent-by"))?;
        let transport = &s[..end];
        if !is_token(transport) {
            return Err(HeaderError::Via("bad transport"));
        }
        let s = s[end..].trim_start();
        let (sent_by, params) = match s.find(';') {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        };
        let (host, port) = split_hostport(sent_by).map_err(|_| HeaderError::Via("bad sent-by"))?;
        let params = parse_params(params).map_err(HeaderError::Via)?;
        if let Some(branch) = param(&params, "branch") {
            match branch {
                Some(b) if is_token(b) => {}
                _ => return Err(HeaderError::Via("bad branch")),
            }
        }
        Ok(Via {
            transport: transport.to_ascii_uppercase(),
            host,
            port,
            params,
        })
    }

    /// All entries of every Via header, top first.
    pub fn all<'a>(values: impl Iterator<Item = &'a str>) -> Result<Vec<Via>, HeaderError> {
        let mut out = Vec::new();
        for value in values {
            for part in split_commas(value) {
                out.push(Via::parse(part)?);
            }
        }
        Ok(out)
    }

    pub fn branch(&self) -> Option<&str> {
        param(&self.params, "branch").flatten()
    }

    /// An RFC 3261 branch: long enough to be unique, not just the cookie.
    pub fn rfc3261_branch(&self) -> Option<&str> {
        self.branch()
            .filter(|b| b.starts_with(MAGIC_COOKIE) && b.len() > MAGIC_COOKIE.len())
    }

    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{}", self.host, p),
            None => self.host.clone(),
        }
    }
}

fn take_until_slash(s: &str) -> Result<(&str, &str), HeaderError> {
    let (a, b) = s
        .split_once('/')
        .ok_or(HeaderError::Via("bad sent-protocol"))?;
    Ok((a.trim(), b))
}

/// `name-addr` or `addr-spec` with header parameters: From, To, Contact, Route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    pub display: Option<String>,
    /// The URI text between the angle brackets (or the bare addr-spec).
    pub uri: String,
    pub params: Vec<(String, Option<String>)>,
}

impl NameAddr {
    pub fn parse(value: &str) -> Result<NameAddr, HeaderError> {
        let s = value.trim();
        if s.is_empty() {
            return Err(HeaderError::Address("empty"));
        }
        let (display, rest) = if let Some(quoted) = s.strip_prefix('"') {
            let end = closing_quote(quoted).ok_or(HeaderError::Address("unbalanced quotes"))?;
            let display = unescape_quoted(&quoted[..end]);
            let rest = quoted[end + 1..].trim_start();
            if !rest.starts_with('<') {
                return Err(HeaderError::Address("quoted display name without <uri>"));
            }
            (Some(display), rest)
        } else if let Some(lt) = s.find('<') {
            let display = s[..lt].trim();
            // An unquoted display name is a sequence of tokens (RFC 3261 §25.1).
            if !display
                .split_whitespace()
                .all(|word| word.chars().all(is_token_char))
            {
                return Err(HeaderError::Address("display name needs quotes"));
            }
            let display = (!display.is_empty()).then(|| display.to_string());
            (display, &s[lt..])
        } else {
            (None, s)
        };
        if let Some(inner) = rest.strip_prefix('<') {
            let end = inner.find('>').ok_or(HeaderError::Address("unclosed <"))?;
            let uri = &inner[..end];
            if uri.is_empty() || uri.chars().any(|c| c.is_whitespace() || c == '<') {
                return Err(HeaderError::Address("bad URI in <>"));
            }
            let params = parse_params(&inner[end + 1..])
                .map_err(|_| HeaderError::Address("bad parameter"))?;
            Ok(NameAddr {
                display,
                uri: uri.to_string(),
                params,
            })
        } else {
            // A bare addr-spec: its ';' parameters belong to the header, and it may not hold
            // '?', ',' or '>' (RFC 3261 §20.10, RFC 4475 §3.1.2.12).
            let (uri, params) = match rest.find(';') {
                Some(i) => (rest[..i].trim_end(), &rest[i..]),
                None => (rest, ""),
            };
            if uri.is_empty()
                || uri
                    .chars()
                    .any(|c| c.is_whitespace() || "<>?,\"".contains(c))
                || !uri.contains(':')
            {
                return Err(HeaderError::Address("bad addr-spec"));
            }
            let params = parse_params(params).map_err(|_| HeaderError::Address("bad parameter"))?;
            Ok(NameAddr {
                display: None,
                uri: uri.to_string(),
                params,
            })
        }
    }

    pub fn tag(&self) -> Option<&str> {
        param(&self.params, "tag").flatten()
    }

    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        param(&self.params, name)
    }

    /// Writes the address back in name-addr form.
    pub fn to_header(&self) -> String {
        let mut out = String::new();
        if let Some(d) = &self.display {
            out.push('"');
            out.push_str(&d.replace('\\', "\\\\").replace('"', "\\\""));
            out.push_str("\" ");
        }
        out.push('<');
        out.push_str(&self.uri);
        out.push('>');
        for (name, value) in &self.params {
            out.push(';');
            out.push_str(name);
            if let Some(v) = value {
                out.push('=');
                // `parse_params` keeps a quoted value as it was between the quotes; one that
                // could not stand unquoted is quoted again, or `a;b` would become two params.
                if needs_quotes(v) {
                    out.push('"');
                    out.push_str(v);
                    out.push('"');
                } else {
                    out.push_str(v);
                }
            }
        }
        out
    }
}

/// Whether a parameter value must be written quoted to read back as itself.
fn needs_quotes(value: &str) -> bool {
    value.is_empty()
        || value.starts_with('"')
        || value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"<>,;".contains(c))
}

fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            return Some(i);
        }
    }
    None
}

fn unescape_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// Adds `;tag=` to a From/To value that has none, keeping the rest as the peer wrote it.
pub fn with_tag(value: &str, tag: &str) -> String {
    match NameAddr::parse(value) {
        Ok(addr) if addr.tag().is_some() => value.to_string(),
        _ => format!("{value};tag={tag}"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    pub fn parse(value: &str) -> Result<CSeq, HeaderError> {
        let mut parts = value.split_whitespace();
        let number = parts.next().ok_or(HeaderError::CSeq("empty"))?;
        let method = parts.next().ok_or(HeaderError::CSeq("no method"))?;
        if parts.next().is_some() {
            return Err(HeaderError::CSeq("trailing junk"));
        }
        if !number.chars().all(|c| c.is_ascii_digit()) || number.len() > 10 {
            return Err(HeaderError::CSeq("bad number"));
        }
        // RFC 3261 §8.1.1.5: the sequence number must be below 2**31.
        let seq: u64 = number
            .parse()
            .map_err(|_| HeaderError::CSeq("bad number"))?;
        if seq >= 1 << 31 {
            return Err(HeaderError::CSeq("number too large"));
        }
        if !is_token(method) {
            return Err(HeaderError::CSeq("bad method"));
        }
        Ok(CSeq {
            seq: seq as u32,
            method: Method::from_token(method),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_parameter_values_stay_quoted() {
        // Found by the sip_uri fuzz target: `;p="a,b"` was written back as `;p=a,b`.
        let a = NameAddr::parse(r#"<sip:a@b>;p="x, y;tag=evil";q=1"#).unwrap();
        let written = a.to_header();
        assert_eq!(written, r#"<sip:a@b>;p="x, y;tag=evil";q=1"#);
        assert_eq!(NameAddr::parse(&written).unwrap(), a);
        assert_eq!(a.tag(), None);
    }

    #[test]
    fn via_with_spaces_and_params() {
        let v =
            Via::parse("SIP  /   2.0  /  UDP  192.0.2.2;rport;branch=z9hG4bK390skdjuw").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.host, "192.0.2.2");
        assert_eq!(v.rfc3261_branch(), Some("z9hG4bK390skdjuw"));
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;,;,,").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        let v = Via::parse("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK").unwrap();
        assert_eq!(v.rfc3261_branch(), None);
    }

    #[test]
    fn name_addr_forms() {
        let a = NameAddr::parse("\"Bell, A\" <sip:a@b.c>;tag=12").unwrap();
        assert_eq!(a.display.as_deref(), Some("Bell, A"));
        assert_eq!(a.tag(), Some("12"));
        let a = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(a.display.as_deref(), Some("caller"));
        let a = NameAddr::parse("sip:user@example.com;tag=9").unwrap();
        assert_eq!(a.uri, "sip:user@example.com");
        assert_eq!(a.tag(), Some("9"));
        assert!(NameAddr::parse("\"Bell <sip:a@b>").is_err());
        assert!(NameAddr::parse("Bell, Alexander <sip:a@b>").is_err());
        assert!(NameAddr::parse("\"W\" < sip:t@example.org >").is_err());
        assert!(NameAddr::parse("sip:user@example.com?Route=%3Csip:x%3E").is_err());
    }

    #[test]
    fn cseq_limits() {
        assert_eq!(CSeq::parse("0009 \t INVITE").unwrap().seq, 9);
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse("2147483648 INVITE").is_err());
        assert!(CSeq::parse("1").is_err());
    }
}
