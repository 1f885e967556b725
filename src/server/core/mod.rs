//! The SIP core: one task through which every message and every call command passes. It owns
//! the transaction layer, the registrar and the dialog table, admits or refuses new calls, and
//! hands each call's messages to its task.

mod calls;
pub mod lines;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::trunks::{trunk_for, Trunk};
use crate::auth::{self, Algorithm, NonceKey, Verdict};
use crate::call::logic::feature::Purpose;
use crate::call::{self, CallContext, CallEvent, CallSetup, CoreCommand};
use crate::call_id::{CallId, CallIds};
use crate::config::settings::Settings;
use crate::dialplan::{Closed, Dialplan, RingTarget};
use crate::metrics::names;
use crate::registrar::{RegisterEvent, Registrar, SeatAuth};
use crate::security::Security;
use crate::sip::admission::{Admission, Load, Refusal};
use crate::sip::build;
use crate::sip::flow::{canonical_ip, Flow};
use crate::sip::message::{Method, Request, Response};
use crate::sip::transaction::{Incoming, Output, ServerKey, Transactions};
use crate::sip::transport::{Inbound, SipSender};
use crate::sip::uri::SipUri;
use crate::sip::validate::{check_support, Essentials};
use crate::store::{CallRecord, Disposition, Record};

const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO";
/// How old a nonce may get before a phone is asked again (with stale=true).
const NONCE_MAX_AGE_SECS: u64 = 300;
/// A stopping daemon waits this long at most for the answers to its last requests (the BYEs of
/// the calls it ended, some held for the ACK of a 2xx it had just sent).
const LAST_REQUESTS_WAIT: Duration = Duration::from_secs(5);

/// What tests and ops can ask the core about its own state.
#[derive(Debug, Clone, Default)]
pub struct CoreSnapshot {
    pub calls: usize,
    pub dialogs: usize,
    pub server_transactions: usize,
    pub client_transactions: usize,
    /// (seat, contact URI) of every live binding.
    pub registrations: Vec<(String, String)>,
    pub tcp_connections: usize,
    /// Sources banned now, and bans since start.
    pub banned_sources: usize,
    pub bans_total: u64,
    /// Each trunk's lines and its day so far.
    pub lines: Vec<lines::TrunkLines>,
    /// Lines in use per called number.
    pub numbers: Vec<(String, usize)>,
}

pub struct Core {
    ctx: Arc<CallContext>,
    settings: Arc<Settings>,
    dialplan: Arc<Dialplan>,
    trunks: Vec<Trunk>,
    transactions: Transactions,
    registrar: Registrar,
    nonce_key: NonceKey,
    sender: SipSender,
    dialogs: HashMap<(String, String), CallId>,
    owner_dialogs: HashMap<CallId, Vec<(String, String)>>,
    calls: HashMap<CallId, mpsc::UnboundedSender<CallEvent>>,
    invites: HashMap<ServerKey, CallId>,
    /// Each call's INVITE, so its entry in `invites` goes in O(1) when the call ends.
    invite_of: HashMap<CallId, ServerKey>,
    /// Calls taken whose task has not yet sent anything (it is still setting the call up: RTP
    /// ports, the record, the first INVITE or answer). Work the daemon owes, not a human's
    /// ringing: when it piles up, the daemon is behind and sheds new calls.
    setting_up: std::collections::HashSet<CallId>,
    /// Numbers every call, admitted or refused.
    ids: CallIds,
    draining: bool,
    /// Seats with a live binding, as last told to the ACD.
    registered: std::collections::HashSet<String>,
    /// Registration changes for the ACD, sent by `flush`.
    to_acd: Vec<crate::queue::AcdInput>,
    /// Whether a new call may be taken, from the load the core sees.
    admission: Admission,
    /// Inbound calls in progress per trunk and number, against each trunk's lines.
    lines: lines::Lines,
    /// Messages waiting in the transport's queue when the last one was taken, and its size.
    inbound_queued: usize,
    inbound_capacity: usize,
    /// Bans and the security log.
    security: Security,
    /// Where registered seats send from, as last synced: with the trunks, never banned.
    seat_addresses: std::collections::HashSet<std::net::IpAddr>,
}

