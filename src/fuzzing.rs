//! One entry function per fuzz target: the cargo-fuzz targets in `fuzz/` (nightly, libFuzzer)
//! and the seeded stable run in `tests/fuzz_smoke.rs` both call these, so both exercise the same
//! code. Each takes arbitrary bytes, drives one family of the daemon's parsers the way the daemon
//! does, and panics only when an invariant the code promises is broken: malformed input must
//! come back as an error, never as a panic.
//!
//! Inputs that carry several parts split them the same way everywhere (see each function), so
//! a seed written for one runner works in the other.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::auth::{self, Algorithm, NonceKey};
use crate::calendar::{Date, TimeOfDay};
use crate::config::load::settings_from_text_alone;
use crate::dialplan::{Contact, Dialplan};
use crate::media::dtmf::{self, EventDetector};
use crate::media::mixer::{Mixer, PartyId};
use crate::media::rtp;
use crate::media::sdp::{self, Codec, Direction, LocalMedia};
use crate::media::{wav, PtMap};
use crate::sip::flow::{Flow, Transport};
use crate::sip::headers::{with_tag, CSeq, NameAddr, Via};
use crate::sip::message::{Message, Method};
use crate::sip::parse::{frame, parse, Frame, Malformed};
use crate::sip::transport::{read_message, Inbound, Reading};
use crate::sip::uri::{percent_decode, split_hostport, SipUri};
use crate::sip::validate::{check_request, check_support};
use crate::sip::{grammar, refer};

/// One fuzz target's entry: arbitrary bytes in, a panic only for a broken invariant.
pub type Entry = fn(&[u8]);

/// The fuzz targets, by the name of their file in `fuzz/fuzz_targets/`.
pub const TARGETS: &[(&str, Entry)] = &[
    ("sip_message", sip_message),
    ("sip_uri", sip_uri),
    ("sdp", sdp),
    ("rtp_and_dtmf", rtp_and_dtmf),
    ("sip_info", sip_info),
    ("digest_auth", digest_auth),
    ("wav", wav),
    ("config_and_dialplan", config_and_dialplan),
];

/// Where the fuzzed bytes pretend to come from.
const REMOTE: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)), 5062);

/// A SIP datagram, then the same bytes as a TCP stream: parsed, checked and answered as the
/// transport does (`read_message`), then handed to the parsers the core uses on a request.
///
/// Invariants: a parsed request is either let through or refused with 400 or 416, and a
/// message that does not parse is refused with 400 or 505; every answer the daemon would send
/// parses as a response; a parsed message written out with `to_bytes` reads back the same.
pub fn sip_message(data: &[u8]) {
    match parse(data) {
        Ok(Message::Request(request)) => {
            if let Err(refusal) = check_request(&request) {
                assert!(
                    matches!(refusal.status, 400 | 416),
                    "a request refused with {}",
                    refusal.status
                );
            }
        }
        Ok(Message::Response(_)) => {}
        Err(malformed) => assert!(
            matches!(malformed.status, 400 | 505),
            "a malformed message refused with {}",
            malformed.status
        ),
    }
    let udp = Flow {
        transport: Transport::Udp,
        remote: REMOTE,
    };
    read_and_use(udp, data);

    let tcp = Flow {
        transport: Transport::Tcp,
        remote: REMOTE,
    };
    let mut stream = data;
    while !stream.is_empty() {
        match frame(stream) {
            Frame::KeepAlive(n) => stream = &stream[n..],
            Frame::Complete(n) => {
                read_and_use(tcp, &stream[..n]);
                stream = &stream[n..];
            }
            Frame::Incomplete | Frame::Invalid(_) => break,
        }
    }
}

fn read_and_use(flow: Flow, bytes: &[u8]) {
    match read_message(flow, bytes) {
        Reading::Answer(answer) => assert!(
            matches!(parse(&answer), Ok(Message::Response(_))),
            "the daemon's own answer does not parse: {:?}",
            String::from_utf8_lossy(&answer)
        ),
        Reading::Drop => {}
        Reading::Pass(Inbound::Response { response, .. }) => {
            let again = parse(&response.to_bytes());
            assert_same(again, Message::Response(response));
        }
        Reading::Pass(Inbound::Request { request, ess, .. }) => {
            let _ = ess.top_via().sent_by();
            let _ = check_support(&request);
            for uri in [&request.uri, &ess.from.uri, &ess.to.uri] {
                if let Ok(uri) = SipUri::parse(uri) {
                    let _ = uri.user_decoded();
                }
            }
            let headers = &request.headers;
            if let Some(refer_to) = headers.get("Refer-To") {
                sip_refer_to(refer_to);
            }
            if let Some(replaces) = headers.get("Replaces") {
                let _ = refer::parse_replaces(replaces);
            }
            for name in ["Authorization", "Proxy-Authorization"] {
                for value in headers.get_all(name) {
                    let _ = auth::parse_credentials(value);
                }
            }
            let content_type = headers.get("Content-Type").unwrap_or("");
            if content_type.to_ascii_lowercase().contains("sdp") {
                sdp(&request.body);
            }
            if request.method == Method::Info {
                let _ = dtmf::parse_info(content_type, &request.body);
            }
            if request.method == Method::Notify {
                let _ = refer::parse_sipfrag(&request.body);
            }
            let again = parse(&request.to_bytes());
            assert_same(again, Message::Request(request));
        }
    }
}

