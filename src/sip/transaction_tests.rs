//! The transaction layer on virtual time: one `Instant` taken at the start, Durations added to
//! it, timers fired exactly when `poll_timeout` asks. No sockets, no sleeping.

use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::sip::build;
use crate::sip::flow::{Flow, LocalAddrs, Transport};
use crate::sip::message::{Message, Method, Request, Response};
use crate::sip::parse::parse;
use crate::sip::validate::{check_request, Essentials};

const OWNER: CallId = CallId(7);
const CALL_ID: &str = "call-1@192.0.2.10";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn local() -> LocalAddrs {
    LocalAddrs {
        udp: "198.51.100.1:5060".parse().unwrap(),
        tcp: "198.51.100.1:5061".parse().unwrap(),
    }
}

fn flow(transport: Transport) -> Flow {
    Flow {
        transport,
        remote: "192.0.2.10:5060".parse().unwrap(),
    }
}

fn udp() -> Flow {
    flow(Transport::Udp)
}

fn tcp() -> Flow {
    flow(Transport::Tcp)
}

fn message(text: &str) -> Message {
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    parse(text.as_bytes()).expect("test message parses")
}

fn request(text: &str) -> Request {
    match message(text) {
        Message::Request(r) => r,
        Message::Response(r) => panic!("expected a request, got {}", r.status),
    }
}

fn response(bytes: &[u8]) -> Response {
    match parse(bytes).expect("response parses") {
        Message::Response(r) => r,
        Message::Request(r) => panic!("expected a response, got {}", r.method),
    }
}

/// A request from the peer. `via_params` is everything after the sent-by (`;branch=…`, or
/// nothing for an RFC 2543 peer); `to_tag` is for an ACK.
fn peer_request(
    method: &str,
    transport: Transport,
    via_params: &str,
    seq: u32,
    to_tag: Option<&str>,
) -> (Request, Essentials) {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let req = request(&format!(
        "{method} sip:hotline@198.51.100.1 SIP/2.0\n\
         Via: SIP/2.0/{} 192.0.2.10:5060{via_params}\n\
         Max-Forwards: 70\n\
         From: <sip:caller@192.0.2.10>;tag=from1\n\
         To: <sip:hotline@198.51.100.1>{to_tag}\n\
         Call-ID: {CALL_ID}\n\
         CSeq: {seq} {method}\n\
         Content-Length: 0\n\n",
        transport.as_str(),
    ));
    let ess = check_request(&req).expect("test request is valid");
    (req, ess)
}

fn invite(transport: Transport, branch: &str) -> (Request, Essentials) {
    peer_request("INVITE", transport, &format!(";branch={branch}"), 1, None)
}

/// A request of ours, before the transaction layer gives it a Via.
fn our_request(method: &str, seq: u32) -> Request {
    request(&format!(
        "{method} sip:seat@192.0.2.10 SIP/2.0\n\
         Max-Forwards: 70\n\
         From: <sip:hotline@198.51.100.1>;tag=ours\n\
         To: <sip:seat@192.0.2.10>\n\
         Call-ID: out-1@198.51.100.1\n\
         CSeq: {seq} {method}\n\
         Contact: <sip:hotline@198.51.100.1:5060>\n\
         Content-Length: 0\n\n"
    ))
}

/// The peer's answer to a request we transmitted, built from the bytes on the wire.
fn answer(sent: &str, status: u16, to_tag: Option<&str>) -> Response {
    let mut r = build::response(&request(sent), status, to_tag);
    if (200..300).contains(&status) {
        r.headers.push("Contact", "<sip:seat@192.0.2.10:5070>");
    }
    // Through the wire and back, as the transport would hand it over.
    response(&r.to_bytes())
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

fn header<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let prefix = format!("{name}: ");
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect()
}

/// Everything the layer produced: the texts it transmitted (checking they all went out on
/// `flow`) and the other outputs.
fn drain(tx: &mut Transactions, on: Flow) -> (Vec<String>, Vec<Output>) {
    let mut sent = Vec::new();
    let mut events = Vec::new();
    for output in tx.drain() {
        match output {
            Output::Transmit { flow, bytes } => {
                assert_eq!(flow, on, "transmitted on the wrong flow");
                sent.push(String::from_utf8(bytes.to_vec()).unwrap());
            }
            other => events.push(other),
        }
    }
    (sent, events)
}

/// What fired between now and `t0 + until`, with the time since `t0` of each transmit and event.
struct Timeline {
    sent: Vec<(Duration, String)>,
    events: Vec<(Duration, Output)>,
}

impl Timeline {
    fn sent_at(&self) -> Vec<Duration> {
        self.sent.iter().map(|(at, _)| *at).collect()
    }
}

fn run(tx: &mut Transactions, on: Flow, t0: Instant, until: Duration) -> Timeline {
    let mut timeline = Timeline {
        sent: Vec::new(),
        events: Vec::new(),
    };
    for _ in 0..10_000 {
        let Some(at) = tx.poll_timeout() else {
            return timeline;
        };
        if at > t0 + until {
            return timeline;
        }
        tx.handle_timeout(at);
        let (sent, events) = drain(tx, on);
        timeline.sent.extend(sent.into_iter().map(|s| (at - t0, s)));
        timeline
            .events
            .extend(events.into_iter().map(|e| (at - t0, e)));
    }
    panic!("timers never settle");
}

/// Retransmission times for an interval starting at `first`, doubling, capped at `cap`.
fn schedule(first: Duration, cap: Option<Duration>, until: Duration) -> Vec<Duration> {
    let (mut at, mut interval, mut out) = (first, first, Vec::new());
    while at <= until {
        out.push(at);
        interval *= 2;
        if let Some(cap) = cap {
            interval = interval.min(cap);
        }
        at += interval;
    }
    out
}

fn only_response(events: &[Output]) -> (CallId, &ClientKey, &Response) {
    match events {
        [Output::Response {
            owner,
            key,
            response,
        }] => (*owner, key, response),
        other => panic!("expected one response, got {other:?}"),
    }
}

// ------------------------------------------------------------------------------ server side

#[test]
fn new_invite_is_new_and_trying_goes_out() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (req, ess) = invite(Transport::Udp, "z9hG4bKinv1");
    let key = match tx.on_request(t0, udp(), &req, &ess) {
        Incoming::New(key) => key,
        other => panic!("expected New, got {other:?}"),
    };
    assert_eq!(key.branch, "z9hG4bKinv1");
    assert_eq!(key.method, Method::Invite);
    let (sent, events) = drain(&mut tx, udp());
    assert!(events.is_empty());
    assert_eq!(sent.len(), 1);
    assert_eq!(first_line(&sent[0]), "SIP/2.0 100 Trying");
    assert_eq!(header(&sent[0], "CSeq"), ["1 INVITE"]);
    assert_eq!(tx.counts(), (1, 0));
}

