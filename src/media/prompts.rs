//! Voice prompts and hold music, loaded once and shared by every call.
//!
//! A prompt is `<dir>/<name>.wav`, decoded to 8 kHz 16-bit PCM at load time
//! (see [`super::wav`] for the accepted formats) so playback only has to
//! G.711-encode 20 ms frames. Loading collects every problem with every
//! file, so `hotline check` reports a broken prompt directory in one run.
//!
//! # Queue position announcements
//!
//! "您前面还有 N 位来电" is chained from short prompts, for N in 1..=99:
//! `position_prefix`, the number, `position_suffix`. The number is said the
//! Mandarin way, built from `digit_0`…`digit_9`, `ten` (十) and `two` (两):
//!
//! | N  | said   | prompts                     |
//! |----|--------|-----------------------------|
//! | 1  | 一     | digit_1                     |
//! | 2  | 两     | two (a count of 2 is 两位, not 二位) |
//! | 7  | 七     | digit_7                     |
//! | 10 | 十     | ten                         |
//! | 12 | 十二   | ten, digit_2                |
//! | 20 | 二十   | digit_2, ten                |
//! | 23 | 二十三 | digit_2, ten, digit_3       |
//!
//! [`position_announcement`] returns that sequence.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::wav::{self, WavError, SAMPLE_RATE};

/// Samples in one 20 ms RTP packet at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// Largest prompt file we read: about 17 minutes of 16-bit PCM, far beyond
/// any prompt, yet small enough that a wrong path to a huge file cannot
/// exhaust memory at start-up.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Every prompt the daemon plays; a prompt directory must hold all of them.
pub const REQUIRED: &[&str] = &[
    "welcome",
    "please_wait",
    "position_prefix",
    "position_suffix",
    "digit_0",
    "digit_1",
    "digit_2",
    "digit_3",
    "digit_4",
    "digit_5",
    "digit_6",
    "digit_7",
    "digit_8",
    "digit_9",
    "ten",
    "two",
    "all_busy",
    "callback_offer",
    "callback_recorded",
    "hold_music",
    "rating_question",
    "thank_you",
    "transfer_in_progress",
    "invalid_key",
    "logged_in",
    "logged_out",
    "paused",
    "resumed",
    "enter_code",
    "goodbye",
    "survey_consent",
    "survey_question_result",
    "survey_question_attitude",
    "seat_not_in_call",
];

const DIGITS: [&str; 10] = [
    "digit_0", "digit_1", "digit_2", "digit_3", "digit_4", "digit_5", "digit_6", "digit_7",
    "digit_8", "digit_9",
];

/// The prompts that announce queue position `position` (1..=99), prefix
/// and suffix included; `None` outside that range, where the caller should
/// say something else (or nothing).
pub fn position_announcement(position: u32) -> Option<Vec<&'static str>> {
    if !(1..=99).contains(&position) {
        return None;
    }
    let tens = (position / 10) as usize;
    let units = (position % 10) as usize;
    let mut names = vec!["position_prefix"];
    match (tens, units) {
        (0, 2) => names.push("two"),
        (0, u) => names.push(DIGITS[u]),
        (t, u) => {
            // 十 alone for 10-19; 二十, 三十… above.
            if t > 1 {
                names.push(DIGITS[t]);
            }
            names.push("ten");
            if u > 0 {
                names.push(DIGITS[u]);
            }
        }
    }
    names.push("position_suffix");
    Some(names)
}

/// One decoded prompt. Cloning is cheap: the samples are shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// 8 kHz mono 16-bit PCM.
    pub samples: Arc<[i16]>,
    /// The file it came from, for logs.
    pub path: PathBuf,
}

impl Prompt {
    pub fn duration(&self) -> Duration {
        // One sample is exactly 125 µs at 8 kHz.
        Duration::from_nanos(self.samples.len() as u64 * (1_000_000_000 / u64::from(SAMPLE_RATE)))
    }

    /// Number of 20 ms frames, the last one possibly padded.
    pub fn frame_count(&self) -> usize {
        self.samples.len().div_ceil(FRAME_SAMPLES)
    }

    /// Frame `index`, padded with silence past the end of the prompt. By
    /// index rather than by iterator so a call's playback state is a plain
    /// number that survives between timer ticks (and wraps for hold music).
    pub fn frame(&self, index: usize) -> Option<[i16; FRAME_SAMPLES]> {
        let start = index.checked_mul(FRAME_SAMPLES)?;
        let rest = self.samples.get(start..).filter(|rest| !rest.is_empty())?;
        let mut frame = [0i16; FRAME_SAMPLES];
        let n = rest.len().min(FRAME_SAMPLES);
        frame[..n].copy_from_slice(&rest[..n]);
        Some(frame)
    }

    pub fn frames(&self) -> Frames<'_> {
        Frames {
            prompt: self,
            next: 0,
        }
    }
}

/// 20 ms frames of a prompt; see [`Prompt::frames`].
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    prompt: &'a Prompt,
    next: usize,
}

