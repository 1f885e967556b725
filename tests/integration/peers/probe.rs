//! An RTP peer for the tests: SIPp cannot look at the audio it gets, so
//! a scenario can put this probe's port in its SDP (caller_queue.xml,
//! seat_agent_incoming.xml, unit_answer.xml with `-set probe_port`) and the
//! test measures what the daemon sends: packets, sequence gaps, G.711
//! loudness and pitch, which tones are in it (a Goertzel filter over the
//! last second, see `tone`), and RFC 4733 key presses.
//!
//! It can also send, from the same socket, so that the daemon (which latches
//! a leg's RTP to the first source it hears) takes it for the party of the
//! SDP: a continuous 20 ms PCMU stream of a tone or of silence, and RFC 4733
//! key presses in that stream. It sends to the source of the first packet it
//! receives (symmetric RTP: the daemon's port for the leg), or where `aim`
//! says.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::tone::{Audio, ToneLevel, FRAME_SAMPLES};
use super::LOOPBACK;

/// Static payload types of G.711 (RFC 3551).
const PT_PCMU: u8 = 0;
const PT_PCMA: u8 = 8;
/// telephone-event in every SDP of the test peers.
const PT_TELEPHONE_EVENT: u8 = 101;
const SAMPLE_RATE: f64 = 8000.0;
/// How often `wait_for` looks at the counters.
const POLL: Duration = Duration::from_millis(20);
/// The decoded samples kept for `tone`: the last second.
const WINDOW_SAMPLES: usize = 8000;
/// One frame of the probe's own stream.
const FRAME: Duration = Duration::from_millis(20);
/// The packets of one key press: 100 ms of event in 20 ms steps (duration in
/// timestamp units), the end packet sent three times (RFC 4733 §2.5.1.4).
const KEY_PACKETS: [(u16, bool); 7] = [
    (160, false),
    (320, false),
    (480, false),
    (640, false),
    (800, true),
    (800, true),
    (800, true),
];
/// Frames of audio (or of nothing) between two keys.
const KEY_GAP_FRAMES: u8 = 3;
/// The volume field of the key events: -10 dBm0.
const KEY_VOLUME: u8 = 10;

/// What the probe has received since it started (or since `reset`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeStats {
    /// Every RTP packet (version 2, parsable header).
    pub packets: u64,
    /// PCMU or PCMA packets: the ones decoded into `rms` and `pitch_hz`.
    pub audio_packets: u64,
    /// Root mean square of the decoded samples (16-bit scale: silence is 0,
    /// a full-scale sine about 23000). 0 with no audio packets.
    pub rms: f64,
    /// The frequency the decoded audio crosses zero at (zero crossings / 2
    /// per second): close to the pitch of a pure tone, e.g. 440 or 1000.
    pub pitch_hz: f64,
    /// Packets whose sequence number was not the previous one + 1 (per
    /// SSRC): loss, reordering or a jump from a new source of audio.
    pub seq_gaps: u64,
    /// How many different SSRCs were seen.
    pub ssrcs: usize,
    /// Payload types seen.
    pub payload_types: BTreeSet<u8>,
    /// RFC 4733 events (payload type 101) in order, one per event (packets
    /// with the same SSRC and timestamp are one event): 0-9, 10 = *, 11 = #.
    pub events: Vec<u8>,
    /// Where the packets came from.
    pub sources: BTreeSet<SocketAddr>,
}

impl ProbeStats {
    /// `events` as keys, e.g. "*71"; events above 11 show as '?'.
    pub fn keys(&self) -> String {
        self.events
            .iter()
            .map(|&e| match e {
                0..=9 => char::from(b'0' + e),
                10 => '*',
                11 => '#',
                _ => '?',
            })
            .collect()
    }
}

