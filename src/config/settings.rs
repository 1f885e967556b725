//! The daemon's settings as they appear in `config/hotline.toml`.
//!
//! Every struct refuses unknown keys so that a typo is an error, not a silently ignored line.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use ipnet::IpNet;

use crate::auth::Algorithm;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub log: LogSettings,
    pub sip: SipSettings,
    pub rtp: RtpSettings,
    pub store: StoreSettings,
    pub metrics: MetricsSettings,
    pub dialplan: DialplanSettings,
    #[serde(default)]
    pub prompts: PromptSettings,
    #[serde(default)]
    pub features: FeatureSettings,
    #[serde(default)]
    pub time: TimeSettings,
    /// Hand-off categories, their limits and the codes a seat types for them.
    #[serde(default)]
    pub handoffs: crate::handoff::HandoffSettings,
    /// The caller's keypad rating at the end of a call.
    #[serde(default)]
    pub ratings: crate::ratings::RatingSettings,
    #[serde(default)]
    pub queues: Vec<crate::queue::config::QueueSettings>,
    #[serde(default)]
    pub calendars: Vec<crate::calendar::Calendar>,
    #[serde(default)]
    pub seats: Vec<SeatSettings>,
    #[serde(default)]
    pub trunks: Vec<TrunkSettings>,
    /// Return-visit (回访) survey calls; none when the table is absent.
    #[serde(default)]
    pub survey: Option<crate::survey::SurveySettings>,
    /// Bans for floods, failed authentication and scanners.
    #[serde(default)]
    pub security: crate::security::SecuritySettings,
    /// The contact-failure rule (联络畅通): thresholds, points a failure costs, monthly points.
    #[serde(default)]
    pub contact_failures: crate::ledger::FailureRule,
    /// The HTTP API (survey requests); off when the table is absent.
    #[serde(default)]
    pub api: Option<crate::api::ApiSettings>,
    /// When new calls are refused with 503 because the daemon is too busy.
    #[serde(default)]
    pub overload: crate::sip::admission::OverloadSettings,
    /// Call recording; off when the table is absent.
    #[serde(default)]
    pub recording: Option<crate::recording::RecordingSettings>,
    /// The codes supervisors dial to listen, whisper, barge and take over.
    #[serde(default)]
    pub supervision: crate::supervision::SupervisionSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// A `tracing` filter such as `info` or `hotline=debug`; RUST_LOG wins when set.
    #[serde(default = "default_log_level")]
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: default_log_level(),
        }
    }
}

