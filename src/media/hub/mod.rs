//! The media of one call: every leg's RTP socket in one task. Each leg hears one thing at a
//! time — silence, another leg (a bridge), a playback (prompts, hold music) or the conference
//! mix of the others — and the key presses (RFC 4733) it sends are reported to the call. One
//! fixed buffer per leg, so neither relaying nor playing allocates per packet.

mod player;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tracing::Instrument;

pub use self::player::FRAME;
use self::player::{OutStream, Playback};
use super::dtmf::EventDetector;
use super::latch::{Latch, Verdict};
use super::mixer::{Mixer, PartyId, FRAME_BYTES};
use super::rtp::{looks_like_rtp, rewrite_pt};
use super::sdp::Codec;
use super::stats::{bump, LegCounters, LegStats};
use super::{PtMap, RtpSocket};

/// Large enough for any RTP audio packet; a datagram that fills it may be truncated and is
/// dropped.
const BUF_LEN: usize = 2048;
const TICK: Duration = Duration::from_millis(20);
const COMMAND_QUEUE: usize = 64;

pub type LegIndex = usize;

/// A leg as the hub starts it.
pub struct HubLeg {
    pub socket: RtpSocket,
    /// The SDP address, until the first packet latches the real one.
    pub remote: Option<SocketAddr>,
    /// The leg's telephone-event payload type, for key presses.
    pub telephone_event: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubEvent {
    Digit { leg: LegIndex, digit: char },
    PlaybackDone { leg: LegIndex },
}

/// A leg joining the conference mix: its codec and audio payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MixParty {
    pub leg: LegIndex,
    pub codec: Codec,
    pub pt: u8,
}

/// Audio to play into a leg: encoded in the leg's codec, `pt` its payload type, `silence` the
/// codec's silence byte (0xFF for PCMU, 0xD5 for PCMA).
pub struct Play {
    pub items: Vec<Arc<[u8]>>,
    pub looping: bool,
    pub pt: u8,
    pub silence: u8,
}

enum Command {
    SetRemote(LegIndex, SocketAddr),
    Play(LegIndex, Play),
    Silence(LegIndex),
    /// `a` hears `b` and `b` hears `a`; payload types mapped by `map` (A = a, B = b).
    Bridge(LegIndex, LegIndex, PtMap),
    AddLeg(HubLeg, Arc<LegCounters>),
    /// These legs hear the mix of all the others (a conference); any earlier mix ends.
    Mix(Vec<MixParty>),
    /// The leg's key presses reach the call only, never the legs that hear it.
    KeepKeys(LegIndex),
}

enum Source {
    Silence,
    /// Packets received on `from`, with their payload type mapped.
    Leg {
        from: LegIndex,
        map: PtMap,
        forward: bool,
    },
    Playing(Playback),
    /// The conference mix of every other party.
    Mixed,
}

struct LegState {
    socket: RtpSocket,
    latch: Latch,
    buf: Box<[u8; BUF_LEN]>,
    counters: Arc<LegCounters>,
    hears: Source,
    telephone_event: Option<u8>,
    detector: EventDetector,
    /// Key presses are for the call only (a seat's feature codes).
    keeps_keys: bool,
    out: OutStream,
}

pub struct Hub;

impl Hub {
    /// Starts the hub's task with these legs; every leg starts silent. Key presses and ends of
    /// playbacks go to `events`.
    pub fn start(legs: Vec<HubLeg>, events: Option<mpsc::Sender<HubEvent>>) -> HubHandle {
        let (control, control_rx) = mpsc::channel(COMMAND_QUEUE);
        let mut counters = Vec::new();
        let states = legs
            .into_iter()
            .map(|leg| {
                let c = Arc::new(LegCounters::default());
                counters.push(c.clone());
                LegState::new(leg, c)
            })
            .collect();
        let task = HubTask {
            legs: states,
            control: control_rx,
            events,
            mix: None,
        };
        let join = tokio::spawn(task.run().instrument(tracing::Span::current()));
        HubHandle {
            control,
            counters: std::sync::Mutex::new(counters),
            join,
        }
    }
}

