use super::*;
use crate::media::g711::{alaw_decode, alaw_encode, ulaw_decode, ulaw_encode};

const A: PartyId = PartyId(1);
const B: PartyId = PartyId(2);
const C: PartyId = PartyId(3);

/// A frame of one constant level in `codec`.
fn frame(codec: Codec, level: i16) -> [u8; FRAME_BYTES] {
    let mut out = [0; FRAME_BYTES];
    g711::encode_frame(codec, &[level; FRAME_BYTES], &mut out);
    out
}

/// The level a constant frame decodes to.
fn q(codec: Codec, level: i16) -> i16 {
    match codec {
        Codec::Pcmu => ulaw_decode(ulaw_encode(level)),
        Codec::Pcma => alaw_decode(alaw_encode(level)),
    }
}

fn enc(codec: Codec, level: i16) -> u8 {
    match codec {
        Codec::Pcmu => ulaw_encode(level),
        Codec::Pcma => alaw_encode(level),
    }
}

/// One tick, as (party, bytes), sorted by party.
fn tick(m: &mut Mixer) -> Vec<(PartyId, Vec<u8>)> {
    let mut v: Vec<_> = m.tick().map(|(id, b)| (id, b.to_vec())).collect();
    v.sort();
    v
}

/// The bytes `id` heard, asserting the frame is one constant byte.
fn heard(out: &[(PartyId, Vec<u8>)], id: PartyId) -> u8 {
    let bytes = &out
        .iter()
        .find(|(p, _)| *p == id)
        .expect("party in output")
        .1;
    assert_eq!(bytes.len(), FRAME_BYTES);
    assert!(bytes.iter().all(|&b| b == bytes[0]), "{id} heard {bytes:?}");
    bytes[0]
}

/// A mixer with no playout delay, so a frame pushed before a tick is mixed
/// by it.
fn mixer(parties: &[(PartyId, Codec)]) -> Mixer {
    let mut m = Mixer::with_playout_delay(parties.len(), 0);
    for &(id, codec) in parties {
        m.add_party(id, codec).unwrap();
    }
    m
}

#[test]
fn each_party_hears_the_other_two_exactly() {
    let u = Codec::Pcmu;
    let mut m = mixer(&[(A, u), (B, u), (C, u)]);
    m.push(A, 100, 0, &frame(u, 1000)).unwrap();
    m.push(B, 7, 0, &frame(u, -3000)).unwrap();
    m.push(C, 9000, 0, &frame(u, 500)).unwrap();
    let out = tick(&mut m);
    let (a, b, c) = (q(u, 1000), q(u, -3000), q(u, 500));
    // Known μ-law levels, so the expected bytes below are plain numbers.
    assert_eq!((a, b, c), (988, -3004, 492));
    assert_eq!(heard(&out, A), enc(u, b + c));
    assert_eq!(heard(&out, B), enc(u, a + c));
    assert_eq!(heard(&out, C), enc(u, a + b));
    assert_eq!(
        (heard(&out, A), heard(&out, B), heard(&out, C)),
        (0x3B, 0xC6, 0x3F)
    );
    // Decoded, each hears the others' sum within μ-law's step there.
    for (id, want) in [(A, b + c), (B, a + c), (C, a + b)] {
        let got = ulaw_decode(heard(&out, id));
        assert!((got - want).abs() <= 64, "{id}: {got} vs {want}");
    }
}

#[test]
fn pcmu_and_pcma_parties_in_one_mix() {
    let (u, al) = (Codec::Pcmu, Codec::Pcma);
    let mut m = mixer(&[(A, u), (B, al), (C, u)]);
    m.push(A, 1, 0, &frame(u, 2000)).unwrap();
    m.push(B, 1, 0, &frame(al, 4000)).unwrap();
    m.push(C, 1, 0, &frame(u, -1000)).unwrap();
    let out = tick(&mut m);
    let (a, b, c) = (q(u, 2000), q(al, 4000), q(u, -1000));
    assert_eq!(heard(&out, A), enc(u, b + c));
    // B is A-law: it hears the μ-law parties transcoded into A-law.
    assert_eq!(heard(&out, B), enc(al, a + c));
    assert_eq!(heard(&out, C), enc(u, a + b));
    assert!((alaw_decode(heard(&out, B)) - (a + c)).abs() <= 64);
}

