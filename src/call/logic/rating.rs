//! The rating question as a part of any call logic: the caller's inputs as the rating dialog
//! (`ratings::dialog`) hears them, and its steps as the call's actions.

use std::collections::VecDeque;

use super::{Action, Input};
use crate::ratings::dialog::{RatingInput, RatingStep};

/// What the rating dialog hears of an input; none for what is not the caller's.
pub fn rating_input(input: &Input) -> Option<RatingInput> {
    Some(match input {
        Input::PlaybackDone => RatingInput::PlaybackDone,
        Input::Digit(key) => RatingInput::Digit(*key),
        Input::RatingCommitted => RatingInput::Committed,
        Input::RatingLost => RatingInput::Lost,
        Input::CallerBye => RatingInput::CallerBye,
        Input::CallerAckTimeout | Input::Shutdown => RatingInput::Abort,
        _ => return None,
    })
}

/// Queues the dialog's steps as actions; true when the rating is over and the call ends.
pub fn rating_actions(steps: Vec<RatingStep>, actions: &mut VecDeque<Action>) -> bool {
    let mut over = false;
    for step in steps {
        match step {
            RatingStep::Play(sound) => actions.push_back(Action::Play(sound.into())),
            RatingStep::Commit(outcome) => actions.push_back(Action::CommitRating(outcome)),
            RatingStep::HangUp => {
                actions.push_back(Action::ByeCaller);
                over = true;
            }
            RatingStep::End => over = true,
        }
    }
    over
}
