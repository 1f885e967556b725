//! Outbound routes: which trunk carries which numbers, the caller ID it presents, and how the
//! number is rewritten for the carrier. A number no route matches is never dialled: that is the
//! toll-fraud guard, and [`Outbound::route_for`] is the only place it is decided.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::contact::phone_number;
use super::DialTarget;

/// One `[[outbound]]` entry, checked at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRoute {
    /// Digits (optionally a leading `+`) a number must start with.
    pub prefix: String,
    /// A trunk of `[[trunks]]` with `outbound` set.
    pub trunk: String,
    /// The trunk's `outbound` address, copied at load time.
    pub addr: SocketAddr,
    /// Presented in From.
    pub caller_id: String,
    /// How many leading characters to remove (never more than the prefix, so only the matched
    /// prefix is ever cut), before `prepend` is added.
    pub strip: usize,
    pub prepend: String,
    pub description: Option<String>,
    pub file: PathBuf,
    pub line: usize,
}

impl OutboundRoute {
    /// The number as the carrier should receive it.
    pub fn normalise(&self, number: &str) -> String {
        let kept = number.get(self.strip..).unwrap_or_default();
        format!("{}{kept}", self.prepend)
    }
}

/// Every outbound route, looked up by longest prefix.
#[derive(Debug, Clone, Default)]
pub struct Outbound {
    routes: Vec<OutboundRoute>,
}

impl Outbound {
    pub(super) fn new(routes: Vec<OutboundRoute>) -> Self {
        Self { routes }
    }

    pub fn routes(&self) -> &[OutboundRoute] {
        &self.routes
    }

    /// The route with the longest prefix of `number`; `number` is a phone number as a contact
    /// may write it (grouping `-` and spaces are dropped first). `None` when it is not a phone
    /// number, when no prefix matches, or when the rewritten number would be empty.
    pub fn route_for(&self, number: &str) -> Option<(&OutboundRoute, DialTarget)> {
        let number = phone_number(number)?;
        let route = self
            .routes
            .iter()
            .filter(|r| number.starts_with(&r.prefix))
            .max_by_key(|r| r.prefix.len())?;
        let normalised = route.normalise(&number);
        if normalised.trim_start_matches('+').is_empty() {
            return None;
        }
        Some((
            route,
            DialTarget::Trunk {
                trunk: route.trunk.clone(),
                number: normalised,
                addr: route.addr,
                caller_id: route.caller_id.clone(),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(prefix: &str, trunk: &str, strip: usize, prepend: &str) -> OutboundRoute {
        OutboundRoute {
            prefix: prefix.into(),
            trunk: trunk.into(),
            addr: "192.0.2.1:5060".parse().unwrap(),
            caller_id: "055112345".into(),
            strip,
            prepend: prepend.into(),
            description: None,
            file: PathBuf::from("d.toml"),
            line: 1,
        }
    }

    fn number(t: Option<(&OutboundRoute, DialTarget)>) -> Option<(String, String)> {
        match t?.1 {
            DialTarget::Trunk { trunk, number, .. } => Some((trunk, number)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn longest_prefix_wins_and_is_rewritten() {
        let out = Outbound::new(vec![
            route("0", "national", 0, ""),
            route("0551", "local", 4, ""),
            route("+86", "national", 3, "0"),
            route("1", "mobile", 0, "0"),
        ]);
        let n = |s: &str| number(out.route_for(s));
        assert_eq!(n("055162345678"), Some(("local".into(), "62345678".into())));
        assert_eq!(
            n("0551-6234 5678"),
            Some(("local".into(), "62345678".into()))
        );
        assert_eq!(
            n("02112345678"),
            Some(("national".into(), "02112345678".into()))
        );
        assert_eq!(
            n("+8655162345678"),
            Some(("national".into(), "055162345678".into()))
        );
        assert_eq!(
            n("13800000000"),
            Some(("mobile".into(), "013800000000".into()))
        );
        match out.route_for("0551123").unwrap().1 {
            DialTarget::Trunk {
                addr, caller_id, ..
            } => {
                assert_eq!(addr, "192.0.2.1:5060".parse().unwrap());
                assert_eq!(caller_id, "055112345");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn numbers_without_a_route_are_refused() {
        let out = Outbound::new(vec![route("0551", "local", 4, "")]);
        assert!(out.route_for("999").is_none(), "no prefix matches");
        assert!(
            out.route_for("+0551").is_none(),
            "the + is part of the match"
        );
        assert!(out.route_for("0551").is_none(), "nothing left after strip");
        assert!(out.route_for("0551abc").is_none(), "not a number");
        assert!(out.route_for("").is_none());
        assert!(Outbound::default().route_for("110").is_none());
    }
}
