//! The queued call's driver, its hunting part: a seat reaches for a unit, and the daemon rings
//! the unit's contacts one after another (`call::hunt` decides when), records each attempt with
//! the hand-off service, and tells the consultation only the end: a contact answered (through
//! the unit leg's answer, as for any unit), or none did.

use std::time::SystemTime;

use tokio::time::Instant;
use tracing::info;

use super::Driver;
use crate::call::consult::ConsultInput;
use crate::call::hunt::{contact_attempt, AttemptEnd, Hunt, HuntAction, HuntInput};
use crate::call::logic::{Input, Logic};
use crate::dialplan::HuntPlan;
use crate::handoff::By;
use crate::media::tones;

/// A hunt under way: the plan and the machine that walks it.
pub(super) struct UnitHunt {
    plan: HuntPlan,
    hunt: Hunt,
    /// When each attempt started ringing (wall clock), by index.
    started: Vec<Option<SystemTime>>,
}

impl Driver {
    /// Starts hunting `unit`'s contacts.
    pub(super) async fn start_hunt(&mut self, unit: &str) -> Result<(), u16> {
        let now = self.io.ctx.clock.now();
        let plan = self.io.ctx.dialer.hunt_plan(unit, now).map_err(|refusal| {
            info!(%refusal, "unit not hunted");
            refusal.status()
        })?;
        info!(
            unit,
            attempts = plan.attempts.len(),
            ring_secs = plan.hunting.ring_timeout.as_secs(),
            "hunting the unit's contacts"
        );
        let hunt = Hunt::start(Instant::now(), plan.attempts.len(), plan.hunting);
        self.hunt = Some(UnitHunt {
            started: vec![None; plan.attempts.len()],
            plan,
            hunt,
        });
        self.hunting_changed = Some(true);
        Ok(())
    }

    /// Hands `input` to the hunt under way, if any; its actions run with the next turn.
    pub(super) fn hunt_input(&mut self, input: HuntInput) {
        if let Some(h) = self.hunt.as_mut() {
            h.hunt.handle(Instant::now(), input);
        }
    }

    pub(super) fn hunt_timeout(&self) -> Option<Instant> {
        self.hunt.as_ref().and_then(|h| h.hunt.poll_timeout())
    }

    pub(super) fn hunt_due(&mut self) {
        if let Some(h) = self.hunt.as_mut() {
            h.hunt.handle_timeout(Instant::now());
        }
    }

    /// Runs what the hunt wants done; true if there was anything.
    pub(super) async fn run_hunt(&mut self, logic: &mut Logic) -> bool {
        let mut progressed = false;
        if let Some(hunting) = self.hunting_changed.take() {
            logic.handle(Instant::now(), Input::Hunting(hunting));
            progressed = true;
        }
        while let Some(action) = self.hunt.as_mut().and_then(|h| h.hunt.poll_action()) {
            progressed = true;
            self.hunt_action(action, logic).await;
        }
        if self.hunt.as_ref().is_some_and(|h| h.hunt.is_done()) {
            self.hunt = None;
            logic.handle(Instant::now(), Input::Hunting(false));
        }
        progressed
    }

    async fn hunt_action(&mut self, action: HuntAction, logic: &mut Logic) {
        let Some(h) = self.hunt.as_mut() else {
            return;
        };
        let unit = h.plan.unit.clone();
        match action {
            HuntAction::Ring(index) => {
                let Some(attempt) = h.plan.attempts.get(index).cloned() else {
                    return;
                };
                if let Some(started) = h.started.get_mut(index) {
                    *started = Some(self.io.ctx.clock.now());
                }
                info!(%unit, role = %attempt.role, dialled = %attempt.dialled, index, "ringing a contact");
                if let Err(status) = self.ring_unit_leg(&attempt.target, Some(unit), true).await {
                    self.hunt_input(HuntInput::Failed(status));
                }
            }
            HuntAction::Cancel => {
                if let Some(i) = self
                    .units
                    .iter()
                    .rposition(|u| u.hunted && u.answered_at.is_none())
                {
                    self.units[i].wanted = false;
                    if let Some(leg) = self.units[i].leg.as_ref() {
                        leg.cancel(&self.io).await;
                    }
                    self.end_unit(i, "cancelled");
                }
            }
            HuntAction::MovedOn => self.seat_tone(tones::HUNT_MOVED_ON),
            HuntAction::Attempted {
                index,
                outcome,
                status,
                rung,
            } => {
                let Some(planned) = h.plan.attempts.get(index) else {
                    return;
                };
                let started_at = h
                    .started
                    .get(index)
                    .copied()
                    .flatten()
                    .unwrap_or_else(|| self.io.ctx.clock.now());
                let end = AttemptEnd {
                    outcome,
                    status,
                    rung,
                };
                let attempt = contact_attempt(&self.facts.id, &unit, planned, started_at, end);
                let by = self.attempt_by();
                self.io.ctx.handoffs.attempt(by, attempt);
            }
            HuntAction::Exhausted { status } => {
                info!(%unit, status, "no contact of the unit answered");
                let by = self.attempt_by();
                self.io.ctx.handoffs.hunt_exhausted(by, &unit);
                // The last contact rang out: as a unit's ring deadline (the seat hears the
                // given-up beeps); otherwise the last failure is the consultation's.
                let input = if status == crate::call::hunt::RANG_OUT {
                    ConsultInput::RingTimeout
                } else {
                    ConsultInput::UnitFailed(status)
                };
                logic.handle(Instant::now(), Input::Consult(input));
            }
        }
    }

    /// `*96`: the unit the seat reached last on this call refused the matter.
    pub(super) fn unit_refused(&self) {
        match self.last_unit.clone() {
            Some(unit) => self.io.ctx.handoffs.refused(self.attempt_by(), &unit),
            None => info!("refusal typed with no unit reached on this call"),
        }
    }

    /// The hand-off an attempt serves: this call's, for the seat on it.
    fn attempt_by(&self) -> By {
        self.handoff_by().unwrap_or(By::Call {
            call: self.call,
            seat: String::new(),
        })
    }
}
