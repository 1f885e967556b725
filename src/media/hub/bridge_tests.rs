//! Two test "phones" (plain UDP sockets on 127.0.0.1) talk through a bridged two-leg hub: the
//! media of every two-party call.
//!
//! Drops are proven by ordering rather than by waiting: the relay handles a
//! socket's packets in order, so if a bad packet followed by a good one
//! yields only the good one at the far phone, the bad one was not relayed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use rtc_rtp::header::Header;
use rtc_rtp::packet::Packet;
use rtc_shared::marshal::{Marshal, Unmarshal};
use tokio::net::UdpSocket;
use tokio::time::timeout;

use super::*;
use crate::media::ports::test_port_range;
use crate::media::RtpPortPool;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WAIT: Duration = Duration::from_secs(2);

async fn pool() -> RtpPortPool {
    let (min, max) = test_port_range(16);
    RtpPortPool::new(LOCALHOST, min, max).unwrap()
}

async fn phone() -> UdpSocket {
    UdpSocket::bind((LOCALHOST, 0)).await.unwrap()
}

fn addr_of(socket: &UdpSocket) -> SocketAddr {
    socket.local_addr().unwrap()
}

fn rtp(pt: u8, seq: u16, marker: bool, payload: &'static [u8]) -> Vec<u8> {
    Packet {
        header: Header {
            version: 2,
            marker,
            payload_type: pt,
            sequence_number: seq,
            timestamp: u32::from(seq) * 160,
            ssrc: 0x1234_5678,
            ..Default::default()
        },
        payload: Bytes::from_static(payload),
    }
    .marshal()
    .unwrap()
    .to_vec()
}

async fn recv_rtp(socket: &UdpSocket) -> (Packet, SocketAddr) {
    let mut buf = [0u8; 1500];
    let (len, from) = timeout(WAIT, socket.recv_from(&mut buf))
        .await
        .expect("packet within timeout")
        .unwrap();
    let packet = Packet::unmarshal(&mut &buf[..len]).expect("valid RTP");
    (packet, from)
}

fn assert_nothing_pending(socket: &UdpSocket) {
    let mut buf = [0u8; 1500];
    assert!(socket.try_recv_from(&mut buf).is_err(), "unexpected packet");
}