#[test]
fn an_invite_taken_without_trying_gets_its_final_first_or_a_late_trying() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (req, ess) = invite(Transport::Udp, "z9hG4bKquiet1");
    let Incoming::New(key) = tx.on_request_without_trying(t0, udp(), &req, &ess) else {
        panic!("not new");
    };
    assert!(drain(&mut tx, udp()).0.is_empty(), "no 100 Trying");
    // A retransmission before any answer gets nothing either.
    assert_eq!(
        tx.on_request_without_trying(t0 + ms(500), udp(), &req, &ess),
        Incoming::Absorbed
    );
    assert!(drain(&mut tx, udp()).0.is_empty());
    // The layer above takes the call: the 100 goes out then, and only once.
    tx.trying(t0 + ms(600), &key, &req);
    tx.trying(t0 + ms(601), &key, &req);
    let (sent, _) = drain(&mut tx, udp());
    assert_eq!(sent.len(), 1);
    assert_eq!(first_line(&sent[0]), "SIP/2.0 100 Trying");

    let (req, ess) = invite(Transport::Udp, "z9hG4bKquiet2");
    let Incoming::New(key) = tx.on_request_without_trying(t0, udp(), &req, &ess) else {
        panic!("not new");
    };
    tx.respond(t0, &key, &build::response(&req, 403, Some("x")), OWNER);
    tx.trying(t0, &key, &req);
    let (sent, _) = drain(&mut tx, udp());
    assert_eq!(sent.len(), 1);
    assert_eq!(first_line(&sent[0]), "SIP/2.0 403 Forbidden");
}

#[test]
fn invite_retransmission_is_absorbed_and_gets_the_last_response() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (req, ess) = invite(Transport::Udp, "z9hG4bKinv1");
    let Incoming::New(key) = tx.on_request(t0, udp(), &req, &ess) else {
        panic!("not new");
    };
    let (trying, _) = drain(&mut tx, udp());

    assert_eq!(
        tx.on_request(t0 + ms(500), udp(), &req, &ess),
        Incoming::Absorbed
    );
    assert_eq!(drain(&mut tx, udp()).0, trying);

    tx.respond(
        t0 + ms(600),
        &key,
        &build::response(&req, 180, Some("uas")),
        OWNER,
    );
    let (ringing, _) = drain(&mut tx, udp());
    assert_eq!(first_line(&ringing[0]), "SIP/2.0 180 Ringing");
    assert_eq!(
        tx.on_request(t0 + ms(1500), udp(), &req, &ess),
        Incoming::Absorbed
    );
    assert_eq!(drain(&mut tx, udp()).0, ringing);
    assert_eq!(tx.counts(), (1, 0));
}

#[test]
fn non_invite_retransmission_after_the_final_gets_the_final() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (req, ess) = peer_request("OPTIONS", Transport::Udp, ";branch=z9hG4bKopt1", 5, None);
    let Incoming::New(key) = tx.on_request(t0, udp(), &req, &ess) else {
        panic!("not new");
    };
    // No 100 for a non-INVITE, and nothing to resend before the final.
    assert!(drain(&mut tx, udp()).0.is_empty());
    assert_eq!(
        tx.on_request(t0 + ms(500), udp(), &req, &ess),
        Incoming::Absorbed
    );
    assert!(drain(&mut tx, udp()).0.is_empty());

    tx.respond(
        t0 + ms(700),
        &key,
        &build::response(&req, 200, Some("uas")),
        OWNER,
    );
    let (ok, _) = drain(&mut tx, udp());
    assert_eq!(first_line(&ok[0]), "SIP/2.0 200 OK");
    assert_eq!(
        tx.on_request(t0 + ms(1500), udp(), &req, &ess),
        Incoming::Absorbed
    );
    assert_eq!(drain(&mut tx, udp()).0, ok);

    // Timer J: the final is kept 64·T1 for retransmissions, then the transaction goes.
    let timeline = run(&mut tx, udp(), t0, ms(700) + TIMEOUT);
    assert!(
        timeline.sent.is_empty(),
        "a non-INVITE final is not retransmitted"
    );
    assert_eq!(tx.counts(), (0, 0));
    assert_eq!(tx.poll_timeout(), None);
}

#[test]
fn non_invite_final_over_tcp_ends_the_transaction_at_once() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (req, ess) = peer_request("OPTIONS", Transport::Tcp, ";branch=z9hG4bKopt1", 5, None);
    let Incoming::New(key) = tx.on_request(t0, tcp(), &req, &ess) else {
        panic!("not new");
    };
    tx.respond(t0, &key, &build::response(&req, 200, Some("uas")), OWNER);
    drain(&mut tx, tcp());
    assert_eq!(tx.poll_timeout(), Some(t0));
    tx.handle_timeout(t0);
    assert_eq!(tx.counts(), (0, 0));
}

#[test]
fn invite_failure_over_udp_is_retransmitted_until_the_ack() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (req, ess) = invite(Transport::Udp, "z9hG4bKinv1");
    let Incoming::New(key) = tx.on_request(t0, udp(), &req, &ess) else {
        panic!("not new");
    };
    drain(&mut tx, udp());
    tx.respond(t0, &key, &build::response(&req, 486, Some("uas")), OWNER);
    let (busy, _) = drain(&mut tx, udp());
    assert_eq!(first_line(&busy[0]), "SIP/2.0 486 Busy Here");

    // Timer G: T1, 2·T1, 4·T1, then every T2.
    let timeline = run(&mut tx, udp(), t0, ms(20_000));
    assert_eq!(
        timeline.sent_at(),
        [500, 1500, 3500, 7500, 11_500, 15_500, 19_500].map(ms)
    );
    assert!(timeline.sent.iter().all(|(_, s)| *s == busy[0]));

    // The ACK for the failure carries the INVITE's branch and ends the retransmissions.
    let (ack, ack_ess) = peer_request("ACK", Transport::Udp, ";branch=z9hG4bKinv1", 1, Some("uas"));
    let ack_at = t0 + ms(20_000);
    assert_eq!(
        tx.on_request(ack_at, udp(), &ack, &ack_ess),
        Incoming::Absorbed
    );
    assert!(drain(&mut tx, udp()).0.is_empty());
    // Timer I: it absorbs retransmitted ACKs for T4, then goes.
    assert_eq!(tx.poll_timeout(), Some(ack_at + T4));
    let timeline = run(&mut tx, udp(), t0, ms(40_000));
    assert!(timeline.sent.is_empty(), "retransmitted after the ACK");
    assert_eq!(tx.counts(), (0, 0));
    assert_eq!(tx.poll_timeout(), None);
}

