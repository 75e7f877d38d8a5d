//! The suite's half of a measured run (never built into the smoke test):
//! every measured step runs in a child process, this binary with `--child`,
//! so that its peak RSS and CPU time are its own and not the simulator's or
//! the fixtures'. The child prints its figures as one `BENCH-RESULT {json}`
//! line. Also the counting allocator that tells a leak from fragmentation.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::cases;
use crate::cases::figures::RunFigures;
use crate::cases::measure::{Exec, proc_status_mb, run_in_process};

/// Runs each measured step as `exe --child KIND ROOT [--fast-client]`.
pub struct ChildExec {
    pub exe: PathBuf,
}

impl Exec for ChildExec {
    async fn measure(&self, root: &Path, kind: &str, fast_client: bool) -> RunFigures {
        let mut cmd = std::process::Command::new(&self.exe);
        cmd.arg("--child").arg(kind).arg(root);
        if fast_client {
            cmd.arg("--fast-client");
        }
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .expect("waiter")
            .expect("child starts");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().find_map(|l| l.strip_prefix("BENCH-RESULT "));
        match line.and_then(|l| serde_json::from_str::<Value>(l).ok()) {
            Some(v) => RunFigures::from_json(&v),
            None => panic!(
                "child {kind} failed ({}): {}\n{}",
                out.status,
                stdout,
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    fn own_process(&self) -> bool {
        true
    }
}

impl RunFigures {
    fn to_json(&self) -> Value {
        json!({
            "wall_ms": self.wall.as_secs_f64() * 1000.0,
            "peak_rss_mb": self.peak_rss_mb,
            "cpu_ms": self.cpu.map(|c| c.as_secs_f64() * 1000.0),
            "outcome": self.outcome,
            "profiles": self.profiles,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "full_read": self.full_read,
            "api_requests": self.api_requests,
            "rss_series": self.rss_series,
            "heap_series": self.heap_series,
        })
    }

    fn from_json(v: &Value) -> RunFigures {
        let u = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        RunFigures {
            wall: Duration::from_secs_f64(v["wall_ms"].as_f64().unwrap_or(0.0) / 1000.0),
            peak_rss_mb: v["peak_rss_mb"].as_f64(),
            cpu: v["cpu_ms"]
                .as_f64()
                .map(|ms| Duration::from_secs_f64(ms / 1000.0)),
            outcome: v["outcome"].as_str().unwrap_or("?").to_owned(),
            profiles: u("profiles"),
            added: u("added"),
            updated: u("updated"),
            removed: u("removed"),
            unchanged: u("unchanged"),
            full_read: v["full_read"].as_bool().unwrap_or(false),
            api_requests: u("api_requests"),
            rss_series: (v["rss_series"].as_array().into_iter().flatten())
                .filter_map(Value::as_f64)
                .collect(),
            heap_series: (v["heap_series"].as_array().into_iter().flatten())
                .filter_map(Value::as_f64)
                .collect(),
        }
    }
}

/// User + system CPU time of this process so far.
pub fn cpu_time() -> Option<Duration> {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return None;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Some(tv(ru.ru_utime) + tv(ru.ru_stime))
}

/// The child-process entry point: `--child KIND ROOT [--fast-client]`.
/// Prints `BENCH-RESULT {json}` with the figures and this process's peak RSS.
pub fn child_main(args: &[String]) -> std::process::ExitCode {
    let (Some(kind), Some(root)) = (args.first(), args.get(1)) else {
        eprintln!("usage: --child plan|run|full-read|soak ROOT [--fast-client]");
        return std::process::ExitCode::from(2);
    };
    let fast = args.iter().any(|a| a == "--fast-client");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut f = rt.block_on(run_in_process(Path::new(root), kind, fast, 0));
    f.peak_rss_mb = proc_status_mb("VmHWM:");
    f.cpu = cpu_time();
    println!("BENCH-RESULT {}", f.to_json());
    std::process::ExitCode::SUCCESS
}

// ------------------------------------------------------------ heap in use

/// A global allocator that counts the bytes in use, so that a growing RSS
/// can be told apart: live bytes that grow are a leak, a flat heap under a
/// growing RSS is the allocator's fragmentation. The suite installs it
/// (`#[global_allocator]` in `suite.rs`); elsewhere
/// `cases::measure::heap_live_mb` is `None`.
pub struct CountingAlloc;

// SAFETY: every call is forwarded to the system allocator unchanged; only
// counters are updated besides.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        use std::sync::atomic::Ordering::Relaxed;
        cases::measure::COUNTING.store(true, Relaxed);
        cases::measure::LIVE.fetch_add(layout.size() as isize, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        cases::measure::LIVE
            .fetch_sub(layout.size() as isize, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        let delta = new as isize - layout.size() as isize;
        cases::measure::LIVE.fetch_add(delta, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
}
