//! Consultations against real peers: a SIPp caller queued to a SIPp seat agent, a SIPp unit on
//! its own port (the unit's duty contact in the dialplan), and behind each an RtpProbe that
//! sends the party's audio from the port in its SDP: the caller 440 Hz, the unit 1 kHz, the
//! seat silence or 700 Hz. The seat's probe types the in-call codes as RFC 4733 keys; a
//! Goertzel filter over the last second each probe received decides who hears whom.

use std::time::Duration;

use hotline::call::board::LineState;
use hotline::store::{CallEventRecord, LegRecord, LegRole};

use crate::common::{self, eventually, Options, TestDaemon};
use crate::peers::{
    caller_hangs_up_then, caller_queue_probe, free_udp_port, poke_hangup, seat_agent_probe,
    spawn_registered, unit_answer, Audio, RtpProbe, SippProcess, SippRun, UnitAnswer,
};

/// A bound for every wait on the daemon or a peer.
pub(crate) const LIMIT: Duration = Duration::from_secs(20);
/// SIPp's own -timeout for each peer: longer than any test.
const PEER_TIMEOUT: Duration = Duration::from_secs(90);
const SEAT: &str = "1001";
pub(crate) const UNIT: &str = "2001";
pub(crate) const CALLER_HZ: f64 = 440.0;
pub(crate) const UNIT_HZ: f64 = 1000.0;
pub(crate) const SEAT_HZ: f64 = 700.0;
/// The beeps in the seat's ear when a unit rang out (`media::tones::UNIT_GIVEN_UP`).
const GIVEN_UP_HZ: f64 = 1400.0;
/// Audio packets a probe waits for after a switch: 1.2 s, of which the last second is looked
/// at, so that packets of what it heard before the switch have left the window.
const LISTEN_PACKETS: u64 = 60;

/// The parties of one consultation, each a SIPp with its probe.
pub(crate) struct Scene {
    pub(crate) t: TestDaemon,
    caller: SippProcess,
    pub(crate) caller_probe: RtpProbe,
    pub(crate) seat: SippProcess,
    pub(crate) seat_probe: RtpProbe,
    pub(crate) unit: SippProcess,
    unit_probe: RtpProbe,
}

/// A unit whose duty line is a unit_answer.xml that answers as `unit_mode`, seat 1001 logged
/// in with a probe sending `seat_audio`, and a caller to the queue (12350) whose probe sends
/// 440 Hz, connected to the seat.
async fn scene(unit_mode: UnitAnswer, seat_audio: Audio) -> Scene {
    scene_with(unit_mode, seat_audio, "").await
}

/// `scene`, with `settings` appended to the daemon's configuration.
pub(crate) async fn scene_with(unit_mode: UnitAnswer, seat_audio: Audio, settings: &str) -> Scene {
    let unit_port = free_udp_port().expect("a port for the unit");
    let unit_probe = RtpProbe::sending(Audio::tone(UNIT_HZ)).expect("unit probe");
    let unit = unit_answer(unit_mode, &unit_probe, PEER_TIMEOUT)
        .port(unit_port)
        .spawn()
        .expect("start the unit");
    // The unit, and an outbound route for 0551 numbers through a trunk that also leads to the
    // unit's port: whatever the daemon dials, the unit's SIPp sees it.
    let t = common::start(Options {
        extra_config: format!(
            "[[trunks]]\nname = \"outside\"\nsources = [\"127.0.0.2/32\"]\n\
             outbound = \"127.0.0.1:{unit_port}\"\n{settings}"
        ),
        extra_routes: format!(
            "[[outbound]]\nprefix = \"0551\"\ntrunk = \"outside\"\ncaller_id = \"055112345\"\n\n\
             [[units]]\nid = \"{UNIT}\"\nname = \"区住房和城乡建设局\"\nlevel = 2\n\
             contacts = {{ duty = \"sip:duty@127.0.0.1:{unit_port}\" }}\nhunt = {{ attempts = 1 }}\n"
        ),
        ..Options::default()
    })
    .await;
    let (seat, seat_probe, caller, caller_probe) =
        seat_answers_a_caller(&t, seat_audio, &[("hangup", "poke")]).await;
    let scene = Scene {
        t,
        caller,
        caller_probe,
        seat,
        seat_probe,
        unit,
        unit_probe,
    };
    scene.line(LineState::Connected).await;
    scene
}

