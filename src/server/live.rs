//! The daemon's side of the API's live routes ([`Live`]): the board, the ACD and the hand-off
//! service as views, the changes an operator asks for as their inputs, and their buses as one
//! event stream per subscriber.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::api::live::{
    AbandonedView, CallHandoff, CallView, HandoffChange, HandoffView, LinesView, NumberLines,
    QueueView, RatingsToday, SeatChange, SeatView, TodayView, TrunkLinesView, UnitFailures,
    WaitingCaller,
};
use crate::api::{BoxFuture, Live, LiveError, LiveEvent, LiveSnapshot};
use crate::bus::Update;
use crate::calendar::to_local;
use crate::call::board::{Board, LineUpdate, LineView};
use crate::call_id::CallId;
use crate::clock::{wall_time, Clock};
use crate::handoff::{HandoffHandle, HandoffSettings, HandoffUpdate, OpenHandoff};
use crate::queue::{
    state_name, AcdHandle, AcdInput, AcdSnapshot, AcdUpdate, SeatCommand, SeatId, SeatNow,
};
use crate::report::today::{summarize, Today};
use crate::report::Tenths;
use crate::server::core::CoreSnapshot;
use crate::store::HandoffRecord;
use crate::store::{SqliteStore, Store};

/// Events a subscriber may have waiting before the stream pushes back on its forwarder.
const EVENTS_WAITING: usize = 256;

/// How often the event stream sends the day so far.
const TODAY_EVERY: Duration = Duration::from_secs(10);

/// How often the event stream looks at the lines (and sends them when they changed).
const LINES_EVERY: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct LiveState {
    pub board: Board,
    pub acd: AcdHandle,
    pub handoffs: HandoffHandle,
    pub settings: HandoffSettings,
    pub clock: Arc<dyn Clock>,
    /// Where the day's records are read from.
    pub store: SqliteStore,
    /// Asks the SIP core for its snapshot (the lines).
    pub core: mpsc::Sender<oneshot::Sender<CoreSnapshot>>,
    /// The local day starts at midnight at this offset from UTC (`[time]`).
    pub utc_offset_hours: i32,
    /// Ends every event stream when the daemon stops.
    pub stop: CancellationToken,
    /// The seats, and whether each is a supervisor.
    pub seats: Vec<(String, bool)>,
    /// What a call needs: for the supervision sessions the API starts.
    pub calls: Arc<crate::call::CallContext>,
}

/// How long the supervisor's phone rings for a session the API started.
const SUPERVISOR_RING: Duration = Duration::from_secs(30);

impl Live for LiveState {
    fn snapshot(&self) -> BoxFuture<'_, LiveSnapshot> {
        Box::pin(async move { self.views().await.0 })
    }

    fn today(&self) -> BoxFuture<'_, Option<TodayView>> {
        Box::pin(self.day())
    }

    fn lines(&self) -> BoxFuture<'_, Option<LinesView>> {
        Box::pin(self.lines_now())
    }

    fn change_seat<'a>(
        &'a self,
        seat: &'a str,
        change: SeatChange,
    ) -> BoxFuture<'a, Result<SeatView, LiveError>> {
        Box::pin(async move {
            let known = |s: &AcdSnapshot| s.seats.iter().any(|n| n.seat.as_str() == seat);
            let before = self.acd.snapshot().await.ok_or(LiveError::ShuttingDown)?;
            if !known(&before) {
                return Err(LiveError::NotFound {
                    what: "seat",
                    id: seat.to_string(),
                });
            }
            let id = SeatId::from(seat);
            let command = match change {
                SeatChange::Login => SeatCommand::Login { seat: id },
                SeatChange::Pause { reason } => SeatCommand::Pause { seat: id, reason },
                SeatChange::Resume => SeatCommand::Resume { seat: id },
                SeatChange::Logout => SeatCommand::Logout { seat: id },
            };
            tracing::info!(seat, ?command, "seat change by the API");
            self.acd.input(AcdInput::Seat(command)).await;
            // The ACD takes requests in order: this snapshot comes after the change.
            let after = self.acd.snapshot().await.ok_or(LiveError::ShuttingDown)?;
            let views = Views::new(self);
            after
                .seats
                .iter()
                .find(|n| n.seat.as_str() == seat)
                .map(|n| views.seat(n))
                .ok_or(LiveError::ShuttingDown)
        })
    }

    fn supervise<'a>(
        &'a self,
        seat: &'a str,
        supervisor: String,
        mode: crate::supervision::Mode,
    ) -> BoxFuture<'a, Result<crate::api::live::SuperviseStarted, LiveError>> {
        Box::pin(self.start_supervision(seat, supervisor, mode))
    }

    fn change_handoff<'a>(
        &'a self,
        call: &'a str,
        change: HandoffChange,
    ) -> BoxFuture<'a, Result<(), LiveError>> {
        Box::pin(async move { self.handoff(call, change).await })
    }

    fn events(&self) -> mpsc::Receiver<LiveEvent> {
        let (tx, rx) = mpsc::channel(EVENTS_WAITING);
        tokio::spawn(self.clone().forward(tx));
        rx
    }
}

