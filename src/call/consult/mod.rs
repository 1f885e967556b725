//! A seat bringing a unit onto a connected call, as a state machine without I/O: the seat types
//! a code, the caller holds while the unit's contact rings and talks with the seat, then the
//! seat joins all three (`*3`), leaves the caller with the unit (`*2`), drops the unit (`*4`) or
//! cancels (`*0`). The queued call owns this machine while its caller is connected to a seat.

use crate::features::in_call::InCallFeature;

/// The status a unit that rang out its ring timeout is recorded with.
pub const RING_TIMEOUT_STATUS: u16 = 408;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsultState {
    /// Caller and seat talk; no unit on the line.
    Idle,
    /// The unit's contact rings; the caller hears hold music.
    Dialling,
    /// Seat and unit talk; the caller hears hold music.
    Consulting,
    /// Caller, seat and unit hear each other.
    ThreeWay,
    /// The seat has left; caller and unit talk.
    Transferred,
    /// A conference goes on while one more unit rings (up to the configured parties).
    Adding,
}

/// Who hears whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    CallerWithSeat,
    /// The caller hears hold music; the seat hears ringback until the unit answers.
    CallerHolds,
    /// The caller hears hold music; seat and unit talk.
    SeatWithUnit,
    AllThree,
    /// The seat is gone: caller and unit talk (several units: all mixed).
    CallerWithUnit,
    /// The caller put the call on hold: the seat hears hold music.
    SeatHolds,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsultInput {
    Feature(InCallFeature),
    UnitAnswered,
    /// The unit's contact did not answer, was busy, or could not be dialled (status 404 for a
    /// target the dialplan does not know, 403 for one it does not allow).
    UnitFailed(u16),
    /// The ringing unit did not answer within its ring timeout: it is cancelled, and counts
    /// as failed with 408 (the status a transaction that times out gets).
    RingTimeout,
    UnitBye,
    /// The seat hung up.
    SeatLeft,
    /// The seat's phone transferred the caller (REFER, already accepted): dial the target and
    /// hand the caller over as soon as it answers.
    Refer(String),
    /// The seat's phone made an attended transfer (REFER with Replaces): the unit it called
    /// through the daemon is already on this call's line.
    AttendedTransfer,
    /// The seat's phone put the call on hold (true) or resumed it (false).
    SeatHold(bool),
    /// The caller's side put the call on hold or resumed it.
    CallerHold(bool),
}

/// What happened, for the call's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsultEvent {
    Consult {
        target: String,
    },
    /// A REFER with Replaces from the seat's phone.
    AttendedTransfer,
    /// A REFER from the seat's phone (blind transfer) to `target`.
    Refer {
        target: String,
    },
    UnitAnswered,
    UnitFailed {
        status: u16,
    },
    Conference,
    Transfer,
    UnitDropped,
    Cancelled,
    UnitLeft,
    /// A unit was asked for while the conference already had the most parties allowed.
    ConferenceFull,
}

impl ConsultEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            ConsultEvent::Consult { .. } => "consult",
            ConsultEvent::Refer { .. } => "blind_transfer",
            ConsultEvent::AttendedTransfer => "attended_transfer",
            ConsultEvent::UnitAnswered => "unit_answered",
            ConsultEvent::UnitFailed { .. } => "unit_failed",
            ConsultEvent::Conference => "conference",
            ConsultEvent::Transfer => "transfer",
            ConsultEvent::UnitDropped => "unit_dropped",
            ConsultEvent::Cancelled => "consult_cancelled",
            ConsultEvent::UnitLeft => "unit_left",
            ConsultEvent::ConferenceFull => "conference_full",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsultAction {
    /// Resolve the target in the dialplan and ring it; the driver reports the result.
    Dial(String),
    /// CANCEL the ringing unit.
    CancelUnit,
    /// ACK the unit's 2xx and give it a place in the media hub.
    ConnectUnit,
    /// Hang up the unit that joined last.
    ByeUnit,
    /// Hang up every unit on the line (the call is ending).
    ByeUnits,
    /// The seat is hung up by the daemon (`*2`).
    ByeSeat,
    Media(Media),
    Event(ConsultEvent),
    /// The seat has left: from now on the call is the caller's with the unit.
    Transferred,
    /// Report the REFER's outcome to the seat's phone: NOTIFY with this sipfrag status.
    NotifyRefer(u16),
    /// The seat left after a blind transfer whose target then failed: the caller is alone.
    CallerAlone,
    /// A short tone in the seat's ear, over the call: the unit it reached for rang out and
    /// was given up.
    SeatTone,
}