#[test]
fn invite_failure_never_acked_expires_after_timer_h() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (req, ess) = invite(Transport::Udp, "z9hG4bKinv1");
    let Incoming::New(key) = tx.on_request(t0, udp(), &req, &ess) else {
        panic!("not new");
    };
    tx.respond(t0, &key, &build::response(&req, 603, Some("uas")), OWNER);
    drain(&mut tx, udp());
    let timeline = run(&mut tx, udp(), t0, ms(120_000));
    assert_eq!(timeline.sent_at(), schedule(T1, Some(T2), TIMEOUT - ms(1)));
    assert!(timeline.events.is_empty());
    assert_eq!(tx.counts(), (0, 0));
    assert_eq!(tx.poll_timeout(), None);
}

#[test]
fn invite_2xx_is_retransmitted_until_its_ack() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (req, ess) = invite(Transport::Udp, "z9hG4bKinv1");
    let Incoming::New(key) = tx.on_request(t0, udp(), &req, &ess) else {
        panic!("not new");
    };
    drain(&mut tx, udp());
    tx.respond(t0, &key, &build::response(&req, 200, Some("uas")), OWNER);
    let (ok, _) = drain(&mut tx, udp());
    assert_eq!(first_line(&ok[0]), "SIP/2.0 200 OK");

    let timeline = run(&mut tx, udp(), t0, ms(5_000));
    assert_eq!(timeline.sent_at(), [500, 1500, 3500].map(ms));
    assert!(timeline.sent.iter().all(|(_, s)| *s == ok[0]));

    // An ACK for another CSeq is not this 2xx's.
    let (stale, stale_ess) =
        peer_request("ACK", Transport::Udp, ";branch=z9hG4bKack0", 9, Some("uas"));
    assert_eq!(
        tx.on_request(t0 + ms(5_000), udp(), &stale, &stale_ess),
        Incoming::Ack
    );
    let timeline = run(&mut tx, udp(), t0, ms(8_000));
    assert_eq!(timeline.sent_at(), [ms(7500)]);

    // The ACK to a 2xx is a transaction of its own (new branch): same Call-ID and CSeq number.
    let (ack, ack_ess) = peer_request("ACK", Transport::Udp, ";branch=z9hG4bKack1", 1, Some("uas"));
    assert_eq!(
        tx.on_request(t0 + ms(8_000), udp(), &ack, &ack_ess),
        Incoming::Ack
    );
    assert!(drain(&mut tx, udp()).0.is_empty());
    let timeline = run(&mut tx, udp(), t0, ms(120_000));
    assert!(timeline.sent.is_empty(), "2xx retransmitted after its ACK");
    assert!(timeline.events.is_empty(), "{:?}", timeline.events);
    assert_eq!(tx.counts(), (0, 0));
}

#[test]
fn invite_2xx_never_acked_gives_ack_timeout() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (req, ess) = invite(Transport::Udp, "z9hG4bKinv1");
    let Incoming::New(key) = tx.on_request(t0, udp(), &req, &ess) else {
        panic!("not new");
    };
    drain(&mut tx, udp());
    tx.respond(t0, &key, &build::response(&req, 200, Some("uas")), OWNER);
    drain(&mut tx, udp());
    let timeline = run(&mut tx, udp(), t0, ms(120_000));
    assert_eq!(timeline.sent_at(), schedule(T1, Some(T2), TIMEOUT - ms(1)));
    match &timeline.events[..] {
        [(at, Output::AckTimeout { owner, call_id })] => {
            assert_eq!(*at, TIMEOUT);
            assert_eq!(*owner, OWNER);
            assert_eq!(call_id, CALL_ID);
        }
        other => panic!("expected one AckTimeout, got {other:?}"),
    }
    assert_eq!(tx.counts(), (0, 0));
    assert_eq!(tx.poll_timeout(), None);
}

/// Our BYE in the peer's dialog (the Call-ID of `peer_request`), before it gets a Via.
fn bye_in_peer_dialog() -> Request {
    request(&format!(
        "BYE sip:caller@192.0.2.10 SIP/2.0\n\
         Max-Forwards: 70\n\
         From: <sip:hotline@198.51.100.1>;tag=uas\n\
         To: <sip:caller@192.0.2.10>;tag=from1\n\
         Call-ID: {CALL_ID}\n\
         CSeq: 1 BYE\n\
         Content-Length: 0\n\n"
    ))
}

/// Answers an INVITE from the peer with 200 and returns when the 200 has gone out.
fn answered_invite(tx: &mut Transactions, t0: Instant) {
    let (req, ess) = invite(Transport::Udp, "z9hG4bKinv1");
    let Incoming::New(key) = tx.on_request(t0, udp(), &req, &ess) else {
        panic!("not new");
    };
    tx.respond(t0, &key, &build::response(&req, 200, Some("uas")), OWNER);
    drain(tx, udp());
}

#[test]
fn a_bye_before_the_ack_of_our_2xx_waits_for_that_ack() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    answered_invite(&mut tx, t0);

    tx.send_request(
        t0 + ms(1),
        OWNER,
        udp(),
        bye_in_peer_dialog(),
        "z9hG4bKbye1".into(),
    );
    assert!(
        drain(&mut tx, udp()).0.is_empty(),
        "BYE sent before the ACK"
    );
    assert_eq!(tx.counts(), (1, 2), "the 2xx and the held BYE are pending");

    let (ack, ack_ess) = peer_request("ACK", Transport::Udp, ";branch=z9hG4bKack1", 1, Some("uas"));
    assert_eq!(
        tx.on_request(t0 + ms(3), udp(), &ack, &ack_ess),
        Incoming::Ack
    );
    let (sent, _) = drain(&mut tx, udp());
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].starts_with("BYE "), "{}", sent[0]);
}

#[test]
fn a_held_bye_and_a_bye_awaiting_its_answer_are_requests_in_flight() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    answered_invite(&mut tx, t0);
    assert!(
        !tx.requests_in_flight(),
        "an answered INVITE is no request of ours"
    );
    tx.send_request(t0, OWNER, udp(), bye_in_peer_dialog(), "z9hG4bKbye1".into());
    drain(&mut tx, udp());
    assert!(tx.requests_in_flight(), "the held BYE");

    let (ack, ack_ess) = peer_request("ACK", Transport::Udp, ";branch=z9hG4bKack1", 1, Some("uas"));
    tx.on_request(t0 + ms(3), udp(), &ack, &ack_ess);
    let (sent, _) = drain(&mut tx, udp());
    assert!(tx.requests_in_flight(), "the BYE waits for its answer");
    let Ok(Message::Request(bye)) = parse(sent[0].as_bytes()) else {
        panic!("not a request: {}", sent[0]);
    };
    let Ok(Message::Response(ok)) = parse(&build::response(&bye, 200, None).to_bytes()) else {
        panic!("200 does not parse");
    };
    tx.on_response(t0 + ms(5), ok);
    assert!(!tx.requests_in_flight(), "the BYE is answered");
}

