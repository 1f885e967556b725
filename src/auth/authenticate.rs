//! The registrar-facing decision: accept, challenge, or reject.

use super::{parse_credentials, verify, Algorithm, AuthError, NonceCheck, NonceKey};

/// What to do with a request. `Rejected` deliberately carries no reason, so
/// the SIP layer cannot leak whether the user exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Authenticated as `user` (the digest username).
    Ok { user: String },
    /// Send 401/407 with fresh challenges; `stale` goes into them.
    Challenge { stale: bool },
    /// Wrong password, unknown user, wrong realm, malformed or forged
    /// credentials: all alike.
    Rejected,
}

/// Authenticates one request from its `Authorization` (or
/// `Proxy-Authorization`) header value.
///
/// `lookup(user, algorithm)` returns the stored HA1 hex for that algorithm.
/// To keep unknown users indistinguishable by timing, a miss is verified
/// against a dummy HA1 and the lookup itself should cost about the same for
/// hits and misses.
///
/// A correct response under a nonce we did not mint (or one that is too
/// old) yields `Challenge { stale: true }` rather than `Rejected`, as RFC
/// 7616 §3.3 allows: the key is random per start-up, so after a restart
/// every phone still holds a nonce we cannot recognise, and rejecting those
/// would turn each restart into a registration outage. Only someone who
/// knows the HA1, or replays a captured response, gets there, and all they
/// learn is to ask again. With a wrong response the nonce does not matter:
/// `Rejected`.
///
/// The caller still has to check that `uri` matches the Request-URI and
/// that the user may act for the From/To identity.
pub fn authenticate(
    header_value: Option<&str>,
    method: &str,
    realm: &str,
    lookup: impl Fn(&str, Algorithm) -> Option<String>,
    key: &NonceKey,
    now_unix_secs: u64,
    max_age_secs: u64,
) -> Verdict {
    let Some(value) = header_value else {
        return Verdict::Challenge { stale: false };
    };
    let creds = match parse_credentials(value) {
        Ok(creds) => creds,
        // RFC 4475 §3.3.1: an unknown scheme is well-formed; challenge it.
        Err(AuthError::UnsupportedScheme(_)) => return Verdict::Challenge { stale: false },
        Err(_) => return Verdict::Rejected,
    };
    if creds.realm != realm {
        return Verdict::Rejected;
    }
    let nonce = key.check(&creds.nonce, now_unix_secs, max_age_secs);
    let stored = lookup(&creds.username, creds.algorithm);
    let ha1 = stored.as_deref().unwrap_or(match creds.algorithm {
        Algorithm::Md5 => DUMMY_HA1_MD5,
        Algorithm::Sha256 => DUMMY_HA1_SHA256,
    });
    // Verify first, unconditionally, so both branches do the same work.
    let response_ok = verify(&creds, method, ha1) & stored.is_some();
    match (response_ok, nonce) {
        (true, NonceCheck::Valid) => Verdict::Ok {
            user: creds.username,
        },
        (true, NonceCheck::Stale | NonceCheck::Invalid) => Verdict::Challenge { stale: true },
        (false, _) => Verdict::Rejected,
    }
}

