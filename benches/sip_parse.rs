//! SIP parsing, request validation and serialization on realistic messages.
//!
//! `cargo bench --bench sip_parse`

mod common;

use std::hint::black_box;

use common::{print_context, time_rounds, Summary};
use hotline::sip::message::Message;
use hotline::sip::parse::parse;
use hotline::sip::validate::check_request;

const REGISTER: &str = "REGISTER sip:hotline.example.org SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK-524287-1---e1a6c3b2d9f0a7e4\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:seat101@192.0.2.10:5060;transport=udp>;expires=3600\r\n\
To: <sip:seat101@hotline.example.org>\r\n\
From: <sip:seat101@hotline.example.org>;tag=8f3b2c1a\r\n\
Call-ID: 5f2d8c1e-7a3b-4c9d-9e0f-1a2b3c4d5e6f\r\n\
CSeq: 2 REGISTER\r\n\
Expires: 3600\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
User-Agent: baresip v3.10.1 (x86_64/linux)\r\n\
Authorization: Digest username=\"seat101\",realm=\"hotline.example.org\",\
nonce=\"6653a1c2:1f0e9d8c7b6a5f4e3d2c1b0a99887766\",uri=\"sip:hotline.example.org\",\
response=\"9b3f2a1c0d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8\",\
algorithm=SHA-256,cnonce=\"0a4f113b\",qop=auth,nc=00000001\r\n\
Content-Length: 0\r\n\
\r\n";

const SDP: &str = "v=0\r\n\
o=- 3914571612 3914571612 IN IP4 198.51.100.23\r\n\
s=-\r\n\
c=IN IP4 198.51.100.23\r\n\
t=0 0\r\n\
m=audio 40002 RTP/AVP 8 0 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

fn invite() -> String {
    format!(
        "INVITE sip:12345@hotline.example.org SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.23:5060;branch=z9hG4bK-7c1e2f3a4b5c6d7e\r\n\
Max-Forwards: 70\r\n\
From: \"Citizen\" <sip:+4930123456@carrier.example.net>;tag=as1f2e3d4c\r\n\
To: <sip:12345@hotline.example.org>\r\n\
Contact: <sip:+4930123456@198.51.100.23:5060>\r\n\
Call-ID: 3c2b1a09f8e7d6c5b4a39281@198.51.100.23\r\n\
CSeq: 102 INVITE\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO\r\n\
Supported: replaces, timer\r\n\
User-Agent: Carrier-SBC 4.2\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\
\r\n{SDP}",
        SDP.len()
    )
}

fn ok_200() -> String {
    format!(
        "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK-hl-0f1e2d3c4b5a6978;received=203.0.113.5\r\n\
From: <sip:12345@hotline.example.org>;tag=hl-5a6b7c8d\r\n\
To: <sip:seat101@192.0.2.10:5060>;tag=1928301774\r\n\
Call-ID: hl-9f8e7d6c5b4a3928@hotline.example.org\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:seat101@192.0.2.10:5060>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO\r\n\
Supported: replaces, norefersub\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\
\r\n{SDP}",
        SDP.len()
    )
}

const ITERS: u32 = 20_000;
const WARMUP: u32 = 3;
const ROUNDS: u32 = 15;

struct Row {
    what: String,
    bytes: usize,
    ns: Summary,
}

fn bench(rows: &mut Vec<Row>, what: &str, bytes: usize, f: impl FnMut()) {
    let ns = Summary::of(&time_rounds(ITERS, WARMUP, ROUNDS, f));
    rows.push(Row {
        what: what.to_string(),
        bytes,
        ns,
    });
}

fn main() {
    print_context("sip_parse");
    let invite = invite();
    let ok = ok_200();
    let messages: [(&str, &[u8]); 3] = [
        ("REGISTER (digest auth)", REGISTER.as_bytes()),
        ("INVITE (SDP body)", invite.as_bytes()),
        ("200 OK (SDP body)", ok.as_bytes()),
    ];

    let mut rows = Vec::new();
    for (name, raw) in messages {
        // Sanity: every message parses, and every request passes validation.
        let parsed = parse(raw).unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
        if let Message::Request(req) = &parsed {
            check_request(req).unwrap_or_else(|e| panic!("{name} is refused: {e:?}"));
        }

        bench(&mut rows, &format!("parse {name}"), raw.len(), || {
            black_box(parse(black_box(raw)).ok());
        });
        match parsed {
            Message::Request(req) => {
                bench(
                    &mut rows,
                    &format!("parse + check_request {name}"),
                    raw.len(),
                    || {
                        if let Ok(Message::Request(r)) = parse(black_box(raw)) {
                            black_box(check_request(&r).ok());
                        }
                    },
                );
                bench(
                    &mut rows,
                    &format!("check_request only {name}"),
                    raw.len(),
                    || {
                        black_box(check_request(black_box(&req)).ok());
                    },
                );
                let out_len = req.to_bytes().len();
                bench(
                    &mut rows,
                    &format!("Request::to_bytes {name}"),
                    out_len,
                    || {
                        black_box(black_box(&req).to_bytes());
                    },
                );
            }
            Message::Response(resp) => {
                let out_len = resp.to_bytes().len();
                bench(
                    &mut rows,
                    &format!("Response::to_bytes {name}"),
                    out_len,
                    || {
                        black_box(black_box(&resp).to_bytes());
                    },
                );
            }
        }
    }

    println!(
        "\n{ROUNDS} rounds x {ITERS} messages after {WARMUP} warm-up rounds, single thread; \
         spread = (max - min) / median over the rounds"
    );
    println!(
        "{:<46} {:>6} {:>10} {:>12} {:>9} {:>9} {:>8}",
        "operation", "bytes", "ns/msg", "msgs/s", "min ns", "max ns", "spread"
    );
    for r in &rows {
        println!(
            "{:<46} {:>6} {:>10.0} {:>12.0} {:>9.0} {:>9.0} {:>7.1}%",
            r.what,
            r.bytes,
            r.ns.median,
            1e9 / r.ns.median,
            r.ns.min,
            r.ns.max,
            r.ns.spread_pct()
        );
    }
}