impl LegState {
    fn new(leg: HubLeg, counters: Arc<LegCounters>) -> LegState {
        LegState {
            socket: leg.socket,
            latch: Latch::new(leg.remote),
            buf: Box::new([0; BUF_LEN]),
            counters,
            hears: Source::Silence,
            telephone_event: leg.telephone_event,
            detector: EventDetector::default(),
            keeps_keys: false,
            out: OutStream::new(rand::random(), rand::random(), rand::random()),
        }
    }
}

/// Controls a running hub. Dropping it ends the hub; `stop` also waits for the sockets to close.
pub struct HubHandle {
    control: mpsc::Sender<Command>,
    counters: std::sync::Mutex<Vec<Arc<LegCounters>>>,
    join: JoinHandle<()>,
}

impl HubHandle {
    fn command(&self, command: Command) {
        if self.control.try_send(command).is_err() {
            tracing::warn!("media hub not keeping up with commands; one dropped");
        }
    }

    /// Adds a leg (a seat answering after the caller was already connected to the hub).
    pub fn add_leg(&self, leg: HubLeg) -> LegIndex {
        let counters = Arc::new(LegCounters::default());
        let index = match self.counters.lock() {
            Ok(mut all) => {
                all.push(counters.clone());
                all.len() - 1
            }
            Err(_) => 0,
        };
        self.command(Command::AddLeg(leg, counters));
        index
    }

    /// New SDP address for a leg (answer, re-INVITE): used at once, latching starts over.
    pub fn set_remote(&self, leg: LegIndex, addr: SocketAddr) {
        self.command(Command::SetRemote(leg, addr));
    }

    pub fn play(&self, leg: LegIndex, play: Play) {
        self.command(Command::Play(leg, play));
    }

    pub fn silence(&self, leg: LegIndex) {
        self.command(Command::Silence(leg));
    }

    pub fn bridge(&self, a: LegIndex, b: LegIndex, map: PtMap) {
        self.command(Command::Bridge(a, b, map));
    }

    /// Every party hears all the others mixed, not itself; a party that is later bridged,
    /// played to or silenced leaves the mix.
    pub fn mix(&self, parties: Vec<MixParty>) {
        self.command(Command::Mix(parties));
    }

    /// The leg's key presses are reported to the call and not relayed to anyone.
    pub fn keep_keys(&self, leg: LegIndex) {
        self.command(Command::KeepKeys(leg));
    }

    pub fn stats(&self, leg: LegIndex) -> LegStats {
        self.counters
            .lock()
            .ok()
            .and_then(|all| all.get(leg).map(|c| c.snapshot()))
            .unwrap_or_default()
    }

    /// Ends the hub and returns once its sockets are closed (ports back in the pool).
    pub async fn stop(self) {
        drop(self.control);
        if let Err(error) = self.join.await {
            tracing::warn!(%error, "media hub task failed");
        }
    }
}

struct HubTask {
    legs: Vec<LegState>,
    control: mpsc::Receiver<Command>,
    events: Option<mpsc::Sender<HubEvent>>,
    mix: Option<Mix>,
}

/// The conference of a call: the mixer and, beside it, each party's leg and payload type.
struct Mix {
    mixer: Mixer,
    parties: Vec<MixParty>,
}

impl Mix {
    fn party(&self, leg: LegIndex) -> Option<&MixParty> {
        self.parties.iter().find(|p| p.leg == leg)
    }
}

