//! The fuzz targets of `fuzz/` on the stable toolchain: for each, the seed corpus and the kept
//! crash inputs (`tests/fuzz_regressions/<target>/`) as they are, then seeded mutations of them
//! (bit flips, byte changes, insertions, deletions, duplications, splices, truncations), through
//! the same entry functions (`hotline::fuzzing`). Only "no panic" is asserted, with the
//! invariants the entry functions check themselves.
//!
//! Deterministic: the same seed gives the same inputs in the same order. Bounded: at most
//! `HOTLINE_FUZZ_ITERATIONS` mutated inputs per target (default 3,000) and, unless that variable
//! is set, at most 3 s of them per target. A panicking input is written to
//! `target/tmp/fuzz_smoke/<target>-<n>` to be kept as a regression file.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hotline::auth::NonceKey;
use hotline::fuzzing::TARGETS;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DEFAULT_ITERATIONS: u64 = 3_000;
const DEFAULT_BUDGET: Duration = Duration::from_secs(3);
const SEED: u64 = 0x1234_5c0f_fee0_0001;
/// Failing inputs reported per target before giving up on it.
const MAX_FAILURES: usize = 5;

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/testdata/<name>` from the project's root, or from the nearest ancestor that has it
/// (a worktree sits a level deeper). `None` where the shared test data is not checked out.
fn testdata(name: &str) -> Option<PathBuf> {
    crate_dir()
        .ancestors()
        .skip(1)
        .map(|dir| dir.join("shared/testdata").join(name))
        .find(|dir| dir.is_dir())
}

/// Every file of `dir`, by name, or none when it does not exist.
fn files(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

fn torture() -> Vec<Vec<u8>> {
    testdata("rfc4475").map_or_else(Vec::new, |dir| files(&dir))
}

/// The INVITE of each PROTOS case (after its length prefix), every `step`-th case.
fn protos(step: usize) -> Vec<Vec<u8>> {
    let Some(dir) = testdata("protos-c07-sip") else {
        return Vec::new();
    };
    files(&dir)
        .into_iter()
        .step_by(step)
        .filter_map(|case| {
            let space = case.iter().position(|b| *b == b' ')?;
            let len: usize = std::str::from_utf8(&case[..space]).ok()?.parse().ok()?;
            let invite = case.get(space + 1..space + 1 + len)?;
            let filled = String::from_utf8_lossy(invite)
                .replace("<Content-Length>", "0")
                .replace("<Branch-ID>", "1")
                .replace("<CSeq>", "1")
                .replace("<Local-Port>", "5062");
            Some(filled.into_bytes())
        })
        .collect()
}

/// What follows the blank line of each message.
fn bodies(messages: &[Vec<u8>]) -> Vec<Vec<u8>> {
    messages
        .iter()
        .filter_map(|m| {
            let end = m.windows(4).position(|w| w == b"\r\n\r\n")?;
            Some(m[end + 4..].to_vec()).filter(|b| !b.is_empty())
        })
        .collect()
}

/// Each header value of the messages whose name is one of `names`.
fn header_values(messages: &[Vec<u8>], names: &[&str]) -> Vec<Vec<u8>> {
    let mut values = Vec::new();
    for message in messages {
        for line in String::from_utf8_lossy(message).lines() {
            if let Some((name, value)) = line.split_once(':') {
                if names.iter().any(|n| n.eq_ignore_ascii_case(name.trim())) {
                    values.push(value.trim().as_bytes().to_vec());
                }
            }
        }
    }
    values
}

const OFFER: &str = "v=0\r\no=caller 123 1 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\n\
t=0 0\r\nm=audio 40000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n";

const HOLD: &str = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
m=audio 9 RTP/AVP 0\r\na=inactive\r\nm=video 0 RTP/AVP 31\r\n";

/// One RTP packet in the `rtp_and_dtmf` framing: its length, then the packet.
fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, csrcs: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80 | csrcs, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x1234_5678_u32.to_be_bytes());
    p.extend(std::iter::repeat_n(0, 4 * usize::from(csrcs)));
    p.extend_from_slice(payload);
    let mut framed = vec![u8::try_from(p.len()).unwrap_or(u8::MAX)];
    framed.extend(p);
    framed
}

fn rtp_seeds() -> Vec<Vec<u8>> {
    let key = |k: u8, end: bool, dur: u16| {
        let d = dur.to_be_bytes();
        [k, if end { 0x80 | 10 } else { 10 }, d[0], d[1]]
    };
    let mut press = Vec::new();
    for (i, (k, end, dur)) in [
        (5, false, 160),
        (5, false, 320),
        (5, true, 480),
        (5, true, 480),
    ]
    .into_iter()
    .enumerate()
    {
        press.extend(rtp(101, i == 0, 7 + i as u16, 8000, 0, &key(k, end, dur)));
    }
    let mut audio = Vec::new();
    for i in 0..4u16 {
        audio.extend(rtp(0, i == 0, 100 + i, 160 * u32::from(i), 0, &[0xff; 160]));
    }
    let mut mixed = audio.clone();
    mixed.extend(rtp(101, true, 104, 640, 1, &key(16, false, 80)));
    mixed.extend(rtp(0, false, 65_535, u32::MAX, 15, &[0x7f; 40]));
    vec![press, audio, mixed]
}

fn prompt_headers() -> Vec<Vec<u8>> {
    files(&crate_dir().join("prompts/zh"))
        .into_iter()
        .take(4)
        .map(|mut wav| {
            wav.truncate(400);
            wav
        })
        .collect()
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let text = |s: &str| s.as_bytes().to_vec();
    let mut seeds = match target {
        "sip_message" => {
            let mut s = torture();
            s.extend(protos(50));
            s
        }
        "sip_uri" => {
            let mut s = header_values(
                &torture(),
                &["From", "To", "Contact", "Via", "CSeq", "Refer-To", "Route"],
            );
            s.extend(
                [
                    "sip:+861012345@[2001:db8::1]:5060;user=phone;transport=tcp?subject=a%20b",
                    "\"Seat\" <sip:1001@hotline.local>;tag=a1b2;expires=60",
                    "<sip:1201@hotline.local?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>",
                    "abc@host;to-tag=1;from-tag=2;early-only",
                    "SIP/2.0 200 OK",
                ]
                .map(text),
            );
            s
        }
        "sdp" => {
            let mut s = bodies(&torture());
            s.extend([OFFER, HOLD].map(text));
            s
        }
        "rtp_and_dtmf" => rtp_seeds(),
        "sip_info" => [
            "application/dtmf-relay\nSignal=5\r\nDuration=160\r\n",
            "Application/DTMF-Relay; charset=utf-8\nsignal= 11\n",
            "application/dtmf\n#",
            "application/dtmf\n10",
        ]
        .map(text)
        .to_vec(),
        "digest_auth" => {
            let nonce = NonceKey::from_bytes([7; 32]).mint(1_800_000_000);
            let mut s = header_values(&torture(), &["Authorization", "Proxy-Authorization"]);
            s.push(text(&format!(
                "Digest username=\"1001\", realm=\"hotline.local\", nonce=\"{nonce}\", \
                 uri=\"sip:hotline.local\", response=\"0123456789abcdef0123456789abcdef\", \
                 algorithm=MD5, qop=auth, nc=00000001, cnonce=\"x\", opaque=\"\""
            )));
            s.push(text(
                "Digest username=\"1001\",realm=\"hotline.local\",nonce=\"00\",uri=\"sip:a\",\
                 response=\"0000000000000000000000000000000000000000000000000000000000000000\",\
                 algorithm=SHA-256",
            ));
            s
        }
        "wav" => prompt_headers(),
        "config_and_dialplan" => {
            let read = |p: &str| std::fs::read(crate_dir().join(p)).unwrap_or_default();
            let mut both = read("config/hotline.toml");
            both.push(0);
            both.extend(read("dialplans/hotline.toml"));
            vec![both]
        }
        other => panic!("no seeds for the target {other}"),
    };
    seeds.extend(files(
        &crate_dir().join("tests/fuzz_regressions").join(target),
    ));
    if seeds.is_empty() {
        seeds.push(Vec::new());
    }
    seeds
}

/// Bytes that matter to the parsers, for insertions.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
    b" ",
    b"\t",
    b":",
    b";",
    b",",
    b"=",
    b"<",
    b">",
    b"\"",
    b"\\",
    b"%",
    b"%0",
    b"@",
    b"[",
    b"]",
    b"?",
    b"&",
    b"#",
    b"*",
    b"-",
    b".",
    b"/",
    b"0",
    b"9",
    b"65536",
    b"4294967296",
    b"18446744073709551616",
    b"-1",
    b"\0",
    b"\xff",
    b"\xe4\xb8\xad",
    b"sip:",
    b"SIP/2.0",
    b"z9hG4bK",
    b"Content-Length: ",
    b"l: 0",
    b"m=audio ",
    b"a=rtpmap:",
    b"RIFF",
    b"data",
    b"fmt ",
    b"[[",
    b"]]",
    b"'''",
    b"\"\"\"",
];

fn mutate(rng: &mut StdRng, input: &mut Vec<u8>, other: &[u8]) {
    for _ in 0..rng.random_range(1..=4) {
        let len = input.len();
        let at = rng.random_range(0..=len);
        match rng.random_range(0..9) {
            0 if len > 0 => {
                let i = at.min(len - 1);
                input[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = at.min(len - 1);
                input[i] = rng.random();
            }
            2 => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                input.splice(at..at, token.iter().copied());
            }
            3 => {
                let end = (at + rng.random_range(1..=16)).min(len);
                input.drain(at..end);
            }
            4 => {
                let end = (at + rng.random_range(1..=64)).min(len);
                let copy = input[at..end].to_vec();
                let to = rng.random_range(0..=len);
                input.splice(to..to, copy);
            }
            5 if !other.is_empty() => {
                let from = rng.random_range(0..other.len());
                let end = (from + rng.random_range(1..=128)).min(other.len());
                input.splice(at..at, other[from..end].iter().copied());
            }
            6 => input.truncate(at),
            7 => {
                let byte: u8 = rng.random();
                let most = if rng.random_bool(0.1) { 2_000 } else { 8 };
                let n = rng.random_range(1..=most);
                input.splice(at..at, std::iter::repeat_n(byte, n));
            }
            _ => {
                let end = (at + rng.random_range(1..=8)).min(len);
                input[at..end].reverse();
            }
        }
    }
}

struct Outcome {
    inputs: u64,
    failures: Vec<String>,
}

fn run(name: &str, entry: fn(&[u8])) -> Outcome {
    let iterations = std::env::var("HOTLINE_FUZZ_ITERATIONS").ok().map(|v| {
        v.parse::<u64>()
            .expect("HOTLINE_FUZZ_ITERATIONS is a count")
    });
    let budget = match std::env::var("HOTLINE_FUZZ_SECONDS") {
        Ok(s) => Some(Duration::from_secs(
            s.parse().expect("HOTLINE_FUZZ_SECONDS"),
        )),
        Err(_) if iterations.is_some() => None,
        Err(_) => Some(DEFAULT_BUDGET),
    };
    let iterations = iterations.unwrap_or(DEFAULT_ITERATIONS);
    let seeds = seeds(name);
    let mut failures = Vec::new();
    let mut inputs = 0;
    let mut try_one = |input: &[u8], failures: &mut Vec<String>| {
        inputs += 1;
        if catch_unwind(AssertUnwindSafe(|| entry(input))).is_err() {
            failures.push(keep(name, failures.len(), input));
        }
    };
    for seed in &seeds {
        try_one(seed, &mut failures);
    }
    // One generator per target, so a target's inputs do not depend on the others.
    let mut rng = StdRng::seed_from_u64(SEED ^ name.bytes().map(u64::from).sum::<u64>());
    let started = Instant::now();
    for _ in 0..iterations {
        if failures.len() >= MAX_FAILURES || budget.is_some_and(|b| started.elapsed() > b) {
            break;
        }
        let mut input = seeds[rng.random_range(0..seeds.len())].clone();
        let other = &seeds[rng.random_range(0..seeds.len())];
        mutate(&mut rng, &mut input, other);
        try_one(&input, &mut failures);
    }
    Outcome { inputs, failures }
}

/// Writes a panicking input where it can be picked up, and says where.
fn keep(target: &str, n: usize, input: &[u8]) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz_smoke");
    let path = dir.join(format!("{target}-{n}"));
    let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, input));
    match written {
        Ok(()) => format!("{} ({} bytes)", path.display(), input.len()),
        Err(e) => format!("{:?} (not written: {e})", String::from_utf8_lossy(input)),
    }
}

fn fuzz(name: &str) {
    let entry = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, entry)| *entry)
        .unwrap_or_else(|| panic!("no fuzz target {name}"));
    let started = Instant::now();
    let outcome = run(name, entry);
    println!(
        "{name}: {} inputs in {:.1} s",
        outcome.inputs,
        started.elapsed().as_secs_f64()
    );
    assert!(
        outcome.failures.is_empty(),
        "{name} panicked on:\n  {}",
        outcome.failures.join("\n  ")
    );
}

#[test]
fn every_target_has_a_test_and_a_cargo_fuzz_file() {
    let tests = include_str!("fuzz_smoke.rs");
    for (name, _) in TARGETS {
        assert!(
            tests.contains(&format!("fn {name}() {{")),
            "no test for {name}"
        );
        let file = crate_dir().join(format!("fuzz/fuzz_targets/{name}.rs"));
        assert!(file.is_file(), "no {}", file.display());
    }
}

#[test]
fn sip_message() {
    fuzz("sip_message");
}

#[test]
fn sip_uri() {
    fuzz("sip_uri");
}

#[test]
fn sdp() {
    fuzz("sdp");
}

#[test]
fn rtp_and_dtmf() {
    fuzz("rtp_and_dtmf");
}

#[test]
fn sip_info() {
    fuzz("sip_info");
}

#[test]
fn digest_auth() {
    fuzz("digest_auth");
}

#[test]
fn wav() {
    fuzz("wav");
}

#[test]
fn config_and_dialplan() {
    fuzz("config_and_dialplan");
}
