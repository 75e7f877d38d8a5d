//! The daemon's own cases: start-up, idle CPU and a schedule edit over
//! 1,000 export files (item 6), and memory over many scheduled runs (item 7).

use std::time::{Duration, Instant};

use super::daemon::{DaemonProc, status_next_run, status_started, write_daemon_export};
use super::figures::{Metric, metric, secs};
use super::measure::cycling_soak_segment;
use super::world::{EXPORT, World, write_csv};

/// Item 6: a daemon over `exports` export files whose schedules never fire
/// during the measurement: start-up to `READY=1`, CPU while idle for
/// `idle`, peak RSS, and how long an edited schedule takes to be in force
/// (the status file's `next_run` changes).
pub async fn item6_daemon(exports: usize, idle: Duration) -> Vec<Metric> {
    let w = World::new(false).await;
    std::fs::remove_file(w.root().join("exports").join(format!("{EXPORT}.toml"))).ok();
    write_csv(&w.segment_path(), (0..50).map(|i| (i, 0)));
    // Every export on New Year's Day at midnight: never during the run.
    for i in 0..exports {
        write_daemon_export(&w, &format!("e{i:04}"), w.list, "0 0 1 1 *", EXPORT);
    }
    let started = Instant::now();
    let d = DaemonProc::start_ready(w.root(), Duration::from_secs(120)).await;
    let to_ready = started.elapsed();
    // Let start-up work (status files) settle, then measure idle CPU.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu0 = d.cpu();
    tokio::time::sleep(idle).await;
    let idle_cpu = d.cpu().saturating_sub(cpu0);
    let idle_pct = idle_cpu.as_secs_f64() / idle.as_secs_f64() * 100.0;
    // Edit one file's schedule; its status file shows the new next_run.
    let victim = format!("e{:04}", exports / 2);
    let before = status_next_run(&w, &victim);
    assert!(before.is_some(), "status file of {victim} has a next_run");
    let in_force = edit_in_force(&w, &victim, before).await;
    let peak = d.status_mb("VmHWM:");
    let rss = d.status_mb("VmRSS:");
    d.stop_cleanly().await;
    let strict = exports >= 1000;
    vec![
        metric(
            6,
            &format!("daemon, {exports} exports: start-up to READY=1"),
            secs(to_ready),
            "",
            None,
        ),
        metric(
            6,
            &format!("daemon: idle CPU over {:.0} s", idle.as_secs_f64()),
            format!("{:.2} s ({idle_pct:.2}% of a core)", idle_cpu.as_secs_f64()),
            "near zero (≤ 1%)",
            strict.then_some(idle_pct <= 1.0),
        ),
        metric(
            6,
            "daemon: peak RSS (RSS at the end)",
            format!("{peak:.0} MB ({rss:.0} MB)"),
            "≤ 100 MB",
            strict.then_some(peak <= 100.0),
        ),
        metric(
            6,
            "daemon: edit one file → new schedule in force",
            in_force.map_or_else(|| "never (30 s)".into(), secs),
            "≤ 2 s",
            Some(in_force.is_some_and(|t| t <= Duration::from_secs(2))),
        ),
    ]
}

/// Item 7 through the daemon: `runs` scheduled runs (four exports due
/// every second, their segments changing as they go) in one daemon
/// process; its RSS after the first tenth of the runs against the last.
pub async fn item7_daemon_soak(runs: u32, profiles: u64) -> Vec<Metric> {
    let w = World::new(false).await;
    std::fs::remove_file(w.root().join("exports").join(format!("{EXPORT}.toml"))).ok();
    let names: Vec<String> = (0..4).map(|i| format!("s{i}")).collect();
    // A list each: exports of one list share its records (docs/ownership.md,
    // shared lists), and a run that starts while another export's batch to
    // that list is open finds it `unsettled` and reads it in full
    // (docs/run-rules.md, full reads): on one list every other run would
    // read the whole list, a figure of those reads rather than of memory.
    for (k, name) in names.iter().enumerate() {
        let seg = w.root().join("segments").join(format!("{name}.csv"));
        write_csv(&seg, soak_rows(profiles, 0, k));
        write_daemon_export(&w, name, w.sim.add_list(name), "* * * * * *", name);
    }
    let d = DaemonProc::start_ready(w.root(), Duration::from_secs(60)).await;
    let (done, series) = follow_runs(&w, &d, &names, runs, profiles).await;
    let peak = d.status_mb("VmHWM:");
    d.stop_cleanly().await;
    assert!(done >= runs, "only {done} runs in time");
    let tenth = (runs / 10).max(1);
    let max_where = |lo: u32, hi: u32| {
        series
            .iter()
            .filter(|(n, _)| *n >= lo && *n <= hi)
            .map(|(_, r)| *r)
            .fold(0.0_f64, f64::max)
    };
    let early = max_where(tenth, 2 * tenth);
    let late = max_where(runs - tenth, u32::MAX);
    let growth = late - early;
    let deciles: Vec<String> = (1..=10)
        .map(|k| format!("{:.1}", max_where((k - 1) * tenth, k * tenth)))
        .collect();
    vec![
        metric(
            7,
            "daemon: RSS by tenth of the runs, MB",
            deciles.join(" "),
            "",
            None,
        ),
        metric(
            7,
            &format!("daemon: {done} scheduled runs: RSS after warm-up → end (peak)"),
            format!("{early:.1} → {late:.1} MB ({growth:+.1} MB; peak {peak:.0} MB)"),
            "no growth beyond noise (≤ 2 MB)",
            (runs >= 200).then_some(growth <= 2.0),
        ),
    ]
}

/// Rewrites `victim`'s schedule and polls its status file every 10 ms until
/// its `next_run` is no longer `before`: how long that took (30 s at most).
async fn edit_in_force(w: &World, victim: &str, before: Option<String>) -> Option<Duration> {
    write_daemon_export(w, victim, w.list, "0 0 2 2 *", EXPORT);
    let edited = Instant::now();
    while edited.elapsed() < Duration::from_secs(30) {
        if status_next_run(w, victim) != before {
            return Some(edited.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// Follows the daemon's runs of `names` until `runs` have started, giving
/// each export a changed segment after each of its runs; the daemon's RSS
/// every 100 ms, with the count of runs so far.
async fn follow_runs(
    w: &World,
    d: &DaemonProc,
    names: &[String],
    runs: u32,
    profiles: u64,
) -> (u32, Vec<(u32, f64)>) {
    let mut last: Vec<Option<String>> = vec![None; names.len()];
    let mut done = 0u32;
    let mut series: Vec<(u32, f64)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(u64::from(runs) + 120);
    let mut round = 0u32;
    while done < runs && Instant::now() < deadline {
        for (k, name) in names.iter().enumerate() {
            let now = status_started(w, name);
            if now.is_some() && now != last[k] {
                last[k] = now;
                done += 1;
                // The next run of this export sees a changed segment.
                round += 1;
                let seg = w.root().join("segments").join(format!("{name}.csv"));
                write_csv(&seg, soak_rows(profiles, round, k));
            }
        }
        series.push((done, d.status_mb("VmRSS:")));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (done, series)
}

/// Round `round` of export `k`'s segment in the daemon soak: its own
/// million of ids, over a bounded population.
fn soak_rows(profiles: u64, round: u32, k: usize) -> impl Iterator<Item = (u64, u32)> {
    cycling_soak_segment(profiles, round).map(move |(i, v)| (i + k as u64 * 1_000_000, v))
}
