//! Call recording against real peers: the consultation scene (a SIPp caller whose probe sends
//! 440 Hz, a SIPp seat at 700 Hz, a SIPp unit at 1 kHz) with `[recording]` on. The caller's
//! file has the caller on the left and the seat on the right, silence where the seat paused it
//! (`*6`), and its SHA-256 in the record; the consultation has a file of its own, the seat on
//! the left and the unit on the right. A writer that falls behind (a one-frame queue) marks
//! the recording incomplete while caller and seat still hear each other.

use std::path::Path;
use std::time::{Duration, SystemTime};

use hotline::call::board::LineState;
use hotline::store::{RecordingRecord, Store};

use crate::consult::{hears, listen, scene_with, CALLER_HZ, LIMIT, SEAT_HZ, UNIT, UNIT_HZ};
use crate::peers::{Audio, ToneLevel, UnitAnswer};

const TOKEN: &str = "recording-test-token-0123456789";

/// The recording settings for a test's directory.
fn settings(dir: &Path, extra: &str) -> String {
    format!(
        "[recording]\ndirectory = \"{}\"\n{extra}",
        dir.join("rec").display()
    )
}

/// The channels of a recording: (left, right), 8 kHz.
fn channels(path: &str) -> (Vec<i16>, Vec<i16>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(&bytes[..4], b"RIFF", "{path}");
    let data = u32::from_le_bytes([bytes[40], bytes[41], bytes[42], bytes[43]]) as usize;
    assert_eq!(
        data,
        bytes.len() - 44,
        "{path}: the header counts every sample"
    );
    bytes[44..]
        .chunks_exact(4)
        .map(|s| {
            (
                i16::from_le_bytes([s[0], s[1]]),
                i16::from_le_bytes([s[2], s[3]]),
            )
        })
        .unzip()
}

/// Samples `from` to `to` seconds after `start` (clamped to the file).
fn window(samples: &[i16], start: SystemTime, from: SystemTime, secs: f64) -> &[i16] {
    let offset = from.duration_since(start).unwrap_or_default().as_secs_f64();
    let a = ((offset * 8000.0) as usize).min(samples.len());
    let b = (((offset + secs) * 8000.0) as usize).min(samples.len());
    &samples[a..b]
}

fn assert_tones(what: &str, samples: &[i16], yes: f64, no: f64) {
    let heard = ToneLevel::measure(samples, yes);
    assert!(heard.heard(), "{what}: {yes} Hz not there: {heard:?}");
    let not = ToneLevel::measure(samples, no);
    assert!(!not.heard(), "{what}: {no} Hz there: {not:?}");
}

