//! What each leg of the hub hears, without sockets or clock: the wishes the call expressed
//! (silence, a bridge, a playback, a list of legs at gains, a conference, an overlay on top)
//! and the cheapest way to give them. A leg that hears one leg as it is sent gets that leg's
//! packets relayed; a leg that hears one playback gets its packets; anything else (two sources
//! or more, a gain, a codec change, an overlay) goes through the [`Mixer`]: each source
//! decoded, summed at its gain and encoded in the listener's codec at the 20 ms tick.
//!
//! Every change of a wish calls [`Hearing::replan`], which works out each leg's [`Route`] and
//! sets the mixer up (parties and what each hears). Packets and ticks allocate nothing: the
//! mixer's buffers are made when the sources are set up.

use super::player::{Playback, FRAME};
use super::{HubEvent, LegIndex};
use crate::media::g711;
use crate::media::mixer::{Gain, Listening, Mixer, PartyId};
use crate::media::sdp::Codec;
use crate::media::PtMap;

/// Mixer ids: a leg is `PartyId(leg)`, a leg's playback under an overlay `PLAYBACK + leg`,
/// its overlay `OVERLAY + leg`.
const PLAYBACK: u64 = 1 << 40;
const OVERLAY: u64 = 2 << 40;

/// A leg's audio as its SDP agreed: codec and payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audio {
    pub codec: Codec,
    pub pt: u8,
}

/// What a leg was asked to hear.
pub(super) enum Wanted {
    Silence,
    /// A bridge: the packets of `from`, payload types mapped (`forward`: this leg is B).
    Leg {
        from: LegIndex,
        map: PtMap,
        forward: bool,
    },
    Playing(Playback),
    /// These legs at these gains. `relay`: one leg at unity in the listener's codec is relayed
    /// rather than decoded (`hear`); a conference (`mix`) is always mixed.
    Sources {
        sources: Vec<(LegIndex, Gain)>,
        relay: bool,
    },
}

/// How the hub gives a leg what it hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    Silence,
    /// Packets received on `from`, payload types mapped.
    Relay {
        from: LegIndex,
        map: PtMap,
        forward: bool,
    },
    /// The packets of the leg's playback.
    Play,
    /// A frame of the mixer at every tick.
    Mixed,
}

struct Ear {
    wanted: Wanted,
    overlay: Option<(Playback, Gain)>,
    /// Legs heard on top of whatever is wanted (a supervisor's whisper or barge).
    extra: Vec<(LegIndex, Gain)>,
    audio: Option<Audio>,
    telephone_event: Option<u8>,
    route: Route,
    /// The payload type the mixer takes from this leg's packets, when it takes them.
    feeds: Option<u8>,
}

pub(super) struct Hearing {
    ears: Vec<Ear>,
    mixer: Mixer,
    /// The legs of the conference (`mix`), each hearing all the others.
    conference: Vec<LegIndex>,
    ticking: bool,
}

impl Hearing {
    pub(super) fn new() -> Hearing {
        Hearing {
            ears: Vec::new(),
            mixer: Mixer::new(0),
            conference: Vec::new(),
            ticking: false,
        }
    }

    /// A new leg, silent; its index is the number of legs before it.
    pub(super) fn add_leg(&mut self, telephone_event: Option<u8>) {
        self.ears.push(Ear {
            wanted: Wanted::Silence,
            overlay: None,
            extra: Vec::new(),
            audio: None,
            telephone_event,
            route: Route::Silence,
            feeds: None,
        });
    }

    pub(super) fn route(&self, leg: LegIndex) -> Route {
        self.ears.get(leg).map_or(Route::Silence, |e| e.route)
    }

    /// Whether anything needs the 20 ms tick (a playback or the mixer).
    pub(super) fn ticking(&self) -> bool {
        self.ticking
    }

    pub(super) fn set_audio(&mut self, leg: LegIndex, audio: Audio) {
        if let Some(ear) = self.ears.get_mut(leg) {
            ear.audio = Some(audio);
            self.replan();
        }
    }

    /// A new wish for `leg`; it leaves the conference.
    pub(super) fn want(&mut self, leg: LegIndex, wanted: Wanted) {
        if leg >= self.ears.len() {
            return;
        }
        self.leave_conference(leg);
        self.ears[leg].wanted = wanted;
        self.replan();
    }

