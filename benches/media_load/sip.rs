//! Raw SIP over UDP for the media bench: the message helpers both sides share, and the trunk's
//! side (a UAC placing and hanging up many calls from one socket), speaking just enough RFC
//! 3261 for calls on 127.0.0.1: INVITE and BYE retransmitted until answered, 2xx re-ACKed,
//! Record-Route honoured (for the Kamailio path). The seat's side is in `seat.rs`.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

pub const T1: Duration = Duration::from_millis(500);
pub const T2: Duration = Duration::from_secs(4);

/// The value of the first header `name` (or its compact form) in `message`'s header section.
pub fn header<'a>(message: &'a str, name: &'a str) -> Option<&'a str> {
    headers(message, name).next()
}

/// Every header `name` (or its compact form), in order, as whole values.
pub fn headers<'a>(message: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let compact = match name {
        "Via" => "v",
        "From" => "f",
        "To" => "t",
        "Call-ID" => "i",
        "Contact" => "m",
        "Content-Length" => "l",
        "Content-Type" => "c",
        _ => "",
    };
    message
        .split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(move |l| {
            let (n, v) = l.split_once(':')?;
            let n = n.trim();
            (n.eq_ignore_ascii_case(name) || (!compact.is_empty() && n == compact))
                .then(|| v.trim())
        })
}

