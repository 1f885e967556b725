//! The task that drives the hand-off machine: it takes requests from calls, runs the timers,
//! writes each change durably before it publishes it or plays its tone, keeps the metrics, and
//! routes a seat's cues to the call the seat is on.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::handle::{HandoffHandle, HandoffUpdate, OpenHandoff, Request};
use super::machine::{took, Action, Change, Cue, Handoffs};
use super::settings::HandoffSettings;
use crate::bus::Bus;
use crate::call_id::CallId;
use crate::clock::{wall_time, Clock};
use crate::ledger::FailureRule;
use crate::metrics::{labels, names};
use crate::store::{HandoffRecord, Record, WriterHandle};
use crate::timer::far_future;

/// Updates kept for a slow subscriber before it lags.
const UPDATES_KEPT: usize = 256;

/// How often the least-time-left gauge is brought up to date.
const GAUGE_TICK: Duration = Duration::from_secs(1);

pub struct HandoffService {
    machine: Handoffs,
    writer: WriterHandle,
    clock: Arc<dyn Clock>,
    updates: Bus<HandoffUpdate>,
    /// The call each seat is on now, and where its cues go.
    seats: HashMap<String, (CallId, mpsc::UnboundedSender<Cue>)>,
    /// Every category with a gauge set, so a category whose last hand-off closed shows 0.
    shown: BTreeSet<String>,
}

impl HandoffService {
    pub fn start(
        settings: HandoffSettings,
        rule: FailureRule,
        writer: WriterHandle,
        clock: Arc<dyn Clock>,
        stop: CancellationToken,
    ) -> (HandoffHandle, tokio::task::JoinHandle<()>) {
        let (requests, rx) = mpsc::unbounded_channel();
        let updates = Bus::new("handoffs", UPDATES_KEPT);
        let shown = settings.categories.iter().map(|c| c.name.clone()).collect();
        let service = HandoffService {
            machine: Handoffs::new(settings, rule),
            writer,
            clock,
            updates: updates.clone(),
            seats: HashMap::new(),
            shown,
        };
        let task = tokio::spawn(service.run(rx, stop));
        (HandoffHandle::new(requests, updates), task)
    }

