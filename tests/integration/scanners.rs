//! Scanners and floods (issue 12, item 5): a source on another loopback address (127.0.0.2)
//! that floods requests or sends a scanner's User-Agent is banned and hears nothing more, while
//! a seat registered from 127.0.0.1 keeps being answered however much it sends. Neither address
//! is a trunk here.

use std::time::Duration;

use crate::common::{self, Options, TestDaemon};
use crate::peers::{free_udp_port, Sipp};
use crate::raw::{options, status_of, RawUdp};

const SCANNER_HOST: &str = "127.0.0.2";

async fn start() -> TestDaemon {
    common::start(Options {
        trunk_sources: "[\"127.0.0.3/32\"]".to_string(),
        ..Options::default()
    })
    .await
}

/// Every datagram that arrives within `wait` of the last one (at most `max`).
async fn answers(udp: &RawUdp, wait: Duration, max: usize) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < max {
        match udp.recv(wait).await {
            Some(answer) => got.push(answer),
            None => break,
        }
    }
    got
}

fn invite(port: u16, n: u32, user_agent: &str) -> String {
    format!(
        "INVITE sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {SCANNER_HOST}:{port};branch=z9hG4bKscan{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:100@{SCANNER_HOST}>;tag=s{n}\r\nTo: <sip:12345@127.0.0.1>\r\nCall-ID: scan-{n}@{SCANNER_HOST}\r\nCSeq: 1 INVITE\r\nContact: <sip:100@{SCANNER_HOST}:{port}>\r\nUser-Agent: {user_agent}\r\nContent-Length: 0\r\n\r\n"
    )
}

#[tokio::test]
async fn a_flooding_source_is_banned_and_a_registered_seat_is_not() {
    let t = start().await;

    // A source that is no trunk and no seat: its INVITE gets a 403 and no 100 Trying before it.
    let scanner = RawUdp::from_host(SCANNER_HOST, t.daemon.sip_udp).await;
    let port = scanner.port();
    scanner.send(invite(port, 0, "probe").as_bytes()).await;
    let first = scanner
        .recv(Duration::from_secs(3))
        .await
        .expect("an answer");
    assert_eq!(status_of(&first), 403, "{first}");
    let to = first
        .lines()
        .find(|l| l.starts_with("To:"))
        .expect("a To header");
    let ack = invite(port, 0, "probe")
        .replacen("INVITE sip", "ACK sip", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 ACK")
        .replace("To: <sip:12345@127.0.0.1>", to);
    scanner.send(ack.as_bytes()).await;

    // 30 requests at once: the 16th within 2 s bans the source (INVITE and ACK were the first
    // two).
    for n in 1..=30 {
        scanner.send(options(port, n).as_bytes()).await;
    }
    let got = answers(&scanner, Duration::from_millis(1500), 100).await;
    let ok = got.iter().filter(|a| status_of(a) == 200).count();
    assert_eq!(ok, 13, "answers before the ban: {got:#?}");
    // Banned: an INVITE now hears nothing, not even a 100.
    scanner.send(invite(port, 99, "probe").as_bytes()).await;
    assert_eq!(
        answers(&scanner, Duration::from_secs(1), 10).await,
        Vec::<String>::new()
    );
    let snapshot = t.daemon.snapshot().await;
    assert_eq!((snapshot.banned_sources, snapshot.bans_total), (1, 1));
    assert_eq!(snapshot.calls, 0);

    // A seat registers from 127.0.0.1 meanwhile, and is answered however much it sends.
    let seat_port = free_udp_port().expect("a free port");
    let run = Sipp::new("seat_register.xml")
        .remote(t.daemon.sip_udp)
        .port(seat_port)
        .service("1001")
        .password("seat1001-secret")
        .set("expires", "3600")
        .timeout(Duration::from_secs(20))
        .run()
        .await
        .expect("run seat_register.xml");
    assert!(run.success(), "{run}");
    let seat = RawUdp::new(t.daemon.sip_udp).await;
    for n in 100..140 {
        seat.send(options(seat.port(), n).as_bytes()).await;
    }
    let got = answers(&seat, Duration::from_millis(1500), 100).await;
    assert_eq!(got.iter().filter(|a| status_of(a) == 200).count(), 40);
    let snapshot = t.daemon.snapshot().await;
    assert_eq!((snapshot.banned_sources, snapshot.bans_total), (1, 1));
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_scanner_user_agent_gets_no_answer_at_all() {
    let t = start().await;
    let scanner = RawUdp::from_host(SCANNER_HOST, t.daemon.sip_udp).await;
    let port = scanner.port();
    scanner
        .send(invite(port, 1, "friendly-scanner").as_bytes())
        .await;
    assert_eq!(
        answers(&scanner, Duration::from_secs(1), 10).await,
        Vec::<String>::new()
    );
    // Banned with it: whatever it sends next is dropped too.
    scanner.send(options(port, 2).as_bytes()).await;
    assert_eq!(
        answers(&scanner, Duration::from_secs(1), 10).await,
        Vec::<String>::new()
    );
    let snapshot = t.daemon.snapshot().await;
    assert_eq!((snapshot.banned_sources, snapshot.bans_total), (1, 1));

    // Another host is still answered.
    let other = RawUdp::new(t.daemon.sip_udp).await;
    let answer = other
        .request(options(other.port(), 3).as_bytes())
        .await
        .expect("answered");
    assert_eq!(status_of(&answer), 200, "{answer}");
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_short_ban_ends_and_the_source_is_answered_again() {
    let t = common::start(Options {
        trunk_sources: "[\"127.0.0.3/32\"]".to_string(),
        extra_config: "[security]\nban_secs = 1\nflood_requests = 4\n".to_string(),
        ..Options::default()
    })
    .await;
    let source = RawUdp::from_host(SCANNER_HOST, t.daemon.sip_udp).await;
    let port = source.port();
    for n in 1..=6 {
        source.send(options(port, n).as_bytes()).await;
    }
    let got = answers(&source, Duration::from_millis(500), 10).await;
    assert_eq!(got.len(), 3, "{got:#?}");
    let snapshot = t.daemon.snapshot().await;
    assert_eq!(snapshot.banned_sources, 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let answer = source
        .request(options(port, 7).as_bytes())
        .await
        .expect("answered after the ban");
    assert_eq!(status_of(&answer), 200, "{answer}");
    let snapshot = t.daemon.snapshot().await;
    assert_eq!((snapshot.banned_sources, snapshot.bans_total), (0, 1));
    t.daemon.shutdown().await.expect("shutdown");
}
