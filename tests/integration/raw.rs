//! A bare SIP client over UDP and TCP on 127.0.0.1, for messages no real phone would send.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

pub struct RawUdp {
    pub socket: UdpSocket,
    pub target: SocketAddr,
}

impl RawUdp {
    pub async fn new(target: SocketAddr) -> RawUdp {
        RawUdp::from_host("127.0.0.1", target).await
    }

    /// A client on another loopback address (127.0.0.2, ...), as another host would be.
    pub async fn from_host(host: &str, target: SocketAddr) -> RawUdp {
        let socket = UdpSocket::bind((host, 0)).await.expect("bind");
        RawUdp { socket, target }
    }

    pub fn port(&self) -> u16 {
        self.socket.local_addr().expect("local addr").port()
    }

    pub async fn send(&self, bytes: &[u8]) {
        self.socket.send_to(bytes, self.target).await.expect("send");
    }

    /// The next datagram, or None after `wait`.
    pub async fn recv(&self, wait: Duration) -> Option<String> {
        let mut buf = vec![0u8; 65_536];
        match tokio::time::timeout(wait, self.socket.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            _ => None,
        }
    }

    /// Sends and returns the first final response (skipping 1xx).
    pub async fn request(&self, bytes: &[u8]) -> Option<String> {
        self.send(bytes).await;
        loop {
            let response = self.recv(Duration::from_secs(3)).await?;
            if !response.starts_with("SIP/2.0 1") {
                return Some(response);
            }
        }
    }
}

pub fn status_of(response: &str) -> u16 {
    response
        .get(8..11)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// An OPTIONS from `port` with a fresh branch and Call-ID.
pub fn options(port: u16, n: u32) -> String {
    format!(
        "OPTIONS sip:hotline@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKopt{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p{n}\r\nTo: <sip:hotline@127.0.0.1>\r\nCall-ID: options-{n}@127.0.0.1\r\nCSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

pub async fn tcp_request(target: SocketAddr, bytes: &[u8]) -> Option<String> {
    let mut stream = TcpStream::connect(target).await.ok()?;
    stream.write_all(bytes).await.ok()?;
    let mut buf = vec![0u8; 65_536];
    let mut got = Vec::new();
    loop {
        let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if text.contains("\r\n\r\n") && !text.starts_with("SIP/2.0 1") {
            return Some(text);
        }
        if let Some(end) = text.find("\r\n\r\n") {
            if text.starts_with("SIP/2.0 1") {
                got.drain(..end + 4);
            }
        }
    }
}
