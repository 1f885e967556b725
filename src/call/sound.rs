//! What a call plays to the citizen, whichever logic runs it: the driver turns each sound into
//! the shipped prompts.

use crate::ratings::dialog::RatingSound;
use crate::survey::SurveySound;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sound {
    Welcome,
    /// Hold music, looping until something else plays.
    Hold,
    Position(usize),
    AllBusy,
    CallbackOffer,
    CallbackRecorded,
    RatingQuestion,
    ThankYou,
    /// Prompts named in the settings or by a feature code, in turn (a closed route's message,
    /// a feature code's confirmation and goodbye).
    Named(Vec<String>),
    /// A step of a return-visit survey's conversation.
    Survey(SurveySound),
}

impl From<RatingSound> for Sound {
    fn from(sound: RatingSound) -> Sound {
        match sound {
            RatingSound::Question => Sound::RatingQuestion,
            RatingSound::ThankYou => Sound::ThankYou,
        }
    }
}

/// The recording played for each step of a survey's conversation.
pub fn survey_prompt(sound: SurveySound) -> &'static str {
    match sound {
        SurveySound::Consent => "survey_consent",
        SurveySound::ResultQuestion => "survey_question_result",
        SurveySound::AttitudeQuestion => "survey_question_attitude",
        SurveySound::ThankYou => "thank_you",
        SurveySound::Goodbye => "goodbye",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_survey_sound_is_a_shipped_prompt() {
        use crate::media::prompts::REQUIRED;
        for sound in [
            SurveySound::Consent,
            SurveySound::ResultQuestion,
            SurveySound::AttitudeQuestion,
            SurveySound::ThankYou,
            SurveySound::Goodbye,
        ] {
            assert!(REQUIRED.contains(&survey_prompt(sound)), "{sound:?}");
        }
    }
}
