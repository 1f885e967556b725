//! Collecting keys into a feature code, on virtual time.

use std::time::Duration;

use tokio::time::Instant;

use super::codes::{CodeName, FeatureCodes, MAX_PAUSE_REASON_LEN};

/// What a seat asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feature {
    Login,
    Logout,
    /// `reason` is the digits typed after the pause code, if any.
    Pause {
        reason: Option<String>,
    },
    Resume,
}

/// The collector's answer to a key or a timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collected {
    /// Nothing is being collected: a lone `#`, or a timeout with nothing typed.
    Idle,
    /// Keys so far may still become a code; wait for more or the timeout.
    Pending,
    Matched(Feature),
    /// What was typed, which can never become a code.
    Invalid(String),
}

/// Turns key presses into feature codes.
///
/// A complete code matches at once, except the pause code, which may go on
/// with reason digits: it matches at `#` or at the inter-digit timeout. Keys
/// that can no longer become a code give `Invalid` at once. A `#` with
/// nothing typed is ignored (`Idle`): seats end codes with `#` out of habit,
/// and the code before it has already matched.
///
/// No clock is read: the driver passes `now` and arms one timer at
/// [`CodeCollector::poll_timeout`].
#[derive(Debug, Clone)]
pub struct CodeCollector {
    codes: FeatureCodes,
    inter_digit: Duration,
    typed: String,
    deadline: Option<Instant>,
}

impl CodeCollector {
    /// `inter_digit` runs from each key; one too large to add to an
    /// `Instant` means the entry waits for keys with no timeout.
    pub fn new(codes: &FeatureCodes, inter_digit: Duration) -> Self {
        Self {
            codes: codes.clone(),
            inter_digit,
            typed: String::new(),
            deadline: None,
        }
    }

    /// One key, as DTMF or SIP INFO reported it.
    pub fn push(&mut self, now: Instant, digit: char) -> Collected {
        let result = self.step(digit);
        self.arm(now, &result);
        result
    }

    /// A whole string of keys at once: the number a seat dialled (the caller
    /// has decoded `%23` to `#`), or the start of an entry that keys go on
    /// with. The string is one entry: if it holds more than one code (other
    /// than a code followed by a single `#`), the whole string is Invalid.
    pub fn push_str(&mut self, now: Instant, keys: &str) -> Collected {
        let result = self.feed(keys);
        self.arm(now, &result);
        result
    }

    /// When [`CodeCollector::handle_timeout`] is due, if anything is pending.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// The inter-digit timer fired: a pending code that is complete (the
    /// pause code, with or without reason digits) matches; anything else is
    /// Invalid. Early calls change nothing and give `Pending`.
    pub fn handle_timeout(&mut self, now: Instant) -> Collected {
        match self.deadline {
            None => Collected::Idle,
            Some(deadline) if now < deadline => Collected::Pending,
            Some(_) => self.expire(),
        }
    }

    /// Drops whatever was typed (the call ended, the seat hung up).
    pub fn clear(&mut self) {
        self.typed.clear();
        self.deadline = None;
    }

    fn arm(&mut self, now: Instant, result: &Collected) {
        self.deadline = match result {
            Collected::Pending => now.checked_add(self.inter_digit),
            Collected::Idle => self.deadline,
            Collected::Matched(_) | Collected::Invalid(_) => None,
        };
    }

    /// One key, without time.
    fn step(&mut self, digit: char) -> Collected {
        if self.typed.is_empty() && digit == '#' && !self.any_code_starts_with('#') {
            return Collected::Idle;
        }
        self.typed.push(digit);
        match classify(&self.codes, &self.typed) {
            Class::Prefix | Class::Pause { ended: false, .. } => Collected::Pending,
            Class::Complete(name) => {
                self.typed.clear();
                Collected::Matched(feature(name))
            }
            Class::Pause {
                ended: true,
                reason,
            } => {
                let reason = reason.map(str::to_owned);
                self.typed.clear();
                Collected::Matched(Feature::Pause { reason })
            }
            Class::Dead => Collected::Invalid(std::mem::take(&mut self.typed)),
        }
    }

    /// A string of keys as one entry, without time.
    fn feed(&mut self, keys: &str) -> Collected {
        let before = self.typed.clone();
        let mut result = Collected::Idle;
        for (at, digit) in keys.char_indices() {
            result = self.step(digit);
            let rest = &keys[at + digit.len_utf8()..];
            match result {
                _ if rest.is_empty() => break,
                Collected::Idle | Collected::Pending => {}
                // The send key after a complete code, as on a keypad.
                Collected::Matched(_) if rest == "#" => break,
                Collected::Matched(_) | Collected::Invalid(_) => {
                    self.typed.clear();
                    return Collected::Invalid(before + keys);
                }
            }
        }
        result
    }

