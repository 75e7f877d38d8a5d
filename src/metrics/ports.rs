//! The daemon's two ports, decorated to feed [`Metrics`]: [`MeteredRunner`]
//! records every run's start and end (or one that could not start);
//! [`MeteredStatus`] registers every export's series the first time the
//! daemon states it (idle, disabled or invalid: at start-up, before any
//! run), follows its state and next run, and seeds what happened before
//! this process from the status files. The control loop is unchanged and
//! unaware of metrics.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::{Metrics, RunRecord};
use crate::config::Export;
use crate::daemon::{ExportRunner, RunFuture, RunReport, StatusSink};
use crate::run::{RunOptions, Runner, Trigger};
use crate::status::StatusFiles;
use crate::status::{self, ExportState};

/// Runs exports through a shared [`Runner`] and records each run.
pub struct MeteredRunner {
    pub runner: Arc<Runner>,
    pub metrics: Arc<Metrics>,
}

impl ExportRunner for MeteredRunner {
    fn run(
        &self,
        export: Export,
        trigger: Trigger,
        opts: RunOptions,
        cancel: CancellationToken,
    ) -> RunFuture {
        let runner = self.runner.clone();
        let metrics = self.metrics.clone();
        metrics.run_started(&export.id, Utc::now(), opts.next_run);
        Box::pin(async move {
            match runner.run(&export, trigger, opts, cancel).await {
                Ok(report) => {
                    metrics.record_run(&RunRecord::from_report(&export, &report));
                    Ok(RunReport {
                        outcome: report.outcome.as_str().to_string(),
                    })
                }
                Err(e) => {
                    metrics.record_not_started(&export.id);
                    Err(e.into())
                }
            }
        })
    }
}

/// Status files, with configuration errors and last successes recorded.
pub struct MeteredStatus {
    pub inner: StatusFiles,
    pub metrics: Arc<Metrics>,
}

impl MeteredStatus {
    /// Seeds the export's series from its status file (once per export).
    fn seed(&self, id: &str) {
        let path = status::status_path(
            &self.inner.exports_dir,
            self.inner.status_dir.as_deref(),
            id,
        );
        if let Some(file) = status::read(&path).ok().flatten() {
            self.metrics.seed(id, &file);
        }
    }

    /// A valid export: its series exist, in `state`, seeded.
    fn valid(&self, export: &Export, state: ExportState, next_run: Option<DateTime<Utc>>) {
        self.metrics
            .register(&export.id, Some(&export.connection.name));
        self.seed(&export.id);
        self.metrics.set_state(&export.id, state, next_run);
    }
}

impl StatusSink for MeteredStatus {
    fn last_run_started(&self, export: &Export) -> Option<DateTime<Utc>> {
        self.inner.last_run_started(export)
    }

    fn idle(&self, export: &Export, next_run: Option<DateTime<Utc>>) -> std::io::Result<()> {
        self.valid(export, ExportState::Idle, next_run);
        self.inner.idle(export, next_run)
    }

    fn disabled(&self, export: &Export) -> std::io::Result<()> {
        self.valid(export, ExportState::Disabled, None);
        self.inner.disabled(export)
    }

    fn invalid(
        &self,
        id: &str,
        file: &Path,
        sha256: Option<&str>,
        config_error: &str,
    ) -> std::io::Result<()> {
        self.metrics.register(id, None);
        self.seed(id);
        self.metrics.set_config_error(id, true);
        self.inner.invalid(id, file, sha256, config_error)
    }

    fn removed(&self, id: &str, file: &Path) -> std::io::Result<()> {
        self.metrics.forget_export(id);
        self.inner.removed(id, file)
    }

    fn prune(&self, present: &[&str]) -> std::io::Result<()> {
        self.inner.prune(present)
    }
}
