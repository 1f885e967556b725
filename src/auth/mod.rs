//! Digest authentication of SIP requests (RFC 3261 §22, RFC 7616, RFC 8760).
//!
//! Everything here is pure: no I/O, no clock, no global state. The caller
//! passes in the time and a lookup for stored HA1 values.

mod authenticate;
mod challenge;
mod digest;
mod nonce;
mod parse;

pub use authenticate::{authenticate, Verdict};
pub use challenge::{challenge, challenges};
/// Lowercase hex of some bytes (digests, and recordings' SHA-256).
pub(crate) use digest::hex;
pub use digest::{ha1, verify};
pub use nonce::{NonceCheck, NonceKey};
pub use parse::{parse_credentials, Credentials};

/// Errors from parsing credentials. Strings inside come from the peer, so
/// they are clipped to keep log lines bounded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("unsupported authorization scheme {0:?}")]
    UnsupportedScheme(String),
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    #[error("missing digest parameter {0}")]
    MissingParam(&'static str),
    #[error("duplicate digest parameter {0}")]
    DuplicateParam(&'static str),
    #[error("malformed digest credentials: {0}")]
    Malformed(&'static str),
}

/// Digest hash algorithms we accept. The `-sess` variants are left out on
/// purpose: SIP phones rarely use them and they need per-session state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
pub enum Algorithm {
    #[serde(rename = "MD5")]
    Md5,
    #[serde(rename = "SHA-256")]
    Sha256,
}

impl Algorithm {
    /// The name as written in `algorithm=` on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Parses a wire name; RFC 7616 makes these case-insensitive.
    pub fn from_wire(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else if name.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bounds peer-supplied text placed into errors.
fn clip(s: &str) -> String {
    s.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_wire_names_round_trip() {
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            assert_eq!(Algorithm::from_wire(alg.as_str()), Some(alg));
        }
        assert_eq!(Algorithm::from_wire("sha-256"), Some(Algorithm::Sha256));
        assert_eq!(Algorithm::from_wire("MD5-sess"), None);
        assert_eq!(Algorithm::from_wire("SHA-512-256"), None);
    }

    #[test]
    fn clip_is_char_safe() {
        let long = "é".repeat(100);
        assert_eq!(clip(&long).chars().count(), 32);
    }
}
