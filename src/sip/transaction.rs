//! The transaction layer (RFC 3261 §17) as a state machine without I/O.
//!
//! Input: messages and the current time. Output: bytes to transmit and events for the owner of
//! a client transaction. Retransmissions, absorbing a peer's retransmissions, ACK for non-2xx
//! finals and the 408 of a timed-out request all live here, so the call logic above never sees
//! a duplicate and never resends anything itself.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::flow::{Flow, LocalAddrs};
use super::headers::{with_tag, NameAddr};
use super::ids;
use super::message::{Method, Request, Response};
use super::validate::Essentials;

mod timers;

use timers::{Record, Timer, Timers, TxId};

pub const T1: Duration = Duration::from_millis(500);
pub const T2: Duration = Duration::from_secs(4);
pub const T4: Duration = Duration::from_secs(5);
/// Timers B, F, H and J: how long a transaction lives without an answer.
pub const TIMEOUT: Duration = Duration::from_millis(64 * 500);

use crate::call_id::CallId;

/// A Call-ID and CSeq number: the INVITE that a 2xx of ours or an ACK of ours belongs to.
type CallSeq = (String, u32);

/// A server transaction: the top Via's branch and sent-by, and the method (ACK and CANCEL
/// match the INVITE by branch, RFC 3261 §17.2.3).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerKey {
    pub branch: String,
    pub sent_by: String,
    pub method: Method,
    /// The Call-ID and CSeq number. RFC 3261 matches without them, but a retransmission, its
    /// CANCEL and the ACK of its failure all carry them; a peer that reuses a branch for a new
    /// request (SIPp sends from a loop, and numbers every out-of-call instance alike) still gets
    /// each request treated as new.
    pub call_id: String,
    pub seq: u32,
}

impl ServerKey {
    pub fn of(req_method: &Method, ess: &Essentials) -> ServerKey {
        let via = ess.top_via();
        let branch = match via.rfc3261_branch() {
            Some(b) => b.to_string(),
            // RFC 2543 peers have no unique branch: build one from the dialog fields.
            None => format!(
                "2543;{};{};{};{}",
                ess.call_id,
                ess.cseq.seq,
                ess.from.tag().unwrap_or(""),
                via.sent_by()
            ),
        };
        let method = match req_method {
            Method::Ack => Method::Invite,
            m => m.clone(),
        };
        ServerKey {
            branch,
            sent_by: via.sent_by(),
            method,
            call_id: ess.call_id.clone(),
            seq: ess.cseq.seq,
        }
    }
}

/// A client transaction: our branch and the method.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientKey {
    pub branch: String,
    pub method: Method,
}

#[derive(Debug)]
pub enum Output {
    Transmit {
        flow: Flow,
        bytes: Bytes,
    },
    /// A response for a client transaction; 408 when the peer never answered.
    Response {
        owner: CallId,
        key: ClientKey,
        response: Response,
    },
    /// A 2xx we sent was never ACKed (RFC 3261 §13.3.1.4): the owner should hang up.
    AckTimeout {
        owner: CallId,
        call_id: String,
    },
}

/// What became of an incoming request.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A new request for the layer above; for INVITE a 100 Trying is already on its way.
    New(ServerKey),
    /// A retransmission or an ACK to a non-2xx: handled here.
    Absorbed,
    /// A CANCEL matched a pending INVITE, and 200 was sent for the CANCEL: the INVITE's owner
    /// must now answer 487.
    Cancelled { invite: ServerKey },
    /// A CANCEL for nothing we know: 481 was sent.
    CancelUnmatched,
    /// An ACK that belongs to a dialog (ACK to a 2xx), for the layer above.
    Ack,
}

struct ServerTx {
    id: TxId,
    flow: Flow,
    last: Option<(u16, Bytes)>,
    /// Timer G's interval, while it runs.
    interval: Duration,
}

struct ClientTx {
    id: TxId,
    owner: CallId,
    flow: Flow,
    request: Request,
    bytes: Bytes,
    got_provisional: bool,
    final_status: Option<u16>,
    /// The To tag of the first 2xx: the same tag again is a retransmission, not a new answer.
    answer_tag: Option<String>,
    /// Our ACK to a non-2xx final, resent when the final is retransmitted.
    ack: Option<Bytes>,
    cancel_wanted: bool,
    /// Nobody waits for this transaction any more: a late 2xx is ACKed and hung up here.
    abandoned: bool,
    /// Timer A's or E's interval, while it runs.
    interval: Duration,
}

