//! The queue peers checked without the daemon: seats dialling or typing
//! feature codes against a stand-in (tests/sipp/selftest_feature_server.xml),
//! the seat agent registered to the stand-in registrar and called directly
//! by trunk scenarios, and the queued caller calling the agent, its audio
//! measured by an RtpProbe.

use std::net::SocketAddr;
use std::time::Duration;

use hotline::auth::{ha1, parse_credentials, verify, Algorithm};

use super::{
    caller_queue, caller_queue_probe, feature_call, feature_keys, seat_agent, spawn_registered,
    AnswerMode, Hangup, KeyPress, RtpProbe, Sipp, SippProcess, SippRun,
};

const USER: &str = "1001";
const PASSWORD: &str = "s3cret";
/// The stand-ins' realm (fake_registrar.xml, selftest_feature_server.xml).
const REALM: &str = "hotline-test";
const LIMIT: Duration = Duration::from_secs(15);

fn feature_server(sets: &[(&str, &str)]) -> SippProcess {
    let mut sipp = Sipp::new("selftest_feature_server.xml").timeout(LIMIT);
    for (name, value) in sets {
        sipp = sipp.set(name, value);
    }
    sipp.spawn().expect("start the stand-in feature server")
}

/// The INVITE the seat sent with Proxy-Authorization: its Request-URI and
/// credentials verify against the password, as the daemon will check them
/// (digest over the header's uri, which must be the Request-URI).
fn assert_proxy_auth(seat: &SippRun) {
    let mut request_uri = None;
    let mut header = None;
    for line in seat.messages.lines() {
        if let Some(rest) = line.strip_prefix("INVITE ") {
            request_uri = rest.split(' ').next();
        }
        if let Some(value) = line.strip_prefix("Proxy-Authorization:") {
            header = Some(value.trim());
            break;
        }
    }
    let (Some(request_uri), Some(header)) = (request_uri, header) else {
        panic!("no INVITE with Proxy-Authorization:\n{seat}");
    };
    let creds = parse_credentials(header).expect("credentials parse");
    assert_eq!(creds.username, USER, "{seat}");
    assert_eq!(
        creds.uri, request_uri,
        "digest uri is the Request-URI\n{seat}"
    );
    let stored = ha1(Algorithm::Md5, USER, REALM, PASSWORD);
    assert!(verify(&creds, "INVITE", &stored), "digest verifies\n{seat}");
}

fn addr(process: &SippProcess) -> SocketAddr {
    process.local_addr()
}

#[tokio::test]
async fn feature_call_dials_the_code_with_proxy_auth() {
    let server = feature_server(&[]);
    let seat = feature_call(addr(&server), USER, PASSWORD, "*732%23")
        .timeout(LIMIT)
        .run()
        .await
        .expect("run seat_feature.xml");
    let server = server.wait().await.expect("stand-in ends");
    assert!(seat.success(), "{seat}");
    assert!(server.success(), "{server}");
    assert!(
        server.log.contains("ruri=sip:*732%23@127.0.0.1:"),
        "{server}"
    );
    assert_proxy_auth(&seat);
    let events: Vec<_> = seat.events("feature").into_iter().map(|e| e.what).collect();
    assert_eq!(events, ["answered", "bye_from_daemon"], "{seat}");
}

#[tokio::test]
async fn feature_keys_as_info_send_one_info_per_key() {
    let server = feature_server(&[("infos", "5")]);
    let seat = feature_keys(addr(&server), USER, PASSWORD, "*", "*732#", KeyPress::Info)
        .set("key_delay_ms", "100")
        .set("key_gap_ms", "100")
        .timeout(LIMIT)
        .run()
        .await
        .expect("run seat_feature_info.xml");
    let server = server.wait().await.expect("stand-in ends");
    assert!(seat.success(), "{seat}");
    assert!(server.success(), "{server}");
    let signals: Vec<&str> = server
        .log
        .lines()
        .filter_map(|l| l.strip_prefix("stand-in info signal="))
        .collect();
    let want = ["*", "7", "3", "2", "#"]
        .map(|k| format!("{k} type=application/dtmf-relay"))
        .to_vec();
    assert_eq!(signals, want, "{server}");
    assert!(server.log.contains("ruri=sip:*@127.0.0.1:"), "{server}");
    assert_proxy_auth(&seat);
}

