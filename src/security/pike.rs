//! Per-source request and authentication-failure counting, and bans with an expiry: the policy
//! Kamailio's pike module and fail2ban apply, without I/O and on time passed in.
//!
//! A source's counts live in fixed windows that start at its first request (or failure) after
//! the previous window ended. Every source has one deadline in a [`TimerTable`]: the moment its
//! state stops mattering (its windows ended, its ban lifted). Then it is forgotten, so memory
//! follows the sources active in the last window or banned, and is capped besides.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::settings::SecuritySettings;
use crate::timer::TimerTable;

/// Sources remembered at once; beyond this the one whose state ends soonest is forgotten.
/// About 200 bytes each, so a flood from spoofed addresses costs at most a few megabytes.
pub const MAX_SOURCES: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub flood_requests: u32,
    pub flood_window: Duration,
    pub auth_failures: u32,
    pub auth_window: Duration,
    pub ban: Duration,
}

impl Limits {
    pub fn from_settings(s: &SecuritySettings) -> Limits {
        let secs = |v: u32| Duration::from_secs(u64::from(v));
        Limits {
            flood_requests: s.flood_requests,
            flood_window: secs(s.flood_window_secs),
            auth_failures: s.auth_failures,
            auth_window: secs(s.auth_window_secs),
            ban: secs(s.ban_secs),
        }
    }
}

/// What to do with a request from a source that is not exempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Handle it.
    Pass,
    /// The source is banned: drop it unanswered.
    Drop,
    /// This request banned the source: drop it, and say so once.
    Banned,
}

/// A ban that ended (or was forgotten for room), with what it kept out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifted {
    pub ip: IpAddr,
    /// Requests dropped during the ban.
    pub dropped: u64,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

impl Window {
    fn new(now: Instant) -> Window {
        Window {
            start: now,
            count: 0,
        }
    }

    /// Counts one at `now`, starting a new window if none is open; the new count.
    fn hit(&mut self, now: Instant, length: Duration) -> u32 {
        if self.count == 0 || now >= self.start + length {
            *self = Window::new(now);
        }
        self.count += 1;
        self.count
    }
}

#[derive(Debug)]
struct Source {
    requests: Window,
    failures: Window,
    banned_until: Option<Instant>,
    dropped: u64,
}

#[derive(Debug)]
pub struct Pike {
    limits: Limits,
    capacity: usize,
    sources: BTreeMap<IpAddr, Source>,
    /// When each source's state stops mattering.
    forget: TimerTable<IpAddr>,
    banned: usize,
    bans_total: u64,
    /// Bans found over before their source's timer ran, for the next `handle_timeout`.
    lifted: Vec<Lifted>,
}

impl Pike {
    pub fn new(limits: Limits) -> Pike {
        Pike::with_capacity(limits, MAX_SOURCES)
    }

    pub fn with_capacity(limits: Limits, capacity: usize) -> Pike {
        Pike {
            limits,
            capacity: capacity.max(1),
            sources: BTreeMap::new(),
            forget: TimerTable::default(),
            banned: 0,
            bans_total: 0,
            lifted: Vec::new(),
        }
    }

    /// A request from `ip`, which is no trunk and no registered seat.
    pub fn on_request(&mut self, now: Instant, ip: IpAddr) -> Verdict {
        self.lift_if_over(now, ip);
        if self.drop_if_banned(now, ip) {
            return Verdict::Drop;
        }
        let (limit, window) = (self.limits.flood_requests, self.limits.flood_window);
        let source = self.source(now, ip);
        if source.requests.hit(now, window) >= limit {
            self.start_ban(now, ip);
            return Verdict::Banned;
        }
        self.rearm(ip);
        Verdict::Pass
    }

    /// `ip` failed digest authentication; true when that banned it.
    pub fn on_auth_failure(&mut self, now: Instant, ip: IpAddr) -> bool {
        self.lift_if_over(now, ip);
        if self.is_banned(now, ip) {
            return false;
        }
        let (limit, window) = (self.limits.auth_failures, self.limits.auth_window);
        let source = self.source(now, ip);
        if source.failures.hit(now, window) >= limit {
            self.start_ban(now, ip);
            return true;
        }
        self.rearm(ip);
        false
    }

    /// Bans `ip` outright (a scanner); false, and the request counted as dropped, when it
    /// already was.
    pub fn ban(&mut self, now: Instant, ip: IpAddr) -> bool {
        self.lift_if_over(now, ip);
        if self.drop_if_banned(now, ip) {
            return false;
        }
        self.source(now, ip);
        self.start_ban(now, ip);
        true
    }

