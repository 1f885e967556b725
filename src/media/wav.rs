//! WAV (RIFF/WAVE) reader for prompt files.
//!
//! Only what can be played to a G.711 call without resampling is accepted:
//! 8000 Hz mono, as 16-bit PCM, μ-law or A-law, either as a plain
//! `WAVEFORMATEX` or wrapped in `WAVE_FORMAT_EXTENSIBLE`. Anything else is
//! refused with an error that names every property that is wrong, so an
//! operator replacing a prompt with a studio recording learns in one
//! `hotline check` run what to convert.
//!
//! The parser is a pure function over bytes: it never panics and never
//! trusts a length field without checking it against the input.

use super::g711;

/// The only sample rate a prompt can have: G.711 runs at 8 kHz.
pub const SAMPLE_RATE: u32 = 8000;

const WAVE_FORMAT_PCM: u16 = 0x0001;
const WAVE_FORMAT_ALAW: u16 = 0x0006;
const WAVE_FORMAT_MULAW: u16 = 0x0007;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// Bytes 4..16 of every `KSDATAFORMAT_SUBTYPE_*` GUID derived from a
/// format tag (`XXXXXXXX-0000-0010-8000-00AA00389B71`, little-endian
/// fields); the tag itself sits in the first two bytes.
const SUBFORMAT_GUID_TAIL: [u8; 12] = [
    0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// How the samples were stored in the file (they are always returned as
/// 16-bit PCM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavEncoding {
    Pcm16,
    MuLaw,
    ALaw,
}

/// A decoded prompt file: 8000 Hz mono, 16-bit linear samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wav {
    pub encoding: WavEncoding,
    pub samples: Vec<i16>,
}

/// One way a well-formed WAV file's format is unusable for a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatProblem {
    #[error("sample rate {0} Hz, need {SAMPLE_RATE}")]
    SampleRate(u32),
    #[error("{} channels, need mono", channel_name(*.0))]
    Channels(u16),
    #[error("{bits}-bit {encoding}, need {need}-bit")]
    BitsPerSample {
        encoding: &'static str,
        bits: u16,
        need: u16,
    },
    #[error("format tag {0:#06x} ({name}), need PCM, μ-law or A-law", name = tag_name(*.0))]
    FormatTag(u16),
    #[error("WAVE_FORMAT_EXTENSIBLE with an unknown sub-format GUID")]
    SubFormatGuid,
}

/// Why a byte string is not a usable prompt WAV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WavError {
    #[error("file is {0} bytes, too short for a RIFF header")]
    TooShort(usize),
    #[error("not a RIFF file (starts with {0:?})")]
    NotRiff(String),
    #[error("RIFF form type is {0:?}, need \"WAVE\"")]
    NotWave(String),
    #[error("chunk {id:?} at byte {offset} claims {size} bytes, only {available} left (truncated file?)")]
    TruncatedChunk {
        id: String,
        offset: usize,
        size: u32,
        available: usize,
    },
    #[error("{0} stray bytes at byte {1}, too few for a chunk header (truncated file?)")]
    TrailingBytes(usize, usize),
    #[error("no \"fmt \" chunk")]
    MissingFmt,
    #[error("no \"data\" chunk")]
    MissingData,
    #[error("more than one {0:?} chunk")]
    DuplicateChunk(&'static str),
    #[error("\"fmt \" chunk is {size} bytes, need at least {need}")]
    ShortFmt { size: usize, need: usize },
    #[error("unsupported audio format: {}", join(.0))]
    Unsupported(Vec<FormatProblem>),
    #[error("data chunk is {0} bytes, not a whole number of 16-bit samples")]
    PartialSample(usize),
}

