//! Semantic checks on settings that deserialized fine, collecting every problem.
//!
//! The checks know key paths, not files: the loader turns each path into a file and line (or the
//! environment variable that set it).

use std::collections::HashSet;

use tracing_subscriber::EnvFilter;

use super::settings::{SeatSettings, Settings};
use crate::checks::{Issue, RING_TIMEOUT_RANGE};

/// Each call leg takes an RTP/RTCP port pair, so fewer than two pairs cannot carry one call.
const MIN_RTP_PORTS: u32 = 4;

/// Ports below this need privileges and collide with well-known services.
const MIN_RTP_PORT: u16 = 1024;

impl Settings {
    /// Every semantic problem, in file order as far as possible; empty when the settings are usable.
    fn check_queues(&self, issues: &mut Vec<Issue>) {
        let seats: Vec<String> = self.seats.iter().map(|s| s.user.clone()).collect();
        issues.extend(crate::queue::config::validate(&self.queues, &seats));
        for (i, queue) in self.queues.iter().enumerate() {
            if let crate::queue::config::Overflow::Prompt(p) = &queue.overflow {
                if !crate::media::prompts::REQUIRED.contains(&p.as_str()) {
                    issues.push(Issue::new(
                        format!("queues[{i}].overflow.prompt"),
                        format!("{p:?} is not one of the daemon's prompts"),
                    ));
                }
            }
        }
        for (i, calendar) in self.calendars.iter().enumerate() {
            issues.extend(calendar.validate(&format!("calendars[{i}]")));
            if self.calendars[..i].iter().any(|c| c.name == calendar.name) {
                issues.push(Issue::new(
                    format!("calendars[{i}].name"),
                    format!("{:?} is defined twice", calendar.name),
                ));
            }
        }
        if !(-12..=14).contains(&self.time.utc_offset_hours) {
            issues.push(Issue::new(
                "time.utc_offset_hours",
                format!("{} is outside -12..=14", self.time.utc_offset_hours),
            ));
        }
    }

