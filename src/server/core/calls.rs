//! The core's side of new calls: a trunk's INVITE routed by the dialplan, a seat's own call or
//! feature code, admission under load, and the record of a call refused before it began.

use super::*;

impl Core {
    pub(super) fn on_invite(
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
        if let Some((mode, seat)) = self.settings.supervision.parse(&called) {
            self.on_supervise(flow, key, request, ess, mode, seat);
            return;
        }
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
        let handoff = route.handoff.clone();
        let route_record = route.record;
        if !self.lines.free(&trunk.name) {
            info!(%flow, trunk = trunk.name, in_use = self.lines.in_use(&trunk.name), "new call refused: every line of the trunk is busy");
            metrics::counter!(names::TRUNK_CALLS_REFUSED_TOTAL, "trunk" => trunk.name.clone())
                .increment(1);
            refuse(self, 503, "trunk_lines");
            return;
        }
        let kind = match (closed, &route.target) {
            (Some(Closed::Prompt(prompt)), _) => Kind::Announce(prompt),
            (Some(Closed::Queue { name, priority }), _) => Kind::Queue(name, priority),
            (None, RingTarget::Queue { name, priority }) => Kind::Queue(name.clone(), *priority),
            (None, RingTarget::AllSeats) => Kind::Ring(self.registrar.registered_users(now)),
            (None, RingTarget::Seats(list)) => Kind::Ring(list.clone()),
        };
        let (owner, events) = self.admit(&key, &request);
        let taken = self.moment();
        self.lines.take(owner, &trunk.name, &number, taken);
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
            handoff,
            dial: None,
            feature: None,
            record: false,
            supervise: None,
        };
        setup.record = self.records(route_record, &kind);
        let ctx = self.ctx.clone();
        match kind {
            Kind::Ring(seats) => {
                setup.targets = seats
                    .iter()
                    .flat_map(|seat| self.registrar.lookup(now, seat))
                    .collect();
                tokio::spawn(call::driver::run(setup, ctx, events));
            }
            Kind::Queue(name, priority) => {
                setup.queue = Some((name, priority));
                tokio::spawn(call::driver::run(setup, ctx, events));
            }
            Kind::Announce(prompt) => {
                setup.feature = Some(Purpose::Announce { prompt });
                tokio::spawn(call::driver::run(setup, ctx, events));
            }
        }
    }

    /// Whether a trunk call of `kind` on a route that says `route` about recording is recorded.
    fn records(&self, route: Option<bool>, kind: &Kind) -> bool {
        let Some(recordings) = &self.ctx.recordings else {
            return false;
        };
        let queue = match kind {
            Kind::Queue(name, _) => Some(
                self.settings
                    .queues
                    .iter()
                    .find(|q| &q.name == name)
                    .and_then(|q| q.record),
            ),
            Kind::Ring(_) => None,
            Kind::Announce(_) => return false,
        };
        recordings.records(route, queue)
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
            setting_up: self.setting_up.len(),
            inbound_queued: self.inbound_queued,
            inbound_capacity: self.inbound_capacity,
            store_queued: self.ctx.writer.queued(),
            store_capacity: self.settings.store.queue_capacity,
        })
    }

    /// A seat's phone's new call refused for load: 503 with Retry-After, counted. (A trunk's
    /// call refused is also written as a record: `on_invite`.)
    fn refuse_seat_call(&mut self, key: &ServerKey, request: &Request, refusal: Refusal) {
        metrics::counter!(names::CALLS_REJECTED_TOTAL, "reason" => refusal.reason()).increment(1);
        let mut response = build::response(request, 503, Some(&crate::sip::ids::tag()));
        self.retry_after(&mut response);
        self.respond(key, response);
    }

    /// When a refused caller may try again.
    fn retry_after(&self, response: &mut Response) {
        response
            .headers
            .push("Retry-After", self.admission.retry_after_secs().to_string());
    }

    /// A new call: its number and the channel its task reads.
    pub(super) fn admit(
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
        self.invite_of.insert(owner, key.clone());
        self.setting_up.insert(owner);
        metrics::gauge!(names::CALLS_ACTIVE).set(self.calls.len() as f64);
        (owner, events_rx)
    }

    /// Now, in the hotline's local time, for the lines' day.
    fn moment(&self) -> super::lines::Moment {
        let at = self.ctx.clock.now();
        let local = crate::calendar::to_local(at, self.settings.time.utc_offset_hours * 3600);
        super::lines::Moment {
            date: local.date,
            hour: (local.time.seconds_since_midnight() / 3600) as u8,
            at,
        }
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
            self.refuse_seat_call(&key, &request, refusal);
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
            handoff: None,
            dial: None,
            feature: None,
            record: false,
            supervise: None,
        };
        match &resolved.target {
            crate::dialplan::DialTarget::Seat(user) => {
                setup.targets = self.registrar.lookup(now, user);
            }
            _ => setup.dial = Some(resolved),
        }
        info!(%seat, called = setup.route_number, "seat call");
        tokio::spawn(call::driver::run(setup, self.ctx.clone(), events));
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
        self.start_seat_phone_call(
            SeatPhoneCall {
                key,
                request,
                ess,
                flow,
                route_number: called,
            },
            Some(purpose),
            None,
        );
    }

    /// A seat's phone dialled a supervision code (`*51<seat>#`…): it must prove which seat it
    /// is (407), and be a supervisor (else 403 and a security event). Its call is answered and
    /// joins the seat's call (`logic::supervise`).
    fn on_supervise(
        &mut self,
        flow: Flow,
        key: ServerKey,
        request: Request,
        ess: Box<Essentials>,
        mode: crate::supervision::Mode,
        seat: String,
    ) {
        let Some(supervisor) = self.seat_of_invite(
            flow,
            &key,
            &request,
            "supervision INVITE failed digest authentication",
        ) else {
            return;
        };
        let allowed = self
            .settings
            .seats
            .iter()
            .any(|s| s.user == supervisor && s.supervisor);
        if !allowed {
            self.security_event(
                "supervision_refused",
                flow,
                &supervisor,
                "a seat that is no supervisor dialled a supervision code",
            );
            self.respond(
                &key,
                build::response(&request, 403, Some(&crate::sip::ids::tag())),
            );
            return;
        }
        if let Err(refusal) = self.admit_new_call() {
            self.refuse_seat_call(&key, &request, refusal);
            return;
        }
        info!(%supervisor, %seat, mode = mode.as_str(), "supervision");
        let wait = std::time::Duration::from_secs(self.settings.supervision.wait_secs.into());
        let session = call::logic::supervise::Session {
            supervisor,
            seat: seat.clone(),
            mode,
            wait,
        };
        self.start_seat_phone_call(
            SeatPhoneCall {
                key,
                request,
                ess,
                flow,
                route_number: format!("supervise:{seat}"),
            },
            None,
            Some(session),
        );
    }

    /// Starts a call from a seat's own phone that the daemon answers itself, for a feature code
    /// or a supervision session: no targets, no queue, no recording.
    fn start_seat_phone_call(
        &mut self,
        phone: SeatPhoneCall,
        feature: Option<call::logic::feature::Purpose>,
        supervise: Option<call::logic::supervise::Session>,
    ) {
        let (owner, events) = self.admit(&phone.key, &phone.request);
        let setup = CallSetup {
            owner,
            trunk: "seat".to_string(),
            flow: phone.flow,
            invite: phone.request,
            ess: phone.ess,
            key: phone.key,
            route_number: phone.route_number,
            ring_timeout: std::time::Duration::ZERO,
            targets: Vec::new(),
            queue: None,
            placed_by: None,
            handoff: None,
            dial: None,
            feature,
            record: false,
            supervise,
        };
        tokio::spawn(call::driver::run(setup, self.ctx.clone(), events));
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
}

/// The INVITE of a call from a seat's own phone, as the core took it.
struct SeatPhoneCall {
    key: ServerKey,
    request: Request,
    ess: Box<Essentials>,
    flow: Flow,
    route_number: String,
}
