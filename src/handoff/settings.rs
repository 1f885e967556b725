//! `[handoffs]`: the categories of matter a seat hands to a unit, each with its keypad code, its
//! limit and the limit an extension allows, and the codes that extend and close a hand-off.
//! The defaults are the Bengbu 2021 acceptance rules (../shared/DOMAIN.md).

use std::time::Duration;

use serde::Deserialize;

use crate::checks::Issue;

/// The shortest limit a category may have, so that a centre can drill with short limits.
pub const MIN_LIMIT_SECS: u32 = 10;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffSettings {
    /// How long before the limit the seat hears the warning tone.
    #[serde(default = "default_warning")]
    pub warning_secs: u32,
    /// Followed by reason digits and `#`: the hand-off's limit becomes its extended limit (once).
    #[serde(default = "default_extend")]
    pub extend_code: String,
    /// Followed by reason digits and `#`: the hand-off is closed as not needed.
    #[serde(default = "default_close")]
    pub close_code: String,
    /// Typed while talking to a unit or right after: the unit refused the matter without a
    /// good reason, which is a contact failure of kind `refused`.
    #[serde(default = "default_refused")]
    pub refused_code: String,
    #[serde(default = "default_categories")]
    pub categories: Vec<Category>,
}

/// One kind of matter and its clock.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Lower-case ASCII: the name records, metrics and routes use.
    pub name: String,
    /// For people: logs, `hotline check` and reports.
    pub label: String,
    /// What a seat types during the call to mark it.
    pub code: String,
    pub limit_secs: u32,
    pub extended_limit_secs: u32,
}

impl Category {
    pub fn limit(&self) -> Duration {
        Duration::from_secs(self.limit_secs.into())
    }

    pub fn extended_limit(&self) -> Duration {
        Duration::from_secs(self.extended_limit_secs.into())
    }
}

impl Default for HandoffSettings {
    fn default() -> Self {
        HandoffSettings {
            warning_secs: default_warning(),
            extend_code: default_extend(),
            close_code: default_close(),
            refused_code: default_refused(),
            categories: default_categories(),
        }
    }
}

fn default_warning() -> u32 {
    60
}
fn default_extend() -> String {
    "*95".to_string()
}
fn default_close() -> String {
    "*90".to_string()
}
fn default_refused() -> String {
    "*96".to_string()
}

fn default_categories() -> Vec<Category> {
    let category = |name: &str, label: &str, code: &str, limit: u32, extended: u32| Category {
        name: name.to_string(),
        label: label.to_string(),
        code: code.to_string(),
        limit_secs: limit,
        extended_limit_secs: extended,
    };
    vec![
        category("major", "重大应急", "*91", 5 * 60, 15 * 60),
        category("general", "一般应急", "*92", 10 * 60, 30 * 60),
        category("complex", "复杂诉求", "*93", 15 * 60, 60 * 60),
    ]
}

impl HandoffSettings {
    pub fn warning(&self) -> Duration {
        Duration::from_secs(self.warning_secs.into())
    }