    /// `a` hears `b` and `b` hears `a`, relayed.
    pub(super) fn bridge(&mut self, a: LegIndex, b: LegIndex, map: PtMap) {
        if a >= self.ears.len() || b >= self.ears.len() || a == b {
            return;
        }
        self.leave_conference(a);
        self.leave_conference(b);
        self.ears[a].wanted = Wanted::Leg {
            from: b,
            map,
            forward: false,
        };
        self.ears[b].wanted = Wanted::Leg {
            from: a,
            map,
            forward: true,
        };
        self.replan();
    }

    /// These legs (with their audio) hear all the others; an earlier conference ends.
    pub(super) fn mix(&mut self, parties: &[(LegIndex, Audio)]) {
        for leg in std::mem::take(&mut self.conference) {
            self.ears[leg].wanted = Wanted::Silence;
        }
        for &(leg, audio) in parties {
            if let Some(ear) = self.ears.get_mut(leg) {
                ear.audio = Some(audio);
                if !self.conference.contains(&leg) {
                    self.conference.push(leg);
                }
            }
        }
        self.hear_conference();
        self.replan();
    }

    /// Plays `playback` at `gain` on top of what `leg` hears; a playback in the leg's codec
    /// tells its audio if nothing did before.
    pub(super) fn overlay(&mut self, leg: LegIndex, playback: Playback, gain: Gain, audio: Audio) {
        let Some(ear) = self.ears.get_mut(leg) else {
            return;
        };
        ear.audio.get_or_insert(audio);
        ear.overlay = Some((playback, gain));
        self.replan();
    }

    /// `leg` hears these legs on top of whatever it hears now, and keeps hearing them through
    /// every later wish, until told other legs (an empty list: nothing more).
    pub(super) fn also_hear(&mut self, leg: LegIndex, sources: Vec<(LegIndex, Gain)>) {
        let Some(ear) = self.ears.get_mut(leg) else {
            return;
        };
        ear.extra = sources
            .into_iter()
            .filter(|&(from, _)| from != leg)
            .collect();
        self.replan();
    }

    fn leave_conference(&mut self, leg: LegIndex) {
        if let Some(i) = self.conference.iter().position(|&l| l == leg) {
            self.conference.remove(i);
            self.hear_conference();
        }
    }

    fn hear_conference(&mut self) {
        for &leg in &self.conference {
            let sources = self
                .conference
                .iter()
                .filter(|&&other| other != leg)
                .map(|&other| (other, Gain::UNITY))
                .collect();
            self.ears[leg].wanted = Wanted::Sources {
                sources,
                relay: false,
            };
        }
    }

    /// The playback a leg on [`Route::Play`] hears.
    pub(super) fn playback(&mut self, leg: LegIndex) -> Option<&mut Playback> {
        match self.ears.get_mut(leg).map(|e| &mut e.wanted) {
            Some(Wanted::Playing(playback)) => Some(playback),
            _ => None,
        }
    }

    /// The leg's playback is over: it hears silence.
    pub(super) fn playback_done(&mut self, leg: LegIndex) {
        if let Some(ear) = self.ears.get_mut(leg) {
            ear.wanted = Wanted::Silence;
            self.replan();
        }
    }

    /// An RTP packet of `from` with payload type `pt`, for the mixer if it takes this leg.
    pub(super) fn on_packet(&mut self, from: LegIndex, pt: u8, seq: u16, ts: u32, payload: &[u8]) {
        if self.ears.get(from).and_then(|e| e.feeds) == Some(pt) {
            // A frame of another size (10 ms, 30 ms ptime) is refused and counted as lost.
            let _ = self.mixer.push(PartyId(from as u64), seq, ts, payload);
        }
    }

