//! The return-visit survey (回访): after a matter is closed, the citizen is called back and
//! asked, with consent and without leading words, whether the result and the attitude
//! satisfied them. Pure state machines on virtual time: `Scheduler` decides whom to dial and
//! when, `SurveyCall` runs one answered call. A driver does the I/O and keeps the records
//! (`store::SurveyRecord`, `store::SurveyAttempt`, and a `RatingRecord` per answer).

pub mod ivr;
pub mod scheduler;
pub mod settings;

pub use ivr::{
    Answer, CallAction, CallInput, CallRules, Question, SurveyCall, SurveyOutcome, SurveySound,
    CONSENT_DIGIT,
};
pub use scheduler::{
    CallOutcome, Scheduler, SchedulerAction, SchedulerInput, SchedulerRules, SurveyEvent,
    SurveyEventKind, SurveyRefusal, SurveyRequest, SurveyResult, SurveyStatus,
};
pub use settings::{dial_key, SurveySettings};
