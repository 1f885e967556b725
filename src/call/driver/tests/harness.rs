//! The call driver on a paused clock with fake legs: the test plays the SIP core. It reads
//! what the driver asks the core to send, answers for the phones, and hands the driver their
//! responses and requests as the core would. No SIP socket exists; the store is in memory on
//! the test's runtime, and the ACD and hand-off services are the daemon's own, on the shipped
//! settings.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::call::driver::{dial_survey, SurveyDial};
use crate::call::{CallContext, CallEvent, CallSetup, CoreCommand};
use crate::call_id::CallId;
use crate::handoff::service::HandoffService;
use crate::media::encoded::EncodedPrompts;
use crate::media::RtpPortPool;
use crate::queue::{Acd, AcdInput, AcdService, SeatCommand, SeatId};
use crate::registrar::Binding;
use crate::sip::flow::{Flow, LocalAddrs, Transport};
use crate::sip::message::{Message, Method, Request, Response};
use crate::sip::transaction::{ClientKey, ServerKey};
use crate::sip::validate::check_request;
use crate::store::fake::FakeStore;
use crate::store::{Record, Store, StoreWriter};

/// Where the fake phones are: nothing listens here, and the SDP the test writes points at a
/// loopback port nobody reads.
const PHONE: &str = "127.0.0.1:5999";
const TRUNK: &str = "127.0.0.1:5070";

/// An SDP offer or answer in G.711 µ-law with telephone-event.
pub fn sdp(port: u16) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n"
    )
}

fn parse_request(text: &str) -> Request {
    match crate::sip::parse::parse(text.as_bytes()) {
        Ok(Message::Request(request)) => request,
        other => panic!("not a request: {other:?}\n{text}"),
    }
}

/// A request of the test's making, as the core hands it to a call.
fn event(request: Request) -> CallEvent {
    let ess = check_request(&request).expect("a valid request");
    let key = ServerKey::of(&request.method, &ess);
    CallEvent::Request {
        key,
        request,
        ess: Box::new(ess),
    }
}

/// A leg the driver placed, as the test saw its INVITE.
#[derive(Debug, Clone)]
pub struct PlacedLeg {
    pub invite: Request,
    pub key: ClientKey,
    /// The phone's tag, once it answered.
    pub tag: String,
}

pub struct Harness {
    pub ctx: Arc<CallContext>,
    store: FakeStore,
    commands: mpsc::Receiver<CoreCommand>,
    /// Seats whose phones are registered, for the driver's `Bindings`.
    registered: HashMap<String, Binding>,
    stop: CancellationToken,
    next: u64,
    /// What the driver has sent, in order, in short: `200 INVITE`, `BYE`, `ACK`, `CANCEL`...
    pub seen: Vec<String>,
}

/// One call under test: its id, the channel the core would feed it by, and its task.
pub struct Call {
    pub id: CallId,
    pub events: mpsc::UnboundedSender<CallEvent>,
    pub task: JoinHandle<()>,
    /// The caller's INVITE.
    pub invite: Request,
    /// Our tag towards the caller, once the driver answered.
    pub tag: Option<String>,
}

/// A call the daemon placed (a survey's): its channel from the core, and how it ended.
pub struct Dialled {
    pub events: mpsc::UnboundedSender<CallEvent>,
    pub outcome: oneshot::Receiver<crate::survey::CallOutcome>,
}

/// Whatever call the test feeds events to.
pub trait Fed {
    fn events(&self) -> &mpsc::UnboundedSender<CallEvent>;
}

impl Fed for Call {
    fn events(&self) -> &mpsc::UnboundedSender<CallEvent> {
        &self.events
    }
}

impl Fed for Dialled {
    fn events(&self) -> &mpsc::UnboundedSender<CallEvent> {
        &self.events
    }
}

