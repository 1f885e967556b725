//! Hearing several sources over real UDP "phones" on 127.0.0.1: a tone overlaid on a bridge,
//! a whisper, a source's gain, and commands that are never dropped. Each phone speaks a tone;
//! a Goertzel filter tells which tones a phone hears.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use super::*;
use crate::media::g711::{self, ulaw_decode, ulaw_encode};
use crate::media::ports::test_port_range;
use crate::media::sdp::Codec;
use crate::media::RtpPortPool;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WAIT: Duration = Duration::from_secs(2);
const PCMU: Audio = Audio {
    codec: Codec::Pcmu,
    pt: 0,
};
/// Samples analysed at once: 100 ms, so 440, 1000 and 1600 Hz fall on whole bins.
const WINDOW: usize = 800;
const LEVEL: f64 = 6000.0;

/// A phone: its socket and the hub port of its leg.
struct Phone {
    socket: Arc<UdpSocket>,
    hub_port: SocketAddr,
}

async fn phones(n: usize) -> (RtpPortPool, Vec<Phone>, Vec<HubLeg>) {
    let (min, max) = test_port_range(16);
    let pool = RtpPortPool::new(LOCALHOST, min, max).unwrap();
    let mut phones = Vec::new();
    let mut legs = Vec::new();
    for _ in 0..n {
        let socket = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
        let leg = pool.allocate().await.unwrap();
        phones.push(Phone {
            hub_port: leg.local_addr(),
            socket: Arc::new(socket),
        });
        legs.push(HubLeg {
            remote: Some(phones.last().unwrap().socket.local_addr().unwrap()),
            socket: leg,
            telephone_event: None,
        });
    }
    (pool, phones, legs)
}

/// μ-law samples of a tone at `hz`, from sample `start` on.
fn tone(hz: f64, start: usize, len: usize, level: f64) -> Vec<u8> {
    (start..start + len)
        .map(|n| {
            let t = n as f64 / 8000.0;
            ulaw_encode((level * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16)
        })
        .collect()
}

/// The phone speaks a tone at `hz`, a 20 ms packet every 20 ms, until the task is aborted.
fn speak(phone: &Phone, hz: f64) -> JoinHandle<()> {
    let (socket, to) = (phone.socket.clone(), phone.hub_port);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for seq in 0u16.. {
            tick.tick().await;
            let mut p = vec![0x80, 0];
            p.extend_from_slice(&seq.to_be_bytes());
            p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, 42]);
            p.extend(tone(hz, usize::from(seq) * 160, 160, LEVEL));
            let _ = socket.send_to(&p, to).await;
        }
    })
}

/// Drops what the phone received so far.
fn drain(phone: &Phone) {
    let mut buf = [0u8; 2048];
    while phone.socket.try_recv_from(&mut buf).is_ok() {}
}

/// The next `samples` decoded samples the phone hears.
async fn listen(phone: &Phone, samples: usize) -> Vec<i16> {
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    while out.len() < samples {
        let (n, _) = timeout(WAIT, phone.socket.recv_from(&mut buf))
            .await
            .expect("audio")
            .unwrap();
        assert_eq!(buf[1] & 0x7f, 0, "PCMU");
        out.extend(buf[12..n].iter().map(|&c| ulaw_decode(c)));
    }
    out.truncate(samples);
    out
}

/// The amplitude of the `hz` component, averaged over whole windows (Goertzel).
fn amplitude(samples: &[i16], hz: f64) -> f64 {
    let windows: Vec<_> = samples.chunks_exact(WINDOW).collect();
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * hz / 8000.0).cos();
    let total: f64 = windows
        .iter()
        .map(|w| {
            let (mut s1, mut s2) = (0.0, 0.0);
            for &x in *w {
                let s = f64::from(x) + coeff * s1 - s2;
                s2 = s1;
                s1 = s;
            }
            let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
            2.0 * power.sqrt() / WINDOW as f64
        })
        .sum();
    total / windows.len() as f64
}

/// Which of `tones` the samples carry (above a quarter of the speaking level); the others
/// must be well below it.
fn heard(samples: &[i16], tones: &[f64]) -> Vec<f64> {
    tones
        .iter()
        .copied()
        .filter(|&hz| {
            let a = amplitude(samples, hz);
            assert!(
                !(LEVEL / 20.0..LEVEL / 4.0).contains(&a),
                "{hz} Hz neither clearly there nor clearly absent: {a:.0}"
            );
            a >= LEVEL / 4.0
        })
        .collect()
}

