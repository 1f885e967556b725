//! Seat 1001's phone for the media bench: a UAS on one socket that registers with digest
//! authentication and answers every INVITE at once with 180 and 200 (its SDP naming the
//! generator's seat-side socket), sending the 200 again until it is ACKed.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use md5::{Digest, Md5};

use super::sip::{bind, body, header, headers, ok, recv, response, sdp, sdp_audio, status, T1, T2};

/// One call as the seat has it.
struct Leg {
    /// Where the far end receives the seat's audio (the INVITE's SDP).
    media: Option<SocketAddr>,
    ok: String,
    from: SocketAddr,
    acked: bool,
    sent: Instant,
    interval: Duration,
}

/// The seat's calls in progress, shared between its thread and the bench.
#[derive(Default)]
pub struct Legs(Mutex<HashMap<String, Leg>>);

impl Legs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Leg>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where the seat's answered calls receive its audio.
    pub fn media(&self) -> Vec<SocketAddr> {
        self.lock().values().filter_map(|l| l.media).collect()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Seat 1001's phone: one socket, answering every INVITE at once.
pub struct Seat {
    socket: Arc<UdpSocket>,
    pub legs: Arc<Legs>,
}

impl Seat {
    pub fn bind(addr: &str) -> Seat {
        Seat {
            socket: Arc::new(bind(addr)),
            legs: Arc::default(),
        }
    }

    /// REGISTERs `user` at `registrar`, answering its MD5 digest challenge.
    pub fn register(&self, registrar: SocketAddr, user: &str, password: &str) {
        let local = self.socket.local_addr().expect("local addr");
        let uri = format!("sip:{registrar}");
        let request = |cseq: u32, auth: &str| {
            format!(
                "REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKreg{cseq};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{}>;tag=reg\r\nTo: <sip:{user}@{}>\r\nCall-ID: reg-{}@127.0.0.1\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@{local}>\r\nExpires: 3600\r\n{auth}Content-Length: 0\r\n\r\n",
                registrar.ip(), registrar.ip(), local.port()
            )
        };
        let mut buf = vec![0u8; 65_536];
        let mut exchange = |message: String| -> String {
            for _ in 0..5 {
                let _ = self.socket.send_to(message.as_bytes(), registrar);
                let until = Instant::now() + Duration::from_secs(1);
                while Instant::now() < until {
                    if let Some((reply, _)) = recv(&self.socket, &mut buf) {
                        if status(&reply).is_some_and(|s| s >= 200) {
                            return reply;
                        }
                    }
                }
            }
            panic!("the registrar did not answer");
        };
        let challenge = exchange(request(1, ""));
        let www = headers(&challenge, "WWW-Authenticate")
            .find(|h| h.contains("MD5") || !h.contains("algorithm"))
            .unwrap_or_else(|| panic!("no MD5 challenge in:\n{challenge}"));
        let param = |name: &str| -> String {
            www.split(',')
                .filter_map(|p| p.trim().trim_start_matches("Digest ").split_once('='))
                .find(|(k, _)| k.trim() == name)
                .map(|(_, v)| v.trim().trim_matches('"').to_string())
                .unwrap_or_default()
        };
        let (realm, nonce, qop, opaque) = (
            param("realm"),
            param("nonce"),
            param("qop"),
            param("opaque"),
        );
        let hex = |s: String| -> String {
            Md5::digest(s.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        let ha1 = hex(format!("{user}:{realm}:{password}"));
        let ha2 = hex(format!("REGISTER:{uri}"));
        let mut auth = format!(
            "Authorization: Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", algorithm=MD5"
        );
        if qop.split(',').any(|q| q.trim() == "auth") {
            let cnonce = "0a4f113b";
            let response = hex(format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}"));
            auth.push_str(&format!(
                ", qop=auth, nc=00000001, cnonce=\"{cnonce}\", response=\"{response}\""
            ));
        } else {
            auth.push_str(&format!(
                ", response=\"{}\"",
                hex(format!("{ha1}:{nonce}:{ha2}"))
            ));
        }
        if !opaque.is_empty() {
            auth.push_str(&format!(", opaque=\"{opaque}\""));
        }
        auth.push_str("\r\n");
        let reply = exchange(request(2, &auth));
        assert!(
            status(&reply) == Some(200),
            "REGISTER as {user} refused:\n{reply}"
        );
    }

    /// Answers calls on a thread of its own until `stop`: every INVITE gets 180 and a 200 whose
    /// SDP says the seat receives at `media`.
    pub fn serve(&self, media: SocketAddr, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
        let (socket, legs) = (self.socket.clone(), self.legs.clone());
        let contact = format!(
            "Contact: <sip:1001@{}>\r\n",
            socket.local_addr().expect("local addr")
        );
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            let mut n: u64 = 0;
            let mut last_scan = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                if let Some((message, from)) = recv(&socket, &mut buf) {
                    n += 1;
                    answer(&socket, &legs, &message, from, media, &contact, n);
                }
                let now = Instant::now();
                if now.duration_since(last_scan) >= Duration::from_millis(50) {
                    last_scan = now;
                    // 200s not yet ACKed are sent again (RFC 3261 §13.3.1.4).
                    for leg in legs.lock().values_mut() {
                        if !leg.acked && now.duration_since(leg.sent) >= leg.interval {
                            let _ = socket.send_to(leg.ok.as_bytes(), leg.from);
                            leg.sent = now;
                            leg.interval = (leg.interval * 2).min(T2);
                        }
                    }
                }
            }
        })
    }
}

fn answer(
    socket: &UdpSocket,
    legs: &Legs,
    message: &str,
    from: SocketAddr,
    media: SocketAddr,
    contact: &str,
    n: u64,
) {
    if status(message).is_some() {
        return;
    }
    let Some(call_id) = header(message, "Call-ID") else {
        return;
    };
    let method = message.split(' ').next().unwrap_or("");
    match method {
        "INVITE" => {
            let mut legs = legs.lock();
            if let Some(leg) = legs.get(call_id) {
                let _ = socket.send_to(leg.ok.as_bytes(), from);
                return;
            }
            let tag = format!("s{n}");
            let ringing = response(message, "180 Ringing", &tag, contact, "");
            let ok = response(message, "200 OK", &tag, contact, &sdp(media, n));
            let _ = socket.send_to(ringing.as_bytes(), from);
            let _ = socket.send_to(ok.as_bytes(), from);
            legs.insert(
                call_id.to_string(),
                Leg {
                    media: sdp_audio(body(message)),
                    ok,
                    from,
                    acked: false,
                    sent: Instant::now(),
                    interval: T1,
                },
            );
        }
        "ACK" => {
            if let Some(leg) = legs.lock().get_mut(call_id) {
                leg.acked = true;
            }
        }
        "BYE" | "CANCEL" | "OPTIONS" => {
            let _ = socket.send_to(ok(message, "", "").as_bytes(), from);
            if method != "OPTIONS" {
                legs.lock().remove(call_id);
            }
        }
        _ => {}
    }
}