#[test]
fn silence_in_silence_out() {
    let (u, al) = (Codec::Pcmu, Codec::Pcma);
    let mut m = mixer(&[(A, u), (B, al)]);
    // Nobody has sent anything: μ-law +0 and the A-law code of the smallest
    // level.
    let out = tick(&mut m);
    assert_eq!(heard(&out, A), g711::ULAW_SILENCE);
    assert_eq!(heard(&out, B), g711::ALAW_SILENCE);
    // Digital silence from each, transcoded to the other.
    m.push(A, 1, 0, &[g711::ULAW_SILENCE; FRAME_BYTES]).unwrap();
    m.push(B, 1, 0, &[g711::ALAW_SILENCE; FRAME_BYTES]).unwrap();
    let out = tick(&mut m);
    assert_eq!(heard(&out, A), ulaw_encode(alaw_decode(g711::ALAW_SILENCE)));
    assert_eq!(heard(&out, B), g711::ALAW_SILENCE);
}

#[test]
fn a_lost_packet_is_concealed_once_then_silence() {
    let u = Codec::Pcmu;
    let mut m = mixer(&[(A, u), (B, u)]);
    let level = q(u, 4000);
    m.push(A, 10, 0, &frame(u, 4000)).unwrap();
    assert_eq!(heard(&tick(&mut m), B), enc(u, level));
    // 11 and 12 lost: half the last frame, then nothing.
    assert_eq!(heard(&tick(&mut m), B), enc(u, level / 2));
    assert_eq!(heard(&tick(&mut m), B), g711::ULAW_SILENCE);
    assert_eq!(heard(&tick(&mut m), B), g711::ULAW_SILENCE);
    let s = m.stats(A).unwrap();
    assert_eq!((s.received, s.played, s.concealed), (1, 1, 1));
    // A resumes with the next number it would have sent (a pause, not a
    // loss): playout re-anchors on it.
    m.push(A, 11, 0, &frame(u, -2000)).unwrap();
    assert_eq!(heard(&tick(&mut m), B), enc(u, q(u, -2000)));
    // A lost in the middle of a run, the next one already buffered.
    m.push(A, 13, 0, &frame(u, 1000)).unwrap();
    assert_eq!(heard(&tick(&mut m), B), enc(u, q(u, -2000) / 2));
    assert_eq!(heard(&tick(&mut m), B), enc(u, q(u, 1000)));
    assert_eq!(m.stats(A).unwrap().concealed, 2);
}

#[test]
fn reordered_packets_within_the_buffer_play_in_order() {
    let u = Codec::Pcmu;
    let mut m = Mixer::new(DEFAULT_MAX_PARTIES);
    m.add_party(A, u).unwrap();
    m.add_party(B, u).unwrap();
    // Default playout delay: the first frame waits one tick.
    m.push(A, 1, 0, &frame(u, 1000)).unwrap();
    assert_eq!(heard(&tick(&mut m), B), g711::ULAW_SILENCE);
    // 3 overtakes 2.
    m.push(A, 3, 320, &frame(u, 3000)).unwrap();
    assert_eq!(heard(&tick(&mut m), B), enc(u, q(u, 1000)));
    m.push(A, 2, 160, &frame(u, 2000)).unwrap();
    assert_eq!(heard(&tick(&mut m), B), enc(u, q(u, 2000)));
    assert_eq!(heard(&tick(&mut m), B), enc(u, q(u, 3000)));
    let s = m.stats(A).unwrap();
    assert_eq!((s.played, s.concealed, s.late), (3, 0, 0));
}

#[test]
fn late_and_duplicate_packets_are_dropped_and_counted() {
    let u = Codec::Pcmu;
    let mut m = mixer(&[(A, u), (B, u)]);
    m.push(A, 5, 0, &frame(u, 1000)).unwrap();
    m.push(A, 6, 0, &frame(u, 2000)).unwrap();
    m.push(A, 6, 0, &frame(u, 9000)).unwrap();
    assert_eq!(heard(&tick(&mut m), B), enc(u, q(u, 1000)));
    m.push(A, 5, 0, &frame(u, 9000)).unwrap();
    m.push(A, 4, 0, &frame(u, 9000)).unwrap();
    assert_eq!(heard(&tick(&mut m), B), enc(u, q(u, 2000)));
    let s = m.stats(A).unwrap();
    assert_eq!((s.received, s.duplicate, s.late, s.played), (5, 1, 2, 2));
}

