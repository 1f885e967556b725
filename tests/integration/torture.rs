//! The RFC 4475 torture messages, byte-exact, thrown at a real daemon over UDP and over TCP.
//!
//! Each file is classified by the RFC section it comes from (the table below), not by its
//! name. After every message a fresh OPTIONS must still get 200, and at the end no call may be
//! left. Every file's outcome is printed; a test fails with the list of all mismatches.
//!
//! Many of the messages share a branch and sent-by (RFC 3261 §17.2.3: one server transaction),
//! so a later one would be taken for a retransmission of an earlier one. Messages that could
//! collide go to another daemon.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{self, Options, TestDaemon};
use crate::raw::{options, status_of, tcp_request, RawUdp};

/// `../shared/testdata/<name>` from the project's root; from a worktree one level deeper
/// (`/work/wt/<branch>`), the nearest ancestor that has it.
pub fn testdata(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    root.ancestors()
        .skip(1)
        .map(|dir| dir.join("shared/testdata").join(name))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| panic!("no shared/testdata/{name} above {}", root.display()))
}

/// How long to wait for an answer that is expected, and for one that is not.
const ANSWER_WAIT: Duration = Duration::from_secs(2);
const SILENCE_WAIT: Duration = Duration::from_millis(300);

#[derive(Clone, Copy, Debug)]
enum Expect {
    /// A valid request: some sensible final answer, never 400 (nor 500).
    Valid,
    /// One of these final statuses.
    Status(&'static [u16]),
    /// A response, or a request without the headers a response needs: no reply at all.
    Silence,
    /// Unanswerable garbage: no reply, or a 400.
    SilenceOr400,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tcp {
    /// On a stream the Content-Length frames it: the same expectation as over UDP.
    Framed,
    /// On a stream it cannot be framed (no Content-Length, or one larger than the bytes sent,
    /// RFC 4475 §3.1.2.2): silence is fine; an answer must meet the UDP expectation.
    Unframed,
}

struct Case {
    file: &'static str,
    /// The RFC 4475 section the message is printed in.
    section: &'static str,
    expect: Expect,
    tcp: Tcp,
}

const fn case(file: &'static str, section: &'static str, expect: Expect) -> Case {
    Case {
        file,
        section,
        expect,
        tcp: Tcp::Framed,
    }
}

use Expect::{Silence, SilenceOr400, Status, Valid};

/// RFC 4475 §3: 3.1.1 valid, 3.1.2 invalid, 3.2 transaction layer, 3.3 application layer,
/// 3.4 backward compatibility.
const CASES: &[Case] = &[
    // 3.1.1 Valid messages.
    case("wsinv", "3.1.1.1", Valid),
    case("intmeth", "3.1.1.2", Status(&[501])),
    case("esc01", "3.1.1.3", Valid),
    case("escnull", "3.1.1.4", Status(&[401])),
    case("esc02", "3.1.1.5", Status(&[501])),
    case("lwsdisp", "3.1.1.6", Status(&[200])),
    case("longreq", "3.1.1.7", Valid),
    case("dblreq", "3.1.1.8", Status(&[401])),
    case("semiuri", "3.1.1.9", Status(&[200])),
    case("transports", "3.1.1.10", Status(&[200])),
    case("mpart01", "3.1.1.11", Status(&[405, 501])),
    case("unreason", "3.1.1.12", Silence),
    case("noreason", "3.1.1.13", Silence),
    // 3.1.2 Invalid messages: 400 (the RFC lets 3.1.2.9-14 be accepted liberally; this
    // daemon is strict, and 400 is what the RFC calls reasonable for each).
    case("badinv01", "3.1.2.1", Status(&[400])),
    Case {
        tcp: Tcp::Unframed,
        ..case("clerr", "3.1.2.2", Status(&[400]))
    },
    case("ncl", "3.1.2.3", Status(&[400])),
    case("scalar02", "3.1.2.4", Status(&[400])),
    case("scalarlg", "3.1.2.5", Silence),
    case("quotbal", "3.1.2.6", Status(&[400])),
    case("ltgtruri", "3.1.2.7", Status(&[400])),
    case("lwsruri", "3.1.2.8", Status(&[400])),
    case("lwsstart", "3.1.2.9", Status(&[400])),
    case("trws", "3.1.2.10", Status(&[400])),
    case("escruri", "3.1.2.11", Status(&[400])),
    case("baddate", "3.1.2.12", Status(&[400])),
    case("regbadct", "3.1.2.13", Status(&[400])),
    case("badaspec", "3.1.2.14", Status(&[400])),
    case("baddn", "3.1.2.15", Status(&[400])),
    case("badvers", "3.1.2.16", Status(&[505])),
    case("mismatch01", "3.1.2.17", Status(&[400])),
    // "should respond with a 501 ... A 400 Bad Request is also acceptable".
    case("mismatch02", "3.1.2.18", Status(&[501, 400])),
    case("bigcode", "3.1.2.19", Silence),
    // 3.2 Transaction layer: reject with 400, or fall back to RFC 2543 matching.
    case("badbranch", "3.2.1", Status(&[200, 400])),
    // 3.3 Application layer semantics.
    case("insuf", "3.3.1", Status(&[400])),
    case("unkscm", "3.3.2", Status(&[416])),
    // 416 if the scheme is never meaningful here, 404 if it might be.
    case("novelsc", "3.3.3", Status(&[416, 404])),
    // "A registrar would reject this request with a 400 Bad Request". RFC 3261 §10.3 puts
    // authentication (step 3) before the address-of-record (step 5), so a challenge first is
    // also right.
    case("unksm2", "3.3.4", Status(&[400, 401])),
    case("bext01", "3.3.5", Status(&[420])),
    case("invut", "3.3.6", Status(&[415])),
    case("regaut01", "3.3.7", Status(&[401])),
    case("multi01", "3.3.8", Status(&[400])),
    case("mcl01", "3.3.9", Status(&[400])),
    case("bcast", "3.3.10", Silence),
    // A UAS answers an OPTIONS with Max-Forwards 0 addressed to it.
    case("zeromf", "3.3.11", Status(&[200])),
    case("cparam01", "3.3.12", Valid),
    case("cparam02", "3.3.13", Valid),
    case("regescrt", "3.3.14", Valid),
    case("sdp01", "3.3.15", Status(&[406])),
    // 3.4 Backward compatibility: a legal RFC 2543 INVITE, to be accepted. No Content-Length.
    Case {
        tcp: Tcp::Unframed,
        ..case("inv2543", "3.4.1", Valid)
    },
    // Not one of the RFC's messages (an extra file of the fixture set): no SIP version, no
    // Via, no CSeq.
    Case {
        tcp: Tcp::Unframed,
        ..case("test", "-", SilenceOr400)
    },
];

#[derive(Clone, Copy, PartialEq)]
enum Transport {
    Udp,
    Tcp,
}

/// What came back for one message: the first final status, and every status seen.
#[derive(Default)]
struct Outcome {
    final_status: Option<u16>,
    seen: Vec<u16>,
    first_final: String,
}

impl Outcome {
    fn describe(&self) -> String {
        match self.final_status {
            Some(s) => format!("{s} (all: {:?})", self.seen),
            None if self.seen.is_empty() => "no reply".to_string(),
            None => format!("no final reply (all: {:?})", self.seen),
        }
    }
}

fn meets(expect: Expect, outcome: &Outcome) -> bool {
    match (expect, outcome.final_status) {
        (Expect::Valid, Some(s)) => s != 400 && s != 500,
        (Expect::Status(codes), Some(s)) => codes.contains(&s),
        (Expect::Silence, None) => outcome.seen.is_empty(),
        (Expect::SilenceOr400, None) => outcome.seen.is_empty(),
        (Expect::SilenceOr400, Some(s)) => s == 400,
        _ => false,
    }
}

fn expects_answer(expect: Expect) -> bool {
    matches!(expect, Expect::Valid | Expect::Status(_))
}

fn load(file: &str) -> Vec<u8> {
    let path = testdata("rfc4475").join(format!("{file}.dat"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A rough server-transaction key (method, branch, the host before the branch): equal for any
/// two messages the daemon could match to one transaction. Over-approximating only costs a
/// daemon more. None for a response.
fn rough_transaction_key(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes).to_ascii_lowercase();
    let first = text.lines().next()?;
    if first.starts_with("sip/") {
        return None;
    }
    let method = first.split(' ').next().unwrap_or("");
    let Some(at) = text.find("branch") else {
        return Some(format!("{method}|no branch"));
    };
    let rest = text[at + "branch".len()..].trim_start_matches([' ', '\t', '=']);
    let branch: String = rest
        .chars()
        .take_while(|c| !matches!(c, ';' | ',' | ' ' | '\t' | '\r' | '\n'))
        .collect();
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let host = text[line_start..at]
        .split(|c: char| c.is_whitespace() || c == ';')
        .rfind(|t| !t.is_empty())
        .unwrap_or("");
    Some(format!("{method}|{branch}|{host}"))
}

/// Daemons that each see any transaction key at most once.
struct Pool {
    daemons: Vec<(TestDaemon, HashSet<String>)>,
}

impl Pool {
    async fn new() -> Pool {
        Pool {
            daemons: vec![(common::start(Options::default()).await, HashSet::new())],
        }
    }

    async fn daemon_for(&mut self, key: Option<String>) -> usize {
        let Some(key) = key else { return 0 };
        if let Some(i) = self
            .daemons
            .iter()
            .position(|(_, seen)| !seen.contains(&key))
        {
            self.daemons[i].1.insert(key);
            return i;
        }
        let mut seen = HashSet::new();
        seen.insert(key);
        self.daemons
            .push((common::start(Options::default()).await, seen));
        self.daemons.len() - 1
    }

    async fn finish(self, failures: &mut Vec<String>) {
        for (i, (t, _)) in self.daemons.into_iter().enumerate() {
            let calls_gone = common::eventually(Duration::from_secs(5), || async {
                t.daemon.snapshot().await.calls == 0
            })
            .await;
            if !calls_gone {
                failures.push(format!(
                    "daemon #{i}: {} call(s) left at the end",
                    t.daemon.snapshot().await.calls
                ));
            }
            t.daemon.shutdown().await.expect("shutdown");
        }
    }
}

async fn send_udp(t: &TestDaemon, bytes: &[u8], wait: Duration) -> Outcome {
    let udp = RawUdp::new(t.daemon.sip_udp).await;
    udp.send(bytes).await;
    let mut outcome = Outcome::default();
    let deadline = tokio::time::Instant::now() + wait;
    while let Some(left) = deadline.checked_duration_since(tokio::time::Instant::now()) {
        let Some(response) = udp.recv(left).await else {
            break;
        };
        let status = status_of(&response);
        outcome.seen.push(status);
        if status >= 200 {
            outcome.final_status = Some(status);
            outcome.first_final = response;
            break;
        }
    }
    outcome
}

/// Splits complete messages off the front of `buf` (framed by their Content-Length).
fn take_messages(buf: &mut Vec<u8>) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let length = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if buf.len() < end + 4 + length {
            break;
        }
        out.push(String::from_utf8_lossy(&buf[..end + 4 + length]).into_owned());
        buf.drain(..end + 4 + length);
    }
    out
}

async fn send_tcp(t: &TestDaemon, bytes: &[u8], wait: Duration) -> Result<Outcome, String> {
    let mut stream = TcpStream::connect(t.daemon.sip_tcp)
        .await
        .map_err(|e| format!("TCP connect: {e}"))?;
    stream
        .write_all(bytes)
        .await
        .map_err(|e| format!("TCP write: {e}"))?;
    let mut outcome = Outcome::default();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 65_536];
    let deadline = tokio::time::Instant::now() + wait;
    while let Some(left) = deadline.checked_duration_since(tokio::time::Instant::now()) {
        let n = match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        for response in take_messages(&mut buf) {
            let status = status_of(&response);
            outcome.seen.push(status);
            if status >= 200 && outcome.final_status.is_none() {
                outcome.final_status = Some(status);
                outcome.first_final = response;
            }
        }
        if outcome.final_status.is_some() {
            break;
        }
    }
    Ok(outcome)
}

/// Whether the daemon still answers a plain OPTIONS with 200 (UDP, and on TCP runs TCP too).
async fn still_answers(t: &TestDaemon, n: u32, transport: Transport) -> Result<(), String> {
    let udp = RawUdp::new(t.daemon.sip_udp).await;
    match udp.request(options(udp.port(), n).as_bytes()).await {
        Some(r) if status_of(&r) == 200 => {}
        Some(r) => return Err(format!("UDP OPTIONS got {}", status_of(&r))),
        None => return Err("no answer to a UDP OPTIONS".to_string()),
    }
    if transport == Transport::Tcp {
        let probe = options(5060, n).replace("UDP", "TCP");
        match tcp_request(t.daemon.sip_tcp, probe.as_bytes()).await {
            Some(r) if status_of(&r) == 200 => {}
            Some(r) => return Err(format!("TCP OPTIONS got {}", status_of(&r))),
            None => return Err("no answer to a TCP OPTIONS".to_string()),
        }
    }
    Ok(())
}

async fn run_all(transport: Transport) {
    let started = std::time::Instant::now();
    let label = match transport {
        Transport::Udp => "UDP",
        Transport::Tcp => "TCP",
    };
    let mut pool = Pool::new().await;
    let mut failures = Vec::new();
    let mut table = String::new();
    for (n, case) in CASES.iter().enumerate() {
        let bytes = load(case.file);
        let index = pool.daemon_for(rough_transaction_key(&bytes)).await;
        let t = &pool.daemons[index].0;
        let expect = case.expect;
        let wait = if expects_answer(expect) {
            ANSWER_WAIT
        } else {
            SILENCE_WAIT
        };
        let outcome = match transport {
            Transport::Udp => send_udp(t, &bytes, wait).await,
            Transport::Tcp => {
                let wait = if case.tcp == Tcp::Unframed {
                    SILENCE_WAIT.max(Duration::from_millis(500))
                } else {
                    wait
                };
                match send_tcp(t, &bytes, wait).await {
                    Ok(o) => o,
                    Err(e) => {
                        failures.push(format!("{} ({}): {e}", case.file, case.section));
                        Outcome::default()
                    }
                }
            }
        };
        let ok = meets(expect, &outcome)
            || (transport == Transport::Tcp
                && case.tcp == Tcp::Unframed
                && outcome.seen.is_empty());
        let _ = writeln!(
            table,
            "  {:<10} §{:<9} daemon #{index} expect {:<22} got {}{}",
            case.file,
            case.section,
            format!("{expect:?}"),
            outcome.describe(),
            if ok { "" } else { "   <-- MISMATCH" }
        );
        if !ok {
            let warning = outcome
                .first_final
                .lines()
                .find(|l| l.starts_with("Warning"))
                .unwrap_or("");
            failures.push(format!(
                "{} (§{}): expected {expect:?}, got {} {warning}",
                case.file,
                case.section,
                outcome.describe()
            ));
        }
        if let Err(e) = still_answers(t, 10_000 + n as u32, transport).await {
            eprintln!("RFC 4475 over {label}:\n{table}");
            panic!(
                "the daemon stopped answering after {} (§{}) over {label}: {e}\nmismatches so far:\n{}",
                case.file,
                case.section,
                failures.join("\n")
            );
        }
    }
    let daemons = pool.daemons.len();
    pool.finish(&mut failures).await;
    eprintln!(
        "RFC 4475 over {label}: {} messages on {daemons} daemon(s) in {:.1?}\n{table}",
        CASES.len(),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "RFC 4475 over {label}: {} mismatch(es):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The smallest form of what dblreq (§3.1.1.8) shows over TCP: a well-framed request followed
/// on the same connection by bytes that cannot be framed. The request must still be answered
/// on that connection (RFC 3261 §18.2.2) before the daemon closes it.
#[tokio::test]
async fn tcp_answers_a_framed_request_before_closing_on_garbage() {
    let t = common::start(Options::default()).await;
    let mut bytes = options(5060, 1).replace("UDP", "TCP").into_bytes();
    bytes.extend_from_slice(b"C\r\n\r\n");
    let outcome = send_tcp(&t, &bytes, ANSWER_WAIT).await.expect("TCP");
    assert_eq!(outcome.final_status, Some(200), "{}", outcome.describe());
    still_answers(&t, 2, Transport::Tcp)
        .await
        .expect("still answers");
    t.daemon.shutdown().await.expect("shutdown");
}

#[test]
fn every_fixture_file_is_classified() {
    let mut files: Vec<String> = std::fs::read_dir(testdata("rfc4475"))
        .expect("RFC 4475 fixtures")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_suffix(".dat").map(str::to_string))
        .collect();
    files.sort();
    let mut listed: Vec<String> = CASES.iter().map(|c| c.file.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed);
    assert_eq!(files.len(), 50);
}

#[tokio::test]
async fn rfc4475_torture_messages_over_udp() {
    run_all(Transport::Udp).await;
}

#[tokio::test]
async fn rfc4475_torture_messages_over_tcp() {
    run_all(Transport::Tcp).await;
}
