//! The PROTOS c07-sip suite (OUSPG, University of Oulu): 4,527 INVITEs, each with one field
//! mutated (overflows, format strings, bad characters), thrown at a real daemon over UDP.
//!
//! The suite's method, case by case: send the INVITE, wait briefly for answers, send the
//! teardown (CANCEL, or BYE once a final response came), then check that the daemon still
//! answers a valid OPTIONS with 200 — after every case. INVITEs too big for a datagram go over
//! TCP instead. At the end no call may be left.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{self, Options, TestDaemon};
use crate::raw::{options, status_of, RawUdp};
use crate::torture::testdata;

/// How long to wait for a final answer to the INVITE before tearing it down.
const INVITE_WAIT: Duration = Duration::from_millis(10);
/// How long the probe OPTIONS may take before the daemon counts as no longer answering.
const PROBE_WAIT: Duration = Duration::from_secs(2);
/// Largest UDP payload over IPv4.
const MAX_DATAGRAM: usize = 65_507;

/// The two messages of a case file: each preceded by its length in ASCII decimal and a space.
fn split_case(raw: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    let mut rest = raw;
    let mut messages = Vec::new();
    for _ in 0..2 {
        let space = rest
            .iter()
            .position(|b| *b == b' ')
            .ok_or("no length prefix")?;
        let length: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or("length prefix is not a number")?;
        let start = space + 1;
        let message = rest
            .get(start..start + length)
            .ok_or("message shorter than its length prefix")?;
        messages.push(message.to_vec());
        rest = &rest[start + length..];
    }
    let teardown = messages.pop().unwrap_or_default();
    let invite = messages.pop().unwrap_or_default();
    Ok((invite, teardown))
}

fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// Fills the placeholders. The templates already carry `sip:` before `<To>`/`<From>`, the
/// `z9hG4bK` cookie before `<Branch-ID>` and `@<From-Address>` after `<Call-ID>`.
fn fill(template: &[u8], case: &str, port: u16, teardown: &str) -> Vec<u8> {
    let port = port.to_string();
    let mut m = template.to_vec();
    for (from, to) in [
        ("<To>", "protos@127.0.0.1"),
        ("<From>", "protos-tester@127.0.0.1"),
        ("<From-Address>", "127.0.0.1"),
        ("<From-IP>", "127.0.0.1"),
        ("<Local-Port>", port.as_str()),
        ("<Call-ID>", &format!("protos-{case}")),
        ("<CSeq>", "1"),
        ("<Branch-ID>", case),
        ("<Teardown-Method>", teardown),
    ] {
        m = replace_all(&m, from.as_bytes(), to.as_bytes());
    }
    let body = m
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |end| m.len() - end - 4);
    replace_all(&m, b"<Content-Length>", body.to_string().as_bytes())
}

/// Which request a response answers, by its CSeq method.
fn cseq_method(response: &str) -> Option<&str> {
    response
        .lines()
        .find(|l| {
            l.split_once(':')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case("cseq"))
        })
        .and_then(|l| l.split_whitespace().last())
}

#[derive(Default)]
struct Tally {
    sent: usize,
    over_tcp: usize,
    answered: usize,
    invite: BTreeMap<String, usize>,
    teardown: BTreeMap<String, usize>,
    silent: Vec<String>,
}

impl Tally {
    fn count(map: &mut BTreeMap<String, usize>, key: String) {
        *map.entry(key).or_default() += 1;
    }
}

