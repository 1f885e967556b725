//! The registrar on virtual time, fed REGISTERs parsed from raw text.

use std::time::Duration;

use md5::Md5;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::*;
use crate::auth::{ha1, Algorithm};
use crate::sip::flow::Transport;
use crate::sip::message::Message;
use crate::sip::parse::parse;
use crate::sip::validate::check_request;

const REALM: &str = "hotline.example";
const RURI: &str = "sip:hotline.example";
const T0: u64 = 1_700_000_000;
const MIN: u32 = 60;
const MAX: u32 = 7200;

fn key() -> NonceKey {
    NonceKey::from_bytes([7; 32])
}

fn seat(user: &str, password: Option<&str>, ha1_md5: Option<String>) -> SeatSettings {
    SeatSettings {
        user: user.into(),
        display_name: None,
        password: password.map(str::to_string),
        ha1_md5,
        ha1_sha256: None,
        supervisor: false,
    }
}

fn registrar() -> Registrar {
    let seats = [
        seat("1001", Some("pw-1001"), None),
        seat("1002", Some("pw-1002"), None),
        // HA1-only seat: MD5 works, SHA-256 cannot.
        seat(
            "1003",
            None,
            Some(ha1(Algorithm::Md5, "1003", REALM, "pw-1003")),
        ),
    ];
    Registrar::new(
        REALM.into(),
        &seats,
        MIN,
        MAX,
        vec![Algorithm::Sha256, Algorithm::Md5],
        key(),
    )
}

fn flow(port: u16) -> Flow {
    Flow {
        transport: Transport::Udp,
        remote: ([203, 0, 113, 5], port).into(),
    }
}

fn hex_hash(alg: Algorithm, input: &str) -> String {
    let bytes: Vec<u8> = match alg {
        Algorithm::Md5 => Md5::digest(input.as_bytes()).to_vec(),
        Algorithm::Sha256 => Sha256::digest(input.as_bytes()).to_vec(),
    };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a phone answers to our challenge.
struct Creds<'a> {
    user: &'a str,
    password: &'a str,
    alg: Algorithm,
    nonce: String,
    uri: &'a str,
}

impl Creds<'_> {
    fn header(&self) -> String {
        let ha1 = ha1(self.alg, self.user, REALM, self.password);
        let ha2 = hex_hash(self.alg, &format!("REGISTER:{}", self.uri));
        let response = hex_hash(
            self.alg,
            &format!("{ha1}:{}:00000001:c0ffee:auth:{ha2}", self.nonce),
        );
        format!(
            "Digest username=\"{}\", realm=\"{REALM}\", nonce=\"{}\", uri=\"{}\", \
             response=\"{response}\", algorithm={}, qop=auth, nc=00000001, cnonce=\"c0ffee\"",
            self.user, self.nonce, self.uri, self.alg
        )
    }
}

fn creds<'a>(user: &'a str, password: &'a str, alg: Algorithm) -> Creds<'a> {
    Creds {
        user,
        password,
        alg,
        nonce: key().mint(T0),
        uri: RURI,
    }
}

