//! The conference mixer on one core.
//!
//! `cargo bench --bench mixer`
//!
//! `MIXERS` three-way mixers (two μ-law parties and one A-law, so every tick
//! transcodes), each round pushing one 20 ms frame per party (with a lost
//! frame now and then, so concealment runs too) and ticking every mixer
//! once, consuming every party's output. Reports ns per mixer tick (push of
//! three frames included) and how many three-way calls one core could mix
//! in real time, one tick per call every 20 ms.

mod common;

use std::hint::black_box;

use common::{print_context, time_rounds, Summary};
use hotline::media::g711;
use hotline::media::mixer::{Mixer, PartyId, FRAME_BYTES};
use hotline::media::sdp::Codec;

const MIXERS: usize = 500;
const ROUNDS_PER_SAMPLE: u32 = 200;
const TICK_NS: f64 = 20_000_000.0;

fn main() {
    print_context("mixer");
    let codecs = [Codec::Pcmu, Codec::Pcma, Codec::Pcmu];
    // Speech-like input: a different tone per party.
    let frames: Vec<[u8; FRAME_BYTES]> = codecs
        .iter()
        .enumerate()
        .map(|(p, &codec)| {
            let pcm: Vec<i16> = (0..FRAME_BYTES)
                .map(|i| {
                    let t = i as f64 / 8000.0;
                    (8000.0 * (2.0 * std::f64::consts::PI * (300.0 + 250.0 * p as f64) * t).sin())
                        as i16
                })
                .collect();
            let mut out = [0; FRAME_BYTES];
            g711::encode_frame(codec, &pcm, &mut out);
            out
        })
        .collect();
    let mut mixers: Vec<Mixer> = (0..MIXERS)
        .map(|_| {
            let mut m = Mixer::default();
            for (p, &codec) in codecs.iter().enumerate() {
                m.add_party(PartyId(p as u64), codec).unwrap();
            }
            m
        })
        .collect();
    let mut seq: u16 = 0;
    let per_round = time_rounds(ROUNDS_PER_SAMPLE, 3, 15, || {
        seq = seq.wrapping_add(1);
        for (i, m) in mixers.iter_mut().enumerate() {
            for (p, frame) in frames.iter().enumerate() {
                // Lose about one frame in 50, spread over calls and parties.
                if (usize::from(seq) + i + p) % 50 == 0 {
                    continue;
                }
                m.push(PartyId(p as u64), seq, u32::from(seq) * 160, frame)
                    .unwrap();
            }
            for (id, bytes) in m.tick() {
                black_box((id, bytes));
            }
        }
    });
    let per_tick: Vec<f64> = per_round.iter().map(|ns| ns / MIXERS as f64).collect();
    let s = Summary::of(&per_tick);
    println!(
        "{MIXERS} three-way mixers (PCMU+PCMA+PCMU), push 3 frames + tick: {:.0} ns per mixer tick \
         (min {:.0}, max {:.0}, spread {:.0}%)",
        s.median,
        s.min,
        s.max,
        s.spread_pct()
    );
    println!(
        "one core sustains about {:.0} three-way calls in real time (a tick every 20 ms), \
         {:.0} at worst round",
        TICK_NS / s.median,
        TICK_NS / s.max
    );
    for m in &mixers {
        let st = m.stats(PartyId(0)).unwrap();
        assert!(st.played > 0 && st.concealed > 0, "{st:?}");
    }
}
