//! A real softphone as the seat: baresip registers with digest auth, auto-answers a trunk
//! call to 12345 (ring all) and sends a sine, and the daemon relays RTP both ways.

use std::time::Duration;

use hotline::call::board::LineState;
use hotline::store::Disposition;

use hotline::config::{load_with, LoadOptions};
use hotline::server::Daemon;

use crate::common::{self, eventually, Options, TestDaemon};
use crate::peers::{caller_hangs_up_then, Baresip, Sipp};

const LIMIT: Duration = Duration::from_secs(40);

/// `common::start` with MD5 as the only digest challenge. baresip 1.0 (libre 1.1) gives up
/// on a 401 that carries any challenge it cannot compute ("Register: Function not
/// implemented", ENOSYS), even when an MD5 one is there too; `["MD5", "SHA-256"]` is not
/// enough for it.
async fn start_md5_only() -> TestDaemon {
    start_md5_only_with(&Options::default()).await
}

async fn start_md5_only_with(options: &Options) -> TestDaemon {
    let dir = tempfile::tempdir().expect("temp dir");
    let (config, dialplan) = common::config_text(dir.path(), options);
    let both = "digest_algorithms = [\"MD5\", \"SHA-256\"]";
    assert!(config.contains(both), "common config changed:\n{config}");
    let config = config.replace(both, "digest_algorithms = [\"MD5\"]");
    std::fs::write(dir.path().join("hotline.toml"), config).expect("write config");
    std::fs::write(dir.path().join("dialplan.toml"), dialplan).expect("write dialplan");
    let loaded = load_with(
        &dir.path().join("hotline.toml"),
        &LoadOptions {
            base_dir: None,
            env: Some(Default::default()),
        },
    )
    .unwrap_or_else(|e| panic!("test config refused:\n{e}"));
    let daemon = Daemon::start(loaded).await.expect("daemon starts");
    TestDaemon { daemon, dir }
}

#[tokio::test]
async fn baresip_seat_answers_a_ring_all_call_with_rtp_both_ways() {
    let t = start_md5_only().await;
    let seat = Baresip::start(t.daemon.sip_udp, "1002", "seat1002-secret").expect("start baresip");

    // The daemon's view: 1002 is bound, and it is the only seat.
    let registered = eventually(Duration::from_secs(15), || async {
        t.daemon
            .snapshot()
            .await
            .registrations
            .iter()
            .any(|(user, _)| user == "1002")
    })
    .await;
    let registrations = t.daemon.snapshot().await.registrations;
    assert!(
        registered,
        "baresip never registered as 1002: {registrations:?}\n--- baresip\n{}",
        seat.output()
    );
    assert!(
        registrations.iter().all(|(user, _)| user == "1002"),
        "{registrations:?}"
    );

    let caller = Sipp::new("trunk_call.xml")
        .remote(t.daemon.sip_udp)
        .service("12345")
        .set("hold_ms", "4000")
        .timeout(LIMIT)
        .spawn()
        .expect("start the trunk");

    let flowing = eventually(Duration::from_secs(15), || async {
        t.daemon.board().snapshot().iter().any(|line| {
            let m = line.media;
            line.seat.as_deref() == Some("1002")
                && m.a.rx_packets > 10
                && m.a.tx_packets > 10
                && m.b.rx_packets > 10
                && m.b.tx_packets > 10
        })
    })
    .await;
    assert!(
        flowing,
        "no call to 1002 with RTP both ways: {:?}\n--- baresip\n{}",
        t.daemon.board().snapshot(),
        seat.output()
    );

    let caller = caller.wait().await.expect("trunk ends");
    assert!(caller.success(), "{caller}\n--- baresip\n{}", seat.output());

    let clean = eventually(Duration::from_secs(10), || async {
        let s = t.daemon.snapshot().await;
        s.calls == 0 && s.dialogs == 0 && t.daemon.rtp_ports_in_use() == 0
    })
    .await;
    let s = t.daemon.snapshot().await;
    assert!(
        clean,
        "left behind: {s:?}, rtp ports {}",
        t.daemon.rtp_ports_in_use()
    );

    t.daemon.flush_records().await.expect("flush");
    let calls = t.daemon.store().calls().await.expect("read calls");
    assert_eq!(calls.len(), 1, "{calls:?}");
    let record = &calls[0];
    assert_eq!(record.disposition, Disposition::Answered, "{record:?}");
    assert_eq!(record.seat.as_deref(), Some("1002"), "{record:?}");
    assert_eq!(record.called, "12345", "{record:?}");
    assert_eq!(record.ended_by.as_deref(), Some("caller"), "{record:?}");

    let output = seat.stop().await.expect("stop baresip");
    assert!(output.contains("Call established"), "{output}");
    t.daemon.shutdown().await.expect("shutdown");
}