pub fn body(message: &str) -> &str {
    message.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// The status of a response, or None for a request.
pub fn status(message: &str) -> Option<u16> {
    message.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// The method a response answers (from CSeq).
fn cseq_method(message: &str) -> &str {
    header(message, "CSeq")
        .and_then(|c| c.split_whitespace().nth(1))
        .unwrap_or("")
}

/// The URI inside `<...>` of a header value (or the value itself).
fn uri_of(value: &str) -> &str {
    value
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map_or(value, |(uri, _)| uri)
}

/// Where an SDP body says its audio is received: the last `c=` line before or in the audio
/// section, and the `m=audio` port.
pub fn sdp_audio(sdp: &str) -> Option<SocketAddr> {
    let mut ip = None;
    for line in sdp.lines() {
        if let Some(c) = line.strip_prefix("c=IN IP4 ") {
            ip = c.trim().parse::<std::net::Ipv4Addr>().ok();
        }
        if let Some(m) = line.strip_prefix("m=audio ") {
            let port = m.split_whitespace().next()?.parse().ok()?;
            return Some(SocketAddr::from((ip?, port)));
        }
    }
    None
}

/// Our SDP: PCMU only, received at `media`.
pub fn sdp(media: SocketAddr, id: u64) -> String {
    format!(
        "v=0\r\no=- {id} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n",
        ip = media.ip(),
        port = media.port()
    )
}

/// A UDP socket for SIP with large buffers and a short read timeout.
pub fn bind(addr: &str) -> UdpSocket {
    let socket = super::rtp::bind_udp(addr);
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .expect("read timeout");
    socket
}

pub fn recv(socket: &UdpSocket, buf: &mut [u8]) -> Option<(String, SocketAddr)> {
    let (n, from) = socket.recv_from(buf).ok()?;
    Some((String::from_utf8_lossy(&buf[..n]).into_owned(), from))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Inviting,
    Up,
    Failed(u16),
    Hanging,
    Ended,
}

struct Call {
    call_id: String,
    branch: String,
    invite: String,
    state: State,
    /// Got a provisional or final: no more INVITE retransmissions.
    answered: bool,
    sent: Instant,
    interval: Duration,
    /// From the 2xx: To (with tag), remote target, route set.
    to: String,
    contact: String,
    routes: Vec<String>,
    bye: String,
    /// Where the far end receives our audio (the SDP of the 2xx).
    pub media: Option<SocketAddr>,
}

/// What a round of calls came to.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub up: usize,
    pub failed: usize,
    /// The most frequent failure status, if any failed.
    pub status: u16,
}

/// The trunk: places calls to `number` at `target` from one socket.
pub struct Uac {
    socket: UdpSocket,
    local: SocketAddr,
    target: SocketAddr,
    calls: Vec<Call>,
    index: HashMap<String, usize>,
    buf: Vec<u8>,
}

impl Uac {
    pub fn new(target: SocketAddr) -> Uac {
        let socket = bind("127.0.0.1:0");
        let local = socket.local_addr().expect("local addr");
        Uac {
            socket,
            local,
            target,
            calls: vec![],
            index: HashMap::new(),
            buf: vec![0; 65_536],
        }
    }

    /// Places `n` calls to `number` at `rate` per second, each offering PCMU received at
    /// `media`, and waits for their answers (at most `n / rate` + 15 s).
    pub fn call(
        &mut self,
        n: usize,
        number: &str,
        rate: f64,
        media: SocketAddr,
        round: u32,
    ) -> Tally {
        self.calls.clear();
        self.index.clear();
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(n as f64 / rate + 15.0);
        let (local, target) = (self.local, self.target);
        while Instant::now() < deadline {
            let now = Instant::now();
            while self.calls.len() < n
                && start + Duration::from_secs_f64(self.calls.len() as f64 / rate) <= now
            {
                let i = self.calls.len();
                let call_id = format!("ml{round}-{i}-{}@127.0.0.1", local.port());
                let branch = format!("z9hG4bKml{round}i{i}");
                let offer = sdp(media, i as u64 + 1);
                let invite = format!(
                    "INVITE sip:{number}@{target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: <sip:bench@{local}>;tag=t{round}i{i}\r\nTo: <sip:{number}@{target}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:bench@{local}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
                    offer.len()
                );
                let _ = self.socket.send_to(invite.as_bytes(), target);
                self.index.insert(call_id.clone(), i);
                self.calls.push(Call {
                    call_id,
                    branch,
                    invite,
                    state: State::Inviting,
                    answered: false,
                    sent: now,
                    interval: T1,
                    to: String::new(),
                    contact: String::new(),
                    routes: vec![],
                    bye: String::new(),
                    media: None,
                });
            }
            if self.calls.len() == n && self.calls.iter().all(|c| c.state != State::Inviting) {
                break;
            }
            self.retransmit(State::Inviting, now);
            self.pump_once();
        }
        for call in &mut self.calls {
            if call.state == State::Inviting {
                call.state = State::Failed(408);
            }
        }
        self.tally()
    }

    fn tally(&self) -> Tally {
        let mut statuses: HashMap<u16, usize> = HashMap::new();
        let mut tally = Tally::default();
        for call in &self.calls {
            match call.state {
                State::Failed(s) => *statuses.entry(s).or_default() += 1,
                _ => tally.up += 1,
            }
        }
        tally.failed = statuses.values().sum();
        tally.status = statuses
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map_or(0, |(s, _)| s);
        tally
    }

    /// Where the answered calls receive our audio.
    pub fn media(&self) -> Vec<SocketAddr> {
        self.calls
            .iter()
            .filter(|c| c.state == State::Up)
            .filter_map(|c| c.media)
            .collect()
    }

    /// Answers what comes in until `until` (re-ACKs, the far end's BYEs).
    pub fn pump_until(&mut self, until: Instant) {
        while Instant::now() < until {
            self.pump_once();
        }
    }

    /// Hangs every answered call up at `rate` per second and waits for the 200s (at most
    /// `n / rate` + 10 s); the calls that were not confirmed.
    pub fn hang_up(&mut self, rate: f64) -> usize {
        let start = Instant::now();
        let up: Vec<usize> = (0..self.calls.len())
            .filter(|&i| self.calls[i].state == State::Up)
            .collect();
        let deadline = start + Duration::from_secs_f64(up.len() as f64 / rate + 10.0);
        let mut next = 0;
        while Instant::now() < deadline {
            let now = Instant::now();
            while next < up.len() && start + Duration::from_secs_f64(next as f64 / rate) <= now {
                let i = up[next];
                let call = &mut self.calls[i];
                let routes: String = call
                    .routes
                    .iter()
                    .map(|r| format!("Route: {r}\r\n"))
                    .collect();
                call.bye = format!(
                    "BYE {} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch={}b;rport\r\nMax-Forwards: 70\r\n{routes}{}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
                    call.contact, self.local, call.branch, from_line(&call.invite), call.to, call.call_id
                );
                call.state = State::Hanging;
                call.sent = now;
                call.interval = T1;
                let _ = self.socket.send_to(call.bye.as_bytes(), self.target);
                next += 1;
            }
            if next == up.len() && self.calls.iter().all(|c| c.state != State::Hanging) {
                break;
            }
            self.retransmit(State::Hanging, now);
            self.pump_once();
        }
        self.calls
            .iter()
            .filter(|c| c.state == State::Hanging)
            .count()
    }

    /// Resends the INVITEs not yet answered at all, or the BYEs not yet answered.
    fn retransmit(&mut self, state: State, now: Instant) {
        for call in &mut self.calls {
            if call.state != state || (state == State::Inviting && call.answered) {
                continue;
            }
            if now.duration_since(call.sent) >= call.interval {
                let bytes = if state == State::Inviting {
                    &call.invite
                } else {
                    &call.bye
                };
                let _ = self.socket.send_to(bytes.as_bytes(), self.target);
                call.sent = now;
                call.interval = (call.interval * 2).min(T2);
            }
        }
    }

    fn pump_once(&mut self) {
        let Some((message, from)) = recv(&self.socket, &mut self.buf) else {
            return;
        };
        let Some(&i) = header(&message, "Call-ID").and_then(|c| self.index.get(c)) else {
            return;
        };
        let Some(code) = status(&message) else {
            // A request in one of our dialogs: the far end hangs up.
            if message.starts_with("BYE ") {
                let _ = self.socket.send_to(ok(&message, "", "").as_bytes(), from);
                self.calls[i].state = State::Ended;
            }
            return;
        };
        let call = &mut self.calls[i];
        match cseq_method(&message) {
            "INVITE" => {
                call.answered = true;
                if (200..300).contains(&code) {
                    if call.state == State::Inviting {
                        call.to = header(&message, "To").unwrap_or("").to_string();
                        call.contact = header(&message, "Contact")
                            .map(uri_of)
                            .unwrap_or("")
                            .to_string();
                        // The route set is the Record-Route list in reverse (RFC 3261 §12.1.2).
                        call.routes = headers(&message, "Record-Route")
                            .flat_map(|v| v.split(','))
                            .map(|r| r.trim().to_string())
                            .collect();
                        call.routes.reverse();
                        call.media = sdp_audio(body(&message));
                        call.state = State::Up;
                    }
                    let routes: String = call
                        .routes
                        .iter()
                        .map(|r| format!("Route: {r}\r\n"))
                        .collect();
                    let ack = format!(
                        "ACK {} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch={}a;rport\r\nMax-Forwards: 70\r\n{routes}{}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
                        call.contact, self.local, call.branch,
                        from_line(&call.invite), call.to, call.call_id
                    );
                    let _ = self.socket.send_to(ack.as_bytes(), self.target);
                } else if code >= 300 {
                    // ACK for a failure: same branch as the INVITE, its Request-URI.
                    let uri = call.invite.split_whitespace().nth(1).unwrap_or("");
                    let ack = format!(
                        "ACK {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch={};rport\r\nMax-Forwards: 70\r\n{}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
                        self.local, call.branch, from_line(&call.invite),
                        header(&message, "To").unwrap_or(""), call.call_id
                    );
                    let _ = self.socket.send_to(ack.as_bytes(), self.target);
                    if call.state == State::Inviting {
                        call.state = State::Failed(code);
                    }
                }
            }
            "BYE" if code >= 200 && call.state == State::Hanging => call.state = State::Ended,
            _ => {}
        }
    }
}

/// The From line of a request we built.
fn from_line(request: &str) -> &str {
    request
        .split("\r\n")
        .find(|l| l.starts_with("From:"))
        .unwrap_or("")
}

/// A 200 to `request`: its Via, Record-Route, From, To (with `to_tag` added when not empty),
/// Call-ID and CSeq, then `extra` headers and `body` (SDP when not empty).
pub fn ok(request: &str, to_tag: &str, extra: &str) -> String {
    response(request, "200 OK", to_tag, extra, "")
}

pub fn response(request: &str, status: &str, to_tag: &str, extra: &str, sdp: &str) -> String {
    let mut out = format!("SIP/2.0 {status}\r\n");
    for via in headers(request, "Via") {
        out.push_str(&format!("Via: {via}\r\n"));
    }
    for rr in headers(request, "Record-Route") {
        out.push_str(&format!("Record-Route: {rr}\r\n"));
    }
    let to = header(request, "To").unwrap_or("");
    let tag = if to_tag.is_empty() || to.contains(";tag=") {
        String::new()
    } else {
        format!(";tag={to_tag}")
    };
    out.push_str(&format!(
        "From: {}\r\nTo: {to}{tag}\r\nCall-ID: {}\r\nCSeq: {}\r\n{extra}",
        header(request, "From").unwrap_or(""),
        header(request, "Call-ID").unwrap_or(""),
        header(request, "CSeq").unwrap_or(""),
    ));
    if sdp.is_empty() {
        out.push_str("Content-Length: 0\r\n\r\n");
    } else {
        out.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ));
    }
    out
}
