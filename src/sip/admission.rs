//! Admission of new calls under load: a new call is refused at once with 503 and Retry-After
//! when the daemon is too busy to serve it well, before a call task or an RTP port exists, so
//! the calls in progress keep what the daemon has. Sans-IO: the core passes in what it sees.

use std::time::Duration;

use serde::Deserialize;

use crate::checks::Issue;

/// When new calls are refused. Written as `[overload]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OverloadSettings {
    /// Refuse new calls while the transport's queue into the core is fuller than this share.
    pub inbound_fraction: f64,
    /// Refuse new calls while the core's loop runs this late (its lag, smoothed).
    pub lag_ms: u64,
    /// Refuse new calls while this many taken calls wait for their task's first step (the
    /// daemon's own work, before any phone rings): the call tasks are behind.
    pub max_setups: usize,
    /// Refuse new calls while the store's queue is fuller than this share.
    pub store_fraction: f64,
    /// What a refused caller is told to wait (`Retry-After`).
    pub retry_after_secs: u32,
}

impl Default for OverloadSettings {
    fn default() -> Self {
        Self {
            inbound_fraction: 0.5,
            lag_ms: 250,
            max_setups: 100,
            store_fraction: 0.8,
            retry_after_secs: 5,
        }
    }
}

impl OverloadSettings {
    pub fn validate(&self) -> Vec<Issue> {
        let mut issues = Vec::new();
        for (key, share) in [
            ("overload.inbound_fraction", self.inbound_fraction),
            ("overload.store_fraction", self.store_fraction),
        ] {
            if !(share > 0.0 && share <= 1.0) {
                issues.push(Issue::new(key, "must be above 0 and at most 1"));
            }
        }
        if !(1..=100_000).contains(&self.max_setups) {
            issues.push(Issue::new("overload.max_setups", "must be 1 to 100000"));
        }
        if !(10..=10_000).contains(&self.lag_ms) {
            issues.push(Issue::new("overload.lag_ms", "must be 10 to 10000"));
        }
        if !(1..=3600).contains(&self.retry_after_secs) {
            issues.push(Issue::new("overload.retry_after_secs", "must be 1 to 3600"));
        }
        issues
    }
}

/// What the core sees when a new call arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    pub calls: usize,
    pub max_calls: usize,
    /// Calls taken whose task has not yet taken its first step.
    pub setting_up: usize,
    pub inbound_queued: usize,
    pub inbound_capacity: usize,
    pub store_queued: usize,
    pub store_capacity: usize,
}

/// Why a new call is refused; the label of `hotline_calls_rejected_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `sip.max_calls` calls are up, or the daemon is stopping.
    Overload,
    /// The transport's queue into the core is filling: the core is behind.
    InboundQueue,
    /// Calls taken wait for their tasks: the call tasks are behind.
    Setups,
    /// The core's loop runs late.
    Lag,
    /// The store cannot keep up with the records.
    StoreQueue,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Overload => "overload",
            Refusal::InboundQueue => "overload_queue",
            Refusal::Setups => "overload_setup",
            Refusal::Lag => "overload_lag",
            Refusal::StoreQueue => "overload_store",
        }
    }
}

/// The core loop's lag, smoothed: each probe's lateness moves it an eighth of the way, so one
/// late wake-up does not shed calls and a busy second does.
#[derive(Debug)]
pub struct Admission {
    settings: OverloadSettings,
    lag: Duration,
}

impl Admission {
    pub fn new(settings: OverloadSettings) -> Self {
        Self {
            settings,
            lag: Duration::ZERO,
        }
    }

    /// How late a periodic wake-up of the core came.
    pub fn observe_lag(&mut self, late: Duration) {
        self.lag = (self.lag * 7 + late) / 8;
    }

    pub fn lag(&self) -> Duration {
        self.lag
    }

    pub fn retry_after_secs(&self) -> u32 {
        self.settings.retry_after_secs
    }

