//! The system under load: the release daemon started as a process with a config derived from
//! `config/hotline.toml`, or the rig's Kamailio with userspace rtpengine (`../shared/bench`);
//! and the readers of their CPU time and memory in `/proc`. Whatever is started here is stopped
//! by its PID when the value is dropped, so also when the bench panics.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `config/hotline.toml` with the changes the bench needs, each a whole-line replacement of a
/// key the shipped file sets (as `scripts/bench_cps.sh` does): loopback on ports picked by the
/// kernel, room for the load, the store in `dir`, warnings only.
fn derived_config(repo: &Path, dir: &Path) -> String {
    let shipped = std::fs::read_to_string(repo.join("config/hotline.toml"))
        .expect("read config/hotline.toml");
    let replacements: [(&str, String); 10] = [
        ("udp = ", "udp = \"127.0.0.1:0\"".into()),
        ("tcp = ", "tcp = \"127.0.0.1:0\"".into()),
        ("max_calls = ", "max_calls = 100000".into()),
        (
            "digest_algorithms = ",
            "digest_algorithms = [\"MD5\", \"SHA-256\"]".into(),
        ),
        ("port_min = ", "port_min = 20000".into()),
        ("port_max = ", "port_max = 29999".into()),
        (
            "path = \"hotline.db\"",
            format!("path = \"{}\"", dir.join("hotline.db").display()),
        ),
        ("level = ", "level = \"warn\"".into()),
        (
            "files = [\"dialplans/",
            format!(
                "files = [\"{}\"]",
                repo.join("dialplans/hotline.toml").display()
            ),
        ),
        (
            "dir = \"prompts/",
            format!("dir = \"{}\"", repo.join("prompts/zh").display()),
        ),
    ];
    let mut used = [false; 10];
    let mut out = String::with_capacity(shipped.len() + 256);
    for line in shipped.lines() {
        let found = replacements
            .iter()
            .position(|(start, _)| line.starts_with(start));
        match found {
            Some(i) if !used[i] => {
                used[i] = true;
                out.push_str(&replacements[i].1);
            }
            _ if line.starts_with("listen = \"127.0.0.1:9060\"") => {
                out.push_str("listen = \"127.0.0.1:0\"")
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    if let Some(i) = used.iter().position(|u| !u) {
        panic!(
            "config/hotline.toml no longer sets `{}`: update benches/media_load/target.rs",
            replacements[i].0
        );
    }
    out
}

/// The release daemon, running.
pub struct Daemon {
    child: Child,
    pub sip: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts `binary` and waits (at most 10 s) for its ready file.
    pub fn start(binary: &Path) -> Daemon {
        assert!(
            binary.exists(),
            "{} is missing: build it first with `cargo build --release` (or set HOTLINE_BIN)",
            binary.display()
        );
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("hotline.toml");
        std::fs::write(&config, derived_config(repo, dir.path())).expect("write config");
        let ready = dir.path().join("ready.json");
        let log = std::fs::File::create(dir.path().join("hotline.log")).expect("log file");
        let child = Command::new(binary)
            .arg("run")
            .arg("--config")
            .arg(&config)
            .arg("--ready-file")
            .arg(&ready)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start the daemon");
        let mut daemon = Daemon {
            child,
            sip: SocketAddr::from(([127, 0, 0, 1], 0)),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let text = loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                if !text.is_empty() {
                    break text;
                }
            }
            if let Ok(Some(status)) = daemon.child.try_wait() {
                let log = std::fs::read_to_string(daemon._dir.path().join("hotline.log"));
                panic!("the daemon exited ({status}):\n{}", log.unwrap_or_default());
            }
            assert!(Instant::now() < deadline, "the daemon wrote no ready file");
            std::thread::sleep(Duration::from_millis(50));
        };
        let ready: serde_json::Value = serde_json::from_str(&text).expect("ready file is JSON");
        daemon.sip = ready["sip_udp"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .expect("sip_udp in the ready file");
        daemon
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the daemon logged (warnings and errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("hotline.log")).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The rig's Kamailio (`-A WITH_RTPENGINE`) and userspace rtpengine, started with its own
/// scripts and stopped with them (they kill only the PIDs they recorded).
pub struct Rig {
    dir: PathBuf,
    pub pids: Vec<u32>,
}

impl Rig {
    pub fn start(dir: &Path) -> Rig {
        let dir = dir.canonicalize().unwrap_or_else(|_| {
            panic!(
                "the rig is not at {} (set RIG to ../shared/bench)",
                dir.display()
            )
        });
        for tool in ["kamailio", "rtpengine"] {
            let found = Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {tool} || test -x /usr/sbin/{tool}"))
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                found,
                "{tool} is not installed (apt-get install --no-install-recommends kamailio rtpengine-daemon)"
            );
        }
        // From here on, Drop stops whatever did start.
        let rig = Rig { dir, pids: vec![] };
        rig.script("rtpengine/run.sh", "start", &[]);
        rig.script(
            "kamailio/run.sh",
            "start",
            &[("KAM_DEFINES", "-A WITH_RTPENGINE")],
        );
        let mut rig = rig;
        rig.pids = rig.current_pids();
        assert!(rig.pids.len() >= 2, "no PIDs of kamailio and rtpengine");
        rig
    }

    fn script(&self, script: &str, command: &str, env: &[(&str, &str)]) -> String {
        let out = Command::new("bash")
            .arg(self.dir.join(script))
            .arg(command)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{script} {command}: {e}"));
        assert!(
            out.status.success(),
            "{script} {command} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Kamailio's main process and children (`run.sh pids`), and rtpengine's PID file.
    fn current_pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self
            .script("kamailio/run.sh", "pids", &[])
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        let rundir = std::env::var("RTPE_RUNDIR").unwrap_or_else(|_| "/tmp/bench-rtpengine".into());
        if let Some(pid) = std::fs::read_to_string(Path::new(&rundir).join("started.pid"))
            .ok()
            .and_then(|p| p.trim().parse().ok())
        {
            pids.push(pid);
        }
        pids
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for script in ["kamailio/run.sh", "rtpengine/run.sh"] {
            let _ = Command::new("bash")
                .arg(self.dir.join(script))
                .arg("stop")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// utime + stime of the processes, in ns (clock ticks of 10 ms).
pub fn cpu_ns(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| {
            // Fields 14 and 15 of stat(5), counted after the command name's ')'.
            let fields: Vec<&str> = stat
                .get(stat.rfind(')')? + 2..)?
                .split_whitespace()
                .collect();
            let ticks =
                fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
            Some(ticks * 10_000_000)
        })
        .sum()
}

/// The memory of the processes in KB: VmRSS of one process; for several, the sum of their
/// proportional set sizes (Pss), so that Kamailio's shared memory is counted once.
pub fn memory_kb(pids: &[u32]) -> u64 {
    let pss = |pid: &u32| -> Option<u64> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
        let line = text.lines().find(|l| l.starts_with("Pss:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    match pids {
        [pid] => super::common::vm_rss_kb(*pid),
        _ => pids.iter().filter_map(pss).sum(),
    }
}