impl LiveState {
    /// Rings the supervisor's phone for a session on `seat`'s call: refused when the seat is
    /// unknown (404), the supervisor is none (403), the seat is in no call or the supervisor's
    /// phone is not registered (409).
    async fn start_supervision(
        &self,
        seat: &str,
        supervisor: String,
        mode: crate::supervision::Mode,
    ) -> Result<crate::api::live::SuperviseStarted, LiveError> {
        if !self.seats.iter().any(|(user, _)| user == seat) {
            return Err(LiveError::NotFound {
                what: "seat",
                id: seat.to_string(),
            });
        }
        if !self.seats.iter().any(|(user, s)| *user == supervisor && *s) {
            tracing::warn!(%supervisor, seat, "the API asked for supervision by a seat that is no supervisor");
            return Err(LiveError::Forbidden(format!(
                "{supervisor} is not a supervisor"
            )));
        }
        let (_, call) = self
            .board
            .call_of_seat(seat)
            .ok_or_else(|| LiveError::Conflict(format!("seat {seat} is not in a call")))?;
        let (reply, bindings) = oneshot::channel();
        self.calls
            .core
            .send(crate::call::CoreCommand::Bindings {
                seat: supervisor.clone(),
                reply,
            })
            .await
            .map_err(|_| LiveError::ShuttingDown)?;
        let phone = bindings
            .await
            .map_err(|_| LiveError::ShuttingDown)?
            .into_iter()
            .next()
            .ok_or_else(|| {
                LiveError::Conflict(format!("the phone of {supervisor} is not registered"))
            })?;
        tracing::info!(%supervisor, seat, mode = mode.as_str(), "supervision started by the API");
        let session = crate::call::logic::supervise::Session {
            supervisor: supervisor.clone(),
            seat: seat.to_string(),
            mode,
            wait: Duration::ZERO,
        };
        tokio::spawn(crate::call::driver::dial_supervisor(
            session,
            phone,
            SUPERVISOR_RING,
            self.calls.clone(),
        ));
        Ok(crate::api::live::SuperviseStarted {
            seat: seat.to_string(),
            supervisor,
            mode: mode.as_str().to_string(),
            call,
        })
    }

    /// Calls, seats, queues and hand-offs now, and the open hand-offs' records they came from.
    async fn views(&self) -> (LiveSnapshot, Vec<OpenHandoff>) {
        let acd = self.acd.snapshot().await.unwrap_or_default();
        let open = self.handoffs.open().await;
        let snapshot = Views::new(self).snapshot(self.board.snapshot(), &acd, &open);
        (snapshot, open)
    }

    /// The day so far, from the store; None (and a warning) when it cannot be read.
    async fn day(&self) -> Option<TodayView> {
        let now = self.clock.now();
        let local = to_local(now, self.utc_offset_hours * 3600);
        let midnight = now
            .checked_sub(Duration::from_secs(
                local.time.seconds_since_midnight().into(),
            ))
            .unwrap_or(now);
        let (from, to) = (midnight, midnight + Duration::from_secs(86_400));
        let read = async {
            Ok::<_, crate::store::StoreError>((
                self.store.calls_in(from, to).await?,
                self.store.callbacks_in(from, to).await?,
                self.store.ratings_in(from, to).await?,
                Store::contact_failures_in(&self.store, from, to).await?,
            ))
        };
        let (calls, callbacks, ratings, failures) = match read.await {
            Ok(records) => records,
            Err(error) => {
                tracing::warn!(%error, "the day's records could not be read");
                return None;
            }
        };
        let today = summarize(&calls, &callbacks, &ratings, &failures);
        Some(today_view(local.date.to_string(), &today))
    }

