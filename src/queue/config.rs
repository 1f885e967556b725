//! Queue settings as they appear in configuration, and their validation.
//!
//! ```toml
//! [[queues]]
//! name = "citizens"
//! seats = "all"                      # or ["1001", "1002"], offered in this order by round_robin
//! strategy = "longest_idle"          # | "round_robin" | "ring_all"
//! max_wait_secs = 300                # leave out to wait forever
//! overflow = { queue = "backup" }    # | { prompt = "all_busy" } | { callback = true }
//! ```

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;

use crate::checks::Issue;
use crate::checks::RING_TIMEOUT_RANGE;

/// Position prompts take a few seconds to play; closer than this the caller hears nothing else.
pub const MIN_POSITION_INTERVAL_SECS: u32 = 10;

/// Longer than an hour is a seat that forgot to come back, not a wrap-up.
pub const MAX_WRAP_UP_SECS: u32 = 3600;

/// The prompt callers hear when a queue overflows and nothing else is configured.
pub const DEFAULT_OVERFLOW_PROMPT: &str = "all_busy";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    pub name: String,
    /// The seats that answer this queue; a seat may serve several queues.
    pub seats: Members,
    #[serde(default)]
    pub strategy: Strategy,
    /// How long one offer rings before the next seat is tried.
    #[serde(default = "default_ring_timeout")]
    pub ring_timeout_secs: u32,
    /// Time after each call before the seat is offered the next (notes, ticket entry).
    #[serde(default = "default_wrap_up")]
    pub wrap_up_secs: u32,
    /// Longest wait in this queue before the caller overflows; `None` waits forever.
    #[serde(default)]
    pub max_wait_secs: Option<u32>,
    /// How often a waiting caller hears their position; 0 never.
    #[serde(default = "default_position_interval")]
    pub position_interval_secs: u32,
    /// Offers missed in a row before a seat is paused with reason `NoAnswer`; 0 never.
    #[serde(default = "default_max_missed")]
    pub max_missed_offers: u32,
    /// Where callers go when nobody staffs the queue or they waited `max_wait_secs`.
    #[serde(default)]
    pub overflow: Overflow,
    /// A call a seat answers within this wait counts towards the queue's service level
    /// (`hotline_queue_answered_in_service_level_total`), as Asterisk's `servicelevel`.
    #[serde(default = "default_service_level")]
    pub service_level_secs: u32,
    /// Whether this queue's calls are recorded (with `[recording]`); unset: as
    /// `recording.queued_calls` says.
    #[serde(default)]
    pub record: Option<bool>,
}

fn default_ring_timeout() -> u32 {
    15
}
fn default_wrap_up() -> u32 {
    10
}
fn default_position_interval() -> u32 {
    30
}
fn default_max_missed() -> u32 {
    3
}
fn default_service_level() -> u32 {
    20
}

