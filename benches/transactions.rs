//! The transaction layer's timer cost against the number of live transactions (issue 12).
//!
//! `cargo bench --bench transactions`
//!
//! N answered calls keep their INVITE server transactions for 64·T1 after the 2xx (the ACK has
//! come, so only the transaction's end is pending), as a daemon at 200 calls/s carries about
//! 6,400 of them. On top of them, on virtual time one second after they started:
//! - `poll_timeout`: the core loop asking for its next deadline, nothing due;
//! - `handle_timeout`: the core loop waking with nothing due;
//! - `request turn`: a new OPTIONS over TCP through `on_request`, `respond` (200, which ends the
//!   transaction at once over TCP), `poll_timeout`, and the `handle_timeout` that then ends it,
//!   so N stays the same from one turn to the next.
//!
//! Then the growth itself: the turns of `GROWTH` calls set up one after another (INVITE in, 200
//! out, ACK in) on an empty layer, as a flood fills it. Their median cost hides a table that
//! stops to rehash everything it holds; the slowest turn shows it, and it is what the next
//! message in the core's queue waits behind.

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::{percentile_sorted, print_context, time_rounds, Summary};
use hotline::call_id::CallId;
use hotline::sip::build;
use hotline::sip::flow::{Flow, LocalAddrs, Transport};
use hotline::sip::message::{Message, Request};
use hotline::sip::parse::parse;
use hotline::sip::transaction::{Incoming, Transactions};
use hotline::sip::validate::{check_request, Essentials};
use tokio::time::Instant;

const SIZES: [usize; 3] = [1_000, 10_000, 50_000];
const WARMUP: u32 = 2;
const ROUNDS: u32 = 9;

fn flow(transport: Transport) -> Flow {
    Flow {
        transport,
        remote: "192.0.2.10:5060".parse().expect("address"),
    }
}

fn request(method: &str, transport: Transport, n: usize, to_tag: &str) -> (Request, Essentials) {
    let text = format!(
        "{method} sip:12345@198.51.100.1 SIP/2.0\r\n\
         Via: SIP/2.0/{} 192.0.2.10:5060;branch=z9hG4bK-{method}-{n}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:+4930123456@192.0.2.10>;tag=from-{n}\r\n\
         To: <sip:12345@198.51.100.1>{to_tag}\r\n\
         Call-ID: call-{n}@192.0.2.10\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n",
        transport.as_str()
    );
    let Ok(Message::Request(req)) = parse(text.as_bytes()) else {
        panic!("bench request does not parse");
    };
    let ess = check_request(&req).expect("bench request is valid");
    (req, ess)
}

const GROWTH: usize = 200_000;
const GROWTH_ROUNDS: u32 = 3;

fn empty_layer() -> Transactions {
    let local = LocalAddrs {
        udp: "198.51.100.1:5060".parse().expect("address"),
        tcp: "198.51.100.1:5061".parse().expect("address"),
    };
    Transactions::new(local)
}

/// Call `i` answered and ACKed: its INVITE server transaction is left waiting out 64·T1.
fn answer_call(tx: &mut Transactions, t0: Instant, i: usize) {
    let udp = flow(Transport::Udp);
    let (invite, ess) = request("INVITE", Transport::Udp, i, "");
    let Incoming::New(key) = tx.on_request(t0, udp, &invite, &ess) else {
        panic!("INVITE {i} is not new");
    };
    tx.respond(
        t0,
        &key,
        &build::response(&invite, 200, Some("uas")),
        CallId(1),
    );
    let (ack, ess) = request("ACK", Transport::Udp, i, ";tag=uas");
    tx.on_request(t0, udp, &ack, &ess);
    tx.drain().for_each(drop);
}

/// N answered and ACKed calls, each with its INVITE server transaction waiting out 64·T1.
fn live_calls(n: usize, t0: Instant) -> Transactions {
    let mut tx = empty_layer();
    for i in 0..n {
        answer_call(&mut tx, t0, i);
    }
    assert_eq!(tx.counts(), (n, 0), "only the server transactions are left");
    tx
}

