//! Feature codes a seat types on its phone's keypad (`*71` to log in, `*732#`
//! to pause with reason 2...), whether as keys during a call or as the number
//! it dials.
//!
//! [`FeatureCodes`] is the validated table from configuration;
//! [`CodeCollector`] turns key presses into a [`Feature`] on virtual time (the
//! driver arms one timer at [`CodeCollector::poll_timeout`]);
//! [`from_dialled`] reads a dialled number with the same rules.

mod codes;
mod collector;

pub use codes::{
    CodeName, FeatureCodes, FeatureError, DEFAULT_INTER_DIGIT, DEFAULT_LOGIN, DEFAULT_LOGOUT,
    DEFAULT_PAUSE, DEFAULT_RESUME, MAX_CODE_LEN, MAX_PAUSE_REASON_LEN,
};
pub mod in_call;
pub use collector::{from_dialled, CodeCollector, Collected, Feature};
