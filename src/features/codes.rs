//! The table of feature codes and its validation.

use std::fmt;
use std::time::Duration;

/// Log the seat in to its queues.
pub const DEFAULT_LOGIN: &str = "*71";
/// Log the seat out.
pub const DEFAULT_LOGOUT: &str = "*72";
/// Pause the seat; may be followed by reason digits and `#` (`*732#`).
pub const DEFAULT_PAUSE: &str = "*73";
/// End a pause.
pub const DEFAULT_RESUME: &str = "*74";
/// How long the collector waits for the next key before it decides.
pub const DEFAULT_INTER_DIGIT: Duration = Duration::from_secs(3);
/// Longest code accepted; keeps the collector's buffer bounded whatever is typed.
pub const MAX_CODE_LEN: usize = 16;
/// Most reason digits after the pause code; reasons are short lists, and a
/// limit means a stuck key ends as Invalid instead of growing a buffer.
pub const MAX_PAUSE_REASON_LEN: usize = 4;

/// Which code of the table, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeName {
    Login,
    Logout,
    Pause,
    Resume,
}

impl fmt::Display for CodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CodeName::Login => "login",
            CodeName::Logout => "logout",
            CodeName::Pause => "pause",
            CodeName::Resume => "resume",
        })
    }
}

/// Why a feature-code table was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeatureError {
    #[error("{code} feature code is empty")]
    Empty { code: CodeName },
    #[error("{code} feature code {value:?} contains {ch:?}; only 0-9, * and # may be used")]
    InvalidChar {
        code: CodeName,
        value: String,
        ch: char,
    },
    #[error("{code} feature code {value:?} is longer than {MAX_CODE_LEN} keys")]
    TooLong { code: CodeName, value: String },
    #[error("{code} and {other} feature codes are both {value:?}")]
    Duplicate {
        code: CodeName,
        other: CodeName,
        value: String,
    },
    #[error(
        "{code} feature code {value:?} is a prefix of {other} code {other_value:?}: \
         typing {other_value:?} would be ambiguous"
    )]
    Prefix {
        code: CodeName,
        value: String,
        other: CodeName,
        other_value: String,
    },
}

/// Validated feature codes: non-empty, keypad keys only, none a prefix of
/// another (so the collector can act on a complete code at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureCodes {
    login: String,
    logout: String,
    pause: String,
    resume: String,
}

impl Default for FeatureCodes {
    fn default() -> Self {
        Self {
            login: DEFAULT_LOGIN.to_owned(),
            logout: DEFAULT_LOGOUT.to_owned(),
            pause: DEFAULT_PAUSE.to_owned(),
            resume: DEFAULT_RESUME.to_owned(),
        }
    }
}

impl FeatureCodes {
    /// Checks and builds the table; returns the first problem found, in the
    /// order login, logout, pause, resume.
    pub fn new(login: &str, logout: &str, pause: &str, resume: &str) -> Result<Self, FeatureError> {
        let codes = Self {
            login: login.to_owned(),
            logout: logout.to_owned(),
            pause: pause.to_owned(),
            resume: resume.to_owned(),
        };
        let entries = codes.entries();
        for (code, value) in entries {
            if value.is_empty() {
                return Err(FeatureError::Empty { code });
            }
            if let Some(ch) = value.chars().find(|c| !is_code_key(*c)) {
                return Err(FeatureError::InvalidChar {
                    code,
                    value: value.to_owned(),
                    ch,
                });
            }
            if value.len() > MAX_CODE_LEN {
                return Err(FeatureError::TooLong {
                    code,
                    value: value.to_owned(),
                });
            }
        }
        for (i, (code, value)) in entries.into_iter().enumerate() {
            for (j, (other, other_value)) in entries.into_iter().enumerate() {
                if i == j || !other_value.starts_with(value) {
                    continue;
                }
                if value == other_value {
                    if i < j {
                        return Err(FeatureError::Duplicate {
                            code,
                            other,
                            value: value.to_owned(),
                        });
                    }
                } else {
                    // The pause code is extended by reason digits as well, but
                    // any such extension starts with the pause code, so this
                    // one test covers it.
                    return Err(FeatureError::Prefix {
                        code,
                        value: value.to_owned(),
                        other,
                        other_value: other_value.to_owned(),
                    });
                }
            }
        }
        Ok(codes)
    }

