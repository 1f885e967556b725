//! The survey service: the task that owns the return-visit [`Scheduler`]. It takes requests
//! from the API, starts one survey call task per attempt, hands their outcomes back to the
//! scheduler (which decides on retries) and writes what the scheduler says to keep.
//!
//! The scheduler runs on the service's own monotonic clock: the real one plus an offset that
//! only [`SurveyHandle::advance`] moves, so that tests can make a ten-minute retry interval
//! pass at once without touching the rest of the daemon.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn, Instrument};

use crate::api::{
    BoxFuture, SurveyApiError, SurveyCreated, SurveyRequestBody, SurveyState as ApiState,
    SurveyStatusBody, Surveys,
};
use crate::calendar::{to_local, Calendar};
use crate::call::dial::{DialRefusal, Dialer};
use crate::call::driver::{dial_survey, SurveyDial};
use crate::call::CallContext;
use crate::clock::wall_time;
use crate::dialplan::DialTarget;
use crate::ratings::{Rating, RatingMap, RatingOutcome};
use crate::sip::ids;
use crate::store::{
    AttemptOutcome, Record, SqliteStore, SurveyAttempt, SurveyRecord, SurveyState as StoredState,
};
use crate::survey::{
    CallOutcome, CallRules, Scheduler, SchedulerAction, SchedulerInput, SchedulerRules,
    SurveyEvent, SurveyEventKind, SurveyRefusal, SurveyRequest, SurveyResult, SurveySettings,
    SurveyStatus,
};
use crate::timer::far_future;

/// Commands waiting for the service.
const COMMAND_QUEUE: usize = 256;
/// Surveys not yet finished; beyond this the API answers 503.
const MAX_PENDING: usize = 10_000;
/// Finished surveys kept in memory for the API; older ones are read back from the store.
const FINISHED_KEPT: usize = 1_000;

/// How survey calls leave the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SurveyRoute {
    /// `[survey] trunk`: every number, as requested, to that trunk's outbound address.
    Trunk { name: String, addr: SocketAddr },
    /// No trunk named: the dialplan's outbound routes choose the trunk and rewrite the number,
    /// as for the calls seats make; a number no route allows is never dialled.
    Outbound,
}

impl SurveyRoute {
    /// Where `number` is dialled, presenting `caller_id`. The one place that chooses.
    pub fn target(
        &self,
        dialer: &Dialer,
        number: &str,
        caller_id: &str,
    ) -> Result<DialTarget, DialRefusal> {
        let target = match self {
            SurveyRoute::Trunk { name, addr } => DialTarget::Trunk {
                trunk: name.clone(),
                number: number.to_owned(),
                addr: *addr,
                caller_id: caller_id.to_owned(),
            },
            SurveyRoute::Outbound => dialer.number(number)?,
        };
        // The citizen sees the hotline's survey number, whatever the route presents otherwise.
        Ok(match target {
            DialTarget::Trunk {
                trunk,
                number,
                addr,
                ..
            } => DialTarget::Trunk {
                trunk,
                number,
                addr,
                caller_id: caller_id.to_owned(),
            },
            other => other,
        })
    }
}

/// What the service needs from the settings, checked at start-up.
#[derive(Debug, Clone)]
pub struct SurveyPlan {
    pub settings: SurveySettings,
    pub route: SurveyRoute,
    /// Calling hours (`[survey] calendar`) and the offset of local time, in seconds.
    pub hours: Option<(Calendar, i32)>,
}

impl SurveyPlan {
    /// `None` when the survey is off, or its trunk is unknown or has no outbound address
    /// (which validation already refuses).
    pub fn from_settings(settings: &crate::config::settings::Settings) -> Option<SurveyPlan> {
        let survey = settings.survey.as_ref().filter(|s| s.enabled)?;
        let route = match survey.trunk.as_deref() {
            Some(name) => {
                let trunk = settings.trunks.iter().find(|t| t.name == name)?;
                SurveyRoute::Trunk {
                    name: name.to_owned(),
                    addr: trunk.outbound?,
                }
            }
            None => SurveyRoute::Outbound,
        };
        let hours = survey.calendar.as_ref().and_then(|name| {
            let calendar = settings.calendars.iter().find(|c| &c.name == name)?;
            Some((calendar.clone(), settings.time.utc_offset_hours * 3600))
        });
        Some(SurveyPlan {
            settings: survey.clone(),
            route,
            hours,
        })
    }
}

