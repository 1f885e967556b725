//! Calls: the logics that run them (`logic`: `ring` for ring routes and seats' own calls,
//! `queued` with `consult` for queued calls, `feature` and `survey`, all in one vocabulary
//! behind one interface), the one task that drives any of them (`driver`), and what the SIP
//! core and a call say to each other.

pub mod answered_media;
pub mod board;
pub mod caller_leg;
pub mod consult;
pub mod dial;
pub mod dialog;
pub mod driver;
pub mod facts;
pub mod hunt;
pub mod in_dialog;
pub mod io;
pub mod leg_records;
pub mod logic;
pub mod outbound_leg;
pub mod queue_record;
pub mod rating_commit;
pub mod ringing;
pub mod sound;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::call_id::CallId;
use crate::media::RtpPortPool;
use crate::registrar::Binding;
use crate::sip::flow::{Flow, LocalAddrs};
use crate::sip::message::{Request, Response};
use crate::sip::transaction::{ClientKey, ServerKey};
use crate::sip::validate::Essentials;
use crate::store::WriterHandle;

/// From the SIP core to a call task.
#[derive(Debug)]
pub enum CallEvent {
    /// A request inside one of the call's dialogs (BYE, re-INVITE, INFO...).
    Request {
        key: ServerKey,
        request: Request,
        ess: Box<Essentials>,
    },
    /// The ACK of a 2xx we sent.
    Ack {
        request: Request,
    },
    Response {
        key: ClientKey,
        response: Response,
    },
    /// The caller's CANCEL; the core already answered it 200.
    Cancelled,
    AckTimeout,
    /// The daemon is stopping: end the call now.
    Shutdown,
    /// Another call (`peer`) takes over this call's far party: an attended transfer whose
    /// REFER named, with Replaces, this call's dialog with the seat.
    Splice {
        peer: CallId,
        offer: SpliceOffer,
        reply: tokio::sync::oneshot::Sender<Result<SpliceAnswer, u16>>,
    },
    /// The call this one is spliced to has ended.
    PeerGone,
    /// A supervisor's call (`from`) joins this call's seat in `mode`, exchanging audio over
    /// the port it offers; the answer names ours, or refuses (480: no seat on the call; 486:
    /// a session is on already).
    Supervise {
        from: CallId,
        supervisor: String,
        mode: crate::supervision::Mode,
        offer: SpliceOffer,
        reply: tokio::sync::oneshot::Sender<Result<SpliceAnswer, u16>>,
    },
    /// The supervisor's call `from` switches to `mode`.
    SupervisionMode {
        from: CallId,
        mode: crate::supervision::Mode,
    },
    /// The supervisor's call `from` has ended.
    SupervisorGone {
        from: CallId,
    },
}

/// The RTP port (and codec) a call offers the call it splices with.
#[derive(Debug, Clone, Copy)]
pub struct SpliceOffer {
    pub addr: std::net::SocketAddr,
    pub codec: crate::media::sdp::Codec,
    pub pt: u8,
}

/// The other call's side of a splice: its port for our audio, and who is on its line.
#[derive(Debug, Clone)]
pub struct SpliceAnswer {
    pub owner: CallId,
    pub addr: std::net::SocketAddr,
    pub party: String,
    /// The unit that party answers for, when the call dialled a unit.
    pub unit: Option<String>,
}