#[derive(Debug)]
pub struct Consult {
    state: ConsultState,
    /// Units answered and on the line.
    units: u8,
    /// Most parties (caller, seat and units) one conference may hold.
    max_parties: u8,
    /// The dialling is a blind transfer (REFER): the caller goes to the target on answer.
    blind: bool,
    /// The seat already left (it hung up after its REFER was accepted).
    seat_gone: bool,
    /// Who put the call on hold, as their phones last said: a repeated hold (a session
    /// refresh) changes nothing.
    seat_held: bool,
    caller_held: bool,
}

/// Caller, seat and one unit.
pub const DEFAULT_MAX_PARTIES: u8 = 3;

impl Default for Consult {
    fn default() -> Self {
        Consult {
            state: ConsultState::Idle,
            units: 0,
            max_parties: DEFAULT_MAX_PARTIES,
            blind: false,
            seat_gone: false,
            seat_held: false,
            caller_held: false,
        }
    }
}

impl Consult {
    /// A conference of at most `max_parties` (at least three: caller, seat and a unit).
    pub fn with_max_parties(max_parties: u8) -> Consult {
        Consult {
            max_parties: max_parties.max(DEFAULT_MAX_PARTIES),
            ..Consult::default()
        }
    }

    pub fn state(&self) -> ConsultState {
        self.state
    }

    /// Whether a unit is ringing or on the line.
    pub fn is_active(&self) -> bool {
        self.state != ConsultState::Idle
    }

    /// Whether a unit's contact is ringing: its ring deadline runs.
    pub fn is_ringing(&self) -> bool {
        matches!(self.state, ConsultState::Dialling | ConsultState::Adding)
    }

    pub fn handle(&mut self, input: ConsultInput) -> Vec<ConsultAction> {
        if let ConsultInput::SeatHold(held) | ConsultInput::CallerHold(held) = input {
            let was = if matches!(input, ConsultInput::SeatHold(_)) {
                &mut self.seat_held
            } else {
                &mut self.caller_held
            };
            if std::mem::replace(was, held) == held {
                return vec![];
            }
        }
        if self.blind && self.state == ConsultState::Dialling {
            return self.blind_transfer(input);
        }
        self.consultation(input)
    }

    /// A REFER's target rings; the caller holds.
    fn blind_transfer(&mut self, input: ConsultInput) -> Vec<ConsultAction> {
        use ConsultAction as A;
        if input == ConsultInput::RingTimeout {
            let seat_there = !self.seat_gone;
            let mut actions = vec![A::CancelUnit];
            actions.extend(self.blind_transfer(ConsultInput::UnitFailed(RING_TIMEOUT_STATUS)));
            if seat_there {
                actions.push(A::SeatTone);
            }
            return actions;
        }
        let actions = match input {
            ConsultInput::UnitAnswered => {
                self.state = ConsultState::Transferred;
                self.units = 1;
                let mut actions = vec![
                    A::ConnectUnit,
                    A::Media(Media::CallerWithUnit),
                    A::Event(ConsultEvent::Transfer),
                ];
                if !self.seat_gone {
                    actions.extend([A::NotifyRefer(200), A::ByeSeat, A::Transferred]);
                }
                actions
            }
            ConsultInput::UnitFailed(status) if self.seat_gone => {
                self.state = ConsultState::Idle;
                vec![
                    A::Event(ConsultEvent::UnitFailed { status }),
                    A::CallerAlone,
                ]
            }
            ConsultInput::UnitFailed(status) => {
                self.state = ConsultState::Idle;
                vec![
                    A::NotifyRefer(status),
                    A::Media(Media::CallerWithSeat),
                    A::Event(ConsultEvent::UnitFailed { status }),
                ]
            }
            // Phones hang up once the REFER is accepted: the caller waits for the target alone.
            ConsultInput::SeatLeft if !self.seat_gone => {
                self.seat_gone = true;
                vec![A::Transferred]
            }
            _ => vec![],
        };
        if self.state != ConsultState::Dialling {
            self.blind = false;
            self.seat_gone = false;
        }
        actions
    }

