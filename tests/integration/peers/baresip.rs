//! A baresip seat: registers to the daemon with digest auth and answers
//! every call by itself, sending a 440 Hz sine.

use std::fs;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::baresip_dir;

/// How often `wait_for_output` looks again.
const POLL: Duration = Duration::from_millis(20);
/// Time a SIGTERMed baresip gets to unregister before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// Settings beyond the account.
#[derive(Debug, Clone)]
pub struct BaresipOptions {
    /// SIP port on 127.0.0.1; 0 (default) lets the kernel pick; the daemon
    /// learns it from the REGISTER's Contact.
    pub sip_port: u16,
    /// RTP port range, "low-high".
    pub rtp_ports: String,
    /// baresip quits by itself after this long (`-t`), should the test
    /// process die without dropping the handle.
    pub lifetime: Duration,
    /// A UDP port on 127.0.0.1 for baresip's `cons` module: each byte sent
    /// there is a key pressed on the phone (`Baresip::press`).
    pub console_port: Option<u16>,
}

impl Default for BaresipOptions {
    fn default() -> Self {
        BaresipOptions {
            sip_port: 0,
            rtp_ports: "10000-30000".to_owned(),
            lifetime: Duration::from_secs(300),
            console_port: None,
        }
    }
}

/// A running baresip; killed (SIGKILL) when dropped. `stop` ends it politely.
#[derive(Debug)]
pub struct Baresip {
    child: Child,
    output: Arc<Mutex<String>>,
    dir: TempDir,
    console: Option<u16>,
}

impl Baresip {
    /// Start a seat `user`/`password` registering to `daemon` (its SIP UDP
    /// address on 127.0.0.1).
    pub fn start(daemon: SocketAddr, user: &str, password: &str) -> io::Result<Baresip> {
        Self::start_with(daemon, user, password, &BaresipOptions::default())
    }

    pub fn start_with(
        daemon: SocketAddr,
        user: &str,
        password: &str,
        options: &BaresipOptions,
    ) -> io::Result<Baresip> {
        let dir = tempfile::Builder::new()
            .prefix("hotline-baresip-")
            .tempdir()?;
        let mut config = fs::read_to_string(baresip_dir().join("config.template"))?
            .replace("@SIP_PORT@", &options.sip_port.to_string())
            .replace("@RTP_PORTS@", &options.rtp_ports);
        if let Some(port) = options.console_port {
            config.push_str(&format!(
                "module\t\t\tcons.so\ncons_listen\t\t127.0.0.1:{port}\n"
            ));
        }
        let accounts = fs::read_to_string(baresip_dir().join("accounts.template"))?
            .replace("@USER@", user)
            .replace("@PASSWORD@", password)
            .replace("@REGISTRAR@", &daemon.to_string());
        fs::write(dir.path().join("config"), config)?;
        fs::write(dir.path().join("accounts"), accounts)?;
        // Without it baresip writes a contacts template with example entries.
        fs::write(dir.path().join("contacts"), "")?;

        let lifetime = options.lifetime.as_secs().max(1).to_string();
        let mut child = Command::new("baresip")
            .arg("-4")
            .arg("-f")
            .arg(dir.path())
            .args(["-t", &lifetime])
            // No terminal: the config loads no stdio/cons UI module.
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                io::Error::new(e.kind(), format!("cannot run baresip (installed?): {e}"))
            })?;

        let output = Arc::new(Mutex::new(String::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = Arc::clone(&output);
            thread::spawn(move || copy_into(pipe, &output));
        }
        Ok(Baresip {
            child,
            output,
            dir,
            console: options.console_port,
        })
    }

    /// Presses `keys` on the phone, one at a time, `gap` apart, through the
    /// `cons` module (the phone must have been started with a console port).
    /// In a call, 0-9 * # are sent as key events (RFC 4733); a line that
    /// starts with `/` is a command, e.g. "/dial *71\n".
    pub async fn press(&self, keys: &str, gap: Duration) -> io::Result<()> {
        let port = self
            .console
            .ok_or_else(|| io::Error::other("baresip started without a console port"))?;
        let socket = tokio::net::UdpSocket::bind((super::LOOPBACK, 0)).await?;
        for key in keys.bytes() {
            socket.send_to(&[key], (super::LOOPBACK, port)).await?;
            tokio::time::sleep(gap).await;
        }
        Ok(())
    }

    /// Everything baresip printed so far (stdout and stderr, interleaved).
    pub fn output(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// Wait until baresip prints `needle`, at most `timeout`. For the
    /// seat's own view (e.g. "200 OK" of its REGISTER, "Call established");
    /// the daemon's API is the better witness where it has one.
    pub async fn wait_for_output(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.output().contains(needle) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Wait for baresip's report of a successful registration.
    pub async fn wait_registered(&self, timeout: Duration) -> bool {
        // baresip 1.0: "USER@HOST: {0/UDP/v4} 200 OK () [1 binding]"
        self.wait_for_output("200 OK () [1 binding]", timeout).await
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The config directory (-f), e.g. to read baresip's files.
    pub fn config_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// SIGTERM (baresip unregisters and quits), SIGKILL if it is still
    /// there after a few seconds. Returns the output.
    pub async fn stop(mut self) -> io::Result<String> {
        // std's Child can only SIGKILL; kill(1) sends TERM to this pid only.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_GRACE;
        while self.child.try_wait()?.is_none() {
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                self.child.wait()?;
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(self.output())
    }
}

fn copy_into(mut pipe: Box<dyn Read + Send>, output: &Mutex<String>) {
    let mut buf = [0u8; 4096];
    // Ends at EOF (process gone) or on a read error; either way no more output.
    while let Ok(n) = pipe.read(&mut buf) {
        if n == 0 {
            break;
        }
        if let Ok(mut out) = output.lock() {
            out.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        // Only our own child, by its handle; harmless if it already exited.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
