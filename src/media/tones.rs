//! Tones the daemon plays in a party's ear on top of what it hears (an overlay): made once at
//! start-up, as 8 kHz samples, and encoded with the prompts.

use std::f64::consts::PI;

/// Two short high beeps for the seat: the unit it reached for rang out and was given up.
pub const UNIT_GIVEN_UP: &str = "tone_unit_given_up";

/// Three short beeps for the seat: its hand-off's limit is a minute (`warning_secs`) away.
pub const HANDOFF_WARNING: &str = "tone_handoff_warning";

/// One long low tone for the seat: its hand-off has passed its limit.
pub const HANDOFF_BREACH: &str = "tone_handoff_breach";

/// One short beep for the seat: the contact that rang did not answer; the next one rings.
pub const HUNT_MOVED_ON: &str = "tone_hunt_moved_on";

/// Ringback for the seat while a unit's contact rings: 450 Hz, 1 s on and 4 s off (the
/// Chinese ringing tone), played looping.
pub const RINGBACK: &str = "tone_ringback";

const SAMPLE_RATE: f64 = 8000.0;
/// -12 dBFS: clearly heard over a conversation, well below clipping when mixed.
const AMPLITUDE: f64 = 8000.0;

/// Every tone, by the name it is played under.
pub fn all() -> Vec<(&'static str, Vec<i16>)> {
    vec![
        (UNIT_GIVEN_UP, beeps(1400.0, 300, 150, 2)),
        (HANDOFF_WARNING, beeps(1800.0, 200, 150, 3)),
        (HANDOFF_BREACH, beeps(600.0, 900, 100, 1)),
        (HUNT_MOVED_ON, beeps(1100.0, 150, 50, 1)),
        (RINGBACK, beeps(450.0, 1000, 4000, 1)),
    ]
}

/// `count` beeps of `hz`, each `on_ms` long with `off_ms` of silence after it.
fn beeps(hz: f64, on_ms: usize, off_ms: usize, count: usize) -> Vec<i16> {
    let on = on_ms * 8;
    let off = off_ms * 8;
    let mut samples = Vec::with_capacity(count * (on + off));
    for _ in 0..count {
        samples.extend((0..on).map(|n| {
            let t = n as f64 / SAMPLE_RATE;
            (AMPLITUDE * (2.0 * PI * hz * t).sin()) as i16
        }));
        samples.extend(std::iter::repeat_n(0, off));
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beeps_are_on_then_silent_in_turn() {
        let samples = beeps(1400.0, 300, 150, 2);
        assert_eq!(samples.len(), 2 * (2400 + 1200));
        let peak = |part: &[i16]| part.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!(peak(&samples[..2400]) > 7900);
        assert_eq!(peak(&samples[2400..3600]), 0);
        assert!(peak(&samples[3600..6000]) > 7900);
        assert_eq!(peak(&samples[6000..]), 0);
        // 1400 Hz: about 2 * 1400 * 0.3 zero crossings in a beep.
        let crossings = samples[..2400]
            .windows(2)
            .filter(|w| (w[0] < 0) != (w[1] < 0))
            .count();
        assert!((830..=850).contains(&crossings), "{crossings}");
    }

    #[test]
    fn every_tone_has_a_name_of_its_own() {
        let tones = all();
        let mut names: Vec<_> = tones.iter().map(|(n, _)| *n).collect();
        names.dedup();
        assert_eq!(names.len(), tones.len());
    }
}
