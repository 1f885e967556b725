//! The hub with real UDP "phones" on 127.0.0.1: playback pacing and numbering, key presses,
//! and switching a leg from music to a bridge.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
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

async fn phone() -> (UdpSocket, SocketAddr) {
    let socket = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

async fn recv(socket: &UdpSocket) -> Vec<u8> {
    let mut buf = [0u8; 2048];
    let (n, _) = timeout(WAIT, socket.recv_from(&mut buf))
        .await
        .expect("packet")
        .unwrap();
    buf[..n].to_vec()
}

fn seq(p: &[u8]) -> u16 {
    u16::from_be_bytes([p[2], p[3]])
}

fn ts(p: &[u8]) -> u32 {
    u32::from_be_bytes([p[4], p[5], p[6], p[7]])
}

#[tokio::test]
async fn plays_numbered_packets_then_reports_the_end() {
    let pool = pool().await;
    let (caller, caller_addr) = phone().await;
    let (events_tx, mut events) = mpsc::channel(8);
    let hub = Hub::start(
        vec![HubLeg {
            socket: pool.allocate().await.unwrap(),
            remote: Some(caller_addr),
            telephone_event: None,
        }],
        Some(events_tx),
    );
    let audio: Arc<[u8]> = Arc::from(vec![0x55u8; FRAME * 3]);
    hub.play(
        0,
        Play {
            items: vec![audio],
            looping: false,
            pt: 8,
            silence: 0xD5,
        },
    );
    let packets = [
        recv(&caller).await,
        recv(&caller).await,
        recv(&caller).await,
    ];
    assert!(packets
        .iter()
        .all(|p| p.len() == 172 && p[0] == 0x80 && p[1] & 0x7f == 8));
    assert_eq!(packets[0][1] & 0x80, 0x80, "marker on the first packet");
    assert_eq!(seq(&packets[1]), seq(&packets[0]).wrapping_add(1));
    assert_eq!(ts(&packets[2]), ts(&packets[0]).wrapping_add(320));
    let event = timeout(WAIT, events.recv())
        .await
        .expect("event")
        .expect("open");
    assert_eq!(event, HubEvent::PlaybackDone { leg: 0 });
    assert_eq!(hub.stats(0).tx_packets, 3);
    hub.stop().await;
    assert_eq!(pool.in_use(), 0);
}

#[tokio::test]
async fn key_presses_are_reported_once() {
    let pool = pool().await;
    let (caller, _) = phone().await;
    let (events_tx, mut events) = mpsc::channel(8);
    let socket = pool.allocate().await.unwrap();
    let hub_addr = socket.local_addr();
    let hub = Hub::start(
        vec![HubLeg {
            socket,
            remote: None,
            telephone_event: Some(101),
        }],
        Some(events_tx),
    );
    // A press of 5: start, update, three end packets, all with one RTP timestamp.
    for (i, (end, duration)) in [
        (false, 160u16),
        (false, 320),
        (true, 480),
        (true, 480),
        (true, 480),
    ]
    .iter()
    .enumerate()
    {
        let mut p = vec![
            0x80,
            101 | if i == 0 { 0x80 } else { 0 },
            0,
            i as u8,
            0,
            0,
            0x10,
            0,
            0,
            0,
            0,
            1,
        ];
        p.extend_from_slice(&[
            5,
            if *end { 0x80 } else { 0 } | 10,
            (duration >> 8) as u8,
            *duration as u8,
        ]);
        caller.send_to(&p, hub_addr).await.unwrap();
    }
    let event = timeout(WAIT, events.recv())
        .await
        .expect("event")
        .expect("open");
    assert_eq!(event, HubEvent::Digit { leg: 0, digit: '5' });
    assert!(
        timeout(Duration::from_millis(200), events.recv())
            .await
            .is_err(),
        "one press, one digit"
    );
    hub.stop().await;
}

#[tokio::test]
async fn music_gives_way_to_a_bridge() {
    let pool = pool().await;
    let (caller, caller_addr) = phone().await;
    let (seat, seat_addr) = phone().await;
    let caller_leg = pool.allocate().await.unwrap();
    let caller_port = caller_leg.local_addr();
    let hub = Hub::start(
        vec![HubLeg {
            socket: caller_leg,
            remote: Some(caller_addr),
            telephone_event: None,
        }],
        None,
    );
    hub.play(
        0,
        Play {
            items: vec![Arc::from(vec![1u8; FRAME])],
            looping: true,
            pt: 0,
            silence: 0xFF,
        },
    );
    assert_eq!(recv(&caller).await[12], 1, "music first");
    let seat_leg = hub.add_leg(HubLeg {
        socket: pool.allocate().await.unwrap(),
        remote: Some(seat_addr),
        telephone_event: None,
    });
    hub.bridge(0, seat_leg, crate::media::PtMap::identity());
    let mut voice = vec![0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9];
    voice.extend_from_slice(&[7u8; 160]);
    // Drain the music already on its way, then speak.
    tokio::time::sleep(Duration::from_millis(60)).await;
    let mut buf = [0u8; 2048];
    while caller.try_recv_from(&mut buf).is_ok() {}
    caller.send_to(&voice, caller_port).await.unwrap();
    let heard = recv(&seat).await;
    assert_eq!(&heard[12..], &[7u8; 160], "the seat hears the caller");
    assert!(hub.stats(seat_leg).tx_packets >= 1);
    hub.stop().await;
    assert_eq!(pool.in_use(), 0);
}