/// `to_bytes` writes Content-Length last, from the body: apart from that header, a message
/// reads back as it was.
fn assert_same(again: Result<Message, Malformed>, original: Message) {
    let again = again.unwrap_or_else(|e| panic!("{original:?} written out does not parse: {e}"));
    let strip = |m: &Message| {
        let mut m = m.clone();
        let headers = match &mut m {
            Message::Request(r) => &mut r.headers,
            Message::Response(r) => &mut r.headers,
        };
        headers.remove("Content-Length");
        m
    };
    assert_eq!(
        strip(&again),
        strip(&original),
        "round trip through to_bytes"
    );
}

fn sip_refer_to(value: &str) {
    if let Ok(refer_to) = refer::parse_refer_to(value) {
        let _ = refer::target_number(&refer_to);
    }
}

/// Text that a header value or a URI may hold (lossily UTF-8): the URI, name-addr, Via, CSeq,
/// parameter, Refer-To and Replaces parsers, line by line.
pub fn sip_uri(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for value in text.lines() {
        if let Ok(uri) = SipUri::parse(value) {
            let _ = uri.user_decoded();
            let _ = uri.param("transport");
        }
        let _ = split_hostport(value);
        let _ = percent_decode(value);
        if let Ok(name_addr) = NameAddr::parse(value) {
            let _ = name_addr.tag();
            let written = name_addr.to_header();
            assert!(
                NameAddr::parse(&written).is_ok(),
                "NameAddr::to_header gives {written:?}, which does not parse"
            );
        }
        let _ = with_tag(value, "f00");
        if let Ok(vias) = Via::all(grammar::split_commas(value).into_iter()) {
            for via in vias {
                let _ = (via.sent_by(), via.branch(), via.rfc3261_branch());
            }
        }
        let _ = CSeq::parse(value);
        let _ = grammar::parse_params(value);
        sip_refer_to(value);
        let _ = refer::parse_replaces(value);
        let _ = refer::parse_sipfrag(value.as_bytes());
    }
}

/// An offer from a caller: negotiated, turned into our offer to a seat and into our answer.
///
/// Invariant: what the daemon writes itself parses and negotiates to the codec it chose.
pub fn sdp(data: &[u8]) {
    let Ok(offer) = sdp::parse(data) else {
        return;
    };
    let _ = (offer.audio_connection(), offer.audio_rejected());
    let local = LocalMedia {
        addr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
        rtp_port: 20_000,
        session_id: 1,
        session_version: 1,
    };
    if let Ok(negotiated) = sdp::negotiate(&offer) {
        let answer = sdp::build_answer(local, &negotiated, Direction::SendRecv);
        let ours = sdp::parse(answer.as_bytes())
            .unwrap_or_else(|e| panic!("our answer {answer:?} does not parse: {e}"));
        let again = sdp::negotiate(&ours)
            .unwrap_or_else(|e| panic!("our answer {answer:?} does not negotiate: {e}"));
        assert_eq!(again.audio.codec, negotiated.audio.codec, "{answer:?}");
        let _ = sdp::with_direction(&answer, Direction::SendOnly);
    }
    if let Ok(params) = sdp::offer_for_seat(&offer, local) {
        let to_seat = sdp::build_offer(&params);
        let seat_offer = sdp::parse(to_seat.as_bytes())
            .unwrap_or_else(|e| panic!("our offer {to_seat:?} does not parse: {e}"));
        // A seat answering with our own offer: the first codec, which the caller offered.
        let seat = sdp::negotiate(&seat_offer)
            .unwrap_or_else(|e| panic!("our offer {to_seat:?} does not negotiate: {e}"));
        if let Err(e) = sdp::answer_for_caller(&offer, &seat) {
            panic!("the caller's offer and ours {to_seat:?} do not match: {e}");
        }
    }
}