#[test]
fn a_frame_far_ahead_moves_playout_up() {
    let u = Codec::Pcmu;
    let mut m = mixer(&[(A, u), (B, u)]);
    m.push(A, 1, 0, &frame(u, 1000)).unwrap();
    m.push(A, 2, 0, &frame(u, 2000)).unwrap();
    // 10 is beyond the buffer: 1 and 2 are dropped, 10 plays next.
    m.push(A, 10, 0, &frame(u, 3000)).unwrap();
    assert_eq!(heard(&tick(&mut m), B), enc(u, q(u, 3000)));
    assert_eq!(m.stats(A).unwrap().overrun, 2);
}

#[test]
fn sequence_numbers_wrap() {
    let u = Codec::Pcmu;
    let mut m = mixer(&[(A, u), (B, u)]);
    m.push(A, 65535, 0, &frame(u, 1000)).unwrap();
    m.push(A, 1, 0, &frame(u, 3000)).unwrap();
    m.push(A, 0, 0, &frame(u, 2000)).unwrap();
    for level in [1000, 2000, 3000] {
        assert_eq!(heard(&tick(&mut m), B), enc(u, q(u, level)));
    }
    assert_eq!(m.stats(A).unwrap().played, 3);
}

#[test]
fn the_sum_saturates() {
    let (u, al) = (Codec::Pcmu, Codec::Pcma);
    let mut m = mixer(&[(A, u), (B, al), (C, al)]);
    m.push(A, 1, 0, &frame(u, 30000)).unwrap();
    m.push(B, 1, 0, &frame(al, 30000)).unwrap();
    m.push(C, 1, 0, &frame(al, -30000)).unwrap();
    let out = tick(&mut m);
    // A hears B + C ≈ 0; C hears A + B ≈ 60000, clipped at full scale.
    assert_eq!(heard(&out, A), enc(u, q(al, 30000) + q(al, -30000)));
    assert_eq!(heard(&out, C), alaw_encode(i16::MAX));
    m.push(A, 2, 0, &frame(u, -30000)).unwrap();
    m.push(B, 2, 0, &frame(al, -30000)).unwrap();
    assert_eq!(heard(&tick(&mut m), C), alaw_encode(i16::MIN));
}

#[test]
fn a_party_with_nothing_to_say_still_hears_the_others() {
    let u = Codec::Pcmu;
    let mut m = mixer(&[(A, u), (B, u), (C, u)]);
    m.push(A, 1, 0, &frame(u, 1000)).unwrap();
    m.push(B, 1, 0, &frame(u, 2000)).unwrap();
    let out = tick(&mut m);
    let (a, b) = (q(u, 1000), q(u, 2000));
    assert_eq!(heard(&out, A), enc(u, b));
    assert_eq!(heard(&out, B), enc(u, a));
    assert_eq!(heard(&out, C), enc(u, a + b));
}

#[test]
fn max_parties_and_duplicates_are_refused() {
    let u = Codec::Pcmu;
    let mut m = Mixer::default();
    assert_eq!(m.max_parties(), 3);
    for id in [A, B, C] {
        m.add_party(id, u).unwrap();
    }
    assert_eq!(m.add_party(PartyId(4), u), Err(MixerError::Full { max: 3 }));
    assert_eq!(m.add_party(A, u), Err(MixerError::DuplicateParty(A)));
    let mut big = Mixer::new(5);
    for i in 0..5 {
        big.add_party(PartyId(i), u).unwrap();
    }
    assert!(big.add_party(PartyId(5), u).is_err());
    assert_eq!(big.tick().count(), 5);
}