/// Polls until `cond` holds; for drops that leave nothing to receive.
async fn wait_for(handle: &HubHandle, cond: impl Fn(&LineStats) -> bool) {
    timeout(WAIT, async {
        while !cond(&handle.line_stats(0, 1)) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("stats condition within timeout");
}

struct Setup {
    pool: RtpPortPool,
    relay: HubHandle,
    /// Where the phones send: the relay's port for leg A and for leg B.
    port_a: SocketAddr,
    port_b: SocketAddr,
}

async fn setup(a_remote: Option<SocketAddr>, b_remote: Option<SocketAddr>, map: PtMap) -> Setup {
    let pool = pool().await;
    let a = pool.allocate().await.unwrap();
    let b = pool.allocate().await.unwrap();
    let (port_a, port_b) = (a.local_addr(), b.local_addr());
    let leg = |socket, remote| HubLeg {
        socket,
        remote,
        telephone_event: None,
    };
    let relay = Hub::bridged(leg(a, a_remote), leg(b, b_remote), map, None);
    Setup {
        pool,
        relay,
        port_a,
        port_b,
    }
}

#[tokio::test]
async fn relays_both_ways_and_counts() {
    let (caller, seat) = (phone().await, phone().await);
    let s = setup(
        Some(addr_of(&caller)),
        Some(addr_of(&seat)),
        PtMap::identity(),
    )
    .await;

    for seq in 0..10 {
        caller
            .send_to(&rtp(0, seq, false, b"caller"), s.port_a)
            .await
            .unwrap();
        let (p, from) = recv_rtp(&seat).await;
        assert_eq!(from, s.port_b, "the seat hears the relay's B port");
        assert_eq!(
            (p.header.sequence_number, &p.payload[..]),
            (seq, &b"caller"[..])
        );

        seat.send_to(&rtp(0, seq, false, b"seat!"), s.port_b)
            .await
            .unwrap();
        let (p, from) = recv_rtp(&caller).await;
        assert_eq!(from, s.port_a);
        assert_eq!(&p.payload[..], b"seat!");
    }

    let stats = s.relay.line_stats(0, 1);
    let (caller_len, seat_len) = (12 + 6, 12 + 5);
    assert_eq!(
        (stats.a.rx_packets, stats.a.rx_bytes),
        (10, 10 * caller_len)
    );
    assert_eq!(
        (stats.b.tx_packets, stats.b.tx_bytes),
        (10, 10 * caller_len)
    );
    assert_eq!((stats.b.rx_packets, stats.b.rx_bytes), (10, 10 * seat_len));
    assert_eq!((stats.a.tx_packets, stats.a.tx_bytes), (10, 10 * seat_len));
    assert_eq!(stats.a.dropped_invalid + stats.a.dropped_foreign, 0);

    assert_eq!(s.pool.in_use(), 2);
    s.relay.stop().await;
    assert_eq!(s.pool.in_use(), 0);
}

/// Packets the caller's stream skips are counted lost on its leg; the seat's full stream
/// loses nothing.
#[tokio::test]
async fn a_gap_in_the_received_sequence_is_counted_lost() {
    let (caller, seat) = (phone().await, phone().await);
    let s = setup(
        Some(addr_of(&caller)),
        Some(addr_of(&seat)),
        PtMap::identity(),
    )
    .await;
    let sent = (1..=20u16).filter(|seq| ![5, 6, 13].contains(seq));
    for (seq, seat_seq) in sent.zip(1u16..) {
        caller
            .send_to(&rtp(0, seq, false, b"caller"), s.port_a)
            .await
            .unwrap();
        recv_rtp(&seat).await;
        seat.send_to(&rtp(0, seat_seq, false, b"seat!"), s.port_b)
            .await
            .unwrap();
        recv_rtp(&caller).await;
    }
    let stats = s.relay.line_stats(0, 1);
    assert_eq!((stats.a.rx_packets, stats.a.lost), (17, 3));
    assert_eq!((stats.b.rx_packets, stats.b.lost), (17, 0));
    s.relay.stop().await;
}

#[tokio::test]
async fn latches_to_nat_source_and_refuses_hijack() {
    // The caller's SDP names one address, its RTP comes from another.
    let (signalled, behind_nat, seat, intruder) =
        (phone().await, phone().await, phone().await, phone().await);
    let s = setup(
        Some(addr_of(&signalled)),
        Some(addr_of(&seat)),
        PtMap::identity(),
    )
    .await;

    // Before the caller has sent anything, the SDP address is all we have.
    seat.send_to(&rtp(0, 1, false, b"early"), s.port_b)
        .await
        .unwrap();
    assert_eq!(&recv_rtp(&signalled).await.0.payload[..], b"early");

    behind_nat
        .send_to(&rtp(0, 1, false, b"hello"), s.port_a)
        .await
        .unwrap();
    assert_eq!(&recv_rtp(&seat).await.0.payload[..], b"hello");

    seat.send_to(&rtp(0, 2, false, b"latched"), s.port_b)
        .await
        .unwrap();
    assert_eq!(&recv_rtp(&behind_nat).await.0.payload[..], b"latched");

    intruder
        .send_to(&rtp(0, 9, false, b"hijack"), s.port_a)
        .await
        .unwrap();
    behind_nat
        .send_to(&rtp(0, 2, false, b"legit"), s.port_a)
        .await
        .unwrap();
    assert_eq!(&recv_rtp(&seat).await.0.payload[..], b"legit");
    assert_nothing_pending(&seat);
    assert_nothing_pending(&signalled);
    assert_eq!(s.relay.line_stats(0, 1).a.dropped_foreign, 1);

    s.relay.stop().await;
    assert_eq!(s.pool.in_use(), 0);
}

#[tokio::test]
async fn junk_is_dropped_and_does_not_latch() {
    let (caller, seat, junk_source) = (phone().await, phone().await, phone().await);
    let s = setup(None, Some(addr_of(&seat)), PtMap::identity()).await;

    let mut version_one = rtp(0, 1, false, b"v1");
    version_one[0] = (version_one[0] & 0x3f) | 0x40;
    for junk in [&b"STUN?"[..], &[0x80; 11][..], &version_one[..]] {
        junk_source.send_to(junk, s.port_a).await.unwrap();
    }
    caller
        .send_to(&rtp(0, 1, false, b"real"), s.port_a)
        .await
        .unwrap();
    assert_eq!(&recv_rtp(&seat).await.0.payload[..], b"real");
    assert_nothing_pending(&seat);

    // The caller, not the junk sender, got latched.
    seat.send_to(&rtp(0, 1, false, b"back"), s.port_b)
        .await
        .unwrap();
    assert_eq!(&recv_rtp(&caller).await.0.payload[..], b"back");
    assert_nothing_pending(&junk_source);

    let stats = s.relay.line_stats(0, 1);
    assert_eq!(stats.a.dropped_invalid, 3);
    assert_eq!(stats.a.rx_packets, 1);
    s.relay.stop().await;
}

#[tokio::test]
async fn drops_until_remote_known_then_set_remote_rearms() {
    let (caller, seat, seat_moved) = (phone().await, phone().await, phone().await);
    let s = setup(Some(addr_of(&caller)), None, PtMap::identity()).await;

    caller
        .send_to(&rtp(0, 1, false, b"lost"), s.port_a)
        .await
        .unwrap();
    wait_for(&s.relay, |st| st.a.dropped_no_remote == 1).await;

    s.relay.set_remote(1, addr_of(&seat));
    caller
        .send_to(&rtp(0, 2, false, b"kept"), s.port_a)
        .await
        .unwrap();
    assert_eq!(&recv_rtp(&seat).await.0.payload[..], b"kept");
    seat.send_to(&rtp(0, 1, false, b"latch"), s.port_b)
        .await
        .unwrap();
    assert_eq!(&recv_rtp(&caller).await.0.payload[..], b"latch");

    // A re-INVITE moves the seat: latching starts over from the new SDP.
    s.relay.set_remote(1, addr_of(&seat_moved));
    caller
        .send_to(&rtp(0, 3, false, b"moved"), s.port_a)
        .await
        .unwrap();
    assert_eq!(&recv_rtp(&seat_moved).await.0.payload[..], b"moved");
    seat_moved
        .send_to(&rtp(0, 2, false, b"new"), s.port_b)
        .await
        .unwrap();
    assert_eq!(&recv_rtp(&caller).await.0.payload[..], b"new");
    seat.send_to(&rtp(0, 2, false, b"old"), s.port_b)
        .await
        .unwrap();
    wait_for(&s.relay, |st| st.b.dropped_foreign == 1).await;
    assert_nothing_pending(&caller);

    s.relay.stop().await;
    assert_eq!(s.pool.in_use(), 0);
}

#[tokio::test]
async fn rewrites_telephone_event_pt_keeping_marker() {
    let (caller, seat) = (phone().await, phone().await);
    let map = PtMap::identity().with(101, 96);
    let s = setup(Some(addr_of(&caller)), Some(addr_of(&seat)), map).await;

    caller
        .send_to(&rtp(101, 1, true, b"\x05\x0a\x00\xa0"), s.port_a)
        .await
        .unwrap();
    let (p, _) = recv_rtp(&seat).await;
    assert_eq!((p.header.payload_type, p.header.marker), (96, true));
    assert_eq!(&p.payload[..], b"\x05\x0a\x00\xa0");

    caller
        .send_to(&rtp(0, 2, false, b"voice"), s.port_a)
        .await
        .unwrap();
    let (p, _) = recv_rtp(&seat).await;
    assert_eq!((p.header.payload_type, p.header.marker), (0, false));

    seat.send_to(&rtp(96, 1, false, b"\x01\x8a\x03\x20"), s.port_b)
        .await
        .unwrap();
    let (p, _) = recv_rtp(&caller).await;
    assert_eq!((p.header.payload_type, p.header.marker), (101, false));
    assert_eq!(p.header.ssrc, 0x1234_5678);

    s.relay.stop().await;
}

#[tokio::test]
async fn dropping_the_handle_also_frees_ports() {
    let s = setup(None, None, PtMap::identity()).await;
    drop(s.relay);
    timeout(WAIT, async {
        while s.pool.in_use() != 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("ports freed after the handle is dropped");
    let _ = (s.port_a, s.port_b);
}
