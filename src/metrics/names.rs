//! Every metric the daemon exports: name, type, unit, help and labels in one table.
//!
//! Names are part of the operator's contract (dashboards and alerts use them), so they are
//! fixed here once and never renamed: counters end in `_total`, durations in `_seconds`,
//! gauges are plain. `describe_all()` and the exporter's bucket set-up both walk `ALL`, so a
//! metric cannot be emitted without a description, nor a histogram without buckets.

use metrics::Unit;

use super::labels as l;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

#[derive(Debug)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub unit: Unit,
    pub help: &'static str,
    /// The label keys emitters attach; documentation for dashboards, not enforced.
    pub labels: &'static [&'static str],
    /// Histogram bucket upper bounds in the metric's unit; empty for counters and gauges.
    pub buckets: &'static [f64],
}

// Calls.
pub const CALLS_TOTAL: &str = "hotline_calls_total";
pub const CALLS_ACTIVE: &str = "hotline_calls_active";
pub const CALLS_REJECTED_TOTAL: &str = "hotline_calls_rejected_total";
pub const CALL_RING_SECONDS: &str = "hotline_call_ring_seconds";
pub const CALL_DURATION_SECONDS: &str = "hotline_call_duration_seconds";

// Registrations and security.
pub const REGISTRATIONS_ACTIVE: &str = "hotline_registrations_active";
pub const REGISTRATION_FAILURES_TOTAL: &str = "hotline_registration_failures_total";
pub const SECURITY_EVENTS_TOTAL: &str = "hotline_security_events_total";

// SIP transport.
pub const SIP_REQUESTS_TOTAL: &str = "hotline_sip_requests_total";
pub const SIP_RESPONSES_TOTAL: &str = "hotline_sip_responses_total";
pub const SIP_MALFORMED_TOTAL: &str = "hotline_sip_malformed_total";
pub const SIP_OVERLOAD_DROPPED_TOTAL: &str = "hotline_sip_overload_dropped_total";
pub const SIP_SEND_DROPPED_TOTAL: &str = "hotline_sip_send_dropped_total";
pub const SIP_BANNED_DROPPED_TOTAL: &str = "hotline_sip_banned_dropped_total";
pub const SIP_BANNED_SOURCES: &str = "hotline_sip_banned_sources";

// RTP relay.
pub const RTP_PACKETS_RELAYED_TOTAL: &str = "hotline_rtp_packets_relayed_total";
pub const RTP_BYTES_RELAYED_TOTAL: &str = "hotline_rtp_bytes_relayed_total";
pub const RTP_PACKETS_DROPPED_TOTAL: &str = "hotline_rtp_packets_dropped_total";
pub const RTP_PORTS_IN_USE: &str = "hotline_rtp_ports_in_use";
pub const RTP_PACKETS_LOST_TOTAL: &str = "hotline_rtp_packets_lost_total";
pub const RTP_JITTER_SECONDS: &str = "hotline_rtp_jitter_seconds";

// Store.
pub const STORE_RECORDS_WRITTEN_TOTAL: &str = "hotline_store_records_written_total";
pub const STORE_RECORDS_LOST_TOTAL: &str = "hotline_store_records_lost_total";
pub const STORE_WRITE_ERRORS_TOTAL: &str = "hotline_store_write_errors_total";
pub const STORE_COMMITS_TOTAL: &str = "hotline_store_commits_total";
pub const STORE_QUEUE_DEPTH: &str = "hotline_store_queue_depth";
pub const STORE_COMMIT_SECONDS: &str = "hotline_store_commit_seconds";

