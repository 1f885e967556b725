//! Caller ratings (好差评): what a rating is worth, how keypad digits map to ratings, and the
//! `[ratings]` settings. Pure: no I/O and no clock; the call task that prompts the caller
//! drives it, and the store keeps what it decides.

use serde::Deserialize;

use crate::checks::Issue;

/// A caller's verdict on the service, on the three-level scale of the assessment rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rating {
    /// 满意
    Satisfied,
    /// 基本满意
    BasicallySatisfied,
    /// 不满意
    Dissatisfied,
}

impl Rating {
    pub const ALL: [Rating; 3] = [
        Rating::Satisfied,
        Rating::BasicallySatisfied,
        Rating::Dissatisfied,
    ];

    /// Points in the satisfaction score: 5, 3 and 1.
    pub fn points(self) -> u32 {
        match self {
            Rating::Satisfied => 5,
            Rating::BasicallySatisfied => 3,
            Rating::Dissatisfied => 1,
        }
    }

    /// The string stored in the database; changing one orphans existing rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Satisfied => "satisfied",
            Rating::BasicallySatisfied => "basically_satisfied",
            Rating::Dissatisfied => "dissatisfied",
        }
    }
}

/// Why a call offered for rating ended without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotRatedReason {
    /// The caller hung up before pressing a rating key.
    CallerHungUp,
    /// The prompt timed out with no key pressed.
    NoDigit,
    /// Only keys that are not ratings were pressed.
    InvalidDigits,
}

impl NotRatedReason {
    pub const ALL: [NotRatedReason; 3] = [
        NotRatedReason::CallerHungUp,
        NotRatedReason::NoDigit,
        NotRatedReason::InvalidDigits,
    ];

    /// The string stored in the database; changing one orphans existing rows.
    pub fn as_str(self) -> &'static str {
        match self {
            NotRatedReason::CallerHungUp => "caller_hung_up",
            NotRatedReason::NoDigit => "no_digit",
            NotRatedReason::InvalidDigits => "invalid_digits",
        }
    }
}

/// What came of offering a call for rating. Every offer is kept, rated or not, so the
/// response rate can be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RatingOutcome {
    Rated(Rating),
    NotRated(NotRatedReason),
}

impl RatingOutcome {
    pub fn rating(self) -> Option<Rating> {
        match self {
            RatingOutcome::Rated(r) => Some(r),
            RatingOutcome::NotRated(_) => None,
        }
    }
}

/// How a rating was given. One rating per call and kind: for the survey kinds the "call" is
/// the survey, so each survey question is answered at most once however often it is dialled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RatingKind {
    /// Keys pressed at the end of the call: the service as a whole.
    Keypad,
    /// The return-visit survey's question on the result of the matter (办理结果).
    SurveyResult,
    /// The return-visit survey's question on the staff's attitude (服务态度).
    SurveyAttitude,
}

impl RatingKind {
    pub const ALL: [RatingKind; 3] = [
        RatingKind::Keypad,
        RatingKind::SurveyResult,
        RatingKind::SurveyAttitude,
    ];

    /// The string stored in the database; changing one orphans existing rows.
    pub fn as_str(self) -> &'static str {
        match self {
            RatingKind::Keypad => "keypad",
            RatingKind::SurveyResult => "survey_result",
            RatingKind::SurveyAttitude => "survey_attitude",
        }
    }
}

use crate::stored_names::stored_names;

stored_names! {
    Rating => UnknownRating, "rating";
    NotRatedReason => UnknownNotRatedReason, "not-rated reason";
    RatingKind => UnknownRatingKind, "rating kind";
}

/// A keypad layout that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatingMapError {
    #[error("{field}: {digit:?} is not a digit 0-9")]
    NotADigit { field: &'static str, digit: char },
    #[error("{field}: {digit:?} is already the key for {other}")]
    SameDigit {
        field: &'static str,
        other: &'static str,
        digit: char,
    },
}

/// Which keypad digit gives which rating. Default: 1 satisfied, 2 basically satisfied,
/// 3 dissatisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatingMap {
    /// In `Rating::ALL` order.
    digits: [char; 3],
}

