//! A phone's hold button: the seat's phone re-INVITEs with `sendonly`; the daemon answers
//! `recvonly` and the caller hears hold music instead of the seat; resuming (`sendrecv`)
//! brings the seat back.

use std::time::Duration;

use hotline::call::board::LineState;

use crate::common::{self, eventually, Options};
use crate::peers::{
    caller_hangs_up_then, caller_queue_probe, seat_agent, spawn_registered, AnswerMode, Audio,
    Hangup, RtpProbe,
};

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn the_seat_holds_and_resumes_and_the_caller_hears_music_between() {
    let t = common::start(Options {
        extra_config: "[ratings]\nenabled = false\n".to_string(),
        ..Options::default()
    })
    .await;
    let seat_probe = RtpProbe::sending(Audio::tone(700.0)).expect("seat probe");
    let agent = seat_agent(
        t.daemon.sip_udp,
        "1001",
        "seat1001-secret",
        1,
        AnswerMode::Answer,
        Hangup::OtherSide,
    )
    .out_of_call("seat_hold_incoming.xml")
    .set("probe_port", &seat_probe.port().to_string())
    .set("hold_ms", "3000")
    .set("resume_ms", "3000")
    .set("wait_ms", "60000")
    .timeout(Duration::from_secs(70));
    let mut seat = spawn_registered(agent, t.daemon.sip_udp, "1001", "seat1001-secret", LIMIT)
        .await
        .expect("seat logs in");
    let caller_probe = RtpProbe::sending(Audio::tone(440.0)).expect("caller probe");
    let mut caller = caller_queue_probe(t.daemon.sip_udp, "12350", &caller_probe)
        .set("hangup", "poke")
        .timeout(Duration::from_secs(70))
        .spawn()
        .expect("caller");
    assert!(
        seat.wait_log("agent answered", LIMIT + LIMIT).await,
        "{}",
        seat.log_so_far()
    );
    let connected = eventually(LIMIT, || async {
        t.daemon
            .board()
            .snapshot()
            .iter()
            .any(|l| l.state == LineState::Connected)
    })
    .await;
    assert!(connected, "{:?}", t.daemon.board().snapshot());
    caller_probe.reset().await;
    caller_probe.wait_for_audio(60, LIMIT).await;
    assert!(
        caller_probe.tone(700.0).await.heard(),
        "caller hears no seat"
    );

    assert!(
        seat.wait_log("hold sendonly", LIMIT).await,
        "no answer to the hold:\n{}\n{}",
        seat.log_so_far(),
        seat.messages_so_far()
    );
    assert!(
        seat.log_so_far().contains("hold sendonly unix_ms="),
        "{}",
        seat.log_so_far()
    );
    assert!(
        seat.log_so_far().contains("answer=recvonly"),
        "the hold was not answered recvonly:\n{}",
        seat.log_so_far()
    );
    caller_probe.reset().await;
    let held = caller_probe.wait_for_audio(60, LIMIT).await;
    let seat_tone = caller_probe.tone(700.0).await;
    assert!(
        !seat_tone.heard(),
        "the caller still hears the seat: {seat_tone:?}"
    );
    assert!(held.rms > 300.0, "the caller holds in silence: {held:?}");

    assert!(
        seat.wait_log("hold sendrecv", LIMIT).await,
        "no answer to the resume:\n{}",
        seat.log_so_far()
    );
    caller_probe.reset().await;
    caller_probe.wait_for_audio(60, LIMIT).await;
    let back = caller_probe.tone(700.0).await;
    assert!(back.heard(), "the seat did not come back: {back:?}");

    caller_hangs_up_then(
        &mut caller,
        &[&caller_probe, &seat_probe],
        &mut seat,
        "agent ended",
        LIMIT,
    )
    .await;
    t.daemon.shutdown().await.expect("shutdown");
}

/// A re-INVITE is a session refresh when it keeps the codec (200), and refused with 488 when it
/// asks for another one: the daemon does not change a running stream's codec.
#[tokio::test]
async fn a_reinvite_that_changes_the_codec_is_refused_and_a_refresh_is_not() {
    let t = common::start(Options {
        extra_config: "[ratings]\nenabled = false\n".to_string(),
        ..Options::default()
    })
    .await;
    let probe = RtpProbe::start().expect("probe");
    let mut call =
        crate::raw_caller::RawCaller::call(t.daemon.sip_udp, "12350", "13900000081", probe.port())
            .await;
    assert_eq!(call.reinvite("PCMA", 8, probe.port()).await, 488);
    assert_eq!(call.reinvite("PCMU", 0, probe.port()).await, 200);
    call.hang_up().await;
    t.daemon.shutdown().await.expect("shutdown");
}