/// Accumulated counters; `ProbeStats` is computed from them.
#[derive(Debug, Default)]
struct Tally {
    packets: u64,
    audio_packets: u64,
    samples: u64,
    sum_squares: f64,
    zero_crossings: u64,
    last_sample: Option<i16>,
    seq_gaps: u64,
    last_seq: HashMap<u32, u16>,
    payload_types: BTreeSet<u8>,
    events: Vec<u8>,
    /// (SSRC, timestamp) of the last event packet, to count each event once.
    last_event: Option<(u32, u32)>,
    sources: BTreeSet<SocketAddr>,
    /// The last `WINDOW_SAMPLES` decoded samples, for `tone`.
    recent: VecDeque<i16>,
}

impl Tally {
    fn add(&mut self, packet: &[u8], from: SocketAddr) {
        let Some(rtp) = Rtp::parse(packet) else {
            return;
        };
        self.packets += 1;
        self.sources.insert(from);
        self.payload_types.insert(rtp.payload_type);
        if let Some(last) = self.last_seq.insert(rtp.ssrc, rtp.seq) {
            if rtp.seq != last.wrapping_add(1) {
                self.seq_gaps += 1;
            }
        }
        let decode: fn(u8) -> i16 = match rtp.payload_type {
            PT_PCMU => ulaw_to_linear,
            PT_PCMA => alaw_to_linear,
            PT_TELEPHONE_EVENT => {
                if let Some(&event) = rtp.payload.first() {
                    let key = (rtp.ssrc, rtp.timestamp);
                    if self.last_event != Some(key) {
                        self.last_event = Some(key);
                        self.events.push(event);
                    }
                }
                return;
            }
            _ => return,
        };
        self.audio_packets += 1;
        for &byte in rtp.payload {
            let sample = decode(byte);
            if self.recent.len() == WINDOW_SAMPLES {
                self.recent.pop_front();
            }
            self.recent.push_back(sample);
            self.samples += 1;
            self.sum_squares += f64::from(sample) * f64::from(sample);
            if let Some(last) = self.last_sample {
                if (last < 0) != (sample < 0) {
                    self.zero_crossings += 1;
                }
            }
            self.last_sample = Some(sample);
        }
    }

    fn tone(&self, hz: f64) -> ToneLevel {
        let (a, b) = self.recent.as_slices();
        let samples: Vec<i16> = a.iter().chain(b).copied().collect();
        ToneLevel::measure(&samples, hz)
    }

    fn stats(&self) -> ProbeStats {
        let (rms, pitch_hz) = if self.samples == 0 {
            (0.0, 0.0)
        } else {
            let n = self.samples as f64;
            (
                (self.sum_squares / n).sqrt(),
                self.zero_crossings as f64 / 2.0 / (n / SAMPLE_RATE),
            )
        };
        ProbeStats {
            packets: self.packets,
            audio_packets: self.audio_packets,
            rms,
            pitch_hz,
            seq_gaps: self.seq_gaps,
            ssrcs: self.last_seq.len(),
            payload_types: self.payload_types.clone(),
            events: self.events.clone(),
            sources: self.sources.clone(),
        }
    }
}

/// The parts of an RTP packet (RFC 3550 §5.1) the probe looks at.
struct Rtp<'a> {
    payload_type: u8,
    seq: u16,
    timestamp: u32,
    ssrc: u32,
    payload: &'a [u8],
}

impl<'a> Rtp<'a> {
    fn parse(packet: &'a [u8]) -> Option<Self> {
        if packet.len() < 12 || packet[0] >> 6 != 2 {
            return None;
        }
        let csrcs = usize::from(packet[0] & 0x0f);
        let mut start = 12 + 4 * csrcs;
        if packet[0] & 0x10 != 0 {
            // Header extension: 4 bytes, then its length in 32-bit words.
            let words = packet.get(start + 2..start + 4)?;
            start += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
        }
        let mut end = packet.len();
        if packet[0] & 0x20 != 0 {
            end = end.checked_sub(usize::from(*packet.last()?))?;
        }
        Some(Rtp {
            payload_type: packet[1] & 0x7f,
            seq: u16::from_be_bytes([packet[2], packet[3]]),
            timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
            ssrc: u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
            payload: packet.get(start..end)?,
        })
    }
}

