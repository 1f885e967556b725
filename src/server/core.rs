//! The SIP core: one task through which every message and every call command passes. It owns
//! the transaction layer, the registrar and the dialog table, admits or refuses new calls, and
//! hands each call's messages to its task.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::trunks::{trunk_for, Trunk};
use crate::auth::{self, Algorithm, NonceKey, Verdict};
use crate::call::feature_task::Purpose;
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
    /// Numbers every call, admitted or refused.
    ids: CallIds,
    draining: bool,
    /// Seats with a live binding, as last told to the ACD.
    registered: std::collections::HashSet<String>,
    /// Registration changes for the ACD, sent by `flush`.
    to_acd: Vec<crate::queue::AcdInput>,
    /// Whether a new call may be taken, from the load the core sees.
    admission: Admission,
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

    fn on_invite(
        &mut self,
        now: Instant,
        flow: Flow,
        key: ServerKey,
        request: Request,
        ess: Box<Essentials>,
    ) {
        let called = SipUri::parse(&request.uri)
            .ok()
            .and_then(|u| u.user_decoded())
            .unwrap_or_default();
        if self.is_feature_number(&called) {
            self.on_seat_feature(flow, key, request, ess, called);
            return;
        }
        if self.is_seat_call(&ess, &called) {
            self.on_seat_call(now, flow, key, request, ess, called);
            return;
        }
        let Some(trunk) = trunk_for(&self.trunks, flow.remote.ip()).cloned() else {
            self.security_event(
                "acl_denied",
                flow,
                &ess.from.uri,
                "INVITE from an address that is no trunk",
            );
            metrics::counter!(names::CALLS_REJECTED_TOTAL, "reason" => "acl").increment(1);
            self.respond(
                &key,
                build::response(&request, 403, Some(&crate::sip::ids::tag())),
            );
            return;
        };
        if let Some(auth) = &trunk.auth {
            let verdict = auth::authenticate(
                request.headers.get("Proxy-Authorization"),
                "INVITE",
                &self.settings.sip.realm,
                |user, algorithm| {
                    (user == auth.user).then(|| match algorithm {
                        Algorithm::Md5 => auth.ha1_md5.clone(),
                        Algorithm::Sha256 => auth.ha1_sha256.clone(),
                    })
                },
                &self.nonce_key,
                self.unix_now(),
                NONCE_MAX_AGE_SECS,
            );
            match verdict {
                Verdict::Ok { .. } => {}
                Verdict::Challenge { stale } => {
                    let nonce = self.nonce_key.mint(self.unix_now());
                    let mut response =
                        build::response(&request, 407, Some(&crate::sip::ids::tag()));
                    for algorithm in &self.settings.sip.digest_algorithms {
                        let challenge =
                            auth::challenge(&self.settings.sip.realm, &nonce, *algorithm, stale);
                        response.headers.push("Proxy-Authenticate", challenge);
                    }
                    self.respond(&key, response);
                    return;
                }
                Verdict::Rejected => {
                    self.security_event(
                        "auth_failed",
                        flow,
                        &trunk.name,
                        "trunk INVITE failed digest authentication",
                    );
                    metrics::counter!(names::CALLS_REJECTED_TOTAL, "reason" => "auth").increment(1);
                    self.respond(
                        &key,
                        build::response(&request, 403, Some(&crate::sip::ids::tag())),
                    );
                    return;
                }
            }
        }
        let refuse = |core: &mut Core, status: u16, reason: &'static str| {
            metrics::counter!(names::CALLS_REJECTED_TOTAL, "reason" => reason).increment(1);
            core.record_refused(&trunk.name, &request, &ess, &called, status);
            let mut response = build::response(&request, status, Some(&crate::sip::ids::tag()));
            if status == 503 {
                core.retry_after(&mut response);
            }
            core.respond(&key, response);
        };
        if let Err(refusal) = self.admit_new_call() {
            info!(%flow, reason = refusal.reason(), "new call refused: too busy");
            refuse(self, 503, refusal.reason());
            return;
        }
        let Some(route) = self.dialplan.route(&called) else {
            info!(%flow, called, trunk = trunk.name, "no route for the called number");
            refuse(self, 404, "no_route");
            return;
        };
        let closed = route
            .when_closed
            .as_ref()
            .filter(|w| !self.is_open(&w.calendar))
            .map(|w| w.closed.clone());
        let (ring_timeout, number) = (route.ring_timeout, route.number.clone());
        let kind = match (closed, &route.target) {
            (Some(Closed::Prompt(prompt)), _) => Kind::Announce(prompt),
            (Some(Closed::Queue { name, priority }), _) => Kind::Queue(name, priority),
            (None, RingTarget::Queue { name, priority }) => Kind::Queue(name.clone(), *priority),
            (None, RingTarget::AllSeats) => Kind::Ring(self.registrar.registered_users(now)),
            (None, RingTarget::Seats(list)) => Kind::Ring(list.clone()),
        };
        let (owner, events) = self.admit(&key, &request);
        let mut setup = CallSetup {
            owner,
            trunk: trunk.name.clone(),
            flow,
            invite: request,
            ess,
            key,
            route_number: number,
            ring_timeout,
            targets: Vec::new(),
            queue: None,
            placed_by: None,
            dial: None,
        };
        let ctx = self.ctx.clone();
        match kind {
            Kind::Ring(seats) => {
                setup.targets = seats
                    .iter()
                    .flat_map(|seat| self.registrar.lookup(now, seat))
                    .collect();
                tokio::spawn(call::task::run(setup, ctx, events));
            }
            Kind::Queue(name, priority) => {
                setup.queue = Some((name, priority));
                tokio::spawn(call::queued_task::run(setup, ctx, events));
            }
            Kind::Announce(prompt) => {
                tokio::spawn(call::feature_task::run(
                    setup,
                    Purpose::Announce { prompt },
                    ctx,
                    events,
                ));
            }
        }
    }

    /// Whether the daemon may take one more call now: not while it stops, and not while it is
    /// too busy to serve the calls it has (`[overload]`).
    fn admit_new_call(&self) -> Result<(), Refusal> {
        if self.draining {
            return Err(Refusal::Overload);
        }
        self.admission.admit(&Load {
            calls: self.calls.len(),
            max_calls: self.settings.sip.max_calls,
            inbound_queued: self.inbound_queued,
            inbound_capacity: self.inbound_capacity,
            store_queued: self.ctx.writer.queued(),
            store_capacity: self.settings.store.queue_capacity,
        })
    }

    /// When a refused caller may try again.
    fn retry_after(&self, response: &mut Response) {
        response
            .headers
            .push("Retry-After", self.admission.retry_after_secs().to_string());
    }

    /// A new call: its number and the channel its task reads.
    fn admit(
        &mut self,
        key: &ServerKey,
        invite: &Request,
    ) -> (CallId, mpsc::UnboundedReceiver<CallEvent>) {
        // Its source may not have had one yet (a seat's phone calling from elsewhere).
        self.transactions.trying(Instant::now(), key, invite);
        let owner = self.ids.next_id();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        self.calls.insert(owner, events_tx);
        self.invites.insert(key.clone(), owner);
        metrics::gauge!(names::CALLS_ACTIVE).set(self.calls.len() as f64);
        (owner, events_rx)
    }

    fn is_open(&self, calendar: &str) -> bool {
        let Some(calendar) = self.settings.calendars.iter().find(|c| c.name == calendar) else {
            return true;
        };
        let offset = self.settings.time.utc_offset_hours * 3600;
        calendar.is_open(crate::calendar::to_local(self.ctx.clock.now(), offset))
    }

    /// Numbers a seat dials to change its state, which never go to the dialplan.
    fn is_feature_number(&self, called: &str) -> bool {
        let features = &self.settings.features;
        called == features.access
            || [
                &features.login,
                &features.logout,
                &features.pause,
                &features.resume,
            ]
            .iter()
            .any(|code| called.starts_with(code.as_str()))
    }

    /// The seat an INVITE from a seat's phone proves it is (digest, 407). None when the request
    /// was answered here: challenged, or refused with 403 and a security event.
    fn seat_of_invite(
        &mut self,
        flow: Flow,
        key: &ServerKey,
        request: &Request,
        failure: &'static str,
    ) -> Option<String> {
        match self.registrar.authenticate_seat(self.unix_now(), request) {
            SeatAuth::Challenge(response) => {
                self.respond(key, response);
                None
            }
            SeatAuth::Rejected { claimed } => {
                self.security_event("auth_failed", flow, &claimed, failure);
                let known = self.is_known(flow);
                self.security.auth_failed(Instant::now(), flow, known);
                self.respond(
                    key,
                    build::response(request, 403, Some(&crate::sip::ids::tag())),
                );
                None
            }
            SeatAuth::Seat(seat) => Some(seat),
        }
    }

    /// A seat's phone dialling out (a unit, another seat, a number): its From is a seat and the
    /// number is no inbound route. It must then authenticate like any seat.
    fn is_seat_call(&self, ess: &Essentials, called: &str) -> bool {
        let from_seat = SipUri::parse(&ess.from.uri)
            .ok()
            .and_then(|u| u.user_decoded())
            .is_some_and(|user| self.settings.seats.iter().any(|s| s.user == user));
        from_seat && self.dialplan.route(called).is_none()
    }

    /// A call a seat's phone places: to a unit (its contact for now), another seat, or a
    /// number an outbound route allows. This is how a phone consults a unit before its own
    /// attended transfer (REFER with Replaces).
    fn on_seat_call(
        &mut self,
        now: Instant,
        flow: Flow,
        key: ServerKey,
        request: Request,
        ess: Box<Essentials>,
        called: String,
    ) {
        let Some(seat) = self.seat_of_invite(
            flow,
            &key,
            &request,
            "seat INVITE failed digest authentication",
        ) else {
            return;
        };
        let resolved = match self.ctx.dialer.resolve(&called, self.ctx.clock.now()) {
            Ok(resolved) => resolved,
            Err(refusal) => {
                if refusal.status() == 403 {
                    self.security_event(
                        "dial_refused",
                        flow,
                        &seat,
                        "seat dialled a number the dialplan does not allow",
                    );
                }
                info!(%seat, called, %refusal, "seat call refused");
                self.respond(
                    &key,
                    build::response(&request, refusal.status(), Some(&crate::sip::ids::tag())),
                );
                return;
            }
        };
        if let Err(refusal) = self.admit_new_call() {
            metrics::counter!(names::CALLS_REJECTED_TOTAL, "reason" => refusal.reason())
                .increment(1);
            let mut response = build::response(&request, 503, Some(&crate::sip::ids::tag()));
            self.retry_after(&mut response);
            self.respond(&key, response);
            return;
        }
        let (owner, events) = self.admit(&key, &request);
        let mut setup = CallSetup {
            owner,
            trunk: format!("seat:{seat}"),
            flow,
            invite: request,
            ess,
            key,
            route_number: called,
            ring_timeout: std::time::Duration::from_secs(
                self.settings.sip.ring_timeout_secs.into(),
            ),
            targets: Vec::new(),
            queue: None,
            placed_by: Some(seat.clone()),
            dial: None,
        };
        match &resolved.target {
            crate::dialplan::DialTarget::Seat(user) => {
                setup.targets = self.registrar.lookup(now, user);
            }
            _ => setup.dial = Some(resolved),
        }
        info!(%seat, called = setup.route_number, "seat call");
        tokio::spawn(call::task::run(setup, self.ctx.clone(), events));
    }

    /// A seat's phone dialled a feature code: it must prove which seat it is (407).
    fn on_seat_feature(
        &mut self,
        flow: Flow,
        key: ServerKey,
        request: Request,
        ess: Box<Essentials>,
        called: String,
    ) {
        let Some(seat) = self.seat_of_invite(
            flow,
            &key,
            &request,
            "feature-code INVITE failed digest authentication",
        ) else {
            return;
        };
        let features = &self.settings.features;
        let Ok(codes) = features.codes() else {
            self.respond(
                &key,
                build::response(&request, 500, Some(&crate::sip::ids::tag())),
            );
            return;
        };
        let purpose = if called == features.access {
            Purpose::Access {
                seat,
                codes,
                inter_digit: std::time::Duration::from_secs(features.inter_digit_secs.into()),
            }
        } else if let Some(feature) = crate::features::from_dialled(&codes, &called) {
            Purpose::Code { seat, feature }
        } else {
            self.respond(
                &key,
                build::response(&request, 404, Some(&crate::sip::ids::tag())),
            );
            return;
        };
        let (owner, events) = self.admit(&key, &request);
        let setup = CallSetup {
            owner,
            trunk: "seat".to_string(),
            flow,
            invite: request,
            ess,
            key,
            route_number: called,
            ring_timeout: std::time::Duration::ZERO,
            targets: Vec::new(),
            queue: None,
            placed_by: None,
            dial: None,
        };
        tokio::spawn(call::feature_task::run(
            setup,
            purpose,
            self.ctx.clone(),
            events,
        ));
    }

    /// A trunk call refused before it became a call still leaves a record.
    fn record_refused(
        &mut self,
        trunk: &str,
        request: &Request,
        ess: &Essentials,
        called: &str,
        status: u16,
    ) {
        let now = self.ctx.clock.now();
        let caller = SipUri::parse(&ess.from.uri)
            .ok()
            .and_then(|u| u.user_decoded())
            .unwrap_or_else(|| "anonymous".to_string());
        let record = CallRecord {
            id: self.ids.next_id().to_string(),
            sip_call_id: ess.call_id.clone(),
            trunk: trunk.to_string(),
            caller,
            called: if called.is_empty() {
                request.uri.clone()
            } else {
                called.to_string()
            },
            seat: None,
            offered_at: now,
            answered_at: None,
            ended_at: now,
            disposition: Disposition::Rejected,
            sip_cause: Some(status),
            ended_by: Some("daemon".to_string()),
            queue: None,
        };
        metrics::counter!(names::CALLS_TOTAL, "trunk" => record.trunk.clone(), "disposition" => record.disposition.as_str())
            .increment(1);
        let writer = self.ctx.writer.clone();
        // The core never waits on the store: a full queue delays this task, not signalling.
        tokio::spawn(async move {
            if let Err(error) = writer.submit(Record::Call(record)).await {
                warn!(%error, "call record not queued");
            }
        });
    }

    fn on_command(&mut self, command: CoreCommand) {
        let now = Instant::now();
        match command {
            CoreCommand::Respond {
                owner,
                key,
                response,
            } => {
                self.transactions.respond(now, &key, &response, owner);
            }
            CoreCommand::Send {
                owner,
                flow,
                request,
                branch,
            } => {
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
            CoreCommand::Tell { owner, event } => self.to_call(owner, event),
            CoreCommand::Bindings { seat, reply } => {
                let _ = reply.send(self.registrar.lookup(now, &seat));
            }
            CoreCommand::Finished { owner } => {
                self.calls.remove(&owner);
                for dialog in self.owner_dialogs.remove(&owner).unwrap_or_default() {
                    self.dialogs.remove(&dialog);
                }
                self.invites.retain(|_, o| *o != owner);
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