fn default_log_level() -> String {
    "info".to_string()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipSettings {
    /// UDP listen address; port 0 picks a free port (tests read it back).
    pub udp: SocketAddr,
    /// TCP listen address; port 0 picks a free port.
    pub tcp: SocketAddr,
    /// Digest realm and the host part the daemon puts in its own URIs.
    pub realm: String,
    #[serde(default = "default_user_agent")]
    pub user_agent: String,
    /// Admission control: INVITEs beyond this many active calls get 503.
    #[serde(default = "default_max_calls")]
    pub max_calls: usize,
    #[serde(default = "default_min_expires")]
    pub min_expires_secs: u32,
    #[serde(default = "default_max_expires")]
    pub max_expires_secs: u32,
    /// How long a seat rings before the daemon cancels it, unless a route says otherwise.
    #[serde(default = "default_ring_timeout")]
    pub ring_timeout_secs: u32,
    /// Digest challenges offered to phones, most preferred first (RFC 8760 §2.4).
    #[serde(default = "default_digest_algorithms")]
    pub digest_algorithms: Vec<Algorithm>,
}

/// SHA-256 first, as RFC 8760 asks. Phones that read only the first challenge need MD5 first,
/// and some (baresip 1.0) refuse any 401 with a SHA-256 challenge in it: those need `["MD5"]`.
fn default_digest_algorithms() -> Vec<Algorithm> {
    vec![Algorithm::Sha256, Algorithm::Md5]
}

fn default_user_agent() -> String {
    concat!("hotline/", env!("CARGO_PKG_VERSION")).to_string()
}
fn default_max_calls() -> usize {
    1000
}
fn default_min_expires() -> u32 {
    60
}
fn default_max_expires() -> u32 {
    3600
}
fn default_ring_timeout() -> u32 {
    30
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RtpSettings {
    /// Address the RTP sockets bind to.
    pub bind: IpAddr,
    /// Address written into SDP; defaults to `bind`.
    #[serde(default)]
    pub advertise: Option<IpAddr>,
    /// Inclusive range; each call leg takes one even port (RTP) from it.
    pub port_min: u16,
    pub port_max: u16,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// SQLite database file; created with its migrations when missing.
    pub path: PathBuf,
    /// Records waiting to be written; a full queue makes the writer, not the signalling, wait.
    #[serde(default = "default_store_queue")]
    pub queue_capacity: usize,
    /// Most records written in one transaction.
    #[serde(default = "default_store_batch")]
    pub batch_max: usize,
}

fn default_store_queue() -> usize {
    4096
}
fn default_store_batch() -> usize {
    256
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Where `/metrics` is served; port 0 picks a free port.
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialplanSettings {
    /// Dialplan files, loaded in order; a number may be defined only once across them.
    pub files: Vec<PathBuf>,
}

/// Local time, for calendars and for the month a record belongs to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeSettings {
    /// Offset of local time from UTC; China Standard Time is +8 all year (no daylight saving).
    #[serde(default = "default_utc_offset")]
    pub utc_offset_hours: i32,
}

impl Default for TimeSettings {
    fn default() -> Self {
        Self {
            utc_offset_hours: default_utc_offset(),
        }
    }
}

fn default_utc_offset() -> i32 {
    8
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptSettings {
    /// Directory of `<name>.wav` prompts (8 kHz mono; PCM 16-bit, μ-law or A-law).
    #[serde(default = "default_prompt_dir")]
    pub dir: PathBuf,
}

impl Default for PromptSettings {
    fn default() -> Self {
        Self {
            dir: default_prompt_dir(),
        }
    }
}

fn default_prompt_dir() -> PathBuf {
    PathBuf::from("prompts/zh")
}

/// Keypad codes a seat's phone dials (or types after dialling `access`) to change its state.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSettings {
    /// Dialling this answers with "enter code" and takes the code as key presses.
    #[serde(default = "default_access")]
    pub access: String,
    #[serde(default = "default_login")]
    pub login: String,
    #[serde(default = "default_logout")]
    pub logout: String,
    /// Followed optionally by reason digits and `#`: `*732#` pauses with reason 2.
    #[serde(default = "default_pause")]
    pub pause: String,
    #[serde(default = "default_resume")]
    pub resume: String,
    /// How long to wait for the next key of a code.
    #[serde(default = "default_inter_digit")]
    pub inter_digit_secs: u32,
    /// Typed by a seat during a call: it leaves, and the caller is asked to rate the service.
    #[serde(default = "default_to_rating")]
    pub to_rating: String,
    /// Typed by a seat during a call, followed by a unit id or a number and `#`: the caller
    /// holds while the seat talks to the unit.
    #[serde(default = "default_consult")]
    pub consult: String,
    /// The seat leaves; caller and unit stay connected (warm transfer).
    #[serde(default = "default_transfer")]
    pub transfer: String,
    /// Caller, seat and unit all hear each other.
    #[serde(default = "default_conference")]
    pub conference: String,
    /// The unit is hung up; seat and caller talk on.
    #[serde(default = "default_drop_unit")]
    pub drop_unit: String,
    /// How many times each role of a unit (handler, head, duty) is rung in one hunt, unless
    /// the unit's `hunt` says otherwise; 1 to 10.
    #[serde(default = "default_hunt_attempts")]
    pub hunt_attempts: u32,
    /// The pause between two attempts of a hunt; 0 to 60 seconds.
    #[serde(default = "default_hunt_pause")]
    pub hunt_pause_secs: u32,
    /// While a unit's contacts are hunted: ring the next one now.
    #[serde(default = "default_skip_contact")]
    pub skip_contact: String,
    /// Pauses the call's recording (a citizen's ID number, bank details), and resumes it.
    #[serde(default = "default_pause_recording")]
    pub pause_recording: String,
    /// Ends the consultation (ringing or talking) and returns to the caller.
    #[serde(default = "default_cancel_consult")]
    pub cancel_consult: String,
    /// Most parties in one conference (caller, seat and units), 3..=8: above three, `consult`
    /// during a three-way call brings one more unit into it.
    #[serde(default = "default_conference_max_parties")]
    pub conference_max_parties: u8,
    /// How long the contact of a unit a seat reaches for (consultation, three-way call, blind
    /// transfer) may ring before it is given up and the caller returns to the seat.
    #[serde(default = "default_unit_ring_timeout")]
    pub unit_ring_timeout_secs: u32,
}

impl Default for FeatureSettings {
    fn default() -> Self {
        Self {
            access: default_access(),
            login: default_login(),
            logout: default_logout(),
            pause: default_pause(),
            resume: default_resume(),
            inter_digit_secs: default_inter_digit(),
            to_rating: default_to_rating(),
            consult: default_consult(),
            transfer: default_transfer(),
            conference: default_conference(),
            drop_unit: default_drop_unit(),
            cancel_consult: default_cancel_consult(),
            skip_contact: default_skip_contact(),
            pause_recording: default_pause_recording(),
            hunt_attempts: default_hunt_attempts(),
            hunt_pause_secs: default_hunt_pause(),
            conference_max_parties: default_conference_max_parties(),
            unit_ring_timeout_secs: default_unit_ring_timeout(),
        }
    }
}

fn default_consult() -> String {
    "*1".to_string()
}
fn default_transfer() -> String {
    "*2".to_string()
}
fn default_conference() -> String {
    "*3".to_string()
}
fn default_drop_unit() -> String {
    "*4".to_string()
}
fn default_hunt_attempts() -> u32 {
    3
}
fn default_hunt_pause() -> u32 {
    5
}
fn default_skip_contact() -> String {
    "*5".to_string()
}
fn default_pause_recording() -> String {
    "*6".to_string()
}
fn default_cancel_consult() -> String {
    "*0".to_string()
}
fn default_conference_max_parties() -> u8 {
    3
}
fn default_unit_ring_timeout() -> u32 {
    30
}

/// How many parties a conference may be set to hold.
pub const CONFERENCE_PARTIES_RANGE: std::ops::RangeInclusive<u8> = 3..=8;

fn default_access() -> String {
    "*".to_string()
}
fn default_login() -> String {
    crate::features::DEFAULT_LOGIN.to_string()
}
fn default_logout() -> String {
    crate::features::DEFAULT_LOGOUT.to_string()
}
fn default_pause() -> String {
    crate::features::DEFAULT_PAUSE.to_string()
}
fn default_resume() -> String {
    crate::features::DEFAULT_RESUME.to_string()
}
fn default_to_rating() -> String {
    "*8".to_string()
}
fn default_inter_digit() -> u32 {
    3
}

impl FeatureSettings {
    pub fn codes(&self) -> Result<crate::features::FeatureCodes, crate::features::FeatureError> {
        crate::features::FeatureCodes::new(&self.login, &self.logout, &self.pause, &self.resume)
    }

    /// How a unit's contacts are hunted by default: each attempt rings
    /// `unit_ring_timeout_secs`.
    pub fn hunting(&self) -> crate::dialplan::Hunting {
        crate::dialplan::Hunting {
            ring_timeout: std::time::Duration::from_secs(self.unit_ring_timeout_secs.into()),
            attempts: self.hunt_attempts,
            pause: std::time::Duration::from_secs(self.hunt_pause_secs.into()),
        }
    }

    /// The codes a seat types during a call.
    pub fn in_call(&self) -> crate::features::in_call::InCallCodes {
        crate::features::in_call::InCallCodes {
            consult: self.consult.clone(),
            transfer: self.transfer.clone(),
            conference: self.conference.clone(),
            drop_unit: self.drop_unit.clone(),
            cancel: self.cancel_consult.clone(),
            to_rating: self.to_rating.clone(),
            skip_contact: self.skip_contact.clone(),
            pause_recording: self.pause_recording.clone(),
            inter_digit: std::time::Duration::from_secs(u64::from(self.inter_digit_secs)),
            max_parties: self.conference_max_parties,
            unit_ring_timeout: std::time::Duration::from_secs(self.unit_ring_timeout_secs.into()),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeatSettings {
    /// The SIP user name the phone registers with, e.g. "1001".
    pub user: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// Plain password, or one of the HA1 hashes (`MD5(user:realm:password)` in hex).
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub ha1_md5: Option<String>,
    #[serde(default)]
    pub ha1_sha256: Option<String>,
    /// A shift leader (班长): may listen to, whisper to, barge into and take over other
    /// seats' calls (`[supervision]`).
    #[serde(default)]
    pub supervisor: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkSettings {
    pub name: String,
    /// Source addresses or CIDR blocks the trunk's INVITEs come from.
    pub sources: Vec<IpNet>,
    /// When set, INVITEs from the trunk must also pass digest authentication as this user.
    #[serde(default)]
    pub auth: Option<TrunkAuth>,
    /// Where calls the daemon places (return visits) are sent, over UDP; none = inbound only.
    #[serde(default)]
    pub outbound: Option<std::net::SocketAddr>,
    /// The lines (channels) the carrier sells on this trunk: inbound calls past them are
    /// refused with 503; none = unlimited.
    #[serde(default)]
    pub lines: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkAuth {
    pub user: String,
    pub password: String,
}

impl Settings {
    /// The codes a seat types during a call: `[features]`' and the hand-off codes of
    /// `[handoffs]`.
    pub fn in_call_codes(&self) -> crate::features::in_call::InCallCodes {
        let h = &self.handoffs;
        crate::features::in_call::InCallCodes {
            marks: h
                .categories
                .iter()
                .map(|c| (c.code.clone(), c.name.clone()))
                .collect(),
            extend: h.extend_code.clone(),
            close: h.close_code.clone(),
            refused: h.refused_code.clone(),
            ..self.features.in_call()
        }
    }

    /// What a dialplan may name: the seats, queues, calendars and trunks defined here.
    pub fn dialplan_known(&self) -> crate::dialplan::Known<'_> {
        crate::dialplan::Known {
            seats: self.seats.iter().map(|s| s.user.as_str()).collect(),
            queues: self.queues.iter().map(|q| q.name.as_str()).collect(),
            calendars: &self.calendars,
            trunks: self
                .trunks
                .iter()
                .map(|t| (t.name.as_str(), t.outbound))
                .collect(),
            default_ring_timeout: self.sip.ring_timeout_secs,
            handoff_categories: self
                .handoffs
                .categories
                .iter()
                .map(|c| c.name.as_str())
                .collect(),
        }
    }
}
