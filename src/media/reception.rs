//! What a leg's received stream tells of the network: packets lost and interarrival jitter,
//! as RFC 3550 computes them for receiver reports (A.1 for the sequence numbers, A.8 for the
//! jitter), from the sequence numbers, RTP timestamps and arrival times of the packets the hub
//! accepts. Sans-IO and allocation-free: the hub passes each packet's fields and arrival time.

use std::time::Duration;

use tokio::time::Instant;

/// A jump in sequence numbers past this is a new start of the stream, not loss (A.1's
/// MAX_DROPOUT); anything behind by up to MAX_MISORDER is a late packet.
const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;

/// The stream of one leg as received so far.
#[derive(Debug, Default)]
pub struct Reception {
    started: Option<Started>,
    /// Packets received since the stream (re)started.
    received: u64,
    /// Interarrival jitter in timestamp units, times 16 (A.8's fixed point).
    jitter16: u64,
}

#[derive(Debug, Clone, Copy)]
struct Started {
    base_seq: u16,
    max_seq: u16,
    /// Wraps of the 16-bit sequence number, as a count of 65,536s.
    cycles: u64,
    /// The last packet's transit time in timestamp units (arrival minus RTP timestamp).
    transit: i64,
    origin: Instant,
}

impl Reception {
    /// One packet accepted from the leg: its sequence number, RTP timestamp and arrival time;
    /// `clock_rate` is the payload's timestamp rate (8,000 for G.711).
    pub fn on_packet(&mut self, seq: u16, timestamp: u32, arrival: Instant, clock_rate: u32) {
        let Some(s) = self.started.as_mut() else {
            self.started = Some(Started {
                base_seq: seq,
                max_seq: seq,
                cycles: 0,
                transit: transit(timestamp, arrival, arrival, clock_rate),
                origin: arrival,
            });
            self.received = 1;
            return;
        };
        let delta = seq.wrapping_sub(s.max_seq);
        if delta == 0 {
            return; // a duplicate
        } else if delta < MAX_DROPOUT {
            if seq < s.max_seq {
                s.cycles += 1;
            }
            s.max_seq = seq;
        } else if delta <= u16::MAX - MAX_MISORDER {
            // A jump too far to be loss: the sender restarted; count from here.
            *s = Started {
                base_seq: seq,
                max_seq: seq,
                cycles: 0,
                transit: s.transit,
                origin: s.origin,
            };
            self.received = 0;
        }
        self.received += 1;
        let transit = transit(timestamp, arrival, s.origin, clock_rate);
        let d = (transit - s.transit).unsigned_abs();
        s.transit = transit;
        // J += (|D| - J) / 16, in sixteenths.
        self.jitter16 = self.jitter16 + d - (self.jitter16 + 8) / 16;
    }

    /// Packets expected and not received since the stream started (never negative: late
    /// duplicates are not a gain).
    pub fn lost(&self) -> u64 {
        let Some(s) = self.started else {
            return 0;
        };
        // The highest sequence number extended with its wraps, less where the stream began.
        let extended_max = s.cycles * 65_536 + u64::from(s.max_seq);
        let expected = (extended_max + 1).saturating_sub(u64::from(s.base_seq));
        expected.saturating_sub(self.received)
    }

    /// The interarrival jitter now, in timestamp units.
    pub fn jitter(&self) -> u64 {
        self.jitter16 / 16
    }

    /// The jitter as a duration, at `clock_rate`.
    pub fn jitter_time(&self, clock_rate: u32) -> Duration {
        Duration::from_secs_f64(self.jitter() as f64 / f64::from(clock_rate.max(1)))
    }
}

/// Arrival time in timestamp units since `origin`, minus the packet's RTP timestamp.
fn transit(timestamp: u32, arrival: Instant, origin: Instant, clock_rate: u32) -> i64 {
    let since = arrival.saturating_duration_since(origin);
    let arrival_units = (since.as_micros() as u64 * u64::from(clock_rate) / 1_000_000) as i64;
    arrival_units.wrapping_sub(i64::from(timestamp))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 8_000;
    const PTIME: Duration = Duration::from_millis(20);

    /// A stream of `n` packets from `first`, 20 ms and 160 units apart, each delayed by
    /// `late(i)` on top of its pace.
    fn stream(r: &mut Reception, first: u16, n: u16, skip: &[u16], late: impl Fn(u16) -> Duration) {
        let start = Instant::now();
        for i in 0..n {
            if skip.contains(&i) {
                continue;
            }
            let seq = first.wrapping_add(i);
            let timestamp = 1_000 + u32::from(i) * 160;
            r.on_packet(seq, timestamp, start + PTIME * u32::from(i) + late(i), RATE);
        }
    }

    #[test]
    fn a_steady_stream_loses_nothing_and_has_no_jitter() {
        let mut r = Reception::default();
        stream(&mut r, 100, 500, &[], |_| Duration::ZERO);
        assert_eq!(r.lost(), 0);
        assert_eq!(r.jitter(), 0);
    }

    #[test]
    fn missing_packets_are_lost_across_the_sequence_wrap() {
        let mut r = Reception::default();
        stream(&mut r, 65_500, 100, &[10, 40, 41, 90], |_| Duration::ZERO);
        assert_eq!(r.lost(), 4);
    }

    #[test]
    fn a_late_packet_and_a_duplicate_are_not_loss() {
        let mut r = Reception::default();
        let start = Instant::now();
        for (seq, at) in [(1u16, 0u32), (3, 2), (2, 2), (3, 2), (4, 3)] {
            r.on_packet(seq, u32::from(seq) * 160, start + PTIME * at, RATE);
        }
        assert_eq!(r.lost(), 0);
    }

    /// Packets alternately on time and 10 ms late: |D| is 80 units each time, and the jitter
    /// converges on it (A.8's estimator).
    #[test]
    fn alternating_delay_converges_on_the_jitter() {
        let mut r = Reception::default();
        stream(&mut r, 0, 400, &[], |i| {
            if i % 2 == 1 {
                Duration::from_millis(10)
            } else {
                Duration::ZERO
            }
        });
        assert!((75..=80).contains(&r.jitter()), "{}", r.jitter());
        let ms = r.jitter_time(RATE).as_secs_f64() * 1000.0;
        assert!((9.0..=10.0).contains(&ms), "{ms}");
    }

    #[test]
    fn a_sender_that_restarts_far_away_is_not_counted_as_loss() {
        let mut r = Reception::default();
        stream(&mut r, 10, 50, &[], |_| Duration::ZERO);
        stream(&mut r, 30_000, 50, &[], |_| Duration::ZERO);
        assert_eq!(r.lost(), 0);
    }
}