/// Seat 1001 logged in with a probe sending `seat_audio`, and a caller to the queue (12350,
/// with `caller_sets` for caller_queue.xml) whose probe sends 440 Hz; returns once the seat
/// has answered: seat, seat probe, caller, caller probe.
pub(crate) async fn seat_answers_a_caller(
    t: &TestDaemon,
    seat_audio: Audio,
    caller_sets: &[(&str, &str)],
) -> (SippProcess, RtpProbe, SippProcess, RtpProbe) {
    seat_answers_a_caller_to(t, "12350", seat_audio, caller_sets).await
}

/// `seat_answers_a_caller`, the caller dialling `number` (a queue route).
pub(crate) async fn seat_answers_a_caller_to(
    t: &TestDaemon,
    number: &str,
    seat_audio: Audio,
    caller_sets: &[(&str, &str)],
) -> (SippProcess, RtpProbe, SippProcess, RtpProbe) {
    let password = format!("seat{SEAT}-secret");
    let seat_probe = RtpProbe::sending(seat_audio).expect("seat probe");
    let agent = seat_agent_probe(t.daemon.sip_udp, SEAT, &password, &seat_probe)
        .set("ring_ms", "200")
        .set("wait_ms", "80000")
        .timeout(PEER_TIMEOUT);
    let mut seat = spawn_registered(agent, t.daemon.sip_udp, SEAT, &password, LIMIT)
        .await
        .expect("the seat logs in");
    let caller_probe = RtpProbe::sending(Audio::tone(CALLER_HZ)).expect("caller probe");
    let mut caller = caller_queue_probe(t.daemon.sip_udp, number, &caller_probe);
    for (name, value) in caller_sets {
        caller = caller.set(name, value);
    }
    let caller = caller
        .timeout(PEER_TIMEOUT)
        .spawn()
        .expect("start the caller");
    // The welcome (about 6 s), then the queue offers the seat.
    assert!(
        seat.wait_log("agent answered", LIMIT + LIMIT).await,
        "{}",
        seat.log_so_far()
    );
    (seat, seat_probe, caller, caller_probe)
}

impl Scene {
    /// The seat types `*1<unit>#`; returns once the unit rings and the call is consulting.
    pub(crate) async fn consult_the_unit(&mut self) {
        self.keys(&format!("*1{UNIT}#")).await;
        assert!(
            self.unit.wait_log("unit offered", LIMIT).await,
            "{}",
            self.unit.log_so_far()
        );
        self.line(LineState::Consulting).await;
    }

    /// Waits until the board shows the call in `state`.
    pub(crate) async fn line(&self, state: LineState) {
        let board = self.t.daemon.board();
        let reached = eventually(LIMIT, || async {
            board.snapshot().iter().any(|l| l.state == state)
        })
        .await;
        assert!(
            reached,
            "the line never reached {state:?}: {:?}",
            board.snapshot()
        );
    }

    /// The daemon's id of the call in progress.
    pub(crate) fn call_id(&self) -> String {
        let lines = self.t.daemon.board().snapshot();
        assert_eq!(lines.len(), 1, "{lines:?}");
        lines[0].id.clone()
    }

    pub(crate) async fn keys(&self, keys: &str) {
        if let Err(e) = self.seat_probe.send_keys(keys, LIMIT).await {
            panic!("the seat types {keys}: {e}\n{}", self.report().await);
        }
    }

    /// What each probe received and sent, and the board, for failure messages.
    async fn report(&self) -> String {
        let mut report = String::new();
        for (who, probe) in [
            ("caller", &self.caller_probe),
            ("seat", &self.seat_probe),
            ("unit", &self.unit_probe),
        ] {
            report.push_str(&format!(
                "{who} probe {}: received {:?}; sent {:?}\n",
                probe.addr(),
                probe.stats().await,
                probe.sent()
            ));
        }
        report.push_str(&format!("board: {:?}", self.t.daemon.board().snapshot()));
        report
    }

    /// Back to two parties: the board shows the call connected, caller and seat hear each
    /// other, and nobody hears the unit.
    async fn caller_and_seat_talk(&self) {
        self.line(LineState::Connected).await;
        listen(&[("caller", &self.caller_probe), ("seat", &self.seat_probe)]).await;
        hears(
            "caller",
            &self.caller_probe,
            &[SEAT_HZ],
            &[UNIT_HZ, CALLER_HZ],
        )
        .await;
        hears("seat", &self.seat_probe, &[CALLER_HZ], &[UNIT_HZ, SEAT_HZ]).await;
    }