// Queue, seats, hand-off, contact and rating: fixed now so dashboards can be built ahead.
pub const QUEUE_CALLERS_WAITING: &str = "hotline_queue_callers_waiting";
pub const QUEUE_WAIT_SECONDS: &str = "hotline_queue_wait_seconds";
pub const SEATS: &str = "hotline_seats";
pub const SEATS_PAUSED: &str = "hotline_seats_paused";
pub const QUEUE_SEATS_LOGGED_IN: &str = "hotline_queue_seats_logged_in";
pub const QUEUE_CALLS_OFFERED_TOTAL: &str = "hotline_queue_calls_offered_total";
pub const QUEUE_CALLS_ENDED_TOTAL: &str = "hotline_queue_calls_ended_total";
pub const QUEUE_ANSWERED_IN_SERVICE_LEVEL_TOTAL: &str =
    "hotline_queue_answered_in_service_level_total";
pub const QUEUE_OFFERS_TOTAL: &str = "hotline_queue_offers_total";
pub const HANDOFF_SECONDS: &str = "hotline_handoff_seconds";
pub const HANDOFFS_OPEN: &str = "hotline_handoffs_open";
pub const HANDOFF_LEAST_TIME_LEFT_SECONDS: &str = "hotline_handoff_least_time_left_seconds";
pub const HANDOFF_BREACHES_TOTAL: &str = "hotline_handoff_breaches_total";
pub const HANDOFFS_TOTAL: &str = "hotline_handoffs_total";
pub const CONTACT_FAILURES_TOTAL: &str = "hotline_contact_failures_total";
pub const CONTACT_ATTEMPTS_TOTAL: &str = "hotline_contact_attempts_total";
pub const RATINGS_TOTAL: &str = "hotline_ratings_total";
pub const CONSULT_EVENTS_TOTAL: &str = "hotline_consult_events_total";
pub const SURVEY_CALLS_TOTAL: &str = "hotline_survey_calls_total";
pub const SURVEYS_PENDING: &str = "hotline_surveys_pending";

// Recordings.
pub const RECORDINGS_OPEN: &str = "hotline_recordings_open";
pub const RECORDINGS_TOTAL: &str = "hotline_recordings_total";
pub const RECORDINGS_DELETED_TOTAL: &str = "hotline_recordings_deleted_total";

// Lines.
pub const TRUNK_LINES: &str = "hotline_trunk_lines";
pub const TRUNK_LINES_IN_USE: &str = "hotline_trunk_lines_in_use";
pub const NUMBER_LINES_IN_USE: &str = "hotline_number_lines_in_use";
pub const TRUNK_CALLS_REFUSED_TOTAL: &str = "hotline_trunk_calls_refused_total";

// Live state.
pub const BUS_LAGGED_TOTAL: &str = "hotline_bus_lagged_total";
pub const UPTIME_SECONDS: &str = "hotline_uptime_seconds";

// Ringing is bounded by the ring timeout, queueing aside; fine steps in the first seconds,
// where trunk and seat problems show.
const RING_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 45.0, 60.0, 120.0,
];
// Citizen calls run from a few seconds (wrong number) to an hour at worst.
const DURATION_BUCKETS: &[f64] = &[
    10.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0,
];
// One SQLite transaction with fsync: sub-millisecond to a slow disk's second.
const COMMIT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
// Service levels are stated as "answered within 15/20/30 s", so those are bucket edges.
const QUEUE_WAIT_BUCKETS: &[f64] = &[
    5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0,
];
// Jitter a listener notices starts at tens of milliseconds; a clean LAN is well under one.
const JITTER_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2,
];
// Hand-offs have a deadline of minutes (five for the urgent class); edges around it.
const HANDOFF_BUCKETS: &[f64] = &[
    5.0, 10.0, 30.0, 60.0, 120.0, 180.0, 240.0, 300.0, 360.0, 600.0, 900.0,
];

const fn counter(
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
) -> Metric {
    Metric {
        name,
        kind: Kind::Counter,
        unit: Unit::Count,
        help,
        labels,
        buckets: &[],
    }
}

