//! The end-of-call rating caller (caller_rate.xml): a trunk caller who stays
//! on the line after the seat hangs up, and presses a key for the daemon's
//! rating prompt (or nothing, or hangs up during it), plus readers for the
//! lines it logs.
//!
//! With an RtpProbe as the SDP port the keys must go by INFO: the daemon
//! latches the caller's RTP to wherever its packets come from, so RFC 4733
//! packets from SIPp's own media port would move the daemon's audio away
//! from the probe. `spawn` refuses that combination.

use std::net::SocketAddr;
use std::time::Duration;

use super::{KeyPress, RtpProbe, Sipp, SippRun};

/// SIPp's -timeout beyond `key_after`: covers the keys, "thank you" and
/// the unrated end (two prompts of about 10 s, each followed by 8 s).
pub const RATE_TAIL: Duration = Duration::from_secs(45);

/// Keys SIPp can press (RFC 4733 pcaps exist for these).
const KEYS: &str = "0123456789*#";

/// caller_rate.xml: a trunk caller to `number`, answered at once, who
/// `key_after` after its ACK presses `keys` ("1"; "92": a wrong key, then
/// 2, 500 ms later; "": nothing) `via` RFC 4733 RTP or INFO, then waits for
/// the daemon's BYE (SIPp's -timeout: `key_after` + `RATE_TAIL`). It sends
/// no other RTP.
///
/// Change with `.set("key_gap_ms", ..)` (between keys; above 280 with
/// RFC 4733), `.set("hangup_ms", ..)` (the caller hangs up this long after
/// the ACK, e.g. during the prompt, after its keys if `key_after` is
/// shorter; then the daemon must not send BYE first), `.set("caller", ..)`
/// (From user). A daemon BYE before the last key (or before hangup_ms)
/// fails the run. SippRun: `caller_keys()`, `bye_from_daemon()`,
/// `caller_hung_up()`, `caller_answered_at()`.
///
/// RFC 4733 keys carry the pcaps' RTP headers (see caller_rate.xml): one
/// SSRC, sequence numbers and timestamps per key, not in typing order.
pub fn caller_rate(
    daemon: SocketAddr,
    number: &str,
    keys: &str,
    via: KeyPress,
    key_after: Duration,
) -> Sipp {
    Sipp::new("caller_rate.xml")
        .remote(daemon)
        .service(number)
        .set("keys", keys)
        .set(
            "via",
            match via {
                KeyPress::Rfc4733 => "rfc4733",
                KeyPress::Info => "info",
            },
        )
        .set("key_after_ms", &key_after.as_millis().to_string())
        .timeout(key_after + RATE_TAIL)
        .check(check_rate_args)
}

/// `caller_rate` whose SDP offers `probe`'s port instead of SIPp's media
/// port, so the daemon's prompts go to the probe; the keys go by INFO
/// (setting via=rfc4733 on it makes `spawn` fail).
pub fn caller_rate_probe(
    daemon: SocketAddr,
    number: &str,
    keys: &str,
    key_after: Duration,
    probe: &RtpProbe,
) -> Sipp {
    caller_rate(daemon, number, keys, KeyPress::Info, key_after)
        .set("probe_port", &probe.port().to_string())
}

/// Refuses a probe port with RFC 4733 keys, and keys SIPp cannot press.
fn check_rate_args(sipp: &Sipp) -> Result<(), String> {
    let probe = sipp.get("probe_port").is_some_and(|p| !p.is_empty());
    if probe && sipp.get("via") == Some("rfc4733") {
        return Err(
            "probe_port with via=rfc4733: with a probe the keys must go by INFO \
                    (RTP from SIPp's media port would move the daemon's audio away from \
                    the probe)"
                .to_owned(),
        );
    }
    let keys = sipp.get("keys").unwrap_or("");
    if let Some(bad) = keys.chars().find(|c| !KEYS.contains(*c)) {
        return Err(format!(
            "key {bad:?} in {keys:?}: only 0-9 * # can be pressed"
        ));
    }
    Ok(())
}

/// One key caller_rate.xml pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallerKey {
    pub key: char,
    /// When it was sent, in ms since the Unix epoch.
    pub unix_ms: u64,
}

impl SippRun {
    /// caller_rate.xml: the keys it pressed, in order, with their times.
    pub fn caller_keys(&self) -> Vec<CallerKey> {
        self.events("caller")
            .into_iter()
            .filter(|event| event.what == "key")
            .filter_map(|event| {
                let key = event
                    .line
                    .split_whitespace()
                    .find_map(|word| word.strip_prefix("key="))?
                    .chars()
                    .next()?;
                Some(CallerKey {
                    key,
                    unix_ms: event.unix_ms?,
                })
            })
            .collect()
    }

    /// caller_queue.xml / caller_rate.xml: when the daemon's BYE came (ms
    /// since the Unix epoch); None if the caller hung up or it never came.
    pub fn bye_from_daemon(&self) -> Option<u64> {
        self.caller_time("bye_from_daemon")
    }

    /// caller_queue.xml / caller_rate.xml: when the caller's own BYE got
    /// its 200 (ms since the Unix epoch).
    pub fn caller_hung_up(&self) -> Option<u64> {
        self.caller_time("hung_up")
    }

    /// caller_queue.xml / caller_rate.xml: when the daemon's 200 came (ms
    /// since the Unix epoch): key_after_ms and hangup_ms count from here.
    pub fn caller_answered_at(&self) -> Option<u64> {
        self.caller_time("answered")
    }

    fn caller_time(&self, what: &str) -> Option<u64> {
        self.events("caller")
            .into_iter()
            .find(|event| event.what == what)
            .and_then(|event| event.unix_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daemon() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 5060))
    }

    #[test]
    fn keys_and_times_parse() {
        let log = "caller answered after_ms=6.8 unix_ms=1000.5\n\
                   caller key key=9 unix_ms=1300.2\n\
                   caller key key=# unix_ms=1800.9\n\
                   caller bye_from_daemon unix_ms=2000.1\n";
        let run = SippRun {
            scenario: "caller_rate.xml".into(),
            exit_code: Some(0),
            killed: false,
            stdout: String::new(),
            stderr: String::new(),
            error_log: String::new(),
            log: log.into(),
            messages: String::new(),
            local_addr: daemon(),
            media_addr: daemon(),
        };
        assert_eq!(
            run.caller_keys(),
            [
                CallerKey {
                    key: '9',
                    unix_ms: 1300
                },
                CallerKey {
                    key: '#',
                    unix_ms: 1800
                }
            ]
        );
        assert_eq!(run.caller_answered_at(), Some(1000));
        assert_eq!(run.bye_from_daemon(), Some(2000));
        assert_eq!(run.caller_hung_up(), None);
    }

    #[test]
    fn probe_with_rfc4733_and_odd_keys_are_refused() {
        let second = Duration::from_secs(1);
        let rtp = caller_rate(daemon(), "12345", "1", KeyPress::Rfc4733, second);
        assert!(check_rate_args(&rtp).is_ok());
        assert!(check_rate_args(&rtp.set("probe_port", "4000")).is_err());
        let info =
            caller_rate(daemon(), "12345", "", KeyPress::Info, second).set("probe_port", "4000");
        assert!(check_rate_args(&info).is_ok());
        assert!(check_rate_args(&info.set("via", "rfc4733")).is_err());
        let odd = caller_rate(daemon(), "12345", "1a", KeyPress::Info, second);
        assert!(check_rate_args(&odd).is_err());
    }
}