    /// The caller hangs up and every peer ends well; what is left to check: the daemon, the
    /// unit's run and the unit's probe.
    pub(crate) async fn end(mut self) -> (TestDaemon, SippRun, RtpProbe) {
        self.caller_hangs_up().await;
        for (who, process) in [("caller", self.caller), ("seat", self.seat)] {
            let run = process.wait().await.expect("peer ends");
            assert!(run.success(), "{who}: {run}");
        }
        let unit = self.unit.wait().await.expect("unit ends");
        assert!(unit.success(), "{unit}");
        (self.t, unit, self.unit_probe)
    }

    /// As `end`, for a scene whose unit was never called: the caller hangs up, caller and seat
    /// end well, and the unit's SIPp is killed.
    pub(crate) async fn end_without_unit(mut self) -> TestDaemon {
        self.caller_hangs_up().await;
        for (who, process) in [("caller", self.caller), ("seat", self.seat)] {
            let run = process.wait().await.expect("peer ends");
            assert!(run.success(), "{who}: {run}");
        }
        self.t
    }

    /// The caller hangs up (after the checks): it gets its 200 and exits 0. Every probe stops
    /// sending first: the daemon frees the call's RTP ports when the call ends, and a daemon of
    /// another test may take one at once; packets still sent there would be the first it hears
    /// on its new leg, and it would latch to them (the latch takes the first source).
    pub(crate) async fn caller_hangs_up(&mut self) {
        for probe in [&self.caller_probe, &self.seat_probe, &self.unit_probe] {
            probe.set_audio(None);
        }
        let poked = poke_hangup(&mut self.caller, LIMIT).await;
        assert!(poked.is_ok(), "{poked:?}: {}", self.caller.log_so_far());
    }
}

/// Whether the board shows a line in `state` within the limit.
async fn reaches(t: &TestDaemon, state: LineState) -> bool {
    let board = t.daemon.board();
    eventually(LIMIT, || async {
        board.snapshot().iter().any(|l| l.state == state)
    })
    .await
}

async fn events(t: &TestDaemon, call_id: &str) -> Vec<CallEventRecord> {
    t.daemon.flush_records().await.expect("flush");
    t.daemon
        .store()
        .call_events(call_id)
        .await
        .expect("call events")
}

/// The legs of the finished call, once its record is written.
async fn legs(t: &TestDaemon, call_id: &str) -> Vec<LegRecord> {
    let store = t.daemon.store();
    let written = eventually(LIMIT, || async {
        t.daemon.flush_records().await.is_ok()
            && store
                .calls()
                .await
                .is_ok_and(|calls| calls.iter().any(|c| c.id == call_id))
    })
    .await;
    assert!(written, "no record of call {call_id}");
    store.legs(call_id).await.expect("legs")
}

/// Forgets what `probes` received and waits until each has `LISTEN_PACKETS` of fresh audio.
pub(crate) async fn listen(probes: &[(&str, &RtpProbe)]) {
    for (_, probe) in probes {
        probe.reset().await;
    }
    for (who, probe) in probes {
        let stats = probe.wait_for_audio(LISTEN_PACKETS, LIMIT).await;
        assert!(
            stats.audio_packets >= LISTEN_PACKETS,
            "the {who} hears too little: {stats:?}"
        );
    }
}

/// `who` hears every tone of `yes` and none of `no`.
pub(crate) async fn hears(who: &str, probe: &RtpProbe, yes: &[f64], no: &[f64]) {
    for &hz in yes {
        let tone = probe.tone(hz).await;
        assert!(tone.heard(), "the {who} does not hear {hz} Hz: {tone:?}");
    }
    for &hz in no {
        let tone = probe.tone(hz).await;
        assert!(!tone.heard(), "the {who} hears {hz} Hz: {tone:?}");
    }
}

fn kinds(events: &[CallEventRecord]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

fn roles(legs: &[LegRecord]) -> Vec<&'static str> {
    let mut roles: Vec<&str> = legs.iter().map(|l| l.role.as_str()).collect();
    roles.sort();
    roles
}

