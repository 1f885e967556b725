//! Requests a peer sends inside a call's dialog, answered the same way for every kind of call.

use std::net::SocketAddr;

use super::caller_leg::with_sdp;
use super::io::{CallIo, ALLOW};
use crate::media::sdp;
use crate::sip::build;
use crate::sip::message::{Method, Request, Response};
use crate::sip::transaction::ServerKey;

pub enum InDialog {
    /// BYE, answered 200.
    Bye,
    /// A re-INVITE (session refresh, new address), answered with our description; carries
    /// the peer's RTP address when its SDP has one.
    Refresh(Option<SocketAddr>),
    /// INFO, answered 200: may carry a key press (`application/dtmf-relay`).
    Info(Request),
    /// Anything else, already answered.
    Handled,
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
            let remote = sdp::parse(&request.body)
                .ok()
                .and_then(|o| o.audio_rtp_addr());
            let mut response = build::response(&request, 200, None);
            decorate(&mut response);
            with_sdp(&mut response, ours.to_string());
            io.respond(key, response).await;
            InDialog::Refresh(remote)
        }
        Method::Info => {
            io.respond(key.clone(), build::response(&request, 200, None))
                .await;
            InDialog::Info(request)
        }
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
