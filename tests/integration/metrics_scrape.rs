//! `/metrics` and `/health` over real HTTP: every metric the daemon has emitted is described,
//! counters are named `_total`, and plain SIP traffic shows in the core counters.
//!
//! The recorder is process-global and the tests run in parallel, so samples from other tests'
//! daemons show here too: assertions are about presence and deltas, never exact totals.

use std::net::SocketAddr;
use std::time::Duration;

use hotline::metrics::names::{Kind, ALL};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{self, Options};
use crate::raw::{options, status_of, RawUdp};

/// A plain HTTP/1.1 GET: the status code and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send request");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read response");
        raw
    };
    let raw = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("HTTP answer in time");
    let raw = String::from_utf8(raw).expect("response is UTF-8");
    let (head, body) = raw.split_once("\r\n\r\n").expect("header/body separator");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

/// The text of `/metrics`.
pub async fn scrape(addr: SocketAddr) -> String {
    let (status, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200, "/metrics: {body}");
    body
}

/// The value of one series, written exactly as rendered (`name{label="v",...}` or `name`);
/// 0 when it has not been emitted.
pub fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .filter_map(|line| line.strip_prefix(series))
        .find_map(|rest| rest.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The metric a sample line belongs to: its name without labels, and without the
/// `_bucket`/`_sum`/`_count` suffix of histogram series.
fn family(sample: &str) -> &str {
    let name = sample
        .split(['{', ' '])
        .next()
        .expect("split yields at least one part");
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if ALL
                .iter()
                .any(|m| m.name == base && m.kind == Kind::Histogram)
            {
                return base;
            }
        }
    }
    name
}

#[tokio::test]
async fn every_emitted_metric_is_described_and_counters_end_in_total() {
    let t = common::start(Options::default()).await;
    // A daemon for which 127.0.0.1 is no trunk, to have an INVITE refused.
    let strict = common::start(Options {
        trunk_sources: "[\"127.0.0.2/32\"]".to_string(),
        ..Options::default()
    })
    .await;

    let before = scrape(t.daemon.metrics).await;
    let options_in = r#"hotline_sip_requests_total{method="OPTIONS",direction="in"}"#;
    let ok_out = r#"hotline_sip_responses_total{status="200",direction="out"}"#;

    let udp = RawUdp::new(t.daemon.sip_udp).await;
    let port = udp.port();
    let response = udp
        .request(options(port, 1).as_bytes())
        .await
        .expect("OPTIONS answered");
    assert_eq!(status_of(&response), 200, "{response}");

    // A REGISTER without credentials: the 401 challenge.
    let register = format!(
        "REGISTER sip:{daemon} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKmreg1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=m1\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: metrics-reg-1@127.0.0.1\r\nCSeq: 1 REGISTER\r\nContact: <sip:1001@127.0.0.1:{port}>\r\nExpires: 60\r\nContent-Length: 0\r\n\r\n",
        daemon = t.daemon.sip_udp,
    );
    let response = udp
        .request(register.as_bytes())
        .await
        .expect("REGISTER answered");
    assert_eq!(status_of(&response), 401, "{response}");

    // An INVITE from an address that is no trunk of the strict daemon: 403.
    let stranger = RawUdp::new(strict.daemon.sip_udp).await;
    let sport = stranger.port();
    let invite = format!(
        "INVITE sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{sport};branch=z9hG4bKmacl1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:13800000000@127.0.0.1>;tag=ma1\r\nTo: <sip:12345@127.0.0.1>\r\nCall-ID: metrics-acl-1@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:13800000000@127.0.0.1:{sport}>\r\nContent-Length: 0\r\n\r\n"
    );
    let response = stranger
        .request(invite.as_bytes())
        .await
        .expect("INVITE answered");
    assert_eq!(status_of(&response), 403, "{response}");

    let text = scrape(t.daemon.metrics).await;

    // The core SIP counters moved by at least our own traffic.
    assert!(
        value(&text, options_in) - value(&before, options_in) >= 1.0,
        "{options_in} did not count the OPTIONS:\n{text}"
    );
    assert!(
        value(&text, ok_out) - value(&before, ok_out) >= 1.0,
        "{ok_out} did not count the 200:\n{text}"
    );
    for series in [
        r#"hotline_sip_requests_total{method="REGISTER",direction="in"}"#,
        r#"hotline_sip_responses_total{status="401",direction="out"}"#,
        r#"hotline_sip_responses_total{status="403",direction="out"}"#,
        r#"hotline_calls_rejected_total{reason="acl"}"#,
        r#"hotline_security_events_total{kind="acl_denied"}"#,
    ] {
        assert!(value(&text, series) >= 1.0, "no {series}:\n{text}");
    }

    // Every sample belongs to a declared metric, and every declared metric that has been
    // emitted has its HELP and TYPE.
    let helps: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# HELP "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let samples: Vec<&str> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let mut emitted = Vec::new();
    for metric in ALL {
        if !samples.iter().any(|s| family(s) == metric.name) {
            continue;
        }
        emitted.push(metric.name);
        assert!(
            helps.contains(&metric.name),
            "{} is emitted but has no # HELP line:\n{text}",
            metric.name
        );
        let kind = match metric.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let type_line = format!("# TYPE {} {kind}", metric.name);
        assert!(
            text.lines().any(|l| l == type_line),
            "missing `{type_line}`:\n{text}"
        );
    }
    // At least what this test's own traffic emitted was checked above.
    for name in [
        "hotline_sip_requests_total",
        "hotline_sip_responses_total",
        "hotline_calls_rejected_total",
        "hotline_security_events_total",
        "hotline_registrations_active",
    ] {
        assert!(emitted.contains(&name), "{name} not emitted:\n{text}");
    }
    for sample in &samples {
        let name = family(sample);
        assert!(
            ALL.iter().any(|m| m.name == name),
            "`{sample}` is not a metric in hotline::metrics::names::ALL"
        );
    }

    // Counters, and only counters, end in _total.
    for line in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let mut parts = line.split(' ');
        let (name, kind) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        assert_eq!(
            kind == "counter",
            name.ends_with("_total"),
            "`# TYPE {line}`: counters and only counters end in _total"
        );
    }

    let (status, body) = http_get(t.daemon.metrics, "/health").await;
    assert_eq!(status, 200, "/health: {body}");
    assert_eq!(body, "ok");

    strict.daemon.shutdown().await.expect("shutdown");
    t.daemon.shutdown().await.expect("shutdown");
}
