//! Requests a peer sends inside a call's dialog, answered the same way for every kind of call.

use std::net::SocketAddr;

use super::caller_leg::with_sdp;
use super::io::{CallIo, ALLOW};
use crate::media::sdp::{self, Direction};
use crate::sip::build;
use crate::sip::message::{Method, Request, Response};
use crate::sip::transaction::ServerKey;

pub enum InDialog {
    /// BYE, answered 200.
    Bye,
    /// A re-INVITE (session refresh, new address, hold or resume), answered with our
    /// description; carries the peer's RTP address when its SDP has one, and the direction it
    /// offered (sendonly or inactive: the peer holds the call).
    Refresh(Option<SocketAddr>, Direction),
    /// REFER, not answered yet: whoever drives the call decides (202 or 403).
    Refer(ServerKey, Request),
    /// INFO, answered 200: may carry a key press (`application/dtmf-relay`).
    Info(Request),
    /// Anything else, already answered.
    Handled,
}

/// Refuses a REFER in a call that does not transfer (a ringing call, a feature call).
pub async fn refuse_refer(io: &CallIo, key: ServerKey, request: &Request) {
    io.respond(key, build::response(request, 403, None)).await;
}

/// Answers `request`. `ours` is the description we gave this peer (None before we gave one);
/// `decorate` adds our Contact and Server to a 200 for a re-INVITE.
pub async fn answer(
    io: &CallIo,
    key: ServerKey,
    request: Request,
    ours: Option<&str>,
    decorate: impl Fn(&mut Response),
) -> InDialog {
    match request.method {
        Method::Bye => {
            io.respond(key, build::response(&request, 200, None)).await;
            InDialog::Bye
        }
        Method::Invite => {
            let Some(ours) = ours else {
                io.respond(key, build::response(&request, 491, None)).await;
                return InDialog::Handled;
            };
            let offer = sdp::parse(&request.body).ok();
            // A new offer must still hold the codec this leg was set up with: the daemon does
            // not change a running stream's codec (RFC 3264 §8.3.2 lets the answerer refuse).
            let our_codec = sdp::parse(ours.as_bytes())
                .ok()
                .and_then(|d| d.audio.as_ref()?.supported_codecs().next())
                .map(|f| f.codec);
            let keeps_codec = match (&offer, our_codec) {
                (Some(offer), Some(ours)) => offer
                    .audio
                    .as_ref()
                    .is_some_and(|a| a.supported_codecs().any(|f| f.codec == ours)),
                _ => true,
            };
            if !keeps_codec {
                io.respond(key, build::response(&request, 488, None)).await;
                return InDialog::Handled;
            }
            let remote = offer.as_ref().and_then(|o| o.audio_rtp_addr());
            let direction = offer
                .as_ref()
                .and_then(|o| sdp::negotiate(o).ok())
                .map_or(Direction::SendRecv, |n| n.direction);
            let mut response = build::response(&request, 200, None);
            decorate(&mut response);
            let answer = sdp::with_direction(ours, direction.answer(Direction::SendRecv));
            with_sdp(&mut response, answer);
            io.respond(key, response).await;
            InDialog::Refresh(remote, direction)
        }
        Method::Info => {
            io.respond(key.clone(), build::response(&request, 200, None))
                .await;
            InDialog::Info(request)
        }
        Method::Refer => InDialog::Refer(key, request),
        Method::Options | Method::Update => {
            io.respond(key, build::response(&request, 200, None)).await;
            InDialog::Handled
        }
        Method::Other(_) => {
            io.respond(key, build::response(&request, 501, None)).await;
            InDialog::Handled
        }
        _ => {
            let mut response = build::response(&request, 405, None);
            response.headers.push("Allow", ALLOW);
            io.respond(key, response).await;
            InDialog::Handled
        }
    }
}
