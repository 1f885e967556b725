//! What a flood of junk INVITEs from a source that is no trunk and no seat costs the daemon
//! (issue 12, item 5).
//!
//! `cargo bench --bench junk_invites`
//!
//! A real daemon (on its own multi-thread runtime, threads `daemon-rt`) and a sender on
//! 127.0.0.2 (a current-thread runtime on the main thread) that sends 20,000 INVITEs, each a
//! new call, at 10,000 a second, and ACKs every final response it gets, as a phone would:
//! 1. `[security] enabled = false`: each INVITE is answered 403 (an `acl_denied` event) and
//!    its ACK absorbed: the refusal path;
//! 2. the defaults: the 16th request within 2 s bans the source and the rest are dropped
//!    before the transaction layer.
//!
//! Printed per mode: the daemon threads' CPU per INVITE sent (schedstat, ns-precise, taken
//! from the first send until 1 s after the last), the answers received, and the log lines
//! and bytes the daemon wrote (formatted by a `tracing` fmt subscriber into a counter).
//!
//! Then, per mode, the memory under repeated floods (issue 12: "after a flood the daemon's RSS
//! settles; three floods in a row do not grow it beyond the first"): the same flood twice
//! more, each with new Call-IDs and 6 s after the one before (longer than the 5 s Timer I that
//! keeps an ACKed 403's transaction, so each starts from a daemon holding none), and the
//! process's VmRSS before the first, 1 s after each and after 10 s idle. The daemon shares the
//! process with the sender, whose memory does not grow from one flood to the next.

mod common;
#[path = "common/counting.rs"]
mod counting;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{print_context, vm_rss_kb};
use counting::{threads_cpu_ns, LIVE_BYTES};
use hotline::config::{load_with, LoadOptions};
use hotline::server::Daemon;
use tokio::net::UdpSocket;
use tokio::runtime::Builder;

const DAEMON_THREAD: &str = "daemon-rt";
const INVITES: u64 = 20_000;
const PER_MS: u64 = 10;
const SETTLE: Duration = Duration::from_secs(1);
/// Floods in a row for the memory figures; `JUNK_INVITES_FLOODS` (1 to 10) changes it.
const FLOODS: u64 = 3;
const BETWEEN_FLOODS: Duration = Duration::from_secs(6);
const SETTLE_AFTER_FLOODS: Duration = Duration::from_secs(10);

static LOG_LINES: AtomicU64 = AtomicU64::new(0);
static LOG_BYTES: AtomicU64 = AtomicU64::new(0);

/// The process's VmRSS and its live heap (bytes allocated and not freed), in KB.
fn memory_now() -> (u64, i64) {
    (
        vm_rss_kb(std::process::id()),
        LIVE_BYTES.load(Ordering::Relaxed) / 1024,
    )
}

/// Counts what the daemon logs instead of writing it.
struct LogCounter;

impl Write for LogCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG_BYTES.fetch_add(buf.len() as u64, Ordering::Relaxed);
        let lines = buf.iter().filter(|b| **b == b'\n').count() as u64;
        LOG_LINES.fetch_add(lines, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn config(dir: &std::path::Path, security: &str) -> hotline::config::LoadedConfig {
    let dialplan = dir.join("dialplan.toml");
    std::fs::write(
        &dialplan,
        "[[routes]]\nnumber = \"12345\"\nring = \"all\"\n",
    )
    .expect("write dialplan");
    let text = format!(
        r#"[sip]
udp = "127.0.0.1:0"
tcp = "127.0.0.1:0"
realm = "bench.test"

[rtp]
bind = "127.0.0.1"
port_min = 30000
port_max = 30999

[store]
path = "{db}"

[metrics]
listen = "127.0.0.1:0"

[dialplan]
files = ["{dialplan}"]

[prompts]
dir = "{prompts}"

[[trunks]]
name = "carrier"
sources = ["127.0.0.3/32"]

[security]
{security}
"#,
        db = dir.join("bench.db").display(),
        dialplan = dialplan.display(),
        prompts = concat!(env!("CARGO_MANIFEST_DIR"), "/prompts/zh"),
    );
    let path = dir.join("hotline.toml");
    std::fs::write(&path, text).expect("write config");
    load_with(
        &path,
        &LoadOptions {
            base_dir: None,
            env: Some(Default::default()),
        },
    )
    .unwrap_or_else(|e| panic!("bench config refused:\n{e}"))
}

fn invite(port: u16, n: u64) -> String {
    format!(
        "INVITE sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:{port};branch=z9hG4bKjunk{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:100@127.0.0.2>;tag=j{n}\r\nTo: <sip:12345@127.0.0.1>\r\nCall-ID: junk-{n}@127.0.0.2\r\nCSeq: 1 INVITE\r\nContact: <sip:100@127.0.0.2:{port}>\r\nContent-Length: 0\r\n\r\n"
    )
}

/// The ACK for a final response to one of our INVITEs.
fn ack_for(response: &str, port: u16) -> Option<String> {
    if response.starts_with("SIP/2.0 1") {
        return None;
    }
    let header = |name: &str| {
        response
            .lines()
            .find(|l| l.starts_with(name))
            .map(str::to_string)
    };
    let to = header("To:")?;
    let call_id = header("Call-ID:")?;
    let n = call_id.strip_prefix("Call-ID: junk-")?.split('@').next()?;
    Some(format!(
        "ACK sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:{port};branch=z9hG4bKjunk{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:100@127.0.0.2>;tag=j{n}\r\n{to}\r\n{call_id}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
    ))
}

/// Sends the INVITEs (numbered from `first`, so each flood's calls are new) at the pace, ACKs
/// the finals; the answers received.
async fn flood(target: SocketAddr, first: u64) -> u64 {
    let socket = Arc::new(
        UdpSocket::bind("127.0.0.2:0")
            .await
            .expect("bind 127.0.0.2"),
    );
    let port = socket.local_addr().expect("local addr").port();
    let answers = Arc::new(AtomicU64::new(0));
    let receiver = {
        let (socket, answers) = (socket.clone(), answers.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            while let Ok((len, _)) = socket.recv_from(&mut buf).await {
                answers.fetch_add(1, Ordering::Relaxed);
                let text = String::from_utf8_lossy(&buf[..len]);
                if let Some(ack) = ack_for(&text, port) {
                    let _ = socket.send_to(ack.as_bytes(), target).await;
                }
            }
        })
    };
    let start = tokio::time::Instant::now();
    for n in 0..INVITES {
        if n % PER_MS == 0 {
            tokio::time::sleep_until(start + Duration::from_millis(n / PER_MS)).await;
        }
        let _ = socket
            .send_to(invite(port, first + n).as_bytes(), target)
            .await;
    }
    tokio::time::sleep(SETTLE).await;
    receiver.abort();
    answers.load(Ordering::Relaxed)
}

