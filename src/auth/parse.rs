//! Parsing `Authorization` / `Proxy-Authorization` values (RFC 3261 §25.1
//! grammar for `credentials`, RFC 7616 §3.4 for the parameters).

use super::{clip, Algorithm, AuthError};

/// Digest credentials as sent by the client. Values are unescaped; `qop`
/// and `nc` are kept exactly as sent because they feed the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Algorithm,
    pub cnonce: Option<String>,
    pub opaque: Option<String>,
    pub qop: Option<String>,
    pub nc: Option<String>,
}

const NAMES: [&str; 10] = [
    "username",
    "realm",
    "nonce",
    "uri",
    "response",
    "algorithm",
    "cnonce",
    "opaque",
    "qop",
    "nc",
];
const USERNAME: usize = 0;
const REALM: usize = 1;
const NONCE: usize = 2;
const URI: usize = 3;
const RESPONSE: usize = 4;
const ALGORITHM: usize = 5;
const CNONCE: usize = 6;
const OPAQUE: usize = 7;
const QOP: usize = 8;
const NC: usize = 9;

/// Parses a `Digest` credentials header value.
///
/// Lenient where phones differ in harmless ways (quoted or bare values,
/// case of names, folding, empty list elements, unknown parameters), strict
/// where ambiguity could be abused: a known parameter given twice is an
/// error, since two parsers could otherwise disagree on which one counts.
pub fn parse_credentials(value: &str) -> Result<Credentials, AuthError> {
    let mut cur = Cursor::new(value);
    cur.skip_lws();
    let scheme = cur.token();
    if scheme.is_empty() {
        return Err(AuthError::Malformed("missing scheme"));
    }
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(AuthError::UnsupportedScheme(clip(scheme)));
    }
    if !cur.skip_lws() && !cur.at_end() {
        return Err(AuthError::Malformed("no space after scheme"));
    }

    let mut fields: [Option<String>; NAMES.len()] = Default::default();
    loop {
        cur.skip_lws();
        if cur.at_end() {
            break;
        }
        if cur.eat(',') {
            continue;
        }
        let name = cur.token();
        if name.is_empty() {
            return Err(AuthError::Malformed("expected parameter name"));
        }
        cur.skip_lws();
        if !cur.eat('=') {
            return Err(AuthError::Malformed("expected '=' after parameter name"));
        }
        cur.skip_lws();
        let val = if cur.peek() == Some('"') {
            cur.quoted()?
        } else {
            let t = cur.token();
            if t.is_empty() {
                return Err(AuthError::Malformed("expected parameter value"));
            }
            t.to_owned()
        };
        if let Some(i) = NAMES.iter().position(|n| n.eq_ignore_ascii_case(name)) {
            if fields[i].is_some() {
                return Err(AuthError::DuplicateParam(NAMES[i]));
            }
            fields[i] = Some(val);
        }
        cur.skip_lws();
        if !cur.at_end() && !cur.eat(',') {
            return Err(AuthError::Malformed("expected ',' between parameters"));
        }
    }

    let mut required = |i: usize| fields[i].take().ok_or(AuthError::MissingParam(NAMES[i]));
    let username = required(USERNAME)?;
    let realm = required(REALM)?;
    let nonce = required(NONCE)?;
    let uri = required(URI)?;
    let response = required(RESPONSE)?;

    let algorithm = match fields[ALGORITHM].take() {
        None => Algorithm::Md5,
        Some(name) => Algorithm::from_wire(&name)
            .ok_or_else(|| AuthError::UnsupportedAlgorithm(clip(&name)))?,
    };

    let qop = fields[QOP].take();
    let cnonce = fields[CNONCE].take();
    let nc = fields[NC].take();
    if qop.is_some() {
        // RFC 7616 §3.4: with qop, the client must also send cnonce and nc.
        if cnonce.is_none() {
            return Err(AuthError::MissingParam("cnonce"));
        }
        match &nc {
            None => return Err(AuthError::MissingParam("nc")),
            Some(nc) if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) => {
                return Err(AuthError::Malformed("nc must be 8 hex digits"));
            }
            Some(_) => {}
        }
    }

    Ok(Credentials {
        username,
        realm,
        nonce,
        uri,
        response,
        algorithm,
        cnonce,
        opaque: fields[OPAQUE].take(),
        qop,
        nc,
    })
}