/// A 2xx to an INVITE that we keep sending until its ACK arrives (RFC 3261 §13.3.1.4).
struct Unacked {
    id: TxId,
    owner: CallId,
    flow: Flow,
    bytes: Bytes,
    interval: Duration,
}

/// An ACK we sent for a 2xx, kept to answer the 2xx's retransmissions.
struct SentAck {
    id: TxId,
    flow: Flow,
    bytes: Bytes,
}

pub struct Transactions {
    local: LocalAddrs,
    server: BTreeMap<ServerKey, ServerTx>,
    client: BTreeMap<ClientKey, ClientTx>,
    unacked: BTreeMap<CallSeq, Unacked>,
    /// ACKs we sent for 2xx, resent when the 2xx is retransmitted.
    sent_acks: BTreeMap<CallSeq, SentAck>,
    /// Every deadline of the records above.
    timers: Timers,
    /// BYEs waiting for the ACK of our 2xx in their dialog: RFC 3261 §15 forbids a BYE before
    /// that ACK (or the end of its wait), and a peer may rightly take an early one as unexpected.
    held_byes: Vec<HeldBye>,
    out: Vec<Output>,
}

struct HeldBye {
    call_id: String,
    owner: CallId,
    flow: Flow,
    request: Request,
    key: ClientKey,
}

impl Transactions {
    pub fn new(local: LocalAddrs) -> Self {
        Self {
            local,
            server: BTreeMap::new(),
            client: BTreeMap::new(),
            unacked: BTreeMap::new(),
            sent_acks: BTreeMap::new(),
            timers: Timers::default(),
            held_byes: Vec::new(),
            out: Vec::new(),
        }
    }