/// baresip as the seat of a warm transfer, by its keypad: it logs in with *71, takes a queued
/// caller, types *1<unit># (the caller holds, the unit's duty line answers, seat and unit
/// talk), then *2: baresip is hung up and caller and unit talk on.
#[tokio::test]
async fn baresip_seat_makes_a_warm_transfer_by_keypad() {
    use crate::peers::{
        caller_queue_probe, free_udp_port, unit_answer, Audio, BaresipOptions, RtpProbe, UnitAnswer,
    };
    let limit = Duration::from_secs(20);
    let unit_port = free_udp_port().expect("a port for the unit");
    let unit_probe = RtpProbe::sending(Audio::tone(1000.0)).expect("unit probe");
    let mut unit = unit_answer(UnitAnswer::Answer, &unit_probe, Duration::from_secs(90))
        .port(unit_port)
        .spawn()
        .expect("unit");
    let t = start_md5_only_with(&Options {
        extra_config: "[ratings]\nenabled = false\n".to_string(),
        extra_routes: format!(
            "[[units]]\nid = \"2001\"\nname = \"区住房和城乡建设局\"\nlevel = 2\n\
             contacts = {{ duty = \"sip:duty@127.0.0.1:{unit_port}\" }}\nhunt = {{ attempts = 1 }}\n"
        ),
        ..Options::default()
    })
    .await;
    let console = free_udp_port().expect("a console port");
    let seat = Baresip::start_with(
        t.daemon.sip_udp,
        "1002",
        "seat1002-secret",
        &BaresipOptions {
            console_port: Some(console),
            ..BaresipOptions::default()
        },
    )
    .expect("start baresip");
    assert!(
        seat.wait_registered(limit).await,
        "baresip did not register:\n{}",
        seat.output()
    );
    seat.press("/dial *71\n", Duration::from_millis(20))
        .await
        .expect("dial *71");
    let logged_in = eventually(limit, || async {
        t.daemon.flush_records().await.is_ok()
            && t.daemon
                .store()
                .seat_events()
                .await
                .is_ok_and(|e| e.iter().any(|e| e.seat == "1002" && e.to == "available"))
    })
    .await;
    assert!(logged_in, "baresip did not log in:\n{}", seat.output());

    let caller_probe = RtpProbe::sending(Audio::tone(440.0)).expect("caller probe");
    let mut caller = caller_queue_probe(t.daemon.sip_udp, "12350", &caller_probe)
        .set("caller", "13900000051")
        .set("hangup", "poke")
        .timeout(Duration::from_secs(90))
        .spawn()
        .expect("caller");
    let connected = eventually(limit + limit, || async {
        t.daemon
            .board()
            .snapshot()
            .iter()
            .any(|l| l.seat.as_deref() == Some("1002") && l.state == LineState::Connected)
    })
    .await;
    assert!(
        connected,
        "baresip never took the call: {:?}\n{}",
        t.daemon.board().snapshot(),
        seat.output()
    );
    // A moment for baresip's audio to start before it types.
    tokio::time::sleep(Duration::from_millis(500)).await;
    seat.press("*12001#", Duration::from_millis(300))
        .await
        .expect("keys");
    assert!(
        unit.wait_log("unit answered", limit).await,
        "the unit was not consulted:\n{}\n--- baresip\n{}",
        unit.log_so_far(),
        seat.output()
    );
    seat.press("*2", Duration::from_millis(300))
        .await
        .expect("keys");
    let transferred = eventually(limit, || async {
        t.daemon
            .board()
            .snapshot()
            .iter()
            .any(|l| l.state == LineState::WithUnit)
    })
    .await;
    assert!(
        transferred,
        "no transfer: {:?}\n--- baresip\n{}",
        t.daemon.board().snapshot(),
        seat.output()
    );
    // Caller and unit hear each other; baresip is gone.
    caller_probe.reset().await;
    caller_probe.wait_for_audio(60, limit).await;
    let heard = caller_probe.tone(1000.0).await;
    assert!(
        heard.heard(),
        "the caller does not hear the unit: {heard:?}"
    );
    assert!(
        seat.wait_for_output("closed", limit).await,
        "baresip's call was not ended:\n{}",
        seat.output()
    );
    caller_hangs_up_then(
        &mut caller,
        &[&caller_probe, &unit_probe],
        &mut unit,
        "unit bye_from_daemon",
        limit,
    )
    .await;
    t.daemon.flush_records().await.expect("flush");
    let calls = t.daemon.store().calls().await.expect("calls");
    let call = calls
        .iter()
        .find(|c| c.caller == "13900000051")
        .expect("the call's record");
    let events = t
        .daemon
        .store()
        .call_events(&call.id)
        .await
        .expect("events");
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["consult", "unit_answered", "transfer"],
        "{events:?}"
    );
    t.daemon.shutdown().await.expect("shutdown");
}