/// A REGISTER for `to_user` with `extra` header lines (each ending in CRLF).
fn request(
    ruri: &str,
    to_user: &str,
    call_id: &str,
    cseq: u32,
    extra: &str,
) -> (Request, Essentials) {
    let raw = format!(
        "REGISTER {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK{call_id}{cseq}\r\n\
         From: <sip:{to_user}@{REALM}>;tag=from{cseq}\r\n\
         To: <sip:{to_user}@{REALM}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Max-Forwards: 70\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    );
    let req = match parse(raw.as_bytes()) {
        Ok(Message::Request(r)) => r,
        other => panic!("not a request: {other:?}"),
    };
    let ess = check_request(&req).expect("test REGISTER passes validation");
    (req, ess)
}

/// Sends an authenticated REGISTER as seat `user` (To and digest alike).
fn send(
    reg: &mut Registrar,
    now: Instant,
    from: Flow,
    user: &str,
    call_id: &str,
    cseq: u32,
    extra: &str,
) -> RegisterOutcome {
    let password = format!("pw-{user}");
    let auth = creds(user, &password, Algorithm::Md5).header();
    let extra = format!("Authorization: {auth}\r\n{extra}");
    let (req, ess) = request(RURI, user, call_id, cseq, &extra);
    reg.handle(now, T0, from, &req, &ess)
}

fn contact(uri: &str) -> String {
    format!("Contact: <{uri}>\r\n")
}

fn contacts_of(resp: &Response) -> Vec<&str> {
    resp.headers.get_all("Contact").collect()
}

fn nonce_in(challenge: &str) -> String {
    let start = challenge.find("nonce=\"").expect("nonce") + 7;
    let end = challenge[start..].find('"').expect("closing quote");
    challenge[start..start + end].to_string()
}

fn assert_to_tagged(resp: &Response) {
    let to = NameAddr::parse(resp.headers.get("To").expect("To")).expect("To parses");
    assert!(to.tag().is_some_and(|t| !t.is_empty()), "{resp:?}");
}

#[test]
fn challenge_then_register_with_either_algorithm() {
    for alg in [Algorithm::Md5, Algorithm::Sha256] {
        let mut reg = registrar();
        let now = Instant::now();
        let c = contact("sip:1001@192.168.1.20:5060");
        let (req, ess) = request(RURI, "1001", "cid-a", 1, &c);
        let out = reg.handle(now, T0, flow(5060), &req, &ess);
        assert_eq!(out.response.status, 401);
        assert_eq!(out.event, RegisterEvent::Challenged);
        assert_to_tagged(&out.response);
        let offered: Vec<&str> = out.response.headers.get_all("WWW-Authenticate").collect();
        assert_eq!(offered.len(), 2);
        assert!(offered[0].contains("algorithm=SHA-256"));
        assert!(offered[1].contains("algorithm=MD5"));
        assert!(!offered[0].contains("stale"));
        assert_eq!(reg.binding_count(now), 0);

        let nonce = nonce_in(offered[0]);
        let auth = Creds {
            nonce,
            ..creds("1001", "pw-1001", alg)
        }
        .header();
        let extra = format!("Authorization: {auth}\r\n{c}");
        let (req, ess) = request(RURI, "1001", "cid-a", 2, &extra);
        let out = reg.handle(now, T0 + 5, flow(5060), &req, &ess);
        assert_eq!(out.response.status, 200, "{alg}");
        assert_to_tagged(&out.response);
        assert_eq!(
            out.event,
            RegisterEvent::Registered {
                user: "1001".into(),
                contacts: 1
            }
        );
        assert_eq!(
            contacts_of(&out.response),
            ["<sip:1001@192.168.1.20:5060>;expires=3600"]
        );
        assert_eq!(reg.registered_users(now), ["1001"]);
    }
}

#[test]
fn ha1_only_seat_registers_with_its_algorithm_only() {
    let mut reg = registrar();
    let now = Instant::now();
    let c = contact("sip:1003@192.168.1.23");
    let out = send(&mut reg, now, flow(5060), "1003", "cid", 1, &c);
    assert_eq!(out.response.status, 200);
    let auth = creds("1003", "pw-1003", Algorithm::Sha256).header();
    let (req, ess) = request(
        RURI,
        "1003",
        "cid",
        2,
        &format!("Authorization: {auth}\r\n{c}"),
    );
    let out = reg.handle(now, T0, flow(5060), &req, &ess);
    assert_eq!(out.response.status, 403);
}

/// Only the headers copied from the request (and the To tag) may differ.
fn comparable(resp: &Response) -> Vec<u8> {
    let mut resp = resp.clone();
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        resp.headers.remove(name);
    }
    resp.to_bytes().to_vec()
}