/// A position in the input that always sits on a char boundary, so every
/// slice taken from it is infallible.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    fn at_end(&self) -> bool {
        self.rest().is_empty()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// Length of a line fold (CRLF or bare LF, then SP/HT) at the cursor, or
    /// 0. The SP/HT itself is not counted: it stays as ordinary whitespace.
    fn fold_len(&self) -> usize {
        let r = self.rest().as_bytes();
        let eol = if r.starts_with(b"\r\n") {
            2
        } else if r.starts_with(b"\n") {
            1
        } else {
            return 0;
        };
        match r.get(eol) {
            Some(b' ' | b'\t') => eol,
            _ => 0,
        }
    }

    /// Skips linear whitespace; tells whether there was any.
    fn skip_lws(&mut self) -> bool {
        let start = self.pos;
        loop {
            match self.peek() {
                Some(' ' | '\t') => self.pos += 1,
                _ => match self.fold_len() {
                    0 => break,
                    n => self.pos += n,
                },
            }
        }
        self.pos != start
    }

    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(is_token_char) {
            self.pos += 1;
        }
        self.s.get(start..self.pos).unwrap_or("")
    }

    /// A quoted-string with the cursor on its opening quote; returns the
    /// unescaped content. A fold inside it collapses to its whitespace.
    fn quoted(&mut self) -> Result<String, AuthError> {
        if !self.eat('"') {
            return Err(AuthError::Malformed("expected quoted string"));
        }
        let mut out = String::new();
        loop {
            let fold = self.fold_len();
            if fold > 0 {
                self.pos += fold;
                continue;
            }
            match self.bump() {
                None => return Err(AuthError::Malformed("unterminated quoted string")),
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some(c) if c != '\r' && c != '\n' => out.push(c),
                    _ => return Err(AuthError::Malformed("bad escape in quoted string")),
                },
                Some(c) if c.is_control() && c != '\t' => {
                    return Err(AuthError::Malformed("control character in quoted string"));
                }
                Some(c) => out.push(c),
            }
        }
    }
}