    pub fn drain(&mut self) -> std::vec::Drain<'_, Output> {
        self.out.drain(..)
    }

    /// Whether a request of ours still waits: a BYE held for the ACK of our 2xx, or a client
    /// transaction that has had no final response. A stopping daemon waits for these, so that
    /// the calls it ended are ended at the far side too.
    pub fn requests_in_flight(&self) -> bool {
        !self.held_byes.is_empty()
            || self
                .client
                .values()
                .any(|t| t.final_status.is_none() && !t.abandoned)
    }

    pub fn counts(&self) -> (usize, usize) {
        (
            self.server.len(),
            self.client.len() + self.unacked.len() + self.held_byes.len(),
        )
    }

    fn transmit(&mut self, flow: Flow, bytes: Bytes) {
        self.out.push(Output::Transmit { flow, bytes });
    }

    // ---------------------------------------------------------------- server side

    pub fn on_request(
        &mut self,
        now: Instant,
        flow: Flow,
        req: &Request,
        ess: &Essentials,
    ) -> Incoming {
        self.receive(now, flow, req, ess, true)
    }

    /// As [`Transactions::on_request`], but a new INVITE gets no 100 Trying: the layer above
    /// answers it at once (a source that is no trunk and no seat), or sends the 100 itself with
    /// [`Transactions::trying`] once it takes the call.
    pub fn on_request_without_trying(
        &mut self,
        now: Instant,
        flow: Flow,
        req: &Request,
        ess: &Essentials,
    ) -> Incoming {
        self.receive(now, flow, req, ess, false)
    }

    /// 100 Trying for an INVITE that has had no response yet.
    pub fn trying(&mut self, now: Instant, key: &ServerKey, req: &Request) {
        if self.server.get(key).is_some_and(|tx| tx.last.is_none()) {
            let trying = super::build::response(req, 100, None);
            self.respond(now, key, &trying, CallId::CORE);
        }
    }

    fn receive(
        &mut self,
        now: Instant,
        flow: Flow,
        req: &Request,
        ess: &Essentials,
        trying: bool,
    ) -> Incoming {
        let key = ServerKey::of(&req.method, ess);
        match req.method {
            Method::Ack => {
                if let Some(tx) = self.server.get(&key) {
                    // ACK to our non-2xx final: stop retransmitting, linger for Timer I.
                    if tx.last.as_ref().is_some_and(|(s, _)| *s >= 300) {
                        self.timers.stop(tx.id, Timer::Retransmit);
                        let linger = if flow.transport.is_reliable() {
                            Duration::ZERO
                        } else {
                            T4
                        };
                        self.timers.set(tx.id, Timer::Expiry, now + linger);
                        return Incoming::Absorbed;
                    }
                }
                if let Some(u) = self.unacked.remove(&(ess.call_id.clone(), ess.cseq.seq)) {
                    self.timers.forget(u.id);
                    self.release_byes(now, &ess.call_id);
                }
                return Incoming::Ack;
            }
            Method::Cancel => return self.on_cancel(now, flow, req, ess, key),
            _ => {}
        }
        if let Some(tx) = self.server.get(&key) {
            if let Some((_, bytes)) = &tx.last {
                let (flow, bytes) = (tx.flow, bytes.clone());
                self.transmit(flow, bytes);
            }
            return Incoming::Absorbed;
        }
        if req.method == Method::Invite && !trying {
            self.store_server(key.clone(), flow, None);
        } else if req.method == Method::Invite {
            // RFC 3261 §17.2.1: answer at once so the peer stops retransmitting.
            let trying = super::build::response(req, 100, None).to_bytes();
            self.store_server(key.clone(), flow, Some((100, trying.clone())));
            self.transmit(flow, trying);
        } else {
            // An INVITE has no timer before its final (RFC 3261 §17.2.1): the caller may ring
            // and queue for minutes, longer than any fixed limit here, and the owner's answer
            // must still go out. An unanswered non-INVITE is dropped after a while.
            let id = self.store_server(key.clone(), flow, None);
            self.timers.set(id, Timer::Expiry, now + TIMEOUT * 4);
        }
        Incoming::New(key)
    }

    fn on_cancel(
        &mut self,
        now: Instant,
        flow: Flow,
        req: &Request,
        ess: &Essentials,
        key: ServerKey,
    ) -> Incoming {
        if let Some(tx) = self.server.get(&key) {
            if let Some((_, bytes)) = &tx.last {
                let (flow, bytes) = (tx.flow, bytes.clone());
                self.transmit(flow, bytes);
            }
            return Incoming::Absorbed;
        }
        let invite_key = ServerKey {
            method: Method::Invite,
            ..key.clone()
        };
        let pending = self
            .server
            .get(&invite_key)
            .map(|tx| tx.last.as_ref().is_none_or(|(s, _)| *s < 200));
        let status = if pending.is_some() { 200 } else { 481 };
        let response = super::build::response(req, status, None).to_bytes();
        self.transmit(flow, response.clone());
        let id = self.store_server(key, flow, Some((status, response)));
        self.timers.set(id, Timer::Expiry, now + TIMEOUT);
        let _ = ess;
        match pending {
            Some(true) => Incoming::Cancelled { invite: invite_key },
            Some(false) => Incoming::Absorbed,
            None => Incoming::CancelUnmatched,
        }
    }

    /// Sends a response in a server transaction. `owner` is who hears of a 2xx never ACKed.
    pub fn respond(&mut self, now: Instant, key: &ServerKey, response: &Response, owner: CallId) {
        let Some(tx) = self.server.get_mut(key) else {
            return;
        };
        let bytes = response.to_bytes();
        let flow = tx.flow;
        let unreliable = !flow.transport.is_reliable();
        tx.last = Some((response.status, bytes.clone()));
        let id = tx.id;
        if key.method == Method::Invite {
            if response.is_success() {
                // The INVITE transaction ends on a 2xx; the 2xx itself is resent until ACKed.
                self.timers.set(id, Timer::Expiry, now + TIMEOUT);
                if let Some(dialog) = dialog_of(response) {
                    self.store_unacked(now, dialog, owner, flow, bytes.clone());
                }
            } else if response.status >= 300 {
                if unreliable {
                    tx.interval = T1;
                    self.timers.set(id, Timer::Retransmit, now + T1);
                } else {
                    self.timers.stop(id, Timer::Retransmit);
                }
                self.timers.set(id, Timer::Expiry, now + TIMEOUT);
            }
        } else if response.status >= 200 {
            let linger = if unreliable { TIMEOUT } else { Duration::ZERO };
            self.timers.set(id, Timer::Expiry, now + linger);
        }
        self.transmit(flow, bytes);
    }

    // ---------------------------------------------------------------- client side

    /// Starts a client transaction. The request gets its top Via here (with a fresh branch),
    /// so the caller never builds one; the returned key is how its responses come back.
    pub fn send_request(
        &mut self,
        now: Instant,
        owner: CallId,
        flow: Flow,
        mut request: Request,
        branch: String,
    ) -> ClientKey {
        self.put_our_via(&mut request, flow, &branch);
        let key = ClientKey {
            branch,
            method: request.method.clone(),
        };
        let call_id = request.headers.get("Call-ID").unwrap_or("").to_string();
        if request.method == Method::Bye && self.awaits_ack(&call_id) {
            self.held_byes.push(HeldBye {
                call_id,
                owner,
                flow,
                request,
                key: key.clone(),
            });
            return key;
        }
        self.start_client(now, owner, flow, request, key.clone());
        key
    }

    fn awaits_ack(&self, call_id: &str) -> bool {
        self.unacked.keys().any(|(id, _)| id == call_id)
    }

    /// Sends the BYEs held for `call_id` once no 2xx of ours in it waits for an ACK.
    fn release_byes(&mut self, now: Instant, call_id: &str) {
        if self.awaits_ack(call_id) {
            return;
        }
        let (ready, held): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held_byes)
            .into_iter()
            .partition(|b| b.call_id == call_id);
        self.held_byes = held;
        for bye in ready {
            self.start_client(now, bye.owner, bye.flow, bye.request, bye.key);
        }
    }

    fn start_client(
        &mut self,
        now: Instant,
        owner: CallId,
        flow: Flow,
        request: Request,
        key: ClientKey,
    ) {
        let bytes = request.to_bytes();
        self.transmit(flow, bytes.clone());
        let id = self.timers.register(Record::Client(key.clone()));
        if !flow.transport.is_reliable() {
            self.timers.set(id, Timer::Retransmit, now + T1);
        }
        self.timers.set(id, Timer::Timeout, now + TIMEOUT);
        let replaced = self.client.insert(
            key,
            ClientTx {
                id,
                owner,
                flow,
                request,
                bytes,
                got_provisional: false,
                final_status: None,
                answer_tag: None,
                ack: None,
                cancel_wanted: false,
                abandoned: false,
                interval: T1,
            },
        );
        if let Some(old) = replaced {
            self.timers.forget(old.id);
        }
    }

    /// Cancels a pending INVITE: now if it had a provisional response, else as soon as one
    /// arrives (RFC 3261 §9.1). `abandon` also hands the transaction over to this layer, so the
    /// owner can go: a late 2xx is then ACKed and hung up with a BYE here.
    pub fn cancel(&mut self, now: Instant, key: &ClientKey, abandon: bool) {
        let Some(tx) = self.client.get_mut(key) else {
            return;
        };
        tx.abandoned |= abandon;
        if tx.final_status.is_some() || tx.cancel_wanted {
            return;
        }
        tx.cancel_wanted = true;
        if tx.got_provisional {
            self.send_cancel(now, key);
        }
    }

    fn send_cancel(&mut self, now: Instant, invite: &ClientKey) {
        let Some(tx) = self.client.get(invite) else {
            return;
        };
        let cancel = super::build::cancel_for(&tx.request);
        let (owner, flow) = (tx.owner, tx.flow);
        let key = ClientKey {
            branch: invite.branch.clone(),
            method: Method::Cancel,
        };
        self.start_client(now, owner, flow, cancel, key);
        if let Some(c) = self.client.get_mut(&ClientKey {
            branch: invite.branch.clone(),
            method: Method::Cancel,
        }) {
            // Nobody needs the CANCEL's own answer: the INVITE's 487 tells the story.
            c.abandoned = true;
        }
        // With no final 64·T1 after the CANCEL, the INVITE is given up (RFC 3261 §9.1).
        if let Some(tx) = self.client.get(invite) {
            self.timers.set(tx.id, Timer::Timeout, now + TIMEOUT);
        }
    }

    /// Sends the ACK for a 2xx (a transaction of its own, RFC 3261 §13.2.2.4) and keeps it to
    /// answer a retransmitted 2xx.
    /// Replaces any Via with ours, on top: our address for the flow's transport and `branch`.
    fn put_our_via(&self, request: &mut Request, flow: Flow, branch: &str) {
        let local = self.local.for_transport(flow.transport);
        request.headers.remove("Via");
        let mut headers = super::message::Headers::new();
        headers.push(
            "Via",
            format!(
                "SIP/2.0/{} {local};branch={branch};rport",
                flow.transport.as_str()
            ),
        );
        for (name, value) in request.headers.iter() {
            headers.push(name, value);
        }
        request.headers = headers;
    }

    pub fn send_ack(
        &mut self,
        now: Instant,
        flow: Flow,
        mut ack: Request,
        call_id: &str,
        seq: u32,
    ) {
        self.put_our_via(&mut ack, flow, &ids::branch());
        let bytes = ack.to_bytes();
        let dialog = (call_id.to_string(), seq);
        let id = self.timers.register(Record::SentAck(dialog.clone()));
        self.timers.set(id, Timer::Expiry, now + TIMEOUT);
        let sent = SentAck {
            id,
            flow,
            bytes: bytes.clone(),
        };
        if let Some(old) = self.sent_acks.insert(dialog, sent) {
            self.timers.forget(old.id);
        }
        self.transmit(flow, bytes);
    }

    pub fn on_response(&mut self, now: Instant, response: Response) {
        let Some((branch, method)) = client_key_of(&response) else {
            return;
        };
        let key = ClientKey { branch, method };
        let Some(tx) = self.client.get_mut(&key) else {
            // A 2xx retransmitted after its INVITE transaction ended: resend our ACK.
            if response.is_success() && key.method == Method::Invite {
                if let Some(ack) = dialog_of(&response).and_then(|d| self.sent_acks.get(&d)) {
                    let (flow, bytes) = (ack.flow, ack.bytes.clone());
                    self.transmit(flow, bytes);
                }
            }
            return;
        };
        let invite = key.method == Method::Invite;
        if response.is_provisional() {
            if tx.final_status.is_some() {
                return;
            }
            let first = !tx.got_provisional;
            tx.got_provisional = true;
            // RFC 3261 §17.1.2.2: after a provisional, a non-INVITE retransmits every T2;
            // an INVITE stops retransmitting.
            if invite {
                self.timers.stop(tx.id, Timer::Retransmit);
                // Timer B runs only until the first provisional (RFC 3261 §17.1.1.2): a seat
                // may ring longer than 64·T1, and a 408 here would end the transaction under
                // the owner, who could then no longer CANCEL it.
                self.timers.stop(tx.id, Timer::Timeout);
            } else if self.timers.is_set(tx.id, Timer::Retransmit) {
                tx.interval = T2;
                self.timers.set(tx.id, Timer::Retransmit, now + T2);
            }
            let (owner, abandoned, cancel_wanted) = (tx.owner, tx.abandoned, tx.cancel_wanted);
            if first && cancel_wanted {
                self.send_cancel(now, &key);
            }
            if !abandoned {
                self.out.push(Output::Response {
                    owner,
                    key,
                    response,
                });
            }
            return;
        }
        // A final response.
        if let Some(status) = tx.final_status {
            if invite && status >= 300 {
                if let Some(ack) = tx.ack.clone() {
                    let flow = tx.flow;
                    self.out.push(Output::Transmit { flow, bytes: ack });
                }
            }
            if !(invite && response.is_success()) {
                return;
            }
            // The same 2xx again: the transaction lingers after a 2xx, so the path for a 2xx
            // without a transaction (above) never saw these. Resend our stored ACK, and tell
            // neither the owner (a duplicate) nor hang_up_stray (a second BYE) again.
            if tx.answer_tag.is_some() && tx.answer_tag == to_tag(&response) {
                if let Some(ack) = dialog_of(&response).and_then(|d| self.sent_acks.get(&d)) {
                    let (flow, bytes) = (ack.flow, ack.bytes.clone());
                    self.out.push(Output::Transmit { flow, bytes });
                }
                return;
            }
        }
        if response.is_success() && tx.answer_tag.is_none() {
            tx.answer_tag = to_tag(&response);
        }
        tx.final_status = Some(response.status);
        self.timers.stop(tx.id, Timer::Retransmit);
        self.timers.stop(tx.id, Timer::Timeout);
        let unreliable = !tx.flow.transport.is_reliable();
        let (owner, abandoned, flow) = (tx.owner, tx.abandoned, tx.flow);
        let linger = if invite && response.status >= 300 {
            let ack = super::build::ack_for_failure(&tx.request, &response).to_bytes();
            tx.ack = Some(ack.clone());
            self.out.push(Output::Transmit { flow, bytes: ack });
            if unreliable {
                TIMEOUT
            } else {
                Duration::ZERO
            }
        } else if invite {
            // Keep the transaction a while to see 2xx retransmissions from forked answers.
            TIMEOUT
        } else if unreliable {
            T4
        } else {
            Duration::ZERO
        };
        self.timers.set(tx.id, Timer::Expiry, now + linger);
        if abandoned {
            if invite && response.is_success() {
                self.hang_up_stray(now, flow, owner, &key, &response);
            }
            return;
        }
        self.out.push(Output::Response {
            owner,
            key,
            response,
        });
    }

    /// A 2xx for an INVITE nobody waits for any more: ACK it and end it at once.
    fn hang_up_stray(
        &mut self,
        now: Instant,
        flow: Flow,
        owner: CallId,
        key: &ClientKey,
        response: &Response,
    ) {
        let Some(tx) = self.client.get(key) else {
            return;
        };
        let ack = super::build::ack_for_success(&tx.request, response);
        let bye = super::build::bye_after_success(&tx.request, response);
        let call_id = tx.request.headers.get("Call-ID").unwrap_or("").to_string();
        let seq = super::headers::CSeq::parse(tx.request.headers.get("CSeq").unwrap_or(""))
            .map(|c| c.seq)
            .unwrap_or(0);
        self.send_ack(now, flow, ack, &call_id, seq);
        let key = self.send_request(now, owner, flow, bye, ids::branch());
        if let Some(tx) = self.client.get_mut(&key) {
            tx.abandoned = true;
        }
    }

    // ---------------------------------------------------------------- storing records

    /// Stores a server transaction under a new number; its timers are the caller's to set.
    fn store_server(&mut self, key: ServerKey, flow: Flow, last: Option<(u16, Bytes)>) -> TxId {
        let id = self.timers.register(Record::Server(key.clone()));
        let tx = ServerTx {
            id,
            flow,
            last,
            interval: T1,
        };
        if let Some(old) = self.server.insert(key, tx) {
            self.timers.forget(old.id);
        }
        id
    }

    /// Keeps a 2xx to resend until its ACK, for 64·T1 at most (RFC 3261 §13.3.1.4).
    fn store_unacked(
        &mut self,
        now: Instant,
        dialog: CallSeq,
        owner: CallId,
        flow: Flow,
        bytes: Bytes,
    ) {
        let id = self.timers.register(Record::Unacked(dialog.clone()));
        self.timers.set(id, Timer::Retransmit, now + T1);
        self.timers.set(id, Timer::GiveUp, now + TIMEOUT);
        let u = Unacked {
            id,
            owner,
            flow,
            bytes,
            interval: T1,
        };
        if let Some(old) = self.unacked.insert(dialog, u) {
            self.timers.forget(old.id);
        }
    }
}