    pub fn category(&self, name: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.name == name)
    }

    /// Every problem, with key paths under `at` (normally `handoffs`).
    pub fn validate(&self, at: &str) -> Vec<Issue> {
        let mut issues = Vec::new();
        let keypad = |s: &str| {
            !s.is_empty()
                && s.len() <= 8
                && s.chars()
                    .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
        };
        for (key, code) in [
            ("extend_code", &self.extend_code),
            ("close_code", &self.close_code),
            ("refused_code", &self.refused_code),
        ] {
            if !keypad(code) {
                issues.push(Issue::new(
                    format!("{at}.{key}"),
                    "must be 1 to 8 keypad keys (0-9, * and #)",
                ));
            }
        }
        if self.categories.is_empty() {
            issues.push(Issue::new(
                format!("{at}.categories"),
                "must list at least one category",
            ));
        }
        for (i, c) in self.categories.iter().enumerate() {
            let key = |field: &str| format!("{at}.categories[{i}].{field}");
            let name_ok = !c.name.is_empty()
                && c.name.len() <= 32
                && c.name
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_');
            if !name_ok {
                issues.push(Issue::new(
                    key("name"),
                    format!("{:?} must be 1 to 32 of a-z, 0-9 and _", c.name),
                ));
            }
            if self.categories[..i].iter().any(|o| o.name == c.name) {
                issues.push(Issue::new(
                    key("name"),
                    format!("{:?} is defined twice", c.name),
                ));
            }
            if !keypad(&c.code) {
                issues.push(Issue::new(
                    key("code"),
                    "must be 1 to 8 keypad keys (0-9, * and #)",
                ));
            }
            if c.limit_secs < MIN_LIMIT_SECS {
                issues.push(Issue::new(
                    key("limit_secs"),
                    format!("{} is below {MIN_LIMIT_SECS} seconds", c.limit_secs),
                ));
            }
            if c.extended_limit_secs < c.limit_secs {
                issues.push(Issue::new(
                    key("extended_limit_secs"),
                    format!(
                        "{} is below the category's limit_secs ({})",
                        c.extended_limit_secs, c.limit_secs
                    ),
                ));
            }
            if self.warning_secs >= c.limit_secs {
                issues.push(Issue::new(
                    format!("{at}.warning_secs"),
                    format!(
                        "{} is not shorter than the limit of category {:?} ({} s): the warning \
                         would sound before the clock starts",
                        self.warning_secs, c.name, c.limit_secs
                    ),
                ));
            }
        }
        issues
    }

    /// One line per category and one for the codes, for `hotline check`.
    pub fn describe(&self) -> Vec<String> {
        let minutes = |secs: u32| {
            if secs.is_multiple_of(60) {
                format!("{} min", secs / 60)
            } else {
                format!("{secs} s")
            }
        };
        let mut lines: Vec<String> = self
            .categories
            .iter()
            .map(|c| {
                format!(
                    "hand-off {} {} ({}): within {}, extendable to {}",
                    c.name,
                    c.label,
                    c.code,
                    minutes(c.limit_secs),
                    minutes(c.extended_limit_secs)
                )
            })
            .collect();
        lines.push(format!(
            "hand-off warning {} before the limit; extend {}<reason>#, close {}<reason>#",
            minutes(self.warning_secs),
            self.extend_code,
            self.close_code
        ));
        lines
    }

    /// Every code a seat types for a hand-off, with the key path that sets it.
    pub fn codes(&self) -> Vec<(String, &str)> {
        let mut codes = vec![
            ("extend_code".to_string(), self.extend_code.as_str()),
            ("close_code".to_string(), self.close_code.as_str()),
            ("refused_code".to_string(), self.refused_code.as_str()),
        ];
        for (i, c) in self.categories.iter().enumerate() {
            codes.push((format!("categories[{i}].code"), c.code.as_str()));
        }
        codes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_acceptance_rules_and_valid() {
        let s = HandoffSettings::default();
        assert!(
            s.validate("handoffs").is_empty(),
            "{:?}",
            s.validate("handoffs")
        );
        let major = s.category("major").expect("major");
        assert_eq!((major.limit_secs, major.extended_limit_secs), (300, 900));
        assert_eq!(major.code, "*91");
        let general = s.category("general").expect("general");
        assert_eq!(
            (general.limit_secs, general.extended_limit_secs),
            (600, 1800)
        );
        let complex = s.category("complex").expect("complex");
        assert_eq!(
            (complex.limit_secs, complex.extended_limit_secs),
            (900, 3600)
        );
        assert_eq!(s.warning(), Duration::from_secs(60));
    }

    #[test]
    fn bad_limits_names_and_codes_are_each_reported() {
        let mut s = HandoffSettings {
            warning_secs: 5,
            ..HandoffSettings::default()
        };
        s.categories[0].limit_secs = 9;
        s.categories[1].extended_limit_secs = 10;
        s.categories[2].name = "Complex".into();
        s.categories[2].code = "*9a".into();
        s.close_code = String::new();
        let keys: Vec<String> = s.validate("handoffs").into_iter().map(|i| i.key).collect();
        assert_eq!(
            keys,
            [
                "handoffs.close_code",
                "handoffs.categories[0].limit_secs",
                "handoffs.categories[1].extended_limit_secs",
                "handoffs.categories[2].name",
                "handoffs.categories[2].code",
            ]
        );
    }

    #[test]
    fn a_warning_as_long_as_a_limit_is_refused() {
        let mut s = HandoffSettings::default();
        s.categories[0].limit_secs = 30;
        s.categories[0].extended_limit_secs = 60;
        let issues = s.validate("handoffs");
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].key, "handoffs.warning_secs");
        assert!(
            issues[0].reason.contains("\"major\""),
            "{}",
            issues[0].reason
        );
    }
}
