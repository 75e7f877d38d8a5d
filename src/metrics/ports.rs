//! Decorators of the daemon's two ports that feed [`Metrics`]: [`Metered`]
//! wraps any [`ExportRunner`] and records every run's start and end (or one
//! that could not start); [`MeteredStatus`] wraps any [`StatusSink`]: it
//! registers every export's series the first time the daemon states it
//! (idle, disabled or invalid: at start-up, before any run), follows its
//! state and next run, seeds what happened before this process from the
//! status files, and follows whether `acsync.toml` is valid
//! (`acsync_settings_config_error`). The control loop is unchanged and
//! unaware of metrics.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::{FinishedRun, Metrics};
use crate::config::{Export, Located};
use crate::daemon::{ExportRunner, RunEnded, RunFuture, StatusSink};
use crate::run::{RunOptions, Trigger};
use crate::status::{ExportState, Outcome, StatusFile};

/// Any run port, with each run recorded.
pub struct Metered<P> {
    pub inner: P,
    pub metrics: Arc<Metrics>,
}

impl<P: ExportRunner> ExportRunner for Metered<P> {
    fn run(
        &self,
        export: Export,
        trigger: Trigger,
        opts: RunOptions,
        cancel: CancellationToken,
    ) -> RunFuture {
        let metrics = self.metrics.clone();
        metrics.run_started(&export.id, Utc::now(), opts.next_run);
        let (id, connection) = (export.id.clone(), export.connection.name.clone());
        let run = self.inner.run(export, trigger, opts, cancel);
        Box::pin(async move {
            let result = run.await;
            match &result {
                Ok(ended) => metrics.record_run(&record(id, connection, ended)),
                Err(_) => metrics.record_not_started(&id),
            }
            result
        })
    }
}

/// What the finished run `ended` of export `id` contributes.
fn record(id: String, connection: String, ended: &RunEnded) -> FinishedRun {
    let l = &ended.last_run;
    FinishedRun {
        export: id,
        connection,
        outcome: ended.outcome,
        started_at: l.started_at,
        duration: Duration::from_millis(l.duration_ms.unwrap_or(0)),
        contacts: [l.added, l.updated, l.removed, l.failed],
        api_requests: ended.requests.requests,
        limit_answers: ended.requests.rate_limited,
        success_at: l.finished_at.filter(|_| ended.outcome == Outcome::Success),
        profiles: l.profiles,
        invalid_rows: l.invalid_rows,
        kept: [
            l.kept_unsubscribed,
            l.kept_bounced,
            l.kept_unconfirmed,
            l.kept_other_status,
        ],
    }
}

/// Any status port, with configuration errors and last successes recorded.
pub struct MeteredStatus<S> {
    pub inner: S,
    pub metrics: Arc<Metrics>,
}

impl<S: StatusSink> MeteredStatus<S> {
    /// Seeds the export's series from its status file (runs before this
    /// process started; once per export).
    fn seed(&self, id: &str) {
        if let Some(file) = self.inner.read_status(id) {
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

impl<S: StatusSink> StatusSink for MeteredStatus<S> {
    fn read_status(&self, id: &str) -> Option<StatusFile> {
        self.inner.read_status(id)
    }

    fn idle(
        &self,
        export: &Export,
        next_run: Option<DateTime<Utc>>,
        settings_error: Option<&str>,
    ) -> std::io::Result<()> {
        self.valid(export, ExportState::Idle, next_run);
        self.inner.idle(export, next_run, settings_error)
    }

    fn settings_checked(&self, errors: &[Located]) -> std::io::Result<()> {
        self.metrics.set_settings_error(!errors.is_empty());
        self.inner.settings_checked(errors)
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