fn one_khz(ms: usize) -> Play {
    Play {
        items: vec![Arc::from(tone(1000.0, 0, 8 * ms, LEVEL))],
        looping: false,
        pt: 0,
        silence: g711::ULAW_SILENCE,
    }
}

#[tokio::test]
async fn a_tone_overlaid_on_a_bridge_is_heard_with_the_other_party() {
    let (pool, phones, legs) = phones(2).await;
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let hub = Hub::start(legs, Some(events_tx));
    hub.set_audio(0, PCMU);
    hub.set_audio(1, PCMU);
    hub.bridge(0, 1, PtMap::identity());
    let a = speak(&phones[0], 440.0);
    let b = &phones[1];
    listen(b, 1600).await;
    assert_eq!(heard(&listen(b, 1600).await, &[440.0, 1000.0]), [440.0]);
    hub.overlay(1, one_khz(800), Gain::UNITY);
    tokio::time::sleep(Duration::from_millis(100)).await;
    drain(b);
    let both = listen(b, 3 * WINDOW).await;
    assert_eq!(heard(&both, &[440.0, 1000.0]), [440.0, 1000.0]);
    let event = timeout(WAIT, events.recv()).await.expect("the end");
    assert_eq!(event, Some(HubEvent::OverlayDone { leg: 1 }));
    tokio::time::sleep(Duration::from_millis(60)).await;
    drain(b);
    assert_eq!(heard(&listen(b, 1600).await, &[440.0, 1000.0]), [440.0]);
    a.abort();
    hub.stop().await;
    assert_eq!(pool.in_use(), 0);
}

#[tokio::test]
async fn whisper_the_seat_hears_caller_and_supervisor_the_caller_only_the_seat() {
    let (caller, seat, supervisor) = (0, 1, 2);
    let tones = [440.0, 1000.0, 1600.0];
    let (_pool, phones, legs) = phones(3).await;
    let hub = Hub::start(legs, None);
    for leg in 0..3 {
        hub.set_audio(leg, PCMU);
    }
    let u = Gain::UNITY;
    hub.hear(seat, vec![(caller, u), (supervisor, u)]);
    hub.hear(caller, vec![(seat, u)]);
    hub.hear(supervisor, vec![(caller, u), (seat, u)]);
    let speakers: Vec<_> = phones
        .iter()
        .zip(tones)
        .map(|(p, hz)| speak(p, hz))
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for p in &phones {
        drain(p);
    }
    let expected = [vec![1000.0], vec![440.0, 1600.0], vec![440.0, 1000.0]];
    for (leg, want) in expected.iter().enumerate() {
        let got = heard(&listen(&phones[leg], 2 * WINDOW).await, &tones);
        assert_eq!(&got, want, "leg {leg}");
    }
    speakers.iter().for_each(JoinHandle::abort);
    hub.stop().await;
}

/// Barge on a bridge: caller and seat keep their bridge and each also hears the supervisor,
/// through a later re-bridge too; back to listen, the supervisor is heard by nobody.
#[tokio::test]
async fn legs_heard_on_top_of_a_bridge_stay_through_a_rebridge_until_cleared() {
    let (caller, seat, supervisor) = (0, 1, 2);
    let tones = [440.0, 1000.0, 1600.0];
    let (_pool, phones, legs) = phones(3).await;
    let hub = Hub::start(legs, None);
    for leg in 0..3 {
        hub.set_audio(leg, PCMU);
    }
    let u = Gain::UNITY;
    hub.bridge(caller, seat, PtMap::identity());
    hub.hear(supervisor, vec![(caller, u), (seat, u)]);
    hub.also_hear(caller, vec![(supervisor, u)]);
    hub.also_hear(seat, vec![(supervisor, u)]);
    // The call's own change (say, back from a consultation) keeps the barge.
    hub.bridge(caller, seat, PtMap::identity());
    let speakers: Vec<_> = phones
        .iter()
        .zip(tones)
        .map(|(p, hz)| speak(p, hz))
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for p in &phones {
        drain(p);
    }
    let expected = [
        vec![1000.0, 1600.0],
        vec![440.0, 1600.0],
        vec![440.0, 1000.0],
    ];
    for (leg, want) in expected.iter().enumerate() {
        let got = heard(&listen(&phones[leg], 2 * WINDOW).await, &tones);
        assert_eq!(&got, want, "barge: leg {leg}");
    }
    hub.also_hear(caller, Vec::new());
    hub.also_hear(seat, Vec::new());
    tokio::time::sleep(Duration::from_millis(100)).await;
    for p in &phones {
        drain(p);
    }
    let expected = [vec![1000.0], vec![440.0], vec![440.0, 1000.0]];
    for (leg, want) in expected.iter().enumerate() {
        let got = heard(&listen(&phones[leg], 2 * WINDOW).await, &tones);
        assert_eq!(&got, want, "listen: leg {leg}");
    }
    speakers.iter().for_each(JoinHandle::abort);
    hub.stop().await;
}

