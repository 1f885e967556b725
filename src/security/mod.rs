//! Keeping scanners and brute force out: sources that flood requests or keep failing digest
//! authentication are banned for a while and their requests dropped unanswered; known scanner
//! User-Agents are refused outright; and security events are counted one by one but logged
//! once per source and interval.
//!
//! [`pike`] and [`throttle`] are the policies, without I/O. [`Security`] is what the core holds:
//! it applies them to a request's source and writes the log lines and metrics.

pub mod pike;
pub mod settings;
pub mod throttle;

use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use self::pike::{Limits, Pike, Verdict};
pub use self::settings::SecuritySettings;
use self::throttle::LogThrottle;
use crate::metrics::names;
use crate::sip::flow::{canonical_ip, Flow};

pub struct Security {
    enabled: bool,
    limits: Limits,
    pike: Pike,
    log: LogThrottle,
    /// Lower-cased User-Agent patterns.
    scanners: Vec<String>,
}

impl Security {
    pub fn new(settings: &SecuritySettings) -> Security {
        let limits = Limits::from_settings(settings);
        Security {
            enabled: settings.enabled,
            limits,
            pike: Pike::new(limits),
            log: LogThrottle::new(Duration::from_secs(settings.log_interval_secs.into())),
            scanners: settings
                .scanner_user_agents
                .iter()
                .map(|s| s.to_ascii_lowercase())
                .collect(),
        }
    }

    /// Whether a request from `flow` is to be handled at all. `exempt` (a trunk or a seat's
    /// registered address) is never counted, banned or refused.
    pub fn admit(
        &mut self,
        now: Instant,
        flow: Flow,
        exempt: bool,
        user_agent: Option<&str>,
    ) -> bool {
        if !self.enabled || exempt {
            return true;
        }
        let ip = canonical_ip(flow.remote.ip());
        let banned = if user_agent.is_some_and(|ua| self.is_scanner(ua)) {
            if self.pike.ban(now, ip) {
                let ua = user_agent.unwrap_or_default();
                self.event(
                    now,
                    "scanner",
                    flow,
                    ua,
                    "request from a scanner's User-Agent",
                );
                self.banned(now, flow, "scanner");
            }
            true
        } else {
            match self.pike.on_request(now, ip) {
                Verdict::Pass => false,
                Verdict::Drop => true,
                Verdict::Banned => {
                    self.banned(now, flow, "flood");
                    true
                }
            }
        };
        if banned {
            metrics::counter!(names::SIP_BANNED_DROPPED_TOTAL).increment(1);
        }
        !banned
    }

    /// `flow` failed digest authentication; too many failures ban it.
    pub fn auth_failed(&mut self, now: Instant, flow: Flow, exempt: bool) {
        if self.enabled
            && !exempt
            && self
                .pike
                .on_auth_failure(now, canonical_ip(flow.remote.ip()))
        {
            self.banned(now, flow, "auth_failures");
        }
    }

    fn is_scanner(&self, user_agent: &str) -> bool {
        let ua = user_agent.to_ascii_lowercase();
        self.scanners.iter().any(|p| ua.contains(p.as_str()))
    }

    fn banned(&mut self, now: Instant, flow: Flow, reason: &'static str) {
        let limits = self.limits;
        metrics::gauge!(names::SIP_BANNED_SOURCES).set(self.pike.banned() as f64);
        metrics::counter!(names::SECURITY_EVENTS_TOTAL, "kind" => "banned").increment(1);
        if self
            .log
            .event(now, "banned", canonical_ip(flow.remote.ip()))
        {
            warn!(
                target: "hotline::security",
                kind = "banned",
                src = %flow.remote,
                transport = flow.transport.as_str(),
                reason,
                ban_secs = limits.ban.as_secs(),
                flood = format!("{} requests in {} s", limits.flood_requests, limits.flood_window.as_secs()),
                auth = format!("{} failures in {} s", limits.auth_failures, limits.auth_window.as_secs()),
                "source banned: its requests are dropped unanswered"
            );
        }
    }