/// Waits until every recording of `call` is closed; returns them (the caller's first).
async fn closed_recordings(
    t: &crate::common::TestDaemon,
    call: &str,
    n: usize,
) -> Vec<RecordingRecord> {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let found = t
            .daemon
            .store()
            .recordings_of(call)
            .await
            .unwrap_or_default();
        if found.len() == n && found.iter().all(|r| !r.is_open()) {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "recordings of {call}: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_queued_call_is_recorded_caller_left_seat_right_with_its_pause_and_consultation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let api = format!("\n[api]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n");
    let mut s = scene_with(
        UnitAnswer::Answer,
        Audio::tone(SEAT_HZ),
        &settings(dir.path(), &api),
    )
    .await;
    let call = s.call_id();
    listen(&[("caller", &s.caller_probe), ("seat", &s.seat_probe)]).await;
    // Both probes heard 1.2 s of each other up to now: the recording has both sides there.
    let both_heard = SystemTime::now();
    // The seat pauses the recording for a citizen's ID number, then resumes it.
    s.keys("*6").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    s.keys("*6").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A consultation with the unit while the caller holds.
    s.keys(&format!("*1{UNIT}#")).await;
    assert!(
        s.unit.wait_log("unit answered", LIMIT).await,
        "{}",
        s.unit.log_so_far()
    );
    listen(&[("seat", &s.seat_probe)]).await;
    hears("seat", &s.seat_probe, &[UNIT_HZ], &[CALLER_HZ]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    s.keys("*0").await;
    s.line(LineState::Connected).await;
    let (t, _unit, _) = s.end().await;

    let recordings = closed_recordings(&t, &call, 2).await;
    let (whole, consult) = (&recordings[0], &recordings[1]);
    assert_eq!(whole.id, call, "{recordings:?}");
    assert_eq!(consult.id, format!("{call}-consult-1"), "{recordings:?}");
    for r in &recordings {
        assert!(r.complete && r.reason.is_none(), "{r:?}");
        let bytes = std::fs::read(&r.path).expect("the file");
        assert_eq!(r.size_bytes, bytes.len() as u64, "{r:?}");
        let sha = crate::common::sha256_hex(&bytes);
        assert_eq!(r.sha256.as_deref(), Some(sha.as_str()), "{r:?}");
        assert_eq!(r.duration_ms, (bytes.len() as u64 - 44) / 4 / 8, "{r:?}");
        assert!(r.path.contains(&r.id) && r.path.ends_with(".wav"), "{r:?}");
    }

    // The caller's file: the caller on the left, the seat on the right.
    let (left, right) = channels(&whole.path);
    let [gap] = whole.gaps.as_slice() else {
        panic!("one pause: {whole:?}");
    };
    let pause = gap.to.duration_since(gap.from).expect("a pause");
    assert!(
        (2_500..4_500).contains(&pause.as_millis()),
        "about 3 s: {pause:?}"
    );
    // Not measured back from the pause: the seat's keys and their detection come between,
    // and on a loaded machine they take longer.
    let before = both_heard - Duration::from_millis(900);
    assert_tones(
        "caller's left",
        window(&left, whole.started_at, before, 0.8),
        CALLER_HZ,
        SEAT_HZ,
    );
    assert_tones(
        "caller's right",
        window(&right, whole.started_at, before, 0.8),
        SEAT_HZ,
        CALLER_HZ,
    );
    let paused_from = gap.from + Duration::from_millis(500);
    let secs = pause.as_secs_f64() - 1.0;
    for (side, samples) in [("left", &left), ("right", &right)] {
        let quiet = window(samples, whole.started_at, paused_from, secs);
        assert!(
            quiet.len() > 8_000 && quiet.iter().all(|&x| x == 0),
            "the pause is silence on the {side}"
        );
    }
    let after = gap.to + Duration::from_millis(500);
    assert_tones(
        "after the pause",
        window(&left, whole.started_at, after, 1.0),
        CALLER_HZ,
        SEAT_HZ,
    );

    // The call's record lists both, over the API.
    let date = hotline::calendar::to_local(whole.started_at, 8 * 3600).date;
    let (status, body) = hotline::cli_client::request(
        t.daemon.api.expect("the API listens"),
        TOKEN,
        "GET",
        &format!("/api/v1/records?date={date}"),
        None,
    )
    .await
    .expect("the API answers");
    let records: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(status, 200, "{records}");
    let listed = &records["items"][0]["recordings"];
    assert_eq!(listed[0]["id"], whole.id.as_str(), "{records}");
    assert_eq!(
        listed[0]["sha256"],
        whole.sha256.as_deref().unwrap_or(""),
        "{records}"
    );
    assert_eq!(
        listed[0]["gaps"].as_array().map(Vec::len),
        Some(1),
        "{records}"
    );
    assert_eq!(listed[1]["id"], consult.id.as_str(), "{records}");

    // The consultation's file: the seat on the left, the unit on the right.
    let (left, right) = channels(&consult.path);
    let talk = consult.started_at + Duration::from_millis(200);
    assert_tones(
        "consultation's left",
        window(&left, consult.started_at, talk, 1.0),
        SEAT_HZ,
        UNIT_HZ,
    );
    assert_tones(
        "consultation's right",
        window(&right, consult.started_at, talk, 1.0),
        UNIT_HZ,
        SEAT_HZ,
    );
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_writer_that_falls_behind_marks_the_recording_incomplete_and_the_call_goes_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = scene_with(
        UnitAnswer::Answer,
        Audio::tone(SEAT_HZ),
        &settings(dir.path(), "queue_frames = 1\n"),
    )
    .await;
    let call = s.call_id();
    listen(&[("caller", &s.caller_probe), ("seat", &s.seat_probe)]).await;
    hears("caller", &s.caller_probe, &[SEAT_HZ], &[CALLER_HZ]).await;
    hears("seat", &s.seat_probe, &[CALLER_HZ], &[SEAT_HZ]).await;
    let seat = s.seat_probe.stats().await;
    assert_eq!(seat.seq_gaps, 0, "the relayed audio lost nothing: {seat:?}");
    let t = s.end_without_unit().await;
    let recordings = closed_recordings(&t, &call, 1).await;
    let r = &recordings[0];
    assert!(!r.complete, "{r:?}");
    assert!(
        r.reason
            .as_deref()
            .is_some_and(|w| w.starts_with("writer_behind: ")),
        "{r:?}"
    );
    assert!(
        r.sha256.is_some(),
        "what was written is a valid file: {r:?}"
    );
    t.daemon.shutdown().await.expect("shutdown");
}