    /// The legs relaying `from`'s packets: (listener, map, forward).
    pub(super) fn relays_from(
        &self,
        from: LegIndex,
    ) -> impl Iterator<Item = (LegIndex, PtMap, bool)> + '_ {
        self.ears
            .iter()
            .enumerate()
            .filter_map(move |(to, ear)| match ear.route {
                Route::Relay {
                    from: heard,
                    map,
                    forward,
                } if heard == from && to != from => Some((to, map, forward)),
                _ => None,
            })
    }

    /// Puts this tick's frames of the playbacks heard through the mixer; playbacks that are
    /// over are reported to `ended` and their legs replanned.
    pub(super) fn feed_playbacks(&mut self, mut ended: impl FnMut(HubEvent)) {
        let mut changed = false;
        let mut frame = [0u8; FRAME];
        for (leg, ear) in self.ears.iter_mut().enumerate() {
            if ear.route != Route::Mixed {
                continue;
            }
            if let Wanted::Playing(playback) = &mut ear.wanted {
                if playback.next_frame(&mut frame).is_some() {
                    let _ = self.mixer.put_frame(PartyId(PLAYBACK + leg as u64), &frame);
                } else {
                    ear.wanted = Wanted::Silence;
                    ended(HubEvent::PlaybackDone { leg });
                    changed = true;
                }
            }
            if let Some((overlay, _)) = &mut ear.overlay {
                if overlay.next_frame(&mut frame).is_some() {
                    let _ = self.mixer.put_frame(PartyId(OVERLAY + leg as u64), &frame);
                } else {
                    ear.overlay = None;
                    ended(HubEvent::OverlayDone { leg });
                    changed = true;
                }
            }
        }
        if changed {
            self.replan();
        }
    }

    /// One frame of the mixer for every leg on [`Route::Mixed`]: (leg, payload type, frame).
    pub(super) fn mix_tick(&mut self) -> impl Iterator<Item = (LegIndex, u8, &[u8])> + '_ {
        let ears = &self.ears;
        self.mixer.tick().filter_map(move |(id, frame)| {
            let leg = usize::try_from(id.0).ok().filter(|_| id.0 < PLAYBACK)?;
            let ear = ears.get(leg)?;
            (ear.route == Route::Mixed).then_some((leg, ear.audio?.pt, frame))
        })
    }

    /// Works out every leg's route and sets the mixer up for the mixed ones.
    fn replan(&mut self) {
        for leg in 0..self.ears.len() {
            self.ears[leg].route = self.route_of(leg);
            self.ears[leg].feeds = None;
        }
        // The mixer's parties: (id, codec, direct) and what each listener hears.
        let mut parties: Vec<(PartyId, Codec, bool)> = Vec::new();
        let mut listeners: Vec<(PartyId, Vec<(PartyId, Gain)>)> = Vec::new();
        for leg in 0..self.ears.len() {
            let ear = &self.ears[leg];
            let (Route::Mixed, Some(audio)) = (ear.route, ear.audio) else {
                continue;
            };
            let me = PartyId(leg as u64);
            // Legs heard (leg, gain, its audio) and what this listener hears in the mixer.
            let mut legs = Vec::new();
            let mut sources = Vec::new();
            match &ear.wanted {
                Wanted::Silence => {}
                Wanted::Leg { from, map, forward } => {
                    // A bridge does not transcode: the other leg speaks this leg's codec.
                    let pt = if *forward {
                        map.b_to_a(audio.pt)
                    } else {
                        map.a_to_b(audio.pt)
                    };
                    let source = self.ears[*from].audio.unwrap_or(Audio {
                        codec: audio.codec,
                        pt,
                    });
                    legs.push((*from, Gain::UNITY, source));
                }
                Wanted::Playing(_) => {
                    let id = PartyId(PLAYBACK + leg as u64);
                    parties.push((id, audio.codec, true));
                    sources.push((id, Gain::UNITY));
                }
                Wanted::Sources {
                    sources: wanted, ..
                } => {
                    for &(from, gain) in wanted {
                        match self.ears.get(from).and_then(|e| e.audio) {
                            Some(source) => legs.push((from, gain, source)),
                            None => tracing::warn!(
                                leg,
                                from,
                                "audio of a source not known; it is not heard"
                            ),
                        }
                    }
                }
            }
            for &(from, gain) in &ear.extra {
                if let Some(source) = self.ears.get(from).and_then(|e| e.audio) {
                    if !legs.iter().any(|&(l, _, _)| l == from) {
                        legs.push((from, gain, source));
                    }
                }
            }
            if let Some((_, gain)) = ear.overlay {
                let id = PartyId(OVERLAY + leg as u64);
                parties.push((id, audio.codec, true));
                sources.push((id, gain));
            }
            add_party(&mut parties, me, audio.codec);
            self.ears[leg].feeds.get_or_insert(audio.pt);
            for (from, gain, source) in legs {
                let id = PartyId(from as u64);
                add_party(&mut parties, id, source.codec);
                self.ears[from].feeds.get_or_insert(source.pt);
                sources.push((id, gain));
            }
            listeners.push((me, sources));
        }
        self.sync_mixer(&parties, listeners);
        self.ticking = self
            .ears
            .iter()
            .any(|e| matches!(e.route, Route::Play | Route::Mixed));
    }

    /// The mixer gets exactly `parties`, in their codecs, keeping the buffers of those it has.
    fn sync_mixer(
        &mut self,
        parties: &[(PartyId, Codec, bool)],
        listeners: Vec<(PartyId, Vec<(PartyId, Gain)>)>,
    ) {
        let stale: Vec<PartyId> = self
            .mixer
            .ids()
            .filter(|id| {
                !parties
                    .iter()
                    .any(|&(p, codec, _)| p == *id && self.mixer.codec(*id) == Some(codec))
            })
            .collect();
        for id in stale {
            let _ = self.mixer.remove_party(id);
        }
        self.mixer.set_max_parties(parties.len());
        for &(id, codec, direct) in parties {
            if !self.mixer.contains(id) {
                let added = if direct {
                    self.mixer.add_direct(id, codec)
                } else {
                    self.mixer.add_party(id, codec)
                };
                if let Err(error) = added {
                    tracing::warn!(%error, "mixer refused a source");
                }
            }
            let _ = self.mixer.set_listening(id, Listening::Nothing);
        }
        for (id, sources) in listeners {
            let _ = self.mixer.set_listening(id, Listening::Sources(sources));
        }
    }

    fn route_of(&self, leg: LegIndex) -> Route {
        let ear = &self.ears[leg];
        let mixable = ear.audio.is_some();
        if (ear.overlay.is_some() || !ear.extra.is_empty()) && mixable {
            return Route::Mixed;
        }
        match &ear.wanted {
            Wanted::Silence => Route::Silence,
            &Wanted::Leg { from, map, forward } => Route::Relay { from, map, forward },
            Wanted::Playing(_) => Route::Play,
            Wanted::Sources { sources, relay } => match (sources.as_slice(), relay) {
                ([], true) => Route::Silence,
                (&[(from, gain)], true) if gain.is_unity() => {
                    self.relay_route(leg, from).unwrap_or(if mixable {
                        Route::Mixed
                    } else {
                        Route::Silence
                    })
                }
                _ if mixable => Route::Mixed,
                _ => Route::Silence,
            },
        }
    }

    /// `leg` hearing `from` as it is sent, if no transcoding is needed: the same codec, or
    /// either's audio unknown (payload types passed as they are).
    fn relay_route(&self, leg: LegIndex, from: LegIndex) -> Option<Route> {
        let (me, source) = (&self.ears[leg], self.ears.get(from)?);
        let mut map = PtMap::identity();
        if let (Some(mine), Some(theirs)) = (me.audio, source.audio) {
            if mine.codec != theirs.codec {
                return None;
            }
            map = map.with(theirs.pt, mine.pt);
        }
        if let (Some(mine), Some(theirs)) = (me.telephone_event, source.telephone_event) {
            map = map.with(theirs, mine);
        }
        Some(Route::Relay {
            from,
            map,
            forward: true,
        })
    }
}

/// Adds a leg to the mixer's parties unless it is there already.
fn add_party(parties: &mut Vec<(PartyId, Codec, bool)>, id: PartyId, codec: Codec) {
    if !parties.iter().any(|p| p.0 == id) {
        parties.push((id, codec, false));
    }
}

impl Audio {
    /// The audio a playback is encoded in: its payload type, and the codec its silence byte
    /// belongs to.
    pub fn of_playback(pt: u8, silence: u8) -> Audio {
        let codec = if silence == g711::ALAW_SILENCE {
            Codec::Pcma
        } else {
            Codec::Pcmu
        };
        Audio { codec, pt }
    }
}

#[cfg(test)]
mod tests;
