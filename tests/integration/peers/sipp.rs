//! Running the `sipp` binary on one of the scenarios in tests/sipp.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{free_media_port, free_udp_port, sipp_dir, LOOPBACK};

/// SIPp's own `-timeout` unless the test sets one.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long after SIPp's own `-timeout` the helper kills it.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// How often `wait` looks at the child.
const POLL: Duration = Duration::from_millis(20);

/// A SIPp run to be started: one scenario, one call (`-m 1`), on 127.0.0.1.
///
/// ```ignore
/// let run = Sipp::new("trunk_call.xml")
///     .remote(daemon_sip_addr)
///     .service("12345")
///     .set("hold_ms", "2000")
///     .run()
///     .await?;
/// assert!(run.success(), "{run}");
/// ```
#[derive(Debug, Clone)]
pub struct Sipp {
    scenario: String,
    ooc_scenario: Option<String>,
    remote: Option<SocketAddr>,
    port: Option<u16>,
    media_port: Option<u16>,
    service: Option<String>,
    auth_user: Option<String>,
    password: Option<String>,
    auth_uri: Option<String>,
    keys: Vec<(String, String)>,
    sets: Vec<(String, String)>,
    rtp_echo: bool,
    timeout: Duration,
    extra: Vec<OsString>,
    /// Checks on the arguments, run by `spawn` (see `check`).
    checks: Vec<Check>,
}

/// A check of a run's arguments before it starts: Err(why) refuses it.
pub type Check = fn(&Sipp) -> Result<(), String>;

impl Sipp {
    /// `scenario` is a file name in tests/sipp, e.g. "trunk_call.xml".
    pub fn new(scenario: &str) -> Self {
        Sipp {
            scenario: scenario.to_owned(),
            ooc_scenario: None,
            remote: None,
            port: None,
            media_port: None,
            service: None,
            auth_user: None,
            password: None,
            auth_uri: None,
            keys: Vec::new(),
            sets: Vec::new(),
            rtp_echo: false,
            timeout: DEFAULT_TIMEOUT,
            extra: Vec::new(),
            checks: Vec::new(),
        }
    }

    /// The peer SIPp sends to (the daemon's SIP address). Server scenarios
    /// (the first message is received) need none.
    pub fn remote(mut self, addr: SocketAddr) -> Self {
        self.remote = Some(addr);
        self
    }

    /// SIPp's SIP port; by default a free one is picked (`-p 0` is not "any").
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// SIPp's media port (`-mp`; SIPp also binds port + 2). By default a free
    /// even pair is picked.
    pub fn media_port(mut self, port: u16) -> Self {
        self.media_port = Some(port);
        self
    }

    /// `-s`: the called number for trunk scenarios, the user for seat ones.
    pub fn service(mut self, service: &str) -> Self {
        self.service = Some(service.to_owned());
        self
    }

    /// `-au`: the digest username, when it differs from `service`.
    pub fn auth_user(mut self, user: &str) -> Self {
        self.auth_user = Some(user.to_owned());
        self
    }