    /// The lines, from the SIP core; None when it does not answer (the daemon is stopping).
    async fn lines_now(&self) -> Option<LinesView> {
        let (reply, answer) = oneshot::channel();
        self.core.send(reply).await.ok()?;
        let core = answer.await.ok()?;
        Some(LinesView {
            trunks: core
                .lines
                .into_iter()
                .map(|t| {
                    let in_use = t.in_use as u64;
                    TrunkLinesView {
                        free: t.lines.map(|n| u64::from(n).saturating_sub(in_use)),
                        lines: t.lines,
                        in_use,
                        peak_today: t.peak as u64,
                        peak_at: t.peak_at.map(rfc3339),
                        busy_hour: t.busy_hour.map(|(h, _)| h),
                        busy_hour_calls: t.busy_hour.map_or(0, |(_, n)| n),
                        trunk: t.trunk,
                    }
                })
                .collect(),
            numbers: core
                .numbers
                .into_iter()
                .map(|(number, n)| NumberLines {
                    number,
                    in_use: n as u64,
                })
                .collect(),
        })
    }

    async fn handoff(&self, call: &str, change: HandoffChange) -> Result<(), LiveError> {
        let not_found = || LiveError::NotFound {
            what: "call",
            id: call.to_string(),
        };
        let id = CallId::from_str(call).map_err(|_| not_found())?;
        let line = self
            .board
            .snapshot()
            .into_iter()
            .find(|l| l.id == call)
            .ok_or_else(not_found)?;
        let seat = line
            .seat
            .clone()
            .ok_or_else(|| LiveError::Conflict(format!("no seat has answered {call}")))?;
        let open = self
            .handoffs
            .open()
            .await
            .into_iter()
            .find(|h| h.record.call_id == call);
        match change {
            HandoffChange::Set { category } => {
                if self.settings.category(&category).is_none() {
                    let known: Vec<&str> = self
                        .settings
                        .categories
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect();
                    return Err(LiveError::Field(crate::api::live::FieldError {
                        field: "category",
                        message: format!(
                            "category {category:?} is not configured; there are {}",
                            known.join(", ")
                        ),
                    }));
                }
                if let Some(open) = open {
                    return Err(LiveError::Conflict(format!(
                        "{call} already has hand-off {} ({})",
                        open.record.id, open.record.category
                    )));
                }
                let answered_at = line.answered_at.unwrap_or_else(|| self.clock.now());
                let ago = self
                    .clock
                    .now()
                    .duration_since(answered_at)
                    .unwrap_or_default();
                let answered = Instant::now().checked_sub(ago).unwrap_or_else(Instant::now);
                tracing::info!(call, %seat, category, "hand-off set by the API");
                self.handoffs
                    .mark(id, &seat, &category, answered, answered_at);
            }
            HandoffChange::Extend { reason } => {
                let open = open.ok_or_else(|| {
                    LiveError::Conflict(format!("{call} has no open hand-off to extend"))
                })?;
                if open.record.extension.is_some() {
                    return Err(LiveError::Conflict(format!(
                        "hand-off {} was extended already",
                        open.record.id
                    )));
                }
                tracing::info!(call, %seat, reason, "hand-off extended by the API");
                self.handoffs.extend(id, &open.record.seat, &reason);
            }
            HandoffChange::Close { reason } => {
                let open = open.ok_or_else(|| {
                    LiveError::Conflict(format!("{call} has no open hand-off to close"))
                })?;
                tracing::info!(call, %seat, reason, "hand-off closed by the API");
                self.handoffs.close(id, &open.record.seat, &reason);
            }
        }
        Ok(())
    }