/// How often the core measures its own lag (how late a wake-up comes).
const LAG_PROBE: Duration = Duration::from_millis(100);

impl Core {
    /// Takes up `date`'s lines per trunk as the records have them (the daemon started again
    /// during that day).
    pub fn resume_lines(
        &mut self,
        date: crate::calendar::Date,
        days: std::collections::BTreeMap<String, crate::report::lines::LinesDay>,
    ) {
        for (trunk, day) in days {
            self.lines.resume(&trunk, date, day);
        }
    }
}

pub struct CoreChannels {
    pub inbound: mpsc::Receiver<Inbound>,
    pub commands: mpsc::Receiver<CoreCommand>,
    pub snapshots: mpsc::Receiver<oneshot::Sender<CoreSnapshot>>,
}

impl Core {
    pub fn new(
        ctx: Arc<CallContext>,
        settings: Arc<Settings>,
        dialplan: Arc<Dialplan>,
        registrar: Registrar,
        sender: SipSender,
    ) -> Core {
        let trunks = settings
            .trunks
            .iter()
            .map(|t| Trunk::from_settings(t, &settings.sip.realm))
            .collect();
        Core {
            admission: Admission::new(settings.overload.clone()),
            lines: lines::Lines::new(&settings.trunks),
            security: Security::new(&settings.security),
            seat_addresses: Default::default(),
            transactions: Transactions::new(ctx.local),
            ids: CallIds::starting_at(ctx.clock.now()),
            ctx,
            settings,
            dialplan,
            trunks,
            registrar,
            nonce_key: NonceKey::random(),
            sender,
            dialogs: HashMap::new(),
            owner_dialogs: HashMap::new(),
            calls: HashMap::new(),
            invites: HashMap::new(),
            invite_of: HashMap::new(),
            setting_up: Default::default(),
            draining: false,
            registered: Default::default(),
            to_acd: Vec::new(),
            inbound_queued: 0,
            inbound_capacity: 0,
        }
    }

