//! The run's adapter to the daemon's port ([`crate::daemon::ExportRunner`]):
//! [`RunnerPort`] runs exports through a shared [`Runner`] (one client per
//! connection, shared rate budgets), each with its cancellation scoped
//! around its source read, and reports how each ended as a [`RunEnded`].
//! `acsync daemon` and `acsync demo` wire it into
//! [`crate::daemon::Daemon`]; decorators of other concerns (metrics) wrap
//! it: a struct over any `P: ExportRunner`.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{RunOptions, RunReport, Runner, Trigger};
use crate::config::Export;
use crate::daemon::{ExportRunner, RunEnded, RunFuture};

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