enum Command {
    Request {
        body: SurveyRequestBody,
        reply: oneshot::Sender<Result<SurveyCreated, SurveyApiError>>,
    },
    Status {
        id: String,
        reply: oneshot::Sender<Option<SurveyStatusBody>>,
    },
    Advance {
        by: Duration,
        reply: oneshot::Sender<()>,
    },
}

/// How the API and tests reach the service.
#[derive(Clone)]
pub struct SurveyHandle {
    tx: mpsc::Sender<Command>,
}

impl SurveyHandle {
    /// Moves the scheduler's clock forward by `by` and fires whatever fell due (retries). For
    /// tests: the daemon's own clock never jumps.
    pub async fn advance(&self, by: Duration) {
        let (reply, done) = oneshot::channel();
        if self.tx.send(Command::Advance { by, reply }).await.is_ok() {
            let _ = done.await;
        }
    }
}

impl Surveys for SurveyHandle {
    fn request(
        &self,
        body: SurveyRequestBody,
    ) -> BoxFuture<'_, Result<SurveyCreated, SurveyApiError>> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            self.tx
                .send(Command::Request { body, reply })
                .await
                .map_err(|_| SurveyApiError::ShuttingDown)?;
            answer.await.map_err(|_| SurveyApiError::ShuttingDown)?
        })
    }

    fn status<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Option<SurveyStatusBody>> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            let id = id.to_owned();
            self.tx.send(Command::Status { id, reply }).await.ok()?;
            answer.await.ok()?
        })
    }
}

/// The API's side when the daemon has no survey: every request is refused with 503.
pub struct NoSurveys;

impl Surveys for NoSurveys {
    fn request(
        &self,
        _body: SurveyRequestBody,
    ) -> BoxFuture<'_, Result<SurveyCreated, SurveyApiError>> {
        Box::pin(async { Err(SurveyApiError::Disabled) })
    }

    fn status<'a>(&'a self, _id: &'a str) -> BoxFuture<'a, Option<SurveyStatusBody>> {
        Box::pin(async { None })
    }
}

/// A survey this run of the daemon took, as the API shows it.
struct Entry {
    request: SurveyRequest,
    requested_at: SystemTime,
    attempts: u32,
    result: Option<Rating>,
    attitude: Option<Rating>,
    /// How it ended, once it has.
    finished: Option<ApiState>,
}

pub struct SurveyService {
    plan: SurveyPlan,
    rules: CallRules,
    scheduler: Scheduler,
    ctx: Arc<CallContext>,
    store: SqliteStore,
    entries: HashMap<String, Entry>,
    /// Finished surveys in `entries`, oldest first.
    finished: VecDeque<String>,
    /// Added to the real monotonic clock (see the module's doc).
    offset: Duration,
    /// Attempts under way.
    in_flight: usize,
    /// Outside calling hours: when they open, on the service's clock.
    opens_at: Option<Instant>,
    /// The daemon is stopping: no new requests, no new attempts.
    draining: bool,
    /// Unbounded, and bounded in practice by the survey lines in flight: an outcome is never lost.
    done_tx: mpsc::UnboundedSender<(String, CallOutcome)>,
}