/// Sends one oversized INVITE on a fresh TCP connection; the first status that comes back.
async fn over_tcp(t: &TestDaemon, invite: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(t.daemon.sip_tcp).await.ok()?;
    // The daemon may close before it has read everything: a failed write is an answer too.
    let _ = stream.write_all(invite).await;
    let mut buf = vec![0u8; 65_536];
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    while let Some(left) = deadline.checked_duration_since(tokio::time::Instant::now()) {
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
        if got.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    (!got.is_empty()).then(|| status_of(&String::from_utf8_lossy(&got)))
}

/// Runs one case. Err when the daemon no longer answers the probe.
async fn run_case(
    t: &TestDaemon,
    n: u32,
    name: &str,
    raw: &[u8],
    tally: &mut Tally,
) -> Result<(), String> {
    let (invite, teardown) = split_case(raw)?;
    let udp = RawUdp::new(t.daemon.sip_udp).await;
    let port = udp.port();
    let invite = fill(&invite, name, port, "INVITE");
    tally.sent += 1;

    let mut invite_final = None;
    let mut answered = false;
    if invite.len() > MAX_DATAGRAM {
        tally.over_tcp += 1;
        if let Some(status) = over_tcp(t, &invite).await {
            answered = true;
            invite_final = Some(status);
        }
    } else {
        udp.send(&invite).await;
        let deadline = tokio::time::Instant::now() + INVITE_WAIT;
        while let Some(left) = deadline.checked_duration_since(tokio::time::Instant::now()) {
            let Some(response) = udp.recv(left).await else {
                break;
            };
            answered = true;
            let status = status_of(&response);
            if status >= 200 {
                invite_final = Some(status);
                break;
            }
        }
        let method = if invite_final.is_some() {
            "BYE"
        } else {
            "CANCEL"
        };
        udp.send(&fill(&teardown, name, port, method)).await;
    }

    // The probe goes out after everything else from this socket: every answer to the INVITE
    // and the teardown that the daemon will send has been sent before the probe's 200.
    let mut attempts = 0;
    'probe: loop {
        attempts += 1;
        // Call-ID options-<id>@127.0.0.1: no INVITE of the suite carries one like it.
        udp.send(options(port, n * 2 + attempts).as_bytes()).await;
        let deadline = tokio::time::Instant::now() + PROBE_WAIT;
        while let Some(left) = deadline.checked_duration_since(tokio::time::Instant::now()) {
            let Some(response) = udp.recv(left).await else {
                break;
            };
            if response.contains("Call-ID: options-") {
                if status_of(&response) == 200 {
                    break 'probe;
                }
                return Err(format!("the probe OPTIONS got {}", status_of(&response)));
            }
            let status = status_of(&response);
            match cseq_method(&response) {
                Some("CANCEL") | Some("BYE") => {
                    if status >= 200 {
                        Tally::count(&mut tally.teardown, status.to_string());
                    }
                }
                _ => {
                    answered = true;
                    if status >= 200 && invite_final.is_none() {
                        invite_final = Some(status);
                    }
                }
            }
        }
        if attempts == 2 {
            return Err("no answer to a valid OPTIONS".to_string());
        }
    }

    if answered {
        tally.answered += 1;
    } else {
        tally.silent.push(name.to_string());
    }
    let key = match invite_final {
        Some(status) => status.to_string(),
        None if answered => "1xx only".to_string(),
        None => "none".to_string(),
    };
    Tally::count(&mut tally.invite, key);
    Ok(())
}

#[tokio::test]
async fn protos_c07_sip_suite() {
    let started = Instant::now();
    let dir = testdata("protos-c07-sip");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("PROTOS cases")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 4527, "PROTOS c07-sip has 4,527 cases");

    let t = common::start(Options::default()).await;
    let mut tally = Tally::default();
    let mut valid_case = None;
    for (n, name) in names.iter().enumerate() {
        let raw = std::fs::read(dir.join(name)).expect("read case");
        let before = tally.invite.clone();
        if let Err(e) = run_case(&t, n as u32 + 1, name, &raw, &mut tally).await {
            panic!(
                "PROTOS case {name}: {e} (after {} cases, {:.1?})",
                tally.sent,
                started.elapsed()
            );
        }
        if n == 0 {
            valid_case = tally
                .invite
                .iter()
                .find(|(k, v)| before.get(*k) != Some(v))
                .map(|(k, _)| k.clone());
        }
    }
    let calls_gone = common::eventually(Duration::from_secs(5), || async {
        t.daemon.snapshot().await.calls == 0
    })
    .await;
    let calls = t.daemon.snapshot().await.calls;
    t.daemon.shutdown().await.expect("shutdown");

    let mut silent = tally.silent.clone();
    silent.truncate(10);
    eprintln!(
        "PROTOS c07-sip: {} cases sent ({} over TCP, too big for a datagram), {} answered, \
         INVITE finals {:?}, teardown finals {:?}, silent e.g. {:?}; {:.1?}",
        tally.sent,
        tally.over_tcp,
        tally.answered,
        tally.invite,
        tally.teardown,
        silent,
        started.elapsed()
    );
    assert!(calls_gone, "{calls} call(s) left after the suite");
    // Case 0000000 is the suite's valid INVITE: to a number the dialplan does not have.
    assert_eq!(valid_case.as_deref(), Some("404"), "case 0000000");
}