#[tokio::test]
async fn feature_keys_as_rfc4733_reach_the_sdp_address() {
    let probe = RtpProbe::start().expect("start the probe");
    let port = probe.port().to_string();
    // Three keys of 280 ms, 250 ms apart, after 100 ms: all sent by 1.2 s.
    let server = feature_server(&[("sdp_port", &port), ("bye_after_ms", "1500")]);
    let seat = feature_keys(addr(&server), USER, PASSWORD, "*", "*71", KeyPress::Rfc4733)
        .set("key_delay_ms", "100")
        .set("key_gap_ms", "250")
        .timeout(LIMIT)
        .run()
        .await
        .expect("run seat_feature_rfc4733.xml");
    let server = server.wait().await.expect("stand-in ends");
    assert!(seat.success(), "{seat}");
    assert!(server.success(), "{server}");
    let stats = probe.stats().await;
    assert_eq!(stats.keys(), "*71", "{stats:?}");
    assert_eq!(stats.packets, 30, "10 packets per key: {stats:?}");
    assert_eq!(
        stats.payload_types.iter().collect::<Vec<_>>(),
        [&101],
        "{stats:?}"
    );
    assert!(
        stats.sources.contains(&seat.media_addr),
        "sent from the seat's media port: {stats:?}"
    );
}

/// The stand-in registrar, the stand-in feature server for the login, and
/// an agent started with `spawn_registered`.
async fn agent(calls: u32, mode: AnswerMode, hangup: Hangup, sets: &[(&str, &str)]) -> SippProcess {
    let registrar = Sipp::new("fake_registrar.xml")
        .key("user", USER)
        .key("password", PASSWORD)
        .timeout(LIMIT)
        .spawn()
        .expect("start the stand-in registrar");
    let login = feature_server(&[]);
    let mut sipp = seat_agent(addr(&login), USER, PASSWORD, calls, mode, hangup)
        .set("ring_ms", "100")
        .set("talk_ms", "500")
        .set("wait_ms", "10000")
        .timeout(LIMIT);
    for (name, value) in sets {
        sipp = sipp.set(name, value);
    }
    let agent = spawn_registered(sipp, registrar.local_addr(), USER, PASSWORD, LIMIT)
        .await
        .expect("the agent registers and logs in");
    let registrar = registrar.wait().await.expect("registrar ends");
    assert!(registrar.log.contains("auth_ok=true"), "{registrar}");
    let login = login.wait().await.expect("login stand-in ends");
    assert!(login.success(), "{login}");
    assert!(login.log.contains("ruri=sip:*71@"), "{login}");
    agent
}

fn trunk(seat: &SippProcess, scenario: &str, caller: &str) -> Sipp {
    Sipp::new(scenario)
        .remote(seat.local_addr())
        .service(USER)
        .set("caller", caller)
        .timeout(LIMIT)
}

#[tokio::test]
async fn seat_agent_answers_calls_one_after_another() {
    let seat = agent(2, AnswerMode::Answer, Hangup::OwnSide, &[]).await;
    for caller in ["13800000001", "13800000002"] {
        let run = trunk(&seat, "trunk_wait_bye.xml", caller)
            .run()
            .await
            .expect("run the trunk");
        assert!(run.success(), "{run}");
    }
    let seat = seat.wait().await.expect("agent ends");
    assert!(seat.success(), "{seat}");
    let answered = seat.agent_answered();
    let froms: Vec<_> = answered.iter().filter_map(|e| e.from.as_deref()).collect();
    assert_eq!(froms, ["13800000001", "13800000002"], "{seat}");
    assert!(answered[0].unix_ms < answered[1].unix_ms, "{seat}");
    let ended = seat
        .agent_events()
        .iter()
        .filter(|e| e.what == "ended" && e.line.ends_with("by=seat"))
        .count();
    assert_eq!(ended, 2, "{seat}");
}

#[tokio::test]
async fn busy_seat_agent_gives_486() {
    let seat = agent(1, AnswerMode::Busy, Hangup::OwnSide, &[]).await;
    let run = trunk(&seat, "trunk_fail.xml", "13800000001")
        .run()
        .await
        .expect("run the trunk");
    let seat = seat.wait().await.expect("agent ends");
    assert!(run.success(), "{run}");
    assert_eq!(run.final_response(), Some(486), "{run}");
    assert!(seat.success(), "{seat}");
    assert!(seat.agent_answered().is_empty(), "{seat}");
    assert!(
        seat.agent_events().iter().any(|e| e.what == "busy"),
        "{seat}"
    );
}

