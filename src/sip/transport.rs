//! SIP over UDP and TCP: receive loops that parse and check every message, answer the broken
//! ones themselves, and pass the rest to the core; and the sender the core transmits through.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::build::{can_answer, response_from_headers};
use super::flow::{Flow, Transport};
use super::message::{reason_phrase, Message, Method, Request, Response};
use super::parse::{frame, parse, Frame, Malformed, MAX_MESSAGE};
use super::validate::{check_request, Essentials};
use crate::metrics::names;

/// How long a TCP connection stays writable after its peer stopped sending or sent something
/// unframeable, so the answers to what it sent before still get out.
const TCP_LINGER: std::time::Duration = std::time::Duration::from_secs(5);

/// A message that passed parsing and, for requests, `check_request`.
#[derive(Debug)]
pub enum Inbound {
    Request {
        flow: Flow,
        request: Request,
        ess: Box<Essentials>,
    },
    Response {
        flow: Flow,
        response: Response,
    },
}

/// Sends bytes along a flow: UDP from the listening socket, TCP on the flow's connection.
#[derive(Clone)]
pub struct SipSender {
    udp: Arc<UdpSocket>,
    tcp: Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Bytes>>>>,
}

impl SipSender {
    pub fn new(udp: Arc<UdpSocket>) -> Self {
        Self {
            udp,
            tcp: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub async fn send(&self, flow: Flow, bytes: Bytes) {
        count_outbound(&bytes);
        match flow.transport {
            Transport::Udp => {
                if let Err(error) = self.udp.send_to(&bytes, flow.remote).await {
                    debug!(%flow, %error, "UDP send failed");
                }
            }
            Transport::Tcp => {
                let writer = self
                    .tcp
                    .lock()
                    .ok()
                    .and_then(|map| map.get(&flow.remote).cloned());
                match writer {
                    // A full writer queue means a peer that does not read: the core never waits
                    // for one peer, so the message is dropped, counted, and SIP recovers.
                    Some(writer) => {
                        if writer.try_send(bytes).is_err() {
                            metrics::counter!(names::SIP_SEND_DROPPED_TOTAL).increment(1);
                            debug!(%flow, "TCP writer queue full or closed");
                        }
                    }
                    None => debug!(%flow, "no TCP connection to this peer"),
                }
            }
        }
    }

    fn add_connection(&self, remote: SocketAddr, writer: mpsc::Sender<Bytes>) {
        if let Ok(mut map) = self.tcp.lock() {
            map.insert(remote, writer);
        }
    }

    fn remove_connection(&self, remote: SocketAddr) {
        if let Ok(mut map) = self.tcp.lock() {
            map.remove(&remote);
        }
    }

    pub fn tcp_connections(&self) -> usize {
        self.tcp.lock().map(|m| m.len()).unwrap_or(0)
    }
}

fn count_outbound(bytes: &[u8]) {
    let line = bytes.split(|b| *b == b'\r').next().unwrap_or(&[]);
    let line = std::str::from_utf8(line).unwrap_or("");
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let status = rest.get(..3).unwrap_or("000").to_string();
        metrics::counter!(names::SIP_RESPONSES_TOTAL, "status" => status, "direction" => "out")
            .increment(1);
    } else {
        let method = Method::from_token(line.split(' ').next().unwrap_or(""));
        metrics::counter!(names::SIP_REQUESTS_TOTAL, "method" => method.metric_label(), "direction" => "out")
            .increment(1);
    }
}

/// What the receive side makes of one message's bytes.
pub(crate) enum Reading {
    Pass(Inbound),
    /// Answer this (a 400 or another refusal) directly and go on.
    Answer(Bytes),
    Drop,
}

pub(crate) fn read_message(flow: Flow, bytes: &[u8]) -> Reading {
    match parse(bytes) {
        Err(malformed) => answer_malformed(flow, malformed),
        Ok(Message::Response(response)) => {
            metrics::counter!(names::SIP_RESPONSES_TOTAL, "status" => response.status.to_string(), "direction" => "in")
                .increment(1);
            Reading::Pass(Inbound::Response { flow, response })
        }
        Ok(Message::Request(mut request)) => {
            stamp_top_via(&mut request, flow.remote);
            metrics::counter!(names::SIP_REQUESTS_TOTAL, "method" => request.method.metric_label(), "direction" => "in")
                .increment(1);
            match check_request(&request) {
                Ok(ess) => Reading::Pass(Inbound::Request {
                    flow,
                    request,
                    ess: Box::new(ess),
                }),
                // An ACK is never answered (RFC 3261 §17.2.1).
                Err(_) if request.method == Method::Ack => {
                    metrics::counter!(names::SIP_MALFORMED_TOTAL, "action" => "dropped")
                        .increment(1);
                    Reading::Drop
                }
                Err(refusal) => {
                    debug!(%flow, reason = refusal.reason, status = refusal.status, "request refused");
                    if refusal.status == 400 {
                        metrics::counter!(names::SIP_MALFORMED_TOTAL, "action" => "answered_400")
                            .increment(1);
                    }
                    let mut response = response_from_headers(
                        &request.headers,
                        refusal.status,
                        reason_phrase(refusal.status),
                        None,
                    );
                    response
                        .headers
                        .push("Warning", format!("399 hotline \"{}\"", refusal.reason));
                    Reading::Answer(response.to_bytes())
                }
            }
        }
    }
}

/// Records where a request really came from in its top Via (`received`, and `rport` when the
/// peer asked for it, RFC 3261 §18.2.1 and RFC 3581 §4), so our responses show it.
fn stamp_top_via(request: &mut Request, remote: SocketAddr) {
    let Some(value) = request.headers.get("Via") else {
        return;
    };
    let entries = super::grammar::split_commas(value);
    let Some(top) = entries.first() else {
        return;
    };
    let mut stamped = String::with_capacity(top.len() + 40);
    for (i, part) in top.split(';').enumerate() {
        if i > 0 {
            stamped.push(';');
        }
        let name = part.trim();
        if name.eq_ignore_ascii_case("rport") {
            stamped.push_str(&format!("rport={}", remote.port()));
        } else if name.to_ascii_lowercase().starts_with("received=") {
            continue;
        } else {
            stamped.push_str(part);
        }
    }
    let stamped = stamped.trim_end_matches(';');
    let mut new_value = format!("{stamped};received={}", remote.ip());
    for rest in &entries[1..] {
        new_value.push_str(", ");
        new_value.push_str(rest);
    }
    request.headers.replace_first("Via", new_value);
}

fn answer_malformed(flow: Flow, malformed: Malformed) -> Reading {
    debug!(%flow, reason = malformed.reason, "malformed SIP message");
    match malformed.headers {
        Some(headers) if malformed.is_request && can_answer(&headers) => {
            metrics::counter!(names::SIP_MALFORMED_TOTAL, "action" => "answered_400").increment(1);
            let mut response = response_from_headers(
                &headers,
                malformed.status,
                reason_phrase(malformed.status),
                None,
            );
            response
                .headers
                .push("Warning", format!("399 hotline \"{}\"", malformed.reason));
            Reading::Answer(response.to_bytes())
        }
        _ => {
            metrics::counter!(names::SIP_MALFORMED_TOTAL, "action" => "dropped").increment(1);
            Reading::Drop
        }
    }
}

/// Queues the transport's own answer (a 400 for a broken message) on a TCP connection without
/// waiting for a peer that does not read: a full queue drops it, counted.
fn send_answer(out: &mpsc::Sender<Bytes>, response: Bytes) {
    if out.try_send(response).is_err() {
        metrics::counter!(names::SIP_SEND_DROPPED_TOTAL).increment(1);
    }
}

/// Hands a message to the core without ever waiting: under a flood the queue fills and the
/// excess is dropped here (UDP peers retransmit), so the receive loop keeps draining the socket.
fn deliver(inbound: &mpsc::Sender<Inbound>, message: Inbound) {
    if inbound.try_send(message).is_err() {
        metrics::counter!(names::SIP_OVERLOAD_DROPPED_TOTAL).increment(1);
    }
}

pub async fn run_udp(
    socket: Arc<UdpSocket>,
    inbound: mpsc::Sender<Inbound>,
    shutdown: CancellationToken,
) {
    let mut buf = vec![0u8; MAX_MESSAGE + 1];
    loop {
        let (len, remote) = tokio::select! {
            _ = shutdown.cancelled() => return,
            received = socket.recv_from(&mut buf) => match received {
                Ok(r) => r,
                Err(error) => {
                    // ICMP errors from earlier sends surface here on some systems: not fatal.
                    debug!(%error, "UDP receive error");
                    continue;
                }
            },
        };
        let bytes = &buf[..len];
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            // Keep-alive (RFC 5626 §4.4.1): a CRLF pair is answered with one CRLF.
            if bytes == b"\r\n\r\n" {
                let _ = socket.send_to(b"\r\n", remote).await;
            }
            continue;
        }
        let flow = Flow {
            transport: Transport::Udp,
            remote,
        };
        match read_message(flow, bytes) {
            Reading::Pass(message) => deliver(&inbound, message),
            Reading::Answer(response) => {
                count_outbound(&response);
                let _ = socket.send_to(&response, remote).await;
            }
            Reading::Drop => {}
        }
    }
}

