//! A real softphone as the seat: baresip registers with digest auth, auto-answers a trunk
//! call to 12345 (ring all) and sends a sine, and the daemon relays RTP both ways.

use std::time::Duration;

use hotline::store::Disposition;

use hotline::config::{load_with, LoadOptions};
use hotline::server::Daemon;

use crate::common::{self, eventually, Options, TestDaemon};
use crate::peers::{Baresip, Sipp};

const LIMIT: Duration = Duration::from_secs(40);

/// `common::start` with MD5 as the only digest challenge. baresip 1.0 (libre 1.1) gives up
/// on a 401 that carries any challenge it cannot compute ("Register: Function not
/// implemented", ENOSYS), even when an MD5 one is there too; `["MD5", "SHA-256"]` is not
/// enough for it.
async fn start_md5_only() -> TestDaemon {
    let dir = tempfile::tempdir().expect("temp dir");
    let (config, dialplan) = common::config_text(dir.path(), &Options::default());
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