fn main() {
    print_context("junk_invites");
    tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_writer(|| LogCounter)
        .init();
    let daemon_rt = Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(DAEMON_THREAD)
        .enable_all()
        .build()
        .expect("daemon runtime");
    let sender_rt = Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("sender runtime");
    println!(
        "{INVITES} INVITEs at {} /s from 127.0.0.2 (no trunk, no seat), every final ACKed",
        PER_MS * 1000
    );
    println!(
        "{:<40} {:>14} {:>10} {:>10} {:>10}",
        "mode", "CPU/INVITE", "answers", "log lines", "log bytes"
    );
    let floods: u64 = std::env::var("JUNK_INVITES_FLOODS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| (1..=10).contains(n))
        .unwrap_or(FLOODS);
    let mut memory = Vec::new();
    for (mode, security) in [
        ("refused (security.enabled = false)", "enabled = false"),
        ("banned after 16 in 2 s (defaults)", ""),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let loaded = config(dir.path(), security);
        let daemon = daemon_rt
            .block_on(Daemon::start(loaded))
            .expect("daemon starts");
        let (lines, bytes) = (
            LOG_LINES.load(Ordering::Relaxed),
            LOG_BYTES.load(Ordering::Relaxed),
        );
        let mut rss = vec![memory_now()];
        let cpu = threads_cpu_ns(DAEMON_THREAD);
        let wall = Instant::now();
        let answers = sender_rt.block_on(flood(daemon.sip_udp, 0));
        let cpu = threads_cpu_ns(DAEMON_THREAD) - cpu;
        let wall = wall.elapsed();
        println!(
            "{mode:<40} {:>11.1} us {answers:>10} {:>10} {:>10}   ({:.1} s, daemon CPU {:.0} %)",
            cpu as f64 / INVITES as f64 / 1000.0,
            LOG_LINES.load(Ordering::Relaxed) - lines,
            LOG_BYTES.load(Ordering::Relaxed) - bytes,
            wall.as_secs_f64(),
            cpu as f64 / wall.as_nanos() as f64 * 100.0,
        );
        rss.push(memory_now());
        for round in 1..floods {
            std::thread::sleep(BETWEEN_FLOODS);
            sender_rt.block_on(flood(daemon.sip_udp, round * INVITES));
            rss.push(memory_now());
        }
        std::thread::sleep(SETTLE_AFTER_FLOODS);
        rss.push(memory_now());
        memory.push((mode, rss));
        daemon_rt
            .block_on(daemon.shutdown())
            .expect("clean shutdown");
    }
    println!(
        "\nVmRSS of the process (daemon and sender): {floods} floods {} s apart, then {} s idle",
        BETWEEN_FLOODS.as_secs(),
        SETTLE_AFTER_FLOODS.as_secs()
    );
    let floods: String = (1..=floods)
        .map(|k| format!(" {:>9}", format!("flood {k}")))
        .collect();
    println!("{:<40} {:>9}{floods} {:>9}", "mode", "before", "settled");
    for (mode, samples) in memory {
        let rss: String = samples
            .iter()
            .map(|(kb, _)| format!(" {:>6.1} MB", *kb as f64 / 1024.0))
            .collect();
        let live: String = samples
            .iter()
            .map(|(_, kb)| format!(" {:>6.1} MB", *kb as f64 / 1024.0))
            .collect();
        println!("{mode:<40}{rss}");
        println!("{:<40}{live}", "  live heap (allocated, not freed)");
    }
}