    pub fn is_banned(&self, now: Instant, ip: IpAddr) -> bool {
        self.sources
            .get(&ip)
            .and_then(|s| s.banned_until)
            .is_some_and(|until| now < until)
    }

    /// Sources banned now.
    pub fn banned(&self) -> usize {
        self.banned
    }

    /// Bans started since this table was made.
    pub fn bans_total(&self) -> u64 {
        self.bans_total
    }

    /// Sources remembered now.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The next moment a source is to be forgotten or a ban lifted.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.forget.next()
    }

    /// Forgets every source whose state ended by `now`; the bans among them are lifted.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Lifted> {
        let mut lifted = std::mem::take(&mut self.lifted);
        while let Some((_, ip)) = self.forget.pop_expired(now) {
            lifted.extend(self.remove(ip));
        }
        lifted
    }

    /// A ban that is over is over, whether or not its timer has run yet.
    fn lift_if_over(&mut self, now: Instant, ip: IpAddr) {
        let Some(source) = self.sources.get_mut(&ip) else {
            return;
        };
        if source.banned_until.is_some_and(|until| now >= until) {
            source.banned_until = None;
            self.banned -= 1;
            self.lifted.push(Lifted {
                ip,
                dropped: std::mem::take(&mut source.dropped),
            });
        }
    }

    fn drop_if_banned(&mut self, now: Instant, ip: IpAddr) -> bool {
        match self.sources.get_mut(&ip) {
            Some(source) if source.banned_until.is_some_and(|until| now < until) => {
                source.dropped += 1;
                true
            }
            _ => false,
        }
    }

    /// The source's state, made (and room made for it) if it is new.
    fn source(&mut self, now: Instant, ip: IpAddr) -> &mut Source {
        if !self.sources.contains_key(&ip) && self.sources.len() >= self.capacity {
            if let Some((_, oldest)) = self
                .forget
                .next()
                .and_then(|at| self.forget.pop_expired(at))
            {
                self.remove(oldest);
            }
        }
        self.sources.entry(ip).or_insert_with(|| Source {
            requests: Window::new(now),
            failures: Window::new(now),
            banned_until: None,
            dropped: 0,
        })
    }

    fn start_ban(&mut self, now: Instant, ip: IpAddr) {
        if let Some(source) = self.sources.get_mut(&ip) {
            source.banned_until = Some(now + self.limits.ban);
            source.requests = Window::new(now);
            source.failures = Window::new(now);
            source.dropped = 1;
            self.banned += 1;
            self.bans_total += 1;
            self.rearm(ip);
        }
    }

    /// Sets the source's deadline to when the last of its windows and its ban ends.
    fn rearm(&mut self, ip: IpAddr) {
        let Some(source) = self.sources.get(&ip) else {
            return;
        };
        let limits = &self.limits;
        let open = |w: &Window, length: Duration| w.start + length * u32::from(w.count > 0);
        let mut at = open(&source.requests, limits.flood_window)
            .max(open(&source.failures, limits.auth_window));
        if let Some(until) = source.banned_until {
            at = at.max(until);
        }
        if self.forget.deadline(&ip) != Some(at) {
            self.forget.set(ip, at);
        }
    }

    fn remove(&mut self, ip: IpAddr) -> Option<Lifted> {
        self.forget.stop(&ip);
        let source = self.sources.remove(&ip)?;
        source.banned_until?;
        self.banned -= 1;
        Some(Lifted {
            ip,
            dropped: source.dropped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::from_settings(&SecuritySettings::default())
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// `n` requests spread evenly over 1.9 s; the verdicts.
    fn burst(pike: &mut Pike, t0: Instant, from: IpAddr, n: u64) -> Vec<Verdict> {
        (0..n)
            .map(|i| pike.on_request(t0 + ms(i * 1900 / n), from))
            .collect()
    }

    #[test]
    fn sixteen_requests_in_two_seconds_ban_and_fifteen_do_not() {
        let t0 = Instant::now();
        let mut pike = Pike::new(limits());
        let verdicts = burst(&mut pike, t0, ip(1), 15);
        assert!(verdicts.iter().all(|v| *v == Verdict::Pass));
        assert_eq!(pike.on_request(t0 + ms(1950), ip(1)), Verdict::Banned);
        assert_eq!(pike.on_request(t0 + ms(1960), ip(1)), Verdict::Drop);
        assert!(pike.is_banned(t0 + ms(2000), ip(1)));
        assert_eq!((pike.banned(), pike.bans_total()), (1, 1));

        // Fifteen a window, window after window, never bans.
        let mut other = Pike::new(limits());
        for round in 0..10 {
            let start = t0 + ms(round * 2000);
            assert!(burst(&mut other, start, ip(2), 15)
                .iter()
                .all(|v| *v == Verdict::Pass));
        }
        assert_eq!(other.bans_total(), 0);
    }

    #[test]
    fn a_ban_expires_after_its_period_and_counts_what_it_dropped() {
        let t0 = Instant::now();
        let mut pike = Pike::new(limits());
        burst(&mut pike, t0, ip(1), 16);
        for i in 0..9 {
            assert_eq!(pike.on_request(t0 + ms(3_000 + i), ip(1)), Verdict::Drop);
        }
        let until = t0 + ms(1900 * 15 / 16) + Duration::from_secs(300);
        assert_eq!(pike.poll_timeout(), Some(until));
        assert_eq!(pike.handle_timeout(until - ms(1)), []);
        assert!(pike.is_banned(until - ms(1), ip(1)));
        assert_eq!(
            pike.handle_timeout(until),
            [Lifted {
                ip: ip(1),
                dropped: 10
            }]
        );
        assert!(!pike.is_banned(until, ip(1)));
        assert_eq!((pike.banned(), pike.len()), (0, 0));
        assert_eq!(pike.on_request(until, ip(1)), Verdict::Pass);
    }

    #[test]
    fn a_ban_is_over_at_its_end_even_before_the_timer_runs() {
        let t0 = Instant::now();
        let mut pike = Pike::new(limits());
        assert!(pike.ban(t0, ip(1)));
        assert!(!pike.ban(t0 + ms(1), ip(1)));
        let after = t0 + Duration::from_secs(300);
        assert_eq!(pike.on_request(after, ip(1)), Verdict::Pass);
        assert_eq!((pike.banned(), pike.bans_total()), (0, 1));
        assert_eq!(
            pike.handle_timeout(after),
            [Lifted {
                ip: ip(1),
                dropped: 2
            }]
        );
        assert_eq!(pike.poll_timeout(), Some(after + Duration::from_secs(2)));
    }

    #[test]
    fn auth_failures_ban_after_the_limit_within_the_window() {
        let t0 = Instant::now();
        let mut pike = Pike::new(limits());
        let s = Duration::from_secs;
        // Four failures a minute apart never reach five in a window.
        for i in 0..4 {
            assert!(!pike.on_auth_failure(t0 + s(i * 61), ip(1)));
        }
        assert_eq!(pike.bans_total(), 0);
        let t1 = t0 + s(1000);
        for i in 0..4 {
            assert!(!pike.on_auth_failure(t1 + s(i * 10), ip(1)));
        }
        assert!(pike.on_auth_failure(t1 + s(50), ip(1)));
        assert_eq!(pike.on_request(t1 + s(51), ip(1)), Verdict::Drop);
        assert!(!pike.on_auth_failure(t1 + s(52), ip(1)));
        assert_eq!(pike.bans_total(), 1);
    }

    #[test]
    fn idle_sources_are_forgotten_and_the_table_is_capped() {
        let t0 = Instant::now();
        let mut pike = Pike::with_capacity(limits(), 100);
        for i in 0..=255u8 {
            pike.on_request(t0 + ms(u64::from(i)), ip(i));
        }
        assert_eq!(pike.len(), 100);
        // The newest are kept.
        for _ in 0..14 {
            pike.on_request(t0 + ms(300), ip(255));
        }
        assert_eq!(pike.on_request(t0 + ms(301), ip(255)), Verdict::Banned);
        assert_eq!(pike.handle_timeout(t0 + ms(2_500)), []);
        assert_eq!(pike.len(), 1, "only the banned source is left");
        assert_eq!(pike.handle_timeout(t0 + Duration::from_secs(400)).len(), 1);
        assert!(pike.is_empty());
        assert_eq!(pike.poll_timeout(), None);
    }

    #[test]
    fn a_source_with_a_recent_failure_is_kept_for_the_auth_window() {
        let t0 = Instant::now();
        let mut pike = Pike::new(limits());
        pike.on_auth_failure(t0, ip(1));
        pike.on_request(t0, ip(1));
        assert_eq!(pike.poll_timeout(), Some(t0 + Duration::from_secs(60)));
        pike.handle_timeout(t0 + Duration::from_secs(3));
        assert_eq!(pike.len(), 1);
    }
}
