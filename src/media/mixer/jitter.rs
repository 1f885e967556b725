//! A party's reorder buffer: a few 20 ms frames keyed by RTP sequence number,
//! played out one per tick after a fixed playout delay.
//!
//! States: idle (nothing to play; the next packet starts playout), running
//! (`next` is the sequence number the next tick plays). A run ends when a
//! frame is missing, concealment is used up and nothing is buffered; the
//! party then goes idle and the next packet re-anchors playout, so a sender
//! that paused (silence suppression, hold) resumes without the buffer having
//! drifted ahead of it.

use super::{PartyStats, BUFFER_FRAMES, FRAME_BYTES};

/// A late packet further behind than this (in frames, one second) is taken
/// as a restarted stream rather than a late one.
const RESYNC_FRAMES: u16 = 50;

#[derive(Clone, Copy)]
struct Slot {
    seq: u16,
    present: bool,
    data: [u8; FRAME_BYTES],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// `after`: the last sequence number played, if any; packets at or
    /// before it (within `RESYNC_FRAMES`) are late.
    Idle { after: Option<u16> },
    /// `hold`: ticks still to wait before playing `next`; `misses`: frames
    /// missing in a row.
    Running { next: u16, hold: u8, misses: u8 },
}

/// What one tick takes from the buffer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Play<'a> {
    Frame(&'a [u8; FRAME_BYTES]),
    /// The frame due is missing, for the first time in a row.
    Conceal,
    Silent,
}

pub(super) struct Jitter {
    slots: [Slot; BUFFER_FRAMES],
    state: State,
    delay: u8,
    last_played: Option<u16>,
}

/// Signed distance from `from` to `to` in sequence-number space.
#[inline]
fn distance(from: u16, to: u16) -> i16 {
    to.wrapping_sub(from) as i16
}

impl Jitter {
    pub(super) fn new(delay: u8) -> Jitter {
        Jitter {
            slots: [Slot {
                seq: 0,
                present: false,
                data: [0; FRAME_BYTES],
            }; BUFFER_FRAMES],
            state: State::Idle { after: None },
            delay,
            last_played: None,
        }
    }

    fn clear(&mut self) {
        for s in &mut self.slots {
            s.present = false;
        }
    }

    fn start(&mut self, seq: u16) {
        self.clear();
        self.state = State::Running {
            next: seq,
            hold: self.delay,
            misses: 0,
        };
    }

    /// Stores one frame; counts late, duplicate and overrun packets.
    pub(super) fn push(&mut self, seq: u16, frame: &[u8; FRAME_BYTES], stats: &mut PartyStats) {
        stats.received += 1;
        match self.state {
            State::Idle { after } => {
                if let Some(after) = after {
                    let d = distance(after, seq);
                    if d <= 0 && d > -(RESYNC_FRAMES as i16) {
                        stats.late += 1;
                        return;
                    }
                }
                self.start(seq);
            }
            State::Running { next, hold, misses } => {
                let d = distance(next, seq);
                if d <= -(RESYNC_FRAMES as i16) {
                    self.start(seq);
                } else if d < 0 {
                    stats.late += 1;
                    return;
                } else if d as usize >= BUFFER_FRAMES {
                    // Too far ahead to keep everything: move playout up so
                    // this frame plays after the usual delay, dropping what
                    // would now be behind it.
                    let new_next = seq.wrapping_sub(u16::from(self.delay));
                    for s in &mut self.slots {
                        if s.present && distance(new_next, s.seq) < 0 {
                            s.present = false;
                            stats.overrun += 1;
                        }
                    }
                    self.state = State::Running {
                        next: new_next,
                        hold,
                        misses,
                    };
                }
            }
        }
        if self.slots.iter().any(|s| s.present && s.seq == seq) {
            stats.duplicate += 1;
            return;
        }
        // Every present slot is in the window [next, next + BUFFER_FRAMES)
        // and `seq` is a new one in it, so a free slot exists.
        if let Some(slot) = self.slots.iter_mut().find(|s| !s.present) {
            slot.seq = seq;
            slot.present = true;
            slot.data = *frame;
        }
    }

    /// Takes the frame due at this tick.
    pub(super) fn pop(&mut self) -> Play<'_> {
        let State::Running { next, hold, misses } = self.state else {
            return Play::Silent;
        };
        if hold > 0 {
            self.state = State::Running {
                next,
                hold: hold - 1,
                misses,
            };
            return Play::Silent;
        }
        if let Some(i) = self.slots.iter().position(|s| s.present && s.seq == next) {
            self.state = State::Running {
                next: next.wrapping_add(1),
                hold: 0,
                misses: 0,
            };
            self.last_played = Some(next);
            let slot = &mut self.slots[i];
            slot.present = false;
            return Play::Frame(&slot.data);
        }
        let misses = misses.saturating_add(1);
        if misses > 1 && !self.slots.iter().any(|s| s.present) {
            self.state = State::Idle {
                after: self.last_played,
            };
        } else {
            self.state = State::Running {
                next: next.wrapping_add(1),
                hold: 0,
                misses,
            };
        }
        if misses == 1 {
            Play::Conceal
        } else {
            Play::Silent
        }
    }
}
