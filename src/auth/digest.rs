//! Hashing, HA1 and response verification (RFC 7616 §3.4.1–3.4.3).

use super::{Algorithm, Credentials};
use md5::Md5;
use sha2::{Digest, Sha256};

/// `H(user:realm:password)` as lowercase hex: what a user store keeps
/// instead of the password.
pub fn ha1(algorithm: Algorithm, user: &str, realm: &str, password: &str) -> String {
    h(
        algorithm,
        &[user.as_bytes(), realm.as_bytes(), password.as_bytes()],
    )
}

/// Checks `creds.response` against the stored HA1 for `method`.
///
/// Handles `qop=auth` and the RFC 2069 form without qop, which many SIP
/// phones still send. `qop=auth-int` (or any other qop) returns `false`:
/// it needs a hash of the message body, which this module never sees, and
/// we never offer it in our challenges.
pub fn verify(creds: &Credentials, method: &str, ha1_hex: &str) -> bool {
    let Some(expected) = expected_response(creds, method, ha1_hex) else {
        return false;
    };
    // RFC 7616 asks for lowercase hex, but tolerating uppercase costs nothing.
    let given = creds.response.to_ascii_lowercase();
    ct_eq(expected.as_bytes(), given.as_bytes())
}

fn expected_response(creds: &Credentials, method: &str, ha1_hex: &str) -> Option<String> {
    let alg = creds.algorithm;
    // A store might keep uppercase hex; the hash input must be lowercase.
    let ha1 = ha1_hex.to_ascii_lowercase();
    let ha2 = h(alg, &[method.as_bytes(), creds.uri.as_bytes()]);
    let nonce = creds.nonce.as_bytes();
    match creds.qop.as_deref() {
        None => Some(h(alg, &[ha1.as_bytes(), nonce, ha2.as_bytes()])),
        Some(qop) if qop.eq_ignore_ascii_case("auth") => {
            let nc = creds.nc.as_deref()?;
            let cnonce = creds.cnonce.as_deref()?;
            // The client hashed qop exactly as it sent it.
            Some(h(
                alg,
                &[
                    ha1.as_bytes(),
                    nonce,
                    nc.as_bytes(),
                    cnonce.as_bytes(),
                    qop.as_bytes(),
                    ha2.as_bytes(),
                ],
            ))
        }
        Some(_) => None,
    }
}

/// `H(p1:p2:...)` as lowercase hex.
pub(crate) fn h(algorithm: Algorithm, parts: &[&[u8]]) -> String {
    match algorithm {
        Algorithm::Md5 => hash_joined::<Md5>(parts),
        Algorithm::Sha256 => hash_joined::<Sha256>(parts),
    }
}

fn hash_joined<D: Digest>(parts: &[&[u8]]) -> String {
    let mut d = D::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            d.update(b":");
        }
        d.update(part);
    }
    hex(&d.finalize())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Equality whose running time does not depend on where the inputs differ,
/// so a response cannot be guessed byte by byte. Lengths are public.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::parse_credentials;

    #[test]
    fn hex_encodes_lowercase() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn ct_eq_basics() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
        assert!(ct_eq(b"", b""));
    }

    /// RFC 2617 §3.5.
    #[test]
    fn rfc2617_md5_qop_auth() {
        let creds = parse_credentials(
            r#"Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        let stored = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        assert!(verify(&creds, "GET", &stored));
        assert!(verify(&creds, "GET", &stored.to_ascii_uppercase()));
        assert!(!verify(&creds, "POST", &stored));
        let wrong = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle of Life",
        );
        assert!(!verify(&creds, "GET", &wrong));
    }

    /// RFC 7616 §3.9.1. The expected response was also recomputed
    /// independently with Python's hashlib; note the password has a
    /// lowercase "of" here (RFC 7616 erratum 4495).
    #[test]
    fn rfc7616_sha256_and_md5() {
        let header = |alg: &str, response: &str| {
            format!(
                r#"Digest username="Mufasa", realm="http-auth@example.org",
                uri="/dir/index.html", algorithm={alg},
                nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001,
                cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth,
                response="{response}",
                opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
            )
        };
        for (alg, response) in [
            (
                Algorithm::Sha256,
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
            (Algorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec"),
        ] {
            let creds = parse_credentials(&header(alg.as_str(), response)).unwrap();
            assert_eq!(creds.algorithm, alg);
            let stored = ha1(alg, "Mufasa", "http-auth@example.org", "Circle of Life");
            assert!(verify(&creds, "GET", &stored), "{alg}");
        }
    }

    /// A REGISTER as many SIP phones send it: no qop, RFC 2069 form.
    #[test]
    fn sip_register_without_qop() {
        let stored = ha1(Algorithm::Md5, "alice", "hotline.example", "s3cret");
        let nonce = "0000000065f1a2b3c0ffee";
        let uri = "sip:hotline.example";
        let ha2 = h(Algorithm::Md5, &[b"REGISTER", uri.as_bytes()]);
        let response = h(
            Algorithm::Md5,
            &[stored.as_bytes(), nonce.as_bytes(), ha2.as_bytes()],
        );
        let value = format!(
            "Digest username=\"alice\",realm=\"hotline.example\",nonce=\"{nonce}\",\
             uri=\"{uri}\",response=\"{response}\",algorithm=MD5"
        );
        let creds = parse_credentials(&value).unwrap();
        assert!(verify(&creds, "REGISTER", &stored));
        assert!(!verify(&creds, "INVITE", &stored));
    }

    #[test]
    fn auth_int_is_not_supported() {
        let mut creds = parse_credentials(
            r#"Digest username="Mufasa", realm="testrealm@host.com",
               nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html",
               qop=auth, nc=00000001, cnonce="0a4f113b",
               response="6629fae49393a05397450978507c4ef1""#,
        )
        .unwrap();
        creds.qop = Some("auth-int".into());
        let stored = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        assert!(!verify(&creds, "GET", &stored));
    }
}
