//! A unit's duty line for the consultation tests (tests/sipp/unit_answer.xml): a UAS on its
//! own port, which the test dialplan names as the unit's contact, and readers for what it
//! logged.

use std::time::Duration;

use super::{RtpProbe, Sipp, SippProcess, SippRun};

/// What unit_answer.xml does with the daemon's INVITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitAnswer {
    /// 180, ring_ms (200 ms), 200 with SDP; then waits for the BYE.
    Answer,
    /// 180 and nothing more, until the daemon CANCELs.
    NoAnswer,
    /// 486 Busy Here.
    Busy,
}

impl UnitAnswer {
    fn as_str(self) -> &'static str {
        match self {
            UnitAnswer::Answer => "answer",
            UnitAnswer::NoAnswer => "noanswer",
            UnitAnswer::Busy => "busy",
        }
    }
}

/// unit_answer.xml: takes one INVITE on its own port (pick it with `.port(..)`, as the
/// dialplan's contact needs it before the run starts) and handles it as `mode` says; its SDP
/// names `probe`'s port, so the daemon's RTP for the unit goes to the probe, and the probe
/// sends the unit's audio. SipRun / SippProcess logs: `unit_events()`.
pub fn unit_answer(mode: UnitAnswer, probe: &RtpProbe, timeout: Duration) -> Sipp {
    Sipp::new("unit_answer.xml")
        .set("answer_mode", mode.as_str())
        .set("probe_port", &probe.port().to_string())
        .timeout(timeout)
}

impl SippRun {
    /// unit_answer.xml: offered, then answered and bye_from_daemon, or cancelled, or busy.
    pub fn unit_events(&self) -> Vec<String> {
        self.events("unit").into_iter().map(|e| e.what).collect()
    }
}

impl SippProcess {
    /// The `what` of every `<log>` line of `who` so far, e.g. ["offered", "answered"] for
    /// "unit".
    pub fn events_so_far(&self, who: &str) -> Vec<String> {
        self.log_so_far()
            .lines()
            .filter_map(super::LogEvent::parse)
            .filter(|e| e.who == who)
            .map(|e| e.what)
            .collect()
    }
}
