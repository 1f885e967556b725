//! Seats change state from their phone's keypad: a dialled code, or the access number and the
//! code typed as RFC 4733 events or SIP INFO. Each change must reach the store.

use std::time::Duration;

use crate::common::{self, eventually, Options, TestDaemon};
use crate::peers::Sipp;

const LIMIT: Duration = Duration::from_secs(20);

async fn register(t: &TestDaemon, user: &str) {
    let run = Sipp::new("seat_register.xml")
        .remote(t.daemon.sip_udp)
        .service(user)
        .password(&format!("seat{user}-secret"))
        .timeout(LIMIT)
        .run()
        .await
        .expect("register");
    assert!(run.success(), "{run}");
}

/// A feature call from seat `user`: `scenario` with `service` dialled and `keys` typed.
async fn feature(t: &TestDaemon, user: &str, scenario: &str, service: &str, keys: Option<&str>) {
    let mut sipp = Sipp::new(scenario)
        .remote(t.daemon.sip_udp)
        .service(service)
        .set("user", user)
        .auth_user(user)
        .password(&format!("seat{user}-secret"))
        .arg("-auth_uri")
        .arg(format!("{service}@{}", t.daemon.sip_udp))
        .timeout(LIMIT);
    if let Some(keys) = keys {
        sipp = sipp.set("keys", keys);
    }
    let run = sipp.run().await.expect("feature call");
    assert!(run.success(), "{run}");
}

/// Waits until the store holds a change of `seat` to `to` (with `reason`).
async fn changed_to(t: &TestDaemon, seat: &str, to: &str, reason: Option<&str>) {
    let found = eventually(Duration::from_secs(5), || async {
        t.daemon.flush_records().await.expect("flush");
        let events = t.daemon.store().seat_events().await.expect("events");
        events
            .iter()
            .any(|e| e.seat == seat && e.to == to && e.reason.as_deref() == reason)
    })
    .await;
    let events = t.daemon.store().seat_events().await.expect("events");
    assert!(
        found,
        "no change of {seat} to {to} ({reason:?}) in {events:?}"
    );
}

#[tokio::test]
async fn login_pause_and_resume_by_rfc4733_info_and_dialled_codes() {
    let t = common::start(Options::default()).await;
    register(&t, "1001").await;
    feature(&t, "1001", "seat_feature_rfc4733.xml", "*", Some("*71")).await;
    changed_to(&t, "1001", "available", None).await;
    feature(&t, "1001", "seat_feature_info.xml", "*", Some("*732#")).await;
    changed_to(&t, "1001", "paused", Some("2")).await;
    feature(&t, "1001", "seat_feature.xml", "*74", None).await;
    let events = t.daemon.store().seat_events().await.expect("events");
    let path: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .collect();
    changed_to(&t, "1001", "available", None).await;
    let events = t.daemon.store().seat_events().await.expect("events");
    let all: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .collect();
    assert_eq!(
        all,
        vec![
            ("logged_out", "available"),
            ("available", "paused"),
            ("paused", "available")
        ],
        "before resume: {path:?}"
    );
    feature(&t, "1001", "seat_feature.xml", "*72", None).await;
    changed_to(&t, "1001", "logged_out", None).await;
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_wrong_password_cannot_change_a_seat() {
    let t = common::start(Options::default()).await;
    register(&t, "1001").await;
    let run = Sipp::new("seat_feature.xml")
        .remote(t.daemon.sip_udp)
        .service("*71")
        .set("user", "1001")
        .auth_user("1001")
        .password("not-the-password")
        .arg("-auth_uri")
        .arg(format!("*71@{}", t.daemon.sip_udp))
        .timeout(Duration::from_secs(5))
        .run()
        .await
        .expect("feature call");
    assert!(!run.success(), "a wrong password logged in: {run}");
    t.daemon.flush_records().await.expect("flush");
    assert!(t
        .daemon
        .store()
        .seat_events()
        .await
        .expect("events")
        .is_empty());
    t.daemon.shutdown().await.expect("shutdown");
}
