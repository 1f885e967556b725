//! The media of one call: every leg's RTP socket in one task. Each leg hears silence, another
//! leg (a bridge), a playback (prompts, hold music), the conference mix of the others, or any
//! set of legs at their own gains, with perhaps a tone or prompt overlaid on top (see
//! [`hearing`]); the key presses (RFC 4733) it sends are reported to the call. One fixed buffer
//! per leg, and the mixer's buffers made when sources are set up, so neither relaying, playing
//! nor mixing allocates per packet.
//!
//! Commands and events go through unbounded channels: commands come from the call's logic (a
//! handful per call event, never per packet) and events are one per key press or playback,
//! so neither may be dropped.

mod hearing;
mod player;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::Instrument;

pub use self::hearing::Audio;
use self::hearing::{Hearing, Route, Wanted};
pub use self::player::FRAME;
use self::player::{OutStream, Playback};
use super::dtmf::EventDetector;
use super::latch::{Latch, Verdict};
pub use super::mixer::Gain;
use super::mixer::FRAME_BYTES;
use super::reception::Reception;
use super::recorder::{Channel, Tap};
use super::rtp::{fields, rewrite_pt, Fields};
use super::sdp::Codec;
use super::stats::{bump, set, LegCounters, LegStats, LineStats};
use super::{PtMap, RtpSocket};

/// Large enough for any RTP audio packet; a datagram that fills it may be truncated and is
/// dropped.
const BUF_LEN: usize = 2048;
const TICK: Duration = Duration::from_millis(20);

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
    Digit {
        leg: LegIndex,
        digit: char,
    },
    PlaybackDone {
        leg: LegIndex,
    },
    /// An overlay (`HubHandle::overlay`) is over; the leg hears what it heard under it.
    OverlayDone {
        leg: LegIndex,
    },
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
    SetAudio(LegIndex, Audio),
    /// The leg hears these legs at these gains.
    Hear(LegIndex, Vec<(LegIndex, Gain)>),
    /// A playback on top of what the leg hears.
    Overlay(LegIndex, Play, Gain),
    /// Legs heard on top of what the leg hears, through every later change.
    AlsoHear(LegIndex, Vec<(LegIndex, Gain)>),
    /// Record the leg: what it sends on the left, what it hears on the right.
    Record(LegIndex, Tap),
    /// Stop recording the leg (its recording ends).
    StopRecording(LegIndex),
    /// Pause or resume the leg's recording.
    PauseRecording(LegIndex, bool),
}

struct LegState {
    socket: RtpSocket,
    latch: Latch,
    buf: Box<[u8; BUF_LEN]>,
    counters: Arc<LegCounters>,
    telephone_event: Option<u8>,
    detector: EventDetector,
    /// Loss and jitter of the leg's audio as received.
    reception: Reception,
    /// Key presses are for the call only (a seat's feature codes).
    keeps_keys: bool,
    out: OutStream,
}

pub struct Hub;

impl Hub {
    /// A hub of two legs, `a` hearing `b` and `b` hearing `a` (`map` pairs are `(pt on a, pt
    /// on b)`): the media of a two-party call.
    pub fn bridged(
        a: HubLeg,
        b: HubLeg,
        map: PtMap,
        events: Option<mpsc::UnboundedSender<HubEvent>>,
    ) -> HubHandle {
        let hub = Hub::start(vec![a, b], events);
        hub.bridge(0, 1, map);
        hub
    }

    /// Starts the hub's task with these legs; every leg starts silent. Key presses and ends of
    /// playbacks and overlays go to `events`, none dropped.
    pub fn start(legs: Vec<HubLeg>, events: Option<mpsc::UnboundedSender<HubEvent>>) -> HubHandle {
        let (control, control_rx) = mpsc::unbounded_channel();
        let mut counters = Vec::new();
        let mut hearing = Hearing::new();
        let states = legs
            .into_iter()
            .map(|leg| {
                let c = Arc::new(LegCounters::default());
                counters.push(c.clone());
                hearing.add_leg(leg.telephone_event);
                LegState::new(leg, c)
            })
            .collect();
        let task = HubTask {
            legs: states,
            hearing,
            control: control_rx,
            events,
            taps: Vec::new(),
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
            telephone_event: leg.telephone_event,
            detector: EventDetector::default(),
            reception: Reception::default(),
            keeps_keys: false,
            out: OutStream::new(rand::random(), rand::random(), rand::random()),
        }
    }
}

/// Controls a running hub. Dropping it ends the hub; `stop` also waits for the sockets to close.
pub struct HubHandle {
    control: mpsc::UnboundedSender<Command>,
    counters: std::sync::Mutex<Vec<Arc<LegCounters>>>,
    join: JoinHandle<()>,
}

