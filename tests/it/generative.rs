//! A generative test of the rules of docs/ownership.md and
//! docs/run-rules.md: random histories of segment edits, runs, runs killed
//! mid-way (also while a bulk batch processes) and others' changes in
//! ActiveCampaign (opt-out, form or admin subscribe, bounce, unconfirmed,
//! status 91, erasure, a new contact under the same address, a changed
//! email, field edits), each run checked by an oracle of those rules
//! (`oracle.rs`).
//!
//! `cargo test` runs [`DEFAULT_CASES`] cases. More, for instance before a
//! release (about a second a case on two cores):
//!
//! ```text
//! ACSYNC_PROPTEST_CASES=10000 cargo test --release --test it generative:: -- --nocapture
//! ```
//!
//! A failure prints the shrunk case (an event sequence); it is kept as a
//! named test in `regressions.rs`.

mod drive;
mod events;
mod oracle;
mod regressions;

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::test_runner::{Config, TestCaseError, TestRng, TestRunner};

/// Cases a plain `cargo test` runs.
const DEFAULT_CASES: u32 = 200;

/// [`DEFAULT_CASES`], or `ACSYNC_PROPTEST_CASES`.
fn cases() -> u32 {
    std::env::var("ACSYNC_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

#[test]
fn the_rules_hold_through_random_histories() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let config = Config {
        cases: cases(),
        // Shrunk failures are kept as named tests, not in a seed file.
        failure_persistence: None,
        max_shrink_iters: 500,
        ..Config::default()
    };
    let [ran, events, runs, kills] = [(); 4].map(|()| AtomicUsize::new(0));
    let started = std::time::Instant::now();
    // The plain `cargo test` run replays the same cases every time (CI
    // must not turn red by chance); `ACSYNC_PROPTEST_CASES` explores new ones.
    let mut runner = match std::env::var_os("ACSYNC_PROPTEST_CASES") {
        Some(_) => TestRunner::new(config),
        None => {
            let rng = TestRng::deterministic_rng(config.rng_algorithm);
            TestRunner::new_with_rng(config, rng)
        }
    };
    let result = runner.run(&events::arb_case(), |case| {
        ran.fetch_add(1, Ordering::Relaxed);
        events.fetch_add(case.events.len(), Ordering::Relaxed);
        let tally = rt
            .block_on(drive::replay(&case))
            .map_err(TestCaseError::fail)?;
        runs.fetch_add(tally.runs, Ordering::Relaxed);
        kills.fetch_add(tally.kills, Ordering::Relaxed);
        Ok(())
    });
    eprintln!(
        "generative: {} cases (shrinking included), {} events, {} runs to the end (a final full-read run a case included), {} runs killed, {:.0?}",
        ran.into_inner(),
        events.into_inner(),
        runs.into_inner(),
        kills.into_inner(),
        started.elapsed()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}