    fn expire(&mut self) -> Collected {
        self.deadline = None;
        let result = match classify(&self.codes, &self.typed) {
            Class::Pause { reason, .. } => Collected::Matched(Feature::Pause {
                reason: reason.map(str::to_owned),
            }),
            // Complete codes never wait for a timeout; Prefix and Dead are
            // unfinished or wrong entries.
            Class::Complete(_) | Class::Prefix | Class::Dead => {
                Collected::Invalid(self.typed.clone())
            }
        };
        self.typed.clear();
        result
    }

    fn any_code_starts_with(&self, key: char) -> bool {
        self.codes
            .entries()
            .iter()
            .any(|(_, code)| code.starts_with(key))
    }
}

/// Reads a number a seat dialled (INVITE to `*71`; the caller has decoded
/// `%23` to `#`) as a feature code. End of the string acts as the inter-digit
/// timeout, so this gives what typing the same keys would. `None` when the
/// number is not a feature code, which the dialplan may still route.
pub fn from_dialled(codes: &FeatureCodes, number: &str) -> Option<Feature> {
    let mut collector = CodeCollector::new(codes, Duration::ZERO);
    let result = match collector.feed(number) {
        Collected::Pending => collector.expire(),
        other => other,
    };
    match result {
        Collected::Matched(feature) => Some(feature),
        Collected::Idle | Collected::Pending | Collected::Invalid(_) => None,
    }
}

/// Where typed keys stand against the code table.
#[derive(Debug, PartialEq, Eq)]
enum Class<'a> {
    /// A strict prefix of some code.
    Prefix,
    /// Exactly a code that nothing extends.
    Complete(CodeName),
    /// The pause code, maybe reason digits, and `ended` if `#` closed it.
    Pause {
        reason: Option<&'a str>,
        ended: bool,
    },
    /// Can never become a code.
    Dead,
}

fn classify<'a>(codes: &FeatureCodes, typed: &'a str) -> Class<'a> {
    let mut prefix = false;
    for (name, code) in codes.entries() {
        if name == CodeName::Pause {
            if let Some(rest) = typed.strip_prefix(code) {
                let (digits, ended) = match rest.strip_suffix('#') {
                    Some(digits) => (digits, true),
                    None => (rest, false),
                };
                if digits.len() <= MAX_PAUSE_REASON_LEN
                    && digits.bytes().all(|b| b.is_ascii_digit())
                {
                    let reason = (!digits.is_empty()).then_some(digits);
                    return Class::Pause { reason, ended };
                }
                continue;
            }
        } else if typed == code {
            return Class::Complete(name);
        }
        prefix |= code.starts_with(typed);
    }
    if prefix {
        Class::Prefix
    } else {
        Class::Dead
    }
}

