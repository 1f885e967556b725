//! Call recording: the hub taps a leg (what it sends on the left, what it hears on the right)
//! and hands each frame to a writer thread over a bounded queue of fixed frames, so that
//! recording neither allocates per packet nor ever waits on the disk. A queue that is full
//! drops the frame and marks the recording incomplete; the call goes on untouched. The writer
//! lays the frames out as a stereo 8 kHz 16-bit WAV file (see [`stereo`] and [`wav_file`]) and
//! reports each recording when it is finished.

pub mod stereo;
pub mod wav_file;
mod writer;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

pub use self::stereo::Channel;
pub use self::writer::{Finished, Recorder};
use super::sdp::Codec;

/// The most payload one queued frame carries (40 ms of G.711); a longer packet is queued as
/// several frames.
pub const FRAME_MAX: usize = 320;

/// One frame of G.711 as the hub saw it, stamped with its position in samples since the
/// recording began.
#[derive(Clone, Copy)]
pub struct Frame {
    pub channel: Channel,
    pub at: u64,
    pub codec: Codec,
    pub len: u16,
    pub data: [u8; FRAME_MAX],
}

/// Where a channel's current RTP stream sits in the recording: its SSRC, and the position of
/// one of its timestamps. Each packet of the stream is placed by its timestamp, so arrival
/// jitter and bursts (a stalled sender catching up) do not move the audio; a new stream is
/// placed where its first packet arrived.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    ssrc: u32,
    timestamp: u32,
    at: u64,
}

/// A stream that strays this far from arrival time (1 s) is placed afresh: its timestamps
/// jumped, or its clock runs off.
const STRAY: u64 = 8_000;

/// The queue, with each channel's anchor (the hub's side of the lock).
struct Queue {
    frames: VecDeque<Frame>,
    anchors: [Option<Anchor>; 2],
}

impl Queue {
    /// Where a packet of `stream` (SSRC, RTP timestamp) on `channel` that arrived at
    /// `arrival` goes.
    fn place(&mut self, channel: Channel, (ssrc, timestamp): (u32, u32), arrival: u64) -> u64 {
        let slot = &mut self.anchors[channel as usize];
        let placed = slot.filter(|a| a.ssrc == ssrc).and_then(|a| {
            let delta = i64::from(timestamp.wrapping_sub(a.timestamp) as i32);
            let at = u64::try_from(a.at as i64 + delta).ok()?;
            (at.abs_diff(arrival) <= STRAY).then_some(at)
        });
        match placed {
            Some(at) => at,
            None => {
                *slot = Some(Anchor {
                    ssrc,
                    timestamp,
                    at: arrival,
                });
                arrival
            }
        }
    }
}

/// What the hub and the writer share of one recording.
pub struct Shared {
    frames: Mutex<Queue>,
    capacity: usize,
    paused: AtomicBool,
    /// Frames dropped because the queue was full.
    dropped: AtomicU64,
    /// Where the recording ended (samples since its start); `u64::MAX` while open.
    ended_at: AtomicU64,
}

impl Shared {
    fn new(capacity: usize) -> Shared {
        Shared {
            frames: Mutex::new(Queue {
                frames: VecDeque::with_capacity(capacity),
                anchors: [None; 2],
            }),
            capacity,
            paused: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            ended_at: AtomicU64::new(u64::MAX),
        }
    }

    /// Moves every queued frame into `out`.
    fn drain_into(&self, out: &mut Vec<Frame>) {
        if let Ok(mut queue) = self.frames.lock() {
            out.extend(queue.frames.drain(..));
        }
    }

    fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Where the recording ended, once it has.
    fn ended(&self) -> Option<u64> {
        match self.ended_at.load(Ordering::Acquire) {
            u64::MAX => None,
            at => Some(at),
        }
    }
}

/// The hub's end of a recording. Dropping it ends the recording.
pub struct Tap {
    shared: Arc<Shared>,
    start: Instant,
}

impl Tap {
    /// A tap on a queue of `capacity` frames, whose position 0 is now.
    fn new(shared: Arc<Shared>) -> Tap {
        Tap {
            shared,
            start: Instant::now(),
        }
    }

    /// Samples since the recording began.
    fn position(&self) -> u64 {
        let elapsed = Instant::now().saturating_duration_since(self.start);
        (elapsed.as_micros() as u64).saturating_mul(8) / 1_000
    }

    /// Queues `payload` (G.711 of payload type `pt`: 0 is μ-law, 8 A-law; other payloads are
    /// not audio the hub records) of `stream` (its SSRC and the packet's RTP timestamp) on
    /// `channel`. Never blocks and never allocates: a full queue drops the frame and counts it.
    pub fn push(&self, channel: Channel, pt: u8, stream: (u32, u32), payload: &[u8]) {
        if self.shared.paused.load(Ordering::Relaxed) {
            return;
        }
        let codec = match pt & 0x7f {
            0 => Codec::Pcmu,
            8 => Codec::Pcma,
            _ => return,
        };
        let arrival = self.position();
        let Ok(mut queue) = self.shared.frames.lock() else {
            return;
        };
        let mut at = queue.place(channel, stream, arrival);
        let frames = &mut queue.frames;
        for chunk in payload.chunks(FRAME_MAX) {
            if frames.len() >= self.shared.capacity {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let mut data = [0u8; FRAME_MAX];
            data[..chunk.len()].copy_from_slice(chunk);
            frames.push_back(Frame {
                channel,
                at,
                codec,
                len: chunk.len() as u16,
                data,
            });
            at += chunk.len() as u64;
        }
    }

    /// While paused nothing is queued: the file has silence there.
    pub fn set_paused(&self, paused: bool) {
        self.shared.paused.store(paused, Ordering::Relaxed);
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.shared
            .ended_at
            .store(self.position().min(u64::MAX - 1), Ordering::Release);
    }
}

/// A recording to open: its id (the call's, or the call's with a suffix) and its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub id: String,
    pub path: PathBuf,
}

#[cfg(test)]
mod tests;
