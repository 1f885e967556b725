//! Concurrent calls with G.711 relayed both ways through the daemon, and its memory per call
//! (issue 12, item 4).
//!
//! `cargo bench --bench media_load` (build the daemon first: `cargo build --release`)
//!
//! Starts the release daemon (`HOTLINE_BIN`, default `target/release/hotline`) with
//! `config/hotline.toml` made loopback-only (ports picked by the kernel, a temp database,
//! `max_calls` and the RTP range raised, warnings only), registers seat 1001 from a raw UDP
//! "phone" and places calls as the trunk (127.0.0.1) to route 12346, which rings seat 1001.
//! For each step of the ladder (`MEDIA_LOAD_CALLS`, default "100 200 400 800"): N calls at
//! `MEDIA_LOAD_CPS` (200) per second; once all are up, a PCMU packet every 20 ms in each
//! direction of each call for `MEDIA_LOAD_SECS` (8) seconds, from one socket per side (our own
//! generator: one timer loop, one thread); then every call hung up with BYE. One line per
//! step: packets/s each way, loss, RFC 3550 jitter, late and out-of-order packets, the
//! daemon's CPU (utime + stime) per relayed packet, and its RSS per call.
//!
//! `MEDIA_LOAD_TARGET=kamailio` (or `cargo bench --bench media_load -- kamailio`) runs the same
//! ladder through the rig's Kamailio with `-A WITH_RTPENGINE` and its userspace rtpengine
//! (`RIG`, default `../shared/bench`): the seat answers on 127.0.0.1:5080 and the calls go to
//! 127.0.0.1:5070; CPU and memory are those of the Kamailio and rtpengine processes.

mod common;
#[path = "media_load/rtp.rs"]
mod rtp;
#[path = "media_load/seat.rs"]
mod seat;
#[path = "media_load/sip.rs"]
mod sip;
#[path = "media_load/target.rs"]
mod target;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::print_context;
use seat::Seat;
use sip::Uac;
use target::{cpu_ns, memory_kb, Daemon, Rig};

/// Route 12346 of the shipped dialplan rings seat 1001 directly.
const NUMBER: &str = "12346";
const MAX_CALLS: usize = 2000;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number")),
        Err(_) => default,
    }
}

struct Settings {
    ladder: Vec<usize>,
    secs: u64,
    rate: f64,
    kamailio: bool,
}

fn settings() -> Settings {
    let ladder: Vec<usize> = std::env::var("MEDIA_LOAD_CALLS")
        .unwrap_or_else(|_| "100 200 400 800".into())
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("MEDIA_LOAD_CALLS: numbers of calls"))
        .collect();
    assert!(
        !ladder.is_empty() && ladder.iter().all(|&n| (1..=MAX_CALLS).contains(&n)),
        "MEDIA_LOAD_CALLS: 1 to {MAX_CALLS} calls a step"
    );
    let secs = env_or("MEDIA_LOAD_SECS", 8u64);
    assert!((1..=60).contains(&secs), "MEDIA_LOAD_SECS: 1 to 60");
    let rate = env_or("MEDIA_LOAD_CPS", 200.0f64);
    assert!((1.0..=2000.0).contains(&rate), "MEDIA_LOAD_CPS: 1 to 2000");
    let kamailio = std::env::var("MEDIA_LOAD_TARGET").is_ok_and(|t| t == "kamailio")
        || std::env::args().skip(1).any(|a| a == "kamailio");
    Settings {
        ladder,
        secs,
        rate,
        kamailio,
    }
}

/// The bench process's own CPU time in ns.
fn own_cpu_ns() -> u64 {
    cpu_ns(&[std::process::id()])
}

fn mean_max(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    (mean, values.iter().copied().fold(0.0, f64::max))
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// `line` without terminal colour sequences (ESC [ ... m).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().take_while(|&c| c != 'm').for_each(drop);
        } else {
            out.push(c);
        }
    }
    out
}