fn leg(legs: &[LegRecord], role: LegRole) -> &LegRecord {
    legs.iter()
        .find(|l| l.role == role)
        .unwrap_or_else(|| panic!("no {role:?} leg: {legs:?}"))
}

/// Consult (the caller holds, seat and unit talk), three-way (each hears the other two, not
/// itself), transfer (the seat gets BYE, caller and unit go on), then the caller hangs up and
/// the unit gets BYE; the store holds every step and every leg.
#[tokio::test]
async fn consult_three_way_and_transfer_leave_the_caller_with_the_unit() {
    let mut s = scene(UnitAnswer::Answer, Audio::Silence).await;
    let call_id = s.call_id();

    s.keys(&format!("*1{UNIT}#")).await;
    assert!(
        s.unit.wait_log("unit answered", LIMIT).await,
        "{}",
        s.unit.log_so_far()
    );
    listen(&[("caller", &s.caller_probe), ("seat", &s.seat_probe)]).await;
    let held = s.caller_probe.stats().await;
    assert!(held.rms > 300.0, "the caller holds in silence: {held:?}");
    hears("caller", &s.caller_probe, &[], &[UNIT_HZ]).await;
    hears("seat", &s.seat_probe, &[UNIT_HZ], &[CALLER_HZ]).await;

    s.keys("*3").await;
    s.line(LineState::ThreeWay).await;
    listen(&[
        ("caller", &s.caller_probe),
        ("seat", &s.seat_probe),
        ("unit", &s.unit_probe),
    ])
    .await;
    hears("seat", &s.seat_probe, &[CALLER_HZ, UNIT_HZ], &[]).await;
    hears("caller", &s.caller_probe, &[UNIT_HZ], &[CALLER_HZ]).await;
    hears("unit", &s.unit_probe, &[CALLER_HZ], &[UNIT_HZ]).await;
    // The seat's keys went to the daemon only.
    for (who, probe) in [("caller", &s.caller_probe), ("unit", &s.unit_probe)] {
        let keys = probe.stats().await.keys();
        assert_eq!(keys, "", "the {who} got the seat's keys");
    }

    s.keys("*2").await;
    assert!(
        s.seat.wait_log("agent ended", LIMIT).await,
        "the seat got no BYE: {}",
        s.seat.log_so_far()
    );
    s.line(LineState::WithUnit).await;
    listen(&[("caller", &s.caller_probe), ("unit", &s.unit_probe)]).await;
    hears("caller", &s.caller_probe, &[UNIT_HZ], &[CALLER_HZ]).await;
    hears("unit", &s.unit_probe, &[CALLER_HZ], &[UNIT_HZ]).await;

    let (t, unit, _) = s.end().await;
    assert_eq!(
        unit.unit_events(),
        ["offered", "answered", "bye_from_daemon"],
        "{unit}"
    );
    // The daemon rang the unit with the caller's number.
    assert!(
        unit.log.contains("from=13800000000"),
        "{}",
        unit.log.trim_end()
    );

    let events = events(&t, &call_id).await;
    assert_eq!(
        kinds(&events),
        ["consult", "unit_answered", "conference", "transfer"],
        "{events:?}"
    );
    assert_eq!(events[0].detail.as_deref(), Some(UNIT));
    let legs = legs(&t, &call_id).await;
    assert_eq!(roles(&legs), ["caller", "seat", "unit"], "{legs:?}");
    assert_eq!(leg(&legs, LegRole::Seat).ended_how, "bye_by_us", "{legs:?}");
    assert_eq!(
        leg(&legs, LegRole::Caller).ended_how,
        "bye_by_them",
        "{legs:?}"
    );
    let unit_leg = leg(&legs, LegRole::Unit);
    assert!(unit_leg.answered_at.is_some(), "{unit_leg:?}");
    assert_eq!(unit_leg.ended_how, "bye_by_us", "{unit_leg:?}");
    assert!(
        leg(&legs, LegRole::Seat).ended_at <= unit_leg.ended_at,
        "the seat left first: {legs:?}"
    );
    t.daemon.shutdown().await.expect("shutdown");
}

