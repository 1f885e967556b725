//! SIP URIs (RFC 3261 §19.1), enough to route: scheme, user, host, port, parameters.

use super::grammar::parse_params;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    pub secure: bool,
    /// The user part, still %-escaped as it came.
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub params: Vec<(String, Option<String>)>,
    /// URI headers (`?a=b`), kept raw; only allowed in some places.
    pub headers: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("not a SIP URI (scheme {0:?})")]
    UnsupportedScheme(String),
    #[error("malformed URI: {0}")]
    Malformed(&'static str),
}

impl SipUri {
    pub fn parse(s: &str) -> Result<SipUri, UriError> {
        let (scheme, rest) = s.split_once(':').ok_or(UriError::Malformed("no scheme"))?;
        let secure = if scheme.eq_ignore_ascii_case("sip") {
            false
        } else if scheme.eq_ignore_ascii_case("sips") {
            true
        } else {
            if scheme.is_empty()
                || !scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            {
                return Err(UriError::Malformed("bad scheme"));
            }
            return Err(UriError::UnsupportedScheme(scheme.to_string()));
        };
        if rest
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>' || c == '"')
        {
            return Err(UriError::Malformed("forbidden character in URI"));
        }
        // The user part may hold ';', '?' and ':' (RFC 4475 §3.1.1.2, §3.1.1.9) but never an
        // unescaped '@', so the first '@' ends it.
        let (user, rest) = match rest.find('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let (hostpart, headers) = match rest.split_once('?') {
            Some((r, h)) => (r, Some(h.to_string())),
            None => (rest, None),
        };
        if let Some(user) = user {
            if user.is_empty() {
                return Err(UriError::Malformed("empty user"));
            }
        }
        let (hostport, params) = match hostpart.find(';') {
            Some(i) => (&hostpart[..i], &hostpart[i..]),
            None => (hostpart, ""),
        };
        let (host, port) = split_hostport(hostport)?;
        let params = parse_params(params).map_err(UriError::Malformed)?;
        Ok(SipUri {
            secure,
            user: user.map(str::to_string),
            host,
            port,
            params,
            headers,
        })
    }

    /// The user part with %-escapes decoded, lossy on invalid UTF-8.
    pub fn user_decoded(&self) -> Option<String> {
        self.user.as_deref().map(percent_decode)
    }

    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        super::grammar::param(&self.params, name)
    }
}

pub fn split_hostport(s: &str) -> Result<(String, Option<u16>), UriError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(UriError::Malformed("empty host"));
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or(UriError::Malformed("unclosed IPv6 reference"))?;
        let host = &rest[..end];
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(UriError::Malformed("bad IPv6 address"));
        }
        let after = &rest[end + 1..];
        let port = match after.trim_start().strip_prefix(':') {
            Some(p) => Some(p),
            None if after.trim().is_empty() => None,
            None => return Err(UriError::Malformed("junk after IPv6 reference")),
        };
        (format!("[{host}]"), port)
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h.trim().to_string(), Some(p)),
            None => (s.to_string(), None),
        }
    };
    if !host.starts_with('[')
        && (host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
    {
        return Err(UriError::Malformed("bad host"));
    }
    let port = match port {
        Some(p) => {
            let p = p.trim();
            if p.is_empty() || p.len() > 5 || !p.chars().all(|c| c.is_ascii_digit()) {
                return Err(UriError::Malformed("bad port"));
            }
            match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(UriError::Malformed("bad port")),
                Ok(n) => Some(n),
            }
        }
        None => None,
    };
    Ok((host, port))
}

pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let u = SipUri::parse("sip:12345@10.0.0.1:5070;transport=udp").unwrap();
        assert_eq!(u.user.as_deref(), Some("12345"));
        assert_eq!(u.host, "10.0.0.1");
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.param("transport"), Some(Some("udp")));
        let u = SipUri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        assert_eq!(u.host, "example.com");
        let u = SipUri::parse("sips:[2001:db8::1]:5061").unwrap();
        assert!(u.secure);
        assert_eq!(u.port, Some(5061));
    }

    #[test]
    fn refuses_what_is_not_a_sip_uri() {
        assert!(matches!(
            SipUri::parse("tel:+12345"),
            Err(UriError::UnsupportedScheme(_))
        ));
        assert!(SipUri::parse("sip:").is_err());
        assert!(SipUri::parse("sip:a@b:99999").is_err());
        assert!(SipUri::parse("sip:a@b c").is_err());
    }

    #[test]
    fn decodes_escapes() {
        assert_eq!(
            percent_decode("sips%3Auser%40example.com"),
            "sips:user@example.com"
        );
        assert_eq!(percent_decode("50%"), "50%");
    }
}