    /// Runs until `shutdown` fires and every call has ended.
    pub async fn run(mut self, mut channels: CoreChannels, shutdown: CancellationToken) {
        // Once every call has ended, how long the last requests (their BYEs) may still take.
        let mut last_requests: Option<Instant> = None;
        self.inbound_capacity = channels.inbound.max_capacity();
        let mut lag_probe = tokio::time::interval(LAG_PROBE);
        lag_probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = [
                self.transactions.poll_timeout(),
                self.registrar.poll_timeout(),
                self.security.poll_timeout(),
                last_requests,
            ]
            .into_iter()
            .flatten()
            .min();
            tokio::select! {
                Some(message) = channels.inbound.recv() => {
                    self.inbound_queued = channels.inbound.len();
                    self.on_inbound(message)
                }
                scheduled = lag_probe.tick() => {
                    self.admission.observe_lag(Instant::now().saturating_duration_since(scheduled));
                }
                Some(command) = channels.commands.recv() => self.on_command(command),
                Some(reply) = channels.snapshots.recv() => {
                    let _ = reply.send(self.snapshot());
                }
                _ = sleep_until(deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))) => {
                    let now = Instant::now();
                    self.transactions.handle_timeout(now);
                    self.security.handle_timeout(now);
                    if self.registrar.purge(now) > 0 {
                        self.publish_registrations(now);
                    }
                    self.sync_registrations(now);
                }
                _ = shutdown.cancelled(), if !self.draining => {
                    info!(calls = self.calls.len(), "draining: ending every call");
                    self.draining = true;
                    for events in self.calls.values() {
                        let _ = events.send(CallEvent::Shutdown);
                    }
                }
            }
            self.flush().await;
            if self.draining && self.calls.is_empty() {
                let now = Instant::now();
                let until = *last_requests.get_or_insert(now + LAST_REQUESTS_WAIT);
                if !self.transactions.requests_in_flight() || now >= until {
                    return;
                }
            }
        }
    }

    fn snapshot(&self) -> CoreSnapshot {
        let now = Instant::now();
        let (server_transactions, client_transactions) = self.transactions.counts();
        let mut registrations = Vec::new();
        for user in self.registrar.registered_users(now) {
            for binding in self.registrar.lookup(now, &user) {
                registrations.push((user.clone(), binding.contact));
            }
        }
        CoreSnapshot {
            calls: self.calls.len(),
            dialogs: self.dialogs.len(),
            server_transactions,
            client_transactions,
            registrations,
            tcp_connections: self.sender.tcp_connections(),
            banned_sources: self.security.bans().0,
            bans_total: self.security.bans().1,
            lines: self.lines.trunks(),
            numbers: self.lines.numbers(),
        }
    }

    async fn flush(&mut self) {
        for input in std::mem::take(&mut self.to_acd) {
            self.ctx.acd.input(input).await;
        }
        let outputs: Vec<Output> = self.transactions.drain().collect();
        for output in outputs {
            match output {
                Output::Transmit { flow, bytes } => self.sender.send(flow, bytes).await,
                Output::Response {
                    owner,
                    key,
                    response,
                } => {
                    self.to_call(owner, CallEvent::Response { key, response });
                }
                Output::AckTimeout { owner, call_id } => {
                    debug!(%call_id, "2xx never ACKed");
                    self.to_call(owner, CallEvent::AckTimeout);
                }
            }
        }
    }

    /// A call's events are never dropped, and the core never waits for one call: each call's
    /// queue is unbounded. What bounds it is the call's own SIP traffic (retransmissions are
    /// absorbed by the transaction layer) and admission (`sip.max_calls`); a send fails only
    /// when the call's task has already ended.
    fn to_call(&self, owner: CallId, event: CallEvent) {
        if let Some(events) = self.calls.get(&owner) {
            let _ = events.send(event);
        }
    }

    fn respond(&mut self, key: &ServerKey, response: Response) {
        self.transactions
            .respond(Instant::now(), key, &response, CallId::CORE);
    }

    fn on_inbound(&mut self, message: Inbound) {
        let now = Instant::now();
        match message {
            Inbound::Response { response, .. } => self.transactions.on_response(now, response),
            Inbound::Request { flow, request, ess } => {
                // A banned source or a scanner costs a lookup, and gets no answer at all.
                let known = self.is_known(flow);
                let user_agent = request.headers.get("User-Agent");
                if !self.security.admit(now, flow, known, user_agent) {
                    return;
                }
                // A source that is no trunk and no seat gets no 100 Trying: its INVITE is
                // refused at once, or sent its 100 when it becomes a call (`admit`).
                let incoming = if known {
                    self.transactions.on_request(now, flow, &request, &ess)
                } else {
                    self.transactions
                        .on_request_without_trying(now, flow, &request, &ess)
                };
                match incoming {
                    Incoming::Absorbed | Incoming::CancelUnmatched => {}
                    Incoming::Cancelled { invite } => {
                        if let Some(owner) = self.invites.get(&invite) {
                            self.to_call(*owner, CallEvent::Cancelled);
                        }
                    }
                    Incoming::Ack => {
                        if let Some(owner) = self.dialog_owner(&ess) {
                            self.to_call(owner, CallEvent::Ack { request });
                        }
                    }
                    Incoming::New(key) => self.on_new_request(now, flow, key, request, ess),
                }
            }
        }
    }

    fn dialog_owner(&self, ess: &Essentials) -> Option<CallId> {
        let tag = ess.to.tag()?;
        self.dialogs
            .get(&(ess.call_id.clone(), tag.to_string()))
            .copied()
    }

    fn on_new_request(
        &mut self,
        now: Instant,
        flow: Flow,
        key: ServerKey,
        request: Request,
        ess: Box<Essentials>,
    ) {
        if let Err((refusal, unsupported)) = check_support(&request) {
            let mut response =
                build::response(&request, refusal.status, Some(&crate::sip::ids::tag()));
            if !unsupported.is_empty() {
                response.headers.push("Unsupported", unsupported.join(", "));
            }
            if refusal.status == 415 || refusal.status == 406 {
                response.headers.push("Accept", "application/sdp");
            }
            self.respond(&key, response);
            return;
        }
        if ess.to.tag().is_some() {
            match self.dialog_owner(&ess) {
                Some(owner) => self.to_call(owner, CallEvent::Request { key, request, ess }),
                None => self.respond(&key, build::response(&request, 481, None)),
            }
            return;
        }
        match request.method {
            Method::Register => self.on_register(now, flow, key, request, &ess),
            Method::Options => {
                let mut response = build::response(&request, 200, Some(&crate::sip::ids::tag()));
                response.headers.push("Allow", ALLOW);
                response.headers.push("Accept", "application/sdp");
                response
                    .headers
                    .push("Server", self.ctx.user_agent.as_str());
                self.respond(&key, response);
            }
            Method::Invite => self.on_invite(now, flow, key, request, ess),
            Method::Bye => self.respond(&key, build::response(&request, 481, None)),
            Method::Other(_) => self.respond(&key, build::response(&request, 501, None)),
            _ => {
                let mut response = build::response(&request, 405, None);
                response.headers.push("Allow", ALLOW);
                self.respond(&key, response);
            }
        }
    }

    fn unix_now(&self) -> u64 {
        self.ctx
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    fn on_register(
        &mut self,
        now: Instant,
        flow: Flow,
        key: ServerKey,
        request: Request,
        ess: &Essentials,
    ) {
        let unix = self.unix_now();
        let outcome = self.registrar.handle(now, unix, flow, &request, ess);
        match &outcome.event {
            RegisterEvent::AuthFailed { user_claimed } => {
                self.security_event(
                    "auth_failed",
                    flow,
                    user_claimed,
                    "REGISTER failed digest authentication",
                );
                let known = self.is_known(flow);
                self.security.auth_failed(now, flow, known);
                metrics::counter!(names::REGISTRATION_FAILURES_TOTAL, "reason" => "auth")
                    .increment(1);
            }
            RegisterEvent::Refused { reason } => {
                debug!(%flow, reason, "REGISTER refused");
                metrics::counter!(names::REGISTRATION_FAILURES_TOTAL, "reason" => "refused")
                    .increment(1);
            }
            RegisterEvent::Registered { user, contacts } => {
                info!(%flow, user, contacts, "seat registered");
            }
            RegisterEvent::Unregistered { user } => info!(%flow, user, "seat unregistered"),
            RegisterEvent::Challenged | RegisterEvent::Fetched { .. } => {}
        }
        self.respond(&key, outcome.response);
        self.publish_registrations(now);
        self.sync_registrations(now);
    }

    /// Tells the ACD which seats gained or lost their last phone: only a registered seat is
    /// offered queue calls. The inputs go out in `flush`, waiting for room in the ACD's queue,
    /// so none is lost; the ACD never waits for the core, so the wait always ends.
    fn sync_registrations(&mut self, now: Instant) {
        use crate::queue::{AcdInput, SeatCommand, SeatId};
        let current: std::collections::HashSet<String> =
            self.registrar.registered_users(now).into_iter().collect();
        for seat in current.difference(&self.registered) {
            self.to_acd.push(AcdInput::Seat(SeatCommand::Registered {
                seat: SeatId::from(seat.as_str()),
            }));
        }
        for seat in self.registered.difference(&current) {
            self.to_acd.push(AcdInput::Seat(SeatCommand::Unregistered {
                seat: SeatId::from(seat.as_str()),
            }));
        }
        self.registered = current;
        self.seat_addresses = self.registrar.addresses(now);
    }

    /// A trunk or a registered seat: never banned, and its INVITEs get 100 Trying at once.
    fn is_known(&self, flow: Flow) -> bool {
        let ip = canonical_ip(flow.remote.ip());
        self.seat_addresses.contains(&ip) || trunk_for(&self.trunks, ip).is_some()
    }

    /// A security event: counted every time, logged once per source, kind and interval.
    fn security_event(&mut self, kind: &'static str, flow: Flow, who: &str, message: &'static str) {
        self.security
            .event(Instant::now(), kind, flow, who, message);
    }

    fn publish_registrations(&self, now: Instant) {
        metrics::gauge!(names::REGISTRATIONS_ACTIVE).set(self.registrar.binding_count(now) as f64);
    }

    fn on_command(&mut self, command: CoreCommand) {
        let now = Instant::now();
        match command {
            CoreCommand::Respond {
                owner,
                key,
                response,
            } => {
                self.setting_up.remove(&owner);
                self.transactions.respond(now, &key, &response, owner);
            }
            CoreCommand::Send {
                owner,
                flow,
                request,
                branch,
            } => {
                self.setting_up.remove(&owner);
                self.transactions
                    .send_request(now, owner, flow, request, branch);
            }
            CoreCommand::Ack {
                flow,
                ack,
                call_id,
                seq,
            } => {
                self.transactions.send_ack(now, flow, ack, &call_id, seq);
            }
            CoreCommand::Cancel { key } => self.transactions.cancel(now, &key, true),
            CoreCommand::BindDialog {
                owner,
                call_id,
                local_tag,
            } => {
                let dialog = (call_id, local_tag);
                self.dialogs.insert(dialog.clone(), owner);
                self.owner_dialogs.entry(owner).or_default().push(dialog);
            }
            CoreCommand::NewCall { reply } => {
                let owner = self.ids.next_id();
                let (events_tx, events_rx) = mpsc::unbounded_channel();
                self.calls.insert(owner, events_tx);
                metrics::gauge!(names::CALLS_ACTIVE).set(self.calls.len() as f64);
                if reply.send((owner, events_rx)).is_err() {
                    self.calls.remove(&owner);
                }
            }
            CoreCommand::Splice {
                from,
                call_id,
                tags,
                offer,
                reply,
            } => {
                let owner = tags
                    .iter()
                    .find_map(|tag| self.dialogs.get(&(call_id.clone(), tag.clone())))
                    .copied()
                    .filter(|owner| *owner != from);
                match owner {
                    Some(owner) => self.to_call(
                        owner,
                        CallEvent::Splice {
                            peer: from,
                            offer,
                            reply,
                        },
                    ),
                    None => {
                        let _ = reply.send(Err(481));
                    }
                }
            }
            CoreCommand::Supervise {
                from,
                seat,
                supervisor,
                mode,
                offer,
                reply,
            } => match self.ctx.board.call_of_seat(&seat).map(|(owner, _)| owner) {
                Some(owner) if owner != from => self.to_call(
                    owner,
                    CallEvent::Supervise {
                        from,
                        supervisor,
                        mode,
                        offer,
                        reply,
                    },
                ),
                _ => {
                    let _ = reply.send(Err(480));
                }
            },
            CoreCommand::Tell { owner, event } => self.to_call(owner, event),
            CoreCommand::Bindings { seat, reply } => {
                let _ = reply.send(self.registrar.lookup(now, &seat));
            }
            CoreCommand::Finished { owner } => {
                self.calls.remove(&owner);
                self.lines.release(owner);
                for dialog in self.owner_dialogs.remove(&owner).unwrap_or_default() {
                    self.dialogs.remove(&dialog);
                }
                self.setting_up.remove(&owner);
                if let Some(key) = self.invite_of.remove(&owner) {
                    self.invites.remove(&key);
                }
                metrics::gauge!(names::CALLS_ACTIVE).set(self.calls.len() as f64);
            }
        }
    }
}

/// What a trunk call becomes.
enum Kind {
    Ring(Vec<String>),
    Queue(String, u8),
    Announce(String),
}
