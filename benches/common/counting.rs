//! A counting `#[global_allocator]` and CPU-time readers for the benches that measure a
//! runtime's allocations and CPU apart from the rest of the process (`rtp_relay`, `hub`).
//! Included with `#[path]` by those benches only, so the others keep the plain allocator.
//!
//! Allocations made on threads that set [`ON_COUNTED_RT`] (a runtime's `on_thread_start`)
//! are counted in [`RT_ALLOCS`] as well as [`ALLOCS`]; while [`TRACE_BUDGET`] is above zero,
//! each allocation prints a backtrace.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

struct Counting;

pub static ALLOCS: AtomicU64 = AtomicU64::new(0);
pub static RT_ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Bytes allocated and not yet freed, whole process (from the first allocation on).
pub static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
/// Backtraces still to print while tracing is on.
pub static TRACE_BUDGET: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    pub static ON_COUNTED_RT: Cell<bool> = const { Cell::new(false) };
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
}

fn count_alloc() {
    ALLOCS.fetch_add(1, Ordering::Relaxed);
    if ON_COUNTED_RT.try_with(Cell::get).unwrap_or(false) {
        RT_ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
    if TRACE_BUDGET.load(Ordering::Relaxed) > 0 {
        trace_alloc();
    }
}

#[cold]
fn trace_alloc() {
    // Printing a backtrace allocates; the flag keeps that from recursing.
    if IN_TRACE.try_with(|t| t.replace(true)).unwrap_or(true) {
        return;
    }
    let take =
        TRACE_BUDGET.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1));
    if take.is_ok() {
        let thread = std::thread::current();
        eprintln!(
            "--- allocation on thread {:?}:\n{}",
            thread.name(),
            std::backtrace::Backtrace::force_capture()
        );
    }
    let _ = IN_TRACE.try_with(|t| t.set(false));
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_alloc();
        LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_alloc();
        LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_alloc();
        LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// CPU time.

/// utime + stime of the whole process, in ns (clock ticks of 10 ms: USER_HZ
/// is 100 on Linux).
pub fn process_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let after_comm = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `after_comm` starts at field 3.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks * 10_000_000
}

/// Time on CPU in ns of the threads whose name starts with `prefix`
/// (schedstat is ns-precise, unlike the tick-based utime/stime).
pub fn threads_cpu_ns(prefix: &str) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .flatten()
    {
        let path = task.path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
            continue;
        };
        if !comm.starts_with(prefix) {
            continue;
        }
        if let Ok(s) = std::fs::read_to_string(path.join("schedstat")) {
            total += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}
