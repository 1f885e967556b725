//! G.711 companding (ITU-T G.711, 11/88): μ-law (PCMU) and A-law (PCMA).
//!
//! Samples are 16-bit linear PCM. G.711 itself works on 14-bit (μ-law) and
//! 13-bit (A-law) magnitudes; we keep the 16-bit scale throughout so the
//! decoded value of each code is the midpoint of its quantisation interval
//! scaled by 4 (μ-law) or 8 (A-law), which is what every RTP peer expects.
//!
//! Decoding is a 256-entry table built by `const fn` at compile time, since
//! every packet of a prompt goes through it. Encoding finds the segment from
//! the position of the highest set bit (`leading_zeros`) rather than a search
//! loop, so it is a handful of integer operations with no data-dependent
//! branches.

use super::sdp::Codec;

/// μ-law code for +0, what silence encodes to.
pub const ULAW_SILENCE: u8 = 0xFF;
/// A-law code for the smallest positive level, what silence encodes to.
pub const ALAW_SILENCE: u8 = 0xD5;

/// μ-law bias (33 in the 14-bit domain of G.711, ×4 here): adding it makes
/// segment boundaries fall on powers of two.
const ULAW_BIAS: u16 = 0x84;
/// Largest magnitude μ-law can represent before the bias would overflow the
/// top segment (8158 in the 14-bit domain, ×4).
const ULAW_CLIP: u16 = 32635;

/// Magnitude for a sign-and-magnitude coder. Negative samples use one's
/// complement (`!x` = -x - 1): the quantiser is then symmetric about -0.5,
/// which is how G.711's two zero codes (±0) split the range, and
/// `i16::MIN` cannot overflow. This is also the ITU-T G.191 reference
/// coder's convention; coders that negate in two's complement (Sun's
/// `g711.c`, CPython's `audioop`) differ from it by one code for some
/// negative μ-law samples that sit exactly on a decision level.
#[inline]
fn sign_magnitude(sample: i16) -> (bool, u16) {
    let negative = sample < 0;
    let mag = if negative { !sample } else { sample };
    // `mag` is in 0..=i16::MAX here, so the cast is lossless.
    (negative, mag as u16)
}

/// Index of the highest set bit of a non-zero value.
#[inline]
fn highest_bit(v: u16) -> u16 {
    15 - v.leading_zeros() as u16
}

/// Encodes one sample to μ-law.
#[inline]
pub fn ulaw_encode(sample: i16) -> u8 {
    let (negative, mag) = sign_magnitude(sample);
    let biased = mag.min(ULAW_CLIP) + ULAW_BIAS;
    // biased is in 0x84..=0x7FFF, so the highest bit is 7..=14: exponent 0..=7.
    let exponent = highest_bit(biased) - 7;
    let mantissa = (biased >> (exponent + 3)) & 0x0F;
    let sign = if negative { 0x80 } else { 0 };
    // G.711 transmits μ-law with all bits inverted (so silence is not a run
    // of zero bits on the line); +0 therefore goes out as 0xFF.
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// Decodes one μ-law code.
#[inline]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_DECODE[code as usize]
}

/// Encodes one sample to A-law.
#[inline]
pub fn alaw_encode(sample: i16) -> u8 {
    let (negative, mag) = sign_magnitude(sample);
    // A-law quantises the 13-bit magnitude (0..=4095).
    let mag13 = mag >> 3;
    // Segment 0 and 1 share a step size; or-ing in bit 4 makes values below
    // 32 land in segment 0 without a branch.
    let segment = highest_bit(mag13 | 0x10) - 4;
    let mantissa = (mag13 >> segment.max(1)) & 0x0F;
    let sign = if negative { 0 } else { 0x80 };
    // G.711 inverts the even bits of A-law codes (0x55) on the line.
    (sign | (segment << 4) as u8 | mantissa as u8) ^ 0x55
}

/// Decodes one A-law code.
#[inline]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_DECODE[code as usize]
}

const fn ulaw_decode_entry(code: u8) -> i16 {
    let code = !code;
    let exponent = (code >> 4) & 0x07;
    let mantissa = (code & 0x0F) as i16;
    // Midpoint of the interval: (2·mantissa + 33)·2^exponent − 33, ×4.
    let mag = (((mantissa << 3) + ULAW_BIAS as i16) << exponent) - ULAW_BIAS as i16;
    if code & 0x80 != 0 {
        -mag
    } else {
        mag
    }
}

const fn alaw_decode_entry(code: u8) -> i16 {
    let code = code ^ 0x55;
    let segment = (code >> 4) & 0x07;
    let mantissa = (code & 0x0F) as i16;
    // Midpoint of the interval in the 13-bit domain, then ×8.
    let mag13 = if segment == 0 {
        (mantissa << 1) + 1
    } else {
        ((mantissa << 1) + 33) << (segment - 1)
    };
    let mag = mag13 << 3;
    if code & 0x80 != 0 {
        mag
    } else {
        -mag
    }
}

const fn build_ulaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = ulaw_decode_entry(i as u8);
        i += 1;
    }
    table
}

const fn build_alaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = alaw_decode_entry(i as u8);
        i += 1;
    }
    table
}

static ULAW_DECODE: [i16; 256] = build_ulaw_table();
static ALAW_DECODE: [i16; 256] = build_alaw_table();

/// Encodes PCM into G.711 codes, `min(pcm.len(), out.len())` samples; returns
/// how many were written. Never allocates, so it can run per RTP packet.
pub fn encode_frame(codec: Codec, pcm: &[i16], out: &mut [u8]) -> usize {
    let n = pcm.len().min(out.len());
    let encode = match codec {
        Codec::Pcmu => ulaw_encode,
        Codec::Pcma => alaw_encode,
    };
    for (o, &s) in out[..n].iter_mut().zip(&pcm[..n]) {
        *o = encode(s);
    }
    n
}

