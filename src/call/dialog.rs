//! The two kinds of dialog a call holds: the caller's (we are the UAS) and each seat's (we are
//! the UAC). Each builds the requests we send inside it (RFC 3261 §12.2.1.1).

use crate::sip::flow::Flow;
use crate::sip::grammar::split_commas;
use crate::sip::headers::{with_tag, NameAddr};
use crate::sip::message::{Method, Request, Response};

#[derive(Debug, Clone)]
pub struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    /// Our side's address with our tag: From in our requests.
    local: String,
    /// The peer's address with its tag: To in our requests.
    remote: String,
    /// Where requests go: the peer's Contact.
    remote_target: String,
    route_set: Vec<String>,
    local_seq: u32,
    /// The flow our requests take: the one the peer's messages came in on.
    pub flow: Flow,
}

impl Dialog {
    /// The caller's dialog, from its INVITE and the tag we put in our responses.
    pub fn uas(invite: &Request, local_tag: &str, flow: Flow) -> Dialog {
        let h = &invite.headers;
        Dialog {
            call_id: h.get("Call-ID").unwrap_or_default().to_string(),
            local_tag: local_tag.to_string(),
            local: with_tag(h.get("To").unwrap_or_default(), local_tag),
            remote: h.get("From").unwrap_or_default().to_string(),
            remote_target: contact_uri(h.get("Contact")).unwrap_or_else(|| invite.uri.clone()),
            route_set: h
                .get_all("Record-Route")
                .flat_map(split_commas)
                .map(str::to_string)
                .collect(),
            local_seq: 0,
            flow,
        }
    }

    /// A seat's dialog, from the INVITE we sent and its 2xx.
    pub fn uac(invite: &Request, response: &Response, local_tag: &str, flow: Flow) -> Dialog {
        let h = &invite.headers;
        let mut route_set: Vec<String> = response
            .headers
            .get_all("Record-Route")
            .flat_map(split_commas)
            .map(str::to_string)
            .collect();
        route_set.reverse();
        Dialog {
            call_id: h.get("Call-ID").unwrap_or_default().to_string(),
            local_tag: local_tag.to_string(),
            local: h.get("From").unwrap_or_default().to_string(),
            remote: response.headers.get("To").unwrap_or_default().to_string(),
            remote_target: contact_uri(response.headers.get("Contact"))
                .unwrap_or_else(|| invite.uri.clone()),
            route_set,
            local_seq: seq_of(invite),
            flow,
        }
    }

    /// A new request in the dialog, with the next CSeq.
    pub fn request(&mut self, method: Method) -> Request {
        self.local_seq += 1;
        let mut req = Request::new(method.clone(), self.remote_target.clone());
        for route in &self.route_set {
            req.headers.push("Route", route.as_str());
        }
        req.headers.push("Max-Forwards", "70");
        req.headers.push("From", self.local.as_str());
        req.headers.push("To", self.remote.as_str());
        req.headers.push("Call-ID", self.call_id.as_str());
        req.headers
            .push("CSeq", format!("{} {}", self.local_seq, method));
        req
    }
}

fn contact_uri(value: Option<&str>) -> Option<String> {
    let first = *split_commas(value?).first()?;
    NameAddr::parse(first).ok().map(|a| a.uri)
}

fn seq_of(req: &Request) -> u32 {
    req.headers
        .get("CSeq")
        .and_then(|v| crate::sip::headers::CSeq::parse(v).ok())
        .map(|c| c.seq)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::flow::Transport;
    use crate::sip::message::Message;
    use crate::sip::parse::parse;

    fn flow() -> Flow {
        Flow {
            transport: Transport::Udp,
            remote: "127.0.0.1:5080".parse().unwrap(),
        }
    }

    #[test]
    fn uas_dialog_swaps_from_and_to_and_follows_record_route() {
        let raw = "INVITE sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK1\r\nRecord-Route: <sip:p1;lr>, <sip:p2;lr>\r\nFrom: <sip:555@trunk>;tag=abc\r\nTo: <sip:12345@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 7 INVITE\r\nContact: <sip:555@127.0.0.1:5080>\r\nContent-Length: 0\r\n\r\n";
        let Ok(Message::Request(invite)) = parse(raw.as_bytes()) else {
            panic!("parse")
        };
        let mut d = Dialog::uas(&invite, "mytag", flow());
        let bye = d.request(Method::Bye);
        assert_eq!(bye.uri, "sip:555@127.0.0.1:5080");
        assert_eq!(
            bye.headers.get("From"),
            Some("<sip:12345@127.0.0.1>;tag=mytag")
        );
        assert_eq!(bye.headers.get("To"), Some("<sip:555@trunk>;tag=abc"));
        assert_eq!(bye.headers.get("CSeq"), Some("1 BYE"));
        assert_eq!(
            bye.headers.get_all("Route").collect::<Vec<_>>(),
            vec!["<sip:p1;lr>", "<sip:p2;lr>"]
        );
    }
}