impl RatingMap {
    /// Refuses anything but three distinct digits 0-9.
    pub fn new(
        satisfied: char,
        basically_satisfied: char,
        dissatisfied: char,
    ) -> Result<RatingMap, RatingMapError> {
        let digits = [satisfied, basically_satisfied, dissatisfied];
        for (i, &digit) in digits.iter().enumerate() {
            let field = FIELDS[i];
            if !digit.is_ascii_digit() {
                return Err(RatingMapError::NotADigit { field, digit });
            }
            if let Some(j) = digits[..i].iter().position(|&d| d == digit) {
                return Err(RatingMapError::SameDigit {
                    field,
                    other: FIELDS[j],
                    digit,
                });
            }
        }
        Ok(RatingMap { digits })
    }

    /// The rating a key gives; `None` for any other key (`*`, `#`, an unused digit).
    pub fn rating(&self, digit: char) -> Option<Rating> {
        self.digits
            .iter()
            .position(|&d| d == digit)
            .map(|i| Rating::ALL[i])
    }

    /// The key that gives `rating`, for prompts and logs.
    pub fn digit(&self, rating: Rating) -> char {
        let i = Rating::ALL.iter().position(|&r| r == rating).unwrap_or(0);
        self.digits[i]
    }
}

impl Default for RatingMap {
    fn default() -> Self {
        RatingMap {
            digits: ['1', '2', '3'],
        }
    }
}

/// Setting names of the three keys, in `Rating::ALL` order.
const FIELDS: [&str; 3] = ["satisfied", "basically_satisfied", "dissatisfied"];

/// How long the caller may take to press a rating key, in seconds.
pub const PROMPT_TIMEOUT_RANGE: std::ops::RangeInclusive<u32> = 1..=60;

/// `[ratings]`: the keypad rating asked for before the call ends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingSettings {
    /// Prompt callers to rate the service before the call ends.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    #[serde(default = "default_satisfied")]
    pub satisfied: char,
    #[serde(default = "default_basically_satisfied")]
    pub basically_satisfied: char,
    #[serde(default = "default_dissatisfied")]
    pub dissatisfied: char,
    /// How long to wait for a key after the prompt before recording "no digit".
    #[serde(default = "default_prompt_timeout")]
    pub prompt_timeout_secs: u32,
}

impl Default for RatingSettings {
    fn default() -> Self {
        RatingSettings {
            enabled: default_enabled(),
            satisfied: default_satisfied(),
            basically_satisfied: default_basically_satisfied(),
            dissatisfied: default_dissatisfied(),
            prompt_timeout_secs: default_prompt_timeout(),
        }
    }
}

fn default_enabled() -> bool {
    true
}
fn default_satisfied() -> char {
    '1'
}
fn default_basically_satisfied() -> char {
    '2'
}
fn default_dissatisfied() -> char {
    '3'
}
fn default_prompt_timeout() -> u32 {
    8
}

impl RatingSettings {
    /// How callers rate a call, or None when ratings are off. Validated at load: should the
    /// map fail here all the same, no rating is asked.
    pub fn rules(&self) -> Option<dialog::RatingRules> {
        let map = self.map().ok()?;
        self.enabled.then(|| dialog::RatingRules {
            map,
            timeout: std::time::Duration::from_secs(self.prompt_timeout_secs.into()),
        })
    }

    /// The digit map these settings describe.
    pub fn map(&self) -> Result<RatingMap, RatingMapError> {
        RatingMap::new(self.satisfied, self.basically_satisfied, self.dissatisfied)
    }

    /// Every problem, with key paths under `key` (normally `ratings`).
    pub fn validate(&self, key: &str) -> Vec<Issue> {
        let mut issues = Vec::new();
        let digits = [self.satisfied, self.basically_satisfied, self.dissatisfied];
        for (i, &digit) in digits.iter().enumerate() {
            let reason = if !digit.is_ascii_digit() {
                format!("{digit:?} is not a digit 0-9")
            } else if let Some(j) = digits[..i].iter().position(|&d| d == digit) {
                format!("{digit:?} is already the key for {key}.{}", FIELDS[j])
            } else {
                continue;
            };
            issues.push(Issue {
                key: format!("{key}.{}", FIELDS[i]),
                reason,
            });
        }
        if !PROMPT_TIMEOUT_RANGE.contains(&self.prompt_timeout_secs) {
            issues.push(Issue {
                key: format!("{key}.prompt_timeout_secs"),
                reason: format!(
                    "{} is outside {}..={}",
                    self.prompt_timeout_secs,
                    PROMPT_TIMEOUT_RANGE.start(),
                    PROMPT_TIMEOUT_RANGE.end()
                ),
            });
        }
        issues
    }
}

