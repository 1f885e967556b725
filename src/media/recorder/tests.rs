use std::time::Duration;

use super::*;
use crate::media::g711::{alaw_encode, ulaw_encode};

/// The file's samples, (left, right).
fn samples(path: &std::path::Path) -> Vec<(i16, i16)> {
    let bytes = std::fs::read(path).expect("the recording");
    bytes[44..]
        .chunks_exact(4)
        .map(|s| {
            (
                i16::from_le_bytes([s[0], s[1]]),
                i16::from_le_bytes([s[2], s[3]]),
            )
        })
        .collect()
}

async fn finished(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Finished>) -> Finished {
    // The writer runs on a thread of its own, on real time.
    for _ in 0..500 {
        if let Ok(done) = rx.try_recv() {
            return done;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the recording never finished");
}

#[tokio::test(start_paused = true)]
async fn the_left_channel_is_what_the_leg_sends_and_the_right_what_it_hears() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rec/7.wav");
    let (recorder, mut done) = Recorder::spawn(64).expect("writer");
    let tap = recorder.open(Opening {
        id: "7".into(),
        path: path.clone(),
    });
    let left = [ulaw_encode(1000); 160];
    let right = [alaw_encode(-3000); 160];
    // 1 s of both, then a 1 s pause, then 0.5 s of both.
    for i in 0..125 {
        if i == 50 {
            tap.set_paused(true);
        }
        if i == 100 {
            tap.set_paused(false);
        }
        let ts = 160 * i as u32;
        tap.push(Channel::Left, 0, (1, ts), &left);
        tap.push(Channel::Right, 8, (2, ts + 5_000), &right);
        // Not audio: a key press is not recorded.
        tap.push(Channel::Left, 101, (1, ts), &[1, 2, 3, 4]);
        tokio::time::advance(Duration::from_millis(20)).await;
        if i % 10 == 0 {
            // Let the writer take the queue, as it does every 20 ms.
            tokio::time::sleep(Duration::from_millis(1)).await;
            std::thread::sleep(Duration::from_millis(30));
        }
    }
    drop(tap);
    let done = finished(&mut done).await;
    assert_eq!(done.incomplete, None);
    assert_eq!(done.id, "7");
    let audio = samples(&path);
    assert_eq!(done.samples, audio.len() as u64);
    assert_eq!(done.size, 44 + 4 * done.samples);
    assert!(
        (20_000..=20_400).contains(&audio.len()),
        "2.5 s and a little: {}",
        audio.len()
    );
    let near = |s: i16, want: i16| (i32::from(s) - i32::from(want)).abs() < 200;
    assert!(audio[..8_000]
        .iter()
        .all(|&(l, r)| near(l, 1000) && near(r, -3000)));
    assert!(
        audio[8_400..15_600].iter().all(|&s| s == (0, 0)),
        "the pause is silence"
    );
    assert!(audio[16_400..20_000]
        .iter()
        .all(|&(l, r)| near(l, 1000) && near(r, -3000)));
    let summary = wav_file::summarize(&path).expect("summary");
    assert_eq!(done.sha256, Some(summary.sha256));
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_marks_the_recording_incomplete_and_the_pushes_go_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (recorder, mut done) = Recorder::spawn(2).expect("writer");
    let tap = recorder.open(Opening {
        id: "8".into(),
        path: dir.path().join("8.wav"),
    });
    for i in 0..5 {
        tap.push(Channel::Left, 0, (1, 160 * i), &[0xFF; 160]);
    }
    assert_eq!(tap.shared.dropped(), 3);
    drop(tap);
    let done = finished(&mut done).await;
    assert_eq!(
        done.incomplete.as_deref(),
        Some("writer_behind: 3 frames dropped")
    );
    assert!(
        done.sha256.is_some(),
        "what was written is still a valid file"
    );
}

#[tokio::test]
async fn a_full_disk_marks_the_recording_incomplete() {
    let (recorder, mut done) = Recorder::spawn(64).expect("writer");
    let tap = recorder.open(Opening {
        id: "9".into(),
        path: "/dev/full".into(),
    });
    tap.push(Channel::Left, 0, (1, 0), &[0xFF; 160]);
    drop(tap);
    let done = finished(&mut done).await;
    let reason = done.incomplete.expect("incomplete");
    assert!(reason.starts_with("disk: "), "{reason}");
    assert_eq!((done.size, done.sha256), (0, None));
}

#[test]
fn a_packet_longer_than_a_frame_is_queued_as_several() {
    let shared = Arc::new(Shared::new(8));
    let tap = Tap::new(shared.clone());
    tap.push(Channel::Right, 0, (1, 0), &[0xFF; 2 * FRAME_MAX + 10]);
    let mut frames = Vec::new();
    shared.drain_into(&mut frames);
    let lens: Vec<u16> = frames.iter().map(|f| f.len).collect();
    assert_eq!(lens, [FRAME_MAX as u16, FRAME_MAX as u16, 10]);
    assert_eq!(frames[1].at, FRAME_MAX as u64);
    assert_eq!(shared.ended(), None);
    drop(tap);
    assert!(shared.ended().is_some());
}

#[tokio::test(start_paused = true)]
async fn packets_are_placed_by_their_timestamps_not_by_when_they_came() {
    let shared = Arc::new(Shared::new(64));
    let tap = Tap::new(shared.clone());
    // A stream starting 1 s in; its next packets come late, in a burst 200 ms later.
    tokio::time::advance(Duration::from_secs(1)).await;
    tap.push(Channel::Left, 0, (7, 90_000), &[0xFF; 160]);
    tokio::time::advance(Duration::from_millis(200)).await;
    for n in 1..=10u32 {
        tap.push(Channel::Left, 0, (7, 90_000 + 160 * n), &[0xFF; 160]);
    }
    // A new stream on the same channel is placed where it arrives.
    tap.push(Channel::Left, 0, (8, 5), &[0xFF; 160]);
    // Timestamps that jump far from arrival time are placed afresh too.
    tap.push(Channel::Left, 0, (8, 5 + 80_000), &[0xFF; 160]);
    let mut frames = Vec::new();
    shared.drain_into(&mut frames);
    let at: Vec<u64> = frames.iter().map(|f| f.at).collect();
    let expected: Vec<u64> = (0..=10)
        .map(|n| 8_000 + 160 * n)
        .chain([9_600, 9_600])
        .collect();
    assert_eq!(at, expected);
}