impl HubTask {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        // After a stall, send the missed frames so the stream keeps real time.
        tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
        loop {
            let playing = self.mix.is_some()
                || self
                    .legs
                    .iter()
                    .any(|l| matches!(l.hears, Source::Playing(_)));
            tokio::select! {
                command = self.control.recv() => match command {
                    Some(command) => self.apply(command),
                    None => break,
                },
                (leg, received) = recv_any(&mut self.legs) => {
                    if let Ok((len, source)) = received {
                        self.on_packet(leg, len, source).await;
                    }
                }
                _ = tick.tick(), if playing => self.play_tick().await,
            }
        }
    }

    fn apply(&mut self, command: Command) {
        match &command {
            Command::Play(leg, _) | Command::Silence(leg) => self.leave_mix(*leg),
            Command::Bridge(a, b, _) => {
                self.leave_mix(*a);
                self.leave_mix(*b);
            }
            _ => {}
        }
        match command {
            Command::SetRemote(leg, addr) => {
                if let Some(l) = self.legs.get_mut(leg) {
                    l.latch.rearm(addr);
                }
            }
            Command::Play(leg, play) => {
                if let Some(l) = self.legs.get_mut(leg) {
                    l.hears = Source::Playing(Playback::new(
                        play.items,
                        play.looping,
                        play.pt,
                        play.silence,
                    ));
                }
            }
            Command::Silence(leg) => {
                if let Some(l) = self.legs.get_mut(leg) {
                    l.hears = Source::Silence;
                }
            }
            Command::Bridge(a, b, map) => {
                if a < self.legs.len() && b < self.legs.len() && a != b {
                    self.legs[a].hears = Source::Leg {
                        from: b,
                        map,
                        forward: false,
                    };
                    self.legs[b].hears = Source::Leg {
                        from: a,
                        map,
                        forward: true,
                    };
                }
            }
            Command::AddLeg(leg, counters) => self.legs.push(LegState::new(leg, counters)),
            Command::Mix(parties) => self.start_mix(parties),
            Command::KeepKeys(leg) => {
                if let Some(l) = self.legs.get_mut(leg) {
                    l.keeps_keys = true;
                }
            }
        }
    }

    fn start_mix(&mut self, parties: Vec<MixParty>) {
        if let Some(old) = self.mix.take() {
            for party in old.parties {
                if let Some(l) = self.legs.get_mut(party.leg) {
                    l.hears = Source::Silence;
                }
            }
        }
        let mut mixer = Mixer::new(parties.len());
        let mut joined = Vec::with_capacity(parties.len());
        for party in parties {
            let Some(leg) = self.legs.get_mut(party.leg) else {
                continue;
            };
            if mixer
                .add_party(PartyId(party.leg as u64), party.codec)
                .is_ok()
            {
                leg.hears = Source::Mixed;
                joined.push(party);
            }
        }
        self.mix = Some(Mix {
            mixer,
            parties: joined,
        });
    }

    /// A leg that is given something else to hear leaves the conference.
    fn leave_mix(&mut self, leg: LegIndex) {
        let Some(mix) = &mut self.mix else {
            return;
        };
        if mix.party(leg).is_none() {
            return;
        }
        let _ = mix.mixer.remove_party(PartyId(leg as u64));
        mix.parties.retain(|p| p.leg != leg);
        if mix.parties.is_empty() {
            self.mix = None;
        }
    }

    async fn on_packet(&mut self, from: LegIndex, len: usize, source: SocketAddr) {
        let Some(leg) = self.legs.get_mut(from) else {
            return;
        };
        let packet = &leg.buf[..len];
        if len == BUF_LEN || !looks_like_rtp(packet) {
            bump(&leg.counters.dropped_invalid, 1);
            return;
        }
        if leg.latch.on_packet(source) == Verdict::Foreign {
            bump(&leg.counters.dropped_foreign, 1);
            return;
        }
        bump(&leg.counters.rx_packets, 1);
        bump(&leg.counters.rx_bytes, len as u64);
        let pt = packet[1] & 0x7f;
        let is_key = leg.telephone_event == Some(pt);
        if is_key {
            let marker = packet[1] & 0x80 != 0;
            let timestamp = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
            let header = 12 + 4 * usize::from(packet[0] & 0x0f);
            if let Some(digit) = packet
                .get(header..)
                .and_then(|p| leg.detector.on_packet(timestamp, marker, p))
            {
                if let Some(events) = &self.events {
                    let _ = events.try_send(HubEvent::Digit { leg: from, digit });
                }
            }
        }
        if is_key && self.legs[from].keeps_keys {
            return;
        }
        self.feed_mix(from, len);
        // Every leg that hears this one gets the packet.
        let original_pt = self.legs[from].buf[1];
        for to in 0..self.legs.len() {
            let Source::Leg {
                from: heard,
                map,
                forward,
            } = self.legs[to].hears
            else {
                continue;
            };
            if heard != from || to == from {
                continue;
            }
            let Some(destination) = self.legs[to].latch.remote() else {
                bump(&self.legs[from].counters.dropped_no_remote, 1);
                continue;
            };
            let (source_leg, dest_leg) = pair_mut(&mut self.legs, from, to);
            let packet = &mut source_leg.buf[..len];
            packet[1] = original_pt;
            if !map.is_identity() {
                // `forward` means this leg is B of the bridge, so packets go A to B.
                if forward {
                    rewrite_pt(packet, |pt| map.a_to_b(pt));
                } else {
                    rewrite_pt(packet, |pt| map.b_to_a(pt));
                }
            }
            match dest_leg.socket.socket().send_to(packet, destination).await {
                Ok(_) => {
                    bump(&dest_leg.counters.tx_packets, 1);
                    bump(&dest_leg.counters.tx_bytes, len as u64);
                }
                Err(error) => {
                    bump(&dest_leg.counters.send_errors, 1);
                    tracing::trace!(%error, remote = %destination, "RTP send failed");
                }
            }
        }
    }

    /// An audio packet of a conference party goes into the mixer.
    fn feed_mix(&mut self, from: LegIndex, len: usize) {
        let Some(mix) = &mut self.mix else {
            return;
        };
        let Some(party) = mix.party(from) else {
            return;
        };
        let packet = &self.legs[from].buf[..len];
        if packet[1] & 0x7f != party.pt {
            return;
        }
        let header = 12 + 4 * usize::from(packet[0] & 0x0f);
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let timestamp = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        if let Some(payload) = packet.get(header..) {
            // A frame of another size (10 ms, 30 ms ptime) is refused and counted as lost.
            let _ = mix
                .mixer
                .push(PartyId(from as u64), seq, timestamp, payload);
        }
    }

    /// One 20 ms frame of the conference to every party.
    async fn mix_tick(&mut self) {
        let Some(mix) = &mut self.mix else {
            return;
        };
        let parties = &mix.parties;
        for (id, frame) in mix.mixer.tick() {
            let Some(party) = parties.iter().find(|p| p.leg as u64 == id.0) else {
                continue;
            };
            let Some(leg) = self.legs.get_mut(party.leg) else {
                continue;
            };
            debug_assert_eq!(frame.len(), FRAME_BYTES);
            let len = leg.out.frame_packet(party.pt, frame, &mut leg.buf[..]);
            leg.send_own(len).await;
        }
    }

    async fn play_tick(&mut self) {
        self.mix_tick().await;
        for index in 0..self.legs.len() {
            let leg = &mut self.legs[index];
            let Source::Playing(playback) = &mut leg.hears else {
                continue;
            };
            let Some(len) = leg.out.next_packet(playback, &mut leg.buf[..]) else {
                leg.hears = Source::Silence;
                if let Some(events) = &self.events {
                    let _ = events.try_send(HubEvent::PlaybackDone { leg: index });
                }
                continue;
            };
            leg.send_own(len).await;
        }
    }
}

