//! Keys a seat types during a call: consult a unit (`*1<unit or number>#`), complete the
//! transfer (`*2`), three-way (`*3`), drop the unit (`*4`), cancel the consultation (`*0`) and
//! send the caller to rating (`*8`). The keys that form a code are the call's; the hub does not
//! relay a seat's keys to the other parties.

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
    /// Longest pause between two keys of one code.
    pub inter_digit: Duration,
    /// Most parties in one conference: caller, seat and units.
    pub max_parties: u8,
    /// How long a unit's contact may ring before the daemon gives it up.
    pub unit_ring_timeout: Duration,
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
            inter_digit: Duration::from_secs(3),
            max_parties: 3,
            unit_ring_timeout: Duration::from_secs(30),
        }
    }
}

impl InCallCodes {
    /// Every code with its name, for validation.
    pub fn named(&self) -> [(&'static str, &str); 6] {
        [
            ("consult", &self.consult),
            ("transfer", &self.transfer),
            ("conference", &self.conference),
            ("drop_unit", &self.drop_unit),
            ("cancel_consult", &self.cancel),
            ("to_rating", &self.to_rating),
        ]
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
        if let Some(rest) = self.typed.strip_prefix(self.codes.consult.as_str()) {
            if let Some(target) = rest.strip_suffix('#') {
                let target = target.to_string();
                self.typed.clear();
                return (!target.is_empty()).then_some(InCallFeature::Consult(target));
            }
            if rest.len() > MAX_TARGET || !rest.chars().all(|c| c.is_ascii_digit() || c == '+') {
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
        ]
        .into_iter()
        .find(|(code, _)| **code == self.typed)
        .map(|(_, feature)| feature);
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
            .any(|(_, code)| code.starts_with(typed))
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
