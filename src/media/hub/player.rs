//! Playing encoded audio into a leg: 20 ms RTP packets with our own SSRC, sequence numbers,
//! timestamps and a marker bit at the start of each playback (RFC 3550 §5.1).

use std::sync::Arc;

/// 20 ms of 8 kHz G.711: one byte a sample.
pub const FRAME: usize = 160;
const HEADER: usize = 12;

/// One prompt or a sequence of them (a position announcement), already encoded in the leg's
/// codec, so playing costs no conversion per packet.
pub struct Playback {
    items: Vec<Arc<[u8]>>,
    item: usize,
    offset: usize,
    looping: bool,
    pt: u8,
    /// G.711 silence in the leg's codec, to pad the last frame.
    silence: u8,
    start: bool,
}

impl Playback {
    pub fn new(items: Vec<Arc<[u8]>>, looping: bool, pt: u8, silence: u8) -> Playback {
        Playback {
            items,
            item: 0,
            offset: 0,
            looping,
            pt,
            silence,
            start: true,
        }
    }

    /// Writes the next 20 ms frame (padded with silence) into `frame[..FRAME]`, or returns None
    /// when the playback is over.
    pub fn next_frame(&mut self, frame: &mut [u8]) -> Option<()> {
        loop {
            let Some(item) = self.items.get(self.item) else {
                if self.looping && self.items.iter().any(|i| !i.is_empty()) {
                    self.item = 0;
                    self.offset = 0;
                    continue;
                }
                return None;
            };
            if self.offset >= item.len() {
                self.item += 1;
                self.offset = 0;
                continue;
            }
            let take = (item.len() - self.offset).min(FRAME);
            let out = &mut frame[..FRAME];
            out[..take].copy_from_slice(&item[self.offset..self.offset + take]);
            out[take..].fill(self.silence);
            self.offset += take;
            return Some(());
        }
    }
}

/// The RTP identity of what the daemon itself sends into one leg.
pub struct OutStream {
    ssrc: u32,
    seq: u16,
    timestamp: u32,
}

impl OutStream {
    pub fn new(ssrc: u32, seq: u16, timestamp: u32) -> OutStream {
        OutStream {
            ssrc,
            seq,
            timestamp,
        }
    }

    /// Fills `buf` with a packet carrying `payload` (one 20 ms frame, a mix say); returns its
    /// length.
    pub fn frame_packet(&mut self, pt: u8, payload: &[u8], buf: &mut [u8]) -> usize {
        let len = HEADER + payload.len();
        buf[HEADER..len].copy_from_slice(payload);
        self.header(pt & 0x7f, buf);
        len
    }

    fn header(&mut self, second_byte: u8, buf: &mut [u8]) {
        buf[0] = 0x80;
        buf[1] = second_byte;
        buf[2..4].copy_from_slice(&self.seq.to_be_bytes());
        buf[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        buf[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(FRAME as u32);
    }

    /// Fills `buf` with the next packet of `playback`; returns its length, or None at the end.
    pub fn next_packet(&mut self, playback: &mut Playback, buf: &mut [u8]) -> Option<usize> {
        playback.next_frame(&mut buf[HEADER..])?;
        let marker = if playback.start { 0x80 } else { 0 };
        playback.start = false;
        self.header(marker | (playback.pt & 0x7f), buf);
        Some(HEADER + FRAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_carry_sequence_timestamp_marker_and_padding() {
        let audio: Arc<[u8]> = Arc::from(vec![7u8; FRAME + 10]);
        let mut playback = Playback::new(vec![audio], false, 8, 0xD5);
        let mut out = OutStream::new(0xABCD, 65535, 1000);
        let mut buf = [0u8; 2048];
        let n = out.next_packet(&mut playback, &mut buf).unwrap();
        assert_eq!(n, 172);
        assert_eq!(buf[1], 0x80 | 8, "marker on the first packet");
        assert_eq!(u16::from_be_bytes([buf[2], buf[3]]), 65535);
        assert_eq!(
            u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
            0xABCD
        );
        out.next_packet(&mut playback, &mut buf).unwrap();
        assert_eq!(buf[1], 8, "no marker after the first");
        assert_eq!(u16::from_be_bytes([buf[2], buf[3]]), 0, "sequence wraps");
        assert_eq!(u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]), 1160);
        assert_eq!(&buf[12..22], &[7u8; 10]);
        assert!(
            buf[22..172].iter().all(|b| *b == 0xD5),
            "last frame padded with silence"
        );
        assert!(out.next_packet(&mut playback, &mut buf).is_none());
    }

    #[test]
    fn looping_restarts_and_playlists_chain() {
        let a: Arc<[u8]> = Arc::from(vec![1u8; FRAME]);
        let b: Arc<[u8]> = Arc::from(vec![2u8; FRAME]);
        let mut playback = Playback::new(vec![a, b], true, 0, 0xFF);
        let mut out = OutStream::new(1, 0, 0);
        let mut buf = [0u8; 2048];
        let firsts: Vec<u8> = (0..5)
            .map(|_| {
                out.next_packet(&mut playback, &mut buf).unwrap();
                buf[12]
            })
            .collect();
        assert_eq!(firsts, vec![1, 2, 1, 2, 1]);
        let mut empty = Playback::new(vec![Arc::from(Vec::new())], true, 0, 0xFF);
        assert!(
            out.next_packet(&mut empty, &mut buf).is_none(),
            "an empty loop ends"
        );
    }
}
