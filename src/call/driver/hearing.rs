//! The driver, who hears whom: the consultation's media states laid out in the hub (the
//! caller with the seat, on hold while the seat talks to a unit, all three mixed, the caller
//! with the unit after a transfer).

use super::{Driver, CALLER};
use crate::call::board::LineState;
use crate::call::consult::Media;
use crate::call::logic::Logic;
use crate::call::sound::Sound;
use crate::media::hub::{Audio, LegIndex, MixParty};
use crate::media::tones;
use crate::media::PtMap;

/// Packets from `a` to `b` carry `b`'s payload types.
pub(super) fn map_between(a: (u8, Option<u8>), b: (u8, Option<u8>)) -> PtMap {
    let mut map = PtMap::identity().with(a.0, b.0);
    if let (Some(x), Some(y)) = (a.1, b.1) {
        map = map.with(x, y);
    }
    map
}

impl Driver {
    /// Switches who hears whom in the hub.
    pub(super) fn hear(&mut self, media: Media, logic: &mut Logic) {
        let caller = (self.negotiated.audio.pt, self.negotiated.telephone_event);
        let seat = self
            .seat_leg
            .zip(self.seat_audio.map(super::SeatAudio::pts));
        let units: Vec<(LegIndex, (u8, Option<u8>))> = self
            .units
            .iter()
            .filter_map(|u| u.hub_leg.zip(u.media))
            .collect();
        let unit = units.first().copied();
        self.recording_follows(media);
        match media {
            Media::CallerWithSeat => self.publish(LineState::Connected),
            Media::CallerHolds => self.play(Sound::Hold, logic),
            _ => {}
        }
        let Some(hub) = &self.hub else {
            return;
        };
        match media {
            Media::CallerWithSeat => {
                if let Some((leg, pts)) = seat {
                    hub.bridge(CALLER, leg, map_between(caller, pts));
                }
            }
            Media::CallerHolds => {
                // The seat hears ringback while the unit's contacts ring.
                if let Some((leg, (pt, _))) = seat {
                    let codec = self.negotiated.audio.codec;
                    hub.set_audio(leg, Audio { codec, pt });
                    let play = self
                        .io
                        .ctx
                        .prompts
                        .play(&[tones::RINGBACK], codec, pt, true);
                    hub.play(leg, play);
                }
            }
            Media::SeatWithUnit => {
                if let (Some((s, s_pts)), Some((u, u_pts))) = (seat, unit) {
                    hub.bridge(s, u, map_between(s_pts, u_pts));
                }
            }
            Media::AllThree => {
                let codec = self.negotiated.audio.codec;
                let mut parties = vec![MixParty {
                    leg: CALLER,
                    codec,
                    pt: caller.0,
                }];
                for (leg, pts) in seat.into_iter().chain(units.iter().copied()) {
                    parties.push(MixParty {
                        leg,
                        codec,
                        pt: pts.0,
                    });
                }
                hub.mix(parties);
            }
            Media::CallerWithUnit => match units.as_slice() {
                [(leg, pts)] => hub.bridge(CALLER, *leg, map_between(caller, *pts)),
                several => {
                    let codec = self.negotiated.audio.codec;
                    let parties = [(CALLER, caller)]
                        .into_iter()
                        .chain(several.iter().copied())
                        .map(|(leg, pts)| MixParty {
                            leg,
                            codec,
                            pt: pts.0,
                        })
                        .collect();
                    hub.mix(parties);
                }
            },
            Media::SeatHolds => {
                hub.silence(CALLER);
                if let Some((leg, pts)) = seat {
                    let audio = self.negotiated.audio;
                    let music = self
                        .io
                        .ctx
                        .prompts
                        .play(&["hold_music"], audio.codec, pts.0, true);
                    hub.play(leg, music);
                }
            }
        }
        self.supervision_hearing();
    }
}