#[test]
fn wrong_password_and_unknown_user_are_indistinguishable() {
    let mut reg = registrar();
    let now = Instant::now();
    let c = contact("sip:x@192.168.1.20");
    let wrong = creds("1001", "guess", Algorithm::Md5).header();
    let (req, ess) = request(
        RURI,
        "1001",
        "a",
        1,
        &format!("Authorization: {wrong}\r\n{c}"),
    );
    let a = reg.handle(now, T0, flow(1), &req, &ess);
    let ghost = creds("4040", "guess", Algorithm::Md5).header();
    let (req, ess) = request(
        RURI,
        "4040",
        "b",
        7,
        &format!("Authorization: {ghost}\r\n{c}"),
    );
    let b = reg.handle(now, T0, flow(2), &req, &ess);
    assert_eq!((a.response.status, b.response.status), (403, 403));
    assert_eq!(a.response.reason, "Forbidden");
    assert_eq!(comparable(&a.response), comparable(&b.response));
    assert_to_tagged(&a.response);
    assert_eq!(
        a.event,
        RegisterEvent::AuthFailed {
            user_claimed: "1001".into()
        }
    );
    assert_eq!(
        b.event,
        RegisterEvent::AuthFailed {
            user_claimed: "4040".into()
        }
    );
    // Without credentials, an unknown seat is challenged like a real one.
    let (req, ess) = request(RURI, "4040", "b", 8, &c);
    let out = reg.handle(now, T0, flow(2), &req, &ess);
    assert_eq!(out.response.status, 401);
    assert_eq!(reg.binding_count(now), 0);
}

#[test]
fn stale_nonce_is_rechallenged_with_stale_true() {
    let mut reg = registrar();
    let now = Instant::now();
    let auth = creds("1001", "pw-1001", Algorithm::Md5).header();
    let extra = format!("Authorization: {auth}\r\n{}", contact("sip:1001@10.1.1.1"));
    let (req, ess) = request(RURI, "1001", "c", 1, &extra);
    let out = reg.handle(now, T0 + NONCE_MAX_AGE_SECS + 1, flow(1), &req, &ess);
    assert_eq!(out.response.status, 401);
    assert_eq!(out.event, RegisterEvent::Challenged);
    let offered: Vec<&str> = out.response.headers.get_all("WWW-Authenticate").collect();
    assert_eq!(offered.len(), 2);
    assert!(offered.iter().all(|c| c.contains("stale=true")));
    assert_ne!(nonce_in(offered[0]), key().mint(T0));
    assert_eq!(reg.binding_count(now), 0);
}

#[test]
fn a_seat_cannot_register_another_seats_address() {
    let mut reg = registrar();
    let now = Instant::now();
    let auth = creds("1001", "pw-1001", Algorithm::Md5).header();
    let extra = format!("Authorization: {auth}\r\n{}", contact("sip:1002@10.1.1.1"));
    let (req, ess) = request(RURI, "1002", "c", 1, &extra);
    let out = reg.handle(now, T0, flow(1), &req, &ess);
    assert_eq!(out.response.status, 403);
    assert!(matches!(out.event, RegisterEvent::AuthFailed { .. }));
    assert!(reg.lookup(now, "1002").is_empty());
}

#[test]
fn digest_for_another_request_uri_is_refused_but_an_ip_request_uri_is_fine() {
    let mut reg = registrar();
    let now = Instant::now();
    let c = contact("sip:1001@10.1.1.1");
    let auth = creds("1001", "pw-1001", Algorithm::Md5).header();
    let (req, ess) = request(
        "sip:198.51.100.1",
        "1001",
        "c",
        1,
        &format!("Authorization: {auth}\r\n{c}"),
    );
    assert_eq!(
        reg.handle(now, T0, flow(1), &req, &ess).response.status,
        403
    );
    let auth = Creds {
        uri: "sip:198.51.100.1",
        ..creds("1001", "pw-1001", Algorithm::Md5)
    }
    .header();
    let (req, ess) = request(
        "sip:198.51.100.1",
        "1001",
        "c",
        2,
        &format!("Authorization: {auth}\r\n{c}"),
    );
    assert_eq!(
        reg.handle(now, T0, flow(1), &req, &ess).response.status,
        200
    );
}

