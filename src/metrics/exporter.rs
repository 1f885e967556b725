//! The process-global Prometheus recorder.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use super::names::{self, Kind};
use super::MetricsError;

/// Read access to everything recorded in this process. Cheap to clone.
#[derive(Clone, Debug)]
pub struct MetricsHandle {
    inner: PrometheusHandle,
    /// When the recorder was installed: the process's start, for the uptime gauge.
    started: std::time::Instant,
}

impl MetricsHandle {
    /// The current values in the Prometheus text exposition format (0.0.4), the uptime as of
    /// now among them.
    pub fn render(&self) -> String {
        metrics::gauge!(names::UPTIME_SECONDS).set(self.started.elapsed().as_secs_f64());
        self.inner.render()
    }

    /// Folds buffered histogram samples into their buckets. Rendering does this too; without
    /// either, samples pile up in memory, so a daemon that never serves `/metrics` must call
    /// this now and then (`serve` does it on its own).
    pub fn run_upkeep(&self) {
        self.inner.run_upkeep();
    }
}

/// Why the single installation attempt failed, kept so later calls report the same thing.
#[derive(Clone, Copy, Debug)]
enum InstallFailure {
    NoBuckets(&'static str),
    ForeignRecorder,
}

impl From<InstallFailure> for MetricsError {
    fn from(f: InstallFailure) -> Self {
        match f {
            InstallFailure::NoBuckets(metric) => MetricsError::NoBuckets { metric },
            InstallFailure::ForeignRecorder => MetricsError::ForeignRecorder,
        }
    }
}

static INSTALLED: OnceLock<Result<MetricsHandle, InstallFailure>> = OnceLock::new();

/// Installs the Prometheus recorder as the process-global recorder and describes every
/// metric. The global recorder can be set only once per process, and integration tests run
/// several daemons in one, so every later call returns the handle of the first.
pub fn install() -> Result<MetricsHandle, MetricsError> {
    INSTALLED
        .get_or_init(|| {
            let recorder = build_recorder()?;
            let handle = MetricsHandle {
                inner: recorder.handle(),
                started: std::time::Instant::now(),
            };
            metrics::set_global_recorder(recorder).map_err(|_| InstallFailure::ForeignRecorder)?;
            names::describe_all();
            Ok(handle)
        })
        .clone()
        .map_err(MetricsError::from)
}

fn build_recorder() -> Result<PrometheusRecorder, InstallFailure> {
    let mut builder = PrometheusBuilder::new();
    for m in names::ALL.iter().filter(|m| m.kind == Kind::Histogram) {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(m.name.to_owned()), m.buckets)
            .map_err(|_| InstallFailure::NoBuckets(m.name))?;
    }
    Ok(builder.build_recorder())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::labels::{self as l, malformed_action, rtp_direction, sip_direction};
    use crate::metrics::names::*;

