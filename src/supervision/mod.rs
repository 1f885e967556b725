//! Supervision (班长): a seat marked `supervisor = true` dials `*51<seat>#` to listen to that
//! seat's call (监听), `*52<seat>#` to whisper to the seat (耳语), `*53<seat>#` to barge in
//! (强插) and `*54<seat>#` to take the call over (强拆); during a session the keys 4, 5 and 6
//! switch between listen, whisper and barge, as on Asterisk's ExtenSpy. What each mode means
//! for who hears whom is the call driver's (`call::driver::supervised`); here are the words,
//! the codes and the settings.

use serde::Deserialize;

use crate::checks::Issue;

/// What a supervisor does on a seat's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Hears caller and seat; nobody hears the supervisor.
    Listen,
    /// Hears caller and seat; the seat hears the supervisor, the caller does not.
    Whisper,
    /// All hear each other.
    Barge,
    /// The seat is released; the supervisor carries on with the caller.
    TakeOver,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Listen => "listen",
            Mode::Whisper => "whisper",
            Mode::Barge => "barge",
            Mode::TakeOver => "take_over",
        }
    }

    /// The mode named `name` (as [`Mode::as_str`] writes it).
    pub fn from_name(name: &str) -> Option<Mode> {
        [Mode::Listen, Mode::Whisper, Mode::Barge, Mode::TakeOver]
            .into_iter()
            .find(|m| m.as_str() == name)
    }

    /// The mode a key typed during a session switches to: 4 listen, 5 whisper, 6 barge.
    pub fn from_key(key: char) -> Option<Mode> {
        match key {
            '4' => Some(Mode::Listen),
            '5' => Some(Mode::Whisper),
            '6' => Some(Mode::Barge),
            _ => None,
        }
    }
}

/// `[supervision]`: the codes a supervisor dials, and what a session on a seat that is not in
/// a call does.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisionSettings {
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default = "default_whisper")]
    pub whisper: String,
    #[serde(default = "default_barge")]
    pub barge: String,
    #[serde(default = "default_take_over")]
    pub take_over: String,
    /// A session on a seat that is not in a call waits this long for the seat's next call
    /// (the supervisor hears silence); 0: the supervisor hears a prompt and is hung up.
    #[serde(default)]
    pub wait_secs: u32,
}

fn default_listen() -> String {
    "*51".into()
}
fn default_whisper() -> String {
    "*52".into()
}
fn default_barge() -> String {
    "*53".into()
}
fn default_take_over() -> String {
    "*54".into()
}

impl Default for SupervisionSettings {
    fn default() -> Self {
        SupervisionSettings {
            listen: default_listen(),
            whisper: default_whisper(),
            barge: default_barge(),
            take_over: default_take_over(),
            wait_secs: 0,
        }
    }
}

/// The longest wait for a seat's next call.
pub const MAX_WAIT_SECS: u32 = 3600;

impl SupervisionSettings {
    /// Each code with its settings key and its mode.
    fn codes(&self) -> [(&'static str, &str, Mode); 4] {
        [
            ("listen", &self.listen, Mode::Listen),
            ("whisper", &self.whisper, Mode::Whisper),
            ("barge", &self.barge, Mode::Barge),
            ("take_over", &self.take_over, Mode::TakeOver),
        ]
    }

    /// A dialled number as a supervision request: the mode and the seat, from
    /// `<code><seat>` with or without a closing `#`.
    pub fn parse(&self, dialled: &str) -> Option<(Mode, String)> {
        let dialled = dialled.strip_suffix('#').unwrap_or(dialled);
        self.codes().into_iter().find_map(|(_, code, mode)| {
            let seat = dialled.strip_prefix(code)?;
            (!seat.is_empty() && seat.chars().all(|c| c.is_ascii_alphanumeric()))
                .then(|| (mode, seat.to_string()))
        })
    }

    pub fn validate(&self, key: &str) -> Vec<Issue> {
        let mut issues = Vec::new();
        let codes = self.codes();
        for (name, code, _) in codes {
            if code.is_empty() || !code.chars().all(|c| c.is_ascii_digit() || c == '*') {
                issues.push(Issue::new(
                    format!("{key}.{name}"),
                    "must be keypad keys (0-9 and *)",
                ));
            } else if let Some((other, _, _)) = codes
                .iter()
                .find(|(other, c, _)| *other != name && c.starts_with(code))
            {
                issues.push(Issue::new(
                    format!("{key}.{name}"),
                    format!("\"{code}\" is a prefix of {key}.{other}"),
                ));
            }
        }
        if self.wait_secs > MAX_WAIT_SECS {
            issues.push(Issue::new(
                format!("{key}.wait_secs"),
                format!("{} is more than {MAX_WAIT_SECS}", self.wait_secs),
            ));
        }
        issues
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dialled_code_names_the_mode_and_the_seat() {
        let s = SupervisionSettings::default();
        assert_eq!(s.parse("*511001#"), Some((Mode::Listen, "1001".into())));
        assert_eq!(s.parse("*521001"), Some((Mode::Whisper, "1001".into())));
        assert_eq!(s.parse("*531002#"), Some((Mode::Barge, "1002".into())));
        assert_eq!(s.parse("*541001#"), Some((Mode::TakeOver, "1001".into())));
        assert_eq!(s.parse("*51#"), None, "no seat");
        assert_eq!(s.parse("*55"), None);
        assert_eq!(s.parse("12345"), None);
        assert_eq!(Mode::from_key('5'), Some(Mode::Whisper));
        assert_eq!(Mode::from_key('7'), None);
        assert_eq!(Mode::from_name("take_over"), Some(Mode::TakeOver));
        assert_eq!(Mode::from_name("spy"), None);
    }

    #[test]
    fn codes_must_be_keys_and_not_prefixes_of_one_another() {
        let bad = SupervisionSettings {
            listen: "*5".into(),
            barge: "x".into(),
            wait_secs: 7200,
            ..SupervisionSettings::default()
        };
        let keys: Vec<String> = bad
            .validate("supervision")
            .into_iter()
            .map(|i| i.key)
            .collect();
        assert!(keys.contains(&"supervision.listen".to_string()), "{keys:?}");
        assert!(keys.contains(&"supervision.barge".to_string()), "{keys:?}");
        assert!(
            keys.contains(&"supervision.wait_secs".to_string()),
            "{keys:?}"
        );
        assert!(SupervisionSettings::default()
            .validate("supervision")
            .is_empty());
    }
}