#[test]
fn removed_party_leaves_the_mix() {
    let u = Codec::Pcmu;
    let mut m = mixer(&[(A, u), (B, u), (C, u)]);
    m.push(A, 1, 0, &frame(u, 1000)).unwrap();
    m.push(B, 1, 0, &frame(u, 2000)).unwrap();
    let stats = m.remove_party(B).unwrap();
    assert_eq!(stats.received, 1);
    assert_eq!(m.remove_party(B), Err(MixerError::UnknownParty(B)));
    assert_eq!(
        m.push(B, 2, 0, &frame(u, 0)),
        Err(MixerError::UnknownParty(B))
    );
    let out = tick(&mut m);
    assert_eq!(out.len(), 2);
    assert_eq!(heard(&out, C), enc(u, q(u, 1000)));
    assert_eq!(heard(&out, A), g711::ULAW_SILENCE);
    // The freed place can be taken again.
    m.add_party(PartyId(9), Codec::Pcma).unwrap();
    assert_eq!(m.len(), 3);
}

#[test]
fn frames_of_the_wrong_size_are_refused() {
    let mut m = mixer(&[(A, Codec::Pcmu)]);
    assert_eq!(
        m.push(A, 1, 0, &[0xFF; 80]),
        Err(MixerError::FrameSize { len: 80 })
    );
    assert_eq!(m.stats(A).unwrap().received, 0);
}

#[test]
fn a_listener_hears_only_its_sources_at_their_gains() {
    let u = Codec::Pcmu;
    let mut m = mixer(&[(A, u), (B, u), (C, u)]);
    // A whisper: B hears A and C (C at half), A hears B only, C hears nothing.
    m.set_listening(
        B,
        Listening::Sources(vec![(A, Gain::UNITY), (C, Gain::new(0.5))]),
    )
    .unwrap();
    m.set_listening(A, Listening::Sources(vec![(B, Gain::UNITY)]))
        .unwrap();
    m.set_listening(C, Listening::Nothing).unwrap();
    m.push(A, 1, 0, &frame(u, 1000)).unwrap();
    m.push(B, 1, 0, &frame(u, -3000)).unwrap();
    m.push(C, 1, 0, &frame(u, 2000)).unwrap();
    let out = tick(&mut m);
    assert_eq!(out.len(), 2, "C listens to nothing: {out:?}");
    let (a, b, c) = (q(u, 1000), q(u, -3000), q(u, 2000));
    assert_eq!(heard(&out, B), enc(u, a + c / 2));
    assert_eq!(heard(&out, A), enc(u, b));
    assert_eq!(
        m.set_listening(PartyId(9), Listening::Nothing),
        Err(MixerError::UnknownParty(PartyId(9)))
    );
}

#[test]
fn a_direct_party_is_heard_at_the_tick_it_was_put() {
    let (u, a) = (Codec::Pcmu, Codec::Pcma);
    let mut m = mixer(&[(A, u)]);
    m.set_max_parties(2);
    m.add_direct(B, a).unwrap();
    m.set_listening(A, Listening::Sources(vec![(B, Gain::UNITY)]))
        .unwrap();
    m.put_frame(B, &frame(a, 1200)).unwrap();
    let out = tick(&mut m);
    assert_eq!(out.len(), 1, "a direct party hears nothing");
    assert_eq!(heard(&out, A), enc(u, q(a, 1200)));
    let out = tick(&mut m);
    assert_eq!(heard(&out, A), enc(u, 0), "nothing put, nothing heard");
    assert_eq!(m.push(B, 1, 0, &frame(a, 0)), Err(MixerError::WrongFeed(B)));
    assert_eq!(m.put_frame(A, &frame(u, 0)), Err(MixerError::WrongFeed(A)));
    assert_eq!(
        m.put_frame(B, &[0; 80]),
        Err(MixerError::FrameSize { len: 80 })
    );
    assert_eq!(m.stats(B).map(|s| (s.received, s.played)), Some((1, 1)));
}

#[test]
fn gains_sum_and_saturate() {
    let u = Codec::Pcmu;
    let mut m = mixer(&[(A, u), (B, u), (C, u)]);
    m.set_listening(
        C,
        Listening::Sources(vec![(A, Gain::new(4.0)), (B, Gain::new(4.0))]),
    )
    .unwrap();
    m.push(A, 1, 0, &frame(u, 8000)).unwrap();
    m.push(B, 1, 0, &frame(u, 8000)).unwrap();
    let out = tick(&mut m);
    assert_eq!(heard(&out, C), enc(u, i16::MAX));
}