impl SurveyService {
    /// Starts the service's task. It refuses new work once `drain` fires and ends when the
    /// attempts under way have reported.
    pub fn start(
        plan: SurveyPlan,
        ctx: Arc<CallContext>,
        store: SqliteStore,
        drain: CancellationToken,
    ) -> (SurveyHandle, JoinHandle<()>) {
        let (tx, commands) = mpsc::channel(COMMAND_QUEUE);
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let service = SurveyService {
            scheduler: Scheduler::new(SchedulerRules::from(&plan.settings)),
            rules: CallRules {
                // The prompts read out 1, 2 and 3, whatever the keypad rating uses.
                map: RatingMap::default(),
                answer_timeout: plan.settings.answer_timeout(),
            },
            plan,
            ctx,
            store,
            entries: HashMap::new(),
            finished: VecDeque::new(),
            offset: Duration::ZERO,
            in_flight: 0,
            opens_at: None,
            draining: false,
            done_tx,
        };
        let span = tracing::info_span!("surveys");
        let task = tokio::spawn(service.run(commands, done_rx, drain).instrument(span));
        (SurveyHandle { tx }, task)
    }

    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut done: mpsc::UnboundedReceiver<(String, CallOutcome)>,
        drain: CancellationToken,
    ) {
        self.gate();
        self.resume_stored().await;
        self.report_pending();
        loop {
            let deadline = self
                .scheduler
                .poll_timeout()
                .filter(|_| !self.draining)
                .map(|at| self.real(at));
            let opens_at = self
                .opens_at
                .filter(|_| !self.draining)
                .map(|at| self.real(at));
            let wake = match (deadline, opens_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            tokio::select! {
                _ = drain.cancelled(), if !self.draining => {
                    info!(in_flight = self.in_flight, "surveys: draining");
                    self.draining = true;
                    // What waits stays `queued` in the store, for the next start to take back.
                    self.gate();
                }
                Some(command) = commands.recv(), if !self.draining => {
                    self.gate();
                    self.on_command(command).await;
                }
                Some((id, outcome)) = done.recv() => {
                    self.gate();
                    self.in_flight = self.in_flight.saturating_sub(1);
                    self.on_outcome(&id, outcome);
                    let now = self.now();
                    self.scheduler.handle(now, SchedulerInput::CallEnded { id, outcome });
                }
                _ = sleep_until(wake.unwrap_or_else(far_future)), if wake.is_some() => {
                    self.gate();
                    let now = self.now();
                    self.scheduler.handle_timeout(now);
                }
            }
            // Whatever the scheduler asked for, the calling hours' opening included.
            self.pump().await;
            self.report_pending();
            if self.draining && self.in_flight == 0 {
                return;
            }
        }
    }

    /// Lets the scheduler start attempts only inside calling hours and while the daemon is not
    /// stopping; outside the hours, remembers when they open.
    fn gate(&mut self) {
        let now = self.now();
        let wait = match &self.plan.hours {
            Some((calendar, offset)) => {
                let wall = self.ctx.clock.now() + self.offset;
                calendar.wait_until_open(to_local(wall, *offset))
            }
            None => Duration::ZERO,
        };
        self.opens_at = (!wait.is_zero()).then(|| now + wait);
        self.scheduler
            .set_dialling(now, wait.is_zero() && !self.draining);
    }

    /// The `hotline_surveys_pending` gauge: surveys not finished, calling or waiting.
    fn report_pending(&self) {
        let pending = self.entries.len().saturating_sub(self.finished.len());
        let calling = self.scheduler.dialling();
        let gauge = |state: &'static str, n: usize| {
            metrics::gauge!(
                crate::metrics::names::SURVEYS_PENDING,
                crate::metrics::labels::STATE => state
            )
            .set(n as f64);
        };
        gauge("calling", calling);
        gauge("queued", pending.saturating_sub(calling));
    }

    /// An instant on the service's clock as one on the real monotonic clock.
    fn real(&self, at: Instant) -> Instant {
        at.checked_sub(self.offset).unwrap_or(at)
    }

    fn now(&self) -> Instant {
        Instant::now() + self.offset
    }

    async fn on_command(&mut self, command: Command) {
        match command {
            Command::Request { body, reply } => {
                let answer = self.request(body).await;
                let _ = reply.send(answer);
            }
            Command::Status { id, reply } => {
                let status = match self.entries.get(&id) {
                    Some(entry) => Some(self.body(entry)),
                    None => self.stored_status(&id).await,
                };
                let _ = reply.send(status);
            }
            Command::Advance { by, reply } => {
                self.offset += by;
                self.gate();
                let now = self.now();
                self.scheduler.handle_timeout(now);
                self.pump().await;
                let _ = reply.send(());
            }
        }
    }

    async fn request(&mut self, body: SurveyRequestBody) -> Result<SurveyCreated, SurveyApiError> {
        if let Some(open) = self
            .entries
            .values()
            .find(|e| e.request.ticket == body.ticket && e.finished.is_none())
        {
            return Err(SurveyApiError::AlreadyRequested {
                ticket: body.ticket,
                id: open.request.id.clone(),
            });
        }
        if self.entries.len() - self.finished.len() >= MAX_PENDING {
            return Err(SurveyApiError::QueueFull);
        }
        let request = SurveyRequest {
            id: format!("survey-{}", ids::tag()),
            number: body.number,
            ticket: body.ticket,
            unit: Some(body.unit),
        };
        let requested_at = self.ctx.clock.now();
        let entry = Entry {
            request: request.clone(),
            requested_at,
            attempts: 0,
            result: None,
            attitude: None,
            finished: None,
        };
        let now = self.ctx.clock.now();
        if self.scheduler.refuses(&request.number) {
            info!(survey = %request.id, "survey refused: number on the do-not-call list");
            // Its record is all that is kept: the request gets no id to ask about.
            self.keep(survey_record(&entry, StoredState::RefusedDnc, now))
                .await?;
            return Err(SurveyApiError::DoNotCall {
                number: request.number,
            });
        }
        if let Err(refusal) = self.plan.route.target(
            &self.ctx.dialer,
            &request.number,
            &self.plan.settings.caller_id,
        ) {
            info!(survey = %request.id, %refusal, "survey refused: no route for the number");
            return Err(SurveyApiError::NoRoute {
                number: request.number,
            });
        }
        // Committed before the API says it was taken, and before any attempt refers to it.
        self.keep(survey_record(&entry, StoredState::Queued, now))
            .await?;
        if let Err(refusal) = self.scheduler.submit(self.now(), request.clone()) {
            // Ids are made here and unique, and the list was checked above: a bug, refused
            // rather than merged.
            warn!(survey = %request.id, %refusal, "survey not scheduled");
            return Err(SurveyApiError::NotKept);
        }
        info!(survey = %request.id, ticket = %request.ticket, "survey requested");
        self.entries.insert(request.id.clone(), entry);
        self.pump().await;
        let status = match self.scheduler.status(&request.id) {
            Some(SurveyStatus::Dialling { .. }) => ApiState::Calling,
            _ => ApiState::Queued,
        };
        Ok(SurveyCreated {
            id: request.id,
            status,
        })
    }

    /// Writes `record` and waits until it is committed.
    async fn keep(&self, record: Record) -> Result<(), SurveyApiError> {
        let kept = match self.ctx.writer.submit(record).await {
            Ok(()) => self.ctx.writer.flush().await,
            Err(error) => Err(error),
        };
        kept.map_err(|error| {
            warn!(%error, "survey request not recorded");
            SurveyApiError::NotKept
        })
    }

    /// Takes back the surveys an earlier run of the daemon left `queued`, so that a restart
    /// loses none: each keeps its attempts, and a retry falls due `retry_interval` after the
    /// last one was dialled.
    async fn resume_stored(&mut self) {
        let stored = match self.store.surveys_in_state(StoredState::Queued).await {
            Ok(stored) => stored,
            Err(error) => {
                warn!(%error, "queued surveys not read back; they wait for the next start");
                return;
            }
        };
        let now = self.now();
        let wall_now = self.ctx.clock.now();
        let interval = self.plan.settings.retry_interval();
        let mut refused = Vec::new();
        let mut resumed = 0usize;
        for record in stored {
            let due = if record.attempts == 0 {
                now
            } else {
                let due_wall = record.updated_at + interval;
                now + due_wall.duration_since(wall_now).unwrap_or(Duration::ZERO)
            };
            let request = SurveyRequest {
                id: record.id.clone(),
                number: record.number,
                ticket: record.ticket,
                unit: record.unit,
            };
            let entry = Entry {
                request: request.clone(),
                requested_at: record.requested_at,
                attempts: record.attempts,
                result: None,
                attitude: None,
                finished: None,
            };
            self.entries.insert(record.id.clone(), entry);
            match self.scheduler.resume(now, request, record.attempts, due) {
                Ok(()) => resumed += 1,
                Err(SurveyRefusal::DoNotCall { .. }) => refused.push(record.id),
                Err(SurveyRefusal::Duplicate { .. }) => {}
            }
        }
        for id in refused {
            info!(survey = %id, "queued survey refused: number now on the do-not-call list");
            if let Some(entry) = self.entries.remove(&id) {
                self.write(survey_record(&entry, StoredState::RefusedDnc, wall_now))
                    .await;
            }
        }
        self.scheduler.forget_finished();
        if resumed > 0 {
            info!(resumed, "queued surveys taken back from the store");
        }
        self.pump().await;
    }

    /// Carries out what the scheduler asks: dial, and record.
    async fn pump(&mut self) {
        while let Some(action) = self.scheduler.poll_action() {
            match action {
                SchedulerAction::Dial { id, number } => self.dial(id, number),
                SchedulerAction::Record(event) => self.record(event).await,
            }
        }
    }

    fn dial(&mut self, id: String, number: String) {
        let Some(entry) = self.entries.get(&id) else {
            return;
        };
        let settings = &self.plan.settings;
        let target = self
            .plan
            .route
            .target(&self.ctx.dialer, &number, &settings.caller_id);
        let (request_uri, trunk_addr) = match &target {
            Ok(target @ (DialTarget::Trunk { addr, .. } | DialTarget::Sip { addr, .. })) => {
                (target.request_uri().unwrap_or_default(), *addr)
            }
            // The routes changed since the request (a reload), or a bug: nothing is dialled.
            Ok(DialTarget::Seat(_)) | Err(_) => {
                warn!(survey = %id, "no route for the survey call: nothing dialled");
                let _ = self.done_tx.send((id, CallOutcome::Failed));
                self.in_flight += 1;
                return;
            }
        };
        let dial = SurveyDial {
            survey_id: id.clone(),
            attempt: entry.attempts,
            number,
            unit: entry.request.unit.clone(),
            request_uri,
            trunk_addr,
            caller_id: settings.caller_id.clone(),
            ring_timeout: settings.ring_timeout(),
            rules: self.rules.clone(),
        };
        self.in_flight += 1;
        let ctx = self.ctx.clone();
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            let outcome = dial_survey(dial, ctx).await;
            // The service is gone only when the daemon has stopped.
            let _ = done.send((id, outcome));
        });
    }

    /// Keeps the answers of an answered attempt for the status the API shows.
    fn on_outcome(&mut self, id: &str, outcome: CallOutcome) {
        metrics::counter!(
            crate::metrics::names::SURVEY_CALLS_TOTAL,
            crate::metrics::labels::OUTCOME => outcome.attempt_outcome().as_str()
        )
        .increment(1);
        let (Some(entry), CallOutcome::Answered(o)) = (self.entries.get_mut(id), outcome) else {
            return;
        };
        entry.result = rated(o.result);
        entry.attitude = rated(o.attitude);
    }

    async fn record(&mut self, event: SurveyEvent) {
        let now = self.ctx.clock.now();
        let wall = |at: Instant| wall_time(self.ctx.clock.as_ref(), self.real(at));
        let record = match event.kind {
            SurveyEventKind::Attempt { n } => {
                let Some(entry) = self.entries.get_mut(&event.id) else {
                    return;
                };
                entry.attempts = n;
                info!(survey = %event.id, attempt = n, "survey attempt");
                survey_record(entry, StoredState::Queued, now)
            }
            SurveyEventKind::Answered { n, dialled_at } => Record::SurveyAttempt(SurveyAttempt {
                survey_id: event.id,
                n,
                at: wall(dialled_at),
                outcome: AttemptOutcome::Answered,
            }),
            SurveyEventKind::Unanswered {
                n,
                dialled_at,
                outcome,
            } => Record::SurveyAttempt(SurveyAttempt {
                survey_id: event.id,
                n,
                at: wall(dialled_at),
                outcome,
            }),
            SurveyEventKind::Completed(result) => {
                let (state, shown) = match result {
                    SurveyResult::Completed => (StoredState::Completed, ApiState::Completed),
                    SurveyResult::Declined => (StoredState::Declined, ApiState::Declined),
                };
                info!(survey = %event.id, state = state.as_str(), "survey finished");
                let Some(record) = self.finish(&event.id, state, shown, now) else {
                    return;
                };
                record
            }
            SurveyEventKind::GaveUp { attempts } => {
                info!(survey = %event.id, attempts, "survey given up: never answered");
                let shown = ApiState::Unreachable;
                let Some(record) = self.finish(&event.id, StoredState::GaveUp, shown, now) else {
                    return;
                };
                record
            }
        };
        self.write(record).await;
    }

    /// A survey is over: its last record, and it leaves the scheduler. Only the latest
    /// `FINISHED_KEPT` stay in memory; the store answers for older ones.
    fn finish(
        &mut self,
        id: &str,
        state: StoredState,
        shown: ApiState,
        now: SystemTime,
    ) -> Option<Record> {
        let entry = self.entries.get_mut(id)?;
        entry.finished = Some(shown);
        let record = survey_record(entry, state, now);
        self.scheduler.forget_finished();
        self.finished.push_back(id.to_owned());
        while self.finished.len() > FINISHED_KEPT {
            if let Some(old) = self.finished.pop_front() {
                self.entries.remove(&old);
            }
        }
        Some(record)
    }

    async fn write(&self, record: Record) {
        if let Err(error) = self.ctx.writer.submit(record).await {
            warn!(%error, "survey record not queued");
        }
    }

    fn body(&self, entry: &Entry) -> SurveyStatusBody {
        let status = match (entry.finished, self.scheduler.status(&entry.request.id)) {
            (Some(finished), _) => finished,
            (None, Some(SurveyStatus::Dialling { .. })) => ApiState::Calling,
            (None, _) => ApiState::Queued,
        };
        SurveyStatusBody {
            id: entry.request.id.clone(),
            number: entry.request.number.clone(),
            ticket: entry.request.ticket.clone(),
            unit: entry.request.unit.clone().unwrap_or_default(),
            status,
            attempts: entry.attempts,
            result: entry.result,
            attitude: entry.attitude,
        }
    }

    /// A survey from an earlier run of the daemon, as last recorded.
    async fn stored_status(&self, id: &str) -> Option<SurveyStatusBody> {
        let record = match self.store.survey(id).await {
            Ok(record) => record?,
            Err(error) => {
                warn!(%error, "survey status not read");
                return None;
            }
        };
        let status = match record.status {
            StoredState::Queued => ApiState::Queued,
            StoredState::Completed => ApiState::Completed,
            StoredState::Declined => ApiState::Declined,
            StoredState::GaveUp => ApiState::Unreachable,
            // Refused requests got no id to ask about.
            StoredState::RefusedDnc => return None,
        };
        let mut body = SurveyStatusBody {
            id: record.id,
            number: record.number,
            ticket: record.ticket,
            unit: record.unit.unwrap_or_default(),
            status,
            attempts: record.attempts,
            result: None,
            attitude: None,
        };
        if let Ok(ratings) = self.store.ratings().await {
            for r in ratings.iter().filter(|r| r.call_id == body.id) {
                let value = rated(Some(r.outcome));
                match r.kind {
                    crate::ratings::RatingKind::SurveyResult => body.result = value,
                    crate::ratings::RatingKind::SurveyAttitude => body.attitude = value,
                    crate::ratings::RatingKind::Keypad => {}
                }
            }
        }
        Some(body)
    }
}

