//! Bearer tokens, compared without leaking through timing.

use sha2::{Digest, Sha256};

/// The token the API expects, kept only as a digest so that comparing it takes the same time
/// whatever the presented token's length or contents.
#[derive(Clone)]
pub(super) struct ExpectedToken([u8; 32]);

impl ExpectedToken {
    pub(super) fn new(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Constant time in the contents: every byte of both digests is looked at.
    pub(super) fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let diff = self
            .0
            .iter()
            .zip(presented.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

/// Why a request was not authorized; logged as a field, never with the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    Missing,
    NotBearer,
    Wrong,
}

impl Refusal {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::NotBearer => "not_bearer",
            Refusal::Wrong => "wrong_token",
        }
    }
}

/// Checks an `Authorization` header value against the expected token.
pub(super) fn check(expected: &ExpectedToken, header: Option<&[u8]>) -> Result<(), Refusal> {
    let header = header.ok_or(Refusal::Missing)?;
    let header = std::str::from_utf8(header).map_err(|_| Refusal::NotBearer)?;
    let (scheme, token) = header.split_once(' ').ok_or(Refusal::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Refusal::NotBearer);
    }
    if expected.matches(token.trim()) {
        Ok(())
    } else {
        Err(Refusal::Wrong)
    }
}

/// A token presented on its own (from a cookie).
pub(super) fn check_token(expected: &ExpectedToken, token: &str) -> Result<(), Refusal> {
    if expected.matches(token) {
        Ok(())
    } else {
        Err(Refusal::Wrong)
    }
}

/// The value of cookie `name` in `Cookie` headers, percent-decoded (the wallboard encodes it
/// with `encodeURIComponent`).
pub(super) fn cookie_token<'a>(
    headers: impl Iterator<Item = &'a [u8]>,
    name: &str,
) -> Option<String> {
    for header in headers {
        let Ok(header) = std::str::from_utf8(header) else {
            continue;
        };
        for pair in header.split(';') {
            if let Some((key, value)) = pair.trim().split_once('=') {
                if key == name {
                    return percent_decode(value);
                }
            }
        }
    }
    None
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_cookie_is_found_and_decoded() {
        let headers = [&b"theme=dark; hotline_token=a%2Bb%3Bc"[..]];
        assert_eq!(
            cookie_token(headers.into_iter(), "hotline_token").as_deref(),
            Some("a+b;c")
        );
        let none = [&b"theme=dark"[..]];
        assert_eq!(cookie_token(none.into_iter(), "hotline_token"), None);
        let broken = [&b"hotline_token=%zz"[..]];
        assert_eq!(cookie_token(broken.into_iter(), "hotline_token"), None);
    }

    #[test]
    fn checks_scheme_and_token() {
        let expected = ExpectedToken::new("0123456789abcdef");
        assert_eq!(check(&expected, Some(b"Bearer 0123456789abcdef")), Ok(()));
        assert_eq!(check(&expected, Some(b"bearer  0123456789abcdef")), Ok(()));
        assert_eq!(check(&expected, None), Err(Refusal::Missing));
        assert_eq!(
            check(&expected, Some(b"Basic 0123456789abcdef")),
            Err(Refusal::NotBearer)
        );
        assert_eq!(check(&expected, Some(b"Bearer")), Err(Refusal::NotBearer));
        assert_eq!(
            check(&expected, Some(b"Bearer 0123456789abcdeF")),
            Err(Refusal::Wrong)
        );
        assert_eq!(
            check(&expected, Some(b"Bearer 0123456789abcdef0")),
            Err(Refusal::Wrong)
        );
        assert_eq!(check(&expected, Some(b"Bearer ")), Err(Refusal::Wrong));
    }
}