/// G.711 μ-law byte to a 16-bit linear sample.
pub fn ulaw_to_linear(byte: u8) -> i16 {
    let u = !byte;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i32::from(u & 0x0f);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    // At most 32124: always fits.
    let magnitude = magnitude as i16;
    if u & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// G.711 A-law byte to a 16-bit linear sample.
pub fn alaw_to_linear(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let exponent = (a >> 4) & 0x07;
    let mantissa = i32::from(a & 0x0f);
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    // At most 32256: always fits.
    let magnitude = magnitude as i16;
    if a & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    }
}

/// The probe's own RTP stream: audio frames and key presses, one packet per
/// 20 ms tick, from one SSRC with running sequence numbers and timestamps.
#[derive(Debug)]
struct Outgoing {
    /// Where packets go; nothing is sent (and the clock stands) until known.
    peer: Option<SocketAddr>,
    /// Set by `aim`: the first packet received does not move it.
    aimed: bool,
    audio: Option<Audio>,
    keys: VecDeque<char>,
    /// The key being sent: its event code, its timestamp, packets sent of it.
    current: Option<(u8, u32, usize)>,
    /// Frames to wait before the next key.
    gap: u8,
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    /// Sample number of the next audio frame (the tone's phase).
    sample: u64,
    sent_packets: u64,
    sent_keys: u64,
}

impl Outgoing {
    fn new(ssrc: u32, seq: u16, timestamp: u32) -> Outgoing {
        Outgoing {
            peer: None,
            aimed: false,
            audio: None,
            keys: VecDeque::new(),
            current: None,
            gap: 0,
            ssrc,
            seq,
            timestamp,
            sample: 0,
            sent_packets: 0,
            sent_keys: 0,
        }
    }

    /// A packet came from `from`: with no peer yet, it becomes the peer.
    fn learn(&mut self, from: SocketAddr) {
        if self.peer.is_none() && !self.aimed {
            self.peer = Some(from);
        }
    }

    fn keys_pending(&self) -> usize {
        self.keys.len() + usize::from(self.current.is_some())
    }

    /// One 20 ms tick: the packet to send now, if any, and where.
    fn tick(&mut self) -> Option<(Vec<u8>, SocketAddr)> {
        let peer = self.peer?;
        if self.current.is_none() && self.gap == 0 {
            if let Some(code) = self.keys.pop_front().and_then(event_code) {
                self.current = Some((code, self.timestamp, 0));
            }
        }
        let packet = if let Some((code, start, sent)) = self.current {
            let (duration, end) = KEY_PACKETS[sent];
            let mut payload = vec![code, KEY_VOLUME, 0, 0];
            if end {
                payload[1] |= 0x80;
            }
            payload[2..].copy_from_slice(&duration.to_be_bytes());
            self.current = if sent + 1 == KEY_PACKETS.len() {
                self.sent_keys += 1;
                self.gap = KEY_GAP_FRAMES;
                None
            } else {
                Some((code, start, sent + 1))
            };
            Some(self.packet(PT_TELEPHONE_EVENT, sent == 0, start, &payload))
        } else {
            self.gap = self.gap.saturating_sub(1);
            self.audio.map(|audio| {
                let frame = audio.frame(self.sample);
                self.packet(PT_PCMU, false, self.timestamp, &frame)
            })
        };
        // The clock runs whether or not this tick sent audio.
        self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES as u32);
        self.sample += FRAME_SAMPLES as u64;
        packet.map(|p| (p, peer))
    }

    fn packet(&mut self, pt: u8, marker: bool, timestamp: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = Vec::with_capacity(12 + payload.len());
        p.push(0x80);
        p.push(pt | if marker { 0x80 } else { 0 });
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&timestamp.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.sent_packets += 1;
        p
    }
}

