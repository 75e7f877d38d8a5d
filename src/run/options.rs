//! The options of one run (`sync` flags, the daemon's next run).

use chrono::{DateTime, Utc};

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `sync --allow-removals`: lift `max_removals` for this run only.
    pub allow_removals: bool,
    /// Written into the status file's `next_run` (the daemon knows it; `sync` may not).
    pub next_run: Option<DateTime<Utc>>,
    /// `--full-read`: read the list in full now.
    pub full_read: bool,
    /// `sync --adopt`: after a lost state database, take ownership of the
    /// list's active members that are in the segment; without it a run
    /// whose state is blank while its status file shows earlier runs fails.
    pub adopt: bool,
    /// Set by the daemon while it runs the export on the last good
    /// `acsync.toml` (the saved one has errors): those errors, written into
    /// the status file's `config_error` (the state stays idle/running).
    pub settings_error: Option<String>,
}