const fn gauge(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> Metric {
    Metric {
        name,
        kind: Kind::Gauge,
        unit: Unit::Count,
        help,
        labels,
        buckets: &[],
    }
}

const fn seconds(
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    buckets: &'static [f64],
) -> Metric {
    Metric {
        name,
        kind: Kind::Histogram,
        unit: Unit::Seconds,
        help,
        labels,
        buckets,
    }
}

pub static ALL: &[Metric] = &[
    counter(
        CALLS_TOTAL,
        "Finished calls, by trunk and disposition.",
        &[l::TRUNK, l::DISPOSITION],
    ),
    gauge(CALLS_ACTIVE, "Calls in progress.", &[]),
    counter(
        CALLS_REJECTED_TOTAL,
        "Calls refused before ringing anyone (acl, no_route, overload, codec, ...).",
        &[l::REASON],
    ),
    seconds(
        CALL_RING_SECONDS,
        "Time from offer to answer of answered calls.",
        &[],
        RING_BUCKETS,
    ),
    seconds(
        CALL_DURATION_SECONDS,
        "Time from answer to end of answered calls.",
        &[],
        DURATION_BUCKETS,
    ),
    gauge(
        REGISTRATIONS_ACTIVE,
        "Live seat registration bindings.",
        &[],
    ),
    counter(
        REGISTRATION_FAILURES_TOTAL,
        "Refused seat registrations.",
        &[l::REASON],
    ),
    counter(
        SECURITY_EVENTS_TOTAL,
        "Security-relevant events (acl_denied, auth_failed, banned, scanner, ...), each one counted.",
        &[l::KIND],
    ),
    counter(
        SIP_REQUESTS_TOTAL,
        "SIP requests received (in) and sent (out), by method; unknown methods count as other.",
        &[l::METHOD, l::DIRECTION],
    ),
    counter(
        SIP_RESPONSES_TOTAL,
        "SIP responses received (in) and sent (out), by status code.",
        &[l::STATUS, l::DIRECTION],
    ),
    counter(
        SIP_MALFORMED_TOTAL,
        "SIP messages that failed to parse or validate, by what was done with them.",
        &[l::ACTION],
    ),
    counter(
        SIP_OVERLOAD_DROPPED_TOTAL,
        "SIP messages dropped unread because the core's queue was full (a flood).",
        &[],
    ),
    counter(
        SIP_SEND_DROPPED_TOTAL,
        "SIP messages not sent because a TCP peer's write queue was full (a peer that does not read).",
        &[],
    ),
    counter(
        SIP_BANNED_DROPPED_TOTAL,
        "SIP requests dropped unanswered: from a banned source, or with a scanner's User-Agent.",
        &[],
    ),
    gauge(
        SIP_BANNED_SOURCES,
        "Source addresses banned now (floods, failed digest authentication, scanners).",
        &[],
    ),
    counter(
        RTP_PACKETS_RELAYED_TOTAL,
        "RTP packets relayed between caller and seat.",
        &[l::DIRECTION],
    ),
    Metric {
        name: RTP_BYTES_RELAYED_TOTAL,
        kind: Kind::Counter,
        unit: Unit::Bytes,
        help: "RTP bytes (UDP payload) relayed between caller and seat.",
        labels: &[l::DIRECTION],
        buckets: &[],
    },
    counter(
        RTP_PACKETS_DROPPED_TOTAL,
        "RTP packets not relayed, by reason.",
        &[l::REASON],
    ),
    counter(
        RTP_PACKETS_LOST_TOTAL,
        "RTP packets that never arrived, by direction (RFC 3550 sequence-number loss of the stream received from the caller or the seat).",
        &[l::DIRECTION],
    ),
    seconds(
        RTP_JITTER_SECONDS,
        "Interarrival jitter of the stream received from the caller or the seat (RFC 3550), sampled once a second per call.",
        &[l::DIRECTION],
        JITTER_BUCKETS,
    ),
    gauge(
        RTP_PORTS_IN_USE,
        "RTP relay ports currently allocated.",
        &[],
    ),
    counter(
        STORE_RECORDS_WRITTEN_TOTAL,
        "Records committed to the store.",
        &[],
    ),
    counter(
        STORE_RECORDS_LOST_TOTAL,
        "Records given up after every write retry failed.",
        &[],
    ),
    counter(
        STORE_WRITE_ERRORS_TOTAL,
        "Failed store write attempts, retried or not.",
        &[],
    ),
    counter(STORE_COMMITS_TOTAL, "Store transactions committed.", &[]),
    gauge(
        STORE_QUEUE_DEPTH,
        "Records waiting to be written to the store.",
        &[],
    ),
    seconds(
        STORE_COMMIT_SECONDS,
        "Time to write and commit one batch of records.",
        &[],
        COMMIT_BUCKETS,
    ),
    gauge(
        QUEUE_CALLERS_WAITING,
        "Callers waiting in a queue.",
        &[l::QUEUE],
    ),
    seconds(
        QUEUE_WAIT_SECONDS,
        "Time callers waited in a queue before a seat answered or they left.",
        &[l::QUEUE],
        QUEUE_WAIT_BUCKETS,
    ),
    gauge(SEATS, "Seats by state.", &[l::STATE]),
    gauge(
        SEATS_PAUSED,
        "Paused seats by reason (the pause code's reason, or no_answer when the ACD paused the seat).",
        &[l::REASON],
    ),
    gauge(
        QUEUE_SEATS_LOGGED_IN,
        "Seats of a queue that are logged in (any state but logged_out).",
        &[l::QUEUE],
    ),
    counter(
        QUEUE_CALLS_OFFERED_TOTAL,
        "Calls that entered a queue.",
        &[l::QUEUE],
    ),
    counter(
        QUEUE_CALLS_ENDED_TOTAL,
        "Calls that left a queue, by how: answered, abandoned, overflowed or callback.",
        &[l::QUEUE, l::OUTCOME],
    ),
    counter(
        QUEUE_ANSWERED_IN_SERVICE_LEVEL_TOTAL,
        "Queued calls a seat answered within the queue's service_level_secs.",
        &[l::QUEUE],
    ),
    counter(
        QUEUE_OFFERS_TOTAL,
        "Offers of queued calls to seats, by how each ended (no_answer is ring-no-answer).",
        &[l::QUEUE, l::OUTCOME],
    ),
    gauge(
        RECORDINGS_OPEN,
        "Call recordings being written now.",
        &[],
    ),
    counter(
        RECORDINGS_TOTAL,
        "Call recordings finished, by outcome: complete, or incomplete (the disk failed or fell behind).",
        &[l::OUTCOME],
    ),
    counter(
        RECORDINGS_DELETED_TOTAL,
        "Recording files deleted because they were older than the retention.",
        &[],
    ),
    counter(
        TRUNK_CALLS_REFUSED_TOTAL,
        "Inbound calls refused because every line of their trunk was in use.",
        &[l::TRUNK],
    ),
    gauge(
        TRUNK_LINES,
        "Lines (channels) configured on a trunk; absent for a trunk without a limit.",
        &[l::TRUNK],
    ),
    gauge(
        TRUNK_LINES_IN_USE,
        "Inbound calls in progress on a trunk.",
        &[l::TRUNK],
    ),
    gauge(
        NUMBER_LINES_IN_USE,
        "Inbound calls in progress per called number (12345, 12349, ...).",
        &[l::NUMBER],
    ),
    counter(
        BUS_LAGGED_TOTAL,
        "Live-state events a slow subscriber missed (it then took a snapshot), by bus.",
        &[l::BUS],
    ),
    Metric {
        name: UPTIME_SECONDS,
        kind: Kind::Gauge,
        unit: Unit::Seconds,
        help: "Seconds since the daemon started, as of the scrape.",
        labels: &[],
        buckets: &[],
    },
    seconds(
        HANDOFF_SECONDS,
        "Time from the seat's answer to the answer of the unit a hand-off was made to, by category.",
        &[l::CATEGORY],
        HANDOFF_BUCKETS,
    ),
    gauge(HANDOFFS_OPEN, "Hand-offs open now, by category.", &[l::CATEGORY]),
    Metric {
        name: HANDOFF_LEAST_TIME_LEFT_SECONDS,
        kind: Kind::Gauge,
        unit: Unit::Seconds,
        help: "The least time left to its limit among open hand-offs (negative once breached); \
               absent when none is open.",
        labels: &[],
        buckets: &[],
    },
    counter(
        HANDOFF_BREACHES_TOTAL,
        "Hand-offs that passed their limit unmade, by category, counted at the limit.",
        &[l::CATEGORY],
    ),
    counter(
        HANDOFFS_TOTAL,
        "Hand-offs ended, by category and outcome (in_time, late, closed_not_needed, unit_unreachable).",
        &[l::CATEGORY, l::OUTCOME],
    ),
    counter(
        CONTACT_FAILURES_TOTAL,
        "Contact failures charged to a unit (the rule met: 3 handler-or-head and 3 duty attempts unanswered), by unit.",
        &[l::UNIT],
    ),
    counter(
        CONTACT_ATTEMPTS_TOTAL,
        "Attempts to reach a unit's contact, by role and outcome.",
        &[l::ROLE, l::OUTCOME],
    ),
    counter(
        RATINGS_TOTAL,
        "Satisfaction ratings given by callers, by value.",
        &[l::VALUE],
    ),
    counter(
        CONSULT_EVENTS_TOTAL,
        "Consultations of units by seats and what came of them: consult, unit_answered, \
         unit_failed, conference, transfer, unit_dropped, consult_cancelled, unit_left.",
        &[l::KIND],
    ),
    counter(
        SURVEY_CALLS_TOTAL,
        "Return-visit survey call attempts, by outcome: answered, no_answer, busy, failed.",
        &[l::OUTCOME],
    ),
    gauge(
        SURVEYS_PENDING,
        "Return-visit surveys not yet finished, by state: queued (for a line, a retry or the \
         calling hours) or calling.",
        &[l::STATE],
    ),
];

/// Registers help and unit for every metric with the global recorder. Descriptions are
/// kept even for metrics that have no samples yet, so they appear on first emission.
pub fn describe_all() {
    for m in ALL {
        match m.kind {
            Kind::Counter => metrics::describe_counter!(m.name, m.unit, m.help),
            Kind::Gauge => metrics::describe_gauge!(m.name, m.unit, m.help),
            Kind::Histogram => metrics::describe_histogram!(m.name, m.unit, m.help),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn names_follow_the_conventions() {
        for m in ALL {
            assert!(m.name.starts_with("hotline_"), "{}", m.name);
            assert!(
                m.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                m.name
            );
            assert_eq!(
                m.kind == Kind::Counter,
                m.name.ends_with("_total"),
                "{}",
                m.name
            );
            let time_unit = matches!(
                m.unit,
                Unit::Seconds | Unit::Milliseconds | Unit::Microseconds | Unit::Nanoseconds
            );
            // Times are always exported in seconds, and a `_seconds` name is always a time.
            assert!(!time_unit || m.unit == Unit::Seconds, "{}", m.name);
            assert_eq!(time_unit, m.name.ends_with("_seconds"), "{}", m.name);
            assert!(!m.help.is_empty(), "{}", m.name);
        }
    }

    #[test]
    fn names_are_unique() {
        let mut seen = HashSet::new();
        for m in ALL {
            assert!(seen.insert(m.name), "{} listed twice", m.name);
        }
    }

    #[test]
    fn histograms_and_only_histograms_have_sorted_buckets() {
        for m in ALL {
            assert_eq!(
                m.kind == Kind::Histogram,
                !m.buckets.is_empty(),
                "{}",
                m.name
            );
            assert!(m.buckets.windows(2).all(|w| w[0] < w[1]), "{}", m.name);
            assert!(m.buckets.iter().all(|b| *b > 0.0), "{}", m.name);
        }
    }
}