/// The turns of `GROWTH` calls on an empty layer, in ns: (median, p99.9, slowest) per round.
fn growth(t0: Instant) -> Vec<(f64, f64, f64)> {
    (0..GROWTH_ROUNDS)
        .map(|_| {
            let mut tx = empty_layer();
            let mut turns = Vec::with_capacity(GROWTH);
            for i in 0..GROWTH {
                let start = std::time::Instant::now();
                answer_call(&mut tx, t0, i);
                turns.push(start.elapsed().as_nanos() as f64);
            }
            turns.sort_by(f64::total_cmp);
            (
                percentile_sorted(&turns, 50.0),
                percentile_sorted(&turns, 99.9),
                turns[turns.len() - 1],
            )
        })
        .collect()
}

struct Row {
    n: usize,
    what: &'static str,
    ns: Summary,
}

fn main() {
    print_context("transactions");
    let t0 = Instant::now();
    let now = t0 + Duration::from_secs(1);
    let tcp = flow(Transport::Tcp);
    let (options, options_ess) = request("OPTIONS", Transport::Tcp, usize::MAX, "");
    let ok = build::response(&options, 200, Some("uas"));

    let mut rows = Vec::new();
    for n in SIZES {
        let mut tx = live_calls(n, t0);
        let iters = (20_000_000 / n).clamp(200, 100_000) as u32;
        let ns = Summary::of(&time_rounds(iters, WARMUP, ROUNDS, || {
            black_box(tx.poll_timeout());
        }));
        rows.push(Row {
            n,
            what: "poll_timeout",
            ns,
        });
        let ns = Summary::of(&time_rounds(iters, WARMUP, ROUNDS, || {
            tx.handle_timeout(black_box(now));
        }));
        rows.push(Row {
            n,
            what: "handle_timeout, nothing due",
            ns,
        });
        let ns = Summary::of(&time_rounds(iters / 4 + 1, WARMUP, ROUNDS, || {
            let Incoming::New(key) = tx.on_request(now, tcp, &options, &options_ess) else {
                panic!("OPTIONS is not new");
            };
            tx.respond(now, &key, &ok, CallId(1));
            let due = tx.poll_timeout();
            assert_eq!(due, Some(now), "the OPTIONS ends at once over TCP");
            tx.handle_timeout(now);
            tx.drain().for_each(drop);
        }));
        assert_eq!(tx.counts(), (n, 0), "the request turns left nothing behind");
        rows.push(Row {
            n,
            what: "request turn",
            ns,
        });
    }

    let grown = growth(t0);

    println!(
        "\n{ROUNDS} rounds after {WARMUP} warm-up rounds, single thread; \
         spread = (max - min) / median over the rounds"
    );
    println!(
        "{:>7} {:<30} {:>12} {:>12} {:>12} {:>8}",
        "live tx", "operation", "ns/op", "min ns", "max ns", "spread"
    );
    for r in &rows {
        println!(
            "{:>7} {:<30} {:>12.0} {:>12.0} {:>12.0} {:>7.1}%",
            r.n,
            r.what,
            r.ns.median,
            r.ns.min,
            r.ns.max,
            r.ns.spread_pct()
        );
    }
    println!(
        "\ngrowing an empty layer to {GROWTH} answered calls, one call's turns (INVITE, 200, ACK) \
         at a time; {GROWTH_ROUNDS} rounds"
    );
    println!(
        "{:<8} {:>12} {:>12} {:>14}",
        "round", "median ns", "p99.9 ns", "slowest µs"
    );
    for (i, (median, p999, slowest)) in grown.iter().enumerate() {
        println!(
            "{:<8} {:>12.0} {:>12.0} {:>14.0}",
            i + 1,
            median,
            p999,
            slowest / 1000.0
        );
    }
}
