//! Starting a real daemon for a test: a config file written to a temp dir (every port 0, a
//! fresh SQLite file), loaded through the same loader `hotline run` uses.

use std::time::Duration;

use hotline::config::{load_with, LoadOptions};
use hotline::server::Daemon;
use tempfile::TempDir;

/// Seat 1004 is the shift leader (`supervisor = true`) in every test config.
pub const SUPERVISOR: &str = "1004";

pub const SEATS: &[(&str, &str)] = &[
    ("1001", "seat1001-secret"),
    ("1002", "seat1002-secret"),
    ("1003", "seat1003-secret"),
    ("1004", "seat1004-secret"),
];

/// A daemon under test with the directory holding its config and database.
pub struct TestDaemon {
    pub daemon: Daemon,
    #[allow(dead_code)] // keeps the temp dir alive as long as the daemon
    pub dir: TempDir,
}

pub struct Options {
    /// `ring` of route 12345: "all" or a TOML list such as `["1001"]`.
    pub ring: String,
    pub ring_timeout_secs: u32,
    /// The trunk's name, "carrier" by default. A test that asserts the process-wide metrics of
    /// its trunk gives it a name of its own, as other tests' daemons share the recorder.
    pub trunk_name: String,
    /// Trunk sources; the default admits 127.0.0.1.
    pub trunk_sources: String,
    /// Extra lines for queue `q` (numbers 12350, and 12351 at priority 0), e.g.
    /// `overflow = { callback = true }`.
    pub queue_extra: String,
    /// Appended to the config (e.g. `[[calendars]]` tables) and to the dialplan.
    pub extra_config: String,
    pub extra_routes: String,
    /// Extra lines for the `[sip]` table, e.g. `max_calls = 1`.
    pub sip_extra: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            ring: "\"all\"".to_string(),
            ring_timeout_secs: 20,
            trunk_name: "carrier".to_string(),
            trunk_sources: "[\"127.0.0.1/32\"]".to_string(),
            queue_extra: String::new(),
            extra_config: String::new(),
            extra_routes: String::new(),
            sip_extra: String::new(),
        }
    }
}

/// A daemon with the API on (token `token`), no rating question, and one hand-off category
/// `name` (`label`) of `limit` seconds, warned `warning` seconds before.
pub async fn start_with_api(
    token: &str,
    category: (&str, &str),
    limit: u32,
    warning: u32,
) -> TestDaemon {
    start_with_api_on("127.0.0.1:0", token, category, limit, warning).await
}

/// As `start_with_api`, with the API on `listen` (a daemon started again where the last one
/// listened).
pub async fn start_with_api_on(
    listen: &str,
    token: &str,
    category: (&str, &str),
    limit: u32,
    warning: u32,
) -> TestDaemon {
    let (name, label) = category;
    let extra_config = format!(
        "[api]\nlisten = \"{listen}\"\ntoken = \"{token}\"\n\n[ratings]\nenabled = false\n\n\
         [handoffs]\nwarning_secs = {warning}\n\n[[handoffs.categories]]\nname = \"{name}\"\n\
         label = \"{label}\"\ncode = \"*91\"\nlimit_secs = {limit}\nextended_limit_secs = {}\n",
        2 * limit
    );
    start(Options {
        extra_config,
        ..Options::default()
    })
    .await
}

