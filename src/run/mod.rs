//! One run of one export, end to end: lock, read the segment, load state,
//! read the list when due, plan, apply through the client while journaling
//! intents and outcomes, and write the status file. `acsync sync` and the
//! daemon call the same [`Runner::run`]; `acsync plan` calls
//! [`Runner::plan`], which shares everything up to the plan and writes nothing.

pub mod apply;
pub mod batches;
pub mod cross_check;
pub mod db;
pub mod drift;
pub mod error;
pub mod fields;
pub mod fingerprint;
pub mod history;
pub mod options;
pub mod poll;
pub mod port;
pub mod prepare;
mod reconcile;
pub mod report;
pub mod retired;
pub mod shared;
pub mod view;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::activecampaign::{Client, ClientConfig};
use crate::config::{Connection, DaemonSettings, Export};
use crate::plan::Plan;
use crate::segment::Segment;
use crate::state;
use crate::status::{self, CurrentRun, LastRun, Outcome, StatusFile};
use reconcile::{RunCtx, read_and_load, reconcile};
use report::{log_run, release_free_memory};

pub use crate::status::Trigger;
pub use error::RunError;
pub use options::RunOptions;
pub use report::RunReport;

/// Where a runner keeps state and writes status files.
#[derive(Debug, Clone)]
pub struct RunnerPaths {
    pub state_dir: PathBuf,
    /// Where each account's request budget is shared with other processes.
    pub budget_dir: PathBuf,
    pub exports_dir: PathBuf,
    pub status_dir: Option<PathBuf>,
}

impl RunnerPaths {
    /// The configuration folder (the parent of `exports/`).
    pub fn config_root(&self) -> PathBuf {
        self.exports_dir
            .parent()
            .map_or_else(|| self.exports_dir.clone(), Path::to_path_buf)
    }

    pub fn new(config_dir: &Path, settings: &DaemonSettings) -> Self {
        RunnerPaths {
            state_dir: settings.state_dir.clone(),
            budget_dir: settings
                .budget_dir
                .clone()
                .unwrap_or_else(|| settings.state_dir.join("budget")),
            exports_dir: crate::config::exports_dir(config_dir),
            status_dir: settings.status_dir.clone(),
        }
    }
}

/// What `acsync plan` shows.
pub struct PlanReport {
    /// The list the export last ran on, if it changed, and how many members
    /// it owns there (left as they are).
    pub left: Option<(String, u64)>,
    pub segment: Segment,
    pub plan: Plan,
    /// Why the list was read in full (`None`: planned from the state).
    pub full_read: Option<crate::plan::FullReadReason>,
    /// The read the plan was made from (full, drift check, none) and what
    /// a drift check proved.
    pub read: crate::plan::ReadKind,
    pub drift: Option<crate::status::DriftCheck>,
    pub api_requests: u64,
    /// As the status file's `unread_kept` and `settled_by_reading`.
    pub unread_kept: u64,
    pub settled_by_reading: u64,
}

/// Runs exports. Holds one client per connection, so every export on an
/// account shares that account's rate budget.
pub struct Runner {
    paths: RunnerPaths,
    clients: Mutex<HashMap<String, (Arc<Connection>, Client)>>,
    tune: fn(&mut ClientConfig),
    /// Runs in progress in this process, by scope (account and list).
    live: Arc<Mutex<HashMap<String, usize>>>,
}

/// A run's place among the runs in progress on its scope; leaves on drop.
struct LiveRun {
    live: Arc<Mutex<HashMap<String, usize>>>,
    scope: String,
}

impl Drop for LiveRun {
    fn drop(&mut self) {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = live.get_mut(&self.scope) {
            *n -= 1;
            if *n == 0 {
                live.remove(&self.scope);
            }
        }
    }
}