    /// `-ap`: the digest password.
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }

    /// `-auth_uri`: what SIPp puts after "sip:" in the digest uri=. By
    /// default it is DAEMON_IP:DAEMON_PORT, which matches the Request-URI of
    /// a REGISTER but not of an INVITE to sip:CODE@DAEMON; one value per run.
    pub fn auth_uri(mut self, uri: &str) -> Self {
        self.auth_uri = Some(uri.to_owned());
        self
    }

    /// `-oocsf`: the scenario (in tests/sipp) for requests with a new
    /// Call-ID, e.g. "seat_incoming.xml" with "seat_answer.xml".
    pub fn out_of_call(mut self, scenario: &str) -> Self {
        self.ooc_scenario = Some(scenario.to_owned());
        self
    }

    /// `-key NAME VALUE`: a `[NAME]` keyword of the scenario.
    pub fn key(mut self, name: &str, value: &str) -> Self {
        self.keys.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `-set NAME VALUE`: a `[$NAME]` global variable of the scenario.
    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.sets.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `-rtp_echo`: echo RTP received on the media port to its sender.
    pub fn rtp_echo(mut self) -> Self {
        self.rtp_echo = true;
        self
    }

    /// SIPp's `-timeout` (whole seconds, at least 1); it exits 255 (-1) when
    /// it is reached, and the helper kills it a few seconds later if not.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_secs(1));
        self
    }

    /// The value of the last `-set NAME` so far (SIPp keeps the last one).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.sets
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A check `spawn` runs on the final arguments (after every `.set`),
    /// refusing the run with `ErrorKind::InvalidInput` if it fails, e.g. a
    /// combination of variables the scenario cannot honour.
    pub fn check(mut self, check: Check) -> Self {
        self.checks.push(check);
        self
    }

    /// Any further SIPp argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.extra.push(arg.into());
        self
    }

    /// Start SIPp in the background.
    pub fn spawn(self) -> io::Result<SippProcess> {
        for check in &self.checks {
            check(&self).map_err(|why| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{}: {why}", self.scenario),
                )
            })?;
        }
        let dir = tempfile::Builder::new().prefix("hotline-sipp-").tempdir()?;
        let port = match self.port {
            Some(port) => port,
            None => free_udp_port()?,
        };
        let media_port = match self.media_port {
            Some(port) => port,
            None => free_media_port()?,
        };
        // SIPp's UDP control socket (default 0.0.0.0:8888): loopback, free port.
        let control_port = free_udp_port()?;
        let timeout_secs = self.timeout.as_secs().max(1);

        let mut cmd = Command::new("sipp");
        // Relative audio paths in the scenarios are relative to tests/sipp.
        cmd.current_dir(sipp_dir());
        if let Some(remote) = self.remote {
            cmd.arg(remote.to_string());
        }
        cmd.arg("-sf").arg(sipp_dir().join(&self.scenario));
        if let Some(ooc) = &self.ooc_scenario {
            cmd.arg("-oocsf").arg(sipp_dir().join(ooc));
        }
        let loopback = LOOPBACK.to_string();
        cmd.args(["-i", &loopback, "-mi", &loopback, "-ci", &loopback])
            .args(["-p", &port.to_string()])
            .args(["-mp", &media_port.to_string()])
            .args(["-cp", &control_port.to_string()])
            .args(["-m", "1", "-nostdin"])
            .args(["-timeout", &format!("{timeout_secs}s"), "-timeout_error"])
            .arg("-trace_err")
            .arg("-error_file")
            .arg(dir.path().join("errors.log"))
            .arg("-trace_logs")
            .arg("-log_file")
            .arg(dir.path().join("logs.log"))
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(dir.path().join("messages.log"));
        if let Some(service) = &self.service {
            cmd.args(["-s", service]);
        }
        if let Some(user) = &self.auth_user {
            cmd.args(["-au", user]);
        }
        if let Some(password) = &self.password {
            cmd.args(["-ap", password]);
        }
        if let Some(uri) = &self.auth_uri {
            cmd.args(["-auth_uri", uri]);
        }
        for (name, value) in &self.keys {
            cmd.args(["-key", name, value]);
        }
        for (name, value) in &self.sets {
            cmd.args(["-set", name, value]);
        }
        if self.rtp_echo {
            cmd.arg("-rtp_echo");
        }
        cmd.args(&self.extra);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());

        let mut child = cmd.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot run sipp (is sip-tester installed?): {e}"),
            )
        })?;
        // Drain both pipes on threads: SIPp redraws its screen on stdout and
        // would block on a full pipe.
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        Ok(SippProcess {
            child,
            stdout,
            stderr,
            dir,
            scenario: self.scenario,
            local_addr: SocketAddr::from((LOOPBACK, port)),
            media_addr: SocketAddr::from((LOOPBACK, media_port)),
            deadline: Instant::now() + Duration::from_secs(timeout_secs) + KILL_GRACE,
        })
    }

    /// Start SIPp and wait for it to finish.
    pub async fn run(self) -> io::Result<SippRun> {
        self.spawn()?.wait().await
    }
}

fn drain<R: Read + Send + 'static>(mut pipe: R) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        // A read error only truncates the captured text, which is diagnostics.
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// A running SIPp; killed if dropped before it is waited for.
#[derive(Debug)]
pub struct SippProcess {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    dir: TempDir,
    scenario: String,
    local_addr: SocketAddr,
    media_addr: SocketAddr,
    deadline: Instant,
}