/// Decodes G.711 codes into PCM, `min(codes.len(), out.len())` samples;
/// returns how many were written. Never allocates.
pub fn decode_frame(codec: Codec, codes: &[u8], out: &mut [i16]) -> usize {
    let n = codes.len().min(out.len());
    let table = match codec {
        Codec::Pcmu => &ULAW_DECODE,
        Codec::Pcma => &ALAW_DECODE,
    };
    for (o, &c) in out[..n].iter_mut().zip(&codes[..n]) {
        *o = table[c as usize];
    }
    n
}

/// The code silence encodes to, for padding frames.
pub fn silence(codec: Codec) -> u8 {
    match codec {
        Codec::Pcmu => ULAW_SILENCE,
        Codec::Pcma => ALAW_SILENCE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_codes() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(ulaw_decode(0xFF), 0);
        // μ-law has a negative zero too.
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(silence(Codec::Pcmu), ulaw_encode(0));
        assert_eq!(silence(Codec::Pcma), alaw_encode(0));
    }

    #[test]
    fn extremes_match_g711_tables() {
        // μ-law: code 0x80 is the top of the positive range (8031 in the
        // 14-bit domain ×4 = 32124), 0x00 the bottom of the negative.
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        // A-law: 0xAA is the top (4032 in the 13-bit domain ×8 = 32256).
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
    }

    #[test]
    fn known_mid_range_values() {
        // μ-law: +1000 → 14-bit 250, +33 = 283 → segment 3 (256..511),
        // mantissa (283-256)>>4 = 1 → 0x31, inverted 0xCE.
        assert_eq!(ulaw_encode(1000), 0xCE);
        // Decodes to (2·1+33)·8 − 33 = 247, ×4 = 988.
        assert_eq!(ulaw_decode(0xCE), 988);
        // A-law: +1000 → 13-bit 125 → segment 2 (64..127), mantissa
        // (125>>2)&15 = 15 → 0xAF, even bits inverted 0xFA.
        assert_eq!(alaw_encode(1000), 0xFA);
        // Decodes to (2·15+33)·2 = 126 (interval 124..127), ×8 = 1008.
        assert_eq!(alaw_decode(0xFA), 1008);
        assert_eq!(alaw_encode(-1000), 0x7A);
        assert_eq!(alaw_decode(0x7A), -1008);
    }

    #[test]
    fn every_code_reencodes_to_itself() {
        for code in 0..=255u8 {
            assert_eq!(alaw_encode(alaw_decode(code)), code, "A-law {code:#04x}");
            // μ-law's negative zero decodes to 0, which encodes as +0.
            let expected = if code == 0x7F { 0xFF } else { code };
            assert_eq!(
                ulaw_encode(ulaw_decode(code)),
                expected,
                "μ-law {code:#04x}"
            );
        }
    }

    /// Half the step of the segment `decoded` falls in, plus one LSB of the
    /// domain the codec drops (2 bits μ-law, 3 bits A-law) for the one's
    /// complement of negatives.
    fn ulaw_bound(decoded: i16) -> i32 {
        let exponent = ((!ulaw_encode(decoded) >> 4) & 7) as i32;
        (4 << exponent) + 4
    }

    fn alaw_bound(decoded: i16) -> i32 {
        let segment = (((alaw_encode(decoded) ^ 0x55) >> 4) & 7) as i32;
        (8 << segment.max(1)) + 8
    }

    #[test]
    fn round_trip_stays_within_quantisation_error() {
        for x in i16::MIN..=i16::MAX {
            let u = ulaw_decode(ulaw_encode(x));
            let err = (i32::from(u) - i32::from(x)).abs();
            // Beyond the top decision level the error is clipping, not
            // quantisation.
            if x.unsigned_abs() <= 32124 {
                assert!(err <= ulaw_bound(u), "μ-law {x} -> {u}");
            }
            let a = alaw_decode(alaw_encode(x));
            let err = (i32::from(a) - i32::from(x)).abs();
            if x.unsigned_abs() <= 32256 {
                assert!(err <= alaw_bound(a), "A-law {x} -> {a}");
            }
        }
    }

    #[test]
    fn encoding_is_monotonic() {
        let mut prev_u = i16::MIN;
        let mut prev_a = i16::MIN;
        for x in i16::MIN..=i16::MAX {
            let u = ulaw_decode(ulaw_encode(x));
            let a = alaw_decode(alaw_encode(x));
            assert!(u >= prev_u && a >= prev_a, "{x}");
            prev_u = u;
            prev_a = a;
        }
    }

    #[test]
    fn frames_use_the_shorter_length() {
        let pcm = [0i16, 1000, -1000, i16::MAX];
        let mut codes = [0u8; 3];
        assert_eq!(encode_frame(Codec::Pcmu, &pcm, &mut codes), 3);
        assert_eq!(codes, [0xFF, 0xCE, 0x4E]);
        let mut back = [0i16; 8];
        assert_eq!(decode_frame(Codec::Pcmu, &codes, &mut back), 3);
        assert_eq!(&back[..3], &[0, 988, -988]);
        assert_eq!(encode_frame(Codec::Pcma, &pcm, &mut []), 0);
        let mut codes = [0u8; 4];
        assert_eq!(encode_frame(Codec::Pcma, &pcm, &mut codes), 4);
        assert_eq!(codes, [0xD5, 0xFA, 0x7A, 0xAA]);
    }
}