/// RTP packets, each preceded by its length in one byte: header fields read as the hub reads
/// them, payload types rewritten, telephone-events (PT 101) detected and parsed, PCMU (PT 0)
/// frames pushed into a mixer that ticks after each packet.
pub fn rtp_and_dtmf(data: &[u8]) {
    let map = PtMap::identity().with(0, 8).with(101, 96);
    let mut detector = EventDetector::new();
    let mut mixer = Mixer::new(2);
    let caller = PartyId(1);
    let listener = PartyId(2);
    let added = mixer.add_party(caller, Codec::Pcmu).is_ok()
        && mixer.add_party(listener, Codec::Pcma).is_ok();
    assert!(added, "a mixer of two takes two parties");
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let (packet, next) = tail.split_at(usize::from(len).min(tail.len()));
        rest = next;
        let mut copy = packet.to_vec();
        rtp::rewrite_pt(&mut copy, |pt| map.a_to_b(pt));
        assert_eq!(copy.len(), packet.len());
        let Some(fields) = rtp::fields(packet) else {
            continue;
        };
        let payload = packet.get(fields.payload_at..).unwrap_or_default();
        match fields.pt {
            101 => {
                if let Ok(event) = dtmf::parse_event(payload) {
                    let _ = (event.digit(), event.is_flash());
                }
                let _ = detector.on_packet(fields.timestamp, fields.marker, payload);
            }
            0 => {
                let mut frame = payload.to_vec();
                frame.resize(160, 0xff);
                let _ = mixer.push(caller, fields.seq, fields.timestamp, &frame);
                let _ = mixer.push(caller, fields.seq, fields.timestamp, payload);
                for (_, heard) in mixer.tick() {
                    assert_eq!(heard.len(), 160);
                }
            }
            _ => {}
        }
    }
}

/// A SIP INFO: the first line is the Content-Type, the rest the body.
///
/// Invariant: a key read from it is one of `0`-`9`, `*`, `#`, `A`-`D`.
pub fn sip_info(data: &[u8]) {
    let (content_type, body) = match data.iter().position(|b| *b == b'\n') {
        Some(end) => (&data[..end], &data[end + 1..]),
        None => (data, &data[data.len()..]),
    };
    let content_type = String::from_utf8_lossy(content_type);
    if let Ok(key) = dtmf::parse_info(&content_type, body) {
        assert!("0123456789*#ABCD".contains(key), "key {key:?}");
    }
}

/// An `Authorization` header value: parsed, verified against a fixed password and checked as
/// the registrar does; its nonce checked against a fixed key.
pub fn digest_auth(data: &[u8]) {
    let value = String::from_utf8_lossy(data);
    let key = NonceKey::from_bytes([7; 32]);
    let now = 1_800_000_000;
    if let Ok(creds) = auth::parse_credentials(&value) {
        let ha1 = auth::ha1(creds.algorithm, &creds.username, &creds.realm, "secret");
        let _ = auth::verify(&creds, "REGISTER", &ha1);
        let _ = key.check(&creds.nonce, now, 300);
    }
    let _ = key.check(&value, now, 300);
    let lookup = |user: &str, algorithm: Algorithm| {
        (user == "1001").then(|| auth::ha1(algorithm, user, "hotline.local", "secret"))
    };
    let _ = auth::authenticate(
        Some(&value),
        "REGISTER",
        "hotline.local",
        lookup,
        &key,
        now,
        300,
    );
}

/// A prompt file's bytes.
pub fn wav(data: &[u8]) {
    if let Ok(wav) = wav::parse_wav(data) {
        let _ = wav.samples.len();
    }
}

/// A `hotline.toml` and a dialplan file, separated by the first NUL byte (lossily UTF-8): the
/// settings read and validated as `hotline check` does, the dialplan compiled against what they
/// define, and what the dialplan holds looked up with the lines of both texts. Dates and times
/// of day (calendars) are read from every word.
pub fn config_and_dialplan(data: &[u8]) {
    let (settings_text, dialplan_text) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &data[data.len()..]),
    };
    let settings_text = String::from_utf8_lossy(settings_text);
    let dialplan_text = String::from_utf8_lossy(dialplan_text);
    let settings = settings_from_text_alone(Path::new("fuzz.toml"), &settings_text).ok();
    let known = settings
        .as_ref()
        .map(|(settings, _)| settings.dialplan_known())
        .unwrap_or_default();
    let sources = [(
        PathBuf::from("fuzz-dialplan.toml"),
        dialplan_text.to_string(),
    )];
    let dialplan = Dialplan::compile(&sources, &known).ok();
    for line in settings_text.lines().chain(dialplan_text.lines()) {
        for word in line.split(|c: char| c.is_whitespace() || c == '"' || c == ',') {
            let _ = word.parse::<Date>();
            let _ = word.parse::<TimeOfDay>();
            let _ = Contact::parse(word);
            if let Some(dialplan) = &dialplan {
                let _ = dialplan.route(word);
                let _ = dialplan.dialled(word);
                let _ = dialplan.dial_number(word);
            }
        }
    }
}