    /// Whether a new call may be taken now.
    pub fn admit(&self, load: &Load) -> Result<(), Refusal> {
        let fuller_than = |queued: usize, capacity: usize, share: f64| {
            capacity > 0 && queued as f64 > share * capacity as f64
        };
        if load.calls >= load.max_calls {
            Err(Refusal::Overload)
        } else if load.setting_up >= self.settings.max_setups {
            Err(Refusal::Setups)
        } else if fuller_than(
            load.inbound_queued,
            load.inbound_capacity,
            self.settings.inbound_fraction,
        ) {
            Err(Refusal::InboundQueue)
        } else if self.lag > Duration::from_millis(self.settings.lag_ms) {
            Err(Refusal::Lag)
        } else if fuller_than(
            load.store_queued,
            load.store_capacity,
            self.settings.store_fraction,
        ) {
            Err(Refusal::StoreQueue)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calm() -> Load {
        Load {
            calls: 10,
            max_calls: 100,
            setting_up: 3,
            inbound_queued: 0,
            inbound_capacity: 1000,
            store_queued: 0,
            store_capacity: 1000,
        }
    }

    #[test]
    fn a_calm_daemon_takes_calls() {
        assert_eq!(
            Admission::new(OverloadSettings::default()).admit(&calm()),
            Ok(())
        );
    }

    #[test]
    fn each_sign_of_load_refuses_new_calls() {
        let a = Admission::new(OverloadSettings::default());
        let full = Load {
            calls: 100,
            ..calm()
        };
        assert_eq!(a.admit(&full), Err(Refusal::Overload));
        let behind = Load {
            inbound_queued: 501,
            ..calm()
        };
        assert_eq!(a.admit(&behind), Err(Refusal::InboundQueue));
        let half = Load {
            inbound_queued: 500,
            ..calm()
        };
        assert_eq!(a.admit(&half), Ok(()));
        let slow_store = Load {
            store_queued: 801,
            ..calm()
        };
        assert_eq!(a.admit(&slow_store), Err(Refusal::StoreQueue));
        let tasks_behind = Load {
            setting_up: 100,
            ..calm()
        };
        assert_eq!(a.admit(&tasks_behind), Err(Refusal::Setups));
        let keeping_up = Load {
            setting_up: 99,
            ..calm()
        };
        assert_eq!(a.admit(&keeping_up), Ok(()));
    }

    #[test]
    fn a_late_loop_sheds_once_its_lag_builds_up_and_recovers_when_it_falls() {
        let mut a = Admission::new(OverloadSettings::default());
        // One very late wake-up is smoothed away.
        a.observe_lag(Duration::from_millis(1000));
        assert_eq!(a.lag(), Duration::from_millis(125));
        assert_eq!(a.admit(&calm()), Ok(()));
        for _ in 0..8 {
            a.observe_lag(Duration::from_millis(1000));
        }
        assert_eq!(a.admit(&calm()), Err(Refusal::Lag));
        // The load falls: within a few probes the daemon takes calls again.
        let mut probes = 0;
        while a.admit(&calm()).is_err() {
            a.observe_lag(Duration::ZERO);
            probes += 1;
        }
        assert!(probes <= 10, "{probes} probes to recover");
    }

    #[test]
    fn settings_out_of_range_are_refused_with_their_keys() {
        let bad = OverloadSettings {
            inbound_fraction: 0.0,
            lag_ms: 5,
            max_setups: 0,
            store_fraction: 1.5,
            retry_after_secs: 0,
        };
        let keys: Vec<String> = bad.validate().into_iter().map(|i| i.key).collect();
        assert_eq!(
            keys,
            [
                "overload.inbound_fraction",
                "overload.store_fraction",
                "overload.max_setups",
                "overload.lag_ms",
                "overload.retry_after_secs"
            ]
        );
        assert!(OverloadSettings::default().validate().is_empty());
    }
}
