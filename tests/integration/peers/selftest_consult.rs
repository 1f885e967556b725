//! The consultation peers checked without the daemon: the unit's duty line (unit_answer.xml)
//! called directly by a caller, the seat agent answering with a probe's port, and the caller
//! that hangs up when poked. Each party's audio comes from an RtpProbe aimed at the other.

use std::time::Duration;

use super::{
    caller_queue_probe, poke_hangup, seat_agent_probe, unit_answer, Audio, RtpProbe, Sipp,
    UnitAnswer,
};

const LIMIT: Duration = Duration::from_secs(15);

/// The caller calls the unit directly: each probe hears the other's tone from the port in the
/// other's SDP; the poked caller hangs up and the unit takes the BYE.
#[tokio::test]
async fn unit_answers_with_the_probe_and_takes_the_poked_callers_bye() {
    let unit_probe = RtpProbe::sending(Audio::tone(1000.0)).expect("unit probe");
    let caller_probe = RtpProbe::sending(Audio::tone(440.0)).expect("caller probe");
    let unit = unit_answer(UnitAnswer::Answer, &unit_probe, LIMIT)
        .spawn()
        .expect("start the unit");
    let mut caller = caller_queue_probe(unit.local_addr(), "duty", &caller_probe)
        .set("hangup", "poke")
        .timeout(LIMIT)
        .spawn()
        .expect("start the caller");
    // Nobody in the middle: the unit's probe starts the exchange.
    unit_probe.aim(caller_probe.addr());
    caller_probe.wait_for_audio(60, LIMIT).await;
    unit_probe.wait_for_audio(60, LIMIT).await;
    assert!(
        caller_probe.hears(1000.0).await,
        "{:?}",
        caller_probe.tone(1000.0).await
    );
    assert!(
        unit_probe.hears(440.0).await,
        "{:?}",
        unit_probe.tone(440.0).await
    );
    assert_eq!(caller_probe.sent().peer, Some(unit_probe.addr()));
    let poked = poke_hangup(&mut caller, LIMIT).await;
    let caller = caller.wait().await.expect("caller ends");
    poked.unwrap_or_else(|e| panic!("{e}\n{caller}"));
    let unit = unit.wait().await.expect("unit ends");
    assert!(caller.success(), "{caller}");
    assert!(unit.success(), "{unit}");
    let whats: Vec<_> = caller.caller_events().into_iter().map(|e| e.what).collect();
    assert_eq!(whats, ["answered", "poked", "hung_up"], "{caller}");
    assert_eq!(
        unit.unit_events(),
        ["offered", "answered", "bye_from_daemon"],
        "{unit}"
    );
    assert!(
        unit.messages
            .contains(&format!("m=audio {} RTP/AVP 0 101", unit_probe.port())),
        "{unit}"
    );
    assert!(unit.log.contains("ruri=sip:duty@127.0.0.1:"), "{unit}");
}

#[tokio::test]
async fn unanswering_unit_rings_until_cancelled() {
    let probe = RtpProbe::start().expect("probe");
    let unit = unit_answer(UnitAnswer::NoAnswer, &probe, LIMIT)
        .spawn()
        .expect("start the unit");
    let caller = Sipp::new("trunk_cancel.xml")
        .remote(unit.local_addr())
        .service("duty")
        .set("cancel_ms", "300")
        .timeout(LIMIT)
        .run()
        .await
        .expect("run the trunk");
    let unit = unit.wait().await.expect("unit ends");
    assert!(caller.success(), "{caller}");
    assert!(unit.success(), "{unit}");
    assert_eq!(unit.unit_events(), ["offered", "cancelled"], "{unit}");
}

/// The seat agent with a probe: its 200 names the probe's port and SIPp sends no RTP, so the
/// caller hears only what the probe sends.
#[tokio::test]
async fn seat_agent_answers_with_the_probes_port() {
    let registrar = Sipp::new("fake_registrar.xml")
        .key("user", "1001")
        .key("password", "s3cret")
        .timeout(LIMIT)
        .spawn()
        .expect("start the stand-in registrar");
    let login = Sipp::new("selftest_feature_server.xml")
        .timeout(LIMIT)
        .spawn()
        .expect("start the stand-in feature server");
    let seat_probe = RtpProbe::sending(Audio::tone(700.0)).expect("seat probe");
    let caller_probe = RtpProbe::sending(Audio::Silence).expect("caller probe");
    let agent = seat_agent_probe(login.local_addr(), "1001", "s3cret", &seat_probe)
        .set("ring_ms", "100")
        .set("wait_ms", "10000")
        .timeout(LIMIT);
    let seat = super::spawn_registered(agent, registrar.local_addr(), "1001", "s3cret", LIMIT)
        .await
        .expect("the agent registers and logs in");
    let mut caller = caller_queue_probe(seat.local_addr(), "1001", &caller_probe)
        .set("hangup", "poke")
        .timeout(LIMIT)
        .spawn()
        .expect("start the caller");
    seat_probe.aim(caller_probe.addr());
    let heard = caller_probe.wait_for_audio(60, LIMIT).await;
    assert!(
        caller_probe.hears(700.0).await,
        "{:?}",
        caller_probe.tone(700.0).await
    );
    assert!(
        !caller_probe.hears(1000.0).await,
        "SIPp's own 1 kHz is not sent"
    );
    assert_eq!(
        heard.sources.into_iter().collect::<Vec<_>>(),
        [seat_probe.addr()],
        "only the probe sends"
    );
    poke_hangup(&mut caller, LIMIT).await.expect("poke");
    let caller = caller.wait().await.expect("caller ends");
    let seat = seat.wait().await.expect("agent ends");
    assert!(caller.success(), "{caller}");
    assert!(seat.success(), "{seat}");
    assert!(
        seat.messages
            .contains(&format!("m=audio {} RTP/AVP 0 101", seat_probe.port())),
        "{seat}"
    );
    let whats: Vec<_> = seat.agent_events().into_iter().map(|e| e.what).collect();
    assert_eq!(
        whats,
        [
            "login_answered",
            "logged_in",
            "offered",
            "answered",
            "ended"
        ],
        "{seat}"
    );
    drop((registrar, login));
}