#[test]
fn bindings_expire_on_time() {
    let mut reg = registrar();
    let t = Instant::now();
    let extra = format!("Expires: 120\r\n{}", contact("sip:1001@10.1.1.1"));
    let out = send(&mut reg, t, flow(1), "1001", "c", 1, &extra);
    assert_eq!(
        contacts_of(&out.response),
        ["<sip:1001@10.1.1.1>;expires=120"]
    );
    assert_eq!(reg.poll_timeout(), Some(t + Duration::from_secs(120)));
    assert_eq!(reg.lookup(t + Duration::from_secs(119), "1001").len(), 1);
    let gone = t + Duration::from_secs(120);
    assert!(reg.lookup(gone, "1001").is_empty());
    assert!(reg.registered_users(gone).is_empty());
    let source: std::net::IpAddr = [203, 0, 113, 5].into();
    assert_eq!(reg.addresses(t).into_iter().collect::<Vec<_>>(), [source]);
    assert!(reg.addresses(gone).is_empty());
    assert_eq!(reg.binding_count(gone), 0);
    assert_eq!(reg.purge(t + Duration::from_secs(60)), 0);
    assert_eq!(reg.purge(gone), 1);
    assert_eq!(reg.poll_timeout(), None);
}

#[test]
fn remaining_time_is_reported_and_rounded_up() {
    let mut reg = registrar();
    let t = Instant::now();
    let c = contact("sip:1001@10.1.1.1");
    send(
        &mut reg,
        t,
        flow(1),
        "1001",
        "c",
        1,
        &format!("Expires: 120\r\n{c}"),
    );
    let out = send(
        &mut reg,
        t + Duration::from_millis(100_500),
        flow(1),
        "1001",
        "c",
        2,
        "",
    );
    assert_eq!(
        out.event,
        RegisterEvent::Fetched {
            user: "1001".into()
        }
    );
    assert_eq!(
        contacts_of(&out.response),
        ["<sip:1001@10.1.1.1>;expires=20"]
    );
}

#[test]
fn expires_zero_removes_that_binding_only() {
    let mut reg = registrar();
    let t = Instant::now();
    let both = "Contact: <sip:1001@10.1.1.1>, <sip:1001@10.1.1.2>\r\n";
    let out = send(&mut reg, t, flow(1), "1001", "c", 1, both);
    assert_eq!(
        out.event,
        RegisterEvent::Registered {
            user: "1001".into(),
            contacts: 2
        }
    );
    let one = "Contact: <sip:1001@10.1.1.1>;expires=0\r\n";
    let out = send(&mut reg, t, flow(1), "1001", "c", 2, one);
    assert_eq!(
        contacts_of(&out.response),
        ["<sip:1001@10.1.1.2>;expires=3600"]
    );
    let other = "Expires: 0\r\nContact: <sip:1001@10.1.1.2>\r\n";
    let out = send(&mut reg, t, flow(1), "1001", "c", 3, other);
    assert_eq!(
        out.event,
        RegisterEvent::Unregistered {
            user: "1001".into()
        }
    );
    assert!(contacts_of(&out.response).is_empty());
    assert_eq!(reg.poll_timeout(), None);
}

#[test]
fn wildcard_removes_every_binding() {
    let mut reg = registrar();
    let t = Instant::now();
    send(
        &mut reg,
        t,
        flow(1),
        "1001",
        "desk",
        1,
        &contact("sip:1001@10.1.1.1"),
    );
    send(
        &mut reg,
        t,
        flow(2),
        "1001",
        "soft",
        1,
        &contact("sip:1001@10.1.1.2"),
    );
    send(
        &mut reg,
        t,
        flow(3),
        "1002",
        "x",
        1,
        &contact("sip:1002@10.1.1.3"),
    );
    let out = send(
        &mut reg,
        t,
        flow(1),
        "1001",
        "desk",
        2,
        "Contact: *\r\nExpires: 60\r\n",
    );
    assert_eq!(out.response.status, 400);
    assert_eq!(reg.lookup(t, "1001").len(), 2);
    let out = send(
        &mut reg,
        t,
        flow(1),
        "1001",
        "desk",
        3,
        "Contact: *\r\nExpires: 0\r\n",
    );
    assert_eq!(out.response.status, 200);
    assert_eq!(
        out.event,
        RegisterEvent::Unregistered {
            user: "1001".into()
        }
    );
    assert!(reg.lookup(t, "1001").is_empty());
    assert_eq!(reg.registered_users(t), ["1002"]);
}