fn main() {
    print_context("media_load");
    let settings = settings();
    let caller_rtp = Arc::new(rtp::bind_udp("127.0.0.1:0"));
    let seat_rtp = Arc::new(rtp::bind_udp("127.0.0.1:0"));
    let seat_media = seat_rtp.local_addr().expect("local addr");
    let caller_media = caller_rtp.local_addr().expect("local addr");

    // What is measured, kept alive (and stopped when dropped) until the end.
    let (daemon_guard, _rig, seat, sip_target, pids, what);
    if settings.kamailio {
        let rig_dir = std::env::var("RIG").map_or_else(
            |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bench"),
            PathBuf::from,
        );
        let rig = Rig::start(&rig_dir);
        seat = Seat::bind("127.0.0.1:5080");
        sip_target = SocketAddr::from(([127, 0, 0, 1], 5070));
        pids = rig.pids.clone();
        what = format!(
            "Kamailio -A WITH_RTPENGINE + userspace rtpengine ({} processes; memory is their summed Pss)",
            pids.len()
        );
        (daemon_guard, _rig) = (None, Some(rig));
    } else {
        let binary = std::env::var("HOTLINE_BIN").map_or_else(
            |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/hotline"),
            PathBuf::from,
        );
        let daemon = Daemon::start(&binary);
        seat = Seat::bind("127.0.0.1:0");
        seat.register(daemon.sip, "1001", "seat1001-secret");
        sip_target = daemon.sip;
        pids = vec![daemon.pid()];
        what = format!("hotline {} (pid {})", binary.display(), daemon.pid());
        (daemon_guard, _rig) = (Some(daemon), None);
    }
    let stop_seat = Arc::new(AtomicBool::new(false));
    let seat_thread = seat.serve(seat_media, stop_seat.clone());
    let mut uac = Uac::new(sip_target);

    println!("target: {what}, SIP at {sip_target}");
    println!(
        "calls to {NUMBER} at {} /s; then {} s of PCMU, 50 packets/s each way per call, from one socket per side; late = over {} ms sent to received",
        settings.rate,
        settings.secs,
        rtp::LATE_MS
    );
    println!(
        "{:>5} {:>5} {:>8} {:>8} {:>7} {:>7} {:>15} {:>15} {:>6} {:>5} {:>8} {:>6} {:>7} {:>8} {:>8} {:>7} {:>7}",
        "calls", "up", "pps c>s", "pps s>c", "loss%", "loss%", "jitter c>s ms", "jitter s>c ms",
        "late", "ooo", "delay", "CPU %", "us/pkt", "RSS MB", "KB/call", "gen CPU", "gen lag"
    );
    println!(
        "{:>5} {:>5} {:>8} {:>8} {:>7} {:>7} {:>15} {:>15} {:>6} {:>5} {:>8}",
        "", "", "", "", "c>s", "s>c", "mean/max", "mean/max", "", "", "max ms"
    );
    let idle_kb = memory_kb(&pids);
    let duration = Duration::from_secs(settings.secs);
    for (round, &n) in settings.ladder.iter().enumerate() {
        let round = round as u32 + 1;
        let tally = uac.call(n, NUMBER, settings.rate, caller_media, round);
        // The seat's legs are answered before the caller's 200 comes back; wait for stragglers.
        let wait = Instant::now() + Duration::from_secs(2);
        while seat.legs.len() < tally.up && Instant::now() < wait {
            std::thread::sleep(Duration::from_millis(10));
        }
        let targets = [uac.media(), seat.legs.media()];
        let epoch = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let receivers = [
            rtp::receive(
                seat_rtp.clone(),
                0,
                round,
                targets[0].len(),
                epoch,
                stop.clone(),
            ),
            rtp::receive(
                caller_rtp.clone(),
                1,
                round,
                targets[1].len(),
                epoch,
                stop.clone(),
            ),
        ];
        let (cpu0, gen0, t0) = (cpu_ns(&pids), own_cpu_ns(), Instant::now());
        let sender = rtp::send(
            [caller_rtp.clone(), seat_rtp.clone()],
            targets,
            round,
            duration,
            epoch,
        );
        while !sender.is_finished() {
            uac.pump_until(Instant::now() + Duration::from_millis(100));
        }
        let sent = sender.join().expect("sender thread");
        let (cpu, gen, wall) = (
            cpu_ns(&pids) - cpu0,
            own_cpu_ns() - gen0,
            t0.elapsed().as_nanos() as f64,
        );
        let up_kb = memory_kb(&pids);
        uac.pump_until(Instant::now() + Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
        let seen = receivers.map(|r| r.join().expect("receiver thread"));
        let unconfirmed = uac.hang_up(settings.rate);
        let wait = Instant::now() + Duration::from_secs(5);
        while seat.legs.len() > 0 && Instant::now() < wait {
            std::thread::sleep(Duration::from_millis(10));
        }

        let secs = settings.secs as f64;
        let relayed = seen[0].received + seen[1].received;
        let jitter = [mean_max(&seen[0].jitter_ms), mean_max(&seen[1].jitter_ms)];
        println!(
            "{n:>5} {:>5} {:>8.0} {:>8.0} {:>7.3} {:>7.3} {:>15} {:>15} {:>6} {:>5} {:>8.1} {:>6.1} {:>7.2} {:>8.1} {:>8.1} {:>6.0}% {:>5.1}ms",
            tally.up,
            seen[0].received as f64 / secs,
            seen[1].received as f64 / secs,
            pct(sent.packets[0].saturating_sub(seen[0].received), sent.packets[0]),
            pct(sent.packets[1].saturating_sub(seen[1].received), sent.packets[1]),
            format!("{:.2}/{:.2}", jitter[0].0, jitter[0].1),
            format!("{:.2}/{:.2}", jitter[1].0, jitter[1].1),
            seen[0].late + seen[1].late,
            seen[0].out_of_order + seen[1].out_of_order,
            seen[0].max_delay_us.max(seen[1].max_delay_us) as f64 / 1000.0,
            cpu as f64 / wall * 100.0,
            if relayed == 0 { 0.0 } else { cpu as f64 / 1000.0 / relayed as f64 },
            up_kb as f64 / 1024.0,
            up_kb.saturating_sub(idle_kb) as f64 / n as f64,
            gen as f64 / wall * 100.0,
            sent.max_lag_us as f64 / 1000.0,
        );
        let foreign = seen[0].foreign + seen[1].foreign;
        if tally.failed > 0 || unconfirmed > 0 || sent.errors > 0 || foreign > 0 {
            println!(
                "      ({} calls failed, mostly {}; {unconfirmed} BYEs unanswered; {} send errors; {foreign} packets of no stream)",
                tally.failed,
                tally.status,
                sent.errors,
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    println!(
        "memory: {:.1} MB before the first call, {:.1} MB after the last step's calls ended",
        idle_kb as f64 / 1024.0,
        memory_kb(&pids) as f64 / 1024.0
    );
    stop_seat.store(true, Ordering::Relaxed);
    let _ = seat_thread.join();
    if let Some(daemon) = &daemon_guard {
        let log = daemon.log();
        let lines: Vec<&str> = log.lines().collect();
        if !lines.is_empty() {
            println!(
                "the daemon logged {} lines (warn and above); the first:",
                lines.len()
            );
            for line in lines.iter().take(5) {
                println!("  {}", strip_ansi(line));
            }
        }
    }
}
