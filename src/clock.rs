//! Wall-clock time for records. Monotonic time drives the state machines; the time written into
//! a record comes from here, so tests can set it.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to.
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    pub fn new(start: SystemTime) -> Self {
        Self(Mutex::new(start))
    }

    pub fn advance(&self, by: Duration) {
        if let Ok(mut now) = self.0.lock() {
            *now += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.0.lock().map(|t| *t).unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

/// The wall-clock time of a monotonic instant in the recent past or future.
pub fn wall_time(clock: &dyn Clock, at: Instant) -> SystemTime {
    let now = Instant::now();
    let wall = clock.now();
    if at <= now {
        wall - (now - at)
    } else {
        wall + (at - now)
    }
}