pub fn config_text(dir: &std::path::Path, options: &Options) -> (String, String) {
    let mut seats = String::new();
    for (user, password) in SEATS {
        let supervisor = if *user == SUPERVISOR {
            "supervisor = true\n"
        } else {
            ""
        };
        seats.push_str(&format!(
            "[[seats]]\nuser = \"{user}\"\npassword = \"{password}\"\n{supervisor}\n"
        ));
    }
    let config = format!(
        r#"[log]
level = "info"

[sip]
udp = "127.0.0.1:0"
tcp = "127.0.0.1:0"
realm = "hotline.test"
min_expires_secs = 10
max_expires_secs = 3600
# SIPp answers only the first challenge, and only MD5.
digest_algorithms = ["MD5", "SHA-256"]
{sip_extra}

[rtp]
bind = "127.0.0.1"
port_min = 30000
port_max = 39999

[store]
path = "{db}"

[metrics]
listen = "127.0.0.1:0"

[dialplan]
files = ["{dialplan}"]

[prompts]
dir = "{prompts}"

{seats}
[[trunks]]
name = "{trunk}"
sources = {sources}

[[queues]]
name = "q"
seats = "all"
ring_timeout_secs = 3
wrap_up_secs = 2
position_interval_secs = 10
{queue_extra}

{extra_config}
"#,
        db = dir.join("hotline.db").display(),
        dialplan = dir.join("dialplan.toml").display(),
        trunk = options.trunk_name,
        sources = options.trunk_sources,
        prompts = concat!(env!("CARGO_MANIFEST_DIR"), "/prompts/zh"),
        queue_extra = options.queue_extra,
        extra_config = options.extra_config,
        sip_extra = options.sip_extra,
    );
    let dialplan = format!(
        r#"[[routes]]
number = "12345"
ring = {ring}
ring_timeout_secs = {timeout}

[[routes]]
number = "12346"
ring = ["1001"]
ring_timeout_secs = {timeout}

[[routes]]
number = "12350"
queue = "q"

[[routes]]
number = "12351"
queue = "q"
priority = 0

{extra_routes}
"#,
        ring = options.ring,
        timeout = options.ring_timeout_secs,
        extra_routes = options.extra_routes,
    );
    (config, dialplan)
}

/// `HOTLINE_TEST_LOG=hotline=debug cargo test ...` shows the daemons' logs.
fn init_logging() {
    if let Ok(filter) = std::env::var("HOTLINE_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
}

pub async fn start(options: Options) -> TestDaemon {
    init_logging();
    let dir = tempfile::tempdir().expect("temp dir");
    let (config, dialplan) = config_text(dir.path(), &options);
    std::fs::write(dir.path().join("hotline.toml"), config).expect("write config");
    std::fs::write(dir.path().join("dialplan.toml"), dialplan).expect("write dialplan");
    let daemon = Daemon::start(load(&dir)).await.expect("daemon starts");
    TestDaemon { daemon, dir }
}

fn load(dir: &TempDir) -> hotline::config::LoadedConfig {
    load_with(
        &dir.path().join("hotline.toml"),
        &LoadOptions {
            base_dir: None,
            env: Some(Default::default()),
        },
    )
    .unwrap_or_else(|e| panic!("test config refused:\n{e}"))
}

impl TestDaemon {
    /// Stops the daemon cleanly and starts a new one on the same config and database, as an
    /// operator's restart would. Its ports are new ones.
    #[allow(dead_code)] // not every test binary restarts
    pub async fn restart(self) -> TestDaemon {
        let TestDaemon { daemon, dir } = self;
        daemon.shutdown().await.expect("clean shutdown");
        let daemon = Daemon::start(load(&dir))
            .await
            .expect("daemon starts again");
        TestDaemon { daemon, dir }
    }
}

/// Polls `check` every 50 ms until it holds, for at most `limit`.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The shipped config with its database at `db`, written into `dir`; for the commands that read
/// the database (run them from the crate's root, where the shipped dialplan is).
pub fn shipped_config_with_db(dir: &std::path::Path, db: &std::path::Path) -> std::path::PathBuf {
    let config = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/hotline.toml"),
    )
    .expect("config")
    .replace(
        "path = \"hotline.db\"",
        &format!("path = \"{}\"", db.display()),
    );
    let path = dir.join("hotline.toml");
    std::fs::write(&path, config).expect("write config");
    path
}

/// SHA-256 of `bytes`, lowercase hex (as recordings' records hold it).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
