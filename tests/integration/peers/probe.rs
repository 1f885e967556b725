//! An RTP receiver for the tests: SIPp cannot look at the audio it gets, so
//! a caller scenario can put this probe's port in its SDP
//! (caller_queue.xml with `-set probe_port`) and the test measures what the
//! daemon sends: packets, sequence gaps, G.711 loudness and pitch, and
//! RFC 4733 key presses.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::LOOPBACK;

/// Static payload types of G.711 (RFC 3551).
const PT_PCMU: u8 = 0;
const PT_PCMA: u8 = 8;
/// telephone-event in every SDP of the test peers.
const PT_TELEPHONE_EVENT: u8 = 101;
const SAMPLE_RATE: f64 = 8000.0;
/// How often `wait_for` looks at the counters.
const POLL: Duration = Duration::from_millis(20);

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

/// A UDP socket on 127.0.0.1 (port bound to 0) that takes in RTP and counts
/// it; the receiving task stops when the probe is dropped.
///
/// ```ignore
/// let probe = RtpProbe::start()?;
/// let caller = caller_queue_probe(daemon, "12345", &probe).spawn()?;
/// let stats = probe.wait_for(50, Duration::from_secs(5)).await;
/// assert!(stats.rms > 1000.0, "hold music is not silence: {stats:?}");
/// ```
#[derive(Debug)]
pub struct RtpProbe {
    addr: SocketAddr,
    tally: Arc<Mutex<Tally>>,
    task: JoinHandle<()>,
}

impl RtpProbe {
    /// Bind and start receiving. Needs a tokio runtime.
    pub fn start() -> io::Result<RtpProbe> {
        let std_socket = std::net::UdpSocket::bind(SocketAddr::from((LOOPBACK, 0)))?;
        std_socket.set_nonblocking(true)?;
        let addr = std_socket.local_addr()?;
        let socket = UdpSocket::from_std(std_socket)?;
        let tally = Arc::new(Mutex::new(Tally::default()));
        let task = tokio::spawn(receive(socket, Arc::clone(&tally)));
        Ok(RtpProbe { addr, tally, task })
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

    /// Forget what was received so far, e.g. to measure only the audio after
    /// the bridge, not the hold music before it.
    pub async fn reset(&self) {
        *self.lock() = Tally::default();
    }

    /// Wait until at least `packets` packets came in, or `timeout` passed;
    /// either way, the stats at that moment.
    pub async fn wait_for(&self, packets: u64, timeout: Duration) -> ProbeStats {
        let deadline = Instant::now() + timeout;
        loop {
            let stats = self.stats().await;
            if stats.packets >= packets || Instant::now() >= deadline {
                return stats;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tally> {
        // A panic while counting leaves plain counters behind: still usable.
        self.tally.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for RtpProbe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(socket: UdpSocket, tally: Arc<Mutex<Tally>>) {
    let mut buf = vec![0u8; 2048];
    // An error here (none expected on a bound UDP socket) ends the counting;
    // the test then sees fewer packets than it waits for.
    while let Ok((len, from)) = socket.recv_from(&mut buf).await {
        tally
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add(&buf[..len], from);
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
}
