//! `[security]`: when a source is banned, for how long, which User-Agents are refused outright,
//! and how often the log repeats itself about one source.

use serde::Deserialize;

use crate::checks::Issue;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// Off: nobody is banned and no User-Agent is refused (security events are still logged).
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// A source that sends this many requests within `flood_window_secs` is banned.
    #[serde(default = "default_flood_requests")]
    pub flood_requests: u32,
    #[serde(default = "default_flood_window")]
    pub flood_window_secs: u32,
    /// A source that fails digest authentication this many times within `auth_window_secs`
    /// is banned.
    #[serde(default = "default_auth_failures")]
    pub auth_failures: u32,
    #[serde(default = "default_auth_window")]
    pub auth_window_secs: u32,
    /// How long a ban lasts; every request of a banned source is dropped unanswered.
    #[serde(default = "default_ban")]
    pub ban_secs: u32,
    /// A request whose User-Agent contains one of these (ignoring case) is dropped and its
    /// source banned.
    #[serde(default = "default_scanner_user_agents")]
    pub scanner_user_agents: Vec<String>,
    /// Repeated security events of one kind from one source are logged once per interval,
    /// then summed up in one line; the metric still counts every one.
    #[serde(default = "default_log_interval")]
    pub log_interval_secs: u32,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            enabled: default_enabled(),
            flood_requests: default_flood_requests(),
            flood_window_secs: default_flood_window(),
            auth_failures: default_auth_failures(),
            auth_window_secs: default_auth_window(),
            ban_secs: default_ban(),
            scanner_user_agents: default_scanner_user_agents(),
            log_interval_secs: default_log_interval(),
        }
    }
}

fn default_enabled() -> bool {
    true
}
fn default_flood_requests() -> u32 {
    16
}
fn default_flood_window() -> u32 {
    2
}
fn default_auth_failures() -> u32 {
    5
}
fn default_auth_window() -> u32 {
    60
}
fn default_ban() -> u32 {
    300
}
fn default_log_interval() -> u32 {
    60
}

/// What SIP scanners and brute-forcers commonly send (SIPVicious and its forks, sipcli,
/// sundayddr, iWar, VaxSIP-based tools, pplsip).
pub const SCANNER_USER_AGENTS: &[&str] = &[
    "friendly-scanner",
    "sipvicious",
    "sipcli",
    "sip-scan",
    "sipscan",
    "sundayddr",
    "iWar",
    "VaxSIPUserAgent",
    "pplsip",
];

fn default_scanner_user_agents() -> Vec<String> {
    SCANNER_USER_AGENTS.iter().map(|s| s.to_string()).collect()
}

const FLOOD_REQUESTS_RANGE: std::ops::RangeInclusive<u32> = 2..=100_000;
const FLOOD_WINDOW_RANGE: std::ops::RangeInclusive<u32> = 1..=3_600;
const AUTH_FAILURES_RANGE: std::ops::RangeInclusive<u32> = 1..=1_000;
const AUTH_WINDOW_RANGE: std::ops::RangeInclusive<u32> = 1..=86_400;
const BAN_RANGE: std::ops::RangeInclusive<u32> = 1..=604_800;
const LOG_INTERVAL_RANGE: std::ops::RangeInclusive<u32> = 1..=3_600;
/// Longest User-Agent pattern: a pattern is a name, not a message.
const MAX_PATTERN: usize = 100;

impl SecuritySettings {
    /// Every problem, with key paths under `key` (normally `security`).
    pub fn validate(&self, key: &str) -> Vec<Issue> {
        let mut issues = Vec::new();
        let ranges = [
            ("flood_requests", self.flood_requests, FLOOD_REQUESTS_RANGE),
            (
                "flood_window_secs",
                self.flood_window_secs,
                FLOOD_WINDOW_RANGE,
            ),
            ("auth_failures", self.auth_failures, AUTH_FAILURES_RANGE),
            ("auth_window_secs", self.auth_window_secs, AUTH_WINDOW_RANGE),
            ("ban_secs", self.ban_secs, BAN_RANGE),
            (
                "log_interval_secs",
                self.log_interval_secs,
                LOG_INTERVAL_RANGE,
            ),
        ];
        for (name, value, range) in ranges {
            if !range.contains(&value) {
                issues.push(Issue::new(
                    format!("{key}.{name}"),
                    format!("{value} is outside {}..={}", range.start(), range.end()),
                ));
            }
        }
        for (i, pattern) in self.scanner_user_agents.iter().enumerate() {
            let reason = if pattern.trim().is_empty() {
                "must not be empty: it would match every User-Agent"
            } else if pattern.len() > MAX_PATTERN {
                "is longer than 100 characters"
            } else {
                continue;
            };
            issues.push(Issue::new(
                format!("{key}.scanner_user_agents[{i}]"),
                reason,
            ));
        }
        issues
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_like_pike() {
        let s = SecuritySettings::default();
        assert!(s.validate("security").is_empty());
        assert_eq!(
            (s.flood_requests, s.flood_window_secs, s.ban_secs),
            (16, 2, 300)
        );
        assert!(s
            .scanner_user_agents
            .iter()
            .any(|u| u == "friendly-scanner"));
    }

    #[test]
    fn every_bad_value_is_reported_with_its_key() {
        let s = SecuritySettings {
            flood_requests: 1,
            flood_window_secs: 0,
            auth_failures: 0,
            auth_window_secs: 0,
            ban_secs: 0,
            log_interval_secs: 0,
            scanner_user_agents: vec!["ok".into(), " ".into(), "x".repeat(101)],
            ..SecuritySettings::default()
        };
        let keys: Vec<String> = s.validate("security").into_iter().map(|i| i.key).collect();
        assert_eq!(
            keys,
            [
                "security.flood_requests",
                "security.flood_window_secs",
                "security.auth_failures",
                "security.auth_window_secs",
                "security.ban_secs",
                "security.log_interval_secs",
                "security.scanner_user_agents[1]",
                "security.scanner_user_agents[2]",
            ]
        );
    }
}