    fn check_features(&self, issues: &mut Vec<Issue>) {
        use crate::features::FeatureError;
        let f = &self.features;
        if let Err(e) = f.codes() {
            let code = match &e {
                FeatureError::Empty { code }
                | FeatureError::InvalidChar { code, .. }
                | FeatureError::TooLong { code, .. }
                | FeatureError::Duplicate { code, .. }
                | FeatureError::Prefix { code, .. } => code.to_string(),
            };
            issues.push(Issue::new(format!("features.{code}"), e.to_string()));
        }
        let keypad = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
        };
        if !super::settings::CONFERENCE_PARTIES_RANGE.contains(&f.conference_max_parties) {
            issues.push(Issue::new(
                "features.conference_max_parties",
                "must be 3 to 8 (caller, seat and up to six units)",
            ));
        }
        if !RING_TIMEOUT_RANGE.contains(&f.unit_ring_timeout_secs) {
            issues.push(Issue::new(
                "features.unit_ring_timeout_secs",
                format!(
                    "must be {} to {} seconds",
                    RING_TIMEOUT_RANGE.start(),
                    RING_TIMEOUT_RANGE.end()
                ),
            ));
        }
        if !crate::dialplan::hunt::HUNT_ATTEMPTS.contains(&f.hunt_attempts) {
            issues.push(Issue::new(
                "features.hunt_attempts",
                format!("{} is outside 1..=10", f.hunt_attempts),
            ));
        }
        if !crate::dialplan::hunt::HUNT_PAUSE_SECS.contains(&f.hunt_pause_secs) {
            issues.push(Issue::new(
                "features.hunt_pause_secs",
                format!("{} is outside 0..=60", f.hunt_pause_secs),
            ));
        }
        let in_call = self.in_call_codes();
        let named = in_call.named();
        for (key, code) in &named {
            // `[handoffs]` checks its own codes' keys.
            if key.starts_with("features.") && !keypad(code) {
                issues.push(Issue::new(key, "must be keypad keys (0-9, * and #)"));
            }
            // The collector must know where one code ends: none may start another.
            if let Some((other, _)) = named
                .iter()
                .find(|(other, o)| other != key && !code.is_empty() && o.starts_with(code))
            {
                issues.push(Issue::new(
                    key,
                    format!("\"{code}\" is a prefix of {other}; in-call codes must not start one another"),
                ));
            }
        }
        if !keypad(&f.access) {
            issues.push(Issue::new(
                "features.access",
                "must be keypad keys (0-9, * and #)",
            ));
        }
        if [&f.login, &f.logout, &f.pause, &f.resume].contains(&&f.access) {
            issues.push(Issue::new(
                "features.access",
                "is the same as a feature code",
            ));
        }
        if !(1..=30).contains(&f.inter_digit_secs) {
            issues.push(Issue::new(
                "features.inter_digit_secs",
                format!("{} is outside 1..=30", f.inter_digit_secs),
            ));
        }
    }

    pub fn validate(&self) -> Vec<Issue> {
        let mut issues = Vec::new();
        self.check_log(&mut issues);
        self.check_sip(&mut issues);
        self.check_rtp(&mut issues);
        self.check_store(&mut issues);
        if self.dialplan.files.is_empty() {
            issues.push(Issue::new(
                "dialplan.files",
                "must name at least one dialplan file",
            ));
        }
        self.check_seats(&mut issues);
        self.check_features(&mut issues);
        self.check_queues(&mut issues);
        issues.extend(self.ratings.validate("ratings"));
        issues.extend(self.handoffs.validate("handoffs"));
        issues.extend(self.security.validate("security"));
        self.check_trunks(&mut issues);
        self.check_survey(&mut issues);
        issues.extend(self.contact_failures.validate("contact_failures"));
        if let Some(api) = &self.api {
            issues.extend(api.validate("api"));
        }
        issues.extend(self.overload.validate());
        issues.extend(self.supervision.validate("supervision"));
        if let Some(recording) = &self.recording {
            issues.extend(recording.validate("recording"));
        }
        issues
    }

    /// `[survey]` on its own, then against the trunks: survey calls go out through a trunk
    /// that has an outbound address, and are requested through the API.
    fn check_survey(&self, issues: &mut Vec<Issue>) {
        let Some(survey) = &self.survey else {
            return;
        };
        issues.extend(survey.validate("survey"));
        if let Some(name) = survey.trunk.as_deref().filter(|t| !t.trim().is_empty()) {
            match self.trunks.iter().find(|t| t.name == name) {
                None => issues.push(Issue::new(
                    "survey.trunk",
                    format!("{name:?} is not a configured trunk"),
                )),
                Some(trunk) if trunk.outbound.is_none() => issues.push(Issue::new(
                    "survey.trunk",
                    format!("trunk {name:?} has no outbound address to place calls through"),
                )),
                Some(_) => {}
            }
        }
        if let Some(name) = &survey.calendar {
            if !self.calendars.iter().any(|c| &c.name == name) {
                issues.push(Issue::new(
                    "survey.calendar",
                    format!("{name:?} is not a configured calendar"),
                ));
            }
        }
        if survey.enabled && self.api.is_none() {
            issues.push(Issue::new(
                "survey.enabled",
                "survey calls are requested through the API: add an [api] table",
            ));
        }
    }

    fn check_log(&self, issues: &mut Vec<Issue>) {
        if let Err(e) = EnvFilter::try_new(&self.log.level) {
            issues.push(Issue::new(
                "log.level",
                format!("not a tracing filter ({e})"),
            ));
        }
    }

    fn check_sip(&self, issues: &mut Vec<Issue>) {
        let sip = &self.sip;
        if sip.realm.trim().is_empty() {
            issues.push(Issue::new("sip.realm", "must not be empty"));
        }
        if sip.max_calls == 0 {
            issues.push(Issue::new("sip.max_calls", "must be greater than 0"));
        }
        if sip.min_expires_secs == 0 {
            issues.push(Issue::new("sip.min_expires_secs", "must be greater than 0"));
        }
        if sip.max_expires_secs == 0 {
            issues.push(Issue::new("sip.max_expires_secs", "must be greater than 0"));
        }
        if sip.min_expires_secs > sip.max_expires_secs {
            issues.push(Issue::new(
                "sip.min_expires_secs",
                format!(
                    "{} is greater than sip.max_expires_secs ({})",
                    sip.min_expires_secs, sip.max_expires_secs
                ),
            ));
        }
        if sip.digest_algorithms.is_empty() {
            issues.push(Issue::new(
                "sip.digest_algorithms",
                "needs at least one of \"MD5\", \"SHA-256\"".to_string(),
            ));
        }
        for (i, algorithm) in sip.digest_algorithms.iter().enumerate() {
            if sip.digest_algorithms[..i].contains(algorithm) {
                issues.push(Issue::new(
                    format!("sip.digest_algorithms[{i}]"),
                    format!("{} is listed twice", algorithm.as_str()),
                ));
            }
        }
        if !RING_TIMEOUT_RANGE.contains(&sip.ring_timeout_secs) {
            issues.push(Issue::new(
                "sip.ring_timeout_secs",
                format!(
                    "{} is outside {}..={}",
                    sip.ring_timeout_secs,
                    RING_TIMEOUT_RANGE.start(),
                    RING_TIMEOUT_RANGE.end()
                ),
            ));
        }
    }

    fn check_rtp(&self, issues: &mut Vec<Issue>) {
        let rtp = &self.rtp;
        if rtp.port_min < MIN_RTP_PORT {
            issues.push(Issue::new(
                "rtp.port_min",
                format!("{} is below {MIN_RTP_PORT}", rtp.port_min),
            ));
        }
        if !rtp.port_min.is_multiple_of(2) {
            issues.push(Issue::new(
                "rtp.port_min",
                format!(
                    "{} is odd; RTP takes the even port of each pair",
                    rtp.port_min
                ),
            ));
        }
        if rtp.port_min > rtp.port_max {
            issues.push(Issue::new(
                "rtp.port_min",
                format!(
                    "{} is greater than rtp.port_max ({})",
                    rtp.port_min, rtp.port_max
                ),
            ));
        } else if u32::from(rtp.port_max) - u32::from(rtp.port_min) + 1 < MIN_RTP_PORTS {
            issues.push(Issue::new(
                "rtp.port_max",
                format!(
                    "the range {}..={} holds fewer than {MIN_RTP_PORTS} ports",
                    rtp.port_min, rtp.port_max
                ),
            ));
        }
    }

    fn check_store(&self, issues: &mut Vec<Issue>) {
        if self.store.queue_capacity == 0 {
            issues.push(Issue::new("store.queue_capacity", "must be greater than 0"));
        }
        if self.store.batch_max == 0 {
            issues.push(Issue::new("store.batch_max", "must be greater than 0"));
        }
    }

    fn check_seats(&self, issues: &mut Vec<Issue>) {
        let mut seen = HashSet::new();
        for (i, seat) in self.seats.iter().enumerate() {
            let at = |field: &str| format!("seats[{i}].{field}");
            if seat.user.is_empty() {
                issues.push(Issue::new(at("user"), "must not be empty"));
            } else if let Some(bad) = seat.user.chars().find(|&c| !is_sip_user_char(c)) {
                issues.push(Issue::new(
                    at("user"),
                    format!("{bad:?} is not allowed in a SIP user name"),
                ));
            } else if !seen.insert(seat.user.as_str()) {
                issues.push(Issue::new(
                    at("user"),
                    format!("seat {:?} is defined twice", seat.user),
                ));
            }
            check_credentials(seat, &at, issues);
        }
    }

    fn check_trunks(&self, issues: &mut Vec<Issue>) {
        let mut seen = HashSet::new();
        for (i, trunk) in self.trunks.iter().enumerate() {
            let at = |field: &str| format!("trunks[{i}].{field}");
            if trunk.name.trim().is_empty() {
                issues.push(Issue::new(at("name"), "must not be empty"));
            } else if !seen.insert(trunk.name.as_str()) {
                issues.push(Issue::new(
                    at("name"),
                    format!("trunk {:?} is defined twice", trunk.name),
                ));
            }
            if trunk.sources.is_empty() {
                issues.push(Issue::new(
                    at("sources"),
                    "must list at least one address or CIDR block",
                ));
            }
            if trunk.lines == Some(0) {
                issues.push(Issue::new(
                    at("lines"),
                    "must be at least 1 (leave it out for no limit)",
                ));
            }
            if let Some(auth) = &trunk.auth {
                if auth.user.is_empty() {
                    issues.push(Issue::new(at("auth.user"), "must not be empty"));
                }
            }
        }
    }
}

