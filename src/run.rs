//! One run of one export, end to end: lock, read the segment, load state,
//! read the list when due, plan, apply through the client while journaling
//! intents and outcomes, and write the status file. `acsync sync` and the
//! daemon call the same [`Runner::run`].

use std::path::PathBuf;

use chrono::{DateTime, Utc};

/// What started a run (the status file's `last_run.trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Schedule,
    Manual,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
        }
    }
}

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `sync --allow-removals`: lift `max_removals` for this run only.
    pub allow_removals: bool,
    /// Written into the status file's `next_run` (the daemon knows it; `sync` may not).
    pub next_run: Option<DateTime<Utc>>,
}

/// Where a runner keeps state and writes status files.
#[derive(Debug, Clone)]
pub struct RunnerPaths {
    pub state_dir: PathBuf,
    pub exports_dir: PathBuf,
    pub status_dir: Option<PathBuf>,
}