/// `*4` in a three-way call: the unit gets BYE, caller and seat hear each other again.
#[tokio::test]
async fn dropping_the_unit_returns_to_caller_and_seat() {
    let mut s = scene(UnitAnswer::Answer, Audio::tone(SEAT_HZ)).await;
    let call_id = s.call_id();
    s.keys(&format!("*1{UNIT}#")).await;
    assert!(
        s.unit.wait_log("unit answered", LIMIT).await,
        "{}",
        s.unit.log_so_far()
    );
    s.keys("*3").await;
    s.line(LineState::ThreeWay).await;
    listen(&[("caller", &s.caller_probe), ("unit", &s.unit_probe)]).await;
    hears("caller", &s.caller_probe, &[SEAT_HZ, UNIT_HZ], &[CALLER_HZ]).await;
    hears("unit", &s.unit_probe, &[CALLER_HZ, SEAT_HZ], &[UNIT_HZ]).await;

    s.keys("*4").await;
    assert!(
        s.unit.wait_log("unit bye_from_daemon", LIMIT).await,
        "the unit got no BYE: {}",
        s.unit.log_so_far()
    );
    s.caller_and_seat_talk().await;

    let (t, _, _) = s.end().await;
    let events = events(&t, &call_id).await;
    assert_eq!(
        kinds(&events),
        ["consult", "unit_answered", "conference", "unit_dropped"],
        "{events:?}"
    );
    let legs = legs(&t, &call_id).await;
    assert_eq!(roles(&legs), ["caller", "seat", "unit"], "{legs:?}");
    assert_eq!(leg(&legs, LegRole::Unit).ended_how, "bye_by_us", "{legs:?}");
    // The caller hung up on the seat, after the unit had left.
    assert_eq!(leg(&legs, LegRole::Seat).ended_how, "bye_by_us", "{legs:?}");
    t.daemon.shutdown().await.expect("shutdown");
}

/// `*0` while the unit rings: the unit gets CANCEL, caller and seat hear each other again.
#[tokio::test]
async fn cancelling_a_ringing_unit_returns_to_caller_and_seat() {
    let mut s = scene(UnitAnswer::NoAnswer, Audio::tone(SEAT_HZ)).await;
    let call_id = s.call_id();
    s.consult_the_unit().await;
    listen(&[("caller", &s.caller_probe)]).await;
    hears("caller (on hold)", &s.caller_probe, &[], &[SEAT_HZ]).await;

    s.keys("*0").await;
    assert!(
        s.unit.wait_log("unit cancelled", LIMIT).await,
        "the unit got no CANCEL: {}",
        s.unit.log_so_far()
    );
    s.caller_and_seat_talk().await;

    let (t, unit, unit_probe) = s.end().await;
    assert_eq!(unit.unit_events(), ["offered", "cancelled"], "{unit}");
    assert_eq!(
        unit_probe.stats().await.packets,
        0,
        "a ringing unit gets no RTP"
    );
    let events = events(&t, &call_id).await;
    assert_eq!(
        kinds(&events),
        ["consult", "consult_cancelled"],
        "{events:?}"
    );
    let legs = legs(&t, &call_id).await;
    assert_eq!(roles(&legs), ["caller", "seat", "unit"], "{legs:?}");
    let unit_leg = leg(&legs, LegRole::Unit);
    assert_eq!(unit_leg.ended_how, "cancelled", "{unit_leg:?}");
    assert_eq!(unit_leg.answered_at, None, "{unit_leg:?}");
    t.daemon.shutdown().await.expect("shutdown");
}

