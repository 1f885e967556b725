//! Keys a seat types during a call: consult a unit (`*1<unit or number>#`), complete the
//! transfer (`*2`), three-way (`*3`), drop the unit (`*4`), cancel the consultation (`*0`) and
//! send the caller to rating (`*8`), pause or resume the recording (`*6`); and the hand-off codes of `[handoffs]`: mark the call with a
//! category (`*91`...), extend its hand-off (`*95<reason>#`) or close it (`*90<reason>#`). The
//! keys that form a code are the call's; the hub does not relay a seat's keys to the other
//! parties.

use std::time::Duration;

use tokio::time::Instant;

/// The in-call codes, as `[features]` sets them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InCallCodes {
    /// Followed by a unit id or a number and `#`.
    pub consult: String,
    pub transfer: String,
    pub conference: String,
    pub drop_unit: String,
    pub cancel: String,
    pub to_rating: String,
    /// While a unit's contacts are hunted: ring the next contact now.
    pub skip_contact: String,
    /// Pauses the call's recording, or resumes it.
    pub pause_recording: String,
    /// Longest pause between two keys of one code.
    pub inter_digit: Duration,
    /// Most parties in one conference: caller, seat and units.
    pub max_parties: u8,
    /// How long a unit's contact may ring before the daemon gives it up.
    pub unit_ring_timeout: Duration,
    /// Hand-off categories by code: `(code, category name)`; none by default.
    pub marks: Vec<(String, String)>,
    /// Followed by reason digits and `#`; empty: no such code.
    pub extend: String,
    /// Followed by reason digits and `#`; empty: no such code.
    pub close: String,
    /// The unit refused the matter without a good reason; empty: no such code.
    pub refused: String,
}

impl Default for InCallCodes {
    fn default() -> Self {
        InCallCodes {
            consult: "*1".to_string(),
            transfer: "*2".to_string(),
            conference: "*3".to_string(),
            drop_unit: "*4".to_string(),
            cancel: "*0".to_string(),
            to_rating: "*8".to_string(),
            skip_contact: "*5".to_string(),
            pause_recording: "*6".to_string(),
            inter_digit: Duration::from_secs(3),
            max_parties: 3,
            unit_ring_timeout: Duration::from_secs(30),
            marks: Vec::new(),
            extend: String::new(),
            close: String::new(),
            refused: String::new(),
        }
    }
}

impl InCallCodes {
    /// Every code with the settings key that sets it, for validation; the hand-off codes
    /// only when set.
    pub fn named(&self) -> Vec<(String, &str)> {
        let mut named: Vec<(String, &str)> = [
            ("features.consult", &self.consult),
            ("features.transfer", &self.transfer),
            ("features.conference", &self.conference),
            ("features.drop_unit", &self.drop_unit),
            ("features.cancel_consult", &self.cancel),
            ("features.to_rating", &self.to_rating),
            ("features.skip_contact", &self.skip_contact),
            ("features.pause_recording", &self.pause_recording),
        ]
        .into_iter()
        .map(|(key, code)| (key.to_string(), code.as_str()))
        .collect();
        if !self.extend.is_empty() {
            named.push(("handoffs.extend_code".into(), &self.extend));
        }
        if !self.close.is_empty() {
            named.push(("handoffs.close_code".into(), &self.close));
        }
        if !self.refused.is_empty() {
            named.push(("handoffs.refused_code".into(), &self.refused));
        }
        for (i, (code, _)) in self.marks.iter().enumerate() {
            named.push((format!("handoffs.categories[{i}].code"), code));
        }
        named
    }

    /// The codes followed by an argument and `#`, with what the argument may hold.
    fn with_argument(&self) -> [(&str, Argument); 3] {
        [
            (&self.consult, Argument::Target),
            (&self.extend, Argument::Reason(Reason::Extend)),
            (&self.close, Argument::Reason(Reason::Close)),
        ]
    }
}

