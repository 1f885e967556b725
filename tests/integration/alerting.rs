//! The shipped alert rules and dashboard (`docker/prometheus`, `docker/grafana`) against the
//! real promtool and the real daemon: the rules load and their unit tests fire as they should,
//! every metric the rules and the dashboard name is one the daemon describes, and a live scrape
//! taken while a call is up passes `promtool check metrics`.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use hotline::metrics::names::{Kind, ALL};

use crate::common::{self, Options};
use crate::metrics_scrape::http_get;
use crate::peers::RtpProbe;
use crate::raw_caller::RawCaller;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Runs promtool (Debian's `prometheus` package; the test command installs it) with `args`,
/// feeding `stdin`; its exit status and everything it printed.
fn promtool(args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(repo("."))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool (is the prometheus package installed?)");
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.as_bytes())
            .expect("write to promtool");
    }
    let out = child.wait_with_output().expect("promtool output");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn the_rules_load_and_fire_on_their_test_series() {
    let (ok, out) = promtool(
        &["check", "rules", "docker/prometheus/hotline-rules.yml"],
        "",
    );
    assert!(ok, "{out}");
    let (ok, out) = promtool(
        &["test", "rules", "docker/prometheus/hotline-rules.test.yml"],
        "",
    );
    assert!(ok, "{out}");
}

/// The metric names in `text`: `hotline_` words, a histogram's series named by the histogram.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(found) = text[at..].find("hotline_") {
        let start = at + found;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_lowercase() || bytes[end] == b'_') {
            end += 1;
        }
        let word = &text[start..end];
        let histogram = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| word.strip_suffix(suffix))
            .filter(|base| {
                ALL.iter()
                    .any(|m| m.name == *base && m.kind == Kind::Histogram)
            });
        names.insert(histogram.unwrap_or(word).to_string());
        at = end;
    }
    names
}

#[test]
fn every_metric_the_rules_and_the_dashboard_use_is_one_the_daemon_emits() {
    for file in [
        "docker/prometheus/hotline-rules.yml",
        "docker/grafana/hotline-dashboard.json",
    ] {
        let text = std::fs::read_to_string(repo(file)).expect("read");
        let used = metric_names(&text);
        assert!(used.len() >= 10, "{file}: {used:?}");
        let unknown: Vec<_> = used
            .iter()
            .filter(|name| !ALL.iter().any(|m| m.name == name.as_str()))
            .collect();
        assert_eq!(
            unknown,
            Vec::<&String>::new(),
            "{file} names metrics the daemon never emits"
        );
    }
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("docker/grafana/hotline-dashboard.json")).expect("read"),
    )
    .expect("the dashboard is JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels
        .iter()
        .all(|p| p["targets"].as_array().is_some_and(|t| !t.is_empty())));
}

/// A scrape taken while a caller waits in the queue passes promtool's lint.
#[tokio::test]
async fn a_live_scrape_during_a_call_passes_promtool_check_metrics() {
    let t = common::start(Options::default()).await;
    let probe = RtpProbe::start().expect("probe");
    let mut caller = RawCaller::call(t.daemon.sip_udp, "12350", "13800000077", probe.port()).await;
    let heard = probe.wait_for(20, Duration::from_secs(10)).await;
    assert!(
        heard.packets >= 20,
        "hold music reaches the caller: {heard:?}"
    );
    let (status, scrape) = http_get(t.daemon.metrics, "/metrics").await;
    assert_eq!(status, 200);
    assert!(scrape.contains("hotline_calls_active"), "{scrape}");
    assert!(scrape.contains("hotline_uptime_seconds"), "{scrape}");
    let (ok, out) = promtool(&["check", "metrics"], &scrape);
    assert!(ok, "promtool check metrics:\n{out}");
    caller.hang_up().await;
    t.daemon.shutdown().await.expect("shutdown");
}