impl HubHandle {
    /// Never drops a command: the queue is unbounded, and it fails only once the hub has ended.
    fn command(&self, command: Command) {
        if self.control.send(command).is_err() {
            tracing::debug!("media hub already ended; command ignored");
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

    /// The leg's agreed codec and audio payload type: needed before the leg is heard, or
    /// hears, through the mixer (`hear` with gains or several sources, `overlay`). `mix` sets
    /// it for its parties; an overlay tells its leg's from its `Play` if nothing did.
    pub fn set_audio(&self, leg: LegIndex, audio: Audio) {
        self.command(Command::SetAudio(leg, audio));
    }

    /// `listener` hears these legs, each at its gain, and no longer what it heard before (it
    /// leaves a conference, a bridge's other side still hears it). One leg at unity in the
    /// listener's codec is relayed packet for packet; anything else is mixed. An empty list is
    /// silence. Listen: `hear(supervisor, [(seat, 1), (caller, 1)])`; whisper:
    /// `hear(seat, [(caller, 1), (supervisor, 1)])` and `hear(caller, [(seat, 1)])`.
    pub fn hear(&self, listener: LegIndex, sources: Vec<(LegIndex, Gain)>) {
        self.command(Command::Hear(listener, sources));
    }

    /// Plays `play` on top of whatever the leg hears (the other party stays audible) at
    /// `gain`; `HubEvent::OverlayDone` when it is over. A new overlay replaces the one playing.
    pub fn overlay(&self, leg: LegIndex, play: Play, gain: Gain) {
        self.command(Command::Overlay(leg, play, gain));
    }

    /// `listener` hears `sources` on top of whatever it hears, now and after every later
    /// `bridge`, `play`, `mix` or `hear`, until told other sources (empty: none). A supervisor's
    /// whisper is `also_hear(seat, [(supervisor, 1)])`; barge adds the caller's too. Every leg
    /// involved needs its audio known (`set_audio`).
    pub fn also_hear(&self, listener: LegIndex, sources: Vec<(LegIndex, Gain)>) {
        self.command(Command::AlsoHear(listener, sources));
    }

    /// Records `leg` through `tap` (what it sends on the left, what it hears on the right)
    /// until [`HubHandle::stop_recording`] or the hub's end; a leg recorded already gets the
    /// new tap, and its earlier recording ends.
    pub fn record(&self, leg: LegIndex, tap: Tap) {
        self.command(Command::Record(leg, tap));
    }

    pub fn stop_recording(&self, leg: LegIndex) {
        self.command(Command::StopRecording(leg));
    }

    /// While paused, the leg's recording gets silence.
    pub fn pause_recording(&self, leg: LegIndex, paused: bool) {
        self.command(Command::PauseRecording(leg, paused));
    }

    /// The counters of leg `a` and leg `b`, as one line's.
    pub fn line_stats(&self, a: LegIndex, b: LegIndex) -> LineStats {
        LineStats {
            a: self.stats(a),
            b: self.stats(b),
        }
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
    hearing: Hearing,
    control: mpsc::UnboundedReceiver<Command>,
    events: Option<mpsc::UnboundedSender<HubEvent>>,
    /// The recorded legs, each with its recording's tap.
    taps: Vec<(LegIndex, Tap)>,
}

/// Queues what leg `leg` sent (`Channel::Left`) or is sent (`Channel::Right`), `packet`, to
/// the leg's recording, if it has one.
fn tap(taps: &[(LegIndex, Tap)], leg: LegIndex, channel: Channel, packet: &[u8]) {
    for (recorded, tap) in taps {
        if *recorded != leg {
            continue;
        }
        let Some(f) = fields(packet) else {
            continue;
        };
        if let (Some(payload), Some(ssrc)) = (packet.get(f.payload_at..), packet.get(8..12)) {
            let ssrc = u32::from_be_bytes([ssrc[0], ssrc[1], ssrc[2], ssrc[3]]);
            tap.push(channel, packet[1] & 0x7f, (ssrc, f.timestamp), payload);
        }
    }
}

impl HubTask {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        // After a stall, send the missed frames so the stream keeps real time.
        tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
        loop {
            let ticking = self.hearing.ticking();
            // Commands first, so that media arriving after a command was given meets its
            // effect; the tick before packets, so a flood of packets cannot hold frames up.
            tokio::select! {
                biased;
                command = self.control.recv() => match command {
                    Some(command) => self.apply(command),
                    None => break,
                },
                _ = tick.tick(), if ticking => self.on_tick().await,
                (leg, received) = recv_any(&mut self.legs) => {
                    if let Ok((len, source)) = received {
                        self.on_packet(leg, len, source).await;
                    }
                }
            }
        }
    }

    fn apply(&mut self, command: Command) {
        let hearing = &mut self.hearing;
        match command {
            Command::SetRemote(leg, addr) => {
                if let Some(l) = self.legs.get_mut(leg) {
                    l.latch.rearm(addr);
                }
            }
            Command::Play(leg, play) => hearing.want(
                leg,
                Wanted::Playing(Playback::new(
                    play.items,
                    play.looping,
                    play.pt,
                    play.silence,
                )),
            ),
            Command::Silence(leg) => hearing.want(leg, Wanted::Silence),
            Command::Bridge(a, b, map) => hearing.bridge(a, b, map),
            Command::AddLeg(leg, counters) => {
                hearing.add_leg(leg.telephone_event);
                self.legs.push(LegState::new(leg, counters));
            }
            Command::Mix(parties) => {
                let parties: Vec<_> = parties
                    .iter()
                    .map(|p| {
                        (
                            p.leg,
                            Audio {
                                codec: p.codec,
                                pt: p.pt,
                            },
                        )
                    })
                    .collect();
                hearing.mix(&parties);
            }
            Command::KeepKeys(leg) => {
                if let Some(l) = self.legs.get_mut(leg) {
                    l.keeps_keys = true;
                }
            }
            Command::SetAudio(leg, audio) => hearing.set_audio(leg, audio),
            Command::Hear(leg, sources) => hearing.want(
                leg,
                Wanted::Sources {
                    sources,
                    relay: true,
                },
            ),
            Command::Overlay(leg, play, gain) => {
                let audio = Audio::of_playback(play.pt, play.silence);
                let playback = Playback::new(play.items, play.looping, play.pt, play.silence);
                hearing.overlay(leg, playback, gain, audio);
            }
            Command::AlsoHear(leg, sources) => hearing.also_hear(leg, sources),
            Command::Record(leg, tap) => {
                self.taps.retain(|(recorded, _)| *recorded != leg);
                self.taps.push((leg, tap));
            }
            Command::StopRecording(leg) => self.taps.retain(|(recorded, _)| *recorded != leg),
            Command::PauseRecording(leg, paused) => {
                for (_, tap) in self.taps.iter().filter(|(recorded, _)| *recorded == leg) {
                    tap.set_paused(paused);
                }
            }
        }
    }

    fn report(events: &Option<mpsc::UnboundedSender<HubEvent>>, event: HubEvent) {
        if let Some(events) = events {
            // Fails only once the call stopped listening.
            let _ = events.send(event);
        }
    }

    async fn on_packet(&mut self, from: LegIndex, len: usize, source: SocketAddr) {
        let Some(leg) = self.legs.get_mut(from) else {
            return;
        };
        let packet = &leg.buf[..len];
        let Some(rtp) = fields(packet).filter(|_| len < BUF_LEN) else {
            bump(&leg.counters.dropped_invalid, 1);
            return;
        };
        if leg.latch.on_packet(source) == Verdict::Foreign {
            bump(&leg.counters.dropped_foreign, 1);
            return;
        }
        bump(&leg.counters.rx_packets, 1);
        bump(&leg.counters.rx_bytes, len as u64);
        let Fields {
            pt,
            marker,
            seq,
            timestamp,
            payload_at,
        } = rtp;
        let is_key = leg.telephone_event == Some(pt);
        if !is_key {
            // G.711, the only audio the hub carries: 8,000 timestamp units a second.
            let reception = &mut leg.reception;
            reception.on_packet(seq, timestamp, Instant::now(), 8_000);
            set(&leg.counters.lost, reception.lost());
            let jitter = reception.jitter_time(8_000).as_micros();
            set(
                &leg.counters.jitter_us,
                u64::try_from(jitter).unwrap_or(u64::MAX),
            );
        }
        if is_key {
            if let Some(digit) = packet
                .get(payload_at..)
                .and_then(|p| leg.detector.on_packet(timestamp, marker, p))
            {
                Self::report(&self.events, HubEvent::Digit { leg: from, digit });
            }
        }
        if !is_key {
            tap(&self.taps, from, Channel::Left, packet);
        }
        if is_key && leg.keeps_keys {
            return;
        }
        if let Some(payload) = packet.get(payload_at..) {
            self.hearing.on_packet(from, pt, seq, timestamp, payload);
        }
        // Every leg that hears this one as it is sent gets the packet.
        let original_pt = self.legs[from].buf[1];
        for (to, map, forward) in self.hearing.relays_from(from) {
            let Some(dest_leg) = self.legs.get(to) else {
                continue;
            };
            let Some(destination) = dest_leg.latch.remote() else {
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
            tap(&self.taps, to, Channel::Right, packet);
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

    /// Every 20 ms: one frame of the mixer to each mixed leg, one packet of each playback.
    async fn on_tick(&mut self) {
        let events = &self.events;
        self.hearing
            .feed_playbacks(|event| Self::report(events, event));
        for (index, pt, frame) in self.hearing.mix_tick() {
            let Some(leg) = self.legs.get_mut(index) else {
                continue;
            };
            debug_assert_eq!(frame.len(), FRAME_BYTES);
            let len = leg.out.frame_packet(pt, frame, &mut leg.buf[..]);
            tap(&self.taps, index, Channel::Right, &leg.buf[..len]);
            leg.send_own(len).await;
        }
        for index in 0..self.legs.len() {
            if self.hearing.route(index) != Route::Play {
                continue;
            }
            let leg = &mut self.legs[index];
            let Some(playback) = self.hearing.playback(index) else {
                continue;
            };
            let Some(len) = leg.out.next_packet(playback, &mut leg.buf[..]) else {
                self.hearing.playback_done(index);
                Self::report(&self.events, HubEvent::PlaybackDone { leg: index });
                continue;
            };
            tap(&self.taps, index, Channel::Right, &leg.buf[..len]);
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
mod bridge_tests;
#[cfg(test)]
mod hearing_tests;
#[cfg(test)]
mod tests;