/// A unit's contact that rings and never answers is given up by the daemon itself at
/// `unit_ring_timeout_secs` (3 s here): the unit gets CANCEL, caller and seat hear each other
/// again (the seat over two short beeps), and the call records unit_failed 408 no sooner than the
/// ring timeout after the consult.
#[tokio::test]
async fn a_unit_that_never_answers_is_given_up_at_its_ring_timeout() {
    let mut s = scene_with(
        UnitAnswer::NoAnswer,
        Audio::tone(SEAT_HZ),
        "[features]\nunit_ring_timeout_secs = 3\n",
    )
    .await;
    let call_id = s.call_id();
    s.consult_the_unit().await;
    s.seat_probe.reset().await;
    s.caller_probe.reset().await;
    // Nobody types anything: the daemon gives the unit up.
    assert!(
        s.unit.wait_log("unit cancelled", LIMIT).await,
        "the unit got no CANCEL: {}",
        s.unit.log_so_far()
    );
    // The seat hears the given-up beeps over the caller; the caller does not hear them.
    s.seat_probe.wait_for_audio(40, LIMIT).await;
    // The mix of caller and beeps can start up to a second after the seat's ringback stops.
    let both = eventually(LIMIT, || async {
        s.seat_probe.tone(GIVEN_UP_HZ).await.heard() && s.seat_probe.tone(CALLER_HZ).await.heard()
    })
    .await;
    assert!(both, "the seat never heard the beeps over the caller");
    hears("seat", &s.seat_probe, &[GIVEN_UP_HZ, CALLER_HZ], &[]).await;
    hears("caller", &s.caller_probe, &[], &[GIVEN_UP_HZ]).await;
    s.caller_and_seat_talk().await;

    let (t, unit, _) = s.end().await;
    assert_eq!(unit.unit_events(), ["offered", "cancelled"], "{unit}");
    let events = events(&t, &call_id).await;
    assert_eq!(kinds(&events), ["consult", "unit_failed"], "{events:?}");
    assert_eq!(events[1].detail.as_deref(), Some("408"), "{events:?}");
    let rang = events[1]
        .at
        .duration_since(events[0].at)
        .expect("unit_failed after consult");
    assert!(
        rang >= Duration::from_millis(2900),
        "given up after {rang:?}, before the 3 s ring timeout"
    );
    let legs = legs(&t, &call_id).await;
    let unit_leg = leg(&legs, LegRole::Unit);
    assert_eq!(unit_leg.answered_at, None, "{unit_leg:?}");
    t.daemon.shutdown().await.expect("shutdown");
}

/// A number no outbound route allows (only 0551 numbers are) is never dialled: nothing reaches
/// the unit's port, where the one route and the unit lead, the refusal is recorded as
/// unit_failed 403, and caller and seat talk on. A 0551 number then does go out, to that port.
#[tokio::test]
async fn a_number_no_route_allows_is_refused_and_caller_and_seat_talk_on() {
    let mut s = scene(UnitAnswer::Answer, Audio::tone(SEAT_HZ)).await;
    let call_id = s.call_id();
    s.keys("*1013800000000#").await;
    let refused = eventually(LIMIT, || async {
        events(&s.t, &call_id)
            .await
            .iter()
            .any(|e| e.kind == "unit_failed")
    })
    .await;
    let recorded = events(&s.t, &call_id).await;
    assert!(refused, "no unit_failed: {recorded:?}");
    assert_eq!(kinds(&recorded), ["consult", "unit_failed"], "{recorded:?}");
    assert_eq!(recorded[0].detail.as_deref(), Some("013800000000"));
    assert_eq!(recorded[1].detail.as_deref(), Some("403"), "{recorded:?}");
    s.caller_and_seat_talk().await;

    // Nothing was rung: the unit's SIPp still waits for its first INVITE.
    assert!(s.unit.log_so_far().is_empty(), "{}", s.unit.log_so_far());

    // A number the route allows goes out through it (to the same port), so the refusal above
    // was the route's: the unit's SIPp takes the call, and *0 hangs it up again.
    s.keys("*105516234#").await;
    assert!(
        s.unit.wait_log("unit answered", LIMIT).await,
        "{}",
        s.unit.log_so_far()
    );
    s.keys("*0").await;
    let (t, unit, _) = s.end().await;
    assert!(unit.log.contains("ruri=sip:05516234@127.0.0.1:"), "{unit}");
    assert!(
        unit.log.contains("from=055112345"),
        "the route's caller ID: {unit}"
    );
    let events = events(&t, &call_id).await;
    assert_eq!(
        kinds(&events),
        [
            "consult",
            "unit_failed",
            "consult",
            "unit_answered",
            "consult_cancelled"
        ],
        "{events:?}"
    );
    let legs = legs(&t, &call_id).await;
    // One unit leg: the refused number never had one.
    assert_eq!(roles(&legs), ["caller", "seat", "unit"], "{legs:?}");
    t.daemon.shutdown().await.expect("shutdown");
}