fn client_key_of(response: &Response) -> Option<(String, Method)> {
    let via = super::headers::Via::parse(
        super::grammar::split_commas(response.headers.get("Via")?).first()?,
    )
    .ok()?;
    let branch = via.branch()?.to_string();
    let cseq = super::headers::CSeq::parse(response.headers.get("CSeq")?).ok()?;
    Some((branch, cseq.method))
}

fn to_tag(response: &Response) -> Option<String> {
    NameAddr::parse(response.headers.get("To")?)
        .ok()?
        .tag()
        .map(str::to_string)
}

fn dialog_of(response: &Response) -> Option<CallSeq> {
    let call_id = response.headers.get("Call-ID")?.to_string();
    let cseq = super::headers::CSeq::parse(response.headers.get("CSeq")?).ok()?;
    Some((call_id, cseq.seq))
}

/// The To header of a response with our tag, for the UAS side of a new dialog.
pub fn to_with_tag(req: &Request, tag: &str) -> String {
    with_tag(req.headers.get("To").unwrap_or(""), tag)
}

/// The remote tag of a request's From header.
pub fn from_tag(req: &Request) -> Option<String> {
    NameAddr::parse(req.headers.get("From")?)
        .ok()?
        .tag()
        .map(str::to_string)
}

#[cfg(test)]
#[path = "transaction_tests.rs"]
mod tests;
