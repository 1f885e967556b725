//! The probe's tone tools checked on their own: the Goertzel decision on synthetic signals
//! (440 Hz alone, 1 kHz alone, both mixed, silence, noise, the hold-music-like neighbours),
//! the μ-law encoder against the decoder, the SIPp tone files, and two live probes sending
//! tones and keys to each other on 127.0.0.1.

use std::time::Duration;

use super::tone::{MIN_TONE_LEVEL, TONE_OVER_FLOOR};
use super::{goertzel_level, linear_to_ulaw, sipp_dir, ulaw_to_linear, Audio, RtpProbe, ToneLevel};

const LIMIT: Duration = Duration::from_secs(5);

/// One second (8000 samples) of `audio`, mixed sample by sample, through μ-law and back: what
/// a probe decodes.
fn second(parts: &[Audio]) -> Vec<i16> {
    (0..8000u64)
        .map(|n| {
            let sum: i32 = parts.iter().map(|a| i32::from(a.sample(n))).sum();
            let linear = sum.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
            ulaw_to_linear(linear_to_ulaw(linear))
        })
        .collect()
}

fn heard(samples: &[i16], hz: f64) -> bool {
    ToneLevel::measure(samples, hz).heard()
}

#[test]
fn goertzel_measures_a_tone_at_its_amplitude() {
    let samples = second(&[Audio::tone(440.0)]);
    let level = goertzel_level(&samples, 440.0);
    assert!(
        (level - Audio::AMPLITUDE).abs() < Audio::AMPLITUDE * 0.03,
        "{level}"
    );
    // A frequency 100 Hz away sees next to nothing of it.
    assert!(goertzel_level(&samples, 540.0) < 50.0);
}

#[test]
fn each_tone_alone_is_heard_and_not_the_other() {
    let a = second(&[Audio::tone(440.0)]);
    assert!(heard(&a, 440.0), "{:?}", ToneLevel::measure(&a, 440.0));
    assert!(!heard(&a, 1000.0), "{:?}", ToneLevel::measure(&a, 1000.0));
    assert!(!heard(&a, 700.0), "{:?}", ToneLevel::measure(&a, 700.0));
    let b = second(&[Audio::tone(1000.0)]);
    assert!(heard(&b, 1000.0), "{:?}", ToneLevel::measure(&b, 1000.0));
    assert!(!heard(&b, 440.0), "{:?}", ToneLevel::measure(&b, 440.0));
}

#[test]
fn a_mix_holds_both_tones() {
    let mix = second(&[Audio::tone(440.0), Audio::tone(1000.0)]);
    for hz in [440.0, 1000.0] {
        assert!(heard(&mix, hz), "{:?}", ToneLevel::measure(&mix, hz));
    }
    assert!(!heard(&mix, 700.0), "{:?}", ToneLevel::measure(&mix, 700.0));
    let three = second(&[Audio::tone(440.0), Audio::tone(700.0), Audio::tone(1000.0)]);
    for hz in [440.0, 700.0, 1000.0] {
        assert!(heard(&three, hz), "{:?}", ToneLevel::measure(&three, hz));
    }
}

#[test]
fn silence_quiet_tones_and_noise_are_not_tones() {
    let silence = second(&[Audio::Silence]);
    for hz in [440.0, 700.0, 1000.0] {
        let tone = ToneLevel::measure(&silence, hz);
        assert_eq!(tone.level, 0.0, "{tone:?}");
        assert!(!tone.heard());
    }
    // Below MIN_TONE_LEVEL: too faint to count, however clean.
    let faint = second(&[Audio::Tone {
        hz: 440.0,
        amplitude: MIN_TONE_LEVEL / 2.0,
    }]);
    assert!(
        !heard(&faint, 440.0),
        "{:?}",
        ToneLevel::measure(&faint, 440.0)
    );
    // Loud noise (-16 dBFS rms): spread over every frequency, so no frequency is loud on its own
    // or stands TONE_OVER_FLOOR above its neighbours.
    let mut state = 0x1234_5678u32;
    let noise: Vec<i16> = (0..8000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            ((state >> 16) as i16) / 4
        })
        .collect();
    for hz in [440.0, 700.0, 1000.0] {
        let tone = ToneLevel::measure(&noise, hz);
        assert!(tone.level < MIN_TONE_LEVEL, "{tone:?}");
        assert!(tone.level < TONE_OVER_FLOOR * tone.floor, "{tone:?}");
        assert!(!tone.heard());
    }
    // Too short to decide.
    let short = &second(&[Audio::tone(440.0)])[..800];
    assert!(!heard(short, 440.0));
}

