//! A source's level in what a listener hears: a factor in Q12 fixed point, so mixing
//! multiplies integers and never touches floating point per sample.

/// Fractional bits of [`Gain`].
const SHIFT: u32 = 12;
const ONE: i32 = 1 << SHIFT;
/// The largest gain, 8 (+18 dB); `i16::MIN * 8 << 12` still fits in an `i32`.
const MAX: f32 = 8.0;

/// How loud one source is in a listener's ear: 1.0 as sent, 0.5 about 6 dB lower, 0 mute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gain(i32);

impl Gain {
    pub const UNITY: Gain = Gain(ONE);
    pub const MUTE: Gain = Gain(0);

    /// `factor` clamped to 0..=8; a NaN is mute.
    pub fn new(factor: f32) -> Gain {
        if factor.is_nan() {
            return Gain::MUTE;
        }
        Gain((factor.clamp(0.0, MAX) * ONE as f32).round() as i32)
    }

    /// A gain in decibels (-6 dB is about half the amplitude), clamped as [`Gain::new`].
    pub fn from_db(db: f32) -> Gain {
        Gain::new(10f32.powf(db / 20.0))
    }

    pub fn factor(self) -> f32 {
        self.0 as f32 / ONE as f32
    }

    pub fn is_unity(self) -> bool {
        self.0 == ONE
    }

    /// One sample at this gain, not yet saturated.
    #[inline]
    pub fn apply(self, sample: i16) -> i32 {
        if self.0 == ONE {
            i32::from(sample)
        } else {
            (i32::from(sample) * self.0) >> SHIFT
        }
    }
}

impl Default for Gain {
    fn default() -> Gain {
        Gain::UNITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_decibels_and_clamping() {
        assert_eq!(Gain::new(1.0), Gain::UNITY);
        assert_eq!(Gain::new(0.5).apply(1000), 500);
        assert_eq!(Gain::new(2.0).apply(-1000), -2000);
        assert_eq!(Gain::new(-3.0), Gain::MUTE);
        assert_eq!(Gain::new(f32::NAN), Gain::MUTE);
        assert_eq!(Gain::new(100.0).factor(), 8.0);
        assert!((Gain::from_db(-6.0).factor() - 0.501).abs() < 0.001);
        assert_eq!(Gain::new(8.0).apply(i16::MIN), -262_144);
    }
}