impl Harness {
    pub async fn new() -> Harness {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/hotline.toml");
        let config = crate::config::load::load(&path).expect("the shipped config loads");
        let settings = config.settings;
        // The store is in memory, on this runtime: SQLite works on threads of its own, which
        // a paused clock would race past.
        let store = FakeStore::default();
        let (writer, _) = StoreWriter::spawn(store.clone(), 1024, 64);
        let clock: Arc<dyn crate::clock::Clock> = Arc::new(crate::clock::SystemClock);
        let seats: Vec<SeatId> = settings
            .seats
            .iter()
            .map(|s| SeatId::from(s.user.as_str()))
            .collect();
        let stop = CancellationToken::new();
        let acd = Acd::new(&settings.queues, &seats, Instant::now()).expect("the queues");
        let (acd, _) = AcdService::start(
            acd,
            seats,
            settings.queues.iter().map(|q| q.name.clone()).collect(),
            writer.clone(),
            clock.clone(),
            stop.clone(),
        );
        let (handoffs, _) = HandoffService::start(
            settings.handoffs.clone(),
            settings.contact_failures,
            writer.clone(),
            clock.clone(),
            stop.clone(),
        );
        let (core, commands) = mpsc::channel(256);
        let local: SocketAddr = "127.0.0.1:5060".parse().expect("an address");
        let dialplan = Arc::new(config.dialplan);
        let ctx = Arc::new(CallContext {
            core,
            local: LocalAddrs {
                udp: local,
                tcp: local,
            },
            realm: settings.sip.realm.clone(),
            user_agent: "hotline-test".into(),
            rtp: RtpPortPool::new(local.ip(), 31000, 31999).expect("a port range"),
            media_addr: local.ip(),
            writer,
            clock,
            board: crate::call::board::Board::default(),
            no_response: Duration::from_secs(5),
            acd,
            handoffs,
            in_call: settings.in_call_codes(),
            dialer: crate::call::dial::Dialer::new(dialplan, &settings),
            ratings: settings.ratings.rules(),
            prompts: Arc::new(EncodedPrompts::new(&config.prompts)),
            recordings: None,
        });
        Harness {
            ctx,
            store,
            commands,
            registered: HashMap::new(),
            stop,
            next: 1,
            seen: Vec::new(),
        }
    }

    /// Seat `user`'s phone registers and the seat logs in.
    pub async fn seat_logs_in(&mut self, user: &str) {
        self.seat_registers(user).await;
        let seat = SeatId::from(user);
        self.ctx
            .acd
            .input(AcdInput::Seat(SeatCommand::Login { seat }))
            .await;
    }

    /// Seat `user`'s phone registers; the seat stays logged out of the queues.
    pub async fn seat_registers(&mut self, user: &str) {
        let flow = Flow {
            transport: Transport::Udp,
            remote: PHONE.parse().expect("an address"),
        };
        self.registered.insert(
            user.to_string(),
            Binding {
                user: user.to_string(),
                contact: format!("sip:{user}@{PHONE}"),
                flow,
                expires_at: Instant::now() + Duration::from_secs(3600),
                call_id: format!("reg-{user}"),
                cseq: 1,
            },
        );
        let seat = SeatId::from(user);
        self.ctx
            .acd
            .input(AcdInput::Seat(SeatCommand::Registered { seat }))
            .await;
    }