impl QueueSettings {
    pub fn ring_timeout(&self) -> Duration {
        Duration::from_secs(self.ring_timeout_secs.into())
    }
    pub fn wrap_up(&self) -> Duration {
        Duration::from_secs(self.wrap_up_secs.into())
    }
    pub fn max_wait(&self) -> Option<Duration> {
        self.max_wait_secs.map(|s| Duration::from_secs(s.into()))
    }
    pub fn service_level(&self) -> Duration {
        Duration::from_secs(self.service_level_secs.into())
    }
    /// `None` when announcements are off.
    pub fn position_interval(&self) -> Option<Duration> {
        (self.position_interval_secs > 0)
            .then(|| Duration::from_secs(self.position_interval_secs.into()))
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The available seat whose last call (wrap-up included) ended longest ago.
    #[default]
    LongestIdle,
    /// The next available seat after the one offered last, in configured order.
    RoundRobin,
    /// Every available seat at once; the first to answer takes the call.
    RingAll,
}

/// `seats = "all"` or `seats = ["1001", "1002"]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "MembersRepr")]
pub enum Members {
    /// Every configured seat, in configured order.
    All,
    List(Vec<String>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MembersRepr {
    Word(String),
    List(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected \"all\" or a list of seat users, not {0:?}")]
pub struct NotAllSeats(String);

impl TryFrom<MembersRepr> for Members {
    type Error = NotAllSeats;
    fn try_from(repr: MembersRepr) -> Result<Self, Self::Error> {
        match repr {
            MembersRepr::Word(w) if w == "all" => Ok(Members::All),
            MembersRepr::Word(w) => Err(NotAllSeats(w)),
            MembersRepr::List(list) => Ok(Members::List(list)),
        }
    }
}

/// What happens to a caller the queue cannot serve. Written as a one-key table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overflow {
    /// `{ queue = "backup" }`: wait on in another queue.
    Queue(String),
    /// `{ prompt = "all_busy" }`: play the prompt, then hang up.
    Prompt(String),
    /// `{ callback = true }`: offer "press 1 to be called back"; the lead reports the digit
    /// with `AcdInput::CallbackRequested`.
    Callback(bool),
}

impl Default for Overflow {
    fn default() -> Self {
        Overflow::Prompt(DEFAULT_OVERFLOW_PROMPT.to_string())
    }
}

/// Every problem in the `[[queues]]` tables, with key paths such as `queues[1].overflow.queue`.
/// `seats` are the configured seat users, which `Members::List` entries must name.
pub fn validate(queues: &[QueueSettings], seats: &[String]) -> Vec<Issue> {
    let mut issues = Vec::new();
    let mut names = HashSet::new();
    for (i, q) in queues.iter().enumerate() {
        let mut issue = |field: &str, reason: String| {
            issues.push(Issue {
                key: format!("queues[{i}].{field}"),
                reason,
            })
        };
        if q.name.trim().is_empty() {
            issue("name", "must not be empty".into());
        } else if !names.insert(q.name.as_str()) {
            issue("name", format!("queue {:?} is defined twice", q.name));
        }
        match &q.seats {
            Members::All if seats.is_empty() => {
                issue("seats", "\"all\" but no seats are configured".into())
            }
            Members::All => {}
            Members::List(list) if list.is_empty() => {
                issue("seats", "must list at least one seat".into())
            }
            Members::List(list) => {
                for (j, user) in list.iter().enumerate() {
                    if !seats.contains(user) {
                        issue(&format!("seats[{j}]"), format!("no seat {user:?}"));
                    } else if list[..j].contains(user) {
                        issue(&format!("seats[{j}]"), format!("{user:?} is listed twice"));
                    }
                }
            }
        }
        if !RING_TIMEOUT_RANGE.contains(&q.ring_timeout_secs) {
            issue(
                "ring_timeout_secs",
                format!(
                    "{} is outside {}..={}",
                    q.ring_timeout_secs,
                    RING_TIMEOUT_RANGE.start(),
                    RING_TIMEOUT_RANGE.end()
                ),
            );
        }
        if q.wrap_up_secs > MAX_WRAP_UP_SECS {
            issue(
                "wrap_up_secs",
                format!("{} is above {MAX_WRAP_UP_SECS}", q.wrap_up_secs),
            );
        }
        if !(1..=3600).contains(&q.service_level_secs) {
            issue(
                "service_level_secs",
                format!("{} is outside 1..=3600", q.service_level_secs),
            );
        }
        if q.max_wait_secs == Some(0) {
            issue(
                "max_wait_secs",
                "must be greater than 0; leave it out to wait forever".into(),
            );
        }
        if q.position_interval_secs != 0 && q.position_interval_secs < MIN_POSITION_INTERVAL_SECS {
            issue(
                "position_interval_secs",
                format!(
                    "{} is below {MIN_POSITION_INTERVAL_SECS}; use 0 for no announcements",
                    q.position_interval_secs
                ),
            );
        }
        match &q.overflow {
            Overflow::Queue(to) if to == &q.name => issue(
                "overflow.queue",
                "a queue cannot overflow into itself".into(),
            ),
            Overflow::Queue(to) if !queues.iter().any(|o| &o.name == to) => {
                issue("overflow.queue", format!("no queue {to:?}"))
            }
            Overflow::Queue(_) => {
                if let Some(cycle) = overflow_cycle(queues, i) {
                    issue(
                        "overflow.queue",
                        format!("overflow loops: {}", cycle.join(" -> ")),
                    );
                }
            }
            Overflow::Prompt(p) if p.trim().is_empty() => {
                issue("overflow.prompt", "must name a prompt".into())
            }
            Overflow::Prompt(_) => {}
            Overflow::Callback(false) => issue(
                "overflow.callback",
                "false offers nothing; use { prompt = \"...\" } to hang up".into(),
            ),
            Overflow::Callback(true) => {}
        }
    }
    issues
}

/// The chain of names back to queue `start` when following overflow targets returns to it.
/// Self-loops and unknown targets are reported on their own, so they end the walk here.
fn overflow_cycle(queues: &[QueueSettings], start: usize) -> Option<Vec<String>> {
    let mut path = vec![queues[start].name.clone()];
    let mut at = start;
    // A loop through `start` closes within `queues.len()` steps; longer chains loop elsewhere.
    for _ in 0..queues.len() {
        let Overflow::Queue(to) = &queues[at].overflow else {
            return None;
        };
        if to == &queues[at].name {
            return None;
        }
        at = queues.iter().position(|q| &q.name == to)?;
        path.push(queues[at].name.clone());
        if at == start {
            return Some(path);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        queues: Vec<QueueSettings>,
    }

    fn parse(text: &str) -> Result<Vec<QueueSettings>, toml::de::Error> {
        toml::from_str::<File>(text).map(|f| f.queues)
    }

    fn seats() -> Vec<String> {
        ["1001", "1002", "1003"].map(String::from).to_vec()
    }

    #[test]
    fn defaults_and_every_overflow_form() {
        let queues = parse(
            r#"
            [[queues]]
            name = "citizens"
            seats = "all"
            max_wait_secs = 300
            overflow = { queue = "backup" }

            [[queues]]
            name = "backup"
            seats = ["1003"]
            strategy = "ring_all"
            overflow = { callback = true }

            [[queues]]
            name = "night"
            seats = ["1001", "1002"]
            strategy = "round_robin"
            "#,
        )
        .unwrap();
        let q = &queues[0];
        assert_eq!(q.seats, Members::All);
        assert_eq!(q.strategy, Strategy::LongestIdle);
        assert_eq!(q.ring_timeout(), Duration::from_secs(15));
        assert_eq!(q.wrap_up(), Duration::from_secs(10));
        assert_eq!(q.max_wait(), Some(Duration::from_secs(300)));
        assert_eq!(q.position_interval(), Some(Duration::from_secs(30)));
        assert_eq!(q.max_missed_offers, 3);
        assert_eq!(q.overflow, Overflow::Queue("backup".into()));
        assert_eq!(queues[1].overflow, Overflow::Callback(true));
        assert_eq!(queues[1].strategy, Strategy::RingAll);
        assert_eq!(queues[2].overflow, Overflow::Prompt("all_busy".into()));
        assert_eq!(queues[2].max_wait(), None);
        assert!(validate(&queues, &seats()).is_empty());
    }

    #[test]
    fn unknown_keys_and_malformed_values_are_refused() {
        for bad in [
            "[[queues]]\nname = \"a\"\nseats = \"all\"\nring_timeout = 5",
            "[[queues]]\nname = \"a\"\nseats = \"everyone\"",
            "[[queues]]\nname = \"a\"\nseats = \"all\"\nstrategy = \"random\"",
            "[[queues]]\nname = \"a\"\nseats = \"all\"\noverflow = { voicemail = true }",
            "[[queues]]\nname = \"a\"\nseats = \"all\"\noverflow = { queue = \"b\", prompt = \"c\" }",
            "[[queues]]\nname = \"a\"",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation_reports_every_problem_with_its_path() {
        let queues = parse(
            r#"
            [[queues]]
            name = "a"
            seats = ["1001", "9999", "1001"]
            ring_timeout_secs = 0
            max_wait_secs = 0
            position_interval_secs = 5
            wrap_up_secs = 7200
            overflow = { queue = "b" }

            [[queues]]
            name = "b"
            seats = []
            overflow = { queue = "a" }

            [[queues]]
            name = "a"
            seats = "all"
            overflow = { queue = "nowhere" }

            [[queues]]
            name = "c"
            seats = "all"
            overflow = { callback = false }

            [[queues]]
            name = "d"
            seats = "all"
            overflow = { queue = "d" }
            "#,
        )
        .unwrap();
        let keys: Vec<String> = validate(&queues, &seats())
            .into_iter()
            .map(|i| i.key)
            .collect();
        assert_eq!(
            keys,
            [
                "queues[0].seats[1]",
                "queues[0].seats[2]",
                "queues[0].ring_timeout_secs",
                "queues[0].wrap_up_secs",
                "queues[0].max_wait_secs",
                "queues[0].position_interval_secs",
                "queues[0].overflow.queue",
                "queues[1].seats",
                "queues[1].overflow.queue",
                "queues[2].name",
                "queues[2].overflow.queue",
                "queues[3].overflow.callback",
                "queues[4].overflow.queue",
            ]
        );
    }
}
