//! The rating caller (caller_rate.xml) checked without the daemon, against
//! a stand-in (tests/sipp/selftest_rate_server.xml) that answers, takes
//! INFOs and sends BYE, or takes the caller's BYE.

use std::io;
use std::time::Duration;

use super::{caller_rate, caller_rate_probe, KeyPress, RtpProbe, Sipp, SippProcess, SippRun};

const NUMBER: &str = "12345";
const LIMIT: Duration = Duration::from_secs(15);
/// Slack for SIPp's scheduling when comparing logged times.
const SLACK_MS: u64 = 100;

fn stand_in(sets: &[(&str, &str)]) -> SippProcess {
    let mut sipp = Sipp::new("selftest_rate_server.xml").timeout(LIMIT);
    for (name, value) in sets {
        sipp = sipp.set(name, value);
    }
    sipp.spawn().expect("start the stand-in")
}

/// What the stand-in logged for each INFO: "K type=CONTENT_TYPE".
fn signals(stand_in: &SippRun) -> Vec<String> {
    stand_in
        .log
        .lines()
        .filter_map(|l| l.strip_prefix("stand-in info signal="))
        .map(|rest| rest.split(" unix_ms=").next().unwrap_or(rest).to_owned())
        .collect()
}

fn whats(caller: &SippRun) -> Vec<String> {
    caller.caller_events().into_iter().map(|e| e.what).collect()
}

/// Keys pressed as they were logged, and the answered time they count from.
fn keys_and_start(caller: &SippRun) -> (String, u64, Vec<u64>) {
    let keys = caller.caller_keys();
    let start = caller.caller_answered_at().expect("answered");
    (
        keys.iter().map(|k| k.key).collect(),
        start,
        keys.iter().map(|k| k.unix_ms).collect(),
    )
}

#[tokio::test]
async fn rating_keys_by_info_go_in_the_dialog() {
    let server = stand_in(&[("infos", "2"), ("bye_after_ms", "1500")]);
    let caller = caller_rate(
        server.local_addr(),
        NUMBER,
        "92",
        KeyPress::Info,
        Duration::from_millis(300),
    )
    .set("key_gap_ms", "400")
    .timeout(LIMIT)
    .run()
    .await
    .expect("run caller_rate.xml");
    let server = server.wait().await.expect("stand-in ends");
    assert!(caller.success(), "{caller}");
    assert!(server.success(), "{server}");
    assert_eq!(
        signals(&server),
        [
            "9 type=application/dtmf-relay",
            "2 type=application/dtmf-relay"
        ],
        "{server}"
    );
    let (keys, start, times) = keys_and_start(&caller);
    assert_eq!(keys, "92", "{caller}");
    assert!(times[0] + SLACK_MS >= start + 300, "{caller}");
    assert!(times[1] + SLACK_MS >= times[0] + 400, "{caller}");
    let bye = caller.bye_from_daemon().expect("the stand-in's BYE");
    assert!(
        bye >= times[1] && bye + SLACK_MS >= start + 1500,
        "{caller}"
    );
    assert_eq!(
        whats(&caller),
        ["answered", "key", "key", "bye_from_daemon"]
    );
}

#[tokio::test]
async fn rating_keys_by_rfc4733_reach_the_sdp_address() {
    let probe = RtpProbe::start().expect("start the probe");
    let port = probe.port().to_string();
    let server = stand_in(&[("sdp_port", &port), ("bye_after_ms", "1500")]);
    let caller = caller_rate(
        server.local_addr(),
        NUMBER,
        "92",
        KeyPress::Rfc4733,
        Duration::from_millis(300),
    )
    .set("key_gap_ms", "400")
    .timeout(LIMIT)
    .run()
    .await
    .expect("run caller_rate.xml");
    let server = server.wait().await.expect("stand-in ends");
    assert!(caller.success(), "{caller}");
    assert!(server.success(), "{server}");
    assert!(signals(&server).is_empty(), "no INFO: {server}");
    let stats = probe.stats().await;
    assert_eq!(stats.keys(), "92", "{stats:?}");
    assert_eq!(stats.packets, 20, "10 packets per key: {stats:?}");
    assert_eq!(
        stats.payload_types.iter().collect::<Vec<_>>(),
        [&101],
        "{stats:?}"
    );
    assert!(
        stats.sources.contains(&caller.media_addr),
        "sent from the caller's media port: {stats:?}"
    );
    let (keys, _, _) = keys_and_start(&caller);
    assert_eq!(keys, "92", "{caller}");
    assert!(caller.bye_from_daemon().is_some(), "{caller}");
}

