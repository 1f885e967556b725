//! Offer/answer decisions. Both legs of a call end up on the same codec so
//! the relay only ever forwards packets; the price is that a caller and a
//! seat with no codec in common get a 488 instead of transcoding.

use std::net::SocketAddr;

use super::{
    AudioMedia, Direction, LocalMedia, PayloadFormat, SdpError, SdpParams, SessionDescription,
};
use crate::media::PtMap;

/// The outcome of looking at a remote description: what we will use with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The chosen codec with the remote side's PT for it.
    pub audio: PayloadFormat,
    /// The remote side's telephone-event PT, if it has one.
    pub telephone_event: Option<u8>,
    /// Where to send RTP; `None` on hold or a rejected stream.
    pub remote: Option<SocketAddr>,
    /// The remote side's direction.
    pub direction: Direction,
    pub ptime: Option<u32>,
}

/// The audio section of a description we can talk to, or why not.
fn usable_audio(sd: &SessionDescription) -> Result<&AudioMedia, SdpError> {
    let audio = sd.audio.as_ref().ok_or(SdpError::NoAudio)?;
    if audio.port == 0 {
        return Err(SdpError::AudioRejected);
    }
    if !audio.proto.eq_ignore_ascii_case("RTP/AVP") {
        return Err(SdpError::UnsupportedTransport(audio.proto.clone()));
    }
    Ok(audio)
}

/// Picks the first codec in the remote's order that we support. Works on an
/// offer (we are the answerer) and on an answer (it names the codec in use).
pub fn negotiate(sd: &SessionDescription) -> Result<Negotiated, SdpError> {
    let audio = usable_audio(sd)?;
    let chosen = audio
        .supported_codecs()
        .next()
        .ok_or(SdpError::NoCommonCodec)?;
    Ok(Negotiated {
        audio: chosen,
        telephone_event: audio.telephone_event_pt(),
        remote: sd.audio_rtp_addr(),
        direction: sd.audio_direction(),
        ptime: audio.ptime,
    })
}

/// The offer we send to the seat for a caller's offer: only the caller's
/// codecs we can relay, in the caller's order and with the caller's PTs, so
/// whatever the seat picks the caller can receive unchanged.
///
/// telephone-event is offered only if the caller offered it: events from the
/// seat could not be passed on otherwise.
pub fn offer_for_seat(
    caller_offer: &SessionDescription,
    local: LocalMedia,
) -> Result<SdpParams, SdpError> {
    let audio = usable_audio(caller_offer)?;
    let codecs: Vec<PayloadFormat> = audio.supported_codecs().collect();
    if codecs.is_empty() {
        return Err(SdpError::NoCommonCodec);
    }
    Ok(SdpParams {
        local,
        codecs,
        telephone_event: audio.telephone_event_pt(),
        direction: caller_offer.audio_direction(),
        ptime: audio.ptime,
    })
}

/// What to answer the caller once the seat has answered our
/// [`offer_for_seat`] (`seat` is that answer, [`negotiate`]d): the seat's codec
/// under the caller's PT, and the PT map for a relay whose leg A is the caller
/// and leg B the seat.
///
/// Pass the result to [`super::build_answer`] with the seat's direction as the
/// wanted direction, so a hold on either side carries through.
pub fn answer_for_caller(
    caller_offer: &SessionDescription,
    seat: &Negotiated,
) -> Result<(Negotiated, PtMap), SdpError> {
    let caller_audio = usable_audio(caller_offer)?;

    // RFC 3264 asks the answerer to keep our PTs, but does not require it.
    let caller_pt = caller_audio
        .supported_codecs()
        .find(|f| f.codec == seat.audio.codec)
        .ok_or(SdpError::NoCommonCodec)?;
    let mut pt_map = PtMap::identity().with(caller_pt.pt, seat.audio.pt);

    let telephone_event = match (caller_audio.telephone_event_pt(), seat.telephone_event) {
        (Some(caller_te), Some(seat_te)) => {
            pt_map = pt_map.with(caller_te, seat_te);
            Some(caller_te)
        }
        _ => None,
    };

    let negotiated = Negotiated {
        audio: caller_pt,
        telephone_event,
        remote: caller_offer.audio_rtp_addr(),
        direction: caller_offer.audio_direction(),
        ptime: seat.ptime,
    };
    Ok((negotiated, pt_map))
}
