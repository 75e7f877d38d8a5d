//! The benchmark suite's cases at tiny sizes, in-process, in the debug
//! build: `cargo test` keeps `benches/` compiling and working without
//! judging any timing (CI never builds the release profile).

#[path = "../../benches/cases/mod.rs"]
mod cases;

use cases::{Exec, Metric, Sizes};

fn tiny() -> Sizes {
    Sizes {
        big: 4_000,
        export: 600,
        read: 350,
        soak_runs: 12,
        soak_profiles: 60,
        daemon_exports: 20,
        daemon_idle: std::time::Duration::from_secs(1),
        real_limits: false,
    }
}

fn check(metrics: &[Metric]) {
    assert!(!metrics.is_empty());
    for m in metrics {
        assert_ne!(
            m.met,
            Some(false),
            "{} = {} (target {})",
            m.name,
            m.value,
            m.target
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item1_plan() {
    check(&cases::item1_plan(&tiny(), &Exec::InProcess).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item2_initial_export() {
    check(&cases::item2_initial_export(&tiny(), &Exec::InProcess).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item3_no_change() {
    check(&cases::item3_no_change(&tiny(), &Exec::InProcess).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item4_churn() {
    check(&cases::item4_churn(&tiny(), &Exec::InProcess).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item5_full_read() {
    check(&cases::item5_full_read(&tiny(), &Exec::InProcess).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item7_soak() {
    check(&cases::item7_soak(&tiny(), &Exec::InProcess).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item6_daemon() {
    let s = tiny();
    check(&cases::item6_daemon(s.daemon_exports, s.daemon_idle).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item7_daemon_soak() {
    check(&cases::item7_daemon_soak(8, 40).await);
}

#[test]
fn export_floor_matches_the_limits() {
    // 400 batches: the fourth window opens 180 s after the first import
    // (which follows 3 reads), and its 100 imports and 100 polls take 40 s.
    let f = cases::export_floor(400, 3, 5.0, 100);
    assert!((f - 220.6).abs() < 1e-9, "{f}");
    // Rate-bound when the window never binds.
    assert!((cases::export_floor(10, 3, 5.0, 100) - 4.6).abs() < 1e-9);
}