    async fn run(
        mut self,
        mut requests: mpsc::UnboundedReceiver<Request>,
        stop: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(GAUGE_TICK);
        self.show_gauges(Instant::now());
        loop {
            while let Some(action) = self.machine.poll_action() {
                self.act(action).await;
            }
            let deadline = self.machine.poll_timeout();
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                request = requests.recv() => match request {
                    Some(request) => self.on_request(request),
                    None => return,
                },
                _ = sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                    self.machine.handle_timeout(Instant::now());
                }
                _ = tick.tick() => self.show_gauges(Instant::now()),
            }
        }
    }

    fn on_request(&mut self, request: Request) {
        match request {
            Request::Input(input) => {
                let now = Instant::now();
                let at = wall_time(self.clock.as_ref(), now);
                self.machine.handle(now, at, input);
            }
            Request::SeatOn { seat, call, cues } => {
                self.seats.insert(seat, (call, cues));
            }
            Request::SeatOff { seat, call } => {
                if self.seats.get(&seat).is_some_and(|(on, _)| *on == call) {
                    self.seats.remove(&seat);
                }
                self.machine.forget_call(&call.to_string());
            }
            Request::Open(reply) => {
                let open = self
                    .machine
                    .time_left(Instant::now())
                    .map(|(record, seconds_left)| OpenHandoff {
                        record: record.clone(),
                        seconds_left,
                    })
                    .collect();
                let _ = reply.send(open);
            }
        }
    }

    async fn act(&mut self, action: Action) {
        match action {
            Action::Changed { change, record } => {
                // Durable before anything acts on it: the breach is evidence.
                self.keep(Record::Handoff((*record).clone())).await;
                log(change, &record);
                count(change, &record);
                self.show_gauges(Instant::now());
                self.updates.publish(HandoffUpdate {
                    change,
                    record: *record,
                });
            }
            Action::Cue { seat, cue } => {
                let sent = self
                    .seats
                    .get(&seat)
                    .is_some_and(|(_, cues)| cues.send(cue).is_ok());
                if !sent {
                    info!(%seat, ?cue, "hand-off cue not played: the seat is on no call");
                }
            }
            Action::Refused { seat, why } => {
                info!(%seat, %why, "hand-off key not acted on");
            }
            Action::Attempt(attempt) => {
                metrics::counter!(names::CONTACT_ATTEMPTS_TOTAL,
                    labels::ROLE => attempt.role.as_str(), labels::OUTCOME => attempt.outcome.as_str())
                .increment(1);
                info!(
                    call_id = %attempt.call_id, unit = %attempt.unit, role = %attempt.role,
                    dialled = %attempt.dialled, outcome = attempt.outcome.as_str(),
                    status = ?attempt.sip_status, rung_ms = attempt.rung.as_millis() as u64,
                    handoff = ?attempt.handoff_id, "contact attempt"
                );
                self.keep(Record::ContactAttempt(attempt)).await;
            }
            Action::Failure(failure) => {
                metrics::counter!(names::CONTACT_FAILURES_TOTAL, labels::UNIT => failure.unit.clone())
                    .increment(1);
                warn!(
                    failure = %failure.id, unit = %failure.unit, call_id = %failure.call_id,
                    handoff = ?failure.handoff_id, attempts = failure.evidence.len(),
                    points = failure.points, "contact failure"
                );
                self.keep(Record::ContactFailure(*failure)).await;
            }
        }
    }

    /// Writes `record` and waits until it is committed: hand-offs, attempts and failures are
    /// evidence, kept before they are published or acted on.
    async fn keep(&self, record: Record) {
        let (kind, id) = (record.kind(), record.id().to_string());
        let kept = match self.writer.submit(record).await {
            Ok(()) => self.writer.flush().await,
            Err(e) => Err(e),
        };
        if let Err(error) = kept {
            warn!(kind, id, %error, "hand-off service record not kept");
        }
    }

    fn show_gauges(&mut self, now: Instant) {
        let mut open: HashMap<&str, usize> = HashMap::new();
        let mut least: Option<f64> = None;
        for (record, left) in self.machine.time_left(now) {
            *open.entry(record.category.as_str()).or_default() += 1;
            least = Some(least.map_or(left, |l: f64| l.min(left)));
        }
        for category in &self.shown {
            let n = open.get(category.as_str()).copied().unwrap_or(0);
            metrics::gauge!(names::HANDOFFS_OPEN, labels::CATEGORY => category.clone())
                .set(n as f64);
        }
        match least {
            Some(left) => metrics::gauge!(names::HANDOFF_LEAST_TIME_LEFT_SECONDS).set(left),
            // No open hand-off: a large value rather than a stale one, so alerts stay quiet.
            None => metrics::gauge!(names::HANDOFF_LEAST_TIME_LEFT_SECONDS).set(f64::INFINITY),
        }
    }
}

fn log(change: Change, record: &HandoffRecord) {
    let outcome = record.outcome.map(|o| o.as_str()).unwrap_or("open");
    let unit = record.unit.as_deref().unwrap_or("");
    match change {
        Change::Breached => warn!(
            handoff = %record.id, call_id = %record.call_id, seat = %record.seat,
            category = %record.category, limit_secs = record.limit_now().as_secs(),
            "hand-off breached its limit"
        ),
        _ => info!(
            handoff = %record.id, call_id = %record.call_id, seat = %record.seat,
            category = %record.category, ?change, outcome, unit,
            "hand-off"
        ),
    }
}

fn count(change: Change, record: &HandoffRecord) {
    let category = record.category.clone();
    match change {
        Change::Breached => {
            metrics::counter!(names::HANDOFF_BREACHES_TOTAL, labels::CATEGORY => category)
                .increment(1);
        }
        Change::Made | Change::Closed => {
            if let Some(outcome) = record.outcome {
                metrics::counter!(names::HANDOFFS_TOTAL,
                    labels::CATEGORY => category.clone(), labels::OUTCOME => outcome.as_str())
                .increment(1);
            }
            if let Some(took) = took(record).filter(|_| change == Change::Made) {
                metrics::histogram!(names::HANDOFF_SECONDS, labels::CATEGORY => category)
                    .record(took.as_secs_f64());
            }
        }
        _ => {}
    }
}
