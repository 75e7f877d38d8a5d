//! What the daemon needs of a run ([`ExportRunner`]: injected, so that the
//! control loop is testable with fakes and free of HTTP, SQLite and file
//! formats; the daemon re-exports it), and the run's adapter to it:
//! [`RunnerPort`] runs exports through a shared [`Runner`] (one client per
//! connection, shared rate budgets), each with its cancellation scoped
//! around its source read, and reports how each ended as a [`RunEnded`].
//! `acsync daemon` and `acsync demo` wire it into
//! [`crate::daemon::Daemon`]; decorators of other concerns (metrics) wrap
//! it: a struct over any `P: ExportRunner`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{RunOptions, RunReport, Runner, Trigger};
use crate::activecampaign::RequestStats;
use crate::config::Export;
use crate::status::{LastRun, Outcome};

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

/// Runs exports through a shared [`Runner`]. A run's source read is
/// abandoned as soon as the run is cancelled
/// ([`crate::source::cancel_reads_with`]): at shutdown a run blocked reading
/// a FIFO or a hung mount fails at once (its status records why) instead of
/// holding the daemon for the whole stop grace.
pub struct RunnerPort(pub Arc<Runner>);

impl ExportRunner for RunnerPort {
    fn run(
        &self,
        export: Export,
        trigger: Trigger,
        opts: RunOptions,
        cancel: CancellationToken,
    ) -> RunFuture {
        let runner = self.0.clone();
        let reads = cancel.clone();
        Box::pin(crate::source::cancel_reads_with(reads, async move {
            let report = runner.run(&export, trigger, opts, cancel).await?;
            Ok(ended(report))
        }))
    }
}

/// The daemon's view of a finished run.
fn ended(report: RunReport) -> RunEnded {
    RunEnded {
        outcome: report.outcome,
        last_run: report.last_run,
        requests: report.api,
    }
}