#[tokio::test]
async fn rating_caller_hangs_up_during_the_prompt() {
    let server = stand_in(&[("hangup", "caller")]);
    let caller = caller_rate(
        server.local_addr(),
        NUMBER,
        "",
        KeyPress::Info,
        Duration::from_millis(300),
    )
    .set("hangup_ms", "700")
    .timeout(LIMIT)
    .run()
    .await
    .expect("run caller_rate.xml");
    let server = server.wait().await.expect("stand-in ends");
    assert!(caller.success(), "{caller}");
    assert!(server.success(), "{server}");
    assert_eq!(whats(&caller), ["answered", "hung_up"], "{caller}");
    let start = caller.caller_answered_at().expect("answered");
    let hung_up = caller.caller_hung_up().expect("hung up");
    assert!(
        hung_up + SLACK_MS >= start + 700 && hung_up < start + 1500,
        "{caller}"
    );
    assert_eq!(caller.bye_from_daemon(), None);
    assert!(server.log.contains("stand-in bye_from_caller"), "{server}");
}

/// A wrong key, then the caller hangs up before the daemon does.
#[tokio::test]
async fn rating_caller_presses_then_hangs_up() {
    let server = stand_in(&[("infos", "1"), ("hangup", "caller")]);
    let caller = caller_rate(
        server.local_addr(),
        NUMBER,
        "9",
        KeyPress::Info,
        Duration::from_millis(200),
    )
    .set("hangup_ms", "800")
    .timeout(LIMIT)
    .run()
    .await
    .expect("run caller_rate.xml");
    let server = server.wait().await.expect("stand-in ends");
    assert!(caller.success(), "{caller}");
    assert!(server.success(), "{server}");
    assert_eq!(whats(&caller), ["answered", "key", "hung_up"], "{caller}");
    assert_eq!(signals(&server), ["9 type=application/dtmf-relay"]);
    let start = caller.caller_answered_at().expect("answered");
    let hung_up = caller.caller_hung_up().expect("hung up");
    // hangup_ms counts from the ACK, not from the key.
    assert!(
        hung_up + SLACK_MS >= start + 800 && hung_up < start + 1500,
        "{caller}"
    );
}

#[tokio::test]
async fn rating_caller_pressing_nothing_waits_for_the_bye() {
    let server = stand_in(&[("bye_after_ms", "800")]);
    let caller = caller_rate(
        server.local_addr(),
        NUMBER,
        "",
        KeyPress::Rfc4733,
        Duration::from_millis(300),
    )
    .timeout(LIMIT)
    .run()
    .await
    .expect("run caller_rate.xml");
    let server = server.wait().await.expect("stand-in ends");
    assert!(caller.success(), "{caller}");
    assert!(server.success(), "{server}");
    assert_eq!(whats(&caller), ["answered", "bye_from_daemon"], "{caller}");
    assert!(caller.caller_keys().is_empty(), "{caller}");
    let start = caller.caller_answered_at().expect("answered");
    let bye = caller.bye_from_daemon().expect("bye");
    assert!(bye + SLACK_MS >= start + 800, "{caller}");
}

/// With a probe the SDP offers the probe's port, keys go by INFO, and no
/// RTP leaves SIPp.
#[tokio::test]
async fn rating_probe_caller_offers_the_probe_and_keys_by_info() {
    let probe = RtpProbe::start().expect("start the probe");
    let server = stand_in(&[("infos", "1"), ("bye_after_ms", "1000")]);
    let caller = caller_rate_probe(
        server.local_addr(),
        NUMBER,
        "1",
        Duration::from_millis(200),
        &probe,
    )
    .timeout(LIMIT)
    .run()
    .await
    .expect("run caller_rate.xml");
    let server = server.wait().await.expect("stand-in ends");
    assert!(caller.success(), "{caller}");
    assert!(server.success(), "{server}");
    assert!(
        caller
            .messages
            .contains(&format!("m=audio {} RTP/AVP", probe.port())),
        "{caller}"
    );
    assert_eq!(signals(&server), ["1 type=application/dtmf-relay"]);
    assert_eq!(whats(&caller), ["answered", "key", "bye_from_daemon"]);
    assert_eq!(probe.stats().await.packets, 0);
}

/// The wrapper refuses a probe with RFC 4733 keys; so does the scenario
/// itself (exit code 97, before any INVITE) when run without the wrapper.
#[tokio::test]
async fn rating_probe_with_rfc4733_is_refused() {
    let probe = RtpProbe::start().expect("start the probe");
    let server = stand_in(&[]);
    let refused = caller_rate_probe(
        server.local_addr(),
        NUMBER,
        "1",
        Duration::from_millis(200),
        &probe,
    )
    .set("via", "rfc4733")
    .spawn()
    .expect_err("refused");
    assert_eq!(refused.kind(), io::ErrorKind::InvalidInput, "{refused}");

    let raw = Sipp::new("caller_rate.xml")
        .remote(server.local_addr())
        .service(NUMBER)
        .set("keys", "1")
        .set("via", "rfc4733")
        .set("probe_port", &probe.port().to_string())
        .timeout(LIMIT)
        .run()
        .await
        .expect("run caller_rate.xml");
    assert_eq!(raw.exit_code, Some(97), "{raw}");
    assert!(raw.log.contains("caller refused"), "{raw}");
    assert!(!raw.messages.contains("INVITE sip:"), "{raw}");
    // The stand-in got nothing; it is killed on drop.
    drop(server);
}
