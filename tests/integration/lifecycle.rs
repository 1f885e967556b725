//! The real binary as an operator runs it: `hotline run --ready-file`, a call up, SIGTERM (or
//! kill -9). The call is ended with a BYE, the record is on disk and the process exits 0; after
//! a kill -9 the next start closes the call as interrupted, and repairs the header of the
//! recording the kill left open.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use hotline::store::{Disposition, SqliteStore};

use crate::common::{self, eventually, Options};
use crate::metrics_scrape::{scrape, value};
use crate::peers::{Sipp, SippProcess};
use crate::raw::{options, status_of, RawUdp};
use crate::raw_caller::RawCaller;

const LIMIT: Duration = Duration::from_secs(40);

/// What `--ready-file` holds.
struct Ready {
    sip_udp: SocketAddr,
    metrics: SocketAddr,
    pid: u32,
}

/// The `hotline run` child; killed if the test ends before it exits.
struct Hotline {
    child: Child,
    dir: PathBuf,
}

impl Hotline {
    fn start(dir: &Path) -> Hotline {
        Hotline::start_with(dir, &Options::default())
    }

    fn start_with(dir: &Path, options: &Options) -> Hotline {
        let (config, dialplan) = common::config_text(dir, options);
        std::fs::write(dir.join("hotline.toml"), config).expect("write config");
        std::fs::write(dir.join("dialplan.toml"), dialplan).expect("write dialplan");
        let log = File::create(dir.join("hotline.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_hotline"))
            .arg("run")
            .arg("--config")
            .arg(dir.join("hotline.toml"))
            .arg("--ready-file")
            .arg(dir.join("ready.json"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start hotline");
        Hotline {
            child,
            dir: dir.to_owned(),
        }
    }

    /// After a kill -9: starts the daemon again on the same directory (and database), waits
    /// until it is ready, stops it with SIGTERM and asserts that it stopped cleanly. Returns
    /// its log.
    async fn start_and_stop_again(dir: &Path, options: &Options) -> String {
        let _ = std::fs::remove_file(dir.join("ready.json"));
        let mut restarted = Hotline::start_with(dir, options);
        restarted.ready().await;
        restarted.terminate();
        let status = restarted.wait(Duration::from_secs(30)).await;
        let log = restarted.log();
        assert!(status.is_some_and(|s| s.success()), "{status:?}\n{log}");
        log
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("hotline.log")).unwrap_or_default()
    }

    /// Polls the ready file until it holds complete JSON (it is written once the sockets are
    /// bound, and may be seen half-written).
    async fn ready(&mut self) -> Ready {
        let path = self.dir.join("ready.json");
        let mut parsed = None;
        let found = eventually(Duration::from_secs(20), || {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let json = serde_json::from_str::<serde_json::Value>(&text).ok();
            parsed = json.clone();
            async move { json.is_some() }
        })
        .await;
        assert!(
            found,
            "no ready file; exited: {:?}\n--- hotline\n{}",
            self.child.try_wait(),
            self.log()
        );
        let json = parsed.expect("parsed ready file");
        let addr = |key: &str| -> SocketAddr {
            json[key]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("ready file has no {key}: {json}"))
        };
        Ready {
            sip_udp: addr("sip_udp"),
            metrics: addr("metrics"),
            pid: json["pid"]
                .as_u64()
                .and_then(|p| u32::try_from(p).ok())
                .unwrap_or_else(|| panic!("ready file has no pid: {json}")),
        }
    }

    /// SIGTERM to this child only.
    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    async fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let mut status = None;
        eventually(limit, || {
            status = self.child.try_wait().ok().flatten();
            let done = status.is_some();
            async move { done }
        })
        .await;
        status
    }
}