/// After a transfer the unit hangs up first: the caller is asked for a rating, and the rating
/// names the seat that served and the unit it was handed to.
#[tokio::test]
async fn the_rating_after_a_transfer_names_the_seat_and_the_unit() {
    use hotline::ratings::{Rating, RatingOutcome};
    let unit_port = free_udp_port().expect("a port for the unit");
    let unit_probe = RtpProbe::sending(Audio::tone(UNIT_HZ)).expect("unit probe");
    let mut unit = unit_answer(UnitAnswer::Answer, &unit_probe, PEER_TIMEOUT)
        .set("hangup_ms", "6000")
        .port(unit_port)
        .spawn()
        .expect("start the unit");
    let t = common::start(Options {
        extra_routes: format!(
            "[[units]]\nid = \"{UNIT}\"\nname = \"区住房和城乡建设局\"\nlevel = 2\n\
             contacts = {{ duty = \"sip:duty@127.0.0.1:{unit_port}\" }}\nhunt = {{ attempts = 1 }}\n"
        ),
        ..Options::default()
    })
    .await;
    let (_seat, seat_probe, caller, caller_probe) = seat_answers_a_caller(
        &t,
        Audio::Silence,
        &[("caller", "13900000061"), ("hangup", "daemon")],
    )
    .await;
    let board = t.daemon.board();
    assert!(reaches(&t, LineState::Connected).await);
    seat_probe
        .send_keys(&format!("*1{UNIT}#"), LIMIT)
        .await
        .expect("consult");
    assert!(
        unit.wait_log("unit answered", LIMIT).await,
        "{}",
        unit.log_so_far()
    );
    seat_probe.send_keys("*2", LIMIT).await.expect("transfer");
    assert!(
        reaches(&t, LineState::WithUnit).await,
        "{:?}",
        board.snapshot()
    );
    // The unit hangs up (hangup_ms after its answer): the caller hears the question.
    assert!(
        reaches(&t, LineState::Rating).await,
        "no rating question: {:?}\n{}",
        board.snapshot(),
        unit.log_so_far()
    );
    unit_probe.set_audio(None);
    seat_probe.set_audio(None);
    // Let the question start, then press 1.
    tokio::time::sleep(Duration::from_millis(500)).await;
    caller_probe.send_keys("1", LIMIT).await.expect("rate");
    caller_probe.set_audio(None);
    let run = caller.wait().await.expect("caller ends");
    assert!(run.success(), "{run}");
    t.daemon.flush_records().await.expect("flush");
    let ratings = t.daemon.store().ratings().await.expect("ratings");
    let calls = t.daemon.store().calls().await.expect("calls");
    let call = calls
        .iter()
        .find(|c| c.caller == "13900000061")
        .expect("the call's record");
    let rating = ratings
        .iter()
        .find(|r| r.call_id == call.id)
        .expect("a rating");
    assert_eq!(rating.outcome, RatingOutcome::Rated(Rating::Satisfied));
    assert_eq!(rating.seat.as_deref(), Some(SEAT));
    assert_eq!(rating.unit.as_deref(), Some(UNIT));
    assert_eq!(call.ended_by.as_deref(), Some("unit"));
    t.daemon.shutdown().await.expect("shutdown");
}

