//! What the daemon needs from the rest of acsync, as two small traits: the
//! run itself ([`ExportRunner`], implemented over `run::Runner`) and the
//! status files of exports that are not running ([`StatusSink`], implemented
//! over `crate::status`). Injecting them keeps the control loop testable
//! with fakes and free of HTTP, SQLite and file formats.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::activecampaign::RequestStats;
use crate::config::{Export, Located};
use crate::run::{RunOptions, Trigger};
use crate::status::{LastRun, Outcome, StatusFile};

/// How a run ended: its outcome (for logs and `STATUS=`) and its figures
/// (for decorators such as metrics). The run has written its own status
/// file; the daemon never interprets the figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnded {
    pub outcome: Outcome,
    /// The finished run as its status file records it (`last_run`).
    pub last_run: LastRun,
    /// The run's request counters (its rate-limit answers feed metrics).
    pub requests: RequestStats,
}

/// Why a run did not start: another process holds the export's lock. Every
/// failure after the start is an outcome in [`RunEnded`] instead.
#[derive(Debug, thiserror::Error)]
pub enum RunNotStarted {
    #[error(transparent)]
    Run(#[from] crate::run::RunError),
}

/// The result of one run.
pub type RunResult = Result<RunEnded, RunNotStarted>;

/// A run in progress, owned by the daemon's task set.
pub type RunFuture = Pin<Box<dyn Future<Output = RunResult> + Send>>;

/// Runs one export end to end (the daemon's view of `Runner::run`).
///
/// The returned future is spawned on the runtime. It must honour `cancel`
/// at safe points (between batches, never mid-write) and then return: the
/// daemon waits a bounded time for it on shutdown. It writes the export's
/// status file itself (`running`, then the finished `last_run`, with
/// `opts.next_run`). The daemon guarantees at most one run per export at a
/// time within this process; cross-process exclusion (`acsync sync`) is the
/// runner's lock.
pub trait ExportRunner: Send + Sync + 'static {
    fn run(
        &self,
        export: Export,
        trigger: Trigger,
        opts: RunOptions,
        cancel: CancellationToken,
    ) -> RunFuture;
}

/// Writes status files for the states the daemon decides (every state but
/// `running` and a finished run), and reads back what it needs at start.
///
/// Calls are synchronous and made from the control loop, in order; they
/// write one small file each. Errors are logged by the daemon and never stop
/// it (a read-only folder must not take every export down).
pub trait StatusSink: Send + Sync + 'static {
    /// Export `id`'s status file as it is now (`None`: it has none, or it
    /// cannot be read).
    fn read_status(&self, id: &str) -> Option<StatusFile>;

    /// The status file's `last_run.started_at`, if the export ever ran: the
    /// start-up catch-up of missed runs depends on it (see
    /// docs/run-rules.md, scheduling).
    fn last_run_started(&self, export: &Export) -> Option<DateTime<Utc>> {
        self.read_status(&export.id)?.last_run.map(|r| r.started_at)
    }

    /// `state: "idle"` with this schedule, `config_sha256` and `next_run`,
    /// keeping `last_run` and the counters as they are. `settings_error`:
    /// while the daemon runs the export on the last good `acsync.toml`, that
    /// file's errors (`acsync.toml:LINE:COL: message` lines) for
    /// `config_error`; `None` otherwise.
    fn idle(
        &self,
        export: &Export,
        next_run: Option<DateTime<Utc>>,
        settings_error: Option<&str>,
    ) -> std::io::Result<()>;

    /// `state: "disabled"` (`enabled = false`), no `next_run`.
    fn disabled(&self, export: &Export) -> std::io::Result<()>;

    /// `state: "invalid"`: the file `file` of export `id` cannot be used.
    /// `config_error` is one or more `FILE:LINE:COL: message` lines with FILE
    /// relative to the export's folder; `sha256` is `None` when unreadable.
    fn invalid(
        &self,
        id: &str,
        file: &Path,
        sha256: Option<&str>,
        config_error: &str,
    ) -> std::io::Result<()>;

    /// The export file `file` is gone: delete its status file.
    fn removed(&self, id: &str, file: &Path) -> std::io::Result<()>;

    /// `acsync.toml` was loaded again and stands differently: `errors` is
    /// empty when it is valid. Status files learn of it through
    /// [`StatusSink::idle`] and the runs; this is for what else follows the
    /// daemon (metrics). Called at start when the file has errors, then on
    /// every change.
    fn settings_checked(&self, errors: &[Located]) -> std::io::Result<()> {
        let _ = errors;
        Ok(())
    }

    /// At start: delete the status files of exports not in `present` (their
    /// files were deleted while the daemon was down). `present` holds every
    /// export file found, valid or not.
    fn prune(&self, present: &[&str]) -> std::io::Result<()>;
}