/// RFC 4733 §3.2 event code of a key: 0-9, * = 10, # = 11, A-D = 12-15.
fn event_code(key: char) -> Option<u8> {
    match key {
        '0'..='9' => Some(key as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(key as u8 - b'A' + 12),
        _ => None,
    }
}

/// What the probe has sent so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SentStats {
    pub packets: u64,
    /// Key presses completed (their last end packet sent).
    pub keys: u64,
    /// Where it sends, once known.
    pub peer: Option<SocketAddr>,
}

/// A UDP socket on 127.0.0.1 (port bound to 0) that takes in RTP and counts
/// it, and optionally sends its own stream; its task stops when the probe is
/// dropped.
///
/// ```ignore
/// let probe = RtpProbe::sending(Audio::tone(440.0))?;
/// let caller = caller_queue_probe(daemon, "12345", &probe).spawn()?;
/// let stats = probe.wait_for(50, Duration::from_secs(5)).await;
/// assert!(stats.rms > 1000.0, "hold music is not silence: {stats:?}");
/// ```
#[derive(Debug)]
pub struct RtpProbe {
    addr: SocketAddr,
    tally: Arc<Mutex<Tally>>,
    outgoing: Arc<Mutex<Outgoing>>,
    task: JoinHandle<()>,
}

impl RtpProbe {
    /// Bind and start receiving; it sends nothing until `set_audio` or
    /// `send_keys`. Needs a tokio runtime.
    pub fn start() -> io::Result<RtpProbe> {
        let std_socket = std::net::UdpSocket::bind(SocketAddr::from((LOOPBACK, 0)))?;
        std_socket.set_nonblocking(true)?;
        let addr = std_socket.local_addr()?;
        let socket = UdpSocket::from_std(std_socket)?;
        let tally = Arc::new(Mutex::new(Tally::default()));
        let outgoing = Arc::new(Mutex::new(Outgoing::new(
            rand::random(),
            rand::random(),
            rand::random(),
        )));
        let task = tokio::spawn(run(socket, Arc::clone(&tally), Arc::clone(&outgoing)));
        Ok(RtpProbe {
            addr,
            tally,
            outgoing,
            task,
        })
    }

    /// `start`, sending `audio` every 20 ms once it knows where to.
    pub fn sending(audio: Audio) -> io::Result<RtpProbe> {
        let probe = RtpProbe::start()?;
        probe.set_audio(Some(audio));
        Ok(probe)
    }

    /// What to send from now on (None: no audio, keys only).
    pub fn set_audio(&self, audio: Option<Audio>) {
        self.send_lock().audio = audio;
    }

    /// Send to `addr` from now on, whatever comes in (for peers that wait
    /// for RTP before they send any, like another probe).
    pub fn aim(&self, addr: SocketAddr) {
        let mut outgoing = self.send_lock();
        outgoing.peer = Some(addr);
        outgoing.aimed = true;
    }

