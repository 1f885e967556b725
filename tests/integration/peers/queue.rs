//! Peers for the queue tests: seats that dial feature codes or type them as
//! keys (seat_feature*.xml), a seat agent that logs in and takes calls
//! (seat_agent.xml + seat_agent_incoming.xml), and a queued caller
//! (caller_queue.xml), plus readers for the lines they log.
//!
//! SIPp's digest uri= is one value per run (`-auth_uri`); the feature
//! helpers set it to the INVITE's Request-URI (sip:CODE@DAEMON). That is why
//! the agent does not REGISTER itself: `spawn_registered` registers it with
//! seat_register.xml from the same port first.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::{free_udp_port, RtpProbe, Sipp, SippProcess, SippRun, LOOPBACK};

/// How a seat types the code after dialling the access number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPress {
    /// RFC 4733 telephone-events (payload type 101) in RTP.
    Rfc4733,
    /// SIP INFO, application/dtmf-relay, one per key.
    Info,
}

/// What seat_agent_incoming.xml does with a call from the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerMode {
    /// 180, ring_ms, 200; a 1 kHz PCMU tone while the call lasts.
    Answer,
    /// 486 Busy Here.
    Busy,
    /// 180 and nothing more, until the daemon CANCELs.
    NoAnswer,
}

impl AnswerMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerMode::Answer => "answer",
            AnswerMode::Busy => "busy",
            AnswerMode::NoAnswer => "noanswer",
        }
    }
}

/// Who ends an answered call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hangup {
    /// The seat (agent: talk_ms after the ACK) or the caller (hold_ms).
    OwnSide,
    /// The other side, through the daemon: wait for its BYE (bounded by
    /// SIPp's -timeout).
    OtherSide,
}

/// A seat scenario dialling `code`: From/Contact user, digest user and
/// password, and the digest uri matching the Request-URI.
fn seat(scenario: &str, daemon: SocketAddr, user: &str, password: &str, code: &str) -> Sipp {
    Sipp::new(scenario)
        .remote(daemon)
        .service(code)
        .set("user", user)
        .auth_user(user)
        .password(password)
        // The digest uri= must be the Request-URI, sip:CODE@DAEMON.
        .auth_uri(&format!("{code}@{daemon}"))
}

/// seat_feature.xml: the seat dials `code` as the Request-URI user (e.g.
/// "*71", "*74", "*732%23" for pause reason 2), answers the 407, takes the
/// 200 and waits for the daemon's BYE.
pub fn feature_call(daemon: SocketAddr, user: &str, password: &str, code: &str) -> Sipp {
    seat("seat_feature.xml", daemon, user, password, code)
}

/// seat_feature_rfc4733.xml / seat_feature_info.xml: the seat dials the
/// access number `access` (e.g. "*"), then types `keys` (0-9 * #, e.g.
/// "*71" or "*732#") one second after the ACK, 300 ms apart (change with
/// `.set("key_delay_ms", ..)` / `.set("key_gap_ms", ..)`), and waits for
/// the daemon's BYE.
pub fn feature_keys(
    daemon: SocketAddr,
    user: &str,
    password: &str,
    access: &str,
    keys: &str,
    via: KeyPress,
) -> Sipp {
    let scenario = match via {
        KeyPress::Rfc4733 => "seat_feature_rfc4733.xml",
        KeyPress::Info => "seat_feature_info.xml",
    };
    seat(scenario, daemon, user, password, access).set("keys", keys)
}

/// seat_agent.xml with seat_agent_incoming.xml: logs in by dialling "*71"
/// and then handles `calls` calls from the daemon as `mode` says (hangs up
/// talk_ms = 2 s after answering; `.set("talk_ms", ..)`, `.set("ring_ms",
/// ..)`, `.set("wait_ms", ..)` to change). Start it with `spawn_registered`
/// so that the daemon has its Contact. SipRun: `agent_answered()` and
/// `agent_events()`.
pub fn seat_agent(
    daemon: SocketAddr,
    user: &str,
    password: &str,
    calls: u32,
    mode: AnswerMode,
    hangup: Hangup,
) -> Sipp {
    seat("seat_agent.xml", daemon, user, password, "*71")
        .out_of_call("seat_agent_incoming.xml")
        .set("calls", &calls.to_string())
        .set("answer_mode", mode.as_str())
        .set(
            "hangup",
            match hangup {
                Hangup::OwnSide => "seat",
                Hangup::OtherSide => "caller",
            },
        )
}

/// `seat_agent` for one call that it answers with `probe`'s port in its SDP
/// and no RTP of its own (the probe sends the seat's audio and keys), then
/// waits for the daemon's BYE.
pub fn seat_agent_probe(daemon: SocketAddr, user: &str, password: &str, probe: &RtpProbe) -> Sipp {
    seat_agent(
        daemon,
        user,
        password,
        1,
        AnswerMode::Answer,
        Hangup::OtherSide,
    )
    .set("probe_port", &probe.port().to_string())
}

