use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::*;
use crate::media::PtMap;

/// As SIPp's uac scenario sends it, LF line endings and all.
const SIPP_OFFER: &str = "v=0\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\n\
s=-\n\
c=IN IP4 127.0.0.1\n\
t=0 0\n\
m=audio 6000 RTP/AVP 0 101\n\
a=rtpmap:0 PCMU/8000\n\
a=rtpmap:101 telephone-event/8000\n\
a=fmtp:101 0-11,16\n";

/// baresip with several codecs, a=rtcp, vendor attributes and a video
/// stream whose attributes must stay out of the audio stream.
const BARESIP_OFFER: &str = "v=0\r\n\
o=- 1405617838 2891520914 IN IP4 192.168.1.20\r\n\
s=-\r\n\
c=IN IP4 192.168.1.20\r\n\
t=0 0\r\n\
a=tool:baresip 3.10.1\r\n\
m=audio 10430 RTP/AVP 96 9 8 0 101\r\n\
b=AS:128\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 stereo=1;sprop-stereo=1\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=rtcp:10431\r\n\
a=rtcp-mux\r\n\
a=ssrc:1925370932 cname:a0b1c2d3\r\n\
a=sendrecv\r\n\
a=label:1\r\n\
a=ptime:20\r\n\
m=video 10432 RTP/AVP 100\r\n\
c=IN IP4 192.168.1.99\r\n\
a=rtpmap:100 H264/90000\r\n\
a=rtpmap:101 PCMU/8000\r\n\
a=ptime:40\r\n\
a=recvonly\r\n";

fn parse_str(s: &str) -> SessionDescription {
    parse(s.as_bytes()).expect("fixture parses")
}

fn local(port: u16) -> LocalMedia {
    LocalMedia {
        addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)),
        rtp_port: port,
        session_id: 42,
        session_version: 1,
    }
}

#[test]
fn parses_sipp_offer() {
    let sd = parse_str(SIPP_OFFER);
    assert_eq!(sd.origin.session_id, 53655765);
    assert_eq!(sd.origin.session_version, 2353687637);
    let audio = sd.audio.as_ref().expect("audio");
    assert_eq!(audio.port, 6000);
    assert_eq!(audio.payload_types, vec![0, 101]);
    assert_eq!(audio.telephone_event_pt(), Some(101));
    assert_eq!(audio.fmtp(101), Some("0-11,16"));
    assert_eq!(sd.audio_direction(), Direction::SendRecv);
    assert_eq!(sd.audio_rtp_addr(), Some("127.0.0.1:6000".parse().unwrap()));
}

#[test]
fn parses_baresip_offer_and_ignores_other_streams() {
    let sd = parse_str(BARESIP_OFFER);
    let audio = sd.audio.as_ref().expect("audio");
    assert_eq!(audio.payload_types, vec![96, 9, 8, 0, 101]);
    assert_eq!(audio.ptime, Some(20));
    assert_eq!(audio.direction, Some(Direction::SendRecv));
    assert_eq!(audio.rtpmap(96).map(|m| m.channels), Some(Some(2)));
    assert_eq!(audio.fmtp(96), Some("stereo=1;sprop-stereo=1"));
    assert_eq!(audio.rtpmaps.len(), 5, "video rtpmaps must not leak");
    assert_eq!(
        sd.audio_rtp_addr(),
        Some("192.168.1.20:10430".parse().unwrap())
    );
    let codecs: Vec<_> = audio.supported_codecs().map(|f| f.codec).collect();
    assert_eq!(codecs, vec![Codec::Pcma, Codec::Pcmu]);
}

#[test]
fn media_level_connection_and_direction_override_session_level() {
    let sd = parse_str(
        "v=0\r\no=- 1 2 IN IP4 203.0.113.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n\
         a=sendonly\r\nm=audio 4000 RTP/AVP 8\r\nc=IN IP4 198.51.100.7/127\r\na=inactive\r\n",
    );
    assert_eq!(
        sd.connection,
        Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)))
    );
    assert_eq!(sd.direction, Some(Direction::SendOnly));
    assert_eq!(sd.audio_direction(), Direction::Inactive);
    assert_eq!(
        sd.audio_rtp_addr(),
        Some("198.51.100.7:4000".parse().unwrap())
    );

    let session_only = parse_str(
        "v=0\r\no=- 1 2 IN IP4 ::1\r\ns=-\r\nc=IN IP6 2001:db8::9\r\nt=0 0\r\n\
         a=recvonly\r\nm=audio 4002 RTP/AVP 0\r\n",
    );
    assert_eq!(session_only.audio_direction(), Direction::RecvOnly);
    assert_eq!(
        session_only.audio_rtp_addr(),
        Some(SocketAddr::new(
            IpAddr::V6("2001:db8::9".parse::<Ipv6Addr>().unwrap()),
            4002
        ))
    );
}