#[test]
fn too_brief_gets_423_with_min_expires_and_long_is_capped() {
    let mut reg = registrar();
    let t = Instant::now();
    let out = send(
        &mut reg,
        t,
        flow(1),
        "1001",
        "c",
        1,
        "Contact: <sip:1001@10.1.1.1>;expires=30\r\n",
    );
    assert_eq!(out.response.status, 423);
    assert_eq!(out.response.reason, "Interval Too Brief");
    assert_eq!(out.response.headers.get("Min-Expires"), Some("60"));
    assert!(matches!(out.event, RegisterEvent::Refused { .. }));
    assert_to_tagged(&out.response);
    assert_eq!(reg.binding_count(t), 0);

    let out = send(
        &mut reg,
        t,
        flow(1),
        "1001",
        "c",
        2,
        "Expires: 86400\r\nContact: <sip:1001@10.1.1.1>\r\n",
    );
    assert_eq!(
        contacts_of(&out.response),
        ["<sip:1001@10.1.1.1>;expires=7200"]
    );
    assert_eq!(
        reg.lookup(t, "1001")[0].expires_at,
        t + Duration::from_secs(7200)
    );
}

#[test]
fn out_of_order_register_is_refused_and_a_new_call_id_replaces() {
    let mut reg = registrar();
    let t = Instant::now();
    let c = contact("sip:1001@10.1.1.1");
    send(&mut reg, t, flow(1), "1001", "boot-1", 5, &c);
    for cseq in [5, 4] {
        let out = send(
            &mut reg,
            t,
            flow(9),
            "1001",
            "boot-1",
            cseq,
            "Contact: <sip:1001@10.1.1.1>;expires=0\r\n",
        );
        assert_eq!(out.response.status, 500, "CSeq {cseq}");
        assert!(matches!(out.event, RegisterEvent::Refused { .. }));
    }
    let kept = reg.lookup(t, "1001");
    assert_eq!((kept.len(), kept[0].cseq, kept[0].flow), (1, 5, flow(1)));
    // The phone rebooted: new Call-ID, CSeq starts over.
    let out = send(&mut reg, t, flow(2), "1001", "boot-2", 1, &c);
    assert_eq!(out.response.status, 200);
    let now = reg.lookup(t, "1001");
    assert_eq!(now.len(), 1);
    assert_eq!(
        (now[0].call_id.as_str(), now[0].cseq, now[0].flow),
        ("boot-2", 1, flow(2))
    );
}

#[test]
fn two_phones_for_one_seat_each_keep_their_flow() {
    let mut reg = registrar();
    let t = Instant::now();
    send(
        &mut reg,
        t,
        flow(40000),
        "1001",
        "desk",
        1,
        &contact("sip:1001@192.168.1.20:5060"),
    );
    let later = t + Duration::from_secs(10);
    let out = send(
        &mut reg,
        later,
        flow(40001),
        "1001",
        "soft",
        1,
        &contact("sip:1001@192.168.1.21:5062;transport=udp"),
    );
    assert_eq!(
        out.event,
        RegisterEvent::Registered {
            user: "1001".into(),
            contacts: 2
        }
    );
    assert_eq!(contacts_of(&out.response).len(), 2);
    let bound = reg.lookup(later, "1001");
    let seen: Vec<(&str, Flow)> = bound.iter().map(|b| (b.contact.as_str(), b.flow)).collect();
    assert_eq!(
        seen,
        [
            ("sip:1001@192.168.1.21:5062;transport=udp", flow(40001)),
            ("sip:1001@192.168.1.20:5060", flow(40000)),
        ]
    );
    assert_eq!(reg.binding_count(later), 2);
    assert_eq!(reg.registered_users(later), ["1001"]);
    // A refresh moves the desk phone to the front and follows its new NAT mapping.
    send(
        &mut reg,
        later,
        flow(40002),
        "1001",
        "desk",
        2,
        &contact("sip:1001@192.168.1.20:5060"),
    );
    let bound = reg.lookup(later, "1001");
    assert_eq!(
        (bound[0].call_id.as_str(), bound[0].flow),
        ("desk", flow(40002))
    );
    assert_eq!(bound[0].user, "1001");
}