    /// A call from the trunk to `number`: a queued call with `queue`, else a ring route to
    /// the registered phones of `ring`.
    pub fn call(&mut self, number: &str, queue: Option<&str>, ring: &[&str]) -> Call {
        let n = self.next;
        self.next += 1;
        let body = sdp(40000 + 2 * n as u16);
        let invite = parse_request(&format!(
            "INVITE sip:{number}@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP {TRUNK};branch=z9hG4bK-inv{n}\r\n\
             Max-Forwards: 70\r\n\
             From: \"Citizen\" <sip:1380013800{n}@127.0.0.1>;tag=caller{n}\r\n\
             To: <sip:{number}@127.0.0.1>\r\n\
             Call-ID: call{n}@trunk\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:citizen@{TRUNK}>\r\n\
             Content-Type: application/sdp\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        ));
        let ess = check_request(&invite).expect("a valid INVITE");
        let id = CallId(n);
        let setup = CallSetup {
            owner: id,
            trunk: "carrier".into(),
            flow: Flow {
                transport: Transport::Udp,
                remote: TRUNK.parse().expect("an address"),
            },
            key: ServerKey::of(&Method::Invite, &ess),
            invite: invite.clone(),
            ess: Box::new(ess),
            route_number: number.into(),
            ring_timeout: Duration::from_secs(20),
            targets: ring
                .iter()
                .filter_map(|s| self.registered.get(*s).cloned())
                .collect(),
            queue: queue.map(|q| (q.to_string(), 5)),
            placed_by: None,
            handoff: None,
            dial: None,
            feature: None,
            record: false,
            supervise: None,
        };
        let (events, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(crate::call::driver::run(setup, self.ctx.clone(), rx));
        Call {
            id,
            events,
            task,
            invite,
            tag: None,
        }
    }

    /// A survey's call to a citizen, as the survey service starts one; the test gives it its
    /// number and channel, as the core would.
    pub async fn survey(&mut self, dial: SurveyDial) -> Dialled {
        let (done, outcome) = oneshot::channel();
        let ctx = self.ctx.clone();
        tokio::spawn(async move {
            let _ = done.send(dial_survey(dial, ctx).await);
        });
        let new_call = |c: &CoreCommand| matches!(c, CoreCommand::NewCall { .. });
        let CoreCommand::NewCall { reply } = self.until(new_call).await else {
            panic!("a survey's call first asks for its number: {:?}", self.seen);
        };
        let (events, rx) = mpsc::unbounded_channel();
        let _ = reply.send((CallId(self.next), rx));
        self.next += 1;
        Dialled { events, outcome }
    }

    /// The driver's next command to the core that the test must see; dialog bindings are
    /// noted and bindings asked for are answered, as the core would.
    pub async fn next(&mut self) -> CoreCommand {
        loop {
            let waited = tokio::time::timeout(Duration::from_secs(600), self.commands.recv()).await;
            let Ok(Some(command)) = waited else {
                panic!(
                    "the driver said nothing for ten minutes after {:?}",
                    self.seen
                );
            };
            match command {
                CoreCommand::BindDialog { .. } => {}
                CoreCommand::Bindings { seat, reply } => {
                    let _ = reply.send(self.registered.get(&seat).cloned().into_iter().collect());
                }
                other => {
                    self.seen.push(summary(&other));
                    return other;
                }
            }
        }
    }

    /// Takes the driver's commands until one that `wanted` picks (`seen` keeps them all).
    pub async fn until(&mut self, wanted: impl Fn(&CoreCommand) -> bool) -> CoreCommand {
        loop {
            let command = self.next().await;
            if wanted(&command) {
                return command;
            }
        }
    }

    /// Takes the driver's commands until it sends a request with `method`.
    pub async fn until_sent(&mut self, method: Method) -> Request {
        let sent = self
            .until(|c| matches!(c, CoreCommand::Send { request, .. } if request.method == method))
            .await;
        match sent {
            CoreCommand::Send { request, .. } => request,
            _ => unreachable!("until returned what it was asked for"),
        }
    }

    /// The next response to the caller's INVITE.
    pub async fn caller_hears(&mut self, call: &mut Call) -> Response {
        let to_invite = |c: &CoreCommand| matches!(c, CoreCommand::Respond { response, .. } if cseq_method(response) == "INVITE");
        let CoreCommand::Respond { response, .. } = self.until(to_invite).await else {
            unreachable!("until returned what it was asked for");
        };
        if call.tag.is_none() {
            call.tag = response
                .headers
                .get("To")
                .and_then(|to| to.split(";tag=").nth(1))
                .map(|tag| tag.split(';').next().unwrap_or(tag).to_string());
        }
        response
    }

    /// The next INVITE the driver sends, to a seat's phone or a unit.
    pub async fn rings(&mut self) -> PlacedLeg {
        let invite = |c: &CoreCommand| matches!(c, CoreCommand::Send { request, .. } if request.method == Method::Invite);
        let CoreCommand::Send {
            request, branch, ..
        } = self.until(invite).await
        else {
            unreachable!("until returned what it was asked for");
        };
        PlacedLeg {
            key: ClientKey {
                branch: branch.clone(),
                method: Method::Invite,
            },
            invite: with_via(request, &branch),
            tag: format!("phone-{branch}"),
        }
    }

    /// The phone of `leg` answers `status` (with SDP for a 2xx).
    pub fn phone_answers(&self, call: &impl Fed, leg: &PlacedLeg, status: u16) {
        let mut response = crate::sip::build::response(&leg.invite, status, Some(&leg.tag));
        if (200..300).contains(&status) {
            response
                .headers
                .push("Contact", format!("<sip:phone@{PHONE}>"));
            response.headers.push("Content-Type", "application/sdp");
            response.body = Bytes::from(sdp(5998));
        }
        let _ = call.events().send(CallEvent::Response {
            key: leg.key.clone(),
            response,
        });
    }

    /// A request from the phone of answered leg `leg`, in its dialog: `BYE`, or `INFO` with a
    /// key.
    pub fn phone_sends(&self, call: &impl Fed, leg: &PlacedLeg, method: &str, key: Option<char>) {
        self.phone_sends_with(call, leg, method, key, "");
    }

    /// As `phone_sends`, with `extra` header lines (each ending in CRLF).
    pub fn phone_sends_with(
        &self,
        call: &impl Fed,
        leg: &PlacedLeg,
        method: &str,
        key: Option<char>,
        extra: &str,
    ) {
        let call_id = leg.invite.headers.get("Call-ID").unwrap_or_default();
        let from = leg.invite.headers.get("From").unwrap_or_default();
        let to = leg.invite.headers.get("To").unwrap_or_default();
        let request = in_dialog(
            method,
            call_id,
            &format!("{to};tag={}", leg.tag),
            from,
            key,
            extra,
        );
        let _ = call.events().send(event(request));
    }

    /// A request from the caller in its dialog with the daemon.
    pub fn caller_sends(&self, call: &Call, method: &str, key: Option<char>) {
        let headers = &call.invite.headers;
        let to = format!(
            "{};tag={}",
            headers.get("To").unwrap_or_default(),
            call.tag.as_deref().unwrap_or_default()
        );
        let request = in_dialog(
            method,
            headers.get("Call-ID").unwrap_or_default(),
            headers.get("From").unwrap_or_default(),
            &to,
            key,
            "",
        );
        let _ = call.events.send(event(request));
    }

    /// The call's record once its driver has ended, and the driver's end.
    pub async fn record(&mut self, call: Call) -> crate::store::CallRecord {
        tokio::time::timeout(Duration::from_secs(600), call.task)
            .await
            .expect("the driver ended")
            .expect("the driver did not panic");
        while let Ok(command) = self.commands.try_recv() {
            self.seen.push(summary(&command));
        }
        let id = call.id.to_string();
        self.ctx.writer.flush().await.expect("the writer keeps up");
        let calls = self.store.calls().await.expect("the calls");
        calls
            .into_iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no record; the driver sent {:?}", self.seen))
    }

    /// Every record the call's driver wrote that `pick` picks, in order.
    pub fn written<T>(&self, pick: impl Fn(&Record) -> Option<T>) -> Vec<T> {
        self.store.picked(pick)
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The driver's request as the core sends it: with its Via.
fn with_via(mut request: Request, branch: &str) -> Request {
    request
        .headers
        .push("Via", format!("SIP/2.0/UDP 127.0.0.1:5060;branch={branch}"));
    request
}

/// A request inside a dialog, from `from` to `to`: a BYE, or an INFO carrying `key`.
fn in_dialog(
    method: &str,
    call_id: &str,
    from: &str,
    to: &str,
    key: Option<char>,
    extra: &str,
) -> Request {
    let body = key
        .map(|k| format!("Signal={k}\r\nDuration=160\r\n"))
        .unwrap_or_default();
    let content_type = if key.is_some() {
        "Content-Type: application/dtmf-relay\r\n"
    } else {
        ""
    };
    let branch = crate::sip::ids::branch();
    parse_request(&format!(
        "{method} sip:hotline@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {PHONE};branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: {from}\r\n\
         To: {to}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {} {method}\r\n\
         {extra}{content_type}Content-Length: {}\r\n\r\n{body}",
        rand::random::<u16>() as u32 + 2,
        body.len()
    ))
}

/// A command in short, for `Harness::seen`.
fn summary(command: &CoreCommand) -> String {
    match command {
        CoreCommand::Respond { response, .. } => {
            format!("{} {}", response.status, cseq_method(response))
        }
        CoreCommand::Send { request, .. } => request.method.to_string(),
        CoreCommand::Ack { .. } => "ACK".into(),
        CoreCommand::Cancel { .. } => "CANCEL".into(),
        CoreCommand::Finished { .. } => "finished".into(),
        CoreCommand::Tell { .. } => "tell".into(),
        CoreCommand::Splice { .. } => "splice".into(),
        CoreCommand::Supervise { .. } => "supervise".into(),
        CoreCommand::NewCall { .. } => "new call".into(),
        CoreCommand::BindDialog { .. } | CoreCommand::Bindings { .. } => "core".into(),
    }
}

/// The method a response answers, from its CSeq.
fn cseq_method(response: &Response) -> &str {
    response
        .headers
        .get("CSeq")
        .and_then(|c| c.split_whitespace().nth(1))
        .unwrap_or("?")
}