#[test]
fn port_zero_and_hold_address_give_no_remote() {
    let rejected =
        parse_str("o=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 0 RTP/AVP 0\r\n");
    assert!(rejected.audio_rejected());
    assert_eq!(rejected.audio_rtp_addr(), None);
    assert_eq!(negotiate(&rejected), Err(SdpError::AudioRejected));

    let hold =
        parse_str("o=- 1 2 IN IP4 1.2.3.4\r\nc=IN IP4 0.0.0.0\r\nm=audio 5000 RTP/AVP 0\r\n");
    assert_eq!(hold.audio_rtp_addr(), None);
}

#[test]
fn structural_errors_are_typed() {
    assert_eq!(
        parse(b"v=0\r\nm=audio 1 RTP/AVP 0\r\n"),
        Err(SdpError::MissingOrigin)
    );
    assert_eq!(
        parse(b"o=- x 1 IN IP4 1.2.3.4\r\n"),
        Err(SdpError::InvalidOrigin)
    );
    assert_eq!(
        parse(b"o=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 example.org\r\n"),
        Err(SdpError::InvalidConnection)
    );
    assert_eq!(
        parse(b"o=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP6 1.2.3.4\r\n"),
        Err(SdpError::InvalidConnection)
    );
    assert_eq!(
        parse(b"o=- 1 1 IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n"),
        Err(SdpError::InvalidMedia)
    );
    let no_audio = parse(b"o=- 1 1 IN IP4 1.2.3.4\r\nm=video 5000 RTP/AVP 96\r\n").unwrap();
    assert_eq!(negotiate(&no_audio), Err(SdpError::NoAudio));
    let srtp = parse(b"o=- 1 1 IN IP4 1.2.3.4\r\nm=audio 5000 RTP/SAVP 0\r\n").unwrap();
    assert_eq!(
        negotiate(&srtp),
        Err(SdpError::UnsupportedTransport("RTP/SAVP".into()))
    );
}

#[test]
fn garbage_lines_are_skipped() {
    let mut body =
        b"\xff\xfe garbage\r\nno equals sign\r\n=\r\no=- 1 1 IN IP4 1.2.3.4\r\n".to_vec();
    body.extend_from_slice(b"m=audio 5000 RTP/AVP 0 abc 300 8\r\na=rtpmap:\r\na=rtpmap:8\r\n");
    body.extend_from_slice(b"a=rtpmap:0 /8000\r\na=fmtp:\r\na=ptime:x\r\na=\xc3\x28\r\n");
    let sd = parse(&body).expect("garbage is skipped");
    let audio = sd.audio.expect("audio");
    assert_eq!(audio.payload_types, vec![0, 8]);
    assert!(audio.rtpmaps.is_empty());
    assert_eq!(audio.ptime, None);
}

/// Deterministic xorshift so the mutation loop needs no RNG setup.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn mutated_inputs_never_panic() {
    for base in [SIPP_OFFER.as_bytes(), BARESIP_OFFER.as_bytes()] {
        for cut in 0..base.len() {
            if let Ok(sd) = parse(&base[..cut]) {
                let _ = negotiate(&sd);
            }
        }
        let mut state = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            let mut body = base.to_vec();
            for _ in 0..(xorshift(&mut state) % 8 + 1) {
                let i = (xorshift(&mut state) as usize) % body.len();
                match xorshift(&mut state) % 4 {
                    0 => body[i] = xorshift(&mut state) as u8,
                    1 => body[i] = b"0123456789 :/=\r\n"[i % 16],
                    2 => {
                        body.remove(i);
                    }
                    _ => body.insert(i, b"9 /:"[i % 4]),
                }
            }
            if let Ok(sd) = parse(&body) {
                let _ = negotiate(&sd);
                let _ = offer_for_seat(&sd, local(1000));
                if let Ok(seat) = negotiate(&sd) {
                    let _ = answer_for_caller(&sd, &seat);
                }
            }
        }
    }
}

#[test]
fn negotiation_follows_offerer_preference() {
    let n = negotiate(&parse_str(BARESIP_OFFER)).unwrap();
    assert_eq!(
        n.audio,
        PayloadFormat {
            pt: 8,
            codec: Codec::Pcma
        }
    );
    assert_eq!(n.telephone_event, Some(101));
    assert_eq!(n.ptime, Some(20));

    let n = negotiate(&parse_str(SIPP_OFFER)).unwrap();
    assert_eq!(n.audio.codec, Codec::Pcmu);
}

#[test]
fn static_pt_without_rtpmap_and_dynamic_pcmu() {
    let sd =
        parse_str("o=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 8 0\r\n");
    assert_eq!(negotiate(&sd).unwrap().audio.codec, Codec::Pcma);
    let sd = parse_str(
        "o=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 97 0\r\n\
         a=rtpmap:97 pcmu/8000/1\r\na=rtpmap:0 G729/8000\r\n",
    );
    let n = negotiate(&sd).unwrap();
    assert_eq!(
        n.audio,
        PayloadFormat {
            pt: 97,
            codec: Codec::Pcmu
        }
    );
}