/// From a call task to the SIP core.
#[derive(Debug)]
pub enum CoreCommand {
    Respond {
        owner: CallId,
        key: ServerKey,
        response: Response,
    },
    /// Starts a client transaction; the request gets its Via with `branch` in the core.
    Send {
        owner: CallId,
        flow: Flow,
        request: Request,
        branch: String,
    },
    Ack {
        flow: Flow,
        ack: Request,
        call_id: String,
        seq: u32,
    },
    Cancel {
        key: ClientKey,
    },
    /// Requests in this dialog (Call-ID and our tag) go to `owner`.
    BindDialog {
        owner: CallId,
        call_id: String,
        local_tag: String,
    },
    /// The call is over: forget its dialogs and its channel.
    Finished {
        owner: CallId,
    },
    /// A call the daemon places itself: a number and a channel, like a call from the network.
    NewCall {
        reply: tokio::sync::oneshot::Sender<(CallId, mpsc::UnboundedReceiver<CallEvent>)>,
    },
    /// Splice with the call that holds the dialog `(call_id, one of tags)` (an attended
    /// transfer's Replaces); 481 when there is none.
    Splice {
        from: CallId,
        call_id: String,
        tags: [String; 2],
        offer: SpliceOffer,
        reply: tokio::sync::oneshot::Sender<Result<SpliceAnswer, u16>>,
    },
    /// Joins the call `seat` serves now (see `CallEvent::Supervise`); 480 when it serves
    /// none.
    Supervise {
        from: CallId,
        seat: String,
        supervisor: String,
        mode: crate::supervision::Mode,
        offer: SpliceOffer,
        reply: tokio::sync::oneshot::Sender<Result<SpliceAnswer, u16>>,
    },
    /// Passes `event` to the call `owner` (the end of a spliced call).
    Tell {
        owner: CallId,
        event: CallEvent,
    },
    /// The live bindings (phones) of a seat, for a queue offer.
    Bindings {
        seat: String,
        reply: tokio::sync::oneshot::Sender<Vec<Binding>>,
    },
}

/// Everything a new call needs to know, decided by the core when the INVITE arrived.
#[derive(Debug)]
pub struct CallSetup {
    pub owner: CallId,
    pub trunk: String,
    pub flow: Flow,
    pub invite: Request,
    pub ess: Box<Essentials>,
    pub key: ServerKey,
    pub route_number: String,
    pub ring_timeout: Duration,
    /// The seat phones to ring, one leg each.
    pub targets: Vec<Binding>,
    /// The queue and priority class (a queue route); the ACD then chooses the seats.
    pub queue: Option<(String, u8)>,
    /// The seat whose phone placed this call itself (to a unit, a seat, a number); such a
    /// call is never asked for a rating.
    pub placed_by: Option<String>,
    /// The hand-off category the call has from the seat's answer (its route's).
    pub handoff: Option<String>,
    /// Where a seat's own call goes when it is not a seat (a unit's contact, an allowed
    /// number).
    pub dial: Option<dial::Resolved>,
    /// A call the daemon answers itself and plays to (a feature code, a closed route).
    pub feature: Option<logic::feature::Purpose>,
    /// A supervisor's call to a seat's call.
    pub supervise: Option<logic::supervise::Session>,
    /// Whether the call is recorded (`[recording]`, its route and its queue).
    pub record: bool,
}

/// What every call shares with the daemon.
pub struct CallContext {
    pub core: mpsc::Sender<CoreCommand>,
    pub local: LocalAddrs,
    pub realm: String,
    pub user_agent: String,
    pub rtp: RtpPortPool,
    /// The address written into our SDP.
    pub media_addr: IpAddr,
    pub writer: WriterHandle,
    pub clock: Arc<dyn crate::clock::Clock>,
    pub board: board::Board,
    /// How long a seat may stay silent before it counts as unreachable.
    pub no_response: Duration,
    pub acd: crate::queue::AcdHandle,
    /// The hand-off clock: marks, extensions, units dialled and answered, the seat's cues.
    pub handoffs: crate::handoff::HandoffHandle,
    /// What a seat types during a call to send the caller to rating.
    pub in_call: crate::features::in_call::InCallCodes,
    /// Where a seat's consultation dials.
    pub dialer: dial::Dialer,
    /// How callers rate a call whose seat hung up first; None when ratings are off.
    pub ratings: Option<crate::ratings::dialog::RatingRules>,
    pub prompts: Arc<crate::media::encoded::EncodedPrompts>,
    /// Call recording; None when `[recording]` is off.
    pub recordings: Option<crate::recording::Recordings>,
}