/// With `conference_max_parties = 4`, a seat in a three-way call brings a second unit in:
/// all four hear each other but not themselves; `*4` drops the last unit and the other three
/// go on; a fifth party is refused.
#[tokio::test]
async fn a_conference_takes_a_second_unit_up_to_the_configured_parties() {
    const SECOND_HZ: f64 = 700.0;
    let mut unit_sipps = Vec::new();
    let mut unit_probes = Vec::new();
    let mut unit_ports = Vec::new();
    for hz in [UNIT_HZ, SECOND_HZ] {
        let port = free_udp_port().expect("a port for a unit");
        let probe = RtpProbe::sending(Audio::tone(hz)).expect("unit probe");
        let sipp = unit_answer(UnitAnswer::Answer, &probe, PEER_TIMEOUT)
            .port(port)
            .spawn()
            .expect("start a unit");
        unit_ports.push(port);
        unit_sipps.push(sipp);
        unit_probes.push(probe);
    }
    let t = common::start(Options {
        extra_config: "[features]\nconference_max_parties = 4\n".to_string(),
        extra_routes: format!(
            "[[units]]\nid = \"{UNIT}\"\nname = \"区住房和城乡建设局\"\nlevel = 2\n\
             contacts = {{ duty = \"sip:duty@127.0.0.1:{}\" }}\nhunt = {{ attempts = 1 }}\n\n\
             [[units]]\nid = \"3001\"\nname = \"和平街道办事处\"\nlevel = 3\nparent = \"{UNIT}\"\n\
             contacts = {{ duty = \"sip:duty@127.0.0.1:{}\" }}\nhunt = {{ attempts = 1 }}\n",
            unit_ports[0], unit_ports[1]
        ),
        ..Options::default()
    })
    .await;
    let password = format!("seat{SEAT}-secret");
    let seat_probe = RtpProbe::sending(Audio::Silence).expect("seat probe");
    let agent = seat_agent_probe(t.daemon.sip_udp, SEAT, &password, &seat_probe)
        .set("ring_ms", "200")
        .set("wait_ms", "80000")
        .timeout(PEER_TIMEOUT);
    let mut seat = spawn_registered(agent, t.daemon.sip_udp, SEAT, &password, LIMIT)
        .await
        .expect("the seat logs in");
    let caller_probe = RtpProbe::sending(Audio::tone(CALLER_HZ)).expect("caller probe");
    let mut caller = caller_queue_probe(t.daemon.sip_udp, "12350", &caller_probe)
        .set("hangup", "poke")
        .timeout(PEER_TIMEOUT)
        .spawn()
        .expect("start the caller");
    assert!(
        seat.wait_log("agent answered", LIMIT + LIMIT).await,
        "{}",
        seat.log_so_far()
    );
    let board = t.daemon.board();
    assert!(reaches(&t, LineState::Connected).await);
    let call_id = board.snapshot()[0].id.clone();
    let keys = |keys: &'static str| {
        let probe = &seat_probe;
        async move { probe.send_keys(keys, LIMIT).await.expect("keys") }
    };
    keys("*12001#").await;
    assert!(
        unit_sipps[0].wait_log("unit answered", LIMIT).await,
        "{}",
        unit_sipps[0].log_so_far()
    );
    keys("*3").await;
    assert!(reaches(&t, LineState::ThreeWay).await);
    keys("*13001#").await;
    assert!(
        unit_sipps[1].wait_log("unit answered", LIMIT).await,
        "{}",
        unit_sipps[1].log_so_far()
    );
    // Four parties, each hearing the other three.
    let (first, second) = (&unit_probes[0], &unit_probes[1]);
    let all = [
        ("caller", &caller_probe),
        ("seat", &seat_probe),
        ("first unit", first),
        ("second unit", second),
    ];
    let heard = eventually(LIMIT, || async {
        listen(&all).await;
        caller_probe.tone(UNIT_HZ).await.heard() && caller_probe.tone(SECOND_HZ).await.heard()
    })
    .await;
    assert!(heard, "the caller never heard both units");
    hears("caller", &caller_probe, &[UNIT_HZ, SECOND_HZ], &[CALLER_HZ]).await;
    hears("seat", &seat_probe, &[CALLER_HZ, UNIT_HZ, SECOND_HZ], &[]).await;
    hears("first unit", first, &[CALLER_HZ, SECOND_HZ], &[UNIT_HZ]).await;
    hears("second unit", second, &[CALLER_HZ, UNIT_HZ], &[SECOND_HZ]).await;

    // A fifth party is refused; *4 drops the second unit, the other three go on.
    keys("*12001#").await;
    keys("*4").await;
    assert!(
        unit_sipps[1].wait_log("unit bye_from_daemon", LIMIT).await,
        "{}",
        unit_sipps[1].log_so_far()
    );
    listen(&[("caller", &caller_probe), ("first unit", first)]).await;
    hears("caller", &caller_probe, &[UNIT_HZ], &[SECOND_HZ]).await;
    hears("first unit", first, &[CALLER_HZ], &[SECOND_HZ]).await;

    caller_hangs_up_then(
        &mut caller,
        &[&caller_probe, &seat_probe, first, second],
        &mut unit_sipps[0],
        "unit bye_from_daemon",
        LIMIT,
    )
    .await;
    let events = events(&t, &call_id).await;
    assert_eq!(
        kinds(&events),
        [
            "consult",
            "unit_answered",
            "conference",
            "consult",
            "unit_answered",
            "conference",
            "conference_full",
            "unit_dropped"
        ],
        "{events:?}"
    );
    let legs = legs(&t, &call_id).await;
    assert_eq!(
        legs.iter().filter(|l| l.role == LegRole::Unit).count(),
        2,
        "{legs:?}"
    );
    t.daemon.shutdown().await.expect("shutdown");
}