impl Drop for Hotline {
    fn drop(&mut self) {
        // Only our own child, by its handle; harmless if it already exited.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Seat 1001 registers (an answering SIPp seat) and a trunk calls 12345 (a SIPp trunk that
/// waits for the daemon's BYE): returns the seat and the trunk once the seat is registered.
async fn call_up(hotline: &Hotline, ready: &Ready) -> (SippProcess, SippProcess) {
    // The child has its own recorder, so its gauges are exact.
    let seat = Sipp::new("seat_answer.xml")
        .out_of_call("seat_incoming.xml")
        .remote(ready.sip_udp)
        .service("1001")
        .password("seat1001-secret")
        .set("seat_mode", "answer")
        .set("ring_ms", "200")
        .set("wait_ms", "30000")
        .timeout(LIMIT)
        .spawn()
        .expect("start the seat");
    let registered = eventually(Duration::from_secs(10), || async {
        value(&scrape(ready.metrics).await, "hotline_registrations_active") == 1.0
    })
    .await;
    assert!(registered, "seat never registered\n{}", hotline.log());
    let trunk = Sipp::new("trunk_wait_bye.xml")
        .remote(ready.sip_udp)
        .service("12345")
        .timeout(LIMIT)
        .spawn()
        .expect("start the trunk");
    (seat, trunk)
}

#[tokio::test]
async fn sigterm_with_a_call_up_ends_it_records_it_and_exits_zero() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The ring route's call is recorded too: its file is closed before the process exits.
    let recorded = Options {
        ring: "\"all\"\nrecord = true".into(),
        extra_config: format!(
            "[recording]\ndirectory = \"{}\"\n",
            dir.path().join("rec").display()
        ),
        ..Options::default()
    };
    let mut hotline = Hotline::start_with(dir.path(), &recorded);
    let ready = hotline.ready().await;
    assert_eq!(ready.pid, hotline.child.id(), "pid in the ready file");

    // The address in the ready file is the daemon's.
    let udp = RawUdp::new(ready.sip_udp).await;
    let response = udp
        .request(options(udp.port(), 1).as_bytes())
        .await
        .unwrap_or_else(|| panic!("no answer to OPTIONS\n--- hotline\n{}", hotline.log()));
    assert_eq!(status_of(&response), 200, "{response}");

    let (seat, trunk) = call_up(&hotline, &ready).await;
    // Answered: the ring time of an answered call is recorded when the 200 goes out.
    let answered = eventually(Duration::from_secs(15), || async {
        value(
            &scrape(ready.metrics).await,
            "hotline_call_ring_seconds_count",
        ) >= 1.0
    })
    .await;
    assert!(answered, "call never answered\n{}", hotline.log());

    hotline.terminate();
    let status = hotline.wait(Duration::from_secs(30)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "exit after SIGTERM: {status:?}\n--- hotline\n{}",
        hotline.log()
    );

    let trunk = trunk.wait().await.expect("trunk ends");
    assert!(trunk.success(), "{trunk}\n--- hotline\n{}", hotline.log());
    let seat = seat.wait().await.expect("seat ends");
    assert!(seat.success(), "{seat}\n--- hotline\n{}", hotline.log());

    let store = SqliteStore::open(&dir.path().join("hotline.db"))
        .await
        .expect("open the store");
    let calls = store.calls().await.expect("read calls");
    let recordings = match calls.first() {
        Some(call) => {
            use hotline::store::Store;
            store.recordings_of(&call.id).await.expect("recordings")
        }
        None => Vec::new(),
    };
    store.close().await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    let record = &calls[0];
    assert_eq!(record.disposition, Disposition::Answered, "{record:?}");
    assert_eq!(record.ended_by.as_deref(), Some("daemon"), "{record:?}");
    let [recording] = recordings.as_slice() else {
        panic!("one recording: {recordings:?}");
    };
    assert!(recording.complete && !recording.is_open(), "{recording:?}");
    let bytes = std::fs::read(&recording.path).expect("the recording");
    let data = u32::from_le_bytes([bytes[40], bytes[41], bytes[42], bytes[43]]) as usize;
    assert_eq!(
        data,
        bytes.len() - 44,
        "closed with a valid header: {recording:?}"
    );
    assert_eq!(
        recording.sha256.as_deref(),
        Some(crate::common::sha256_hex(&bytes).as_str())
    );
    assert_eq!(record.seat.as_deref(), Some("1001"), "{record:?}");
    assert_eq!(record.called, "12345", "{record:?}");
    assert!(record.answered_at.is_some(), "{record:?}");
}

/// A `kill -9` with a call up: the call already has its row, open, and the next start closes
/// it as interrupted, ended at the daemon's last sign of life (after the answer, before the
/// kill).
#[tokio::test]
async fn after_a_kill_9_the_call_that_was_up_is_closed_as_interrupted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("hotline.db");
    let mut hotline = Hotline::start(dir.path());
    let ready = hotline.ready().await;
    let (seat, trunk) = call_up(&hotline, &ready).await;

