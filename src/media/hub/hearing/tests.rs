//! Routes and mixing decided without sockets: which legs are relayed, which mixed, and what a
//! mixed leg's frames carry.

use std::sync::Arc;

use super::*;
use crate::media::g711::{ulaw_decode, ulaw_encode};

const PCMU: Audio = Audio {
    codec: Codec::Pcmu,
    pt: 0,
};
const PCMA: Audio = Audio {
    codec: Codec::Pcma,
    pt: 8,
};

fn hearing(legs: usize) -> Hearing {
    let mut h = Hearing::new();
    for _ in 0..legs {
        h.add_leg(Some(101));
    }
    h
}

/// A playback of `frames` frames of one μ-law level.
fn tone(level: i16, frames: usize) -> Playback {
    let audio: Arc<[u8]> = Arc::from(vec![ulaw_encode(level); FRAME * frames]);
    Playback::new(vec![audio], false, 0, g711::ULAW_SILENCE)
}

/// A packet's worth of one level from `leg`, then a tick: what each mixed leg heard, as the
/// decoded first sample.
fn tick(
    h: &mut Hearing,
    speaking: &[(LegIndex, u16, i16)],
) -> (Vec<(LegIndex, i16)>, Vec<HubEvent>) {
    for &(leg, seq, level) in speaking {
        h.on_packet(leg, 0, seq, 0, &[ulaw_encode(level); FRAME]);
    }
    let mut events = Vec::new();
    h.feed_playbacks(|e| events.push(e));
    let mut out: Vec<_> = h
        .mix_tick()
        .map(|(leg, pt, frame)| {
            assert_eq!(pt, 0);
            (leg, ulaw_decode(frame[0]))
        })
        .collect();
    out.sort();
    (out, events)
}

fn near(got: i16, want: i16) -> bool {
    (i32::from(got) - i32::from(want)).abs() <= i32::from(want.abs() / 16).max(16)
}

#[test]
fn a_bridge_is_relayed_both_ways_without_a_tick() {
    let mut h = hearing(2);
    let map = PtMap::identity().with(101, 96);
    h.bridge(0, 1, map);
    assert_eq!(
        h.route(1),
        Route::Relay {
            from: 0,
            map,
            forward: true
        }
    );
    assert_eq!(h.relays_from(1).collect::<Vec<_>>(), vec![(0, map, false)]);
    assert!(!h.ticking());
}

#[test]
fn an_overlay_on_a_bridge_is_mixed_with_the_other_party_then_ends() {
    let mut h = hearing(2);
    h.bridge(0, 1, PtMap::identity());
    h.overlay(1, tone(2000, 2), Gain::UNITY, PCMU);
    assert_eq!(h.route(1), Route::Mixed, "the overlaid leg is mixed");
    assert!(matches!(h.route(0), Route::Relay { from: 1, .. }));
    assert!(h.ticking());
    // Leg 0's first frame waits one tick in its buffer (the playout delay).
    let (out, _) = tick(&mut h, &[(0, 1, 1000)]);
    assert_eq!(out.len(), 1);
    assert!(near(out[0].1, 2000), "overlay alone first: {out:?}");
    let (out, _) = tick(&mut h, &[(0, 2, 1000)]);
    assert!(near(out[0].1, 3000), "overlay and party: {out:?}");
    let (_, events) = tick(&mut h, &[(0, 3, 1000)]);
    assert_eq!(events, vec![HubEvent::OverlayDone { leg: 1 }]);
    assert!(matches!(h.route(1), Route::Relay { from: 0, .. }));
    assert!(!h.ticking());
}

/// `leg` hears these legs at these gains, as `HubHandle::hear` asks.
fn hear(h: &mut Hearing, leg: LegIndex, sources: &[(LegIndex, Gain)]) {
    let sources = sources.to_vec();
    h.want(
        leg,
        Wanted::Sources {
            sources,
            relay: true,
        },
    );
}

#[test]
fn one_source_at_unity_in_the_same_codec_is_relayed_anything_else_mixed() {
    let mut h = hearing(3);
    for leg in 0..3 {
        h.set_audio(leg, PCMU);
    }
    hear(&mut h, 1, &[(0, Gain::UNITY)]);
    assert!(matches!(h.route(1), Route::Relay { from: 0, .. }));
    hear(&mut h, 1, &[(0, Gain::new(0.5))]);
    assert_eq!(h.route(1), Route::Mixed, "a gain needs decoding");
    h.set_audio(0, PCMA);
    hear(&mut h, 1, &[(0, Gain::UNITY)]);
    assert_eq!(h.route(1), Route::Mixed, "another codec needs transcoding");
    hear(&mut h, 1, &[]);
    assert_eq!(h.route(1), Route::Silence);
}

#[test]
fn a_whisper_each_hears_its_own_list() {
    let (caller, seat, supervisor) = (0, 1, 2);
    let mut h = hearing(3);
    for leg in 0..3 {
        h.set_audio(leg, PCMU);
    }
    let u = Gain::UNITY;
    hear(&mut h, seat, &[(caller, u), (supervisor, u)]);
    hear(&mut h, supervisor, &[(caller, u), (seat, u)]);
    hear(&mut h, caller, &[(seat, u)]);
    assert!(matches!(h.route(caller), Route::Relay { from: 1, .. }));
    let speaking = |seq| {
        [
            (caller, seq, 1000),
            (seat, seq, 2000),
            (supervisor, seq, 4000),
        ]
    };
    tick(&mut h, &speaking(1));
    let (out, _) = tick(&mut h, &speaking(2));
    assert_eq!(out.len(), 2, "the caller is relayed, not mixed: {out:?}");
    assert!(near(out[0].1, 5000), "seat: caller + supervisor: {out:?}");
    assert!(near(out[1].1, 3000), "supervisor: caller + seat: {out:?}");
}

#[test]
fn a_conference_party_that_leaves_is_no_longer_heard() {
    let mut h = hearing(3);
    h.mix(&[(0, PCMU), (1, PCMU), (2, PCMU)]);
    let speaking = |seq| [(0, seq, 1000), (1, seq, 2000), (2, seq, 4000)];
    tick(&mut h, &speaking(1));
    let (out, _) = tick(&mut h, &speaking(2));
    assert!(near(out[0].1, 6000), "{out:?}");
    h.want(2, Wanted::Silence);
    assert_eq!(h.route(2), Route::Silence);
    let (out, _) = tick(&mut h, &speaking(3));
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(near(out[0].1, 2000), "0 hears 1 only: {out:?}");
    assert!(near(out[1].1, 1000), "1 hears 0 only: {out:?}");
}

#[test]
fn a_playback_under_an_overlay_keeps_its_place_and_reports_its_end() {
    let mut h = hearing(1);
    h.want(0, Wanted::Playing(tone(1000, 2)));
    assert_eq!(h.route(0), Route::Play);
    h.overlay(0, tone(2000, 5), Gain::new(0.5), PCMU);
    let (out, _) = tick(&mut h, &[]);
    assert!(near(out[0].1, 2000), "playback + half the overlay: {out:?}");
    tick(&mut h, &[]);
    let (out, events) = tick(&mut h, &[]);
    assert_eq!(events, vec![HubEvent::PlaybackDone { leg: 0 }]);
    assert!(near(out[0].1, 1000), "the overlay goes on alone: {out:?}");
}