// Same length as real HA1s so hashing costs the same.
const DUMMY_HA1_MD5: &str = "00000000000000000000000000000000";
const DUMMY_HA1_SHA256: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::digest::h;
    use crate::auth::{challenges, ha1};

    const REALM: &str = "hotline.example";
    const NOW: u64 = 1_700_000_000;
    const MAX_AGE: u64 = 300;

    fn key() -> NonceKey {
        NonceKey::from_bytes([42; 32])
    }

    fn lookup(user: &str, alg: Algorithm) -> Option<String> {
        (user == "alice").then(|| ha1(alg, "alice", REALM, "correct horse"))
    }

    /// What a phone would send after our challenge.
    fn phone(user: &str, password: &str, realm: &str, nonce: &str, alg: Algorithm) -> String {
        let uri = "sip:hotline.example";
        let ha1 = ha1(alg, user, realm, password);
        let ha2 = h(alg, &[b"REGISTER", uri.as_bytes()]);
        let response = h(
            alg,
            &[
                ha1.as_bytes(),
                nonce.as_bytes(),
                b"00000001",
                b"0a4f113b",
                b"auth",
                ha2.as_bytes(),
            ],
        );
        format!(
            "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", \
             uri=\"{uri}\", response=\"{response}\", algorithm={alg}, qop=auth, \
             nc=00000001, cnonce=\"0a4f113b\""
        )
    }

    fn run(header: Option<&str>, now: u64) -> Verdict {
        authenticate(header, "REGISTER", REALM, lookup, &key(), now, MAX_AGE)
    }

    #[test]
    fn no_header_or_unknown_scheme_is_challenged() {
        assert_eq!(run(None, NOW), Verdict::Challenge { stale: false });
        assert_eq!(
            run(Some("NoOneKnowsThisScheme opaque-data=here"), NOW),
            Verdict::Challenge { stale: false }
        );
    }

    #[test]
    fn good_credentials_pass_for_both_algorithms() {
        let nonce = key().mint(NOW);
        for alg in [Algorithm::Sha256, Algorithm::Md5] {
            let hdr = phone("alice", "correct horse", REALM, &nonce, alg);
            assert_eq!(
                run(Some(&hdr), NOW + 10),
                Verdict::Ok {
                    user: "alice".into()
                }
            );
        }
    }

    #[test]
    fn unknown_user_and_wrong_password_look_the_same() {
        let nonce = key().mint(NOW);
        let wrong_pw = phone("alice", "battery staple", REALM, &nonce, Algorithm::Md5);
        let no_user = phone("mallory", "correct horse", REALM, &nonce, Algorithm::Md5);
        assert_eq!(run(Some(&wrong_pw), NOW), Verdict::Rejected);
        assert_eq!(run(Some(&no_user), NOW), run(Some(&wrong_pw), NOW));
        // Also when stale: no way to probe users through old nonces.
        let later = NOW + MAX_AGE + 1;
        assert_eq!(run(Some(&no_user), later), Verdict::Rejected);
        assert_eq!(run(Some(&wrong_pw), later), Verdict::Rejected);
    }

    #[test]
    fn stale_nonce_with_correct_response_is_rechallenged() {
        let nonce = key().mint(NOW);
        let hdr = phone("alice", "correct horse", REALM, &nonce, Algorithm::Sha256);
        assert_eq!(
            run(Some(&hdr), NOW + MAX_AGE + 1),
            Verdict::Challenge { stale: true }
        );
    }

    #[test]
    fn nonce_from_previous_key_is_rechallenged_not_rejected() {
        let old = NonceKey::from_bytes([1; 32]).mint(NOW);
        let hdr = phone("alice", "correct horse", REALM, &old, Algorithm::Md5);
        assert_eq!(run(Some(&hdr), NOW), Verdict::Challenge { stale: true });
        let bad = phone("alice", "nope", REALM, &old, Algorithm::Md5);
        assert_eq!(run(Some(&bad), NOW), Verdict::Rejected);
    }

    #[test]
    fn wrong_realm_and_malformed_are_rejected() {
        let nonce = key().mint(NOW);
        let hdr = phone(
            "alice",
            "correct horse",
            "other.example",
            &nonce,
            Algorithm::Md5,
        );
        assert_eq!(run(Some(&hdr), NOW), Verdict::Rejected);
        assert_eq!(run(Some("Digest username="), NOW), Verdict::Rejected);
        assert_eq!(
            run(
                Some("Digest username=\"alice\", algorithm=SHA-512-256"),
                NOW
            ),
            Verdict::Rejected
        );
    }

    #[test]
    fn challenge_carries_minted_nonce() {
        let nonce = key().mint(NOW);
        let [sha, _] = challenges(REALM, &nonce, false);
        assert!(sha.contains(&format!("nonce=\"{nonce}\"")));
    }
}