    fn consultation(&mut self, input: ConsultInput) -> Vec<ConsultAction> {
        use ConsultAction as A;
        use ConsultState as S;
        use InCallFeature as F;
        let back = |event| vec![A::Media(Media::CallerWithSeat), A::Event(event)];
        let units = self.units;
        let (next, actions) = match (self.state, input) {
            // More units into a running conference, up to the parties allowed.
            (S::ThreeWay, ConsultInput::Feature(F::Consult(target)))
                if 2 + units < self.max_parties =>
            {
                (
                    S::Adding,
                    vec![
                        A::Event(ConsultEvent::Consult {
                            target: target.clone(),
                        }),
                        A::Dial(target),
                    ],
                )
            }
            (S::ThreeWay, ConsultInput::Feature(F::Consult(_))) => {
                (S::ThreeWay, vec![A::Event(ConsultEvent::ConferenceFull)])
            }
            (S::Adding, ConsultInput::UnitAnswered) => {
                self.units += 1;
                (
                    S::ThreeWay,
                    vec![
                        A::ConnectUnit,
                        A::Media(Media::AllThree),
                        A::Event(ConsultEvent::UnitAnswered),
                        A::Event(ConsultEvent::Conference),
                    ],
                )
            }
            (S::Adding, ConsultInput::UnitFailed(status)) => (
                S::ThreeWay,
                vec![A::Event(ConsultEvent::UnitFailed { status })],
            ),
            (S::Adding, ConsultInput::RingTimeout) => (
                S::ThreeWay,
                vec![
                    A::CancelUnit,
                    A::Event(ConsultEvent::UnitFailed {
                        status: RING_TIMEOUT_STATUS,
                    }),
                    A::SeatTone,
                ],
            ),
            (S::Adding, ConsultInput::Feature(F::Cancel)) => (
                S::ThreeWay,
                vec![A::CancelUnit, A::Event(ConsultEvent::Cancelled)],
            ),
            (S::Adding, ConsultInput::UnitBye) => {
                self.units = units.saturating_sub(1);
                (
                    S::Adding,
                    vec![A::Media(Media::AllThree), A::Event(ConsultEvent::UnitLeft)],
                )
            }
            (S::ThreeWay, ConsultInput::Feature(F::DropUnit)) if units > 1 => {
                self.units -= 1;
                (
                    S::ThreeWay,
                    vec![
                        A::ByeUnit,
                        A::Media(Media::AllThree),
                        A::Event(ConsultEvent::UnitDropped),
                    ],
                )
            }
            (S::ThreeWay, ConsultInput::UnitBye) if units > 1 => {
                self.units -= 1;
                (
                    S::ThreeWay,
                    vec![A::Media(Media::AllThree), A::Event(ConsultEvent::UnitLeft)],
                )
            }
            (S::Transferred, ConsultInput::UnitBye) if units > 1 => {
                self.units -= 1;
                (
                    S::Transferred,
                    vec![
                        A::Media(Media::CallerWithUnit),
                        A::Event(ConsultEvent::UnitLeft),
                    ],
                )
            }
            (S::Idle, ConsultInput::Feature(F::Consult(target))) => (
                S::Dialling,
                vec![
                    A::Media(Media::CallerHolds),
                    A::Event(ConsultEvent::Consult {
                        target: target.clone(),
                    }),
                    A::Dial(target),
                ],
            ),
            (S::Idle, ConsultInput::Refer(target)) => {
                self.blind = true;
                (
                    S::Dialling,
                    vec![
                        A::Media(Media::CallerHolds),
                        A::Event(ConsultEvent::Refer {
                            target: target.clone(),
                        }),
                        A::Dial(target),
                    ],
                )
            }
            (S::Idle, ConsultInput::AttendedTransfer) => (
                S::Transferred,
                vec![
                    A::Media(Media::CallerWithUnit),
                    A::Event(ConsultEvent::AttendedTransfer),
                    A::NotifyRefer(200),
                    A::ByeSeat,
                    A::Transferred,
                ],
            ),
            (S::Idle, ConsultInput::SeatHold(true)) => {
                (S::Idle, vec![A::Media(Media::CallerHolds)])
            }
            (S::Idle, ConsultInput::CallerHold(true)) => {
                (S::Idle, vec![A::Media(Media::SeatHolds)])
            }
            (S::Idle, ConsultInput::SeatHold(false) | ConsultInput::CallerHold(false)) => {
                (S::Idle, vec![A::Media(Media::CallerWithSeat)])
            }
            (S::Dialling, ConsultInput::UnitAnswered) => (
                S::Consulting,
                vec![
                    A::ConnectUnit,
                    A::Media(Media::SeatWithUnit),
                    A::Event(ConsultEvent::UnitAnswered),
                ],
            ),
            (S::Dialling, ConsultInput::UnitFailed(status)) => {
                (S::Idle, back(ConsultEvent::UnitFailed { status }))
            }
            (S::Dialling, ConsultInput::RingTimeout) => {
                let mut actions = vec![A::CancelUnit];
                actions.extend(back(ConsultEvent::UnitFailed {
                    status: RING_TIMEOUT_STATUS,
                }));
                actions.push(A::SeatTone);
                (S::Idle, actions)
            }
            (S::Dialling, ConsultInput::Feature(F::Cancel | F::DropUnit)) => {
                let mut actions = vec![A::CancelUnit];
                actions.extend(back(ConsultEvent::Cancelled));
                (S::Idle, actions)
            }
            // The seat gave up while the unit rang: nobody is left to talk to it.
            (S::Dialling, ConsultInput::SeatLeft) => (
                S::Idle,
                vec![A::CancelUnit, A::Event(ConsultEvent::Cancelled)],
            ),
            (S::Consulting, ConsultInput::Feature(F::Conference)) => (
                S::ThreeWay,
                vec![
                    A::Media(Media::AllThree),
                    A::Event(ConsultEvent::Conference),
                ],
            ),
            (S::ThreeWay, ConsultInput::Feature(F::Conference)) => (S::ThreeWay, vec![]),
            (S::Consulting | S::ThreeWay, ConsultInput::Feature(F::Transfer)) => (
                S::Transferred,
                vec![
                    A::ByeSeat,
                    A::Media(Media::CallerWithUnit),
                    A::Event(ConsultEvent::Transfer),
                    A::Transferred,
                ],
            ),
            // A seat hanging up with the unit on the line completes the transfer, as on a PBX.
            (S::Consulting | S::ThreeWay, ConsultInput::SeatLeft) => (
                S::Transferred,
                vec![
                    A::Media(Media::CallerWithUnit),
                    A::Event(ConsultEvent::Transfer),
                    A::Transferred,
                ],
            ),
            (S::Consulting, ConsultInput::Feature(F::Cancel)) => {
                let mut actions = vec![A::ByeUnit];
                actions.extend(back(ConsultEvent::Cancelled));
                (S::Idle, actions)
            }
            (S::Consulting | S::ThreeWay, ConsultInput::Feature(F::DropUnit))
            | (S::ThreeWay, ConsultInput::Feature(F::Cancel)) => {
                let mut actions = vec![A::ByeUnit];
                actions.extend(back(ConsultEvent::UnitDropped));
                (S::Idle, actions)
            }
            (S::Consulting | S::ThreeWay, ConsultInput::UnitBye) => {
                (S::Idle, back(ConsultEvent::UnitLeft))
            }
            (state, _) => (state, vec![]),
        };
        if actions.contains(&A::ConnectUnit) && next != S::ThreeWay {
            self.units = 1;
        }
        if next == S::Idle {
            self.units = 0;
        }
        if next == S::Transferred && self.units == 0 {
            self.units = 1;
        }
        self.state = next;
        actions
    }

    /// The call is ending: whatever unit is ringing or on the line is let go.
    pub fn hang_up(&mut self) -> Vec<ConsultAction> {
        let actions = match self.state {
            ConsultState::Idle => vec![],
            ConsultState::Dialling => vec![ConsultAction::CancelUnit],
            ConsultState::Consulting | ConsultState::ThreeWay | ConsultState::Transferred => {
                vec![ConsultAction::ByeUnits]
            }
            ConsultState::Adding => vec![ConsultAction::CancelUnit, ConsultAction::ByeUnits],
        };
        self.state = ConsultState::Idle;
        self.units = 0;
        actions
    }
}

#[cfg(test)]
mod tests;
