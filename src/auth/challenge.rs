//! `WWW-Authenticate` / `Proxy-Authenticate` values (RFC 3261 §22.1,
//! RFC 8760 §2).

use super::Algorithm;

/// One Digest challenge, offering only `qop="auth"`.
pub fn challenge(realm: &str, nonce: &str, algorithm: Algorithm, stale: bool) -> String {
    let mut out = String::with_capacity(realm.len() + nonce.len() + 64);
    out.push_str("Digest realm=");
    push_quoted(&mut out, realm);
    out.push_str(", nonce=");
    push_quoted(&mut out, nonce);
    out.push_str(", algorithm=");
    out.push_str(algorithm.as_str());
    out.push_str(", qop=\"auth\"");
    if stale {
        out.push_str(", stale=true");
    }
    out
}

/// Both challenges in the order to send them as separate headers: RFC 8760
/// §2.4 has the preferred algorithm first, and phones that only know MD5
/// skip the SHA-256 one.
pub fn challenges(realm: &str, nonce: &str, stale: bool) -> [String; 2] {
    [
        challenge(realm, nonce, Algorithm::Sha256, stale),
        challenge(realm, nonce, Algorithm::Md5, stale),
    ]
}

/// Writes a quoted-string. Control characters are dropped rather than
/// escaped: a CR or LF would end the header line, and realms come from
/// configuration we would rather not trust to be clean.
fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_and_stale() {
        assert_eq!(
            challenge("hotline.example", "abc123", Algorithm::Md5, false),
            r#"Digest realm="hotline.example", nonce="abc123", algorithm=MD5, qop="auth""#
        );
        assert_eq!(
            challenge("r", "n", Algorithm::Sha256, true),
            r#"Digest realm="r", nonce="n", algorithm=SHA-256, qop="auth", stale=true"#
        );
    }

    #[test]
    fn sha256_offered_first() {
        let [first, second] = challenges("r", "n", false);
        assert!(first.contains("algorithm=SHA-256"));
        assert!(second.contains("algorithm=MD5"));
    }

    #[test]
    fn realm_is_escaped_and_cannot_break_the_header() {
        assert_eq!(
            challenge("a\"b\\c\r\nX-Evil: 1", "n", Algorithm::Md5, false),
            r#"Digest realm="a\"b\\cX-Evil: 1", nonce="n", algorithm=MD5, qop="auth""#
        );
    }
}