/// Register `user` with seat_register.xml from a free port P (the REGISTER
/// can be challenged with 401 and its digest uri is the default one), then
/// start `agent` (from `seat_agent`) on P, and wait until it has logged in
/// (its login call ended with the daemon's BYE) or `login_timeout` passed.
/// An error carries the failed run's report.
pub async fn spawn_registered(
    agent: Sipp,
    registrar: SocketAddr,
    user: &str,
    password: &str,
    login_timeout: Duration,
) -> io::Result<SippProcess> {
    let port = free_udp_port()?;
    let register = Sipp::new("seat_register.xml")
        .remote(registrar)
        .port(port)
        .service(user)
        .password(password)
        .timeout(login_timeout)
        .run()
        .await?;
    if !register.success() {
        return Err(io::Error::other(format!(
            "registration failed:\n{register}"
        )));
    }
    let mut agent = agent.port(port).spawn()?;
    if !agent.wait_log("agent logged_in", login_timeout).await {
        return Err(io::Error::other(format!(
            "the seat agent did not log in within {login_timeout:?}:\n{}",
            agent.wait().await?
        )));
    }
    Ok(agent)
}

/// caller_queue.xml: a trunk caller to `number` that expects the daemon's
/// 200 at once, sends no RTP, and hangs up 5 s after the ACK. Change with
/// `.set("hold_ms", ..)`, `.set("abandon_ms", ..)` (abandoned caller),
/// `.set("hangup", "daemon")` (wait for the daemon's BYE),
/// `.set("audio", "tone")` (440 Hz), `.set("caller", ..)` (From user).
/// SippRun: `caller_answered_after()`, `caller_events()`.
pub fn caller_queue(daemon: SocketAddr, number: &str) -> Sipp {
    Sipp::new("caller_queue.xml").remote(daemon).service(number)
}

/// `caller_queue` whose SDP offers `probe`'s port instead of SIPp's media
/// port: the daemon's RTP goes to the probe. SIPp then sends no RTP at all.
pub fn caller_queue_probe(daemon: SocketAddr, number: &str, probe: &RtpProbe) -> Sipp {
    caller_queue(daemon, number).set("probe_port", &probe.port().to_string())
}

/// The caller (caller_queue.xml with `.set("hangup", "poke")`) hangs up, and `other` must then
/// log `needle` (its BYE from the daemon, say). Every probe goes quiet first: the daemon frees
/// the call's RTP ports when the call ends and a daemon of another test may take one at once;
/// packets still sent there would be the first it hears on its new leg, and it would latch to
/// them.
pub async fn caller_hangs_up_then(
    caller: &mut SippProcess,
    probes: &[&RtpProbe],
    other: &mut SippProcess,
    needle: &str,
    timeout: Duration,
) {
    for probe in probes {
        probe.set_audio(None);
    }
    poke_hangup(caller, timeout).await.expect("caller hangs up");
    assert!(
        other.wait_log(needle, timeout).await,
        "no {needle:?} after the caller hung up:\n{}",
        other.log_so_far()
    );
}

/// caller_queue.xml with `.set("hangup", "poke")` hangs up now: once it has
/// been answered (its log names the Call-ID), an OPTIONS in its dialog is
/// sent to its SIP port, again every 5 s until it logs "caller poked" or
/// `timeout` passes. The caller then sends its BYE. (The scenario does not
/// answer the OPTIONS: SIPp would send the answer to its call's peer.)
pub async fn poke_hangup(caller: &mut SippProcess, timeout: Duration) -> io::Result<()> {
    poke(caller, "caller", timeout).await
}

/// `poke_hangup` for any scenario that logs "WHO answered call_id=..." and "WHO poked"
/// (caller_queue.xml, supervisor.xml).
pub async fn poke(caller: &mut SippProcess, who: &str, timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    if !caller.wait_log(&format!("{who} answered"), timeout).await {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the {who} was not answered:\n{}", caller.log_so_far()),
        ));
    }
    let call_id = caller
        .log_so_far()
        .lines()
        .filter_map(LogEvent::parse)
        .find(|e| e.who == who && e.what == "answered")
        .and_then(|e| e.call_id)
        .ok_or_else(|| io::Error::other(format!("no call_id= in the {who}'s log")))?;
    let socket = UdpSocket::bind(SocketAddr::from((LOOPBACK, 0))).await?;
    let port = socket.local_addr()?.port();
    let to = caller.local_addr();
    let options = format!(
        "OPTIONS sip:caller@{to} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKpoke{port}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:test@127.0.0.1:{port}>;tag=poke{port}\r\n\
         To: <sip:caller@{to}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    );
    while Instant::now() < deadline {
        socket.send_to(options.as_bytes(), to).await?;
        // Another OPTIONS only when the first cannot have been taken: one that comes while the
        // scenario waits for its BYE's 200 aborts it. SIPp's log may take a while under load.
        let wait = Duration::from_secs(5).min(deadline.saturating_duration_since(Instant::now()));
        if caller.wait_log(&format!("{who} poked"), wait).await {
            return Ok(());
        }
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("the {who} did not take the poke within {timeout:?}"),
    ))
}

