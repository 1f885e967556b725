//! Tones for the RTP probe: making them (a sine in 20 ms G.711 μ-law frames) and finding them
//! (a Goertzel filter), so that a test can say which parties a leg hears when each party sends
//! a tone of its own: the caller 440 Hz, the unit 1 kHz, the seat 700 Hz or silence.
//!
//! The decision, `ToneLevel::heard`: the tone's amplitude must reach `MIN_TONE_LEVEL` and stand
//! `TONE_OVER_FLOOR` times above the floor, the mean amplitude at four frequencies beside it
//! (`FLOOR_OFFSETS_HZ`). A pure test tone of amplitude 8000 measures about 8000 with a floor in
//! the tens (G.711's quantisation noise of a tone lies at its harmonics); hold music or a mix
//! holding the tone does not hide it; speech or noise, loud at every frequency, is not a tone.

use std::f64::consts::PI;

/// Samples per second of G.711.
pub const SAMPLE_RATE: f64 = 8000.0;
/// Samples in a 20 ms frame.
pub const FRAME_SAMPLES: usize = 160;
/// The least amplitude (16-bit scale, full scale 32767) a heard tone has: -38 dBFS. The test
/// tones are 8000 (-12 dBFS); hold music peaks at -14 dBFS.
pub const MIN_TONE_LEVEL: f64 = 400.0;
/// How far (as a ratio of amplitudes: 20 dB) a heard tone stands above the floor.
pub const TONE_OVER_FLOOR: f64 = 10.0;
/// Where the floor is measured, in Hz beside the tone. Chosen so that the test tones (440, 700,
/// 1000 Hz) never fall on one another's floor.
pub const FLOOR_OFFSETS_HZ: [f64; 4] = [-200.0, -100.0, 100.0, 200.0];
/// The fewest samples a decision is made on (200 ms): fewer is "not heard".
pub const MIN_SAMPLES: usize = 1600;

/// The amplitude of the `hz` component of `samples` (8 kHz), on the samples' own scale: a sine
/// of amplitude A at `hz` measures about A. A Goertzel filter over the Hann-windowed samples,
/// so that a loud tone leaks little into frequencies 100 Hz away.
pub fn goertzel_level(samples: &[i16], hz: f64) -> f64 {
    let n = samples.len();
    if n < 2 {
        return 0.0;
    }
    let coeff = 2.0 * (2.0 * PI * hz / SAMPLE_RATE).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mut window_sum = 0.0;
    for (i, &x) in samples.iter().enumerate() {
        let w = 0.5 - 0.5 * (2.0 * PI * i as f64 / (n - 1) as f64).cos();
        window_sum += w;
        let s0 = f64::from(x) * w + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0);
    // A sine of amplitude A at hz gives |X| = A / 2 * sum(window).
    2.0 * power.sqrt() / window_sum
}

/// A tone's amplitude in some audio, beside the floor around it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneLevel {
    pub hz: f64,
    /// Amplitude at `hz` (16-bit scale).
    pub level: f64,
    /// Mean amplitude at `hz` + `FLOOR_OFFSETS_HZ`.
    pub floor: f64,
    /// How many samples were looked at.
    pub samples: usize,
}

impl ToneLevel {
    pub fn measure(samples: &[i16], hz: f64) -> ToneLevel {
        let floor = FLOOR_OFFSETS_HZ
            .iter()
            .map(|offset| goertzel_level(samples, hz + offset))
            .sum::<f64>()
            / FLOOR_OFFSETS_HZ.len() as f64;
        ToneLevel {
            hz,
            level: goertzel_level(samples, hz),
            floor,
            samples: samples.len(),
        }
    }

    /// Whether the tone is there (see the module's documentation).
    pub fn heard(&self) -> bool {
        self.samples >= MIN_SAMPLES
            && self.level >= MIN_TONE_LEVEL
            && self.level >= TONE_OVER_FLOOR * self.floor
    }
}

/// What a probe sends in its 20 ms frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Audio {
    /// μ-law silence (0xFF).
    Silence,
    /// A sine of `hz` at `amplitude` (16-bit scale), continuous across frames.
    Tone { hz: f64, amplitude: f64 },
}

impl Audio {
    /// The test tones' amplitude: -12 dBFS, so two of them mixed do not clip.
    pub const AMPLITUDE: f64 = 8000.0;

    pub fn tone(hz: f64) -> Audio {
        Audio::Tone {
            hz,
            amplitude: Audio::AMPLITUDE,
        }
    }

    /// The linear sample number `n` of the stream.
    pub fn sample(&self, n: u64) -> i16 {
        match *self {
            Audio::Silence => 0,
            Audio::Tone { hz, amplitude } => {
                // The phase of sample n, kept small so that long streams stay exact.
                let cycle = (n as f64 * hz / SAMPLE_RATE).fract();
                (amplitude * (2.0 * PI * cycle).sin()).round() as i16
            }
        }
    }

    /// One μ-law frame, samples `first`..`first + 160`.
    pub fn frame(&self, first: u64) -> [u8; FRAME_SAMPLES] {
        let mut frame = [0xff; FRAME_SAMPLES];
        for (i, byte) in frame.iter_mut().enumerate() {
            *byte = linear_to_ulaw(self.sample(first + i as u64));
        }
        frame
    }
}

/// A 16-bit linear sample to G.711 μ-law (ITU-T G.711, with the usual bias of 0x84 and clip at
/// 32635).
pub fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut magnitude = i32::from(sample);
    let sign = if magnitude < 0 {
        magnitude = -magnitude;
        0x80
    } else {
        0
    };
    let magnitude = magnitude.min(CLIP) + BIAS;
    // The segment: the highest set bit among bits 7..=14.
    let mut exponent = 7;
    while exponent > 0 && magnitude & (0x80 << exponent) == 0 {
        exponent -= 1;
    }
    let mantissa = (magnitude >> (exponent + 3)) & 0x0f;
    // At most 0xff: fits.
    !((sign | (exponent << 4) | mantissa) as u8)
}