impl SippProcess {
    /// SIPp's SIP address (what a seat scenario puts in its Contact).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// SIPp's RTP address: the port in its SDP, from which it sends RTP
    /// (rtp_stream and play_pcap_audio) and on which it echoes (-rtp_echo).
    pub fn media_addr(&self) -> SocketAddr {
        self.media_addr
    }

    /// The OS process id, e.g. to send SIGUSR1 (SIPp's soft stop).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The `<log>` lines written so far (SIPp flushes each line), e.g. to
    /// see that a seat agent has logged in before calls are made.
    pub fn log_so_far(&self) -> String {
        fs::read_to_string(self.dir.path().join("logs.log")).unwrap_or_default()
    }

    /// The SIP messages (-trace_msg) and errors (-trace_err) so far, for failure reports.
    pub fn messages_so_far(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!(
            "--- messages\n{}\n--- errors\n{}",
            read("messages.log"),
            read("errors.log")
        )
    }

    /// Wait until a `<log>` line contains `needle`, SIPp exits, or `timeout`
    /// passes; true if the line came.
    pub async fn wait_log(&mut self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log_so_far().contains(needle) {
                return true;
            }
            let exited = !matches!(self.child.try_wait(), Ok(None));
            if exited || Instant::now() >= deadline {
                // It may have written the line just before it exited.
                return self.log_so_far().contains(needle);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Wait for SIPp to exit, and kill it if it outlives its `-timeout` by
    /// a few seconds.
    pub async fn wait(mut self) -> io::Result<SippRun> {
        let mut killed = false;
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() >= self.deadline {
                killed = true;
                // It may have exited just now; the wait below tells.
                let _ = self.child.kill();
                break self.child.wait()?;
            }
            tokio::time::sleep(POLL).await;
        };
        let join = |handle: Option<JoinHandle<String>>| {
            handle
                .map(|h| h.join().unwrap_or_default())
                .unwrap_or_default()
        };
        let stdout = join(self.stdout.take());
        let stderr = join(self.stderr.take());
        let read = |name: &str| fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        Ok(SippRun {
            scenario: self.scenario.clone(),
            exit_code: status.code(),
            killed,
            stdout,
            stderr,
            error_log: read("errors.log"),
            log: read("logs.log"),
            messages: read("messages.log"),
            local_addr: self.local_addr,
            media_addr: self.media_addr,
        })
    }
}

impl Drop for SippProcess {
    fn drop(&mut self) {
        // Only our own child, by its handle; harmless if it already exited.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a finished SIPp run left behind.
#[derive(Debug, Clone)]
pub struct SippRun {
    pub scenario: String,
    /// 0: the call succeeded; 1: it failed; 97: stopped by the scenario
    /// (seat_answer.xml: no call); 255: `-timeout` reached; 254: a socket
    /// could not be bound; None: killed by a signal.
    pub exit_code: Option<i32>,
    /// The helper killed it after its deadline.
    pub killed: bool,
    pub stdout: String,
    pub stderr: String,
    /// `-trace_err`: unexpected messages and errors. Seat runs always have a
    /// "Received out-of-call INVITE message" line there; that is normal.
    pub error_log: String,
    /// `-trace_logs`: the scenarios' `<log>` lines (e.g. final_response=486).
    pub log: String,
    /// `-trace_msg`: every SIP message sent and received.
    pub messages: String,
    pub local_addr: SocketAddr,
    pub media_addr: SocketAddr,
}

impl SippRun {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// trunk_fail.xml: the code of the final response it received.
    pub fn final_response(&self) -> Option<u16> {
        self.log
            .lines()
            .find_map(|line| line.trim().strip_prefix("final_response="))
            .and_then(|code| code.trim().parse().ok())
    }
}

impl std::fmt::Display for SippRun {
    /// A failure report for assert messages: exit code, errors, SIP trace.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "sipp {} on {} (media {}): exit code {:?}{}",
            self.scenario,
            self.local_addr,
            self.media_addr,
            self.exit_code,
            if self.killed {
                ", killed after its deadline"
            } else {
                ""
            }
        )?;
        writeln!(f, "--- stderr\n{}", self.stderr.trim_end())?;
        writeln!(f, "--- error log\n{}", self.error_log.trim_end())?;
        writeln!(f, "--- log\n{}", self.log.trim_end())?;
        write!(f, "--- messages\n{}", self.messages.trim_end())
    }
}
