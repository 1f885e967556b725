//! `[survey]`: who is called back for the return-visit survey, through which trunk, how often
//! and how many at once.

use std::time::Duration;

use serde::Deserialize;

use crate::checks::Issue;

/// Unanswered calls may be tried at most this many more times.
pub const RETRIES_RANGE: std::ops::RangeInclusive<u32> = 0..=5;
/// Between one unanswered attempt and the next, in seconds: a minute to a day.
pub const RETRY_INTERVAL_RANGE: std::ops::RangeInclusive<u32> = 60..=86_400;
/// Survey calls at once; the rest of the trunk stays free for inbound calls.
pub const MAX_CONCURRENT_RANGE: std::ops::RangeInclusive<u32> = 1..=50;
/// How long a survey call rings before it counts as not answered, in seconds.
pub const RING_TIMEOUT_RANGE: std::ops::RangeInclusive<u32> = 5..=120;
/// How long the citizen may take to press a key after a question, in seconds.
pub const ANSWER_TIMEOUT_RANGE: std::ops::RangeInclusive<u32> = 1..=60;

/// `[survey]`: the return-visit (回访) survey, called out after a matter is closed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveySettings {
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// Name of the trunk survey calls go out through, every number as requested. Without it,
    /// the dialplan's outbound routes choose. That it names a configured trunk is checked where
    /// trunks are known.
    #[serde(default)]
    pub trunk: Option<String>,
    /// The number presented to the citizen.
    #[serde(default = "default_caller_id")]
    pub caller_id: String,
    /// Unanswered (no answer, busy, failed) calls are tried this many more times.
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default = "default_retry_interval")]
    pub retry_interval_secs: u32,
    /// Survey calls at once, to keep the trunk free for inbound calls.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: u32,
    #[serde(default = "default_ring_timeout")]
    pub ring_timeout_secs: u32,
    /// How long a key is waited for after the consent prompt and after each question.
    #[serde(default = "default_answer_timeout")]
    pub answer_timeout_secs: u32,
    /// Numbers never called. Compared as `dial_key` compares them: digits only, a leading
    /// `+86` / `0086` ignored.
    #[serde(default)]
    pub do_not_call: Vec<String>,
    /// Calling hours: the name of a `[[calendars]]` entry; survey calls are placed only while
    /// it is open (its working days and hours). Without it, at any time.
    #[serde(default)]
    pub calendar: Option<String>,
}

impl Default for SurveySettings {
    fn default() -> Self {
        SurveySettings {
            enabled: default_enabled(),
            trunk: None,
            caller_id: default_caller_id(),
            retries: default_retries(),
            retry_interval_secs: default_retry_interval(),
            max_concurrent: default_max_concurrent(),
            ring_timeout_secs: default_ring_timeout(),
            answer_timeout_secs: default_answer_timeout(),
            do_not_call: Vec::new(),
            calendar: None,
        }
    }
}

fn default_enabled() -> bool {
    true
}
fn default_caller_id() -> String {
    "12345".to_owned()
}
fn default_retries() -> u32 {
    2
}
fn default_retry_interval() -> u32 {
    600
}
fn default_max_concurrent() -> u32 {
    2
}
fn default_ring_timeout() -> u32 {
    40
}
fn default_answer_timeout() -> u32 {
    8
}

impl SurveySettings {
    pub fn retry_interval(&self) -> Duration {
        Duration::from_secs(self.retry_interval_secs.into())
    }

    pub fn ring_timeout(&self) -> Duration {
        Duration::from_secs(self.ring_timeout_secs.into())
    }

    pub fn answer_timeout(&self) -> Duration {
        Duration::from_secs(self.answer_timeout_secs.into())
    }