    /// The code configured for `name`.
    pub fn code(&self, name: CodeName) -> &str {
        match name {
            CodeName::Login => &self.login,
            CodeName::Logout => &self.logout,
            CodeName::Pause => &self.pause,
            CodeName::Resume => &self.resume,
        }
    }

    pub(super) fn entries(&self) -> [(CodeName, &str); 4] {
        [
            (CodeName::Login, &self.login),
            (CodeName::Logout, &self.logout),
            (CodeName::Pause, &self.pause),
            (CodeName::Resume, &self.resume),
        ]
    }
}

/// Keys a code may use. A-D are left out: most desk phones lack them.
fn is_code_key(c: char) -> bool {
    c.is_ascii_digit() || c == '*' || c == '#'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let codes = FeatureCodes::new(DEFAULT_LOGIN, DEFAULT_LOGOUT, DEFAULT_PAUSE, DEFAULT_RESUME);
        assert_eq!(codes, Ok(FeatureCodes::default()));
        assert_eq!(FeatureCodes::default().code(CodeName::Pause), "*73");
    }

    #[test]
    fn refuses_empty_codes() {
        assert_eq!(
            FeatureCodes::new("*71", "", "*73", "*74"),
            Err(FeatureError::Empty {
                code: CodeName::Logout
            })
        );
    }

    #[test]
    fn refuses_other_characters() {
        let err = FeatureCodes::new("*71", "*72", "*7A", "*74").unwrap_err();
        assert_eq!(
            err,
            FeatureError::InvalidChar {
                code: CodeName::Pause,
                value: "*7A".into(),
                ch: 'A'
            }
        );
        assert_eq!(
            err.to_string(),
            "pause feature code \"*7A\" contains 'A'; only 0-9, * and # may be used"
        );
        assert!(FeatureCodes::new(" *71", "*72", "*73", "*74").is_err());
        assert!(FeatureCodes::new("*71", "*72", "*73", "*７4").is_err());
    }

    #[test]
    fn refuses_long_codes() {
        let long = "*".repeat(MAX_CODE_LEN + 1);
        assert!(matches!(
            FeatureCodes::new(&long, "*72", "*73", "*74"),
            Err(FeatureError::TooLong {
                code: CodeName::Login,
                ..
            })
        ));
    }

    #[test]
    fn refuses_a_prefix_and_says_which() {
        let err = FeatureCodes::new("*7", "*72", "*73", "*74").unwrap_err();
        assert_eq!(
            err,
            FeatureError::Prefix {
                code: CodeName::Login,
                value: "*7".into(),
                other: CodeName::Logout,
                other_value: "*72".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "login feature code \"*7\" is a prefix of logout code \"*72\": \
             typing \"*72\" would be ambiguous"
        );
        // A code that extends the pause code would read as a pause reason.
        assert!(matches!(
            FeatureCodes::new("*731", "*72", "*73", "*74"),
            Err(FeatureError::Prefix {
                code: CodeName::Pause,
                other: CodeName::Login,
                ..
            })
        ));
        // '#' counts like any other key.
        assert!(FeatureCodes::new("*71", "*71#", "*73", "*74").is_err());
    }

    #[test]
    fn refuses_duplicates() {
        assert_eq!(
            FeatureCodes::new("*71", "*72", "*73", "*72"),
            Err(FeatureError::Duplicate {
                code: CodeName::Logout,
                other: CodeName::Resume,
                value: "*72".into()
            })
        );
    }

    #[test]
    fn accepts_other_layouts() {
        assert!(FeatureCodes::new("#1", "#2", "#3", "#4").is_ok());
        assert!(FeatureCodes::new("*71#", "*72#", "9", "*74").is_ok());
    }
}
