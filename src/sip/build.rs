//! Building the messages the transaction layer and the dialogs send.

use super::headers::{with_tag, CSeq, NameAddr};
use super::message::{reason_phrase, Headers, Method, Request, Response};

/// A response to a request: Via, From, To, Call-ID and CSeq copied (RFC 3261 §8.2.6.2).
/// `to_tag` is added to To unless it already has one, and never to a 100.
pub fn response(req: &Request, status: u16, to_tag: Option<&str>) -> Response {
    response_from_headers(&req.headers, status, reason_phrase(status), to_tag)
}

pub fn response_from_headers(
    headers: &Headers,
    status: u16,
    reason: &str,
    to_tag: Option<&str>,
) -> Response {
    let mut response = Response::new(status, reason);
    for via in headers.get_all("Via") {
        response.headers.push("Via", via);
    }
    if let Some(from) = headers.get("From") {
        response.headers.push("From", from);
    }
    if let Some(to) = headers.get("To") {
        let to = match to_tag {
            Some(tag) if status > 100 => with_tag(to, tag),
            _ => to.to_string(),
        };
        response.headers.push("To", to);
    }
    for name in ["Call-ID", "CSeq"] {
        if let Some(value) = headers.get(name) {
            response.headers.push(name, value);
        }
    }
    response
}

/// Whether a broken request still has what a response needs.
pub fn can_answer(headers: &Headers) -> bool {
    ["Via", "From", "To", "Call-ID", "CSeq"]
        .iter()
        .all(|h| headers.get(h).is_some())
}

/// The 408 a client transaction reports when its peer never answered (RFC 3261 §8.1.3.1).
pub fn timeout_response(req: &Request) -> Response {
    response(req, 408, None)
}

/// CANCEL for a pending INVITE (RFC 3261 §9.1): same Request-URI, Call-ID, From, To, Route and
/// CSeq number; the top Via is added by the transaction layer with the INVITE's branch.
pub fn cancel_for(invite: &Request) -> Request {
    let mut cancel = Request::new(Method::Cancel, invite.uri.clone());
    for via in invite.headers.get_all("Via").take(1) {
        cancel.headers.push("Via", via);
    }
    copy(&invite.headers, &mut cancel.headers, &["Route"]);
    copy(
        &invite.headers,
        &mut cancel.headers,
        &["Max-Forwards", "From", "To", "Call-ID"],
    );
    cancel
        .headers
        .push("CSeq", format!("{} CANCEL", seq_of(invite)));
    cancel
}

/// ACK for a non-2xx final: part of the INVITE transaction, so it keeps the INVITE's top Via
/// (RFC 3261 §17.1.1.3).
pub fn ack_for_failure(invite: &Request, response: &Response) -> Request {
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    for via in invite.headers.get_all("Via").take(1) {
        ack.headers.push("Via", via);
    }
    copy(&invite.headers, &mut ack.headers, &["Route"]);
    copy(&invite.headers, &mut ack.headers, &["Max-Forwards", "From"]);
    if let Some(to) = response.headers.get("To") {
        ack.headers.push("To", to);
    }
    copy(&invite.headers, &mut ack.headers, &["Call-ID"]);
    ack.headers.push("CSeq", format!("{} ACK", seq_of(invite)));
    ack
}

/// ACK for a 2xx: a request within the new dialog, sent to the 2xx's Contact.
pub fn ack_for_success(invite: &Request, response: &Response) -> Request {
    in_dialog_after_success(invite, response, Method::Ack, seq_of(invite))
}

/// BYE for a 2xx nobody wanted (a late answer after CANCEL).
pub fn bye_after_success(invite: &Request, response: &Response) -> Request {
    in_dialog_after_success(invite, response, Method::Bye, seq_of(invite) + 1)
}

fn in_dialog_after_success(
    invite: &Request,
    response: &Response,
    method: Method,
    seq: u32,
) -> Request {
    let target = response
        .headers
        .get("Contact")
        .and_then(|c| NameAddr::parse(super::grammar::split_commas(c).first()?).ok())
        .map(|c| c.uri)
        .unwrap_or_else(|| invite.uri.clone());
    let mut req = Request::new(method.clone(), target);
    let routes: Vec<&str> = response.headers.get_all("Record-Route").collect();
    for route in routes.iter().rev() {
        req.headers.push("Route", *route);
    }
    req.headers.push("Max-Forwards", "70");
    copy(&invite.headers, &mut req.headers, &["From"]);
    if let Some(to) = response.headers.get("To") {
        req.headers.push("To", to);
    }
    copy(&invite.headers, &mut req.headers, &["Call-ID"]);
    req.headers.push("CSeq", format!("{seq} {method}"));
    req
}

fn seq_of(req: &Request) -> u32 {
    req.headers
        .get("CSeq")
        .and_then(|c| CSeq::parse(c).ok())
        .map(|c| c.seq)
        .unwrap_or(1)
}

fn copy(from: &Headers, to: &mut Headers, names: &[&str]) {
    for name in names {
        for value in from.get_all(name) {
            to.push(name, value);
        }
    }
}
