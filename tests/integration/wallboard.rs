//! The wallboard (`/wall`) in a real headless Chromium against a real daemon with SIPp peers:
//! the page connects with the token from its address's fragment (which then leaves the address
//! bar), a queued call appears with no reload, is answered, and its hand-off (set through the
//! API, on a drill category of 10 s with a 4 s warning) counts down, turns amber, then red; the
//! day's tiles count the call once it has ended; when the daemon stops the page says so, and
//! when a daemon is back on the same address (with a fresh store, so its day has no call yet)
//! the page reconnects by itself, says so and shows the new daemon's day. Screenshots are kept for a person to look at, and the page
//! logs no error while the daemon is up.

use std::path::PathBuf;
use std::time::Duration;

use crate::common::{self, TestDaemon};
use crate::peers::{caller_queue, seat_1001, AnswerMode, Browser, Hangup};

const TOKEN: &str = "wallboard-test-token-0123456789";
const SEEN: Duration = Duration::from_secs(15);

async fn daemon() -> TestDaemon {
    common::start_with_api(TOKEN, ("drill", "演练"), 10, 4).await
}

/// Where the screenshots go: under the integration tests' own directory in `target`.
fn shots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wallboard")
}

/// The first row of a table's body, as the page shows it.
fn row(table: &str) -> String {
    format!("document.querySelector('#{table} tbody tr')")
}

#[tokio::test]
async fn the_wallboard_follows_the_lines_live_and_says_when_the_daemon_is_gone() {
    let t = daemon().await;
    let api = t.daemon.api.expect("the API listens");
    // Seat 1001's phone rings 1.5 s before it answers (the queue gives an offer 3 s).
    let _seat = seat_1001(
        t.daemon.sip_udp,
        AnswerMode::Answer,
        Hangup::OtherSide,
        1500,
    )
    .await;

    let mut page = Browser::open(&format!("http://{api}/wall#token={TOKEN}")).await;
    assert!(
        page.until("document.getElementById('status').className === 'up'", SEEN)
            .await,
        "the page never connected: {:?}",
        page.errors
    );
    assert_eq!(
        page.eval("location.hash").await,
        "",
        "the token left the address bar"
    );
    assert_eq!(page.eval("document.title").await, "12345 热线 · 实时大屏");
    assert_eq!(
        page.eval("getComputedStyle(document.getElementById('notice')).display")
            .await,
        "none",
        "the page asks for a token it has"
    );
    // A mark that a reload would wipe.
    page.eval("window.stillTheSamePage = true").await;
    assert!(
        page.until(
            "document.querySelector('[data-id=seats-available] .n').textContent === '1'",
            SEEN
        )
        .await,
        "seat 1001 not shown available"
    );

    let caller = caller_queue(t.daemon.sip_udp, "12350")
        .set("hold_ms", "8000")
        .timeout(Duration::from_secs(40))
        .spawn()
        .expect("caller");
    let calls = row("calls");
    assert!(
        page.until(
            &format!("({calls}?.textContent ?? '').includes('13800000000')"),
            SEEN
        )
        .await,
        "the call never appeared"
    );
    let answered = page
        .until(
            &format!("({calls}?.textContent ?? '').includes('1001')"),
            SEEN,
        )
        .await;
    if !answered {
        let shown = page
            .eval("document.querySelector('#calls tbody').textContent")
            .await;
        let (_, listed) = hotline::cli_client::request(api, TOKEN, "GET", "/api/v1/calls", None)
            .await
            .expect("the API answers");
        panic!(
            "the seat's answer never showed: page {shown}, API {}",
            String::from_utf8_lossy(&listed)
        );
    }
    if !page
        .until(
            "document.querySelector('[data-id=lines-carrier] .n')?.textContent === '1'",
            Duration::from_secs(25),
        )
        .await
    {
        let shown = page
            .eval("document.getElementById('lines').textContent")
            .await;
        panic!("the trunk's line in use never showed: {shown}");
    }
    let call = page
        .eval(&format!("{calls}.dataset.call"))
        .await
        .as_str()
        .expect("the row names its call")
        .to_string();
    let (status, _) = hotline::cli_client::request(
        api,
        TOKEN,
        "POST",
        &format!("/api/v1/calls/{call}/handoff"),
        Some(br#"{"action":"set","category":"drill"}"#),
    )
    .await
    .expect("the API answers");
    assert_eq!(status, 204);

    let handoff = row("handoffs");
    for (state, within) in [("running", SEEN), ("warning", SEEN), ("breached", SEEN)] {
        assert!(
            page.until(&format!("{handoff}?.className === '{state}'"), within)
                .await,
            "the hand-off never showed {state}"
        );
        if state == "warning" {
            assert_eq!(
                page.eval(&format!(
                    "getComputedStyle({handoff}.cells[0]).backgroundColor"
                ))
                .await,
                "rgb(74, 52, 8)",
                "amber"
            );
        }
    }
    assert!(page
        .eval(&format!("{handoff}.textContent.includes('超时')"))
        .await
        .as_bool()
        .unwrap_or(false));
    // The caller hung up before the breach; the hand-off stays, and the day counts the call
    // once its record is written (the page hears the day every 10 s).
    assert!(
        page.until(
            "document.querySelector('[data-id=today-answered] .n')?.textContent === '1'",
            Duration::from_secs(25)
        )
        .await,
        "today's answered calls never counted the call"
    );
    assert_eq!(
        page.eval("document.querySelector('[data-id=today-offered] .n').textContent")
            .await,
        "1"
    );
    page.screenshot(&shots().join("breached.png")).await;
    assert_eq!(
        page.eval("window.stillTheSamePage").await,
        true,
        "the page reloaded"
    );
    assert!(page.errors.is_empty(), "page errors: {:?}", page.errors);

    t.daemon.shutdown().await.expect("shutdown");
    assert!(
        page.until(
            "document.getElementById('status').className === 'down'",
            SEEN
        )
        .await,
        "the page never said the daemon is gone"
    );
    assert!(page
        .eval("document.getElementById('status').textContent.includes('中断')")
        .await
        .as_bool()
        .unwrap_or(false));
    page.screenshot(&shots().join("daemon-gone.png")).await;

    // A daemon back on the same address: the page reconnects by itself and says so.
    let again = common::start_with_api_on(&api.to_string(), TOKEN, ("drill", "演练"), 10, 4).await;
    assert!(
        page.until("document.getElementById('status').className === 'up'", SEEN)
            .await,
        "the page never said the daemon is back"
    );
    assert!(
        page.until(
            "document.querySelector('[data-id=today-offered] .n')?.textContent === '0'",
            SEEN
        )
        .await,
        "the page did not take the new daemon's snapshot (its store is a fresh one)"
    );
    assert_eq!(
        page.eval("window.stillTheSamePage").await,
        true,
        "the page reloaded"
    );
    again.daemon.shutdown().await.expect("shutdown");
    println!("wallboard screenshots in {}", shots().display());
    drop(caller);
}
