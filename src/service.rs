//! The production implementation of the daemon's run port: runs go to
//! [`Runner`] (one client per connection, shared rate budgets). The other
//! port, the status files, is [`crate::status::StatusFiles`]. `acsync
//! daemon` and `acsync demo` wire these into [`crate::daemon::Daemon`].

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::Export;
use crate::daemon::{ExportRunner, RunFuture, RunReport};
use crate::run::{RunOptions, Runner, Trigger};

/// Runs exports through a shared [`Runner`].
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
        Box::pin(async move {
            let report = runner.run(&export, trigger, opts, cancel).await?;
            Ok(RunReport {
                outcome: report.outcome.as_str().to_string(),
            })
        })
    }
}