#[test]
fn a_held_bye_goes_when_the_2xx_is_never_acked() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    answered_invite(&mut tx, t0);
    tx.send_request(t0, OWNER, udp(), bye_in_peer_dialog(), "z9hG4bKbye1".into());

    let timeline = run(&mut tx, udp(), t0, TIMEOUT);
    let byes: Vec<Duration> = timeline
        .sent
        .iter()
        .filter(|(_, text)| text.starts_with("BYE "))
        .map(|(at, _)| *at)
        .collect();
    assert_eq!(byes, [TIMEOUT], "the BYE goes when the 2xx gives up");
    assert!(
        matches!(timeline.events[..], [(at, Output::AckTimeout { .. })] if at == TIMEOUT),
        "{:?}",
        timeline.events
    );
}

#[test]
fn a_bye_in_another_dialog_is_not_held() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    answered_invite(&mut tx, t0);
    tx.send_request(
        t0,
        OWNER,
        udp(),
        our_request("BYE", 2),
        "z9hG4bKbye2".into(),
    );
    let (sent, _) = drain(&mut tx, udp());
    assert_eq!(sent.len(), 1, "{sent:?}");
}

#[test]
fn over_tcp_a_failure_is_not_retransmitted() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (req, ess) = invite(Transport::Tcp, "z9hG4bKinv1");
    let Incoming::New(key) = tx.on_request(t0, tcp(), &req, &ess) else {
        panic!("not new");
    };
    tx.respond(t0, &key, &build::response(&req, 486, Some("uas")), OWNER);
    let (sent, _) = drain(&mut tx, tcp());
    assert_eq!(sent.len(), 2, "100 and 486");
    let timeline = run(&mut tx, tcp(), t0, ms(10_000));
    assert!(timeline.sent.is_empty());
    let (ack, ack_ess) = peer_request("ACK", Transport::Tcp, ";branch=z9hG4bKinv1", 1, Some("uas"));
    let ack_at = t0 + ms(10_000);
    assert_eq!(
        tx.on_request(ack_at, tcp(), &ack, &ack_ess),
        Incoming::Absorbed
    );
    // Timer I is zero on a reliable transport.
    assert_eq!(tx.poll_timeout(), Some(ack_at));
    tx.handle_timeout(ack_at);
    assert_eq!(tx.counts(), (0, 0));
}

#[test]
fn over_tcp_a_2xx_is_still_retransmitted_until_acked() {
    // RFC 3261 §13.3.1.4: the 2xx is resent "even if the transport at the UAS is reliable",
    // since hops beyond it may be UDP.
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (req, ess) = invite(Transport::Tcp, "z9hG4bKinv1");
    let Incoming::New(key) = tx.on_request(t0, tcp(), &req, &ess) else {
        panic!("not new");
    };
    tx.respond(t0, &key, &build::response(&req, 200, Some("uas")), OWNER);
    drain(&mut tx, tcp());
    let timeline = run(&mut tx, tcp(), t0, ms(2_000));
    assert_eq!(timeline.sent_at(), [500, 1500].map(ms));
    let (ack, ack_ess) = peer_request("ACK", Transport::Tcp, ";branch=z9hG4bKack1", 1, Some("uas"));
    assert_eq!(
        tx.on_request(t0 + ms(2_000), tcp(), &ack, &ack_ess),
        Incoming::Ack
    );
    assert!(run(&mut tx, tcp(), t0, ms(120_000)).sent.is_empty());
    assert_eq!(tx.counts(), (0, 0));
}

#[test]
fn cancel_of_a_pending_invite() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (req, ess) = invite(Transport::Udp, "z9hG4bKinv1");
    let Incoming::New(key) = tx.on_request(t0, udp(), &req, &ess) else {
        panic!("not new");
    };
    drain(&mut tx, udp());
    let (cancel, cancel_ess) =
        peer_request("CANCEL", Transport::Udp, ";branch=z9hG4bKinv1", 1, None);
    assert_eq!(
        tx.on_request(t0 + ms(100), udp(), &cancel, &cancel_ess),
        Incoming::Cancelled {
            invite: key.clone()
        }
    );
    let (sent, _) = drain(&mut tx, udp());
    assert_eq!(sent.len(), 1);
    assert_eq!(first_line(&sent[0]), "SIP/2.0 200 OK");
    assert_eq!(header(&sent[0], "CSeq"), ["1 CANCEL"]);

    // A retransmitted CANCEL gets the same 200, and cancels nothing twice.
    assert_eq!(
        tx.on_request(t0 + ms(600), udp(), &cancel, &cancel_ess),
        Incoming::Absorbed
    );
    assert_eq!(drain(&mut tx, udp()).0, sent);

    // The owner answers 487; the ACK ends it.
    tx.respond(
        t0 + ms(200),
        &key,
        &build::response(&req, 487, Some("uas")),
        OWNER,
    );
    let (terminated, _) = drain(&mut tx, udp());
    assert_eq!(first_line(&terminated[0]), "SIP/2.0 487 Request Terminated");
    let (ack, ack_ess) = peer_request("ACK", Transport::Udp, ";branch=z9hG4bKinv1", 1, Some("uas"));
    assert_eq!(
        tx.on_request(t0 + ms(300), udp(), &ack, &ack_ess),
        Incoming::Absorbed
    );
    run(&mut tx, udp(), t0, ms(120_000));
    assert_eq!(tx.counts(), (0, 0));
}

#[test]
fn cancel_after_the_final_gets_200_and_is_absorbed() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (req, ess) = invite(Transport::Udp, "z9hG4bKinv1");
    let Incoming::New(key) = tx.on_request(t0, udp(), &req, &ess) else {
        panic!("not new");
    };
    tx.respond(t0, &key, &build::response(&req, 200, Some("uas")), OWNER);
    drain(&mut tx, udp());
    let (cancel, cancel_ess) =
        peer_request("CANCEL", Transport::Udp, ";branch=z9hG4bKinv1", 1, None);
    assert_eq!(
        tx.on_request(t0 + ms(100), udp(), &cancel, &cancel_ess),
        Incoming::Absorbed
    );
    let (sent, _) = drain(&mut tx, udp());
    assert_eq!(sent.len(), 1);
    assert_eq!(first_line(&sent[0]), "SIP/2.0 200 OK");
    assert_eq!(header(&sent[0], "CSeq"), ["1 CANCEL"]);
}

#[test]
fn cancel_for_nothing_gets_481() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (cancel, cancel_ess) =
        peer_request("CANCEL", Transport::Udp, ";branch=z9hG4bKnone", 1, None);
    assert_eq!(
        tx.on_request(t0, udp(), &cancel, &cancel_ess),
        Incoming::CancelUnmatched
    );
    let (sent, _) = drain(&mut tx, udp());
    assert_eq!(sent.len(), 1);
    assert_eq!(
        first_line(&sent[0]),
        "SIP/2.0 481 Call/Transaction Does Not Exist"
    );
    run(&mut tx, udp(), t0, ms(120_000));
    assert_eq!(tx.counts(), (0, 0));
}