/// What follows a code that takes an argument.
#[derive(Debug, Clone, Copy)]
enum Argument {
    /// A unit id or a number: digits and `+`.
    Target,
    /// Reason digits.
    Reason(Reason),
}

#[derive(Debug, Clone, Copy)]
enum Reason {
    Extend,
    Close,
}

impl Argument {
    fn allows(self, c: char) -> bool {
        match self {
            Argument::Target => c.is_ascii_digit() || c == '+',
            Argument::Reason(_) => c.is_ascii_digit(),
        }
    }

    fn feature(self, value: String) -> InCallFeature {
        match self {
            Argument::Target => InCallFeature::Consult(value),
            Argument::Reason(Reason::Extend) => InCallFeature::ExtendHandoff(value),
            Argument::Reason(Reason::Close) => InCallFeature::CloseHandoff(value),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InCallFeature {
    /// Consult this unit id or number.
    Consult(String),
    Transfer,
    Conference,
    DropUnit,
    Cancel,
    ToRating,
    /// Ring the next contact of the unit being hunted.
    SkipContact,
    /// Pause the call's recording, or resume it.
    PauseRecording,
    /// Mark the call with this hand-off category.
    MarkHandoff(String),
    /// Extend the call's hand-off, for this reason.
    ExtendHandoff(String),
    /// Close the call's hand-off as not needed, for this reason.
    CloseHandoff(String),
    /// The unit the seat reached refused the matter without a good reason.
    UnitRefused,
}

/// The longest unit id or number taken after the consult code.
const MAX_TARGET: usize = 32;

/// Collects one seat's keys into features.
pub struct InCallKeys {
    codes: InCallCodes,
    typed: String,
    last: Option<Instant>,
}

impl InCallKeys {
    pub fn new(codes: InCallCodes) -> InCallKeys {
        InCallKeys {
            codes,
            typed: String::new(),
            last: None,
        }
    }

    /// Takes one key; returns the feature it completes, if any.
    pub fn push(&mut self, now: Instant, key: char) -> Option<InCallFeature> {
        if self
            .last
            .is_some_and(|last| now.duration_since(last) > self.codes.inter_digit)
        {
            self.typed.clear();
        }
        self.last = Some(now);
        self.typed.push(key);
        let typed_argument = self
            .codes
            .with_argument()
            .into_iter()
            .filter(|(code, _)| !code.is_empty())
            .find_map(|(code, arg)| self.typed.strip_prefix(code).map(|rest| (rest, arg)));
        if let Some((rest, arg)) = typed_argument {
            if let Some(value) = rest.strip_suffix('#') {
                let value = value.to_string();
                self.typed.clear();
                return (!value.is_empty()).then(|| arg.feature(value));
            }
            if rest.len() > MAX_TARGET || !rest.chars().all(|c| arg.allows(c)) {
                self.restart(key);
            }
            return None;
        }
        let c = &self.codes;
        let complete = [
            (&c.transfer, InCallFeature::Transfer),
            (&c.conference, InCallFeature::Conference),
            (&c.drop_unit, InCallFeature::DropUnit),
            (&c.cancel, InCallFeature::Cancel),
            (&c.to_rating, InCallFeature::ToRating),
            (&c.skip_contact, InCallFeature::SkipContact),
            (&c.pause_recording, InCallFeature::PauseRecording),
        ]
        .into_iter()
        .find(|(code, _)| **code == self.typed)
        .map(|(_, feature)| feature)
        .or_else(|| {
            (!c.refused.is_empty() && c.refused == self.typed).then_some(InCallFeature::UnitRefused)
        })
        .or_else(|| {
            c.marks
                .iter()
                .find(|(code, _)| *code == self.typed)
                .map(|(_, category)| InCallFeature::MarkHandoff(category.clone()))
        });
        if complete.is_some() {
            self.typed.clear();
            return complete;
        }
        if !self.is_prefix(&self.typed) {
            self.restart(key);
        }
        None
    }

    /// The keys so far start no code: the last key may start a new one.
    fn restart(&mut self, key: char) {
        self.typed.clear();
        if self.is_prefix(&key.to_string()) {
            self.typed.push(key);
        }
    }

    fn is_prefix(&self, typed: &str) -> bool {
        self.codes
            .named()
            .iter()
            .any(|(_, code)| !code.is_empty() && code.starts_with(typed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(keys: &str) -> Vec<InCallFeature> {
        let mut collector = InCallKeys::new(InCallCodes::default());
        let now = Instant::now();
        keys.chars()
            .filter_map(|k| collector.push(now, k))
            .collect()
    }

    #[test]
    fn each_code_gives_its_feature() {
        assert_eq!(typed("*2"), vec![InCallFeature::Transfer]);
        assert_eq!(typed("*3"), vec![InCallFeature::Conference]);
        assert_eq!(typed("*4"), vec![InCallFeature::DropUnit]);
        assert_eq!(typed("*0"), vec![InCallFeature::Cancel]);
        assert_eq!(typed("*8"), vec![InCallFeature::ToRating]);
    }

    #[test]
    fn consult_takes_the_target_up_to_the_hash() {
        assert_eq!(
            typed("*1201#"),
            vec![InCallFeature::Consult("201".to_string())]
        );
        assert_eq!(
            typed("*113800138000#*3"),
            vec![
                InCallFeature::Consult("13800138000".to_string()),
                InCallFeature::Conference
            ]
        );
        assert_eq!(typed("*1#"), vec![], "no target, nothing to dial");
    }

    #[test]
    fn stray_keys_are_dropped_and_a_star_starts_over() {
        assert_eq!(typed("12*95*3"), vec![InCallFeature::Conference]);
        assert_eq!(typed("*12*3"), vec![InCallFeature::Conference]);
    }

    fn with_handoffs() -> InCallCodes {
        InCallCodes {
            marks: vec![
                ("*91".into(), "major".into()),
                ("*92".into(), "general".into()),
            ],
            extend: "*95".into(),
            close: "*90".into(),
            ..InCallCodes::default()
        }
    }

    #[test]
    fn handoff_codes_mark_extend_and_close() {
        let mut collector = InCallKeys::new(with_handoffs());
        let now = Instant::now();
        let features: Vec<InCallFeature> = "*91*9512#*92*903#*95#*2"
            .chars()
            .filter_map(|k| collector.push(now, k))
            .collect();
        assert_eq!(
            features,
            [
                InCallFeature::MarkHandoff("major".into()),
                InCallFeature::ExtendHandoff("12".into()),
                InCallFeature::MarkHandoff("general".into()),
                InCallFeature::CloseHandoff("3".into()),
                InCallFeature::Transfer,
            ],
            "an extension without a reason is no extension"
        );
    }

    #[test]
    fn a_reason_is_digits_only() {
        let mut collector = InCallKeys::new(with_handoffs());
        let now = Instant::now();
        let features: Vec<InCallFeature> = "*95+1#*3"
            .chars()
            .filter_map(|k| collector.push(now, k))
            .collect();
        assert_eq!(features, [InCallFeature::Conference]);
    }

    #[test]
    fn without_handoff_codes_the_nines_are_stray_keys() {
        assert_eq!(typed("*91*95"), vec![]);
    }

    #[test]
    fn a_long_pause_starts_over() {
        let mut collector = InCallKeys::new(InCallCodes::default());
        let t0 = Instant::now();
        assert_eq!(collector.push(t0, '*'), None);
        let late = t0 + Duration::from_secs(4);
        assert_eq!(collector.push(late, '3'), None);
        assert_eq!(collector.push(late, '*'), None);
        assert_eq!(collector.push(late, '3'), Some(InCallFeature::Conference));
    }
}
