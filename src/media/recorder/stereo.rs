//! Two timed streams into one stereo track: the left channel (what the recorded leg sends)
//! and the right (what it hears) arrive as frames, each stamped with its position in samples
//! since the recording began; the track lays each frame after the last one of its channel,
//! fills silence where a channel had nothing for a while (a pause, hold without music, a
//! muted phone), and hands out interleaved samples once both channels are known up to a
//! point. Pure: no clock and no I/O.

use std::collections::VecDeque;

/// A channel may fall this far behind a frame's stamp before silence fills the gap (60 ms):
/// less is jitter, laid end to end.
const SLACK: u64 = 480;
/// A channel this far ahead of a frame's stamp drops the frame (1 s): a sender faster than
/// real time does not stretch the file.
const AHEAD: u64 = 8_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// What the recorded leg sends (the caller's voice).
    Left,
    /// What the recorded leg hears (seat, units, prompts).
    Right,
}

#[derive(Debug, Default)]
struct Lane {
    /// Samples from position `out` (the track's) on.
    pending: VecDeque<i16>,
}

/// The stereo track being assembled.
#[derive(Debug, Default)]
pub struct Stereo {
    left: Lane,
    right: Lane,
    /// Samples per channel handed out so far.
    out: u64,
    /// Frames dropped for running ahead.
    pub dropped: u64,
}

impl Stereo {
    /// A frame of `samples` of `channel`, stamped `at`.
    pub fn place(&mut self, channel: Channel, at: u64, samples: &[i16]) {
        let out = self.out;
        let lane = self.lane(channel);
        let cursor = out + lane.pending.len() as u64;
        if at > cursor + SLACK {
            lane.pending
                .extend(std::iter::repeat_n(0, (at - cursor) as usize));
        } else if cursor > at + AHEAD {
            self.dropped += 1;
            return;
        }
        self.lane(channel).pending.extend(samples.iter().copied());
    }

    /// Where channel `channel` stands: the position after its last sample.
    pub fn cursor(&self, channel: Channel) -> u64 {
        let lane = match channel {
            Channel::Left => &self.left,
            Channel::Right => &self.right,
        };
        self.out + lane.pending.len() as u64
    }

    /// Hands out the interleaved samples (left, right) up to position `upto`, silence where a
    /// channel has none; positions before the ones already handed out are ignored.
    pub fn take_until(&mut self, upto: u64, mut sink: impl FnMut(i16, i16)) {
        while self.out < upto {
            let l = self.left.pending.pop_front().unwrap_or(0);
            let r = self.right.pending.pop_front().unwrap_or(0);
            sink(l, r);
            self.out += 1;
        }
    }

    /// Position up to which both channels are known.
    pub fn settled(&self) -> u64 {
        self.cursor(Channel::Left).min(self.cursor(Channel::Right))
    }

    /// Position after the last sample of either channel.
    pub fn end(&self) -> u64 {
        self.cursor(Channel::Left).max(self.cursor(Channel::Right))
    }

    /// Samples per channel handed out so far.
    pub fn handed_out(&self) -> u64 {
        self.out
    }

    fn lane(&mut self, channel: Channel) -> &mut Lane {
        match channel {
            Channel::Left => &mut self.left,
            Channel::Right => &mut self.right,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(track: &mut Stereo, upto: u64) -> Vec<(i16, i16)> {
        let mut out = Vec::new();
        track.take_until(upto, |l, r| out.push((l, r)));
        out
    }

    #[test]
    fn frames_of_both_channels_line_up_by_their_stamps() {
        let mut track = Stereo::default();
        track.place(Channel::Left, 0, &[1; 160]);
        track.place(Channel::Right, 0, &[2; 160]);
        // Jitter: the next left frame comes 10 ms late, laid after the first.
        track.place(Channel::Left, 240, &[3; 160]);
        assert_eq!(track.settled(), 160);
        let settled = track.settled();
        let out = drain(&mut track, settled);
        assert_eq!(out.len(), 160);
        assert!(out.iter().all(|&s| s == (1, 2)));
        assert_eq!(track.cursor(Channel::Left), 320);
    }

    #[test]
    fn a_channel_silent_for_a_while_is_filled_with_silence() {
        let mut track = Stereo::default();
        track.place(Channel::Left, 0, &[5; 160]);
        // Nothing from the right until 1 s; then the left pauses for a second.
        track.place(Channel::Right, 8_000, &[7; 160]);
        track.place(Channel::Left, 16_000, &[5; 160]);
        let out = drain(&mut track, 8_160);
        assert_eq!(out[0], (5, 0));
        assert_eq!(out[200], (0, 0));
        assert_eq!(out[8_000], (0, 7));
        assert_eq!(track.cursor(Channel::Left), 16_160);
        assert_eq!(track.end(), 16_160);
        assert_eq!(track.handed_out(), 8_160);
    }

    #[test]
    fn a_sender_faster_than_real_time_does_not_stretch_the_track() {
        let mut track = Stereo::default();
        for _ in 0..100 {
            track.place(Channel::Left, 0, &[1; 160]);
        }
        // 1 s worth laid, the rest dropped.
        assert_eq!(track.cursor(Channel::Left), 8_160);
        assert_eq!(track.dropped, 49);
    }
}
