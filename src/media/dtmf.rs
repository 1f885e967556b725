//! Key presses from the wire: RFC 4733 telephone-events carried in RTP, and
//! SIP INFO bodies (`application/dtmf-relay`, `application/dtmf`).
//!
//! Everything here is a pure function of its input bytes, so the parsers can
//! be fuzzed on their own and the RTP relay only has to hand payloads over.

/// Event codes RFC 4733 §3.2 assigns to DTMF: 0-9, then `*`, `#`, `A`-`D`.
const DIGITS: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];
/// Event code of a hook flash (RFC 4733 §3.2).
pub const EVENT_FLASH: u8 = 16;
/// A telephone-event payload is always four bytes (RFC 4733 §2.3); several
/// events in one packet need RFC 2198 redundancy, a different payload type.
pub const EVENT_PAYLOAD_LEN: usize = 4;

/// Why a telephone-event payload or a SIP INFO body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DtmfError {
    #[error("telephone-event payload is {0} bytes, expected {EVENT_PAYLOAD_LEN}")]
    EventLength(usize),
    #[error("content type is neither application/dtmf-relay nor application/dtmf")]
    UnsupportedContentType,
    #[error("DTMF body is not text")]
    BodyNotText,
    #[error("dtmf-relay body has no Signal line")]
    MissingSignal,
    #[error("DTMF signal is not a key 0-9, *, #, A-D")]
    InvalidSignal,
}

/// One RFC 4733 §2.3 telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code; 0-15 are DTMF keys, 16 is flash, others come from RFC 4734.
    pub event: u8,
    /// E bit: this packet ends the event (senders repeat it, usually three times).
    pub end: bool,
    /// Power level in -dBm0, 0-63.
    pub volume: u8,
    /// Length so far, in RTP timestamp units, counted from the packet's timestamp.
    pub duration: u16,
}

impl TelephoneEvent {
    /// The key, for DTMF events; `None` for flash and non-DTMF events.
    pub fn digit(&self) -> Option<char> {
        DIGITS.get(usize::from(self.event)).copied()
    }

    pub fn is_flash(&self) -> bool {
        self.event == EVENT_FLASH
    }
}

/// Parses the payload of an RTP packet whose payload type is telephone-event.
///
/// Any event code is accepted: RFC 4733 §2.5.2 asks receivers to ignore
/// events they do not know rather than treat the packet as damaged.
pub fn parse_event(payload: &[u8]) -> Result<TelephoneEvent, DtmfError> {
    let [event, flags, d0, d1] = *payload else {
        return Err(DtmfError::EventLength(payload.len()));
    };
    Ok(TelephoneEvent {
        event,
        end: flags & 0x80 != 0,
        // Bit 0x40 is reserved: senders must zero it, receivers must ignore it.
        volume: flags & 0x3f,
        duration: u16::from_be_bytes([d0, d1]),
    })
}

/// How far back (in RTP timestamp units) a packet may lie behind the current
/// press and still be taken for a late duplicate of an earlier press rather
/// than the start of a new stream: 32 s at 8 kHz, 5 s at 48 kHz. Reordering
/// is never that deep; a sender that restarts its timestamps lands further.
const STALE_WINDOW: u32 = 0x4_0000;

/// The press the detector last reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Press {
    timestamp: u32,
    event: u8,
    ended: bool,
    /// Largest duration seen, to recognise RFC 4733 §2.5.1.3 segments.
    duration: u16,
}

/// Turns the stream of telephone-event packets of one RTP source into key
/// presses, each reported exactly once.
///
/// A sender repeats the start packet, sends updates with a growing duration
/// and repeats the end packet, all with the RTP timestamp at which the key went
/// down; that timestamp is what identifies a press. The key is reported at the
/// first packet seen of a press, so a lost start packet costs nothing and the
/// latency is one packet. Holds no heap memory.
///
/// Call [`EventDetector::reset`] when the source's SSRC changes: timestamps
/// of a new source bear no relation to the old ones.
#[derive(Debug, Clone, Default)]
pub struct EventDetector {
    last: Option<Press>,
}