    // The answered call is in the store while it is up.
    let mut open = Vec::new();
    let answered = eventually(Duration::from_secs(15), || {
        let db = db.clone();
        async move {
            let Ok(store) = SqliteStore::open_read_only(&db).await else {
                return false;
            };
            let calls = store.open_calls().await.unwrap_or_default();
            store.close().await;
            calls.iter().any(|c| c.answered_at.is_some())
        }
    })
    .await;
    assert!(answered, "no open, answered call\n{}", hotline.log());
    if let Ok(store) = SqliteStore::open_read_only(&db).await {
        open = store.open_calls().await.expect("open calls");
        store.close().await;
    }
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].seat.as_deref(), Some("1001"), "{open:?}");

    // A sign of life is written every 5 s; then the kill.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let killed_at = std::time::SystemTime::now();
    hotline.child.kill().expect("kill -9");
    assert!(hotline.wait(Duration::from_secs(10)).await.is_some());
    drop((trunk, seat));

    let log = Hotline::start_and_stop_again(dir.path(), &Options::default()).await;
    assert!(
        log.contains("calls left open by the last run were closed as interrupted"),
        "{log}"
    );

    let store = SqliteStore::open(&db).await.expect("open the store");
    let calls = store.calls().await.expect("read calls");
    let still_open = store.open_calls().await.expect("open calls");
    let legs = store.legs(&open[0].id).await.expect("legs");
    let open_legs = store.open_legs(&open[0].id).await.expect("open legs");
    store.close().await;
    assert_eq!(still_open, [], "nothing left open");
    assert_eq!(open_legs, [], "no leg left open");
    // The caller's leg and the seat's, each ended where the call was.
    let roles: Vec<_> = legs
        .iter()
        .map(|l| (l.role.as_str(), l.ended_how.as_str()))
        .collect();
    assert_eq!(
        roles,
        [("caller", "interrupted"), ("seat", "interrupted")],
        "{legs:?}"
    );
    assert_eq!(calls.len(), 1, "{calls:?}");
    let record = &calls[0];
    assert!(
        legs.iter().all(|l| l.ended_at == record.ended_at),
        "{legs:?}"
    );
    assert_eq!(record.id, open[0].id, "{record:?}");
    assert_eq!(record.disposition, Disposition::Interrupted, "{record:?}");
    assert_eq!(record.seat.as_deref(), Some("1001"), "{record:?}");
    let answered_at = record.answered_at.expect("answered");
    assert!(
        record.ended_at > answered_at && record.ended_at <= killed_at,
        "ended at the last sign of life: {record:?}, killed at {killed_at:?}"
    );
}

/// A `kill -9` while calls pour in: every call the daemon answered has its row after the next
/// start, closed as interrupted with its caller's leg. (A queued call's row is committed before
/// the daemon answers it.) Calls come at about 25 a second into the queue, which answers each
/// itself; the kill lands half-way.
#[tokio::test]
async fn after_a_kill_9_under_load_every_answered_call_has_its_row() {
    const CALLS: u32 = 80;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("hotline.db");
    let mut hotline = Hotline::start(dir.path());
    let ready = hotline.ready().await;
    let probe = crate::peers::RtpProbe::start().expect("probe");
    let port = probe.port();

    let mut callers = tokio::task::JoinSet::new();
    for n in 0..CALLS {
        let daemon = ready.sip_udp;
        callers.spawn(async move {
            tokio::time::sleep(Duration::from_millis(40 * u64::from(n))).await;
            let caller = format!("1390000{n:04}");
            let answered = RawCaller::try_call(daemon, "12350", &caller, port).await;
            // Keeps the answered call up (and its socket) until the test has looked.
            (caller, answered)
        });
    }
    // Half-way through the calls, a kill -9.
    tokio::time::sleep(Duration::from_millis(40 * u64::from(CALLS) / 2)).await;
    hotline.child.kill().expect("kill -9");
    assert!(hotline.wait(Duration::from_secs(10)).await.is_some());
    let mut answered = Vec::new();
    let mut kept = Vec::new();
    while let Some(result) = callers.join_next().await {
        let (caller, leg) = result.expect("caller task");
        if let Some(leg) = leg {
            answered.push(caller);
            kept.push(leg);
        }
    }
    assert!(
        answered.len() >= 10 && answered.len() < CALLS as usize,
        "the kill should land while calls come: {} answered",
        answered.len()
    );

    Hotline::start_and_stop_again(dir.path(), &Options::default()).await;

    let store = SqliteStore::open(&db).await.expect("open the store");
    let calls = store.calls().await.expect("read calls");
    let still_open = store.open_calls().await.expect("open calls");
    let mut caller_legs = Vec::new();
    for call in &calls {
        let legs = store.legs(&call.id).await.expect("legs");
        caller_legs.extend(legs.into_iter().filter(|l| l.role.as_str() == "caller"));
    }
    store.close().await;
    drop(kept);
    assert_eq!(still_open, [], "nothing left open");
    for caller in &answered {
        let call = calls.iter().find(|c| &c.caller == caller);
        let call = call.unwrap_or_else(|| panic!("answered call from {caller} has no row"));
        assert_eq!(call.disposition, Disposition::Interrupted, "{call:?}");
        assert!(
            caller_legs
                .iter()
                .any(|l| l.call_id == call.id && l.ended_how == "interrupted"),
            "no interrupted caller leg for {call:?}"
        );
    }
}