fn join(problems: &[FormatProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn channel_name(n: u16) -> String {
    match n {
        0 => "0".to_owned(),
        2 => "2 (stereo)".to_owned(),
        n => n.to_string(),
    }
}

fn tag_name(tag: u16) -> &'static str {
    match tag {
        0x0002 => "MS ADPCM",
        0x0003 => "IEEE float",
        0x0011 => "IMA ADPCM",
        0x0031 => "GSM 6.10",
        0x0055 => "MP3",
        _ => "unknown",
    }
}

/// A chunk or form id for messages; ids are meant to be ASCII but the
/// input is untrusted.
fn fourcc(id: &[u8]) -> String {
    String::from_utf8_lossy(id).into_owned()
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let bytes = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([bytes[0], bytes[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let bytes = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// Parses a prompt WAV file and returns its samples as 16-bit PCM.
pub fn parse_wav(bytes: &[u8]) -> Result<Wav, WavError> {
    if bytes.len() < 12 {
        return Err(WavError::TooShort(bytes.len()));
    }
    if &bytes[0..4] != b"RIFF" {
        return Err(WavError::NotRiff(fourcc(&bytes[0..4])));
    }
    if &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotWave(fourcc(&bytes[8..12])));
    }
    // The RIFF size is often wrong in files written by streaming tools, so
    // it only limits the walk (to ignore junk appended after the form); the
    // chunks themselves are checked against the real length.
    let riff_end = u32_at(bytes, 4)
        .and_then(|size| usize::try_from(size).ok())
        .and_then(|size| size.checked_add(8))
        .map_or(bytes.len(), |end| end.min(bytes.len()));

    let mut fmt: Option<&[u8]> = None;
    let mut data: Option<&[u8]> = None;
    let mut pos = 12;
    while pos < riff_end {
        let left = riff_end - pos;
        if left < 8 {
            // A single missing-or-present pad byte is common and harmless;
            // anything longer is a cut-off chunk header.
            if left == 1 {
                break;
            }
            return Err(WavError::TrailingBytes(left, pos));
        }
        let id = &bytes[pos..pos + 4];
        let size = u32_at(bytes, pos + 4).unwrap_or(0);
        let body_start = pos + 8;
        let available = riff_end - body_start;
        let body_len = match usize::try_from(size) {
            Ok(len) if len <= available => len,
            _ => {
                return Err(WavError::TruncatedChunk {
                    id: fourcc(id),
                    offset: pos,
                    size,
                    available,
                })
            }
        };
        let body = &bytes[body_start..body_start + body_len];
        match id {
            b"fmt " if fmt.is_some() => return Err(WavError::DuplicateChunk("fmt ")),
            b"fmt " => fmt = Some(body),
            b"data" if data.is_some() => return Err(WavError::DuplicateChunk("data")),
            b"data" => data = Some(body),
            // LIST, fact, cue, bext...: metadata we have no use for.
            _ => {}
        }
        // Chunks are word-aligned: an odd-sized body is followed by a pad
        // byte that its size does not count. A missing final pad is
        // tolerated (the loop ends on `pos >= riff_end`).
        pos = body_start + body_len + (body_len & 1);
    }

    let fmt = fmt.ok_or(WavError::MissingFmt)?;
    let data = data.ok_or(WavError::MissingData)?;
    let encoding = parse_fmt(fmt)?;
    let samples = match encoding {
        WavEncoding::Pcm16 => {
            if data.len() % 2 != 0 {
                return Err(WavError::PartialSample(data.len()));
            }
            data.chunks_exact(2)
                .map(|s| i16::from_le_bytes([s[0], s[1]]))
                .collect()
        }
        WavEncoding::MuLaw => data.iter().map(|&c| g711::ulaw_decode(c)).collect(),
        WavEncoding::ALaw => data.iter().map(|&c| g711::alaw_decode(c)).collect(),
    };
    Ok(Wav { encoding, samples })
}

/// Reads the `fmt ` chunk and checks it against what a call can play,
/// collecting every mismatch rather than stopping at the first.
fn parse_fmt(fmt: &[u8]) -> Result<WavEncoding, WavError> {
    const BASE: usize = 16;
    const EXTENSIBLE: usize = 40;
    let short = |need| WavError::ShortFmt {
        size: fmt.len(),
        need,
    };
    let mut tag = u16_at(fmt, 0).ok_or(short(BASE))?;
    let channels = u16_at(fmt, 2).ok_or(short(BASE))?;
    let rate = u32_at(fmt, 4).ok_or(short(BASE))?;
    // Byte rate (8) and block align (12) follow from the rest; writers
    // get them wrong often enough that they are not worth refusing a file.
    let bits = u16_at(fmt, 14).ok_or(short(BASE))?;

    let mut problems = Vec::new();
    if tag == WAVE_FORMAT_EXTENSIBLE {
        let guid = fmt.get(24..EXTENSIBLE).ok_or(short(EXTENSIBLE))?;
        if guid[4..] == SUBFORMAT_GUID_TAIL {
            tag = u16::from_le_bytes([guid[0], guid[1]]);
            if guid[2..4] != [0, 0] {
                problems.push(FormatProblem::SubFormatGuid);
            }
        } else {
            problems.push(FormatProblem::SubFormatGuid);
        }
    }
    let encoding = match tag {
        WAVE_FORMAT_PCM => Some((WavEncoding::Pcm16, "PCM", 16)),
        WAVE_FORMAT_MULAW => Some((WavEncoding::MuLaw, "μ-law", 8)),
        WAVE_FORMAT_ALAW => Some((WavEncoding::ALaw, "A-law", 8)),
        // Already reported as an unknown GUID.
        WAVE_FORMAT_EXTENSIBLE => None,
        other => {
            problems.push(FormatProblem::FormatTag(other));
            None
        }
    };
    if channels != 1 {
        problems.push(FormatProblem::Channels(channels));
    }
    if rate != SAMPLE_RATE {
        problems.push(FormatProblem::SampleRate(rate));
    }
    if let Some((_, name, need)) = encoding {
        if bits != need {
            problems.push(FormatProblem::BitsPerSample {
                encoding: name,
                bits,
                need,
            });
        }
    }
    match encoding {
        Some((encoding, _, _)) if problems.is_empty() => Ok(encoding),
        _ => Err(WavError::Unsupported(problems)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A `fmt ` body (16 bytes, or 40 with the extensible tail).
    pub(crate) fn fmt_body(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
        let align = channels * bits.div_ceil(8);
        let mut b = Vec::new();
        b.extend_from_slice(&tag.to_le_bytes());
        b.extend_from_slice(&channels.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
        b.extend_from_slice(&align.to_le_bytes());
        b.extend_from_slice(&bits.to_le_bytes());
        b
    }

    fn extensible_body(sub_tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
        let mut b = fmt_body(WAVE_FORMAT_EXTENSIBLE, channels, rate, bits);
        b.extend_from_slice(&22u16.to_le_bytes()); // cbSize
        b.extend_from_slice(&bits.to_le_bytes()); // valid bits
        b.extend_from_slice(&4u32.to_le_bytes()); // channel mask: centre
        b.extend_from_slice(&u32::from(sub_tag).to_le_bytes());
        b.extend_from_slice(&SUBFORMAT_GUID_TAIL);
        b
    }

    /// A RIFF/WAVE file from `(id, body)` chunks, padding odd bodies.
    pub(crate) fn riff(chunks: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut body = b"WAVE".to_vec();
        for (id, data) in chunks {
            body.extend_from_slice(*id);
            body.extend_from_slice(&(data.len() as u32).to_le_bytes());
            body.extend_from_slice(data);
            if data.len() % 2 == 1 {
                body.push(0);
            }
        }
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    fn pcm_bytes(samples: &[i16]) -> Vec<u8> {
        samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    fn unsupported(bytes: &[u8]) -> Vec<FormatProblem> {
        match parse_wav(bytes) {
            Err(WavError::Unsupported(p)) => p,
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    const SAMPLES: [i16; 5] = [0, 1000, -1000, 32000, -32000];

    #[test]
    fn pcm16() {
        let fmt = fmt_body(WAVE_FORMAT_PCM, 1, 8000, 16);
        let wav = parse_wav(&riff(&[(b"fmt ", &fmt), (b"data", &pcm_bytes(&SAMPLES))])).unwrap();
        assert_eq!(wav.encoding, WavEncoding::Pcm16);
        assert_eq!(wav.samples, SAMPLES);
    }

    #[test]
    fn mulaw_and_alaw_are_decoded() {
        let codes = [0xFF, 0xCE, 0x4E];
        let fmt = fmt_body(WAVE_FORMAT_MULAW, 1, 8000, 8);
        let wav = parse_wav(&riff(&[(b"fmt ", &fmt), (b"data", &codes)])).unwrap();
        assert_eq!(wav.encoding, WavEncoding::MuLaw);
        assert_eq!(wav.samples, [0, 988, -988]);

        let codes = [0xD5, 0xFA, 0x7A];
        let fmt = fmt_body(WAVE_FORMAT_ALAW, 1, 8000, 8);
        let wav = parse_wav(&riff(&[(b"fmt ", &fmt), (b"data", &codes)])).unwrap();
        assert_eq!(wav.encoding, WavEncoding::ALaw);
        assert_eq!(wav.samples, [8, 1008, -1008]);
    }

    #[test]
    fn extensible_wrapping_each_format() {
        for (tag, bits, enc) in [
            (WAVE_FORMAT_PCM, 16, WavEncoding::Pcm16),
            (WAVE_FORMAT_MULAW, 8, WavEncoding::MuLaw),
            (WAVE_FORMAT_ALAW, 8, WavEncoding::ALaw),
        ] {
            let fmt = extensible_body(tag, 1, 8000, bits);
            let wav = parse_wav(&riff(&[(b"fmt ", &fmt), (b"data", &[0xD5, 0xD5])])).unwrap();
            assert_eq!(wav.encoding, enc);
        }
        let mut fmt = extensible_body(WAVE_FORMAT_PCM, 1, 8000, 16);
        fmt[30] ^= 0xFF; // break the GUID tail
        let data = pcm_bytes(&SAMPLES);
        let bytes = riff(&[(b"fmt ", &fmt), (b"data", &data)]);
        assert_eq!(unsupported(&bytes), [FormatProblem::SubFormatGuid]);
        // Extensible header cut short.
        let fmt = &extensible_body(WAVE_FORMAT_PCM, 1, 8000, 16)[..30];
        assert_eq!(
            parse_wav(&riff(&[(b"fmt ", fmt), (b"data", &data)])),
            Err(WavError::ShortFmt { size: 30, need: 40 })
        );
    }

    #[test]
    fn chunks_in_any_order_with_unknown_and_odd_sized_chunks() {
        let fmt = fmt_body(WAVE_FORMAT_PCM, 1, 8000, 16);
        let data = pcm_bytes(&SAMPLES);
        let list = b"INFOISFT\x03\x00\x00\x00ab\x00"; // odd size: 15 bytes
        let bytes = riff(&[
            (b"LIST", list),
            (b"data", &data),
            (b"odd!", b"x"),
            (b"fmt ", &fmt),
            (b"fact", &[5, 0, 0, 0]),
        ]);
        assert_eq!(parse_wav(&bytes).unwrap().samples, SAMPLES);
        // Odd-sized μ-law data followed by another chunk: the pad byte must
        // not be read as the next chunk's id.
        let fmt = fmt_body(WAVE_FORMAT_MULAW, 1, 8000, 8);
        let bytes = riff(&[(b"data", &[0xFF; 3]), (b"LIST", b"INFO"), (b"fmt ", &fmt)]);
        assert_eq!(parse_wav(&bytes).unwrap().samples, [0, 0, 0]);
    }

    #[test]
    fn missing_final_pad_byte_and_wrong_riff_size_are_tolerated() {
        let fmt = fmt_body(WAVE_FORMAT_MULAW, 1, 8000, 8);
        let mut bytes = riff(&[(b"fmt ", &fmt), (b"data", &[0xFF; 3])]);
        bytes.pop(); // the pad
        assert_eq!(parse_wav(&bytes).unwrap().samples.len(), 3);
        // RIFF size as written by a tool streaming to a pipe.
        bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse_wav(&bytes).unwrap().samples.len(), 3);
    }

    #[test]
    fn names_every_format_problem() {
        let fmt = fmt_body(WAVE_FORMAT_PCM, 2, 44100, 24);
        let bytes = riff(&[(b"fmt ", &fmt), (b"data", &[0; 12])]);
        let err = parse_wav(&bytes).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported audio format: 2 (stereo) channels, need mono; \
             sample rate 44100 Hz, need 8000; 24-bit PCM, need 16-bit"
        );
        let fmt = fmt_body(WAVE_FORMAT_MULAW, 1, 16000, 8);
        let bytes = riff(&[(b"fmt ", &fmt), (b"data", &[0; 2])]);
        assert_eq!(unsupported(&bytes), [FormatProblem::SampleRate(16000)]);
        let fmt = fmt_body(WAVE_FORMAT_ALAW, 1, 8000, 16);
        let bytes = riff(&[(b"fmt ", &fmt), (b"data", &[0; 2])]);
        assert_eq!(
            unsupported(&bytes)[0].to_string(),
            "16-bit A-law, need 8-bit"
        );
        let fmt = fmt_body(3, 1, 8000, 32);
        let bytes = riff(&[(b"fmt ", &fmt), (b"data", &[0; 4])]);
        assert_eq!(
            unsupported(&bytes)[0].to_string(),
            "format tag 0x0003 (IEEE float), need PCM, μ-law or A-law"
        );
    }

    #[test]
    fn structural_errors() {
        let fmt = fmt_body(WAVE_FORMAT_PCM, 1, 8000, 16);
        assert_eq!(parse_wav(b"RIFF"), Err(WavError::TooShort(4)));
        assert!(matches!(
            parse_wav(b"RIFX\0\0\0\0WAVE"),
            Err(WavError::NotRiff(_))
        ));
        assert!(matches!(
            parse_wav(b"RIFF\x04\0\0\0AVI "),
            Err(WavError::NotWave(_))
        ));
        assert_eq!(
            parse_wav(&riff(&[(b"data", &[0; 4])])),
            Err(WavError::MissingFmt)
        );
        assert_eq!(
            parse_wav(&riff(&[(b"fmt ", &fmt)])),
            Err(WavError::MissingData)
        );
        assert_eq!(
            parse_wav(&riff(&[(b"fmt ", &fmt), (b"fmt ", &fmt), (b"data", &[])])),
            Err(WavError::DuplicateChunk("fmt "))
        );
        assert_eq!(
            parse_wav(&riff(&[(b"fmt ", &fmt), (b"data", &[0; 3])])),
            Err(WavError::PartialSample(3))
        );
        assert_eq!(
            parse_wav(&riff(&[(b"fmt ", &fmt[..14]), (b"data", &[])])),
            Err(WavError::ShortFmt { size: 14, need: 16 })
        );
        let mut bytes = riff(&[(b"fmt ", &fmt), (b"data", &[0; 4])]);
        bytes.truncate(bytes.len() - 1);
        assert!(matches!(
            parse_wav(&bytes),
            Err(WavError::TruncatedChunk {
                size: 4,
                available: 3,
                ..
            })
        ));
        // An empty data chunk is a valid (if useless) file; the prompt
        // loader is the one to complain.
        assert_eq!(
            parse_wav(&riff(&[(b"fmt ", &fmt), (b"data", &[])])).map(|w| w.samples.len()),
            Ok(0)
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let fmt = fmt_body(WAVE_FORMAT_PCM, 1, 8000, 16);
        let data = pcm_bytes(&SAMPLES);
        let bytes = riff(&[(b"LIST", b"INFO"), (b"fmt ", &fmt), (b"data", &data)]);
        assert!(parse_wav(&bytes).is_ok());
        for len in 0..bytes.len() {
            assert!(parse_wav(&bytes[..len]).is_err(), "prefix of {len} bytes");
        }
    }

    /// xorshift64: deterministic, dependency-free noise for mutation.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn mutated_input_never_panics() {
        let fmt = extensible_body(WAVE_FORMAT_MULAW, 1, 8000, 8);
        let seeds = [
            riff(&[
                (b"fmt ", &fmt),
                (b"LIST", b"INFOabc"),
                (b"data", &[0x55; 33]),
            ]),
            riff(&[
                (b"data", &pcm_bytes(&SAMPLES)),
                (b"fmt ", &fmt_body(WAVE_FORMAT_PCM, 1, 8000, 16)),
            ]),
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15;
        for seed in &seeds {
            for _ in 0..20_000 {
                let mut bytes = seed.clone();
                for _ in 0..=next(&mut state) % 4 {
                    let r = next(&mut state);
                    let at = (r >> 8) as usize % bytes.len().max(1);
                    match r % 5 {
                        0 if !bytes.is_empty() => bytes[at] = (r >> 32) as u8,
                        1 => bytes.truncate(at),
                        2 => bytes.insert(at.min(bytes.len()), (r >> 40) as u8),
                        3 if at + 4 <= bytes.len() => {
                            // Length fields are the interesting targets.
                            let v = [0, 1, u32::MAX, 0x7FFF_FFFF][(r >> 48) as usize % 4];
                            bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
                        }
                        _ if !bytes.is_empty() => {
                            bytes.remove(at);
                        }
                        _ => {}
                    }
                }
                // The assertion is that this returns at all.
                let _ = parse_wav(&bytes);
            }
        }
    }
}