    /// Every problem, with key paths under `key` (normally `survey`). A disabled survey is
    /// still checked, so that turning it on cannot surface old mistakes.
    pub fn validate(&self, key: &str) -> Vec<Issue> {
        let mut issues = Vec::new();
        let mut push = |field: String, reason: String| {
            issues.push(Issue {
                key: format!("{key}.{field}"),
                reason,
            })
        };
        if self.trunk.as_deref().is_some_and(|t| t.trim().is_empty()) {
            push("trunk".into(), "must not be empty".into());
        }
        if !is_number(&self.caller_id) {
            push(
                "caller_id".into(),
                format!("{:?} is not a phone number", self.caller_id),
            );
        }
        let ranges = [
            ("retries", self.retries, RETRIES_RANGE),
            (
                "retry_interval_secs",
                self.retry_interval_secs,
                RETRY_INTERVAL_RANGE,
            ),
            ("max_concurrent", self.max_concurrent, MAX_CONCURRENT_RANGE),
            (
                "ring_timeout_secs",
                self.ring_timeout_secs,
                RING_TIMEOUT_RANGE,
            ),
            (
                "answer_timeout_secs",
                self.answer_timeout_secs,
                ANSWER_TIMEOUT_RANGE,
            ),
        ];
        for (field, value, range) in ranges {
            if !range.contains(&value) {
                push(
                    field.into(),
                    format!("{value} is outside {}..={}", range.start(), range.end()),
                );
            }
        }
        for (i, number) in self.do_not_call.iter().enumerate() {
            if !is_number(number) {
                push(
                    format!("do_not_call[{i}]"),
                    format!("{number:?} is not a phone number"),
                );
            }
        }
        issues
    }
}

/// Digits, optionally after a leading `+`, with spaces and dashes allowed between them.
fn is_number(s: &str) -> bool {
    let rest = s.strip_prefix('+').unwrap_or(s);
    rest.chars().any(|c| c.is_ascii_digit())
        && rest
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
}

/// The form in which numbers are compared against the do-not-call list: digits only, without
/// the Chinese country code (`+86`, `0086`), so `+86 138-0013-8000` and `13800138000` match.
pub fn dial_key(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let international = number.trim_start().starts_with('+');
    if let Some(rest) = digits.strip_prefix("0086") {
        rest.to_owned()
    } else if international {
        digits.strip_prefix("86").unwrap_or(&digits).to_owned()
    } else {
        digits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SurveySettings, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn defaults_and_unknown_keys() {
        let s = parse("trunk = 'telecom'").unwrap();
        assert_eq!(
            s,
            SurveySettings {
                trunk: Some("telecom".into()),
                ..SurveySettings::default()
            }
        );
        assert!(s.enabled);
        assert_eq!(s.caller_id, "12345");
        assert_eq!(
            (s.retries, s.max_concurrent, s.answer_timeout_secs),
            (2, 2, 8)
        );
        assert_eq!(s.retry_interval(), Duration::from_secs(600));
        assert_eq!(s.ring_timeout(), Duration::from_secs(40));
        assert_eq!(s.answer_timeout(), Duration::from_secs(8));
        assert!(s.validate("survey").is_empty());

        let err = parse("trunk = 'telecom'\nretry = 3").unwrap_err();
        assert!(err.to_string().contains("unknown field `retry`"), "{err}");
    }

    #[test]
    fn a_survey_without_a_trunk_goes_through_the_outbound_routes() {
        let s = parse("").unwrap();
        assert_eq!(s.trunk, None);
        assert!(s.validate("survey").is_empty());
    }

    #[test]
    fn validate_collects_every_problem_with_its_key() {
        let s = parse(
            "trunk = ' '\ncaller_id = 'hotline'\nretries = 9\nretry_interval_secs = 5\n\
             max_concurrent = 0\nring_timeout_secs = 1\nanswer_timeout_secs = 0\n\
             do_not_call = ['13800138000', '+86 139-0000-0000', 'x', '']",
        )
        .unwrap();
        let issues = s.validate("survey");
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "survey.trunk",
                "survey.caller_id",
                "survey.retries",
                "survey.retry_interval_secs",
                "survey.max_concurrent",
                "survey.ring_timeout_secs",
                "survey.answer_timeout_secs",
                "survey.do_not_call[2]",
                "survey.do_not_call[3]",
            ]
        );
        assert_eq!(issues[2].reason, "9 is outside 0..=5");
        assert_eq!(issues[7].reason, "\"x\" is not a phone number");
    }

    #[test]
    fn dial_keys_ignore_punctuation_and_the_country_code() {
        for n in [
            "13800138000",
            "+8613800138000",
            "+86 138-0013-8000",
            "008613800138000",
        ] {
            assert_eq!(dial_key(n), "13800138000", "{n}");
        }
        // A national number that happens to start with 86 is left alone.
        assert_eq!(dial_key("86123456"), "86123456");
        assert_eq!(dial_key("010-12345678"), "01012345678");
    }
}