impl Iterator for Frames<'_> {
    type Item = [i16; FRAME_SAMPLES];

    fn next(&mut self) -> Option<Self::Item> {
        let frame = self.prompt.frame(self.next)?;
        self.next += 1;
        Some(frame)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.prompt.frame_count().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Frames<'_> {}

/// One problem with one prompt.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("prompt directory {}: {source}", .dir.display())]
    Directory {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Names become file names, so they must not be able to leave the
    /// directory.
    #[error("prompt name {name:?}: only a-z, 0-9, '_' and '-' are allowed")]
    InvalidName { name: String },
    #[error("{}: missing (prompt {name:?})", .path.display())]
    Missing { name: String, path: PathBuf },
    #[error("{}: cannot read: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: larger than {MAX_FILE_BYTES} bytes", .path.display())]
    TooLarge { path: PathBuf },
    #[error("{}: {source}", .path.display())]
    Format {
        path: PathBuf,
        #[source]
        source: WavError,
    },
    #[error("{}: holds no audio", .path.display())]
    Empty { path: PathBuf },
}

/// Every problem found while loading a prompt set (never empty).
#[derive(Debug)]
pub struct PromptErrors(pub Vec<PromptError>);

impl fmt::Display for PromptErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} prompt problem{}:", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PromptErrors {}

/// The prompts of one directory, by name.
#[derive(Debug, Clone, Default)]
pub struct PromptSet {
    prompts: BTreeMap<String, Prompt>,
}

impl PromptSet {
    /// Loads `<dir>/<name>.wav` for each of `names`, reporting every file
    /// that is missing, unreadable or unplayable.
    pub fn load(dir: &Path, names: &[&str]) -> Result<PromptSet, PromptErrors> {
        // A missing directory would otherwise be one "missing" per prompt.
        if let Err(source) = std::fs::read_dir(dir) {
            return Err(PromptErrors(vec![PromptError::Directory {
                dir: dir.to_owned(),
                source,
            }]));
        }
        let mut prompts = BTreeMap::new();
        let mut errors = Vec::new();
        for &name in names {
            if prompts.contains_key(name) {
                continue;
            }
            match load_one(dir, name) {
                Ok(prompt) => {
                    prompts.insert(name.to_owned(), prompt);
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(PromptSet { prompts })
        } else {
            Err(PromptErrors(errors))
        }
    }

    pub fn get(&self, name: &str) -> Option<&Prompt> {
        self.prompts.get(name)
    }

    /// Names of the loaded prompts, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.prompts.keys().map(String::as_str)
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn load_one(dir: &Path, name: &str) -> Result<Prompt, PromptError> {
    if !valid_name(name) {
        return Err(PromptError::InvalidName {
            name: name.to_owned(),
        });
    }
    let path = dir.join(format!("{name}.wav"));
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(PromptError::Missing {
                name: name.to_owned(),
                path,
            })
        }
        Err(source) => return Err(PromptError::Unreadable { path, source }),
    };
    // Read at most one byte past the limit rather than trusting metadata,
    // which can change between the check and the read.
    let mut bytes = Vec::new();
    if let Err(source) = file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes) {
        return Err(PromptError::Unreadable { path, source });
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(PromptError::TooLarge { path });
    }
    let wav = match wav::parse_wav(&bytes) {
        Ok(wav) => wav,
        Err(source) => return Err(PromptError::Format { path, source }),
    };
    if wav.samples.is_empty() {
        return Err(PromptError::Empty { path });
    }
    Ok(Prompt {
        samples: wav.samples.into(),
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::wav::tests::{fmt_body, riff};

    fn prompt(samples: Vec<i16>) -> Prompt {
        Prompt {
            samples: samples.into(),
            path: PathBuf::from("test.wav"),
        }
    }

    fn pcm_wav(samples: &[i16]) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        riff(&[(b"fmt ", &fmt_body(1, 1, 8000, 16)), (b"data", &data)])
    }

    #[test]
    fn frames_pad_the_last_with_silence() {
        let p = prompt((1..=400).collect());
        assert_eq!(p.duration(), Duration::from_millis(50));
        assert_eq!(p.frame_count(), 3);
        let frames: Vec<_> = p.frames().collect();
        assert_eq!(frames.len(), 3);
        assert_eq!(p.frames().len(), 3);
        assert_eq!(frames[0][0], 1);
        assert_eq!(frames[2][79], 400);
        assert!(frames[2][80..].iter().all(|&s| s == 0));
        assert_eq!(p.frame(3), None);
        assert_eq!(p.frame(usize::MAX), None);

        let exact = prompt(vec![7; 320]);
        assert_eq!(exact.frames().count(), 2);
        assert_eq!(prompt(Vec::new()).frames().count(), 0);
    }

    #[test]
    fn position_announcements() {
        let said = |n| position_announcement(n).unwrap()[1..].to_vec();
        assert_eq!(said(1), ["digit_1", "position_suffix"]);
        assert_eq!(said(2), ["two", "position_suffix"]);
        assert_eq!(said(10), ["ten", "position_suffix"]);
        assert_eq!(said(12), ["ten", "digit_2", "position_suffix"]);
        assert_eq!(said(20), ["digit_2", "ten", "position_suffix"]);
        assert_eq!(said(23), ["digit_2", "ten", "digit_3", "position_suffix"]);
        assert_eq!(said(99), ["digit_9", "ten", "digit_9", "position_suffix"]);
        assert_eq!(position_announcement(0), None);
        assert_eq!(position_announcement(100), None);
        for n in 1..=99 {
            let names = position_announcement(n).unwrap();
            assert_eq!(names[0], "position_prefix");
            assert!(names.iter().all(|name| REQUIRED.contains(name)), "{n}");
        }
    }

    #[test]
    fn collects_every_problem_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("good.wav"), pcm_wav(&[100; 200])).unwrap();
        let stereo = riff(&[(b"fmt ", &fmt_body(1, 2, 44100, 16)), (b"data", &[0; 8])]);
        std::fs::write(dir.path().join("stereo.wav"), stereo).unwrap();
        std::fs::write(dir.path().join("garbage.wav"), b"hello").unwrap();
        std::fs::write(dir.path().join("empty.wav"), pcm_wav(&[])).unwrap();
        // A directory where a file should be: unreadable even for root.
        std::fs::create_dir(dir.path().join("unreadable.wav")).unwrap();

