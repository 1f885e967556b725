//! Stateless nonces: a timestamp plus a MAC under a secret made at start-up,
//! so any instance holding the key can tell its own fresh nonces apart from
//! old or forged ones without remembering what it handed out.

use super::digest::{ct_eq, hex};
use sha2::{Digest, Sha256};

/// Separates these MACs from any other use the key might get later.
const DOMAIN: &[u8] = b"hotline digest nonce v1\0";
/// HMAC-SHA256 truncated to 128 bits (RFC 2104 §5 allows down to half the
/// output); keeps the nonce at 48 hex chars, which old phones cope with.
const TAG_LEN: usize = 16;
const TS_LEN: usize = 8;

/// Secret for minting and checking nonces. Debug output hides the bytes.
#[derive(Clone)]
pub struct NonceKey([u8; 32]);

/// Outcome of [`NonceKey::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    Valid,
    /// Ours, but outside the allowed age: re-challenge with `stale=true`.
    Stale,
    /// Not minted under this key (forged, garbled, or from before a restart).
    Invalid,
}

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

impl NonceKey {
    /// A fresh key from the thread-local CSPRNG (seeded from the OS).
    pub fn random() -> Self {
        NonceKey(rand::random())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        NonceKey(bytes)
    }

    /// Lowercase hex of the big-endian timestamp followed by the tag. Only
    /// `[0-9a-f]`, so it needs no escaping in a quoted-string.
    ///
    /// Deterministic: two nonces minted in the same second are equal. That
    /// is harmless for stateless checking; per-nonce `nc` tracking would need
    /// a salt added here.
    pub fn mint(&self, now_unix_secs: u64) -> String {
        let ts = now_unix_secs.to_be_bytes();
        let tag = self.tag(&ts);
        let mut out = hex(&ts);
        out.push_str(&hex(&tag[..TAG_LEN]));
        out
    }

    /// A nonce is fresh while `|now - minted| <= max_age_secs`. Nonces from
    /// the future are tolerated within the same window so a small clock step
    /// back does not lock phones out.
    pub fn check(&self, nonce: &str, now_unix_secs: u64, max_age_secs: u64) -> NonceCheck {
        let mut raw = [0u8; TS_LEN + TAG_LEN];
        if !unhex(nonce.as_bytes(), &mut raw) {
            return NonceCheck::Invalid;
        }
        let (ts, tag) = raw.split_at(TS_LEN);
        let mut ts_bytes = [0u8; TS_LEN];
        ts_bytes.copy_from_slice(ts);
        let expected = self.tag(&ts_bytes);
        if !ct_eq(&expected[..TAG_LEN], tag) {
            return NonceCheck::Invalid;
        }
        let minted = u64::from_be_bytes(ts_bytes);
        let age = now_unix_secs.abs_diff(minted);
        if age > max_age_secs {
            NonceCheck::Stale
        } else {
            NonceCheck::Valid
        }
    }

    fn tag(&self, ts: &[u8; TS_LEN]) -> [u8; 32] {
        hmac_sha256(&self.0, &[DOMAIN, ts])
    }
}

/// HMAC-SHA256 per RFC 2104 over the concatenation of `parts`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    for part in parts {
        inner.update(part);
    }
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// Decodes lowercase hex into `out`, which fixes the expected length.
/// Uppercase is refused so each nonce has exactly one spelling.
fn unhex(s: &[u8], out: &mut [u8]) -> bool {
    if s.len() != out.len() * 2 {
        return false;
    }
    for (byte, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(hi), Some(lo)) => *byte = hi << 4 | lo,
            _ => return false,
        }
    }
    true
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn key() -> NonceKey {
        NonceKey::from_bytes([7; 32])
    }

    #[test]
    fn hmac_matches_rfc4231() {
        // Test case 2.
        assert_eq!(
            hex(&hmac_sha256(
                b"Jefe",
                &[b"what do ya ", b"want for nothing?"]
            )),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: key longer than a block is hashed first.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn minted_nonce_shape() {
        let n = key().mint(NOW);
        assert_eq!(n.len(), 48);
        assert!(n
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(n, key().mint(NOW));
        assert_ne!(n, key().mint(NOW + 1));
        assert_ne!(n, NonceKey::from_bytes([8; 32]).mint(NOW));
    }

    #[test]
    fn valid_until_max_age_then_stale() {
        let n = key().mint(NOW);
        assert_eq!(key().check(&n, NOW, 300), NonceCheck::Valid);
        assert_eq!(key().check(&n, NOW + 300, 300), NonceCheck::Valid);
        assert_eq!(key().check(&n, NOW + 301, 300), NonceCheck::Stale);
        assert_eq!(key().check(&n, u64::MAX, 300), NonceCheck::Stale);
        // Clock stepped back a little: still fine; a lot: stale.
        assert_eq!(key().check(&n, NOW - 10, 300), NonceCheck::Valid);
        assert_eq!(key().check(&n, 0, 300), NonceCheck::Stale);
    }

    #[test]
    fn tampered_or_foreign_is_invalid() {
        let n = key().mint(NOW);
        // Push the timestamp forward without the key.
        let forged = format!("{}{}", hex(&(NOW + 3600).to_be_bytes()), &n[16..]);
        assert_eq!(key().check(&forged, NOW + 3600, 300), NonceCheck::Invalid);
        let mut flipped = n.clone().into_bytes();
        flipped[47] = if flipped[47] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(key().check(&flipped, NOW, 300), NonceCheck::Invalid);
        let other = NonceKey::from_bytes([8; 32]);
        assert_eq!(other.check(&n, NOW, 300), NonceCheck::Invalid);
        for bad in [
            "",
            "zz",
            &n[..47],
            &format!("{n}0"),
            &n.to_ascii_uppercase(),
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            &"é".repeat(24),
        ] {
            assert_eq!(key().check(bad, NOW, 300), NonceCheck::Invalid, "{bad:?}");
        }
    }

    #[test]
    fn random_keys_differ_and_debug_hides_secret() {
        let (a, b) = (NonceKey::random(), NonceKey::random());
        assert_ne!(a.mint(NOW), b.mint(NOW));
        assert_eq!(format!("{:?}", key()), "NonceKey(..)");
    }
}
