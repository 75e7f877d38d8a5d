//! How a measured run is executed. The step itself ([`run_in_process`]:
//! `Runner::plan`, `Runner::run`, or a soak of many runs) is the same
//! everywhere; an [`Exec`] decides where it runs: the suite runs it in a
//! child process of its own (`benches/child/`), so that its peak RSS and
//! CPU time are its own, the smoke test (`tests/it/bench_smoke.rs`) in-process.

use std::path::Path;
use std::time::{Duration, Instant};

use acsync::config;
use acsync::run::{RunOptions, Runner, RunnerPaths, Trigger};
use tokio_util::sync::CancellationToken;

use super::figures::RunFigures;
use super::world::{EXPORT, World, export_in, write_csv};

/// Where a measured step runs.
pub trait Exec {
    /// Runs the measured step `kind` (`plan`, `run` or `soak`) of the world
    /// at `root`; `fast_client` tunes the client for the unthrottled simulator.
    fn measure(
        &self,
        root: &Path,
        kind: &str,
        fast_client: bool,
    ) -> impl std::future::Future<Output = RunFigures>;

    /// Whether the step runs in a process of its own, so that its memory
    /// figures are its own and can be judged.
    fn own_process(&self) -> bool;
}

impl World {
    /// Runs the export once, as `exec` says.
    pub async fn measure(&self, exec: &impl Exec, kind: &str, fast_client: bool) -> RunFigures {
        exec.measure(self.root(), kind, fast_client).await
    }
}

// ------------------------------------------------------------ heap in use

/// Bytes in use, counted by the suite's global allocator
/// (`benches/child/`); never counted elsewhere.
pub static LIVE: std::sync::atomic::AtomicIsize = std::sync::atomic::AtomicIsize::new(0);
/// Whether that allocator is installed (it sets this on its first allocation).
pub static COUNTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Bytes allocated and not freed, MB; `None` without the counting allocator.
pub fn heap_live_mb() -> Option<f64> {
    use std::sync::atomic::Ordering::Relaxed;
    COUNTING
        .load(Relaxed)
        .then(|| LIVE.load(Relaxed) as f64 / 1024.0 / 1024.0)
}

fn runner_in(root: &Path, fast_client: bool) -> Runner {
    let settings = config::load_settings(root);
    assert!(settings.errors.is_empty(), "{:?}", settings.errors);
    let runner = Runner::new(RunnerPaths::new(root, &settings.daemon));
    if fast_client {
        runner.with_client_tuning(|c| {
            c.poll_interval = Duration::from_millis(20);
            c.backoff_base = Duration::from_millis(20);
            // The unthrottled simulator has no bulk window either.
            c.bulk_per_minute = 100_000;
            c.bulk_single_per_minute = 100_000;
        })
    } else {
        runner
    }
}

/// Resident set (VmRSS) or its peak (VmHWM) of this process, MB.
pub fn proc_status_mb(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The measured step: `plan` (read + state + plan, `Runner::plan`), `run`
/// (`Runner::run`), `full-read` (`Runner::run` as `sync --full-read`), or `soak` (`runs` runs of one `Runner`, the segment
/// changing between them, RSS sampled after each).
pub async fn run_in_process(root: &Path, kind: &str, fast_client: bool, runs: u32) -> RunFigures {
    let runner = runner_in(root, fast_client);
    let export = export_in(root);
    let started = Instant::now();
    let mut f = RunFigures::default();
    match kind {
        "plan" => {
            let r = runner.plan(&export, false, false).await.expect("plan");
            f.wall = started.elapsed();
            f.outcome = "planned".into();
            f.profiles = r.segment.profiles.len() as u64;
            f.added = r.plan.adds.len() as u64;
            f.updated = r.plan.updates.len() as u64;
            f.removed = r.plan.removals.len() as u64;
            f.unchanged = r.plan.unchanged;
            f.full_read = r.full_read.is_some();
            f.api_requests = r.api_requests;
        }
        "run" | "full-read" => {
            let options = RunOptions {
                full_read: kind == "full-read",
                ..RunOptions::default()
            };
            let r = run_once(&runner, &export, options).await;
            f.wall = started.elapsed();
            fill(&mut f, &r);
        }
        "soak" => {
            let seg = root.join("segments").join(format!("{EXPORT}.csv"));
            let n = std::fs::read_to_string(root.join("soak.n"))
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .unwrap_or(100);
            let runs = if runs == 0 {
                std::fs::read_to_string(root.join("soak.runs"))
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok())
                    .unwrap_or(20)
            } else {
                runs
            };
            for r in 0..runs {
                write_csv(&seg, soak_segment(n, r));
                let rep = run_once(&runner, &export, RunOptions::default()).await;
                assert_eq!(rep.outcome.as_str(), "success", "soak run {r}");
                fill(&mut f, &rep);
                f.rss_series.push(proc_status_mb("VmRSS:").unwrap_or(0.0));
                f.heap_series.extend(heap_live_mb());
            }
            f.wall = started.elapsed();
        }
        other => panic!("unknown measured step {other}"),
    }
    f
}

async fn run_once(
    runner: &Runner,
    export: &config::Export,
    options: RunOptions,
) -> acsync::run::RunReport {
    runner
        .run(export, Trigger::Manual, options, CancellationToken::new())
        .await
        .expect("run starts")
}

fn fill(f: &mut RunFigures, r: &acsync::run::RunReport) {
    let l = &r.last_run;
    f.outcome = r.outcome.as_str().to_owned();
    f.profiles = l.profiles;
    f.added = l.added;
    f.updated = l.updated;
    f.removed = l.removed;
    f.unchanged = l.unchanged;
    f.full_read = l.full_read;
    f.api_requests = l.api_requests;
}

/// Run `r` of the soak: a window of `n` profiles sliding by 2% a run, and
/// 2% of them renamed, so every run adds, updates and removes a little.
pub fn soak_segment(n: u64, r: u32) -> impl Iterator<Item = (u64, u32)> {
    let step = (n / 50).max(1);
    let start = u64::from(r) * step;
    (start..start + n).map(move |i| (i, u32::from((i + u64::from(r)) % 50 == 0)))
}

/// [`soak_segment`] over a population of `n + n/5` profiles: the window
/// wraps, so members leave and come back (a resubscribe) and, once it has
/// wrapped, the list and the state hold the same number of rows run after
/// run. With an unbounded window both grow by every member that leaves
/// (the state remembers it, the list keeps it unsubscribed), and so does
/// what each run loads: a memory soak must keep its data the same size.
pub fn cycling_soak_segment(n: u64, r: u32) -> impl Iterator<Item = (u64, u32)> {
    let population = n + n / 5;
    soak_segment(n, r).map(move |(i, v)| (i % population, v))
}