    /// One subscriber's stream: a snapshot, then each change as it comes; a fresh snapshot
    /// whenever one of the buses lost changes for it.
    async fn forward(self, tx: mpsc::Sender<LiveEvent>) {
        let mut lines = self.board.subscribe();
        let mut seats = self.acd.subscribe();
        let mut handoffs = self.handoffs.subscribe();
        let mut open: HashMap<String, HandoffRecord> = HashMap::new();
        let mut resync = true;
        let mut today = tokio::time::interval(TODAY_EVERY);
        let mut lines_tick = tokio::time::interval(LINES_EVERY);
        // The snapshot holds the day and the lines; the first ticks are not needed.
        today.tick().await;
        lines_tick.tick().await;
        let mut lines_sent = None;
        loop {
            if resync {
                resync = false;
                let (mut snapshot, handoffs) = self.views().await;
                snapshot.today = self.day().await;
                snapshot.lines = self.lines_now().await;
                lines_sent = snapshot.lines.clone();
                open = handoffs
                    .into_iter()
                    .map(|h| (h.record.call_id.clone(), h.record))
                    .collect();
                if tx
                    .send(LiveEvent::Snapshot(Box::new(snapshot)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            let views = Views::new(&self);
            let event = tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = tx.closed() => return,
                _ = today.tick() => self.day().await.map(|t| LiveEvent::Today(Box::new(t))),
                _ = lines_tick.tick() => match self.lines_now().await {
                    Some(lines) if lines_sent.as_ref() != Some(&lines) => {
                        lines_sent = Some(lines.clone());
                        Some(LiveEvent::Lines(lines))
                    }
                    _ => None,
                },
                update = lines.recv() => match update {
                    Some(Update::Event(LineUpdate::Changed(line))) => {
                        Some(LiveEvent::Call(Box::new(views.call(&line, open.get(&line.id)))))
                    }
                    Some(Update::Event(LineUpdate::Ended { id })) => Some(LiveEvent::CallEnded { id }),
                    Some(Update::Lagged(_)) => { resync = true; None }
                    None => return,
                },
                update = seats.recv() => match update {
                    Some(Update::Event(AcdUpdate::Seat { seat, state, since })) => {
                        Some(LiveEvent::Seat(views.seat(&SeatNow { seat, state, since })))
                    }
                    Some(Update::Event(AcdUpdate::Waiting { queue, .. })) => {
                        let acd = self.acd.snapshot().await.unwrap_or_default();
                        let lines = self.board.snapshot();
                        views
                            .queues(&acd, &lines)
                            .into_iter()
                            .find(|q| q.queue == queue)
                            .map(LiveEvent::Queue)
                    }
                    Some(Update::Lagged(_)) => { resync = true; None }
                    None => return,
                },
                update = handoffs.recv() => match update {
                    Some(Update::Event(HandoffUpdate { record, .. })) => {
                        let view = views.handoff(&record);
                        if record.outcome.is_some() {
                            open.remove(&record.call_id);
                        } else {
                            open.insert(record.call_id.clone(), record);
                        }
                        Some(LiveEvent::Handoff(view))
                    }
                    Some(Update::Lagged(_)) => { resync = true; None }
                    None => return,
                },
            };
            if let Some(event) = event {
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The daemon's state as the API's views, at one moment.
struct Views<'a> {
    live: &'a LiveState,
    now: Instant,
    wall: SystemTime,
}

impl<'a> Views<'a> {
    fn new(live: &'a LiveState) -> Views<'a> {
        Views {
            live,
            now: Instant::now(),
            wall: live.clock.now(),
        }
    }

    fn snapshot(
        &self,
        lines: Vec<LineView>,
        acd: &AcdSnapshot,
        open: &[OpenHandoff],
    ) -> LiveSnapshot {
        let by_call: HashMap<&str, &HandoffRecord> = open
            .iter()
            .map(|h| (h.record.call_id.as_str(), &h.record))
            .collect();
        LiveSnapshot {
            calls: lines
                .iter()
                .map(|l| self.call(l, by_call.get(l.id.as_str()).copied()))
                .collect(),
            seats: acd.seats.iter().map(|s| self.seat(s)).collect(),
            queues: self.queues(acd, &lines),
            handoffs: open.iter().map(|h| self.handoff(&h.record)).collect(),
            today: None,
            lines: None,
        }
    }

    fn call(&self, line: &LineView, handoff: Option<&HandoffRecord>) -> CallView {
        CallView {
            id: line.id.clone(),
            trunk: line.trunk.clone(),
            caller: line.caller.clone(),
            called: line.called.clone(),
            state: line.state.as_str().to_string(),
            queue: line.queue.clone(),
            seat: line.seat.clone(),
            units: line.units.clone(),
            answered_at: line.answered_at.map(rfc3339),
            handoff: handoff.map(|h| CallHandoff {
                category: h.category.clone(),
                seconds_left: self.seconds_left(h),
            }),
        }
    }

    fn seat(&self, now: &SeatNow) -> SeatView {
        let (state, reason) = state_name(&now.state);
        let call = match &now.state {
            crate::queue::SeatState::Ringing { call }
            | crate::queue::SeatState::OnCall { call } => Some(call.to_string()),
            _ => None,
        };
        SeatView {
            seat: now.seat.to_string(),
            state: state.to_string(),
            reason,
            since: rfc3339(wall_time(self.live.clock.as_ref(), now.since)),
            seconds_in_state: self.now.saturating_duration_since(now.since).as_secs(),
            call,
        }
    }

    fn queues(&self, acd: &AcdSnapshot, lines: &[LineView]) -> Vec<QueueView> {
        let callers: HashMap<&str, &str> = lines
            .iter()
            .map(|l| (l.id.as_str(), l.caller.as_str()))
            .collect();
        acd.queues
            .iter()
            .map(|q| {
                let waiting: Vec<WaitingCaller> = q
                    .callers
                    .iter()
                    .enumerate()
                    .map(|(i, (call, entered))| {
                        let call = call.to_string();
                        WaitingCaller {
                            position: i + 1,
                            caller: callers.get(call.as_str()).map(|c| c.to_string()),
                            call,
                            waited_secs: self.now.saturating_duration_since(*entered).as_secs(),
                        }
                    })
                    .collect();
                QueueView {
                    queue: q.queue.clone(),
                    longest_wait_secs: waiting.iter().map(|w| w.waited_secs).max().unwrap_or(0),
                    waiting,
                }
            })
            .collect()
    }

    fn handoff(&self, record: &HandoffRecord) -> HandoffView {
        let seconds_left = self.seconds_left(record);
        let warning_secs = self.live.settings.warning().as_secs();
        let warning = warning_secs as i64;
        let state = if record.outcome.is_some() || record.closed_at.is_some() {
            "closed"
        } else if seconds_left < 0 || record.breached_at.is_some() {
            "breached"
        } else if seconds_left <= warning {
            "warning"
        } else {
            "running"
        };
        HandoffView {
            id: record.id.clone(),
            call: record.call_id.clone(),
            seat: record.seat.clone(),
            unit: record.unit.clone(),
            category: record.category.clone(),
            category_label: self
                .live
                .settings
                .category(&record.category)
                .map_or_else(|| record.category.clone(), |c| c.label.clone()),
            started_at: rfc3339(record.started_at),
            limit_secs: limit(record).as_secs(),
            extended: record.extension.is_some(),
            seconds_left,
            warning_secs,
            state: state.to_string(),
        }
    }

    /// Seconds to the hand-off's limit (its extension's, once extended); negative past it.
    fn seconds_left(&self, record: &HandoffRecord) -> i64 {
        let deadline = record.started_at + limit(record);
        match deadline.duration_since(self.wall) {
            Ok(left) => left.as_secs() as i64,
            Err(past) => -(past.duration().as_secs_f64().ceil() as i64),
        }
    }
}

/// The day's figures as the API shows them.
fn today_view(date: String, today: &Today) -> TodayView {
    let percent = |t: Option<Tenths>| t.map(Tenths::as_f64);
    let r = &today.ratings;
    TodayView {
        date,
        offered: today.offered,
        answered: today.answered,
        abandoned: today.abandoned,
        answered_within_15s: today.answered_within[0],
        answered_within_20s: today.answered_within[1],
        service_level_15s: percent(today.service_level(0)),
        service_level_20s: percent(today.service_level(1)),
        abandoned_calls: today
            .abandoned_calls
            .iter()
            .map(|a| AbandonedView {
                call: a.call.clone(),
                caller: a.caller.clone(),
                queue: a.queue.clone(),
                at: rfc3339(a.at),
                waited_secs: a.waited.as_secs(),
                callback: a.callback,
            })
            .collect(),
        contact_failures: today
            .failures
            .iter()
            .map(|(unit, failures)| UnitFailures {
                unit: unit.clone(),
                failures: *failures,
            })
            .collect(),
        ratings: RatingsToday {
            satisfied: r.satisfied,
            basically_satisfied: r.basically_satisfied,
            dissatisfied: r.dissatisfied,
            not_rated: r.not_rated,
            satisfaction_rate: percent(r.satisfaction_rate()),
            response_rate: percent(r.response_rate()),
        },
    }
}

fn limit(record: &HandoffRecord) -> Duration {
    record.extension.as_ref().map_or(record.limit, |e| e.limit)
}

/// RFC 3339 in UTC, to the second: `2026-12-04T06:30:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let civil = crate::calendar::to_local(t, 0).to_string();
    format!("{}Z", civil.replacen(' ', "T", 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_in_utc() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_366_400 + 3_723);
        // 1_796_366_400 is 2026-12-04T06:40:00Z.
        assert_eq!(rfc3339(t), "2026-12-04T07:42:03Z");
    }
}