    /// A security event: counted every time, logged (target `hotline::security`) once per
    /// source, kind and interval.
    pub fn event(
        &mut self,
        now: Instant,
        kind: &'static str,
        flow: Flow,
        who: &str,
        message: &'static str,
    ) {
        metrics::counter!(names::SECURITY_EVENTS_TOTAL, "kind" => kind).increment(1);
        if self.log.event(now, kind, canonical_ip(flow.remote.ip())) {
            warn!(target: "hotline::security", kind, src = %flow.remote, transport = flow.transport.as_str(), who, "{message}");
        }
    }

    /// Sources banned now, and bans since start.
    pub fn bans(&self) -> (usize, u64) {
        (self.pike.banned(), self.pike.bans_total())
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.pike.poll_timeout(), self.log.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Lifts the bans that are over and sums up the events kept out of the log.
    pub fn handle_timeout(&mut self, now: Instant) {
        let lifted = self.pike.handle_timeout(now);
        for ban in &lifted {
            info!(target: "hotline::security", src = %ban.ip, dropped = ban.dropped, "ban lifted");
        }
        if !lifted.is_empty() {
            metrics::gauge!(names::SIP_BANNED_SOURCES).set(self.pike.banned() as f64);
        }
        for s in self.log.handle_timeout(now) {
            let src = s.source.map(|ip| ip.to_string());
            let src = src.as_deref().unwrap_or("other sources");
            warn!(
                target: "hotline::security",
                kind = s.kind,
                src,
                repeats = s.repeats,
                "{} more of these from {src} in the last {} s",
                s.repeats,
                s.over.as_secs()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::flow::Transport;

    fn flow(addr: &str) -> Flow {
        Flow {
            transport: Transport::Udp,
            remote: addr.parse().unwrap(),
        }
    }

    #[test]
    fn exempt_sources_are_never_counted_nor_banned() {
        let t0 = Instant::now();
        let mut security = Security::new(&SecuritySettings::default());
        let trunk = flow("192.0.2.1:5060");
        for _ in 0..1000 {
            assert!(security.admit(t0, trunk, true, Some("friendly-scanner")));
            security.auth_failed(t0, trunk, true);
        }
        assert_eq!(security.bans(), (0, 0));
        assert_eq!(security.poll_timeout(), None, "nothing remembered");
    }

    #[test]
    fn a_scanner_is_refused_and_banned_at_its_first_request() {
        let t0 = Instant::now();
        let mut security = Security::new(&SecuritySettings::default());
        let scanner = flow("192.0.2.7:5070");
        assert!(!security.admit(t0, scanner, false, Some("Friendly-Scanner 1.0")));
        assert_eq!(security.bans(), (1, 1));
        // Its next requests, whatever their User-Agent, and from any port: dropped.
        assert!(!security.admit(t0, flow("192.0.2.7:5071"), false, Some("Yealink")));
        assert!(!security.admit(t0, flow("[::ffff:192.0.2.7]:5071"), false, None));
        assert!(security.admit(t0, flow("192.0.2.8:5060"), false, Some("Yealink SIP-T46U")));
        assert_eq!(security.bans(), (1, 1));
        security.handle_timeout(t0 + Duration::from_secs(300));
        assert_eq!(security.bans(), (0, 1));
    }

    #[test]
    fn auth_failures_and_floods_ban_and_disabled_bans_nobody() {
        let t0 = Instant::now();
        let mut security = Security::new(&SecuritySettings::default());
        let guesser = flow("192.0.2.9:5060");
        for _ in 0..5 {
            assert!(security.admit(t0, guesser, false, None));
            security.auth_failed(t0, guesser, false);
        }
        assert!(!security.admit(t0, guesser, false, None));
        assert_eq!(security.bans(), (1, 1));

        let mut off = Security::new(&SecuritySettings {
            enabled: false,
            ..SecuritySettings::default()
        });
        for _ in 0..100 {
            assert!(off.admit(t0, guesser, false, Some("sipvicious")));
            off.auth_failed(t0, guesser, false);
        }
        assert_eq!(off.bans(), (0, 0));
    }
}