#[test]
fn rfc2543_requests_match_without_a_branch() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (req, ess) = peer_request("INVITE", Transport::Udp, "", 1, None);
    let Incoming::New(key) = tx.on_request(t0, udp(), &req, &ess) else {
        panic!("not new");
    };
    let (trying, _) = drain(&mut tx, udp());
    assert_eq!(
        tx.on_request(t0 + ms(500), udp(), &req, &ess),
        Incoming::Absorbed
    );
    assert_eq!(drain(&mut tx, udp()).0, trying);

    // Its CANCEL matches it too.
    let (cancel, cancel_ess) = peer_request("CANCEL", Transport::Udp, "", 1, None);
    assert_eq!(
        tx.on_request(t0 + ms(600), udp(), &cancel, &cancel_ess),
        Incoming::Cancelled {
            invite: key.clone()
        }
    );
    // And so does the ACK to its failure.
    tx.respond(
        t0 + ms(700),
        &key,
        &build::response(&req, 487, Some("uas")),
        OWNER,
    );
    drain(&mut tx, udp());
    let (ack, ack_ess) = peer_request("ACK", Transport::Udp, "", 1, Some("uas"));
    assert_eq!(
        tx.on_request(t0 + ms(800), udp(), &ack, &ack_ess),
        Incoming::Absorbed
    );

    // The next request of the dialog (another CSeq) is a new transaction.
    let (next, next_ess) = peer_request("INVITE", Transport::Udp, "", 2, None);
    assert!(matches!(
        tx.on_request(t0 + ms(900), udp(), &next, &next_ess),
        Incoming::New(_)
    ));
}

#[test]
fn a_pending_invite_outlives_a_long_wait() {
    // A caller may wait minutes (ring timeouts up to 300 s, seats rung one after another):
    // an INVITE without a final has no timer (RFC 3261 §17.2.1), so the answer still goes out.
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (req, ess) = invite(Transport::Udp, "z9hG4bKinv1");
    let Incoming::New(key) = tx.on_request(t0, udp(), &req, &ess) else {
        panic!("not new");
    };
    tx.respond(t0, &key, &build::response(&req, 180, Some("uas")), OWNER);
    drain(&mut tx, udp());
    let late = t0 + Duration::from_secs(600);
    run(&mut tx, udp(), t0, late - t0);
    assert_eq!(tx.counts(), (1, 0));
    tx.respond(late, &key, &build::response(&req, 200, Some("uas")), OWNER);
    let (sent, _) = drain(&mut tx, udp());
    assert_eq!(sent.len(), 1);
    assert_eq!(first_line(&sent[0]), "SIP/2.0 200 OK");
}

// ------------------------------------------------------------------------------ client side

/// Sends our INVITE and returns its key and the text that went out.
fn start_invite(tx: &mut Transactions, t0: Instant, on: Flow) -> (ClientKey, String) {
    let key = tx.send_request(
        t0,
        OWNER,
        on,
        our_request("INVITE", 1),
        "z9hG4bKout1".into(),
    );
    let (mut sent, events) = drain(tx, on);
    assert!(events.is_empty());
    assert_eq!(sent.len(), 1);
    (key, sent.remove(0))
}

#[test]
fn send_request_adds_our_top_via() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let mut req = our_request("INVITE", 1);
    req.headers
        .push("Via", "SIP/2.0/UDP 203.0.113.9;branch=z9hG4bKstale");
    let key = tx.send_request(t0, OWNER, udp(), req, "z9hG4bKout1".into());
    assert_eq!(
        key,
        ClientKey {
            branch: "z9hG4bKout1".into(),
            method: Method::Invite
        }
    );
    let (sent, _) = drain(&mut tx, udp());
    assert_eq!(first_line(&sent[0]), "INVITE sip:seat@192.0.2.10 SIP/2.0");
    assert_eq!(
        header(&sent[0], "Via"),
        ["SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKout1;rport"]
    );
    assert!(sent[0].starts_with("INVITE sip:seat@192.0.2.10 SIP/2.0\r\nVia: "));

    tx.send_request(
        t0,
        OWNER,
        tcp(),
        our_request("OPTIONS", 2),
        "z9hG4bKout2".into(),
    );
    let (sent, _) = drain(&mut tx, tcp());
    assert_eq!(
        header(&sent[0], "Via"),
        ["SIP/2.0/TCP 198.51.100.1:5061;branch=z9hG4bKout2;rport"]
    );
    assert_eq!(tx.counts(), (0, 2));
}

#[test]
fn client_invite_retransmits_until_a_provisional() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (key, sent) = start_invite(&mut tx, t0, udp());
    // Timer A: T1, 2·T1, 4·T1 …
    let timeline = run(&mut tx, udp(), t0, ms(4_000));
    assert_eq!(timeline.sent_at(), [500, 1500, 3500].map(ms));
    assert!(timeline.sent.iter().all(|(_, s)| *s == sent));

    tx.on_response(t0 + ms(4_000), answer(&sent, 180, Some("seat")));
    let (resent, events) = drain(&mut tx, udp());
    assert!(resent.is_empty());
    let (owner, k, r) = only_response(&events);
    assert_eq!((owner, k, r.status), (OWNER, &key, 180));
    let timeline = run(&mut tx, udp(), t0, ms(30_000));
    assert!(
        timeline.sent.is_empty(),
        "retransmitted after a provisional"
    );
}

#[test]
fn a_ringing_invite_is_not_timed_out_by_timer_b() {
    // Timer B only runs until the first provisional (RFC 3261 §17.1.1.2): a seat may ring
    // longer than 64·T1 (ring timeouts go up to 300 s) and must still be cancellable.
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (key, sent) = start_invite(&mut tx, t0, udp());
    tx.on_response(t0 + ms(100), answer(&sent, 180, Some("seat")));
    drain(&mut tx, udp());
    let timeline = run(&mut tx, udp(), t0, ms(100_000));
    assert!(timeline.events.is_empty(), "{:?}", timeline.events);
    assert_eq!(tx.counts(), (0, 1));

    // The ring timeout: CANCEL now, and the 487 comes back to the owner.
    let at = t0 + ms(100_000);
    tx.cancel(at, &key, false);
    let (cancel, _) = drain(&mut tx, udp());
    assert_eq!(first_line(&cancel[0]), "CANCEL sip:seat@192.0.2.10 SIP/2.0");
    tx.on_response(at + ms(50), answer(&sent, 487, Some("seat")));
    let (_, events) = drain(&mut tx, udp());
    assert_eq!(only_response(&events).2.status, 487);
}

