//! Handing freed heap back to the system after a flood. glibc's malloc keeps what a burst of
//! transactions and calls freed in its arenas (one per thread that allocated), so the RSS
//! stays near the flood's high-water mark and each further flood adds to it. Once the load
//! has fallen to a quarter of the peak seen since the last trim (and at most every
//! `TRIM_EVERY`), `malloc_trim(0)` gives every arena's free pages back. The load is the core's
//! live transactions, asked for every `LOOK_EVERY`.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::core::CoreSnapshot;

const LOOK_EVERY: Duration = Duration::from_secs(5);
const TRIM_EVERY: Duration = Duration::from_secs(15);
/// Below this peak there is nothing worth trimming.
const WORTH_IT: usize = 1_000;

/// When to trim: after the load fell from a peak worth trimming.
#[derive(Debug, Default)]
pub struct TrimRule {
    peak: usize,
    last: Option<Instant>,
}

impl TrimRule {
    /// The load is `live` at `now`; true when the heap should be trimmed now.
    pub fn observe(&mut self, now: Instant, live: usize) -> bool {
        self.peak = self.peak.max(live);
        let rested = self.last.is_none_or(|at| now >= at + TRIM_EVERY);
        if rested && self.peak >= WORTH_IT && live * 4 <= self.peak {
            self.last = Some(now);
            self.peak = live;
            return true;
        }
        false
    }
}

/// Watches the core's load until `stop`, trimming the heap after each flood.
pub async fn run(snapshots: mpsc::Sender<oneshot::Sender<CoreSnapshot>>, stop: CancellationToken) {
    let mut rule = TrimRule::default();
    let mut tick = tokio::time::interval(LOOK_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let (reply, snapshot) = oneshot::channel();
        if snapshots.send(reply).await.is_err() {
            return;
        }
        let Ok(snapshot) = snapshot.await else {
            return;
        };
        let live = snapshot.server_transactions + snapshot.client_transactions + snapshot.calls;
        if rule.observe(Instant::now(), live) {
            let started = Instant::now();
            trim();
            tracing::info!(
                live,
                took_ms = started.elapsed().as_millis() as u64,
                "freed heap handed back after a load peak"
            );
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim takes a plain integer and only walks glibc's own arenas under their
    // locks; it touches no memory of ours.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heap_is_trimmed_once_a_peak_has_passed_and_not_more_often() {
        let start = Instant::now();
        let mut rule = TrimRule::default();
        assert!(!rule.observe(start, 200), "nothing worth it");
        assert!(!rule.observe(start, 40_000), "at the peak");
        assert!(
            !rule.observe(start + LOOK_EVERY, 20_000),
            "still half of it"
        );
        assert!(
            rule.observe(start + 2 * LOOK_EVERY, 9_000),
            "a quarter: trim"
        );
        // Another flood right after: the next trim waits its turn.
        assert!(!rule.observe(start + 3 * LOOK_EVERY, 50_000));
        assert!(!rule.observe(start + 4 * LOOK_EVERY - Duration::from_millis(1), 100));
        assert!(rule.observe(start + 2 * LOOK_EVERY + TRIM_EVERY, 100));
        // Quiet from then on: no trim.
        assert!(!rule.observe(start + 10 * TRIM_EVERY, 100));
    }
}