/// One `<log>` line of the scenarios above: "WHO WHAT key=value ...".
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    /// "agent", "caller", "feature".
    pub who: String,
    /// e.g. "answered", "ended", "abandoned".
    pub what: String,
    /// unix_ms=, in ms since the Unix epoch (SIPp logs it with decimals).
    pub unix_ms: Option<u64>,
    /// call_id=, the Call-ID of the daemon's INVITE (agent lines).
    pub call_id: Option<String>,
    /// from=, the user part of the daemon's From (agent lines).
    pub from: Option<String>,
    /// The line as logged.
    pub line: String,
}

impl LogEvent {
    /// One line as logged; None for a line without "WHO WHAT".
    pub fn parse(line: &str) -> Option<LogEvent> {
        let mut words = line.split_whitespace();
        let who = words.next()?.to_owned();
        let what = words.next()?.to_owned();
        let mut event = LogEvent {
            who,
            what,
            unix_ms: None,
            call_id: None,
            from: None,
            line: line.to_owned(),
        };
        for word in words {
            match word.split_once('=') {
                Some(("unix_ms", v)) => {
                    event.unix_ms = v.parse::<f64>().ok().map(|ms| ms as u64);
                }
                Some(("call_id", v)) => event.call_id = Some(v.to_owned()),
                Some(("from", v)) => event.from = Some(v.to_owned()),
                _ => {}
            }
        }
        Some(event)
    }

    /// A numeric field other than the ones above, e.g. "after_ms".
    pub fn number(&self, key: &str) -> Option<f64> {
        self.line
            .split_whitespace()
            .filter_map(|word| word.split_once('='))
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.parse().ok())
    }
}

impl SippRun {
    /// The `<log>` lines of one peer ("agent", "caller", "feature"), in order.
    pub fn events(&self, who: &str) -> Vec<LogEvent> {
        self.log
            .lines()
            .filter_map(LogEvent::parse)
            .filter(|event| event.who == who)
            .collect()
    }

    /// seat_agent.xml: every event of the seat (login_answered, logged_in,
    /// offered, answered, ended, busy, cancelled, rejected_while_busy,
    /// timeout).
    pub fn agent_events(&self) -> Vec<LogEvent> {
        self.events("agent")
    }

    /// seat_agent.xml: the calls it answered, in order, with their times
    /// and callers (`from`); compare times across agents to see the order
    /// of service.
    pub fn agent_answered(&self) -> Vec<LogEvent> {
        self.events("agent")
            .into_iter()
            .filter(|event| event.what == "answered")
            .collect()
    }

    /// caller_queue.xml: answered, then hung_up, abandoned or
    /// bye_from_daemon.
    pub fn caller_events(&self) -> Vec<LogEvent> {
        self.events("caller")
    }

    /// caller_queue.xml: the time from its INVITE to the daemon's 200.
    pub fn caller_answered_after(&self) -> Option<Duration> {
        self.events("caller")
            .iter()
            .find(|event| event.what == "answered")
            .and_then(|event| event.number("after_ms"))
            .map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0))
    }
}

/// Seat 1001 logged in with a SIPp phone of its own for one call, which it takes as `mode`
/// (ringing `ring_ms` first) and ends as `hangup` says; the phone waits up to 40 s for it.
pub async fn seat_1001(
    daemon: SocketAddr,
    mode: AnswerMode,
    hangup: Hangup,
    ring_ms: u32,
) -> SippProcess {
    let agent = seat_agent(daemon, "1001", "seat1001-secret", 1, mode, hangup)
        .set("ring_ms", &ring_ms.to_string())
        .set("wait_ms", "40000")
        .timeout(Duration::from_secs(50));
    spawn_registered(
        agent,
        daemon,
        "1001",
        "seat1001-secret",
        Duration::from_secs(20),
    )
    .await
    .expect("seat 1001 logs in")
}

/// supervisor.xml: seat `user` dials `code` (e.g. "*511001") from its phone, its audio on
/// `probe`; it waits for the daemon's BYE, or hangs up when poked (`poke(.., "supervisor",
/// ..)`).
pub fn supervisor_call(
    daemon: SocketAddr,
    user: &str,
    password: &str,
    code: &str,
    probe: &RtpProbe,
) -> Sipp {
    seat("supervisor.xml", daemon, user, password, code)
        .set("probe_port", &probe.port().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_parse() {
        let line = "agent answered unix_ms=1795506677946.066895 call_id=2-14818@127.0.0.1 from=13800000001";
        let event = LogEvent::parse(line).expect("parses");
        assert_eq!(event.who, "agent");
        assert_eq!(event.what, "answered");
        assert_eq!(event.unix_ms, Some(1_795_506_677_946));
        assert_eq!(event.call_id.as_deref(), Some("2-14818@127.0.0.1"));
        assert_eq!(event.from.as_deref(), Some("13800000001"));
        let caller = LogEvent::parse("caller answered after_ms=217.283000 unix_ms=1.5").unwrap();
        assert_eq!(caller.number("after_ms"), Some(217.283));
        assert_eq!(LogEvent::parse(""), None);
    }
}