/// The hold music's notes (392-784 Hz and their octaves below) are not the unit's 1 kHz.
#[test]
fn hold_music_like_notes_are_not_a_kilohertz() {
    let notes = second(&[
        Audio::Tone {
            hz: 783.99,
            amplitude: 6000.0,
        },
        Audio::Tone {
            hz: 392.0,
            amplitude: 3000.0,
        },
    ]);
    assert!(
        !heard(&notes, 1000.0),
        "{:?}",
        ToneLevel::measure(&notes, 1000.0)
    );
}

#[test]
fn ulaw_encoding_round_trips() {
    assert_eq!(linear_to_ulaw(0), 0xff);
    assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
    assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
    for byte in 0..=255u8 {
        let linear = ulaw_to_linear(byte);
        // 0x7f and 0xff are both zero; the encoder makes 0xff of it.
        let back = linear_to_ulaw(linear);
        assert_eq!(ulaw_to_linear(back), linear, "{byte:#04x}");
    }
}

/// The tone files the SIPp scenarios send are heard as their tones.
#[test]
fn the_sipp_tone_files_are_heard() {
    for (file, hz, other) in [
        ("tone440.pcmu", 440.0, 1000.0),
        ("tone1k.pcmu", 1000.0, 440.0),
    ] {
        let bytes = std::fs::read(sipp_dir().join(file)).expect("read the tone");
        let samples: Vec<i16> = bytes[..8000].iter().map(|&b| ulaw_to_linear(b)).collect();
        assert!(heard(&samples, hz), "{file}");
        assert!(!heard(&samples, other), "{file}");
    }
}

/// Two probes on 127.0.0.1: A aims its 440 Hz at B; B answers from its own socket with 1 kHz
/// and keys, to the source of what it received.
#[tokio::test]
async fn two_probes_exchange_tones_and_keys() {
    let a = RtpProbe::sending(Audio::tone(440.0)).expect("probe a");
    let b = RtpProbe::sending(Audio::tone(1000.0)).expect("probe b");
    a.aim(b.addr());
    b.wait_for_audio(60, LIMIT).await;
    assert_eq!(
        b.sent().peer,
        Some(a.addr()),
        "B answers where A sends from"
    );
    b.send_keys("*3", LIMIT).await.expect("keys sent");
    let stats = a.wait_for_audio(60, LIMIT).await;
    assert!(a.hears(1000.0).await, "{:?}", a.tone(1000.0).await);
    assert!(!a.hears(440.0).await, "{:?}", a.tone(440.0).await);
    assert!(b.hears(440.0).await, "{:?}", b.tone(440.0).await);
    assert!(!b.hears(1000.0).await, "{:?}", b.tone(1000.0).await);
    assert_eq!(a.stats().await.keys(), "*3", "{stats:?}");
    assert_eq!(b.sent().keys, 2);
    assert_eq!(stats.sources.into_iter().collect::<Vec<_>>(), [b.addr()]);
    // A receive-only probe never learns a peer, so keys cannot go anywhere.
    let mute = RtpProbe::start().expect("probe");
    let error = mute
        .send_keys("1", Duration::from_millis(200))
        .await
        .expect_err("nowhere to send");
    assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
}
