//! N-party conference mixer for G.711 (PCMU and PCMA, mixed freely).
//!
//! Pure: no sockets, no clock. The driver pushes each party's RTP payloads
//! as they arrive and calls [`Mixer::tick`] every 20 ms; each tick takes one
//! frame per party from its reorder buffer (concealing a missing one by
//! repeating the last frame at half level once, then silence), sums all
//! parties in `i32` and gives every party the sum minus its own
//! contribution, saturated to `i16` and encoded in that party's codec.
//!
//! Delay: a frame pushed just after a tick is played at the tick after
//! `playout_delay` more ticks, so at most one tick plus the playout delay
//! (default one frame, at most `BUFFER_FRAMES - 1`). Ticks allocate nothing:
//! every buffer is inline in the party, and the party list is reserved up
//! front for `max_parties`.

mod jitter;
#[cfg(test)]
mod tests;

use self::jitter::{Jitter, Play};
use super::g711;
use super::sdp::Codec;

/// Samples (and G.711 bytes) in one 20 ms frame at 8 kHz.
pub const FRAME_BYTES: usize = 160;
/// Frames one party's reorder buffer holds.
pub const BUFFER_FRAMES: usize = 3;
/// Parties in a three-way call: seat, caller and a unit's duty line.
pub const DEFAULT_MAX_PARTIES: usize = 3;
/// Ticks a party's first frame waits before it is played, so that a frame
/// overtaken by its successor still arrives in time.
pub const DEFAULT_PLAYOUT_DELAY: u8 = 1;

/// The caller's name for a party (a leg id, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartyId(pub u64);

impl std::fmt::Display for PartyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "party {}", self.0)
    }
}

/// Refusals of the mixer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MixerError {
    #[error("mix is full ({max} parties)")]
    Full { max: usize },
    #[error("{0} is already in the mix")]
    DuplicateParty(PartyId),
    #[error("{0} is not in the mix")]
    UnknownParty(PartyId),
    #[error("frame of {len} bytes; the mixer takes 20 ms frames of {FRAME_BYTES}")]
    FrameSize { len: usize },
}

/// Counters of one party's incoming frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartyStats {
    /// Frames pushed (of the right size).
    pub received: u64,
    /// Frames played at their tick.
    pub played: u64,
    /// Ticks a missing frame was concealed by repeating the last one.
    pub concealed: u64,
    /// Frames dropped because their tick had passed.
    pub late: u64,
    /// Frames dropped because the same sequence number was buffered.
    pub duplicate: u64,
    /// Buffered frames dropped when a frame far ahead moved playout up.
    pub overrun: u64,
}

struct Party {
    id: PartyId,
    codec: Codec,
    jitter: Jitter,
    /// This tick's contribution (valid when `active`); also the last played
    /// frame, which concealment repeats.
    pcm: [i16; FRAME_BYTES],
    active: bool,
    /// `pcm` holds a real frame played at the previous tick.
    can_conceal: bool,
    out: [u8; FRAME_BYTES],
    stats: PartyStats,
}

/// One conference: up to `max_parties` legs.
pub struct Mixer {
    max_parties: usize,
    playout_delay: u8,
    parties: Vec<Party>,
    sum: [i32; FRAME_BYTES],
}

impl Default for Mixer {
    fn default() -> Mixer {
        Mixer::new(DEFAULT_MAX_PARTIES)
    }
}

impl Mixer {
    pub fn new(max_parties: usize) -> Mixer {
        Mixer::with_playout_delay(max_parties, DEFAULT_PLAYOUT_DELAY)
    }

    /// `playout_delay` in frames, capped at `BUFFER_FRAMES - 1`.
    pub fn with_playout_delay(max_parties: usize, playout_delay: u8) -> Mixer {
        Mixer {
            max_parties,
            playout_delay: playout_delay.min(BUFFER_FRAMES as u8 - 1),
            parties: Vec::with_capacity(max_parties),
            sum: [0; FRAME_BYTES],
        }
    }

