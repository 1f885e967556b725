//! Which trunk an INVITE comes from: by source address, then optionally by digest.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::config::settings::TrunkSettings;

#[derive(Debug, Clone)]
pub struct Trunk {
    pub name: String,
    sources: Vec<IpNet>,
    /// User and HA1 (MD5 and SHA-256) when the trunk must authenticate.
    pub auth: Option<TrunkAuth>,
}

#[derive(Debug, Clone)]
pub struct TrunkAuth {
    pub user: String,
    pub ha1_md5: String,
    pub ha1_sha256: String,
}

impl Trunk {
    pub fn from_settings(settings: &TrunkSettings, realm: &str) -> Trunk {
        use crate::auth::{ha1, Algorithm};
        Trunk {
            name: settings.name.clone(),
            sources: settings.sources.clone(),
            auth: settings.auth.as_ref().map(|a| TrunkAuth {
                user: a.user.clone(),
                ha1_md5: ha1(Algorithm::Md5, &a.user, realm, &a.password),
                ha1_sha256: ha1(Algorithm::Sha256, &a.user, realm, &a.password),
            }),
        }
    }

    fn admits(&self, ip: IpAddr) -> bool {
        let ip = crate::sip::flow::canonical_ip(ip);
        self.sources.iter().any(|net| net.contains(&ip))
    }
}

/// The first configured trunk whose sources hold `ip`.
pub fn trunk_for(trunks: &[Trunk], ip: IpAddr) -> Option<&Trunk> {
    trunks.iter().find(|t| t.admits(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_by_cidr_in_order() {
        let settings = |name: &str, nets: &[&str]| TrunkSettings {
            name: name.to_string(),
            sources: nets.iter().map(|n| n.parse().unwrap()).collect(),
            auth: None,
            outbound: None,
            lines: None,
        };
        let trunks = vec![
            Trunk::from_settings(&settings("a", &["10.1.0.0/16"]), "r"),
            Trunk::from_settings(&settings("b", &["10.0.0.0/8", "127.0.0.1/32"]), "r"),
        ];
        assert_eq!(
            trunk_for(&trunks, "10.1.2.3".parse().unwrap())
                .unwrap()
                .name,
            "a"
        );
        assert_eq!(
            trunk_for(&trunks, "10.2.2.3".parse().unwrap())
                .unwrap()
                .name,
            "b"
        );
        assert_eq!(
            trunk_for(&trunks, "::ffff:127.0.0.1".parse().unwrap())
                .unwrap()
                .name,
            "b"
        );
        assert!(trunk_for(&trunks, "192.0.2.1".parse().unwrap()).is_none());
    }
}
