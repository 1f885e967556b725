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
    let (events_tx, mut events) = mpsc::unbounded_channel();
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
    let (events_tx, mut events) = mpsc::unbounded_channel();
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

/// An RTP packet of one 20 ms frame: `seq`, payload type `pt`, every sample `code`.
fn frame_packet(seq: u16, pt: u8, code: u8) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 7]);
    p.extend_from_slice(&[code; 160]);
    p
}

#[tokio::test]
async fn three_legs_in_a_mix_each_hear_the_other_two() {
    use crate::media::g711::{alaw_decode, alaw_encode, ulaw_decode, ulaw_encode};
    use crate::media::sdp::Codec;
    let pool = pool().await;
    let mut phones = Vec::new();
    let mut legs = Vec::new();
    for _ in 0..3 {
        let (socket, addr) = phone().await;
        let leg = pool.allocate().await.unwrap();
        phones.push((socket, leg.local_addr()));
        legs.push(HubLeg {
            socket: leg,
            remote: Some(addr),
            telephone_event: None,
        });
    }
    let hub = Hub::start(legs, None);
    // Caller and seat speak PCMU, the unit PCMA: one mix, each hears in its own codec.
    hub.mix(vec![
        MixParty {
            leg: 0,
            codec: Codec::Pcmu,
            pt: 0,
        },
        MixParty {
            leg: 1,
            codec: Codec::Pcmu,
            pt: 0,
        },
        MixParty {
            leg: 2,
            codec: Codec::Pcma,
            pt: 8,
        },
    ]);
    let levels = [
        (0, ulaw_encode(1000)),
        (1, ulaw_encode(2000)),
        (2, alaw_encode(4000)),
    ];
    for seq in 0..15u16 {
        for (leg, code) in levels {
            let pt = if leg == 2 { 8 } else { 0 };
            let (socket, port) = &phones[leg];
            socket
                .send_to(&frame_packet(seq, pt, code), port)
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The loudest frame each party heard: once all three speak, the sum of the other two.
    let mut loudest = [0i16; 3];
    let mut buf = [0u8; 2048];
    for (i, (socket, _)) in phones.iter().enumerate() {
        while let Ok((n, _)) = socket.try_recv_from(&mut buf) {
            assert_eq!(n, 172, "one 20 ms frame a packet");
            assert_eq!(
                buf[1] & 0x7f,
                if i == 2 { 8 } else { 0 },
                "in the party's codec"
            );
            let sample = if i == 2 {
                alaw_decode(buf[12])
            } else {
                ulaw_decode(buf[12])
            };
            loudest[i] = loudest[i].max(sample);
        }
    }
    let near = |got: i16, want: i16| (i32::from(got) - i32::from(want)).abs() < 300;
    assert!(
        near(loudest[0], 6000),
        "caller hears seat + unit: {}",
        loudest[0]
    );
    assert!(
        near(loudest[1], 5000),
        "seat hears caller + unit: {}",
        loudest[1]
    );
    assert!(
        near(loudest[2], 3000),
        "unit hears caller + seat: {}",
        loudest[2]
    );
    hub.stop().await;
}

#[tokio::test]
async fn kept_keys_are_reported_but_not_relayed() {
    let pool = pool().await;
    let (caller, caller_addr) = phone().await;
    let (seat, seat_addr) = phone().await;
    let seat_leg = pool.allocate().await.unwrap();
    let seat_port = seat_leg.local_addr();
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let hub = Hub::start(
        vec![
            HubLeg {
                socket: pool.allocate().await.unwrap(),
                remote: Some(caller_addr),
                telephone_event: Some(101),
            },
            HubLeg {
                socket: seat_leg,
                remote: Some(seat_addr),
                telephone_event: Some(101),
            },
        ],
        Some(events_tx),
    );
    hub.bridge(0, 1, crate::media::PtMap::identity());
    hub.keep_keys(1);
    // Key 5, end bit set, then a voice packet.
    let mut key = vec![0x80, 0x80 | 101, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9];
    key.extend_from_slice(&[5, 0x80 | 10, 0, 160]);
    seat.send_to(&key, seat_port).await.unwrap();
    let event = timeout(WAIT, events.recv()).await.unwrap();
    assert_eq!(event, Some(HubEvent::Digit { leg: 1, digit: '5' }));
    seat.send_to(&frame_packet(2, 0, 0x11), seat_port)
        .await
        .unwrap();
    let heard = recv(&caller).await;
    assert_eq!(
        heard[1] & 0x7f,
        0,
        "the caller hears the voice, not the key"
    );
    hub.stop().await;
}