#[test]
fn a_cancelled_invite_without_a_final_ends_64_t1_after_the_cancel() {
    // RFC 3261 §9.1: with no final 64·T1 after the CANCEL, the INVITE is given up.
    for abandon in [false, true] {
        let t0 = Instant::now();
        let mut tx = Transactions::new(local());
        let (key, sent) = start_invite(&mut tx, t0, udp());
        tx.on_response(t0, answer(&sent, 180, Some("seat")));
        let at = ms(100_000);
        tx.cancel(t0 + at, &key, abandon);
        drain(&mut tx, udp());
        let timeline = run(&mut tx, udp(), t0, at + TIMEOUT - ms(1));
        assert!(timeline.events.is_empty(), "{:?}", timeline.events);
        assert_eq!(tx.counts(), (0, 2), "the INVITE and its unanswered CANCEL");
        let timeline = run(&mut tx, udp(), t0, at + TIMEOUT);
        assert_eq!(tx.counts(), (0, 0));
        let statuses: Vec<u16> = timeline
            .events
            .iter()
            .map(|(_, e)| match e {
                Output::Response { response, .. } => response.status,
                other => panic!("{other:?}"),
            })
            .collect();
        // An owner still waiting hears 408; an abandoned INVITE ends quietly.
        assert_eq!(statuses, if abandon { vec![] } else { vec![408] });
    }
}

#[test]
fn client_invite_never_answered_gives_408() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (key, _) = start_invite(&mut tx, t0, udp());
    let timeline = run(&mut tx, udp(), t0, ms(120_000));
    // Timer A doubles without a cap.
    assert_eq!(timeline.sent_at(), schedule(T1, None, TIMEOUT - ms(1)));
    match &timeline.events[..] {
        [(
            at,
            Output::Response {
                owner,
                key: k,
                response,
            },
        )] => {
            assert_eq!(*at, TIMEOUT);
            assert_eq!((*owner, k, response.status), (OWNER, &key, 408));
        }
        other => panic!("expected one 408, got {other:?}"),
    }
    assert_eq!(tx.counts(), (0, 0));
    assert_eq!(tx.poll_timeout(), None);
}

#[test]
fn over_tcp_a_request_is_not_retransmitted() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    start_invite(&mut tx, t0, tcp());
    tx.send_request(
        t0,
        OWNER,
        tcp(),
        our_request("OPTIONS", 2),
        "z9hG4bKout2".into(),
    );
    drain(&mut tx, tcp());
    let timeline = run(&mut tx, tcp(), t0, ms(120_000));
    assert!(timeline.sent.is_empty());
    // Both still time out.
    assert_eq!(timeline.events.len(), 2);
    assert_eq!(tx.counts(), (0, 0));
}

#[test]
fn client_invite_failure_is_acked_once_per_final() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (key, sent) = start_invite(&mut tx, t0, udp());
    let busy = answer(&sent, 486, Some("seat"));
    tx.on_response(t0 + ms(100), busy.clone());
    let (acks, events) = drain(&mut tx, udp());
    let (owner, k, r) = only_response(&events);
    assert_eq!((owner, k, r.status), (OWNER, &key, 486));
    assert_eq!(acks.len(), 1);
    let ack = &acks[0];
    assert_eq!(first_line(ack), "ACK sip:seat@192.0.2.10 SIP/2.0");
    assert_eq!(
        header(ack, "Via"),
        header(&sent, "Via"),
        "the INVITE's branch"
    );
    assert_eq!(header(ack, "To"), ["<sip:seat@192.0.2.10>;tag=seat"]);
    assert_eq!(header(ack, "CSeq"), ["1 ACK"]);

    // A retransmitted final: the same ACK again, and nothing for the owner.
    tx.on_response(t0 + ms(600), busy);
    let (again, events) = drain(&mut tx, udp());
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(&again, &acks);

    // No retransmissions of the INVITE after the final; Timer D ends it.
    let timeline = run(&mut tx, udp(), t0, ms(120_000));
    assert!(timeline.sent.is_empty());
    assert!(timeline.events.is_empty());
    assert_eq!(tx.counts(), (0, 0));
}

#[test]
fn client_invite_2xx_goes_to_the_owner() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (key, sent) = start_invite(&mut tx, t0, udp());
    tx.on_response(t0 + ms(100), answer(&sent, 200, Some("seat")));
    let (acks, events) = drain(&mut tx, udp());
    assert!(acks.is_empty(), "the ACK to a 2xx is the owner's");
    let (owner, k, r) = only_response(&events);
    assert_eq!((owner, k, r.status), (OWNER, &key, 200));
    let timeline = run(&mut tx, udp(), t0, ms(120_000));
    assert!(timeline.sent.is_empty());
    assert!(timeline.events.is_empty());
    assert_eq!(tx.counts(), (0, 0));
}

#[test]
fn cancel_waits_for_the_first_provisional() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (key, sent) = start_invite(&mut tx, t0, udp());
    tx.cancel(t0 + ms(100), &key, false);
    assert!(drain(&mut tx, udp()).0.is_empty(), "CANCEL before any 1xx");

    tx.on_response(t0 + ms(200), answer(&sent, 100, None));
    let (cancels, events) = drain(&mut tx, udp());
    assert_eq!(only_response(&events).2.status, 100);
    assert_eq!(cancels.len(), 1);
    let cancel = &cancels[0];
    assert_eq!(first_line(cancel), "CANCEL sip:seat@192.0.2.10 SIP/2.0");
    assert_eq!(
        header(cancel, "Via"),
        header(&sent, "Via"),
        "the INVITE's branch"
    );
    assert_eq!(header(cancel, "CSeq"), ["1 CANCEL"]);

    // Only one CANCEL, however often asked or however many 1xx come.
    tx.cancel(t0 + ms(300), &key, false);
    tx.on_response(t0 + ms(300), answer(&sent, 180, Some("seat")));
    let (more, _) = drain(&mut tx, udp());
    assert!(more.is_empty());

    // The CANCEL's own 200 is nobody's business; the INVITE's 487 is the owner's, ACKed here.
    tx.on_response(t0 + ms(400), answer(cancel, 200, Some("seat")));
    assert!(drain(&mut tx, udp()).1.is_empty());
    tx.on_response(t0 + ms(500), answer(&sent, 487, Some("seat")));
    let (acks, events) = drain(&mut tx, udp());
    assert_eq!(only_response(&events).2.status, 487);
    assert_eq!(first_line(&acks[0]), "ACK sip:seat@192.0.2.10 SIP/2.0");
}