pub mod dialog;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_five_three_one() {
        let points: Vec<u32> = Rating::ALL.into_iter().map(Rating::points).collect();
        assert_eq!(points, [5, 3, 1]);
    }

    #[test]
    fn stored_strings_round_trip() {
        for r in Rating::ALL {
            assert_eq!(r.as_str().parse::<Rating>(), Ok(r));
        }
        for r in NotRatedReason::ALL {
            assert_eq!(r.as_str().parse::<NotRatedReason>(), Ok(r));
        }
        for k in RatingKind::ALL {
            assert_eq!(k.as_str().parse::<RatingKind>(), Ok(k));
        }
        assert_eq!(
            "Satisfied".parse::<Rating>(),
            Err(UnknownRating("Satisfied".into()))
        );
        assert_eq!(
            "survey".parse::<RatingKind>(),
            Err(UnknownRatingKind("survey".into()))
        );
        assert_eq!(
            UnknownNotRatedReason("x".into()).to_string(),
            "unknown not-rated reason \"x\""
        );
    }

    #[test]
    fn default_map_is_one_two_three() {
        let map = RatingMap::default();
        assert_eq!(map.rating('1'), Some(Rating::Satisfied));
        assert_eq!(map.rating('2'), Some(Rating::BasicallySatisfied));
        assert_eq!(map.rating('3'), Some(Rating::Dissatisfied));
        for key in ['0', '4', '9', '*', '#', 'A'] {
            assert_eq!(map.rating(key), None, "{key}");
        }
        assert_eq!(RatingSettings::default().map(), Ok(map));
        assert_eq!(map.digit(Rating::BasicallySatisfied), '2');
    }

    #[test]
    fn a_configured_map_reads_its_own_digits() {
        let map = RatingMap::new('9', '0', '5').unwrap();
        assert_eq!(map.rating('9'), Some(Rating::Satisfied));
        assert_eq!(map.rating('0'), Some(Rating::BasicallySatisfied));
        assert_eq!(map.rating('5'), Some(Rating::Dissatisfied));
        assert_eq!(map.rating('1'), None);
        for r in Rating::ALL {
            assert_eq!(map.rating(map.digit(r)), Some(r));
        }
    }

    #[test]
    fn a_map_needs_three_distinct_digits() {
        assert_eq!(
            RatingMap::new('1', '*', '3'),
            Err(RatingMapError::NotADigit {
                field: "basically_satisfied",
                digit: '*'
            })
        );
        assert_eq!(
            RatingMap::new('1', '2', '1'),
            Err(RatingMapError::SameDigit {
                field: "dissatisfied",
                other: "satisfied",
                digit: '1'
            })
        );
        // Full-width and other Unicode digits are not keypad keys.
        assert!(RatingMap::new('１', '2', '3').is_err());
    }

    fn parse(text: &str) -> Result<RatingSettings, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn settings_default_when_empty_and_refuse_unknown_keys() {
        let s = parse("").unwrap();
        assert_eq!(s, RatingSettings::default());
        assert!(s.enabled);
        assert_eq!(s.prompt_timeout_secs, 8);
        assert!(s.validate("ratings").is_empty());

        let s = parse("satisfied = '5'\nenabled = false\nprompt_timeout_secs = 12").unwrap();
        assert_eq!(
            (
                s.satisfied,
                s.basically_satisfied,
                s.enabled,
                s.prompt_timeout_secs
            ),
            ('5', '2', false, 12)
        );

        let err = parse("satisfied = '1'\ntimeout = 8").unwrap_err();
        assert!(err.to_string().contains("unknown field `timeout`"), "{err}");
        // A key is one character, not a number or a string of keys.
        assert!(parse("satisfied = 1").is_err());
        assert!(parse("satisfied = '12'").is_err());
    }

    #[test]
    fn validate_collects_every_problem_with_its_key() {
        let s = parse(
            "satisfied = '#'\nbasically_satisfied = '3'\ndissatisfied = '3'\n\
             prompt_timeout_secs = 0",
        )
        .unwrap();
        let issues = s.validate("ratings");
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "ratings.satisfied",
                "ratings.dissatisfied",
                "ratings.prompt_timeout_secs"
            ]
        );
        assert_eq!(issues[0].reason, "'#' is not a digit 0-9");
        assert_eq!(
            issues[1].reason,
            "'3' is already the key for ratings.basically_satisfied"
        );
        assert_eq!(issues[2].reason, "0 is outside 1..=60");
    }
}
