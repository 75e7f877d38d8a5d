//! Shared test helpers: running the real binary, fixture paths, temp folders.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `acsync` binary built for this test run.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_acsync"))
}

/// `tests/fixtures/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// The repository root (for the sample `config/` and `examples/` trees).
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Runs `acsync ARGS` from the repository root with a clean environment
/// for the variables acsync reads.
pub fn acsync(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("ACSYNC_CONFIG_DIR")
        .env_remove("RUST_LOG")
        .output()
        .expect("run acsync")
}

/// stdout as lines.
pub fn lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Trials of a seeded loop: `reduced` in a normal `cargo test`, `full` when
/// `ACSYNC_FULL_TRIALS=1` (the figures quoted in the issue-7 note).
pub fn trials(reduced: usize, full: usize) -> usize {
    match std::env::var("ACSYNC_FULL_TRIALS").as_deref() {
        Ok("1") | Ok("true") | Ok("yes") => full,
        _ => reduced,
    }
}

/// Polls `/import/info` every 50 ms until batch `id` ends (at most a
/// minute): a test's stand-in for the run's follower (`run::poll`).
pub async fn batch_end(
    c: &acsync::activecampaign::Client,
    id: &str,
) -> acsync::activecampaign::BatchResult {
    for _ in 0..1200 {
        match c.bulk_info(id).await.expect("import info") {
            acsync::activecampaign::BatchPoll::Done(result) => return result,
            acsync::activecampaign::BatchPoll::Pending(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
    panic!("batch {id} did not end within a minute");
}

/// Polls `cond` every 50 ms until it holds (true) or `within` passed.
pub fn wait_for(within: std::time::Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}