impl Runner {
    pub fn new(paths: RunnerPaths) -> Self {
        Runner {
            paths,
            clients: Mutex::new(HashMap::new()),
            tune: |_| {},
            live: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Enters this run among those in progress on its scope; whether
    /// another export's run on the same list was already in progress here.
    fn enter(&self, export: &Export) -> (LiveRun, bool) {
        let scope = state::scope_of(export);
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let n = live.entry(scope.clone()).or_insert(0);
        let others = *n > 0;
        *n += 1;
        let run = LiveRun {
            live: Arc::clone(&self.live),
            scope,
        };
        (run, others)
    }

    /// Adjusts every client this runner builds (tests and the demo shorten
    /// the bulk-import poll interval, which the real API wants at ≥ 1 s).
    pub fn with_client_tuning(mut self, tune: fn(&mut ClientConfig)) -> Self {
        self.tune = tune;
        self
    }

    pub fn paths(&self) -> &RunnerPaths {
        &self.paths
    }

    /// The status file of export `id`.
    pub fn status_path(&self, id: &str) -> PathBuf {
        status::status_path(
            &self.paths.exports_dir,
            self.paths.status_dir.as_deref(),
            id,
        )
    }

    /// The shared client of `conn`, rebuilt when the connection changed
    /// (a new URL or key source in acsync.toml reaches every export). The
    /// key is read again on every call, so a rotated key is taken by the
    /// next run without a restart (docs/configuration.md, secrets); the
    /// client, and so the account's budget, is kept.
    pub fn client_for(&self, conn: &Arc<Connection>) -> Result<Client, RunError> {
        let key = conn.read_api_key()?;
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| RunError::Internal("client cache poisoned".into()))?;
        if let Some((c, client)) = clients.get(&conn.name)
            && c == conn
        {
            client.rekey(&key)?;
            return Ok(client.clone());
        }
        let mut cfg = ClientConfig::new(conn, key);
        // Every process on this state folder shares the account's budget.
        cfg.budget_dir = Some(self.paths.budget_dir.clone());
        (self.tune)(&mut cfg);
        let client = Client::new(cfg)?;
        clients.insert(conn.name.clone(), (conn.clone(), client.clone()));
        Ok(client)
    }

    /// Runs `export` once. `Err` only when it could not start (another run
    /// holds its lock); every other failure is an outcome in the report and
    /// in the status file.
    pub async fn run(
        &self,
        export: &Export,
        trigger: Trigger,
        opts: RunOptions,
        cancel: CancellationToken,
    ) -> Result<RunReport, RunError> {
        let _lock = state::lock_export(&self.paths.state_dir, &export.id)?;
        let path = self.status_path(&export.id);
        let mut prev = status::read(&path).ok().flatten();
        // We hold the lock: a `running` status is a dead process's run.
        if let Some(p) = prev.as_mut() {
            p.close_interrupted();
        }
        let started = Utc::now();
        let mut last_run = LastRun::started(trigger, started);
        // The run in progress is in the file from its start (as
        // `current_run`): killed, it leaves a record the next start closes
        // as interrupted.
        let running = StatusFile::running(
            export,
            prev.as_ref(),
            CurrentRun::of(&last_run),
            opts.next_run,
            started,
        );
        write_status(&path, export, running, &opts);
        let (result, api) = self
            .on_account(export, &opts, &cancel, &mut last_run, prev.as_ref())
            .await;
        let (outcome, blocked, error) = match result {
            Ok(blocked) => (outcome_of(&last_run, blocked.is_some()), blocked, None),
            Err(e) if cancel.is_cancelled() => (Outcome::Interrupted, None, Some(e.to_string())),
            Err(e) => (Outcome::Failed, None, Some(e.to_string())),
        };
        last_run.error = error.or_else(|| blocked.clone());
        last_run.finish(outcome, Utc::now());
        let report = RunReport {
            outcome,
            last_run,
            blocked,
            api,
        };
        let finished = StatusFile::finished(
            export,
            prev.as_ref(),
            &report.last_run,
            opts.next_run,
            Utc::now(),
        );
        write_status(&path, export, finished, &opts);
        log_run(export, &report);
        release_free_memory();
        Ok(report)
    }

    /// [`Runner::execute`] with the account's shared client, counting its
    /// requests.
    async fn on_account(
        &self,
        export: &Export,
        opts: &RunOptions,
        cancel: &CancellationToken,
        last_run: &mut LastRun,
        prev: Option<&StatusFile>,
    ) -> (
        Result<Option<String>, RunError>,
        crate::activecampaign::RequestStats,
    ) {
        let client = match self.client_for(&export.connection) {
            Ok(client) => client.scoped(),
            Err(e) => return (Err(e), Default::default()),
        };
        let r = self
            .execute(export, &client, opts, cancel, last_run, prev)
            .await;
        let api = client.stats();
        last_run.api_requests = api.requests;
        (r, api)
    }

    /// The work of a run: `Ok(Some(reason))` when blocked by `max_removals`.
    async fn execute(
        &self,
        export: &Export,
        client: &Client,
        opts: &RunOptions,
        cancel: &CancellationToken,
        last_run: &mut LastRun,
        prev: Option<&StatusFile>,
    ) -> Result<Option<String>, RunError> {
        // Another export's run on this list in this process may hold
        // intents and batches in progress: its work, not an earlier run's to
        // settle by a full read (docs/run-rules.md, full reads).
        let (_live, others_live) = self.enter(export);
        let (segment, db, mut snapshot) = self.load(export).await?;
        if others_live {
            snapshot.others_in_progress();
        }
        if export.prune == crate::model::Prune::All && !snapshot.siblings.is_empty() {
            return Err(RunError::SharedPruneAll {
                export: export.id.clone(),
                others: snapshot
                    .siblings
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        if let Some(at) = prev.and_then(earlier_write)
            && snapshot.is_blank()
            && !opts.adopt
        {
            return Err(RunError::StateLost {
                path: self.paths.state_dir.join(state::DB_FILE),
                at,
                export: export.id.clone(),
            });
        }
        count_segment(last_run, &segment);
        // The journal row makes a killed run visible to the next one; a run
        // that cannot write it must not write anything to ActiveCampaign.
        let (id, trigger, started) = (export.id.clone(), last_run.trigger, last_run.started_at);
        let run_id = db
            .with(move |d| Ok(d.begin_run(&id, trigger.as_str(), started)?))
            .await?;
        last_run.run_id = Some(run_id);
        let cx = RunCtx {
            export,
            client,
            db: &db,
            opts,
            cancel,
        };
        let result = reconcile(&cx, snapshot, segment, last_run).await;
        let outcome = match &result {
            Ok(b) => outcome_of(last_run, b.is_some()).as_str(),
            Err(_) if cancel.is_cancelled() => "interrupted",
            Err(_) => "failed",
        };
        let finished = db
            .with(move |d| Ok(d.finish_run(run_id, Utc::now(), outcome)?))
            .await;
        if let Err(e) = finished {
            // The run's work is recorded; only its journal row stays open,
            // which the next run closes as interrupted.
            tracing::error!(export = %export.id, error = %e, "cannot close the run's journal row");
        }
        result
    }

    /// The segment, the state database and the export's snapshot.
    async fn load(&self, export: &Export) -> Result<(Segment, db::RunDb, Snapshot), RunError> {
        let root = self.paths.config_root();
        read_and_load(export, self.paths.state_dir.clone(), root).await
    }

    /// The segment and the snapshot a run would take, read at the same
    /// time, with nothing written ([`view::StateView`]).
    async fn view(&self, export: &Export) -> Result<(Segment, Snapshot), RunError> {
        let (state_dir, root) = (self.paths.state_dir.clone(), self.paths.config_root());
        let this = export.clone();
        let load = tokio::task::spawn_blocking(move || {
            view::StateView::open(&state_dir, &root, &this)?.snapshot(&this, &root)
        });
        let segment = prepare::read_segment(export).await;
        let snapshot = load
            .await
            .map_err(|e| RunError::Internal(format!("state reader stopped: {e}")))??;
        Ok((segment?, snapshot))
    }

    /// A dry run: reads (the segment, the state, the list when a full read is
    /// due) and plans. Writes nothing anywhere.
    pub async fn plan(
        &self,
        export: &Export,
        allow_removals: bool,
        full_read: bool,
    ) -> Result<PlanReport, RunError> {
        let client = self.client_for(&export.connection)?.scoped();
        let (segment, snapshot) = self.view(export).await?;
        let opts = RunOptions {
            allow_removals,
            full_read,
            ..RunOptions::default()
        };
        let prepared =
            prepare::prepare_from(export, &client, snapshot, segment, &opts, Utc::now(), None)
                .await?;
        Ok(PlanReport {
            left: prepared.left.clone(),
            full_read: prepared.full_read,
            read: prepared.read_kind(),
            drift: prepared.drift.clone(),
            unread_kept: prepared.unread_kept,
            settled_by_reading: prepared.settled_by_reading,
            segment: prepared.segment,
            plan: prepared.plan,
            api_requests: client.stats().requests,
        })
    }
}

/// Writes `s`, the status file of a run, at `path`.
fn write_status(path: &Path, export: &Export, mut s: StatusFile, opts: &RunOptions) {
    // The daemon runs it on the last good acsync.toml: the saved one's errors.
    s.config_error.clone_from(&opts.settings_error);
    // A status that cannot be written must not stop the run: log it; the
    // next state change writes it again.
    if let Err(e) = status::write_atomic(path, &s) {
        tracing::error!(export = %export.id, error = %e, "cannot write the status file");
    }
}

pub use prepare::Snapshot;

/// When the status file says a run of this export wrote to ActiveCampaign
/// and was recorded (a success, or a partial or blocked run): such a run
/// always leaves a record in the state database.
fn earlier_write(prev: &StatusFile) -> Option<DateTime<Utc>> {
    let recorded = |r: &&LastRun| matches!(r.outcome, Some(Outcome::Partial | Outcome::Blocked));
    prev.last_success_at.or_else(|| {
        prev.last_run
            .as_ref()
            .filter(recorded)
            .map(|r| r.started_at)
    })
}

fn count_segment(last_run: &mut LastRun, segment: &Segment) {
    last_run.source_rows = segment.source_rows;
    last_run.profiles = segment.profiles.len() as u64;
    last_run.invalid_rows = segment.invalid_rows;
    last_run.duplicate_rows = segment.duplicate_rows;
    last_run.failures = segment
        .samples
        .iter()
        .map(|s| status::Failure {
            row: Some(s.row),
            email: s.email.clone(),
            reason: s.reason.clone(),
        })
        .collect();
}

/// The outcome of a run that did not fail outright (docs/status-file.md).
fn outcome_of(last_run: &LastRun, blocked: bool) -> Outcome {
    if blocked {
        Outcome::Blocked
    } else if last_run.failed > 0 {
        Outcome::Partial
    } else {
        Outcome::Success
    }
}