#[tokio::test]
async fn unanswering_seat_agent_rings_until_cancelled() {
    let seat = agent(1, AnswerMode::NoAnswer, Hangup::OwnSide, &[]).await;
    let run = trunk(&seat, "trunk_cancel.xml", "13800000001")
        .set("cancel_ms", "300")
        .run()
        .await
        .expect("run the trunk");
    let seat = seat.wait().await.expect("agent ends");
    assert!(run.success(), "{run}");
    assert!(seat.success(), "{seat}");
    assert!(
        seat.agent_events().iter().any(|e| e.what == "cancelled"),
        "{seat}"
    );
}

/// The queued caller calls the agent directly: the probe gets the seat's
/// 1 kHz tone, and the caller takes the seat's BYE.
#[tokio::test]
async fn queued_caller_probe_hears_the_seat_and_gets_its_bye() {
    let seat = agent(
        1,
        AnswerMode::Answer,
        Hangup::OwnSide,
        &[("talk_ms", "1000")],
    )
    .await;
    let probe = RtpProbe::start().expect("start the probe");
    let caller = caller_queue_probe(seat.local_addr(), USER, &probe)
        .set("hangup", "daemon")
        .timeout(LIMIT)
        .run()
        .await
        .expect("run caller_queue.xml");
    let seat = seat.wait().await.expect("agent ends");
    assert!(caller.success(), "{caller}");
    assert!(seat.success(), "{seat}");
    let stats = probe.stats().await;
    // 1 s of 20 ms packets; allow for the start and the end of the stream.
    assert!(stats.audio_packets >= 35, "{stats:?}");
    assert!(stats.rms > 5000.0, "{stats:?}");
    assert!((stats.pitch_hz - 1000.0).abs() < 50.0, "{stats:?}");
    assert_eq!(stats.seq_gaps, 0, "{stats:?}");
    // The agent rings for ring_ms = 100 ms before its 200.
    let after = caller.caller_answered_after().expect("answered after");
    assert!(after < Duration::from_secs(2), "{after:?}\n{caller}");
    let last = caller.caller_events().pop().expect("caller events");
    assert_eq!(last.what, "bye_from_daemon", "{caller}");
    // Nothing came to SIPp's own media port in the SDP's place.
    assert!(!caller
        .messages
        .contains(&format!("m=audio {} ", caller.media_addr.port())));
}

#[tokio::test]
async fn queued_caller_abandons_after_abandon_ms() {
    let seat = agent(1, AnswerMode::Answer, Hangup::OtherSide, &[]).await;
    let caller = caller_queue(seat.local_addr(), USER)
        .set("abandon_ms", "300")
        .set("audio", "tone")
        .timeout(LIMIT)
        .run()
        .await
        .expect("run caller_queue.xml");
    let seat = seat.wait().await.expect("agent ends");
    assert!(caller.success(), "{caller}");
    assert!(seat.success(), "{seat}");
    let events: Vec<_> = caller.caller_events().into_iter().map(|e| e.what).collect();
    assert_eq!(events, ["answered", "abandoned"], "{caller}");
    assert!(
        seat.agent_events()
            .iter()
            .any(|e| e.what == "ended" && e.line.ends_with("by=caller")),
        "{seat}"
    );
}

/// A call offered while the agent is in one gets 486 and does not count.
#[tokio::test]
async fn seat_agent_in_a_call_rejects_a_second_one() {
    let seat = agent(1, AnswerMode::Answer, Hangup::OtherSide, &[]).await;
    let first = trunk(&seat, "trunk_call.xml", "13800000001")
        .set("hold_ms", "1500")
        .spawn()
        .expect("start the first trunk call");
    let mut seat = seat;
    assert!(
        seat.wait_log("agent answered", LIMIT).await,
        "{}",
        seat.log_so_far()
    );
    let second = trunk(&seat, "trunk_fail.xml", "13800000002")
        .run()
        .await
        .expect("run the second trunk call");
    let first = first.wait().await.expect("first trunk ends");
    let seat = seat.wait().await.expect("agent ends");
    assert!(first.success(), "{first}");
    assert_eq!(second.final_response(), Some(486), "{second}");
    assert!(seat.success(), "{seat}");
    let whats: Vec<_> = seat.agent_events().into_iter().map(|e| e.what).collect();
    assert_eq!(
        whats,
        [
            "login_answered",
            "logged_in",
            "offered",
            "answered",
            "offered",
            "rejected_while_busy",
            "ended"
        ],
        "{seat}"
    );
}
