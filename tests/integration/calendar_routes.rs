//! A route that follows a working-day calendar: closed on a listed holiday, it answers with its
//! prompt, hangs up, and records the call.

use std::time::{Duration, SystemTime};

use hotline::calendar::to_local;
use hotline::store::Disposition;

use crate::common::{self, Options};
use crate::peers::Sipp;

#[tokio::test]
async fn a_route_closed_for_a_holiday_plays_its_prompt_and_hangs_up() {
    // Today, in the daemon's local time (UTC+8), is listed as a holiday.
    let today = to_local(SystemTime::now(), 8 * 3600).date;
    let t = common::start(Options {
        extra_config: format!("[[calendars]]\nname = \"office\"\nholidays = [\"{today}\"]\n"),
        extra_routes: "[[routes]]\nnumber = \"12360\"\nqueue = \"q\"\ncalendar = \"office\"\nclosed = { prompt = \"all_busy\" }\n".to_string(),
        ..Options::default()
    })
    .await;
    let caller = Sipp::new("trunk_wait_bye.xml")
        .remote(t.daemon.sip_udp)
        .service("12360")
        .timeout(Duration::from_secs(20))
        .run()
        .await
        .expect("trunk");
    assert!(
        caller.success(),
        "answered, then the daemon's BYE: {caller}"
    );
    t.daemon.flush_records().await.expect("flush");
    let calls = t.daemon.store().calls().await.expect("calls");
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].called, "12360");
    assert_eq!(calls[0].disposition, Disposition::Rejected);
    assert!(
        calls[0].queue.is_none(),
        "never queued: {:?}",
        calls[0].queue
    );
    t.daemon.shutdown().await.expect("shutdown");
}