    #[test]
    fn install_twice_gives_a_working_handle() {
        let first = install().expect("first install");
        let second = install().expect("second install");
        metrics::counter!(CALLS_TOTAL, l::TRUNK => "install-twice", l::DISPOSITION => "answered")
            .increment(1);
        for handle in [first, second] {
            assert!(handle.render().contains(r#"trunk="install-twice""#));
        }
    }

    /// One sample of every metric. Listing each constant by hand (rather than walking the
    /// table) also checks that the table and the constants agree.
    fn emit_one_of_each() {
        use metrics::{counter, gauge, histogram};

        counter!(CALLS_TOTAL, l::TRUNK => "pstn", l::DISPOSITION => "answered").increment(1);
        gauge!(CALLS_ACTIVE).set(1.0);
        counter!(CALLS_REJECTED_TOTAL, l::REASON => "acl").increment(1);
        histogram!(CALL_RING_SECONDS).record(4.2);
        histogram!(CALL_DURATION_SECONDS).record(95.0);
        gauge!(REGISTRATIONS_ACTIVE).set(3.0);
        counter!(REGISTRATION_FAILURES_TOTAL, l::REASON => "auth").increment(1);
        counter!(SECURITY_EVENTS_TOTAL, l::KIND => "acl_denied").increment(1);
        counter!(SIP_REQUESTS_TOTAL, l::METHOD => "INVITE", l::DIRECTION => sip_direction::IN)
            .increment(1);
        counter!(SIP_RESPONSES_TOTAL, l::STATUS => "200", l::DIRECTION => sip_direction::OUT)
            .increment(1);
        counter!(SIP_MALFORMED_TOTAL, l::ACTION => malformed_action::DROPPED).increment(1);
        counter!(SIP_OVERLOAD_DROPPED_TOTAL).increment(1);
        counter!(SIP_SEND_DROPPED_TOTAL).increment(1);
        counter!(SIP_BANNED_DROPPED_TOTAL).increment(1);
        gauge!(SIP_BANNED_SOURCES).set(1.0);
        counter!(RTP_PACKETS_RELAYED_TOTAL, l::DIRECTION => rtp_direction::CALLER_TO_SEAT)
            .increment(1);
        counter!(RTP_BYTES_RELAYED_TOTAL, l::DIRECTION => rtp_direction::SEAT_TO_CALLER)
            .increment(172);
        counter!(RTP_PACKETS_DROPPED_TOTAL, l::REASON => "unknown_source").increment(1);
        gauge!(RTP_PORTS_IN_USE).set(4.0);
        counter!(STORE_RECORDS_WRITTEN_TOTAL).increment(1);
        counter!(STORE_RECORDS_LOST_TOTAL).increment(0);
        counter!(STORE_WRITE_ERRORS_TOTAL).increment(0);
        counter!(STORE_COMMITS_TOTAL).increment(1);
        gauge!(STORE_QUEUE_DEPTH).set(0.0);
        histogram!(STORE_COMMIT_SECONDS).record(0.003);
        gauge!(QUEUE_CALLERS_WAITING, l::QUEUE => "general").set(2.0);
        histogram!(QUEUE_WAIT_SECONDS, l::QUEUE => "general").record(12.0);
        gauge!(SEATS, l::STATE => "idle").set(5.0);
        gauge!(TRUNK_LINES, l::TRUNK => "carrier").set(30.0);
        gauge!(TRUNK_LINES_IN_USE, l::TRUNK => "carrier").set(3.0);
        gauge!(NUMBER_LINES_IN_USE, l::NUMBER => "12345").set(2.0);
        histogram!(HANDOFF_SECONDS, l::CATEGORY => "major").record(80.0);
        gauge!(HANDOFFS_OPEN, l::CATEGORY => "major").set(1.0);
        gauge!(HANDOFF_LEAST_TIME_LEFT_SECONDS).set(42.0);
        counter!(HANDOFF_BREACHES_TOTAL, l::CATEGORY => "major").increment(1);
        counter!(HANDOFFS_TOTAL, l::CATEGORY => "major", l::OUTCOME => "in_time").increment(1);
        counter!(CONTACT_FAILURES_TOTAL, l::UNIT => "water").increment(1);
        counter!(CONTACT_ATTEMPTS_TOTAL, l::ROLE => "duty", l::OUTCOME => "busy").increment(1);
        counter!(RATINGS_TOTAL, l::VALUE => "5").increment(1);
        counter!(CONSULT_EVENTS_TOTAL, l::KIND => "conference").increment(1);
        counter!(SURVEY_CALLS_TOTAL, l::OUTCOME => "answered").increment(1);
        gauge!(SURVEYS_PENDING, l::STATE => "queued").set(3.0);
        counter!(BUS_LAGGED_TOTAL, l::BUS => "acd").increment(1);
        counter!(RTP_PACKETS_LOST_TOTAL, l::DIRECTION => rtp_direction::CALLER_TO_SEAT)
            .increment(1);
        histogram!(RTP_JITTER_SECONDS, l::DIRECTION => rtp_direction::SEAT_TO_CALLER).record(0.004);
        gauge!(SEATS_PAUSED, l::REASON => "no_answer").set(1.0);
        gauge!(QUEUE_SEATS_LOGGED_IN, l::QUEUE => "general").set(2.0);
        counter!(QUEUE_CALLS_OFFERED_TOTAL, l::QUEUE => "general").increment(1);
        counter!(QUEUE_CALLS_ENDED_TOTAL, l::QUEUE => "general", l::OUTCOME => "answered")
            .increment(1);
        counter!(QUEUE_ANSWERED_IN_SERVICE_LEVEL_TOTAL, l::QUEUE => "general").increment(1);
        counter!(QUEUE_OFFERS_TOTAL, l::QUEUE => "general", l::OUTCOME => "no_answer").increment(1);
        counter!(TRUNK_CALLS_REFUSED_TOTAL, l::TRUNK => "carrier").increment(1);
        gauge!(RECORDINGS_OPEN).set(1.0);
        counter!(RECORDINGS_TOTAL, l::OUTCOME => "complete").increment(1);
        counter!(RECORDINGS_DELETED_TOTAL).increment(1);
        gauge!(UPTIME_SECONDS).set(1.0);
    }

    #[test]
    fn every_metric_is_described_and_typed() {
        let handle = install().expect("install");
        emit_one_of_each();
        let text = handle.render();
        for m in ALL {
            assert!(
                text.lines()
                    .any(|line| line.starts_with(&format!("# HELP {} ", m.name))),
                "no HELP for {}",
                m.name
            );
            // Histograms without buckets would render as summaries, which cannot be
            // aggregated across daemons.
            let kind = match m.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram => "histogram",
            };
            let type_line = format!("# TYPE {} {kind}", m.name);
            assert!(
                text.lines().any(|line| line == type_line),
                "missing `{type_line}`"
            );
        }
    }

    #[test]
    fn histograms_use_their_own_buckets() {
        let handle = install().expect("install");
        metrics::histogram!(STORE_COMMIT_SECONDS).record(0.002);
        metrics::histogram!(CALL_DURATION_SECONDS).record(42.0);
        let text = handle.render();
        assert!(text.contains(&format!(r#"{STORE_COMMIT_SECONDS}_bucket{{le="0.0025"}}"#)));
        assert!(text.contains(&format!(r#"{CALL_DURATION_SECONDS}_bucket{{le="3600"}}"#)));
    }
}