/// A `kill -9` while a recorded call is up (a queued call whose probe sends 440 Hz): the WAV
/// file is left with its header still open (sizes 0); the next start gives it the header its
/// length calls for and closes its record as incomplete (`interrupted`), with the file's size
/// and SHA-256.
#[tokio::test]
async fn after_a_kill_9_the_recording_left_open_is_repaired_at_the_next_start() {
    use hotline::store::Store;

    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("hotline.db");
    let options = Options {
        extra_config: format!(
            "[recording]\ndirectory = \"{}\"\n",
            dir.path().join("rec").display()
        ),
        ..Options::default()
    };
    let mut hotline = Hotline::start_with(dir.path(), &options);
    let ready = hotline.ready().await;
    let probe = crate::peers::RtpProbe::sending(crate::peers::Audio::tone(440.0)).expect("probe");
    let caller = RawCaller::call(ready.sip_udp, "12350", "13800000000", probe.port()).await;

    // The recording is filed open, and its file grows past 2 s of audio.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let open = loop {
        let open = match SqliteStore::open_read_only(&db).await {
            Ok(store) => {
                let open = store.open_recordings().await.unwrap_or_default();
                store.close().await;
                open
            }
            Err(_) => Vec::new(),
        };
        let grown = open
            .first()
            .is_some_and(|r| std::fs::metadata(&r.path).is_ok_and(|m| m.len() > 44 + 4 * 16_000));
        if grown {
            break open;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no open recording growing: {open:?}\n{}",
            hotline.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    hotline.child.kill().expect("kill -9");
    assert!(hotline.wait(Duration::from_secs(10)).await.is_some());
    drop(caller);
    let path = open[0].path.clone();
    let left = std::fs::read(&path).expect("the file");
    assert_eq!(&left[40..44], &[0, 0, 0, 0], "the header was still open");

    let log = Hotline::start_and_stop_again(dir.path(), &options).await;
    assert!(
        log.contains("a recording left open by the last run was repaired"),
        "{log}"
    );

    let bytes = std::fs::read(&path).expect("the file");
    let data = u32::from_le_bytes([bytes[40], bytes[41], bytes[42], bytes[43]]) as usize;
    assert!(data > 4 * 16_000, "the header counts the audio: {data}");
    assert_eq!(data, (bytes.len() - 44) / 4 * 4, "every whole sample");
    let riff = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    assert_eq!(riff, data + 36);
    let store = SqliteStore::open(&db).await.expect("open the store");
    let recordings = store
        .recordings_of(&open[0].call_id)
        .await
        .expect("recordings");
    store.close().await;
    let [r] = recordings.as_slice() else {
        panic!("one recording: {recordings:?}");
    };
    assert!(!r.is_open() && !r.complete, "{r:?}");
    assert_eq!(r.reason.as_deref(), Some("interrupted"), "{r:?}");
    assert_eq!(r.size_bytes, bytes.len() as u64, "{r:?}");
    let sha = crate::common::sha256_hex(&bytes);
    assert_eq!(r.sha256.as_deref(), Some(sha.as_str()), "{r:?}");
    // The caller's tone is in the left channel of what was kept.
    let left: Vec<i16> = bytes[44..]
        .chunks_exact(4)
        .map(|s| i16::from_le_bytes([s[0], s[1]]))
        .collect();
    let tone = crate::peers::ToneLevel::measure(&left[left.len() - 8_000..], 440.0);
    assert!(tone.heard(), "{tone:?}");
}