impl LegState {
    /// Sends the first `len` bytes of the leg's buffer (a packet the hub made itself: a
    /// prompt's, the mix's) to the leg's peer, counting it.
    async fn send_own(&mut self, len: usize) {
        let Some(destination) = self.latch.remote() else {
            bump(&self.counters.dropped_no_remote, 1);
            return;
        };
        match self
            .socket
            .socket()
            .send_to(&self.buf[..len], destination)
            .await
        {
            Ok(_) => {
                bump(&self.counters.tx_packets, 1);
                bump(&self.counters.tx_bytes, len as u64);
            }
            Err(_) => bump(&self.counters.send_errors, 1),
        }
    }
}

/// Two distinct legs, both mutable.
fn pair_mut(legs: &mut [LegState], a: usize, b: usize) -> (&mut LegState, &mut LegState) {
    if a < b {
        let (left, right) = legs.split_at_mut(b);
        (&mut left[a], &mut right[0])
    } else {
        let (left, right) = legs.split_at_mut(a);
        (&mut right[0], &mut left[b])
    }
}

/// Waits for a datagram on any leg.
async fn recv_any(legs: &mut [LegState]) -> (LegIndex, std::io::Result<(usize, SocketAddr)>) {
    std::future::poll_fn(|cx| {
        for (index, leg) in legs.iter_mut().enumerate() {
            let mut buf = tokio::io::ReadBuf::new(&mut leg.buf[..]);
            match leg.socket.socket().poll_recv_from(cx, &mut buf) {
                std::task::Poll::Ready(Ok(addr)) => {
                    return std::task::Poll::Ready((index, Ok((buf.filled().len(), addr))));
                }
                std::task::Poll::Ready(Err(e)) => return std::task::Poll::Ready((index, Err(e))),
                std::task::Poll::Pending => {}
            }
        }
        std::task::Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests;