    /// Type `keys` (0-9 * # A-D) as RFC 4733 events in the probe's stream
    /// (payload type 101, 100 ms each, 60 ms apart) and return once the last
    /// is sent, or with `TimedOut` if that takes over `timeout` (e.g. no
    /// packet ever came in, so there is nowhere to send).
    pub async fn send_keys(&self, keys: &str, timeout: Duration) -> io::Result<()> {
        if let Some(bad) = keys.chars().find(|&k| event_code(k).is_none()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{bad:?} is not a key"),
            ));
        }
        self.send_lock().keys.extend(keys.chars());
        let deadline = Instant::now() + timeout;
        loop {
            let (pending, peer) = {
                let outgoing = self.send_lock();
                (outgoing.keys_pending(), outgoing.peer)
            };
            if pending == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.send_lock().keys.clear();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("keys {keys:?} not sent within {timeout:?} (peer {peer:?})"),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// What the probe has sent.
    pub fn sent(&self) -> SentStats {
        let outgoing = self.send_lock();
        SentStats {
            packets: outgoing.sent_packets,
            keys: outgoing.sent_keys,
            peer: outgoing.peer,
        }
    }

    /// The port to put in an SDP (caller_queue.xml's probe_port).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Everything received since the start or the last `reset`.
    pub async fn stats(&self) -> ProbeStats {
        self.lock().stats()
    }

    /// The `hz` tone in the audio received in the last second (at most)
    /// since the start or the last `reset`.
    pub async fn tone(&self, hz: f64) -> ToneLevel {
        self.lock().tone(hz)
    }

    /// Whether the last second of audio holds the `hz` tone (see
    /// `ToneLevel::heard` for the thresholds).
    pub async fn hears(&self, hz: f64) -> bool {
        self.tone(hz).await.heard()
    }

    /// Forget what was received so far, e.g. to measure only the audio after
    /// the bridge, not the hold music before it.
    pub async fn reset(&self) {
        *self.lock() = Tally::default();
    }

    /// Wait until at least `packets` packets came in, or `timeout` passed;
    /// either way, the stats at that moment.
    pub async fn wait_for(&self, packets: u64, timeout: Duration) -> ProbeStats {
        self.wait_until(timeout, |s| s.packets >= packets).await
    }

    /// As `wait_for`, counting audio (G.711) packets only.
    pub async fn wait_for_audio(&self, packets: u64, timeout: Duration) -> ProbeStats {
        self.wait_until(timeout, |s| s.audio_packets >= packets)
            .await
    }

    async fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&ProbeStats) -> bool,
    ) -> ProbeStats {
        let deadline = Instant::now() + timeout;
        loop {
            let stats = self.stats().await;
            if done(&stats) || Instant::now() >= deadline {
                return stats;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tally> {
        // A panic while counting leaves plain counters behind: still usable.
        self.tally.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn send_lock(&self) -> std::sync::MutexGuard<'_, Outgoing> {
        self.outgoing.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for RtpProbe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(socket: UdpSocket, tally: Arc<Mutex<Tally>>, outgoing: Arc<Mutex<Outgoing>>) {
    let mut buf = vec![0u8; 2048];
    let mut tick = tokio::time::interval(FRAME);
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                // An error (none expected on a bound UDP socket) loses one
                // packet at most; the test then sees fewer than it waits for.
                if let Ok((len, from)) = received {
                    tally
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .add(&buf[..len], from);
                    outgoing
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .learn(from);
                }
            }
            _ = tick.tick() => {
                let next = outgoing.lock().unwrap_or_else(PoisonError::into_inner).tick();
                if let Some((packet, to)) = next {
                    // A lost packet shows in what the other side receives.
                    let _ = socket.send_to(&packet, to).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::sipp_dir;

    fn rtp(pt: u8, seq: u16, timestamp: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, pt];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&timestamp.to_be_bytes());
        p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn from() -> SocketAddr {
        SocketAddr::from((LOOPBACK, 4000))
    }

    #[test]
    fn g711_decoding_matches_the_tables() {
        assert_eq!(ulaw_to_linear(0xff), 0);
        assert_eq!(ulaw_to_linear(0x7f), 0);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(alaw_to_linear(0xd5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xaa), 32256);
        assert_eq!(alaw_to_linear(0x2a), -32256);
    }

    /// The tone files the scenarios send decode to their pitch and level.
    #[test]
    fn the_tone_files_measure_as_tones() {
        for (file, pt, hz) in [
            ("tone440.pcmu", PT_PCMU, 440.0),
            ("tone440.pcma", PT_PCMA, 440.0),
            ("tone1k.pcmu", PT_PCMU, 1000.0),
        ] {
            let audio = std::fs::read(sipp_dir().join(file)).expect("read the tone");
            let mut tally = Tally::default();
            for (i, chunk) in audio.chunks(160).enumerate() {
                tally.add(&rtp(pt, i as u16, 160 * i as u32, chunk), from());
            }
            let stats = tally.stats();
            assert_eq!(stats.audio_packets, 150, "{file}");
            assert_eq!(stats.seq_gaps, 0, "{file}");
            assert!((stats.pitch_hz - hz).abs() < hz * 0.03, "{file}: {stats:?}");
            assert!(stats.rms > 5000.0, "{file}: {stats:?}");
        }
    }

    #[test]
    fn silence_gaps_and_events_are_counted() {
        let mut tally = Tally::default();
        tally.add(&rtp(PT_PCMU, 1, 0, &[0xff; 160]), from());
        tally.add(&rtp(PT_PCMU, 3, 320, &[0xff; 160]), from());
        // one event in three packets, then another
        for seq in 4..7 {
            tally.add(
                &rtp(PT_TELEPHONE_EVENT, seq, 480, &[10, 0x0a, 0, 160]),
                from(),
            );
        }
        tally.add(&rtp(PT_TELEPHONE_EVENT, 7, 960, &[7, 0x0a, 0, 160]), from());
        tally.add(b"not rtp", from());
        let stats = tally.stats();
        assert_eq!(stats.packets, 6);
        assert_eq!(stats.audio_packets, 2);
        assert_eq!(stats.rms, 0.0);
        assert_eq!(stats.seq_gaps, 1);
        assert_eq!(stats.keys(), "*7");
        assert_eq!(stats.payload_types, BTreeSet::from([0, 101]));
    }
    fn stream(outgoing: &mut Outgoing, ticks: usize) -> Vec<Vec<u8>> {
        (0..ticks)
            .filter_map(|_| outgoing.tick().map(|(p, _)| p))
            .collect()
    }

    #[test]
    fn the_stream_waits_for_a_peer_then_sends_the_tone() {
        let mut outgoing = Outgoing::new(7, 65530, u32::MAX - 400);
        outgoing.audio = Some(Audio::tone(440.0));
        assert!(stream(&mut outgoing, 5).is_empty(), "no peer yet");
        outgoing.learn(from());
        outgoing.learn(SocketAddr::from((LOOPBACK, 4002)));
        assert_eq!(outgoing.peer, Some(from()), "the first source stays");
        let mut tally = Tally::default();
        for packet in stream(&mut outgoing, 60) {
            tally.add(&packet, from());
        }
        let stats = tally.stats();
        assert_eq!(stats.audio_packets, 60);
        assert_eq!(stats.seq_gaps, 0, "sequence wraps without a gap");
        assert!((stats.pitch_hz - 440.0).abs() < 10.0, "{stats:?}");
        assert!(tally.tone(440.0).heard(), "{:?}", tally.tone(440.0));
        assert!(!tally.tone(1000.0).heard(), "{:?}", tally.tone(1000.0));
    }

    /// Keys go out as RFC 4733 events the daemon's own detector reads once
    /// each, between frames of the tone, on one SSRC and sequence.
    #[test]
    fn keys_are_events_the_daemon_detects_once_each() {
        let mut outgoing = Outgoing::new(7, 100, 1000);
        outgoing.audio = Some(Audio::Silence);
        outgoing.learn(from());
        outgoing.keys.extend("*12001#".chars());
        let mut packets = Vec::new();
        while outgoing.keys_pending() > 0 {
            packets.extend(stream(&mut outgoing, 1));
        }
        assert_eq!(outgoing.sent_keys, 7);
        let mut tally = Tally::default();
        let mut detector = hotline::media::dtmf::EventDetector::new();
        let mut detected = String::new();
        let mut ends = 0;
        for packet in &packets {
            tally.add(packet, from());
            let rtp = Rtp::parse(packet).expect("rtp");
            if rtp.payload_type == PT_TELEPHONE_EVENT {
                ends += usize::from(rtp.payload[1] & 0x80 != 0);
                let marker = packet[1] & 0x80 != 0;
                detected.extend(detector.on_packet(rtp.timestamp, marker, rtp.payload));
            }
        }
        assert_eq!(detected, "*12001#");
        assert_eq!(ends, 3 * 7, "three end packets per key");
        let stats = tally.stats();
        assert_eq!(stats.keys(), "*12001#");
        assert_eq!(stats.seq_gaps, 0);
        assert_eq!(stats.ssrcs, 1);
        assert!(stats.audio_packets > 0, "silence frames between the keys");
    }
}
