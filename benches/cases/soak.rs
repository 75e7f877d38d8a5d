//! Item 7 in one process: many consecutive small runs by one `Runner`, as
//! the daemon does; its resident set and heap in use after each.

use super::figures::{Metric, Sizes, metric};
use super::measure::Exec;
use super::world::World;

/// Item 7: `soak_runs` consecutive small runs by one `Runner`, as the daemon does.
pub async fn item7_soak(sizes: &Sizes, exec: &impl Exec) -> Vec<Metric> {
    let w = World::new(false).await;
    std::fs::write(w.root().join("soak.n"), sizes.soak_profiles.to_string()).expect("soak.n");
    std::fs::write(w.root().join("soak.runs"), sizes.soak_runs.to_string()).expect("soak.runs");
    let f = w.measure(exec, "soak", true).await;
    let s = &f.rss_series;
    assert_eq!(s.len(), sizes.soak_runs as usize);
    // After a warm-up (allocator arenas, statement caches, connection pool),
    // the resident set must stay flat: compare the first tenth with the last.
    let tenth = (s.len() / 10).max(1);
    let early = highest(&s[tenth - 1..2 * tenth - 1]);
    let late = highest(&s[s.len() - tenth..]);
    let growth = late - early;
    let in_process = !exec.own_process();
    let deciles: Vec<String> = s
        .chunks(tenth)
        .map(|c| format!("{:.1}", highest(c)))
        .collect();
    let heap = &f.heap_series;
    let heap_line = if heap.len() == s.len() {
        let (a, b) = (heap[tenth - 1], heap[heap.len() - 1]);
        format!("{a:.2} → {b:.2} MB ({:+.0} kB)", (b - a) * 1024.0)
    } else {
        "n/a (in-process)".into()
    };
    vec![
        metric(
            7,
            "soak: RSS by tenth of the runs, MB",
            deciles.join(" "),
            "",
            None,
        ),
        metric(
            7,
            "soak: heap in use (live allocations) after warm-up → end",
            heap_line,
            "no growth (a leak would show here)",
            None,
        ),
        metric(
            7,
            &format!("{} runs in one process: RSS after warm-up → end", s.len()),
            format!("{early:.1} → {late:.1} MB ({growth:+.1} MB)"),
            "no growth beyond noise (≤ 2 MB)",
            (!in_process).then_some(growth <= 2.0),
        ),
        metric(
            7,
            "soak: wall per run",
            format!("{:.0} ms", f.wall.as_secs_f64() * 1000.0 / s.len() as f64),
            "",
            None,
        ),
    ]
}

/// The highest of `samples`.
fn highest(samples: &[f64]) -> f64 {
    samples.iter().copied().fold(f64::MIN, f64::max)
}