fn check_credentials(seat: &SeatSettings, at: &dyn Fn(&str) -> String, issues: &mut Vec<Issue>) {
    if seat.password.is_none() && seat.ha1_md5.is_none() && seat.ha1_sha256.is_none() {
        issues.push(Issue::new(
            at("user"),
            "seat needs `password`, `ha1_md5` or `ha1_sha256`",
        ));
    }
    if seat.password.as_deref() == Some("") {
        issues.push(Issue::new(at("password"), "must not be empty"));
    }
    if let Some(ha1) = &seat.ha1_md5 {
        if !is_hex(ha1, 32) {
            issues.push(Issue::new(at("ha1_md5"), "must be 32 hex digits"));
        }
    }
    if let Some(ha1) = &seat.ha1_sha256 {
        if !is_hex(ha1, 64) {
            issues.push(Issue::new(at("ha1_sha256"), "must be 64 hex digits"));
        }
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// RFC 3261 `user`: unreserved and user-unreserved characters. Escapes (`%41`) are refused so that
/// the configured name is byte-for-byte the digest user name a phone sends.
fn is_sip_user_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(extra: &str) -> Settings {
        let text = format!(
            r#"
[sip]
udp = "127.0.0.1:5060"
tcp = "127.0.0.1:5060"
realm = "hotline.local"
[rtp]
bind = "127.0.0.1"
port_min = 20000
port_max = 20999
[store]
path = "x.db"
[metrics]
listen = "127.0.0.1:9060"
[dialplan]
files = ["d.toml"]
{extra}
"#
        );
        toml::from_str(&text).unwrap()
    }

    fn keys(s: &Settings) -> Vec<String> {
        s.validate().into_iter().map(|i| i.key).collect()
    }

    #[test]
    fn minimal_settings_are_valid() {
        assert_eq!(settings("").validate(), vec![]);
    }

    #[test]
    fn every_rule_reports() {
        let mut s = settings("");
        s.log.level = "hotline=[".into();
        s.sip.realm = " ".into();
        s.sip.max_calls = 0;
        s.sip.min_expires_secs = 4000;
        s.sip.ring_timeout_secs = 301;
        s.rtp.port_min = 1023;
        s.rtp.port_max = 1000;
        s.store.queue_capacity = 0;
        s.store.batch_max = 0;
        s.dialplan.files.clear();
        assert_eq!(
            keys(&s),
            [
                "log.level",
                "sip.realm",
                "sip.max_calls",
                "sip.min_expires_secs",
                "sip.ring_timeout_secs",
                "rtp.port_min",
                "rtp.port_min",
                "rtp.port_min",
                "store.queue_capacity",
                "store.batch_max",
                "dialplan.files",
            ]
        );
    }

    #[test]
    fn survey_needs_an_outbound_trunk_and_the_api() {
        let trunks = r#"
[[trunks]]
name = "inbound"
sources = ["127.0.0.1/32"]
[[trunks]]
name = "carrier"
sources = ["127.0.0.1/32"]
outbound = "127.0.0.1:5070"
"#;
        let api = "[api]\ntoken = \"0123456789abcdef\"\n";
        let ok = settings(&format!("{api}[survey]\ntrunk = \"carrier\"\n{trunks}"));
        assert_eq!(keys(&ok), Vec::<String>::new());

        let inbound_only = settings(&format!("{api}[survey]\ntrunk = \"inbound\"\n{trunks}"));
        let issues = inbound_only.validate();
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].key, "survey.trunk");
        assert!(
            issues[0].reason.contains("no outbound address"),
            "{issues:?}"
        );

        let unknown = settings(&format!("[survey]\ntrunk = \"nope\"\n{trunks}"));
        assert_eq!(keys(&unknown), ["survey.trunk", "survey.enabled"]);

        // Calling hours name a configured calendar.
        let hours = "[[calendars]]\nname = \"office\"\n";
        let with_hours = settings(&format!(
            "{api}[survey]\ntrunk = \"carrier\"\ncalendar = \"office\"\n{trunks}{hours}"
        ));
        assert_eq!(keys(&with_hours), Vec::<String>::new());
        let no_such = settings(&format!(
            "{api}[survey]\ntrunk = \"carrier\"\ncalendar = \"night\"\n{trunks}{hours}"
        ));
        assert_eq!(keys(&no_such), ["survey.calendar"]);

        // A disabled survey needs neither a trunk nor the API.
        assert_eq!(
            keys(&settings("[survey]\nenabled = false\n")),
            Vec::<String>::new()
        );
        assert_eq!(keys(&settings("[api]\n")), ["api.token_file"]);
    }

    #[test]
    fn conference_parties_and_in_call_codes_are_checked() {
        let mut s = settings("");
        s.features.conference_max_parties = 9;
        assert_eq!(keys(&s), ["features.conference_max_parties"]);
        s.features.conference_max_parties = 3;
        s.features.unit_ring_timeout_secs = 0;
        assert_eq!(keys(&s), ["features.unit_ring_timeout_secs"]);
        s.features.unit_ring_timeout_secs = 301;
        assert_eq!(keys(&s), ["features.unit_ring_timeout_secs"]);
        s.features.unit_ring_timeout_secs = 30;
        s.features.conference_max_parties = 9;
        s.features.conference_max_parties = 2;
        assert_eq!(keys(&s), ["features.conference_max_parties"]);
        s.features.conference_max_parties = 8;
        s.features.transfer = "*1".into();
        assert_eq!(keys(&s), ["features.consult", "features.transfer"]);
    }

    #[test]
    fn small_rtp_range_is_refused() {
        let mut s = settings("");
        s.rtp.port_max = s.rtp.port_min + 2;
        assert_eq!(keys(&s), ["rtp.port_max"]);
        s.rtp.port_max += 1;
        assert_eq!(keys(&s), Vec::<String>::new());
    }

    #[test]
    fn seat_rules() {
        let s = settings(
            r#"
[[seats]]
user = "1001"
password = "a"
[[seats]]
user = "1001"
ha1_md5 = "0123456789abcdef0123456789abcdef"
[[seats]]
user = "10 02"
ha1_sha256 = "12"
[[seats]]
user = ""
[[seats]]
user = "1004"
ha1_md5 = "xyz"
"#,
        );
        assert_eq!(
            keys(&s),
            [
                "seats[1].user",
                "seats[2].user",
                "seats[2].ha1_sha256",
                "seats[3].user",
                "seats[3].user",
                "seats[4].ha1_md5",
            ]
        );
    }

    #[test]
    fn trunk_rules() {
        let s = settings(
            r#"
[[trunks]]
name = "carrier"
sources = ["10.0.0.0/8"]
[[trunks]]
name = "carrier"
sources = []
[[trunks]]
name = ""
sources = ["10.0.0.1/32"]
"#,
        );
        assert_eq!(
            keys(&s),
            ["trunks[1].name", "trunks[1].sources", "trunks[2].name"]
        );
    }
}