impl EventDetector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the previous press (new SSRC, re-INVITE to another source).
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// Feeds one telephone-event packet; returns the key if it starts a press.
    pub fn on_packet(&mut self, rtp_timestamp: u32, marker: bool, payload: &[u8]) -> Option<char> {
        // A malformed packet cannot be attributed to a press; drop it.
        let event = parse_event(payload).ok()?;
        let digit = event.digit();

        if let Some(last) = self.last.as_mut() {
            let ahead = rtp_timestamp.wrapping_sub(last.timestamp);
            if ahead == 0 {
                // Same press: a repeated start, an update or an end packet.
                last.ended |= event.end;
                last.duration = last.duration.max(event.duration);
                return None;
            }
            // A late packet of an earlier press, delivered out of order. But a packet that
            // starts an event (marker bit, RFC 4733 §2.5.1.2), or that is no end packet once the
            // last press has ended, is a new press whatever its timestamp: senders that replay
            // recorded events (SIPp's pcaps) do not keep timestamps increasing.
            let starts_anew = marker || (last.ended && !event.end);
            if ahead.wrapping_neg() <= STALE_WINDOW && !starts_anew {
                return None;
            }
            // RFC 4733 §2.5.1.3: a key held past 0xFFFF units goes on in a new
            // segment with a new timestamp, no marker and the same event; it
            // is still the same press.
            let continues = !marker
                && !last.ended
                && last.event == event.event
                && last.duration == u16::MAX
                && ahead <= u32::from(u16::MAX);
            if continues {
                *last = Press {
                    timestamp: rtp_timestamp,
                    event: event.event,
                    ended: event.end,
                    duration: event.duration,
                };
                return None;
            }
        }

        self.last = Some(Press {
            timestamp: rtp_timestamp,
            event: event.event,
            ended: event.end,
            duration: event.duration,
        });
        digit
    }
}

/// Parses the body of a SIP INFO carrying a key press.
///
/// `application/dtmf-relay` is the Cisco-style `Signal=5\r\nDuration=160`
/// (keys case-insensitive, other lines ignored, the first `Signal` wins);
/// `application/dtmf` is the key alone. Both accept `10` for `*` and `11` for
/// `#` (event codes, which some phones send instead of the key), and lower-case
/// `a`-`d`. Content-type parameters (`; charset=...`) are ignored.
pub fn parse_info(content_type: &str, body: &[u8]) -> Result<char, DtmfError> {
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    let text = std::str::from_utf8(body).map_err(|_| DtmfError::BodyNotText)?;
    if media_type.eq_ignore_ascii_case("application/dtmf-relay") {
        let signal = text
            .lines()
            .filter_map(|line| line.split_once('='))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case("signal"))
            .map(|(_, value)| value)
            .ok_or(DtmfError::MissingSignal)?;
        parse_signal(signal)
    } else if media_type.eq_ignore_ascii_case("application/dtmf") {
        parse_signal(text)
    } else {
        Err(DtmfError::UnsupportedContentType)
    }
}

