//! The transaction layer (RFC 3261 §17) as a state machine without I/O.
//!
//! Input: messages and the current time. Output: bytes to transmit and events for the owner of
//! a client transaction. Retransmissions, absorbing a peer's retransmissions, ACK for non-2xx
//! finals and the 408 of a timed-out request all live here, so the call logic above never sees
//! a duplicate and never resends anything itself.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::flow::{Flow, LocalAddrs};
use super::headers::{with_tag, NameAddr};
use super::ids;
use super::message::{Method, Request, Response};
use super::validate::Essentials;

pub const T1: Duration = Duration::from_millis(500);
pub const T2: Duration = Duration::from_secs(4);
pub const T4: Duration = Duration::from_secs(5);
/// Timers B, F, H and J: how long a transaction lives without an answer.
pub const TIMEOUT: Duration = Duration::from_millis(64 * 500);

/// Who a client transaction or a sent 2xx belongs to: a call task's number.
pub type Owner = u64;

/// A server transaction: the top Via's branch and sent-by, and the method (ACK and CANCEL
/// match the INVITE by branch, RFC 3261 §17.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
        owner: Owner,
        key: ClientKey,
        response: Response,
    },
    /// A 2xx we sent was never ACKed (RFC 3261 §13.3.1.4): the owner should hang up.
    AckTimeout {
        owner: Owner,
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
    flow: Flow,
    last: Option<(u16, Bytes)>,
    retransmit: Option<(Instant, Duration)>,
    expires: Option<Instant>,
}

struct ClientTx {
    owner: Owner,
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
    retransmit: Option<(Instant, Duration)>,
    timeout: Option<Instant>,
    expires: Option<Instant>,
}

/// A 2xx to an INVITE that we keep sending until its ACK arrives (RFC 3261 §13.3.1.4).
struct Unacked {
    owner: Owner,
    flow: Flow,
    bytes: Bytes,
    next: Instant,
    interval: Duration,
    give_up: Instant,
}

pub struct Transactions {
    local: LocalAddrs,
    server: HashMap<ServerKey, ServerTx>,
    client: HashMap<ClientKey, ClientTx>,
    /// Keyed by Call-ID and CSeq number of the INVITE.
    unacked: HashMap<(String, u32), Unacked>,
    /// ACKs we sent for 2xx, resent when the 2xx is retransmitted.
    sent_acks: HashMap<(String, u32), (Flow, Bytes, Instant)>,
    /// BYEs waiting for the ACK of our 2xx in their dialog: RFC 3261 §15 forbids a BYE before
    /// that ACK (or the end of its wait), and a peer may rightly take an early one as unexpected.
    held_byes: Vec<HeldBye>,
    out: Vec<Output>,
}

struct HeldBye {
    call_id: String,
    owner: Owner,
    flow: Flow,
    request: Request,
    key: ClientKey,
}

impl Transactions {
    pub fn new(local: LocalAddrs) -> Self {
        Self {
            local,
            server: HashMap::new(),
            client: HashMap::new(),
            unacked: HashMap::new(),
            sent_acks: HashMap::new(),
            held_byes: Vec::new(),
            out: Vec::new(),
        }
    }