    pub fn max_parties(&self) -> usize {
        self.max_parties
    }

    pub fn len(&self) -> usize {
        self.parties.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parties.is_empty()
    }

    pub fn add_party(&mut self, id: PartyId, codec: Codec) -> Result<(), MixerError> {
        if self.parties.iter().any(|p| p.id == id) {
            return Err(MixerError::DuplicateParty(id));
        }
        if self.parties.len() >= self.max_parties {
            return Err(MixerError::Full {
                max: self.max_parties,
            });
        }
        self.parties.push(Party {
            id,
            codec,
            jitter: Jitter::new(self.playout_delay),
            pcm: [0; FRAME_BYTES],
            active: false,
            can_conceal: false,
            out: [g711::silence(codec); FRAME_BYTES],
            stats: PartyStats::default(),
        });
        Ok(())
    }

    /// Removes a party and returns its counters.
    pub fn remove_party(&mut self, id: PartyId) -> Result<PartyStats, MixerError> {
        let i = self.index(id)?;
        Ok(self.parties.swap_remove(i).stats)
    }

    pub fn stats(&self, id: PartyId) -> Option<PartyStats> {
        self.parties.iter().find(|p| p.id == id).map(|p| p.stats)
    }

    fn index(&self, id: PartyId) -> Result<usize, MixerError> {
        self.parties
            .iter()
            .position(|p| p.id == id)
            .ok_or(MixerError::UnknownParty(id))
    }

    /// One RTP payload of a party: 160 bytes of G.711 in the party's codec.
    /// The sequence number orders frames; `timestamp` is not used yet (every
    /// frame is taken as 20 ms, so a sender's pause shows as missing
    /// sequence numbers only if it keeps counting, which RTP senders do).
    pub fn push(
        &mut self,
        id: PartyId,
        seq: u16,
        _timestamp: u32,
        payload: &[u8],
    ) -> Result<(), MixerError> {
        let frame: &[u8; FRAME_BYTES] = payload
            .try_into()
            .map_err(|_| MixerError::FrameSize { len: payload.len() })?;
        let i = self.index(id)?;
        let party = &mut self.parties[i];
        party.jitter.push(seq, frame, &mut party.stats);
        Ok(())
    }

    /// Mixes one 20 ms frame: for every party, what it hears (everyone but
    /// itself), 160 bytes in its own codec.
    pub fn tick(&mut self) -> impl Iterator<Item = (PartyId, &[u8])> + '_ {
        self.sum = [0; FRAME_BYTES];
        for party in &mut self.parties {
            match party.jitter.pop() {
                Play::Frame(frame) => {
                    g711::decode_frame(party.codec, frame, &mut party.pcm);
                    party.active = true;
                    party.can_conceal = true;
                    party.stats.played += 1;
                }
                Play::Conceal if party.can_conceal => {
                    for s in &mut party.pcm {
                        *s /= 2;
                    }
                    party.active = true;
                    party.can_conceal = false;
                    party.stats.concealed += 1;
                }
                Play::Conceal | Play::Silent => {
                    party.active = false;
                    party.can_conceal = false;
                }
            }
            if party.active {
                for (acc, &s) in self.sum.iter_mut().zip(&party.pcm) {
                    *acc += i32::from(s);
                }
            }
        }
        let sum = &self.sum;
        for party in &mut self.parties {
            let mut heard = [0i16; FRAME_BYTES];
            if party.active {
                for ((h, &acc), &own) in heard.iter_mut().zip(sum).zip(&party.pcm) {
                    *h = saturate(acc - i32::from(own));
                }
            } else {
                for (h, &acc) in heard.iter_mut().zip(sum) {
                    *h = saturate(acc);
                }
            }
            g711::encode_frame(party.codec, &heard, &mut party.out);
        }
        self.parties.iter().map(|p| (p.id, &p.out[..]))
    }
}

#[inline]
fn saturate(v: i32) -> i16 {
    v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}