/// One key, as a character or as its RFC 4733 event code.
fn parse_signal(value: &str) -> Result<char, DtmfError> {
    let value = value.trim();
    let mut chars = value.chars();
    if let (Some(key), None) = (chars.next(), chars.next()) {
        let key = key.to_ascii_uppercase();
        return if DIGITS.contains(&key) {
            Ok(key)
        } else {
            Err(DtmfError::InvalidSignal)
        };
    }
    // Two-digit event codes 10-15; 0-9 were handled as characters above.
    match value.parse::<u8>() {
        Ok(code @ 10..=15) => DIGITS
            .get(usize::from(code))
            .copied()
            .ok_or(DtmfError::InvalidSignal),
        _ => Err(DtmfError::InvalidSignal),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn replayed_presses_with_earlier_timestamps_still_count() {
        // SIPp plays one pcap per key: same SSRC, each key's timestamp lower than the last.
        let press = |key: u8, end: bool| [key, if end { 0x80 | 10 } else { 10 }, 0x01, 0x18];
        let mut d = super::EventDetector::new();
        assert_eq!(d.on_packet(85_760, true, &press(10, false)), Some('*'));
        assert_eq!(d.on_packet(85_760, false, &press(10, true)), None);
        assert_eq!(d.on_packet(54_720, true, &press(7, false)), Some('7'));
        assert_eq!(d.on_packet(54_720, false, &press(7, true)), None);
        // Its start packet lost: the first update of a new key, after the last one ended.
        assert_eq!(d.on_packet(13_280, false, &press(1, false)), Some('1'));
        // Its end packets, repeated, are no new press.
        assert_eq!(d.on_packet(13_280, false, &press(1, true)), None);
        assert_eq!(d.on_packet(13_280, false, &press(1, true)), None);
    }

    use super::*;

    /// Payloads of SIPp's `dtmf_2833_1.pcap` (PT 101, timestamp 13280): a
    /// start packet with the marker, six updates every 20 ms, then the end
    /// packet three times.
    const KEY_1: [[u8; 4]; 10] = [
        [0x01, 0x0a, 0x00, 0x00],
        [0x01, 0x0a, 0x01, 0x40],
        [0x01, 0x0a, 0x02, 0x80],
        [0x01, 0x0a, 0x03, 0xc0],
        [0x01, 0x0a, 0x05, 0x00],
        [0x01, 0x0a, 0x06, 0x40],
        [0x01, 0x0a, 0x07, 0x80],
        [0x01, 0x8a, 0x08, 0xc0],
        [0x01, 0x8a, 0x08, 0xc0],
        [0x01, 0x8a, 0x08, 0xc0],
    ];
    const KEY_1_TS: u32 = 13280;

    /// The same press as SIPp's `dtmf_2833_<key>.pcap` would send it.
    fn press(event: u8) -> [[u8; 4]; 10] {
        KEY_1.map(|[_, flags, d0, d1]| [event, flags, d0, d1])
    }

    /// Feeds a press; returns what the detector reported.
    fn feed(det: &mut EventDetector, ts: u32, packets: &[[u8; 4]]) -> Vec<char> {
        packets
            .iter()
            .enumerate()
            .filter_map(|(i, p)| det.on_packet(ts, i == 0, p))
            .collect()
    }

    #[test]
    fn parses_sipp_packets() {
        assert_eq!(
            parse_event(&KEY_1[0]),
            Ok(TelephoneEvent {
                event: 1,
                end: false,
                volume: 10,
                duration: 0
            })
        );
        let end = parse_event(&KEY_1[9]).unwrap();
        assert!(end.end);
        assert_eq!(end.volume, 10);
        assert_eq!(end.duration, 2240);
        assert_eq!(end.digit(), Some('1'));
        // dtmf_2833_pound.pcap
        assert_eq!(
            parse_event(&[0x0b, 0x8a, 0x08, 0xc0]).unwrap().digit(),
            Some('#')
        );
    }

    #[test]
    fn maps_every_event_code() {
        let keys: String = (0..=16u8)
            .filter_map(|e| parse_event(&[e, 0, 0, 0]).unwrap().digit())
            .collect();
        assert_eq!(keys, "0123456789*#ABCD");
        let flash = parse_event(&[16, 0, 0, 0]).unwrap();
        assert!(flash.is_flash());
        assert_eq!(flash.digit(), None);
        assert_eq!(parse_event(&[200, 0, 0, 0]).unwrap().digit(), None);
    }

    #[test]
    fn reserved_bit_is_ignored() {
        let event = parse_event(&[5, 0xff, 0, 160]).unwrap();
        assert_eq!((event.end, event.volume, event.duration), (true, 63, 160));
    }

    #[test]
    fn refuses_wrong_lengths() {
        assert_eq!(parse_event(&[]), Err(DtmfError::EventLength(0)));
        assert_eq!(parse_event(&[1, 2, 3]), Err(DtmfError::EventLength(3)));
        assert_eq!(
            parse_event(&[1, 2, 3, 4, 5]),
            Err(DtmfError::EventLength(5))
        );
    }

    #[test]
    fn reports_a_press_once_at_its_first_packet() {
        let mut det = EventDetector::new();
        assert_eq!(det.on_packet(KEY_1_TS, true, &KEY_1[0]), Some('1'));
        for p in &KEY_1[1..] {
            assert_eq!(det.on_packet(KEY_1_TS, false, p), None);
        }
    }

    #[test]
    fn reports_a_sequence_of_presses() {
        let mut det = EventDetector::new();
        let mut keys = Vec::new();
        // *732# at 8 kHz, a press every 200 ms, timestamps wrapping past u32::MAX.
        for (i, event) in [10u8, 7, 3, 2, 11].into_iter().enumerate() {
            let ts = (u32::MAX - 2000).wrapping_add(1600 * i as u32);
            keys.extend(feed(&mut det, ts, &press(event)));
        }
        assert_eq!(keys, ['*', '7', '3', '2', '#']);
    }

    #[test]
    fn same_key_twice_is_two_presses() {
        let mut det = EventDetector::new();
        let mut keys = feed(&mut det, 1000, &press(5));
        keys.extend(feed(&mut det, 2600, &press(5)));
        assert_eq!(keys, ['5', '5']);
    }

    #[test]
    fn lost_start_packets_still_report() {
        let mut det = EventDetector::new();
        // Only updates and ends arrive, none with the marker.
        let keys: Vec<char> = KEY_1[3..]
            .iter()
            .filter_map(|p| det.on_packet(KEY_1_TS, false, p))
            .collect();
        assert_eq!(keys, ['1']);
        // Only the end packets of the next press arrive.
        let keys: Vec<char> = press(2)[7..]
            .iter()
            .filter_map(|p| det.on_packet(KEY_1_TS + 1600, false, p))
            .collect();
        assert_eq!(keys, ['2']);
    }

    #[test]
    fn late_packets_of_an_earlier_press_are_ignored() {
        let mut det = EventDetector::new();
        assert_eq!(det.on_packet(1000, true, &press(1)[0]), Some('1'));
        assert_eq!(det.on_packet(2600, true, &press(2)[0]), Some('2'));
        // A reordered end packet of the first press.
        assert_eq!(det.on_packet(1000, false, &press(1)[9]), None);
    }

    #[test]
    fn restarted_timestamps_are_a_new_press() {
        let mut det = EventDetector::new();
        assert_eq!(det.on_packet(3_000_000_000, true, &press(1)[0]), Some('1'));
        assert_eq!(det.on_packet(17, true, &press(2)[0]), Some('2'));
        det.reset();
        assert_eq!(det.on_packet(17, true, &press(2)[0]), Some('2'));
    }

    #[test]
    fn long_press_segments_are_one_press() {
        let mut det = EventDetector::new();
        assert_eq!(det.on_packet(500, true, &[4, 10, 0, 0]), Some('4'));
        assert_eq!(det.on_packet(500, false, &[4, 10, 0xff, 0xff]), None);
        // Second segment (RFC 4733 §2.5.1.3): new timestamp, no marker, no E bit before.
        let next = 500 + 0xffff;
        assert_eq!(det.on_packet(next, false, &[4, 10, 0, 160]), None);
        assert_eq!(det.on_packet(next, false, &[4, 0x8a, 0x01, 0x40]), None);
        // And a real new press of the same key afterwards.
        assert_eq!(det.on_packet(next + 8000, true, &[4, 10, 0, 0]), Some('4'));
    }

    #[test]
    fn flash_and_unknown_events_report_nothing() {
        let mut det = EventDetector::new();
        assert_eq!(feed(&mut det, 100, &press(16)), [] as [char; 0]);
        assert_eq!(feed(&mut det, 2000, &press(70)), [] as [char; 0]);
        assert_eq!(feed(&mut det, 4000, &press(9)), ['9']);
    }

    #[test]
    fn garbage_never_panics() {
        let mut det = EventDetector::new();
        // Every 4-byte pattern in a cheap sweep, plus other lengths.
        let mut seed = 0x1234_5678u32;
        for _ in 0..50_000 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let bytes = seed.to_be_bytes();
            let len = (seed >> 29) as usize % 6;
            let payload = &[bytes, bytes][..].concat()[..len];
            let _ = parse_event(payload);
            let _ = det.on_packet(seed.rotate_left(7), seed & 1 == 0, payload);
            let _ = parse_info("application/dtmf-relay", payload);
            let _ = parse_info("application/dtmf", payload);
        }
        let _ = parse_info("", &[0xff, 0xfe, b'=', 0x80]);
        let _ = parse_info(";;;", b"");
        let _ = parse_info("application/dtmf-relay", b"Signal=\xe4\xb8\x80");
        let _ = parse_info("application/dtmf-relay", b"=\r\n=\r\nSignal");
        let _ = parse_info("application/dtmf", "\u{10ffff}".as_bytes());
    }

    #[test]
    fn info_dtmf_relay() {
        let relay = "application/dtmf-relay";
        assert_eq!(parse_info(relay, b"Signal=5\r\nDuration=160\r\n"), Ok('5'));
        assert_eq!(parse_info(relay, b"signal=*\r\nduration=250"), Ok('*'));
        assert_eq!(parse_info(relay, b"SIGNAL = #\nDuration=100\n"), Ok('#'));
        assert_eq!(parse_info(relay, b"Duration=160\r\nSignal=10\r\n"), Ok('*'));
        assert_eq!(parse_info(relay, b"Signal=11"), Ok('#'));
        assert_eq!(parse_info(relay, b"Signal=b"), Ok('B'));
        assert_eq!(parse_info(relay, b"Signal=0"), Ok('0'));
        assert_eq!(
            parse_info("Application/DTMF-Relay ; charset=utf-8", b"Signal=9"),
            Ok('9')
        );
        assert_eq!(
            parse_info(relay, b"Duration=160"),
            Err(DtmfError::MissingSignal)
        );
        assert_eq!(parse_info(relay, b""), Err(DtmfError::MissingSignal));
        assert_eq!(parse_info(relay, b"Signal="), Err(DtmfError::InvalidSignal));
        assert_eq!(
            parse_info(relay, b"Signal=16"),
            Err(DtmfError::InvalidSignal)
        );
        assert_eq!(
            parse_info(relay, b"Signal=E"),
            Err(DtmfError::InvalidSignal)
        );
        assert_eq!(
            parse_info(relay, b"Signal=55"),
            Err(DtmfError::InvalidSignal)
        );
        assert_eq!(
            parse_info(relay, b"Signal=\xff"),
            Err(DtmfError::BodyNotText)
        );
    }

    #[test]
    fn info_dtmf() {
        assert_eq!(parse_info("application/dtmf", b"5"), Ok('5'));
        assert_eq!(parse_info("application/dtmf", b"#\r\n"), Ok('#'));
        assert_eq!(parse_info("application/dtmf", b"11"), Ok('#'));
        assert_eq!(
            parse_info("application/dtmf", b""),
            Err(DtmfError::InvalidSignal)
        );
        assert_eq!(
            parse_info("application/dtmf", b"12x"),
            Err(DtmfError::InvalidSignal)
        );
        assert_eq!(
            parse_info("application/sdp", b"5"),
            Err(DtmfError::UnsupportedContentType)
        );
    }
}
