//! A trunk caller written here, for what no SIPp scenario does: it receives the daemon's audio
//! on an RtpProbe (whose port its SDP names) and types keys as SIP INFO in the dialog.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;

pub struct RawCaller {
    socket: UdpSocket,
    daemon: SocketAddr,
    call_id: String,
    from_tag: String,
    to: String,
    contact: String,
    cseq: u32,
    n: u32,
    /// Where the daemon's SDP answer says it takes the call's RTP.
    media: Option<SocketAddr>,
}

/// The audio address of an SDP body inside a SIP message: its c= address and m=audio port.
fn sdp_audio(message: &str) -> Option<SocketAddr> {
    let ip = message
        .lines()
        .find_map(|l| l.trim().strip_prefix("c=IN IP4 "))?
        .trim();
    let port = message
        .lines()
        .find_map(|l| l.trim().strip_prefix("m=audio "))?
        .split_whitespace()
        .next()?;
    format!("{ip}:{port}").parse().ok()
}

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

impl RawCaller {
    /// Calls `number` as `caller`, offering PCMU at `media_port`, and waits for the 200.
    pub async fn call(
        daemon: SocketAddr,
        number: &str,
        caller: &str,
        media_port: u16,
    ) -> RawCaller {
        Self::try_call(daemon, number, caller, media_port)
            .await
            .expect("a 200 to the INVITE")
    }

    /// As `call`, but None when no 200 comes within 10 s (the daemon is gone, or refused).
    pub async fn try_call(
        daemon: SocketAddr,
        number: &str,
        caller: &str,
        media_port: u16,
    ) -> Option<RawCaller> {
        Self::attempt(daemon, number, caller, media_port).await.ok()
    }

