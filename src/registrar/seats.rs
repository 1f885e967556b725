//! Stored digest secrets of the configured seats.

use std::collections::HashMap;

use crate::auth::{ha1, Algorithm};
use crate::config::settings::SeatSettings;

#[derive(Debug, Clone, Default)]
struct Secrets {
    md5: Option<String>,
    sha256: Option<String>,
}

/// HA1 values per seat, worked out once so a REGISTER never hashes a password
/// and a hit costs the same as a miss (one map probe).
#[derive(Debug, Clone, Default)]
pub(super) struct Seats {
    by_user: HashMap<String, Secrets>,
}

impl Seats {
    pub(super) fn new(realm: &str, seats: &[SeatSettings]) -> Self {
        let mut by_user = HashMap::new();
        for seat in seats {
            let derive = |alg| {
                seat.password
                    .as_deref()
                    .map(|p| ha1(alg, &seat.user, realm, p))
            };
            // A configured HA1 wins over the password: it is what the operator stated for that
            // algorithm. HA1-only seats get just the algorithms they were given.
            let secrets = Secrets {
                md5: normalise(seat.ha1_md5.as_deref()).or_else(|| derive(Algorithm::Md5)),
                sha256: normalise(seat.ha1_sha256.as_deref()).or_else(|| derive(Algorithm::Sha256)),
            };
            by_user.insert(seat.user.clone(), secrets);
        }
        Seats { by_user }
    }

    pub(super) fn ha1(&self, user: &str, alg: Algorithm) -> Option<String> {
        let secrets = self.by_user.get(user)?;
        match alg {
            Algorithm::Md5 => secrets.md5.clone(),
            Algorithm::Sha256 => secrets.sha256.clone(),
        }
    }
}

fn normalise(hex: Option<&str>) -> Option<String> {
    hex.map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(user: &str, password: Option<&str>, md5: Option<&str>) -> SeatSettings {
        SeatSettings {
            user: user.into(),
            display_name: None,
            password: password.map(str::to_string),
            ha1_md5: md5.map(str::to_string),
            ha1_sha256: None,
            supervisor: false,
        }
    }

    #[test]
    fn password_seats_get_both_and_ha1_seats_only_theirs() {
        let given = ha1(Algorithm::Md5, "1002", "r", "pw").to_ascii_uppercase();
        let seats = Seats::new(
            "r",
            &[
                seat("1001", Some("pw"), None),
                seat("1002", None, Some(&given)),
            ],
        );
        assert_eq!(
            seats.ha1("1001", Algorithm::Sha256),
            Some(ha1(Algorithm::Sha256, "1001", "r", "pw"))
        );
        assert_eq!(
            seats.ha1("1001", Algorithm::Md5),
            Some(ha1(Algorithm::Md5, "1001", "r", "pw"))
        );
        assert_eq!(
            seats.ha1("1002", Algorithm::Md5),
            Some(ha1(Algorithm::Md5, "1002", "r", "pw"))
        );
        assert_eq!(seats.ha1("1002", Algorithm::Sha256), None);
        assert_eq!(seats.ha1("9999", Algorithm::Md5), None);
    }
}
