//! N-party mixer for G.711 (PCMU and PCMA, mixed freely).
//!
//! Pure: no sockets, no clock. The driver pushes each party's RTP payloads
//! as they arrive and calls [`Mixer::tick`] every 20 ms; each tick takes one
//! frame per party from its reorder buffer (concealing a missing one by
//! repeating the last frame at half level once, then silence). What a party
//! hears is its [`Listening`]: by default every other party (a conference:
//! the sum of all parties in `i32` minus its own contribution), or a list of
//! parties each at its own [`Gain`] (a whisper, a tone over a call), or
//! nothing (a party that only speaks). The sum is saturated to `i16` and
//! encoded in the listener's codec. A *direct* party is fed one frame per
//! tick by the driver ([`Mixer::put_frame`], a playback) instead of RTP.
//!
//! Delay: a frame pushed just after a tick is played at the tick after
//! `playout_delay` more ticks, so at most one tick plus the playout delay
//! (default one frame, at most `BUFFER_FRAMES - 1`). Ticks allocate nothing:
//! every buffer is inline in the party, and the party list is reserved up
//! front for `max_parties`.

mod gain;
mod jitter;
#[cfg(test)]
mod tests;

pub use self::gain::Gain;
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
    #[error("{0} is fed the other way (RTP through its buffer, or frames put directly)")]
    WrongFeed(PartyId),
}

/// What one party hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listening {
    /// Every other party at unity: a conference. What [`Mixer::add_party`] starts with.
    Others,
    /// These parties at these gains (a party not in the mixer is skipped).
    Sources(Vec<(PartyId, Gain)>),
    /// Nothing: the party only speaks, and [`Mixer::tick`] gives no frame for it.
    Nothing,
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
    listening: Listening,
    /// Fed by [`Mixer::put_frame`] rather than through the reorder buffer.
    direct: bool,
    /// A frame was put since the last tick (direct parties).
    fresh: bool,
}

impl Party {
    /// Takes this tick's frame into `pcm` and sets `active`.
    fn advance(&mut self) {
        if self.direct {
            self.active = std::mem::take(&mut self.fresh);
            if self.active {
                self.stats.played += 1;
            }
            return;
        }
        match self.jitter.pop() {
            Play::Frame(frame) => {
                g711::decode_frame(self.codec, frame, &mut self.pcm);
                self.active = true;
                self.can_conceal = true;
                self.stats.played += 1;
            }
            Play::Conceal if self.can_conceal => {
                for s in &mut self.pcm {
                    *s /= 2;
                }
                self.active = true;
                self.can_conceal = false;
                self.stats.concealed += 1;
            }
            Play::Conceal | Play::Silent => {
                self.active = false;
                self.can_conceal = false;
            }
        }
    }
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

    /// Raises the number of parties the mixer takes (reserving room now, not at a tick).
    pub fn set_max_parties(&mut self, max_parties: usize) {
        if max_parties > self.max_parties {
            self.parties
                .reserve(max_parties.saturating_sub(self.parties.len()));
            self.max_parties = max_parties;
        }
    }

    /// The parties, in no particular order.
    pub fn ids(&self) -> impl Iterator<Item = PartyId> + '_ {
        self.parties.iter().map(|p| p.id)
    }

    pub fn codec(&self, id: PartyId) -> Option<Codec> {
        self.parties.iter().find(|p| p.id == id).map(|p| p.codec)
    }

    pub fn contains(&self, id: PartyId) -> bool {
        self.parties.iter().any(|p| p.id == id)
    }

    /// Adds a party fed by RTP ([`Mixer::push`]) that hears every other party.
    pub fn add_party(&mut self, id: PartyId, codec: Codec) -> Result<(), MixerError> {
        self.add(id, codec, false)
    }

    /// Adds a party fed one frame per tick by [`Mixer::put_frame`] (a playback); it hears
    /// nothing.
    pub fn add_direct(&mut self, id: PartyId, codec: Codec) -> Result<(), MixerError> {
        self.add(id, codec, true)
    }

    fn add(&mut self, id: PartyId, codec: Codec, direct: bool) -> Result<(), MixerError> {
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
            listening: if direct {
                Listening::Nothing
            } else {
                Listening::Others
            },
            direct,
            fresh: false,
        });
        Ok(())
    }

    /// Sets what a party hears from the next tick on.
    pub fn set_listening(&mut self, id: PartyId, listening: Listening) -> Result<(), MixerError> {
        let i = self.index(id)?;
        self.parties[i].listening = listening;
        Ok(())
    }

    /// This tick's frame of a direct party: 160 bytes in its codec. A tick without one hears
    /// the party silent.
    pub fn put_frame(&mut self, id: PartyId, frame: &[u8]) -> Result<(), MixerError> {
        if frame.len() != FRAME_BYTES {
            return Err(MixerError::FrameSize { len: frame.len() });
        }
        let i = self.index(id)?;
        let party = &mut self.parties[i];
        if !party.direct {
            return Err(MixerError::WrongFeed(id));
        }
        g711::decode_frame(party.codec, frame, &mut party.pcm);
        party.fresh = true;
        party.stats.received += 1;
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
        if party.direct {
            return Err(MixerError::WrongFeed(id));
        }
        party.jitter.push(seq, frame, &mut party.stats);
        Ok(())
    }

    /// Mixes one 20 ms frame: for every party that listens, what it hears, 160 bytes in its
    /// own codec.
    pub fn tick(&mut self) -> impl Iterator<Item = (PartyId, &[u8])> + '_ {
        let conference = self
            .parties
            .iter()
            .any(|p| matches!(p.listening, Listening::Others));
        self.sum = [0; FRAME_BYTES];
        for party in &mut self.parties {
            party.advance();
            if conference && party.active {
                for (acc, &s) in self.sum.iter_mut().zip(&party.pcm) {
                    *acc += i32::from(s);
                }
            }
        }
        for i in 0..self.parties.len() {
            let mut heard = [0i16; FRAME_BYTES];
            let party = &self.parties[i];
            match &party.listening {
                Listening::Nothing => continue,
                Listening::Others if party.active => {
                    for ((h, &acc), &own) in heard.iter_mut().zip(&self.sum).zip(&party.pcm) {
                        *h = saturate(acc - i32::from(own));
                    }
                }
                Listening::Others => {
                    for (h, &acc) in heard.iter_mut().zip(&self.sum) {
                        *h = saturate(acc);
                    }
                }
                Listening::Sources(sources) => {
                    let mut acc = [0i32; FRAME_BYTES];
                    for &(id, gain) in sources {
                        let Some(source) = self.parties.iter().find(|p| p.id == id) else {
                            continue;
                        };
                        if source.active {
                            for (a, &s) in acc.iter_mut().zip(&source.pcm) {
                                *a += gain.apply(s);
                            }
                        }
                    }
                    for (h, &a) in heard.iter_mut().zip(&acc) {
                        *h = saturate(a);
                    }
                }
            }
            let party = &mut self.parties[i];
            g711::encode_frame(party.codec, &heard, &mut party.out);
        }
        self.parties
            .iter()
            .filter(|p| !matches!(p.listening, Listening::Nothing))
            .map(|p| (p.id, &p.out[..]))
    }
}

#[inline]
fn saturate(v: i32) -> i16 {
    v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}