#[test]
fn contacts_per_seat_are_limited() {
    let mut reg = registrar();
    let t = Instant::now();
    let many: String = (0..MAX_CONTACTS_PER_SEAT)
        .map(|i| contact(&format!("sip:1001@10.0.0.{i}")))
        .collect();
    assert_eq!(
        send(&mut reg, t, flow(1), "1001", "c", 1, &many)
            .response
            .status,
        200
    );
    let out = send(
        &mut reg,
        t,
        flow(1),
        "1001",
        "c",
        2,
        &contact("sip:1001@10.0.1.1"),
    );
    assert_eq!(out.response.status, 403);
    assert_eq!(
        out.event,
        RegisterEvent::Refused {
            reason: RegisterError::TooManyContacts.reason()
        }
    );
    assert_eq!(reg.binding_count(t), MAX_CONTACTS_PER_SEAT);
}

#[test]
fn other_methods_are_not_handled() {
    let mut reg = registrar();
    let raw = "OPTIONS sip:hotline.example SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:1001@h>\r\nCall-ID: o\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    let Ok(Message::Request(req)) = parse(raw.as_bytes()) else {
        panic!("not a request")
    };
    let ess = check_request(&req).expect("valid");
    let out = reg.handle(Instant::now(), T0, flow(1), &req, &ess);
    assert_eq!(out.response.status, 405);
    assert_eq!(out.response.headers.get("Allow"), Some("REGISTER"));
}

/// An INVITE from a seat's phone (a feature code), with `extra` header lines.
fn seat_invite(extra: &str) -> Request {
    let raw = format!(
        "INVITE sip:*71@{REALM} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKinv1\r\n\
         From: <sip:1001@{REALM}>;tag=f1\r\n\
         To: <sip:*71@{REALM}>\r\n\
         Call-ID: inv-1\r\n\
         CSeq: 1 INVITE\r\n\
         Max-Forwards: 70\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    );
    match parse(raw.as_bytes()) {
        Ok(Message::Request(r)) => r,
        other => panic!("not a request: {other:?}"),
    }
}

fn invite_proxy_auth(user: &str, password: &str, nonce: &str) -> String {
    let uri = format!("sip:*71@{REALM}");
    let ha1 = ha1(Algorithm::Md5, user, REALM, password);
    let ha2 = hex_hash(Algorithm::Md5, &format!("INVITE:{uri}"));
    let response = hex_hash(
        Algorithm::Md5,
        &format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}"),
    );
    format!(
        "Proxy-Authorization: Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", \
         uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\"\r\n"
    )
}

#[test]
fn a_seat_invite_is_challenged_with_407_then_known_by_its_credentials() {
    let reg = registrar();
    let SeatAuth::Challenge(challenge) = reg.authenticate_seat(T0, &seat_invite("")) else {
        panic!("no challenge")
    };
    assert_eq!(challenge.status, 407);
    let offered: Vec<&str> = challenge.headers.get_all("Proxy-Authenticate").collect();
    assert_eq!(offered.len(), 2);
    let nonce = nonce_in(offered[1]);
    let good = seat_invite(&invite_proxy_auth("1001", "pw-1001", &nonce));
    assert!(matches!(reg.authenticate_seat(T0, &good), SeatAuth::Seat(user) if user == "1001"));
    let wrong = seat_invite(&invite_proxy_auth("1001", "nope", &nonce));
    assert!(matches!(
        reg.authenticate_seat(T0, &wrong),
        SeatAuth::Rejected { .. }
    ));
    let stranger = seat_invite(&invite_proxy_auth("9999", "pw-9999", &nonce));
    assert!(matches!(
        reg.authenticate_seat(T0, &stranger),
        SeatAuth::Rejected { .. }
    ));
}