    pub fn drain(&mut self) -> std::vec::Drain<'_, Output> {
        self.out.drain(..)
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
        let key = ServerKey::of(&req.method, ess);
        match req.method {
            Method::Ack => {
                if let Some(tx) = self.server.get_mut(&key) {
                    // ACK to our non-2xx final: stop retransmitting, linger for Timer I.
                    if tx.last.as_ref().is_some_and(|(s, _)| *s >= 300) {
                        tx.retransmit = None;
                        tx.expires = Some(
                            now + if flow.transport.is_reliable() {
                                Duration::ZERO
                            } else {
                                T4
                            },
                        );
                        return Incoming::Absorbed;
                    }
                }
                if self
                    .unacked
                    .remove(&(ess.call_id.clone(), ess.cseq.seq))
                    .is_some()
                {
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
        let mut tx = ServerTx {
            flow,
            last: None,
            retransmit: None,
            // An INVITE has no timer before its final (RFC 3261 §17.2.1): the caller may ring
            // and queue for minutes, longer than any fixed limit here, and the owner's answer
            // must still go out. An unanswered non-INVITE is dropped after a while.
            expires: (req.method != Method::Invite).then(|| now + TIMEOUT * 4),
        };
        if req.method == Method::Invite {
            // RFC 3261 §17.2.1: answer at once so the peer stops retransmitting.
            let trying = super::build::response(req, 100, None).to_bytes();
            tx.last = Some((100, trying.clone()));
            self.transmit(flow, trying);
        }
        self.server.insert(key.clone(), tx);
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
        self.server.insert(
            key,
            ServerTx {
                flow,
                last: Some((status, response)),
                retransmit: None,
                expires: Some(now + TIMEOUT),
            },
        );
        let _ = ess;
        match pending {
            Some(true) => Incoming::Cancelled { invite: invite_key },
            Some(false) => Incoming::Absorbed,
            None => Incoming::CancelUnmatched,
        }
    }

    /// Sends a response in a server transaction. `owner` is who hears of a 2xx never ACKed.
    pub fn respond(&mut self, now: Instant, key: &ServerKey, response: &Response, owner: Owner) {
        let Some(tx) = self.server.get_mut(key) else {
            return;
        };
        let bytes = response.to_bytes();
        let flow = tx.flow;
        let unreliable = !flow.transport.is_reliable();
        tx.last = Some((response.status, bytes.clone()));
        if key.method == Method::Invite {
            if response.is_success() {
                // The INVITE transaction ends on a 2xx; the 2xx itself is resent until ACKed.
                tx.expires = Some(now + TIMEOUT);
                if let Some((call_id, seq)) = dialog_of(response) {
                    self.unacked.insert(
                        (call_id, seq),
                        Unacked {
                            owner,
                            flow,
                            bytes: bytes.clone(),
                            next: now + T1,
                            interval: T1,
                            give_up: now + TIMEOUT,
                        },
                    );
                }
            } else if response.status >= 300 {
                tx.retransmit = unreliable.then_some((now + T1, T1));
                tx.expires = Some(now + TIMEOUT);
            }
        } else if response.status >= 200 {
            tx.expires = Some(now + if unreliable { TIMEOUT } else { Duration::ZERO });
        }
        self.transmit(flow, bytes);
    }

    // ---------------------------------------------------------------- client side

    /// Starts a client transaction. The request gets its top Via here (with a fresh branch),
    /// so the caller never builds one; the returned key is how its responses come back.
    pub fn send_request(
        &mut self,
        now: Instant,
        owner: Owner,
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
        owner: Owner,
        flow: Flow,
        request: Request,
        key: ClientKey,
    ) {
        let bytes = request.to_bytes();
        let unreliable = !flow.transport.is_reliable();
        self.transmit(flow, bytes.clone());
        self.client.insert(
            key,
            ClientTx {
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
                retransmit: unreliable.then_some((now + T1, T1)),
                timeout: Some(now + TIMEOUT),
                expires: None,
            },
        );
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
        if let Some(tx) = self.client.get_mut(invite) {
            tx.timeout = Some(now + TIMEOUT);
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
        self.sent_acks.insert(
            (call_id.to_string(), seq),
            (flow, bytes.clone(), now + TIMEOUT),
        );
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
                if let Some((call_id, seq)) = dialog_of(&response) {
                    if let Some((flow, bytes, _)) = self.sent_acks.get(&(call_id, seq)) {
                        let (flow, bytes) = (*flow, bytes.clone());
                        self.transmit(flow, bytes);
                    }
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
            tx.retransmit = if invite {
                None
            } else {
                tx.retransmit.map(|(_, _)| (now + T2, T2))
            };
            if invite {
                // Timer B runs only until the first provisional (RFC 3261 §17.1.1.2): a seat
                // may ring longer than 64·T1, and a 408 here would end the transaction under
                // the owner, who could then no longer CANCEL it.
                tx.timeout = None;
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
                if let Some((call_id, seq)) = dialog_of(&response) {
                    if let Some((flow, bytes, _)) = self.sent_acks.get(&(call_id, seq)) {
                        let (flow, bytes) = (*flow, bytes.clone());
                        self.out.push(Output::Transmit { flow, bytes });
                    }
                }
                return;
            }
        }
        if response.is_success() && tx.answer_tag.is_none() {
            tx.answer_tag = to_tag(&response);
        }
        tx.final_status = Some(response.status);
        tx.retransmit = None;
        tx.timeout = None;
        let unreliable = !tx.flow.transport.is_reliable();
        let (owner, abandoned, flow) = (tx.owner, tx.abandoned, tx.flow);
        if invite && response.status >= 300 {
            let ack = super::build::ack_for_failure(&tx.request, &response).to_bytes();
            tx.ack = Some(ack.clone());
            tx.expires = Some(now + if unreliable { TIMEOUT } else { Duration::ZERO });
            self.transmit(flow, ack);
        } else if invite {
            // Keep the transaction a while to see 2xx retransmissions from forked answers.
            tx.expires = Some(now + TIMEOUT);
        } else {
            tx.expires = Some(now + if unreliable { T4 } else { Duration::ZERO });
        }
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
        owner: Owner,
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

    // ---------------------------------------------------------------- timers

    pub fn poll_timeout(&self) -> Option<Instant> {
        let server = self
            .server
            .values()
            .flat_map(|t| [t.retransmit.map(|(at, _)| at), t.expires]);
        let client = self
            .client
            .values()
            .flat_map(|t| [t.retransmit.map(|(at, _)| at), t.timeout, t.expires]);
        let unacked = self.unacked.values().map(|u| Some(u.next.min(u.give_up)));
        let acks = self.sent_acks.values().map(|(_, _, at)| Some(*at));
        server
            .chain(client)
            .chain(unacked)
            .chain(acks)
            .flatten()
            .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let mut out = Vec::new();
        self.server.retain(|_, tx| {
            if let Some((at, interval)) = tx.retransmit {
                if at <= now {
                    if let Some((_, bytes)) = &tx.last {
                        out.push(Output::Transmit {
                            flow: tx.flow,
                            bytes: bytes.clone(),
                        });
                    }
                    let next = (interval * 2).min(T2);
                    tx.retransmit = Some((now + next, next));
                }
            }
            tx.expires.is_none_or(|at| at > now)
        });
        let mut timed_out = Vec::new();
        self.client.retain(|key, tx| {
            if let Some((at, interval)) = tx.retransmit {
                if at <= now {
                    out.push(Output::Transmit {
                        flow: tx.flow,
                        bytes: tx.bytes.clone(),
                    });
                    // Timer A doubles without bound; Timer E is capped at T2.
                    let next = if key.method == Method::Invite {
                        interval * 2
                    } else {
                        (interval * 2).min(T2)
                    };
                    tx.retransmit = Some((now + next, next));
                }
            }
            if tx.timeout.is_some_and(|at| at <= now) {
                if !tx.abandoned {
                    timed_out.push((
                        tx.owner,
                        key.clone(),
                        super::build::timeout_response(&tx.request),
                    ));
                }
                return false;
            }
            tx.expires.is_none_or(|at| at > now)
        });
        for (owner, key, response) in timed_out {
            out.push(Output::Response {
                owner,
                key,
                response,
            });
        }
        let mut gave_up = Vec::new();
        self.unacked.retain(|(call_id, _), u| {
            if u.give_up <= now {
                out.push(Output::AckTimeout {
                    owner: u.owner,
                    call_id: call_id.clone(),
                });
                gave_up.push(call_id.clone());
                return false;
            }
            if u.next <= now {
                out.push(Output::Transmit {
                    flow: u.flow,
                    bytes: u.bytes.clone(),
                });
                u.interval = (u.interval * 2).min(T2);
                u.next = now + u.interval;
            }
            true
        });
        self.sent_acks.retain(|_, (_, _, at)| *at > now);
        self.out.extend(out);
        // RFC 3261 §15: with the 2xx's wait over, the held BYE may go.
        for call_id in gave_up {
            self.release_byes(now, &call_id);
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

fn dialog_of(response: &Response) -> Option<(String, u32)> {
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
