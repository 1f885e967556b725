//! Small timing helpers shared by the benchmarks (no benchmark framework:
//! `std::time::Instant`, a warm-up, several rounds, median and spread).
#![allow(dead_code)] // each bench binary uses a different subset

use std::time::{Duration, Instant};

/// Summary of per-round figures.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(values: &[f64]) -> Summary {
        assert!(!values.is_empty());
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        Summary {
            median: percentile_sorted(&v, 50.0),
            min: v[0],
            max: v[v.len() - 1],
        }
    }

    /// (max - min) / median, in percent.
    pub fn spread_pct(&self) -> f64 {
        if self.median == 0.0 {
            0.0
        } else {
            (self.max - self.min) / self.median * 100.0
        }
    }
}

/// Nearest-rank percentile of an already sorted slice.
pub fn percentile_sorted<T: Copy>(sorted: &[T], pct: f64) -> T {
    let rank = ((pct / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Runs `f` `iters` times per round: `warmup` rounds discarded, then
/// `rounds` timed. Returns ns per call for each timed round.
pub fn time_rounds(iters: u32, warmup: u32, rounds: u32, mut f: impl FnMut()) -> Vec<f64> {
    for _ in 0..warmup {
        for _ in 0..iters {
            f();
        }
    }
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(iters)
        })
        .collect()
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One line about where the figures come from.
pub fn print_context(bench: &str) {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    println!(
        "{bench}: {} cores available ({cpu}), 1-min load average {load}, {} build",
        cores(),
        if cfg!(debug_assertions) {
            "DEBUG"
        } else {
            "release"
        }
    );
    println!("(figures are wall-clock on a shared machine: noisy under load)");
}

/// VmRSS of process `pid` in KB (0 when it cannot be read).
pub fn vm_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

pub fn fmt_duration(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}