#[test]
fn abandoned_invite_answered_late_is_acked_and_hung_up_here() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (key, sent) = start_invite(&mut tx, t0, udp());
    tx.on_response(t0 + ms(100), answer(&sent, 180, Some("seat")));
    drain(&mut tx, udp());
    tx.cancel(t0 + ms(200), &key, true);
    let (cancels, _) = drain(&mut tx, udp());
    assert_eq!(
        first_line(&cancels[0]),
        "CANCEL sip:seat@192.0.2.10 SIP/2.0"
    );

    // The 200 crossed the CANCEL.
    let ok = answer(&sent, 200, Some("seat"));
    tx.on_response(t0 + ms(300), ok.clone());
    let (out, events) = drain(&mut tx, udp());
    assert!(events.is_empty(), "the owner is gone: {events:?}");
    assert_eq!(out.len(), 2, "{out:?}");
    let (ack, bye) = (&out[0], &out[1]);
    assert_eq!(first_line(ack), "ACK sip:seat@192.0.2.10:5070 SIP/2.0");
    assert_eq!(header(ack, "CSeq"), ["1 ACK"]);
    assert_eq!(header(ack, "To"), ["<sip:seat@192.0.2.10>;tag=seat"]);
    assert_ne!(
        header(ack, "Via"),
        header(&sent, "Via"),
        "a 2xx ACK has its own branch"
    );
    assert_eq!(first_line(bye), "BYE sip:seat@192.0.2.10:5070 SIP/2.0");
    assert_eq!(header(bye, "CSeq"), ["2 BYE"]);
    assert_eq!(header(bye, "To"), ["<sip:seat@192.0.2.10>;tag=seat"]);

    // The 2xx retransmitted: the ACK again, but no second BYE.
    tx.on_response(t0 + ms(800), ok);
    let (again, events) = drain(&mut tx, udp());
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(again.len(), 1);
    assert_eq!(&again[0], ack);

    // The BYE's answer goes to nobody either, and everything ends.
    tx.on_response(t0 + ms(900), answer(bye, 200, None));
    assert!(drain(&mut tx, udp()).1.is_empty());
    let timeline = run(&mut tx, udp(), t0, ms(120_000));
    assert!(timeline.events.is_empty(), "{:?}", timeline.events);
    assert_eq!(tx.counts(), (0, 0));
}

#[test]
fn client_non_invite_retransmits_capped_at_t2() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let key = tx.send_request(
        t0,
        OWNER,
        udp(),
        our_request("OPTIONS", 2),
        "z9hG4bKopt".into(),
    );
    let (sent, _) = drain(&mut tx, udp());
    // Timer E: T1, 2·T1, 4·T1, then every T2.
    let timeline = run(&mut tx, udp(), t0, ms(12_000));
    assert_eq!(timeline.sent_at(), [500, 1500, 3500, 7500, 11_500].map(ms));

    // After a provisional: every T2.
    tx.on_response(t0 + ms(12_000), answer(&sent[0], 100, None));
    let (_, events) = drain(&mut tx, udp());
    assert_eq!(only_response(&events).2.status, 100);
    let timeline = run(&mut tx, udp(), t0, ms(24_000));
    assert_eq!(timeline.sent_at(), [16_000, 20_000, 24_000].map(ms));

    // The final stops it; Timer K keeps it T4 for retransmitted finals.
    tx.on_response(t0 + ms(25_000), answer(&sent[0], 200, Some("seat")));
    let (_, events) = drain(&mut tx, udp());
    let (owner, k, r) = only_response(&events);
    assert_eq!((owner, k, r.status), (OWNER, &key, 200));
    tx.on_response(t0 + ms(26_000), answer(&sent[0], 200, Some("seat")));
    assert!(drain(&mut tx, udp()).1.is_empty(), "a final twice");
    let timeline = run(&mut tx, udp(), t0, ms(120_000));
    assert!(timeline.sent.is_empty());
    assert!(timeline.events.is_empty());
    assert_eq!(tx.counts(), (0, 0));
}

#[test]
fn client_non_invite_never_answered_gives_408() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    tx.send_request(
        t0,
        OWNER,
        udp(),
        our_request("OPTIONS", 2),
        "z9hG4bKopt".into(),
    );
    drain(&mut tx, udp());
    let timeline = run(&mut tx, udp(), t0, ms(120_000));
    assert_eq!(timeline.sent_at(), schedule(T1, Some(T2), TIMEOUT - ms(1)));
    assert_eq!(timeline.events.len(), 1);
    assert!(matches!(
        &timeline.events[0],
        (at, Output::Response { response, .. }) if *at == TIMEOUT && response.status == 408
    ));
    assert_eq!(tx.counts(), (0, 0));
}

#[test]
fn a_retransmitted_2xx_gets_the_stored_ack() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (_, sent) = start_invite(&mut tx, t0, udp());
    let ok = answer(&sent, 200, Some("seat"));
    tx.on_response(t0 + ms(100), ok.clone());
    let (_, events) = drain(&mut tx, udp());
    assert_eq!(only_response(&events).2.status, 200);

    let ack = build::ack_for_success(&request(&sent), &ok);
    tx.send_ack(t0 + ms(150), udp(), ack, "out-1@198.51.100.1", 1);
    let (acks, _) = drain(&mut tx, udp());
    assert_eq!(acks.len(), 1);
    assert_eq!(first_line(&acks[0]), "ACK sip:seat@192.0.2.10:5070 SIP/2.0");
    assert_eq!(
        header(&acks[0], "Via")[0].split(";branch=").next(),
        Some("SIP/2.0/UDP 198.51.100.1:5060")
    );

    // The seat did not get it and resends its 2xx: the same ACK goes out, the owner hears
    // nothing more.
    for after in [600, 1600, 3600] {
        tx.on_response(t0 + ms(after), ok.clone());
        let (again, events) = drain(&mut tx, udp());
        assert!(events.is_empty(), "duplicate 2xx for the owner: {events:?}");
        assert_eq!(again, acks);
    }
    let timeline = run(&mut tx, udp(), t0, ms(120_000));
    assert!(timeline.sent.is_empty());
    assert_eq!(tx.counts(), (0, 0));
    assert_eq!(tx.poll_timeout(), None);
}

#[test]
fn a_2xx_from_another_fork_still_reaches_the_owner() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    let (_, sent) = start_invite(&mut tx, t0, udp());
    tx.on_response(t0 + ms(100), answer(&sent, 200, Some("seat")));
    // The same 2xx before the owner has ACKed: nothing to resend, and no duplicate.
    tx.on_response(t0 + ms(200), answer(&sent, 200, Some("seat")));
    let (resent, events) = drain(&mut tx, udp());
    assert!(resent.is_empty());
    assert_eq!(events.len(), 1, "{events:?}");
    // Another UAS answering (another To tag) is a new dialog for the owner to deal with.
    tx.on_response(t0 + ms(300), answer(&sent, 200, Some("fork")));
    let (_, events) = drain(&mut tx, udp());
    assert_eq!(
        only_response(&events).2.headers.get("To"),
        Some("<sip:seat@192.0.2.10>;tag=fork")
    );
}

#[test]
fn a_reused_branch_with_a_new_cseq_is_a_new_request() {
    let mut tx = Transactions::new(local());
    let t0 = Instant::now();
    let info = |seq: u32| {
        let req = request(&format!(
            "INFO sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKsame\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: reuse\r\nCSeq: {seq} INFO\r\nContent-Length: 0\r\n\r\n"
        ));
        let ess = crate::sip::validate::check_request(&req).expect("valid");
        (req, ess)
    };
    let (first, ess1) = info(5);
    assert!(matches!(
        tx.on_request(t0, udp(), &first, &ess1),
        Incoming::New(_)
    ));
    let (again, ess_again) = info(5);
    assert_eq!(
        tx.on_request(t0, udp(), &again, &ess_again),
        Incoming::Absorbed
    );
    let (next, ess2) = info(6);
    assert!(matches!(
        tx.on_request(t0, udp(), &next, &ess2),
        Incoming::New(_)
    ));
}