/// RFC 3261 `token` characters.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"username="bob", realm="r", nonce="n", uri="sip:r", response="00""#;

    fn parse_min(prefix: &str, suffix: &str) -> Result<Credentials, AuthError> {
        parse_credentials(&format!("{prefix}{MIN}{suffix}"))
    }

    #[test]
    fn minimal_defaults_to_md5_without_qop() {
        let c = parse_min("Digest ", "").unwrap();
        assert_eq!(c.username, "bob");
        assert_eq!(c.realm, "r");
        assert_eq!(c.nonce, "n");
        assert_eq!(c.uri, "sip:r");
        assert_eq!(c.response, "00");
        assert_eq!(c.algorithm, Algorithm::Md5);
        assert_eq!((c.qop, c.nc, c.cnonce, c.opaque), (None, None, None, None));
    }

    #[test]
    fn any_order_tokens_and_case() {
        let c = parse_credentials(
            r#"digest ALGORITHM=sha-256,qop=auth,Response=abc,nc=0000000a,cnonce=xyz,
               uri="sip:a@b;transport=tcp",nonce=n1,Realm=r1,opaque=op,USERNAME=al"#,
        )
        .unwrap();
        assert_eq!(c.algorithm, Algorithm::Sha256);
        assert_eq!(c.username, "al");
        assert_eq!(c.realm, "r1");
        assert_eq!(c.uri, "sip:a@b;transport=tcp");
        assert_eq!(c.qop.as_deref(), Some("auth"));
        assert_eq!(c.nc.as_deref(), Some("0000000a"));
        assert_eq!(c.cnonce.as_deref(), Some("xyz"));
        assert_eq!(c.opaque.as_deref(), Some("op"));
    }

    #[test]
    fn escaped_quotes_and_backslashes() {
        let c = parse_credentials(
            r#"Digest username="a\"b\\c", realm="say \"hi\"", nonce="n", uri="u", response="r""#,
        )
        .unwrap();
        assert_eq!(c.username, r#"a"b\c"#);
        assert_eq!(c.realm, r#"say "hi""#);
    }

    #[test]
    fn commas_inside_quotes_are_data() {
        let c = parse_credentials(
            r#"Digest username="a, b=c", realm="r", nonce="n", uri="u", response="r""#,
        )
        .unwrap();
        assert_eq!(c.username, "a, b=c");
    }

    #[test]
    fn whitespace_and_folding() {
        let c = parse_credentials(
            "  Digest\r\n  username = \"bob\" ,\r\n\trealm=\"r\"\n nonce\t=\t\"n\",uri=\"u\r\n v\" , \
             response=\"r\" ,",
        );
        // The missing comma after realm is a syntax error even across a fold.
        assert_eq!(
            c,
            Err(AuthError::Malformed("expected ',' between parameters"))
        );
        let c = parse_credentials(
            "  Digest\r\n  username = \"bob\" ,\r\n\trealm=\"r\",\n nonce\t=\t\"n\",uri=\"u\r\n v\" , \
             response=\"r\" ,",
        )
        .unwrap();
        assert_eq!(c.username, "bob");
        assert_eq!(c.nonce, "n");
        assert_eq!(c.uri, "u v");
    }

    #[test]
    fn unknown_params_and_empty_elements_ignored() {
        let c = parse_min(
            "Digest ,, x-foo=\"bar, baz\", lr=1,",
            ",, stale=true, userhash=false",
        )
        .unwrap();
        assert_eq!(c.username, "bob");
    }

    #[test]
    fn rfc4475_regaut01_unknown_scheme() {
        assert_eq!(
            parse_credentials("NoOneKnowsThisScheme opaque-data=here"),
            Err(AuthError::UnsupportedScheme("NoOneKnowsThisScheme".into()))
        );
        assert!(matches!(
            parse_credentials(r#"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="#),
            Err(AuthError::UnsupportedScheme(_))
        ));
    }

    #[test]
    fn missing_required_params() {
        assert_eq!(
            parse_credentials("Digest"),
            Err(AuthError::MissingParam("username"))
        );
        assert_eq!(
            parse_credentials(r#"Digest username="a", realm="r", nonce="n", uri="u""#),
            Err(AuthError::MissingParam("response"))
        );
        assert_eq!(
            parse_min("Digest ", ", qop=auth, nc=00000001"),
            Err(AuthError::MissingParam("cnonce"))
        );
        assert_eq!(
            parse_min("Digest ", ", qop=auth, cnonce=\"c\""),
            Err(AuthError::MissingParam("nc"))
        );
        assert_eq!(
            parse_min("Digest ", ", qop=auth, cnonce=\"c\", nc=1"),
            Err(AuthError::Malformed("nc must be 8 hex digits"))
        );
    }

    #[test]
    fn duplicates_and_unsupported_algorithms() {
        assert_eq!(
            parse_min("Digest ", r#", username="mallory""#),
            Err(AuthError::DuplicateParam("username"))
        );
        assert_eq!(
            parse_min("Digest ", ", algorithm=MD5-sess"),
            Err(AuthError::UnsupportedAlgorithm("MD5-sess".into()))
        );
        assert_eq!(
            parse_min("Digest ", r#", algorithm="SHA-256""#)
                .unwrap()
                .algorithm,
            Algorithm::Sha256
        );
    }

    #[test]
    fn every_prefix_parses_or_errors() {
        let full = "Digest username=\"a\\\"é\", realm=\"r\",\r\n nonce=n, uri=\"u\", \
                    response=\"r\", qop=auth, nc=00000001, cnonce=\"c\", x=\"ü\"";
        assert!(parse_credentials(full).is_ok());
        for (i, _) in full.char_indices() {
            let _ = parse_credentials(&full[..i]);
        }
    }

    #[test]
    fn malformed_inputs_do_not_panic() {
        let cases = [
            "",
            "   ",
            "\"",
            "Digest=",
            "Digest username",
            "Digest username=",
            "Digest username=\"abc",
            "Digest username=\"abc\\",
            "Digest username=\"a\r\nb\"",
            "Digest username=\"a\u{0}b\"",
            "Digest username=a b",
            "Digest =x",
            "Digest username=\"é\\é\" ü=1",
            "Digest\r\nusername=\"a\"",
            "Digest \u{feff}",
        ];
        for case in cases {
            assert!(parse_credentials(case).is_err(), "{case:?}");
        }
    }
}