fn rated(outcome: Option<RatingOutcome>) -> Option<Rating> {
    match outcome {
        Some(RatingOutcome::Rated(rating)) => Some(rating),
        _ => None,
    }
}

fn survey_record(entry: &Entry, status: StoredState, now: SystemTime) -> Record {
    Record::Survey(SurveyRecord {
        id: entry.request.id.clone(),
        number: entry.request.number.clone(),
        ticket: entry.request.ticket.clone(),
        unit: entry.request.unit.clone(),
        requested_at: entry.requested_at,
        status,
        attempts: entry.attempts,
        updated_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_trunk_takes_every_number_as_requested_with_the_survey_caller_id() {
        let route = SurveyRoute::Trunk {
            name: "carrier".into(),
            addr: "127.0.0.1:5070".parse().unwrap(),
        };
        let dialer = crate::call::dial::test_support::dialer_with_routes("");
        let target = route.target(&dialer, "13800138000", "12345").unwrap();
        assert_eq!(
            target.request_uri().as_deref(),
            Some("sip:13800138000@127.0.0.1:5070")
        );
        assert!(matches!(target, DialTarget::Trunk { caller_id, .. } if caller_id == "12345"));
    }

    #[test]
    fn without_a_trunk_the_outbound_routes_choose_and_rewrite() {
        let dialer = crate::call::dial::test_support::dialer_with_routes(
            r#"
[[outbound]]
prefix = "138"
trunk = "carrier"
caller_id = "055112345"
prepend = "0"
"#,
        );
        let target = SurveyRoute::Outbound
            .target(&dialer, "13800138000", "12345")
            .unwrap();
        assert_eq!(
            target.request_uri().as_deref(),
            Some("sip:013800138000@192.0.2.1:5060")
        );
        assert!(matches!(target, DialTarget::Trunk { caller_id, .. } if caller_id == "12345"));
        assert!(SurveyRoute::Outbound
            .target(&dialer, "13900000000", "12345")
            .is_err());
    }
}
