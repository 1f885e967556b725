//! Fresh identifiers: branches, tags, Call-IDs.

use rand::Rng;

use super::headers::MAGIC_COOKIE;

fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

pub fn branch() -> String {
    format!("{MAGIC_COOKIE}{}", random_token(16))
}

pub fn tag() -> String {
    random_token(12)
}

pub fn call_id(host: &str) -> String {
    format!("{}@{host}", random_token(20))
}