        let names = [
            "good",
            "missing",
            "stereo",
            "garbage",
            "empty",
            "unreadable",
            "../escape",
        ];
        let errors = PromptSet::load(dir.path(), &names).unwrap_err();
        let text = errors.to_string();
        assert!(text.starts_with("6 prompt problems:"), "{text}");
        let e = &errors.0;
        assert!(matches!(&e[0], PromptError::Missing { name, .. } if name == "missing"));
        assert!(
            matches!(&e[1], PromptError::Format { source: WavError::Unsupported(p), .. } if p.len() == 2)
        );
        assert!(matches!(
            &e[2],
            PromptError::Format {
                source: WavError::TooShort(5),
                ..
            }
        ));
        assert!(matches!(&e[3], PromptError::Empty { .. }));
        assert!(matches!(&e[4], PromptError::Unreadable { .. }));
        assert!(matches!(&e[5], PromptError::InvalidName { .. }));
        for (err, file) in e
            .iter()
            .zip(["missing", "stereo", "garbage", "empty", "unreadable"])
        {
            let path = dir.path().join(format!("{file}.wav"));
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
        }
        assert!(text.contains("2 (stereo) channels, need mono; sample rate 44100 Hz, need 8000"));

        let set = PromptSet::load(dir.path(), &["good", "good"]).unwrap();
        assert_eq!(set.names().collect::<Vec<_>>(), ["good"]);
        assert_eq!(set.get("good").unwrap().samples.len(), 200);
        assert!(set.get("missing").is_none());
    }

    #[test]
    fn missing_directory_is_one_error() {
        let dir = tempfile::tempdir().unwrap();
        let errors = PromptSet::load(&dir.path().join("nope"), REQUIRED).unwrap_err();
        assert_eq!(errors.0.len(), 1);
        assert!(matches!(errors.0[0], PromptError::Directory { .. }));
    }

    fn rms(samples: &[i16]) -> f64 {
        let sum: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
        (sum / samples.len().max(1) as f64).sqrt()
    }

    /// Single-syllable prompts chained into numbers: short by design.
    fn is_word(name: &str) -> bool {
        name.starts_with("digit_") || name == "ten" || name == "two"
    }

    #[test]
    fn shipped_mandarin_prompts() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/zh");
        let set = PromptSet::load(&dir, REQUIRED).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.names().count(), REQUIRED.len());
        // About -36 dBFS: well above μ-law's idle noise, well below speech.
        const MIN_RMS: f64 = 500.0;
        for &name in REQUIRED {
            let p = set.get(name).unwrap();
            let secs = p.duration().as_secs_f64();
            let (min, max) = match name {
                "hold_music" => (8.0, 12.0),
                n if is_word(n) => (0.15, 1.0),
                // A survey question reads out its three answers; the key is taken at any time.
                n if n.starts_with("survey_") => (0.5, 14.0),
                _ => (0.5, 10.0),
            };
            assert!((min..=max).contains(&secs), "{name}: {secs:.2} s");
            assert!(
                rms(&p.samples) > MIN_RMS,
                "{name}: RMS {:.0}",
                rms(&p.samples)
            );
        }
        // Hold music loops: the first and last millisecond must be near
        // silence, or every loop would click.
        let music = &set.get("hold_music").unwrap().samples;
        let (head, tail) = (&music[..8], &music[music.len() - 8..]);
        assert!(head.iter().chain(tail).all(|s| s.unsigned_abs() < 300));
    }
}