#[tokio::test]
async fn a_source_at_half_gain_is_six_db_lower() {
    let (_pool, phones, legs) = phones(2).await;
    let hub = Hub::start(legs, None);
    hub.set_audio(0, PCMU);
    hub.set_audio(1, PCMU);
    let a = speak(&phones[0], 1000.0);
    let b = &phones[1];
    let mut levels = Vec::new();
    for gain in [1.0, 0.5] {
        hub.hear(1, vec![(0, Gain::new(gain))]);
        tokio::time::sleep(Duration::from_millis(100)).await;
        drain(b);
        levels.push(amplitude(&listen(b, 2 * WINDOW).await, 1000.0));
    }
    let db = 20.0 * (levels[1] / levels[0]).log10();
    assert!((db + 6.02).abs() < 0.5, "{levels:?}: {db:.2} dB");
    a.abort();
    hub.stop().await;
}

#[tokio::test]
async fn a_burst_of_commands_is_never_dropped() {
    let (pool, phones, mut legs) = phones(2).await;
    let second = legs.pop().unwrap();
    let hub = Hub::start(legs, None);
    let elsewhere: SocketAddr = (LOCALHOST, 9).into();
    for i in 0..1000 {
        if i % 2 == 0 {
            hub.set_remote(0, elsewhere);
        } else {
            hub.silence(0);
        }
    }
    hub.set_remote(0, phones[0].socket.local_addr().unwrap());
    let seat = hub.add_leg(second);
    hub.bridge(0, seat, PtMap::identity());
    let mut voice = vec![0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9];
    voice.extend_from_slice(&[7u8; 160]);
    phones[0]
        .socket
        .send_to(&voice, phones[0].hub_port)
        .await
        .unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = timeout(WAIT, phones[1].socket.recv_from(&mut buf))
        .await
        .expect("the bridge works")
        .unwrap();
    assert_eq!(&buf[12..n], &[7u8; 160]);
    hub.stop().await;
    assert_eq!(pool.in_use(), 0);
}

/// A leg that heard a looping playback (ringback while a unit rang), then is bridged back and
/// gets an overlay, hears the other party and the overlay.
#[tokio::test]
async fn after_a_looping_playback_a_bridge_with_an_overlay_is_heard() {
    let (pool, phones, legs) = phones(2).await;
    let (events_tx, _events) = mpsc::unbounded_channel();
    let hub = Hub::start(legs, Some(events_tx));
    hub.set_audio(0, PCMU);
    hub.set_audio(1, PCMU);
    let a = speak(&phones[0], 440.0);
    let b = &phones[1];
    // Caller and seat talk first (a relay), as before a consultation.
    hub.bridge(0, 1, PtMap::identity());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut ringback = one_khz(400);
    ringback.looping = true;
    // The caller holds with music meanwhile.
    let mut music = one_khz(400);
    music.items = vec![Arc::from(tone(700.0, 0, 8 * 400, LEVEL))];
    music.looping = true;
    hub.play(0, music);
    hub.play(1, ringback);
    tokio::time::sleep(Duration::from_millis(300)).await;
    drain(b);
    assert_eq!(heard(&listen(b, 1600).await, &[440.0, 1000.0]), [1000.0]);
    hub.bridge(0, 1, PtMap::identity());
    let mut beeps = one_khz(800);
    beeps.items = vec![Arc::from(tone(1600.0, 0, 8 * 800, LEVEL))];
    hub.overlay(1, beeps, Gain::UNITY);
    tokio::time::sleep(Duration::from_millis(100)).await;
    drain(b);
    let both = listen(b, 3 * WINDOW).await;
    assert_eq!(heard(&both, &[440.0, 1000.0, 1600.0]), [440.0, 1600.0]);
    a.abort();
    hub.stop().await;
    assert_eq!(pool.in_use(), 0);
}