    /// As `call`; a final status other than 200 is ACKed and returned as `Err(Some(status))`,
    /// and no answer within 10 s as `Err(None)`.
    pub async fn attempt(
        daemon: SocketAddr,
        number: &str,
        caller: &str,
        media_port: u16,
    ) -> Result<RawCaller, Option<u16>> {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let port = socket.local_addr().expect("addr").port();
        let call_id = format!("raw-{caller}-{port}@127.0.0.1");
        let sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {media_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
        );
        let invite = format!(
            "INVITE sip:{number}@{daemon} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKinv{port};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{caller}@127.0.0.1>;tag=f{port}\r\nTo: <sip:{number}@{daemon}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:{caller}@127.0.0.1:{port}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        );
        socket
            .send_to(invite.as_bytes(), daemon)
            .await
            .expect("send");
        let ok = loop {
            let m = recv(&socket, Duration::from_secs(10)).await.ok_or(None)?;
            if m.starts_with("SIP/2.0 200") {
                break m;
            }
            if !m.starts_with("SIP/2.0 1") {
                // A refusal: ACKed in its transaction (RFC 3261 17.1.1.3), so it is not resent.
                let status = m.get(8..11).and_then(|c| c.parse().ok());
                let to = header(&m, "To").unwrap_or_default();
                let ack = format!(
                    "ACK sip:{number}@{daemon} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKinv{port};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{caller}@127.0.0.1>;tag=f{port}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
                );
                let _ = socket.send_to(ack.as_bytes(), daemon).await;
                return Err(status);
            }
        };
        let to = header(&ok, "To").expect("To").to_string();
        let contact = header(&ok, "Contact")
            .and_then(|c| c.split('<').nth(1))
            .and_then(|c| c.split('>').next())
            .expect("Contact")
            .to_string();
        let mut caller_leg = RawCaller {
            socket,
            daemon,
            call_id,
            from_tag: format!("f{port}"),
            to,
            contact,
            cseq: 1,
            n: 0,
            media: sdp_audio(&ok),
        };
        caller_leg.send_in_dialog("ACK", 1, "", "").await;
        Ok(caller_leg)
    }

    async fn send_in_dialog(&mut self, method: &str, cseq: u32, content_type: &str, body: &str) {
        self.n += 1;
        let port = self.socket.local_addr().expect("addr").port();
        let ctype = if content_type.is_empty() {
            String::new()
        } else {
            format!("Content-Type: {content_type}\r\n")
        };
        let message = format!(
            "{method} {} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{method}{port}n{};rport\r\nMax-Forwards: 70\r\nFrom: <sip:caller@127.0.0.1>;tag={}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
            self.contact, self.n, self.from_tag, self.to, self.call_id, body.len()
        );
        self.socket
            .send_to(message.as_bytes(), self.daemon)
            .await
            .expect("send");
    }

    /// Types `key` as a SIP INFO (application/dtmf-relay) and waits for its 200.
    pub async fn key(&mut self, key: char) {
        self.cseq += 1;
        let body = format!("Signal={key}\r\nDuration=160\r\n");
        self.send_in_dialog("INFO", self.cseq, "application/dtmf-relay", &body)
            .await;
        loop {
            let m = recv(&self.socket, Duration::from_secs(5))
                .await
                .expect("answer to INFO");
            if m.starts_with("SIP/2.0 200") && m.contains("INFO") {
                return;
            }
        }
    }

    /// Where the daemon takes this call's RTP, from its answer: a probe aimed there sends
    /// before it hears anything (as a caller on a call that rings a seat must, since nothing
    /// plays to it first).
    pub fn daemon_media(&self) -> SocketAddr {
        self.media.expect("the 200 has an SDP answer")
    }

    /// Re-INVITEs with an SDP offering only `codec` (payload type `pt`, e.g. "PCMA", 8) and
    /// returns the status of the final answer; a 2xx is ACKed.
    pub async fn reinvite(&mut self, codec: &str, pt: u8, media_port: u16) -> u16 {
        self.cseq += 1;
        let cseq = self.cseq;
        let sdp = format!(
            "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {media_port} RTP/AVP {pt}\r\na=rtpmap:{pt} {codec}/8000\r\n"
        );
        self.send_in_dialog("INVITE", cseq, "application/sdp", &sdp)
            .await;
        loop {
            let m = recv(&self.socket, Duration::from_secs(5))
                .await
                .expect("answer to the re-INVITE");
            let Some(status) = m
                .strip_prefix("SIP/2.0 ")
                .and_then(|r| r.get(..3))
                .and_then(|c| c.parse::<u16>().ok())
            else {
                continue;
            };
            if status >= 200 && m.contains("INVITE") {
                if status < 300 {
                    self.send_in_dialog("ACK", cseq, "", "").await;
                }
                return status;
            }
        }
    }

    /// Hangs up and waits for the 200.
    pub async fn hang_up(&mut self) {
        self.cseq += 1;
        self.send_in_dialog("BYE", self.cseq, "", "").await;
        loop {
            let m = recv(&self.socket, Duration::from_secs(5))
                .await
                .expect("answer to BYE");
            if m.starts_with("SIP/2.0 200") && m.contains("BYE") {
                return;
            }
        }
    }

    /// Waits for the daemon's BYE and answers it; false if none came within `wait`.
    pub async fn wait_bye(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(tokio::time::Instant::now()) {
            let Some(m) = recv(&self.socket, left).await else {
                return false;
            };
            if m.starts_with("BYE ") {
                let mut response = String::from("SIP/2.0 200 OK\r\n");
                for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
                    if let Some(v) = header(&m, name) {
                        response.push_str(&format!("{name}: {v}\r\n"));
                    }
                }
                response.push_str("Content-Length: 0\r\n\r\n");
                self.socket
                    .send_to(response.as_bytes(), self.daemon)
                    .await
                    .expect("send");
                return true;
            }
        }
        false
    }
}

async fn recv(socket: &UdpSocket, wait: Duration) -> Option<String> {
    let mut buf = vec![0u8; 65_536];
    match tokio::time::timeout(wait, socket.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        _ => None,
    }
}