#[test]
fn no_common_codec() {
    let sd = parse_str(
        "o=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 9 18 101\r\n\
         a=rtpmap:101 telephone-event/8000\r\n",
    );
    assert_eq!(negotiate(&sd), Err(SdpError::NoCommonCodec));
    assert_eq!(offer_for_seat(&sd, local(1)), Err(SdpError::NoCommonCodec));
}

#[test]
fn default_offer_round_trips() {
    let text = build_offer(&SdpParams::default_offer(local(30000)));
    assert!(text.ends_with("\r\n"));
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "every line ends with CRLF"
    );
    let sd = parse_str(&text);
    assert_eq!(sd.origin.session_id, 42);
    assert_eq!(sd.origin.session_version, 1);
    assert_eq!(sd.audio_rtp_addr(), Some("10.0.0.5:30000".parse().unwrap()));
    let audio = sd.audio.as_ref().unwrap();
    assert_eq!(audio.payload_types, vec![0, 8, 101]);
    assert_eq!(audio.fmtp(101), Some(TELEPHONE_EVENTS));
    let n = negotiate(&sd).unwrap();
    assert_eq!(n.audio.codec, Codec::Pcmu);
    assert_eq!(n.telephone_event, Some(101));
}

#[test]
fn answer_round_trips_and_narrows_direction() {
    let offer = BARESIP_OFFER.replace("a=sendrecv", "a=sendonly");
    let n = negotiate(&parse_str(&offer)).unwrap();
    let v6 = LocalMedia {
        addr: "2001:db8::1".parse().unwrap(),
        ..local(30002)
    };
    let answer = parse_str(&build_answer(v6, &n, Direction::SendRecv));
    let audio = answer.audio.as_ref().unwrap();
    assert_eq!(audio.payload_types, vec![8, 101]);
    assert_eq!(answer.audio_direction(), Direction::RecvOnly);
    assert_eq!(
        answer.audio_rtp_addr(),
        Some("[2001:db8::1]:30002".parse().unwrap())
    );
}

#[test]
fn seat_offer_keeps_caller_order_and_pts() {
    let params = offer_for_seat(&parse_str(BARESIP_OFFER), local(30004)).unwrap();
    let sd = parse_str(&build_offer(&params));
    let audio = sd.audio.as_ref().unwrap();
    assert_eq!(audio.payload_types, vec![8, 0, 101]);
    assert_eq!(sd.audio_direction(), Direction::SendRecv);

    let without_te = "o=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 0\r\n";
    let params = offer_for_seat(&parse_str(without_te), local(30004)).unwrap();
    assert_eq!(params.telephone_event, None);
}

#[test]
fn caller_answer_follows_seat_choice_and_maps_event_pt() {
    let caller = parse_str(BARESIP_OFFER);
    let seat_answer = parse_str(
        "v=0\r\no=seat 7 7 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\n\
         m=audio 7000 RTP/AVP 0 96\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:96 telephone-event/8000\r\n\
         a=fmtp:96 0-16\r\na=recvonly\r\n",
    );
    let (n, map) = answer_for_caller(&caller, &negotiate(&seat_answer).unwrap()).unwrap();
    assert_eq!(
        n.audio,
        PayloadFormat {
            pt: 0,
            codec: Codec::Pcmu
        }
    );
    assert_eq!(n.telephone_event, Some(101));
    assert_eq!(map, PtMap::identity().with(101, 96));

    let answer = parse_str(&build_answer(
        local(30006),
        &n,
        seat_answer.audio_direction(),
    ));
    assert_eq!(answer.audio.as_ref().unwrap().payload_types, vec![0, 101]);
    assert_eq!(answer.audio_direction(), Direction::RecvOnly);
}

#[test]
fn caller_answer_drops_events_the_seat_lacks() {
    let caller = parse_str(SIPP_OFFER);
    let seat_answer =
        parse_str("o=s 1 1 IN IP4 10.1.1.1\r\nc=IN IP4 10.1.1.1\r\nm=audio 7000 RTP/AVP 0\r\n");
    let (n, map) = answer_for_caller(&caller, &negotiate(&seat_answer).unwrap()).unwrap();
    assert_eq!(n.telephone_event, None);
    assert!(map.is_identity());
}

#[test]
fn answer_direction_table() {
    use Direction::*;
    assert_eq!(SendRecv.answer(SendRecv), SendRecv);
    assert_eq!(SendOnly.answer(SendRecv), RecvOnly);
    assert_eq!(RecvOnly.answer(SendRecv), SendOnly);
    assert_eq!(Inactive.answer(SendRecv), Inactive);
    assert_eq!(SendRecv.answer(SendOnly), SendOnly);
}