/// The feature of a code that nothing extends (the pause code is classified
/// apart, with its reason).
fn feature(name: CodeName) -> Feature {
    match name {
        CodeName::Login => Feature::Login,
        CodeName::Logout => Feature::Logout,
        CodeName::Pause => Feature::Pause { reason: None },
        CodeName::Resume => Feature::Resume,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::DEFAULT_INTER_DIGIT;

    const GAP: Duration = Duration::from_millis(500);

    fn collector() -> CodeCollector {
        CodeCollector::new(&FeatureCodes::default(), DEFAULT_INTER_DIGIT)
    }

    /// Types `keys` half a second apart from `start`; returns every answer
    /// and the time of the last key.
    fn type_keys(c: &mut CodeCollector, start: Instant, keys: &str) -> (Vec<Collected>, Instant) {
        let mut now = start;
        let mut out = Vec::new();
        for (i, key) in keys.chars().enumerate() {
            if i > 0 {
                now += GAP;
            }
            out.push(c.push(now, key));
        }
        (out, now)
    }

    /// The last answer to typing `keys` other than Idle, then the timeout if
    /// still pending.
    fn entry(keys: &str) -> Collected {
        let mut c = collector();
        let (out, last) = type_keys(&mut c, Instant::now(), keys);
        // A '#' after a matched code answers Idle; the match is the answer.
        match out.iter().rev().find(|r| **r != Collected::Idle) {
            Some(Collected::Pending) => c.handle_timeout(last + DEFAULT_INTER_DIGIT),
            Some(other) => other.clone(),
            None => Collected::Idle,
        }
    }

    fn pause(reason: Option<&str>) -> Collected {
        Collected::Matched(Feature::Pause {
            reason: reason.map(str::to_owned),
        })
    }

    #[test]
    fn each_code_matches_at_its_last_key() {
        for (keys, feature) in [
            ("*71", Feature::Login),
            ("*72", Feature::Logout),
            ("*74", Feature::Resume),
        ] {
            let mut c = collector();
            let (out, _) = type_keys(&mut c, Instant::now(), keys);
            assert_eq!(
                out,
                [
                    Collected::Pending,
                    Collected::Pending,
                    Collected::Matched(feature)
                ]
            );
            assert_eq!(c.poll_timeout(), None, "nothing left pending after {keys}");
        }
    }

    #[test]
    fn pause_with_reason_ends_at_hash() {
        let mut c = collector();
        let (out, _) = type_keys(&mut c, Instant::now(), "*732#");
        assert_eq!(out[..4], [const { Collected::Pending }; 4]);
        assert_eq!(out[4], pause(Some("2")));
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(entry("*7312#"), pause(Some("12")));
    }

    #[test]
    fn pause_without_reason() {
        assert_eq!(entry("*73#"), pause(None));
        // No '#': the timeout decides.
        let mut c = collector();
        let t0 = Instant::now();
        let (_, last) = type_keys(&mut c, t0, "*73");
        assert_eq!(c.poll_timeout(), Some(last + DEFAULT_INTER_DIGIT));
        assert_eq!(c.handle_timeout(last + DEFAULT_INTER_DIGIT), pause(None));
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn pause_reason_then_timeout() {
        assert_eq!(entry("*732"), pause(Some("2")));
    }

    #[test]
    fn pause_reason_is_bounded() {
        let mut c = collector();
        let (out, _) = type_keys(&mut c, Instant::now(), "*7312345");
        assert_eq!(out[6], Collected::Pending);
        assert_eq!(out[7], Collected::Invalid("*7312345".into()));
        assert_eq!(entry("*73*"), Collected::Invalid("*73*".into()));
    }

    #[test]
    fn inter_digit_timeout() {
        let mut c = collector();
        let t0 = Instant::now();
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.push(t0, '*'), Collected::Pending);
        assert_eq!(c.poll_timeout(), Some(t0 + DEFAULT_INTER_DIGIT));
        // Each key restarts the timer.
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(c.push(t1, '7'), Collected::Pending);
        assert_eq!(c.poll_timeout(), Some(t1 + DEFAULT_INTER_DIGIT));
        // Early wake-ups change nothing.
        assert_eq!(
            c.handle_timeout(t0 + DEFAULT_INTER_DIGIT),
            Collected::Pending
        );
        assert_eq!(
            c.handle_timeout(t1 + DEFAULT_INTER_DIGIT),
            Collected::Invalid("*7".into())
        );
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(
            c.handle_timeout(t1 + DEFAULT_INTER_DIGIT * 2),
            Collected::Idle
        );
        // A fresh entry afterwards.
        let (out, _) = type_keys(&mut c, t1 + DEFAULT_INTER_DIGIT * 3, "*71");
        assert_eq!(out[2], Collected::Matched(Feature::Login));
    }

    #[test]
    fn invalid_at_once() {
        let mut c = collector();
        let t0 = Instant::now();
        assert_eq!(c.push(t0, '*'), Collected::Pending);
        assert_eq!(c.push(t0, '7'), Collected::Pending);
        assert_eq!(c.push(t0, '9'), Collected::Invalid("*79".into()));
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.push(t0, '5'), Collected::Invalid("5".into()));
        assert_eq!(c.push(t0, 'A'), Collected::Invalid("A".into()));
        assert_eq!(c.push(t0, '\u{0}'), Collected::Invalid("\u{0}".into()));
        assert_eq!(entry("**"), Collected::Invalid("**".into()));
    }

    #[test]
    fn hash_alone_ends_an_entry() {
        let mut c = collector();
        let t0 = Instant::now();
        assert_eq!(c.push(t0, '#'), Collected::Idle);
        assert_eq!(c.poll_timeout(), None);
        // '#' after a complete code: already matched, nothing more to say.
        let (out, _) = type_keys(&mut c, t0, "*71#");
        assert_eq!(
            out[2..],
            [Collected::Matched(Feature::Login), Collected::Idle]
        );
        // '#' on an unfinished code ends it as Invalid.
        assert_eq!(entry("*7#"), Collected::Invalid("*7#".into()));
    }

    #[test]
    fn codes_may_start_with_hash() {
        let codes = FeatureCodes::new("#1", "#2", "#3", "#4").unwrap();
        let mut c = CodeCollector::new(&codes, DEFAULT_INTER_DIGIT);
        let t0 = Instant::now();
        assert_eq!(c.push(t0, '#'), Collected::Pending);
        assert_eq!(c.push(t0, '1'), Collected::Matched(Feature::Login));
        assert_eq!(
            from_dialled(&codes, "#39#"),
            Some(Feature::Pause {
                reason: Some("9".into())
            })
        );
    }

    #[test]
    fn clear_drops_the_entry() {
        let mut c = collector();
        let t0 = Instant::now();
        c.push(t0, '*');
        c.clear();
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.push(t0, '7'), Collected::Invalid("7".into()));
    }

    #[test]
    fn dialled_number_reads_like_keys() {
        let codes = FeatureCodes::default();
        for number in [
            "*71",
            "*72",
            "*74",
            "*73",
            "*73#",
            "*732#",
            "*732",
            "*7312",
            "*79",
            "*7",
            "*",
            "12345",
            "*71#",
            "A",
            "*73123456",
        ] {
            let by_keys = match entry(number) {
                Collected::Matched(feature) => Some(feature),
                _ => None,
            };
            assert_eq!(from_dialled(&codes, number), by_keys, "{number}");
        }
        assert_eq!(from_dialled(&codes, "*71"), Some(Feature::Login));
        assert_eq!(
            from_dialled(&codes, "*732#"),
            Some(Feature::Pause {
                reason: Some("2".into())
            })
        );
        assert_eq!(
            from_dialled(&codes, "*73"),
            Some(Feature::Pause { reason: None })
        );
        // One entry per number: trailing keys after a code spoil it.
        assert_eq!(from_dialled(&codes, "*7172"), None);
        assert_eq!(from_dialled(&codes, "*71##"), None);
        assert_eq!(from_dialled(&codes, "*732#5"), None);
        assert_eq!(from_dialled(&codes, ""), None);
        assert_eq!(from_dialled(&codes, "#"), None);
    }

    #[test]
    fn dialled_then_keys() {
        let mut c = collector();
        let t0 = Instant::now();
        // The seat dials *73, then types the reason on the keypad.
        assert_eq!(c.push_str(t0, "*73"), Collected::Pending);
        assert_eq!(c.poll_timeout(), Some(t0 + DEFAULT_INTER_DIGIT));
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(c.push(t1, '4'), Collected::Pending);
        assert_eq!(c.push(t1 + GAP, '#'), pause(Some("4")));
        // Dialled in part, finished by keys.
        assert_eq!(c.push_str(t1, "*7"), Collected::Pending);
        assert_eq!(c.push(t1, '2'), Collected::Matched(Feature::Logout));
        // A whole code dialled.
        assert_eq!(c.push_str(t1, "*74"), Collected::Matched(Feature::Resume));
        assert_eq!(c.push_str(t1, "*74#"), Collected::Matched(Feature::Resume));
        assert_eq!(c.push_str(t1, "*7475"), Collected::Invalid("*7475".into()));
        assert_eq!(c.poll_timeout(), None);
        // Keys first, then a string goes on with the same entry.
        assert_eq!(c.push(t1, '*'), Collected::Pending);
        assert_eq!(c.push_str(t1, "799"), Collected::Invalid("*799".into()));
    }

    #[test]
    fn garbage_never_panics() {
        let mut c = collector();
        let codes = FeatureCodes::default();
        let keys = ['0', '1', '3', '7', '*', '#', 'A', 'é', '\u{10ffff}'];
        let mut seed = 7u32;
        let mut now = Instant::now();
        for _ in 0..20_000 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let key = keys[(seed >> 24) as usize % keys.len()];
            now += Duration::from_millis(u64::from(seed >> 20) % 5000);
            let _ = c.push(now, key);
            if seed & 7 == 0 {
                let _ = c.handle_timeout(now);
            }
            let s: String = (0..(seed % 9))
                .map(|i| keys[(seed >> i) as usize % keys.len()])
                .collect();
            let _ = from_dialled(&codes, &s);
            let _ = c.push_str(now, &s);
        }
        // Never a deadline past the end of time.
        let mut far = CodeCollector::new(&codes, Duration::MAX);
        assert_eq!(far.push(now, '*'), Collected::Pending);
        assert_eq!(far.poll_timeout(), None);
    }
}