pub async fn run_tcp(
    listener: TcpListener,
    sender: SipSender,
    inbound: mpsc::Sender<Inbound>,
    shutdown: CancellationToken,
) {
    loop {
        let (stream, remote) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(error) => {
                    warn!(%error, "TCP accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let sender = sender.clone();
        let inbound = inbound.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            serve_connection(stream, remote, sender, inbound, shutdown).await;
        });
    }
}

async fn serve_connection(
    stream: TcpStream,
    remote: SocketAddr,
    sender: SipSender,
    inbound: mpsc::Sender<Inbound>,
    shutdown: CancellationToken,
) {
    let (mut reader, mut writer) = stream.into_split();
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(256);
    sender.add_connection(remote, out_tx.clone());
    let write_task = tokio::spawn(async move {
        while let Some(bytes) = out_rx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    let flow = Flow {
        transport: Transport::Tcp,
        remote,
    };
    let mut buf = BytesMut::with_capacity(8192);
    'read: loop {
        let n = tokio::select! {
            _ = shutdown.cancelled() => break,
            n = reader.read_buf(&mut buf) => n,
        };
        match n {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        loop {
            match frame(&buf) {
                Frame::Incomplete => break,
                Frame::KeepAlive(n) => {
                    let _ = buf.split_to(n);
                }
                Frame::Complete(n) => {
                    let message = buf.split_to(n);
                    match read_message(flow, &message) {
                        Reading::Pass(message) => deliver(&inbound, message),
                        Reading::Answer(response) => {
                            count_outbound(&response);
                            send_answer(&out_tx, response);
                        }
                        Reading::Drop => {}
                    }
                }
                Frame::Invalid(reason) => {
                    // Without a trustworthy Content-Length the stream cannot be resynchronised.
                    debug!(%flow, reason, "closing TCP connection on an unframeable message");
                    if let Reading::Answer(response) = read_message(flow, &buf) {
                        send_answer(&out_tx, response);
                    }
                    break 'read;
                }
            }
        }
    }
    // The core may still be answering what this connection sent before it ended (RFC 3261
    // §18.2.2: responses go back on the request's connection), so it stays writable a while.
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(TCP_LINGER) => {}
    }
    sender.remove_connection(remote);
    drop(out_tx);
    let _ = write_task.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_via_gets_received_and_rport() {
        let raw = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK1, SIP/2.0/UDP p\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n";
        let Ok(Message::Request(mut req)) = parse(raw) else {
            panic!("parse")
        };
        stamp_top_via(&mut req, "192.0.2.9:40000".parse().unwrap());
        assert_eq!(
            req.headers.get("Via"),
            Some("SIP/2.0/UDP 10.0.0.1:5060;rport=40000;branch=z9hG4bK1;received=192.0.2.9, SIP/2.0/UDP p")
        );
    }
}