#[test]
fn a_reused_branch_in_another_call_is_a_new_request() {
    let mut tx = Transactions::new(local());
    let t0 = Instant::now();
    let bye = |call_id: &str| {
        let req = request(&format!(
            "BYE sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKsame\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: {call_id}\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"
        ));
        let ess = crate::sip::validate::check_request(&req).expect("valid");
        (req, ess)
    };
    let (first, ess1) = bye("call-one");
    assert!(matches!(
        tx.on_request(t0, udp(), &first, &ess1),
        Incoming::New(_)
    ));
    let (second, ess2) = bye("call-two");
    assert!(matches!(
        tx.on_request(t0, udp(), &second, &ess2),
        Incoming::New(_)
    ));
}

// ------------------------------------------------------------------------------ the timer table

/// Fires every timer until none is left, dropping what goes out.
fn settle(tx: &mut Transactions) {
    for _ in 0..10_000 {
        let Some(at) = tx.poll_timeout() else {
            return;
        };
        tx.handle_timeout(at);
        tx.drain().for_each(drop);
    }
    panic!("timers never settle");
}

#[test]
fn no_timer_is_left_behind_once_everything_ends() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());

    // Our 2xx, sent twice (the second replaces the first), then ACKed: only the INVITE
    // transaction's end is left to time.
    let (req, ess) = invite(Transport::Udp, "z9hG4bKinv1");
    let Incoming::New(key) = tx.on_request(t0, udp(), &req, &ess) else {
        panic!("not new");
    };
    let ok = build::response(&req, 200, Some("uas"));
    tx.respond(t0, &key, &ok, OWNER);
    tx.respond(t0 + ms(10), &key, &ok, OWNER);
    assert_eq!(tx.timers.counts(), (3, 2), "expiry, 2xx resend and give-up");
    let (ack, ack_ess) = peer_request("ACK", Transport::Udp, ";branch=z9hG4bKack1", 1, Some("uas"));
    tx.on_request(t0 + ms(20), udp(), &ack, &ack_ess);
    assert_eq!(tx.timers.counts(), (1, 1), "the ACK stops the 2xx's timers");

    // A failure ACKed, a CANCELled INVITE, a non-INVITE over TCP.
    let (req, ess) = invite(Transport::Udp, "z9hG4bKinv2");
    let Incoming::New(key) = tx.on_request(t0, udp(), &req, &ess) else {
        panic!("not new");
    };
    tx.respond(t0, &key, &build::response(&req, 486, Some("uas")), OWNER);
    let (ack, ack_ess) = peer_request("ACK", Transport::Udp, ";branch=z9hG4bKinv2", 1, Some("uas"));
    assert_eq!(
        tx.on_request(t0 + ms(30), udp(), &ack, &ack_ess),
        Incoming::Absorbed
    );
    let (req, ess) = invite(Transport::Udp, "z9hG4bKinv3");
    let Incoming::New(key) = tx.on_request(t0, udp(), &req, &ess) else {
        panic!("not new");
    };
    let (cancel, cancel_ess) =
        peer_request("CANCEL", Transport::Udp, ";branch=z9hG4bKinv3", 1, None);
    tx.on_request(t0 + ms(40), udp(), &cancel, &cancel_ess);
    tx.respond(
        t0 + ms(50),
        &key,
        &build::response(&req, 487, Some("uas")),
        OWNER,
    );
    let (options, options_ess) =
        peer_request("OPTIONS", Transport::Tcp, ";branch=z9hG4bKopt1", 2, None);
    let Incoming::New(key) = tx.on_request(t0, tcp(), &options, &options_ess) else {
        panic!("not new");
    };
    tx.respond(t0, &key, &build::response(&options, 200, None), OWNER);

    tx.drain().for_each(drop);

    // Ours: an INVITE answered and ACKed twice (the second ACK replaces the first), one that
    // rings and is cancelled, and an OPTIONS nobody answers.
    let (_, sent) = start_invite(&mut tx, t0, udp());
    let ok = answer(&sent, 200, Some("seat"));
    tx.on_response(t0 + ms(100), ok.clone());
    for at in [150, 160] {
        let ack = build::ack_for_success(&request(&sent), &ok);
        tx.send_ack(t0 + ms(at), udp(), ack, "out-1@198.51.100.1", 1);
    }
    let ringing = tx.send_request(
        t0,
        OWNER,
        udp(),
        our_request("INVITE", 3),
        "z9hG4bKout3".into(),
    );
    let (sent, _) = drain(&mut tx, udp());
    let invite_sent = sent.iter().find(|s| s.contains("z9hG4bKout3")).unwrap();
    tx.on_response(t0 + ms(200), answer(invite_sent, 180, Some("seat")));
    tx.cancel(t0 + ms(300), &ringing, true);
    tx.send_request(
        t0,
        OWNER,
        udp(),
        our_request("OPTIONS", 4),
        "z9hG4bKout4".into(),
    );
    tx.drain().for_each(drop);
    assert!(tx.timers.counts().0 > 0);

    settle(&mut tx);
    assert_eq!(tx.counts(), (0, 0));
    assert_eq!(tx.timers.counts(), (0, 0), "timers or records left behind");
}

#[test]
fn expired_timers_replay_in_deadline_order_after_a_late_wake_up() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(local());
    // Due at 500 ms: our 2xx's resend; at 600 ms: our INVITE's; at 700 ms: our OPTIONS'.
    tx.send_request(
        t0 + ms(200),
        OWNER,
        udp(),
        our_request("OPTIONS", 2),
        "z9hG4bKout2".into(),
    );
    tx.send_request(
        t0 + ms(100),
        OWNER,
        udp(),
        our_request("INVITE", 1),
        "z9hG4bKout1".into(),
    );
    answered_invite(&mut tx, t0);
    drain(&mut tx, udp());

    tx.handle_timeout(t0 + ms(1_000));
    let (sent, events) = drain(&mut tx, udp());
    assert!(events.is_empty(), "{events:?}");
    let firsts: Vec<&str> = sent.iter().map(|s| first_line(s)).collect();
    assert_eq!(
        firsts,
        [
            "SIP/2.0 200 OK",
            "INVITE sip:seat@192.0.2.10 SIP/2.0",
            "OPTIONS sip:seat@192.0.2.10 SIP/2.0"
        ]
    );
    // Each was resent once, and re-armed from the late wake-up with its interval doubled.
    assert_eq!(tx.poll_timeout(), Some(t0 + ms(2_000)));
}
