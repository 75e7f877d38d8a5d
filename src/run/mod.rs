//! One run of one export, end to end: lock, read the segment, load state,
//! read the list when due, plan, apply through the client while journaling
//! intents and outcomes, and write the status file. `acsync sync` and the
//! daemon call the same [`Runner::run`]; `acsync plan` calls
//! [`Runner::plan`], which shares everything up to the plan and writes nothing.

pub mod apply;
pub mod batches;
pub mod cross_check;
pub mod fields;
pub mod port;
pub mod prepare;
pub mod shared;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::activecampaign::{ApiError, Client, ClientConfig};
use crate::config::{Connection, DaemonSettings, Export, KeyError};
use crate::plan::{Plan, PlanError};
use crate::segment::Segment;
use crate::source::SourceError;
use crate::state::{self, LockError, StateDb, StateError};
use crate::status::{self, ExportState, LastRun, Outcome, StatusFile};

pub use crate::status::Trigger;

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `sync --allow-removals`: lift `max_removals` for this run only.
    pub allow_removals: bool,
    /// Written into the status file's `next_run` (the daemon knows it; `sync` may not).
    pub next_run: Option<DateTime<Utc>>,
    /// `--full-read`: read the list in full now (drift check).
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

/// Where a runner keeps state and writes status files.
#[derive(Debug, Clone)]
pub struct RunnerPaths {
    pub state_dir: PathBuf,
    pub exports_dir: PathBuf,
    pub status_dir: Option<PathBuf>,
}

impl RunnerPaths {
    /// The configuration folder (the parent of `exports/`).
    pub fn config_root(&self) -> PathBuf {
        (self.exports_dir.parent()).map_or_else(|| self.exports_dir.clone(), Path::to_path_buf)
    }

    pub fn new(config_dir: &Path, settings: &DaemonSettings) -> Self {
        RunnerPaths {
            state_dir: settings.state_dir.clone(),
            exports_dir: crate::config::exports_dir(config_dir),
            status_dir: settings.status_dir.clone(),
        }
    }
}

/// Why a run failed. Every variant's message names the place (file,
/// connection, list, column) and never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Busy(#[from] LockError),
    #[error("{0}")]
    Source(SourceError),
    #[error("{0}")]
    Plan(PlanError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("custom field `{key}` (in [mapping.fields]) does not exist in ActiveCampaign: {hint}")]
    UnknownField { key: String, hint: String },
    #[error(
        "the list read does not agree with the contact's own membership: contact {contact_id} shows status {row} on list {list_id} but was read as {read}; not writing anything (ActiveCampaign may filter `status` across all lists)"
    )]
    ReadMismatch {
        contact_id: u64,
        list_id: u64,
        read: &'static str,
        row: String,
    },
    #[error(
        "the state database {} has no record of export `{export}`, but its status file shows a run that wrote to ActiveCampaign at {at}: the state was lost or replaced. acsync will not start from nothing (it would forget which members it subscribed, and never unsubscribe them). Restore the state database, or run `acsync sync {export} --adopt` once to take ownership of the list's active members that are in the segment",
        path.display()
    )]
    StateLost {
        path: PathBuf,
        at: DateTime<Utc>,
        export: String,
    },
    #[error(
        "export `{export}` has prune = \"all\" but export(s) {others} target the same list: \"all\" would unsubscribe their members. Use prune = \"owned\" on a shared list"
    )]
    SharedPruneAll { export: String, others: String },
    #[error("stopped by shutdown; the next run finishes the work")]
    Cancelled,
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a finished run reports (also written to the status file).
#[derive(Debug, Clone)]
pub struct RunReport {
    pub outcome: Outcome,
    pub last_run: LastRun,
    pub blocked: Option<String>,
    /// The run's request counters (its 429s feed the metrics' limit answers).
    pub api: crate::activecampaign::RequestStats,
}

/// What `acsync plan` shows.
pub struct PlanReport {
    /// The list the export last ran on, if it changed, and how many members
    /// it owns there (left as they are).
    pub left: Option<(String, u64)>,
    pub segment: Segment,
    pub plan: Plan,
    pub full_read: bool,
    pub api_requests: u64,
}

/// Runs exports. Holds one client per connection, so every export on an
/// account shares that account's rate budget.
pub struct Runner {
    paths: RunnerPaths,
    clients: Mutex<HashMap<String, (Arc<Connection>, Client)>>,
    tune: fn(&mut ClientConfig),
}

impl Runner {
    pub fn new(paths: RunnerPaths) -> Self {
        Runner {
            paths,
            clients: Mutex::new(HashMap::new()),
            tune: |_| {},
        }
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
    /// (a new URL or key source in acsync.toml reaches every export).
    pub fn client_for(&self, conn: &Arc<Connection>) -> Result<Client, RunError> {
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| RunError::Internal("client cache poisoned".into()))?;
        if let Some((c, client)) = clients.get(&conn.name)
            && c == conn
        {
            return Ok(client.clone());
        }
        let mut cfg = ClientConfig::new(conn, conn.read_api_key()?);
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
        // The run in progress is in the file from its start: killed, it
        // leaves a record the next start closes as interrupted.
        self.write_status(
            &path,
            export,
            prev.as_ref(),
            ExportState::Running,
            Some(&last_run),
            &opts,
        );
        let mut api = crate::activecampaign::RequestStats::default();
        let result = match self.client_for(&export.connection) {
            Ok(client) => {
                let client = client.scoped();
                let r = self
                    .execute(
                        export,
                        &client,
                        &opts,
                        &cancel,
                        &mut last_run,
                        prev.as_ref(),
                    )
                    .await;
                api = client.stats();
                last_run.api_requests = api.requests;
                r
            }
            Err(e) => Err(e),
        };
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
        self.write_status(
            &path,
            export,
            prev.as_ref(),
            ExportState::Idle,
            Some(&report.last_run),
            &opts,
        );
        log_run(export, &report);
        release_free_memory();
        Ok(report)
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
        let (segment, db, snapshot) = self.read_and_load(export).await?;
        if export.prune == crate::model::Prune::All && !snapshot.siblings.is_empty() {
            return Err(RunError::SharedPruneAll {
                export: export.id.clone(),
                others: (snapshot.siblings.iter())
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
        let run_id = {
            let mut d = lock_state(&db)?;
            d.begin_run(&export.id, last_run.trigger.as_str(), last_run.started_at)?
        };
        last_run.run_id = Some(run_id);
        let result = self
            .reconcile(
                export, client, &db, snapshot, segment, opts, cancel, last_run,
            )
            .await;
        let outcome = match &result {
            Ok(b) => outcome_of(last_run, b.is_some()).as_str(),
            Err(_) if cancel.is_cancelled() => "interrupted",
            Err(_) => "failed",
        };
        let finished = lock_state(&db)
            .and_then(|mut d| Ok(d.finish_run(run_id, Utc::now(), outcome, "{}")?));
        if let Err(e) = finished {
            // The run's work is recorded; only its journal row stays open,
            // which the next run closes as interrupted.
            tracing::error!(export = %export.id, error = %e, "cannot close the run's journal row");
        }
        result
    }

    /// Reads the segment and, at the same time on another thread, opens the
    /// state database and loads the export's snapshot: for a million
    /// profiles each takes about a second of CPU, and a run needs both
    /// before it can plan. The snapshot is taken before this run is
    /// journaled, so every unfinished run it sees is an earlier, killed one.
    async fn read_and_load(
        &self,
        export: &Export,
    ) -> Result<(Segment, Mutex<StateDb>, Snapshot), RunError> {
        let dir = self.paths.state_dir.clone();
        let id = export.id.clone();
        let scope = state::scope_of(export);
        let root = self.paths.config_root();
        let this = export.clone();
        let load = tokio::task::spawn_blocking(move || {
            let mut db = StateDb::open(&dir)?;
            db.claim_folder(&root)?;
            // Rows of 0.1 (kept per export id) or of a moved export file
            // join the scope: a layout change, nothing recorded changes.
            db.fold_into_scope(&id, &scope)?;
            let mut snapshot = Snapshot::take(&db, &id, &scope, None)?;
            let rows = db.wanted_by_others(&scope, &id)?;
            let siblings = shared::siblings(&shared::load(&root), &this, &scope, &rows);
            snapshot.others = shared::others(&id, &siblings, rows);
            snapshot.siblings = siblings;
            Ok::<_, RunError>((db, snapshot))
        });
        let segment = prepare::read_segment(export).await;
        let (db, snapshot) = load
            .await
            .map_err(|e| RunError::Internal(format!("state loader stopped: {e}")))??;
        Ok((segment?, Mutex::new(db), snapshot))
    }

    #[allow(clippy::too_many_arguments)]
    async fn reconcile(
        &self,
        export: &Export,
        client: &Client,
        db: &Mutex<StateDb>,
        snapshot: Snapshot,
        segment: Segment,
        opts: &RunOptions,
        cancel: &CancellationToken,
        last_run: &mut LastRun,
    ) -> Result<Option<String>, RunError> {
        let now = Utc::now();
        let mut prepared =
            prepare::prepare_from(export, client, snapshot, segment, opts, now).await?;
        if opts.adopt {
            adopt(&mut prepared);
        }
        record_wanted(db, export, &prepared)?;
        last_run.full_read = prepared.live.is_some();
        // Custom values refused for their field's type: reported per row.
        last_run.failures.extend(
            (prepared.field_issues.iter())
                .map(|s| status::Failure::new(Some(s.row), &s.email, s.reason.clone())),
        );
        if let Some((list, owned)) = &prepared.left {
            tracing::warn!(export = %export.id, left = %list, owned, "the export now targets another list; the members it owns on the old one are left as they are");
            last_run.left_list = Some(list.clone());
            last_run.left_owned = Some(*owned);
        }
        fold_record_hashes(&mut prepared);
        persist_reconciled(db, &prepared)?;
        let (tally, result) = apply::Applier::new(
            export,
            client,
            db,
            &prepared.known,
            &prepared.segment,
            cancel,
        )
        .with_fields(&prepared.fields)
        .apply(&prepared.plan)
        .await;
        last_run.added = tally.added;
        last_run.updated = tally.updated;
        last_run.removed = tally.removed;
        let plan = &prepared.plan;
        last_run.kept_unsubscribed = plan.kept_unsubscribed.len() as u64 + tally.kept_unsubscribed;
        last_run.kept_bounced = plan.kept_bounced.len() as u64 + tally.kept_bounced;
        last_run.kept_unconfirmed = plan.kept_unconfirmed.len() as u64 + tally.kept_unconfirmed;
        last_run.in_doubt = plan.in_doubt.len() as u64;
        last_run.conflicts = plan.conflicts.len() as u64;
        last_run.kept_for_others = plan.kept_for_others;
        last_run.not_active = tally.not_active;
        last_run.unchanged = prepared.plan.unchanged;
        last_run.failed = tally.failed;
        last_run.failures.extend(tally.failures);
        last_run.failures.truncate(status::MAX_FAILURES);
        result?;
        let mut d = lock_state(db)?;
        d.set_export_meta(&export.id, &prepared.meta)?;
        for id in d.unfinished_runs(&export.id)? {
            if Some(id) != last_run.run_id {
                d.finish_run(id, Utc::now(), "interrupted", "{}")?;
            }
        }
        Ok(prepared.plan.blocked.clone())
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
        let (segment, _db, snapshot) = self.read_and_load(export).await?;
        let opts = RunOptions {
            allow_removals,
            full_read,
            ..RunOptions::default()
        };
        let prepared =
            prepare::prepare_from(export, &client, snapshot, segment, &opts, Utc::now()).await?;
        Ok(PlanReport {
            left: prepared.left.clone(),
            full_read: prepared.live.is_some(),
            segment: prepared.segment,
            plan: prepared.plan,
            api_requests: client.stats().requests,
        })
    }

    fn write_status(
        &self,
        path: &Path,
        export: &Export,
        prev: Option<&StatusFile>,
        state: ExportState,
        run: Option<&LastRun>,
        opts: &RunOptions,
    ) {
        let now = Utc::now();
        let mut s = StatusFile::for_export(export, now);
        if let Some(p) = prev {
            s.keep_history(p);
        }
        s.state = state;
        s.next_run = opts.next_run;
        s.config_error.clone_from(&opts.settings_error);
        if let Some(run) = run {
            if run.full_read {
                s.last_full_read_at = Some(run.started_at);
            }
            s.record_run(run.clone());
        }
        // A status that cannot be written must not stop the run: log it; the
        // next state change writes it again.
        if let Err(e) = status::write_atomic(path, &s) {
            tracing::error!(export = %export.id, error = %e, "cannot write the status file");
        }
    }
}

pub use prepare::Snapshot;

/// When the status file says a run of this export wrote to ActiveCampaign
/// and was recorded (a success, or a partial or blocked run): such a run
/// always leaves a record in the state database.
fn earlier_write(prev: &StatusFile) -> Option<DateTime<Utc>> {
    let recorded = |r: &&LastRun| matches!(r.outcome, Some(Outcome::Partial | Outcome::Blocked));
    (prev.last_success_at).or_else(|| {
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

/// The outcome of a run that did not fail outright (SPEC §4b).
fn outcome_of(last_run: &LastRun, blocked: bool) -> Outcome {
    if blocked {
        Outcome::Blocked
    } else if last_run.failed > 0 {
        Outcome::Partial
    } else {
        Outcome::Success
    }
}

/// After a full read, the hashes of members whose live values already equal
/// what we would send go into the reconciled members themselves, so they are
/// written in the same transaction instead of a second pass over the same
/// rows (for a first run against a 100,000-member list, a second write of
/// every row).
fn fold_record_hashes(p: &mut prepare::Prepared) {
    if p.live.is_none() {
        return;
    }
    for (email, h) in std::mem::take(&mut p.plan.record_hashes) {
        if let Some(m) = p.known.get_mut(&email) {
            m.sent_hash = Some(h);
        }
    }
}

/// The run's state database, shared by the run and its applier. A panic
/// while it was held leaves it poisoned: the run stops rather than guess.
fn lock_state(db: &Mutex<StateDb>) -> Result<std::sync::MutexGuard<'_, StateDb>, RunError> {
    db.lock()
        .map_err(|_| RunError::Internal("state lock poisoned".into()))
}

/// Records what this export wants on its list while the list is shared
/// (and forgets it otherwise), so the other exports never unsubscribe it.
fn record_wanted(
    db: &Mutex<StateDb>,
    export: &Export,
    p: &prepare::Prepared,
) -> Result<(), RunError> {
    let mut d = lock_state(db)?;
    let shared = !p.siblings.is_empty();
    let rows = (p.segment.profiles.iter())
        .filter(|_| shared)
        .map(|x| (x.email.as_str(), x.fields.hash64()));
    d.replace_wanted(&p.scope, &export.id, rows)?;
    Ok(())
}

/// `sync --adopt`: the list's active members that are in the segment
/// become owned (a lost state database forgot who acsync subscribed; these
/// are the members a run would keep anyway). Nobody else is touched.
fn adopt(p: &mut prepare::Prepared) {
    let wanted: std::collections::HashSet<&str> = p
        .segment
        .profiles
        .iter()
        .map(|x| x.email.as_str())
        .collect();
    let mut adopted = 0u64;
    for m in p.known.iter_mut() {
        if m.status == Some(crate::model::ListStatus::Active) && wanted.contains(m.email.as_str()) {
            adopted += u64::from(!m.owned);
            m.owned = true;
        }
    }
    tracing::warn!(
        members = adopted,
        "adopted the list's active members that are in the segment"
    );
}

/// After a full read: the reconciled members become the record (ownership
/// is never dropped by the database). A list the export left keeps its
/// rows: changing `list_id` back resumes them.
fn persist_reconciled(db: &Mutex<StateDb>, p: &prepare::Prepared) -> Result<(), RunError> {
    let mut d = lock_state(db)?;
    if p.live.is_some() {
        d.replace_members(&p.scope, p.known.iter())?;
    }
    for id in &p.settled_batches {
        d.settle_batch(&p.scope, id)?;
    }
    Ok(())
}

/// Hands the memory a run freed back to the operating system. A run holds
/// millions of small allocations for a large segment, and glibc keeps freed
/// chunks in its per-thread arenas: without this, a daemon's RSS would stay
/// at its largest run's high-water mark, and it creeps with fragmentation
/// (measured by the suite, item 7: +1 MB over 300 small runs while the heap
/// in use stayed flat within 8 kB).
/// Logs (at debug level) the heap in use across all arenas, so a daemon's
/// memory can be followed run by run.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim and mallinfo2 take no pointer and only walk
    // glibc's own bookkeeping.
    unsafe {
        libc::malloc_trim(0);
        let m = libc::mallinfo2();
        tracing::debug!(
            heap_in_use = m.uordblks + m.hblkhd,
            heap_free = m.fordblks,
            "memory after the run"
        );
    }
}

/// The one `run finished` line of a run, at a level an operator can alert
/// on: ERROR when it failed, WARN when it was blocked, partial or
/// interrupted, INFO on success.
fn log_run(export: &Export, r: &RunReport) {
    use tracing::Level;
    let l = &r.last_run;
    macro_rules! line {
        ($level:expr) => {
            tracing::event!(
                $level,
                export = %export.id,
                outcome = %r.outcome.as_str(),
                profiles = l.profiles,
                added = l.added,
                updated = l.updated,
                removed = l.removed,
                unchanged = l.unchanged,
                kept_unsubscribed = l.kept_unsubscribed,
                kept_bounced = l.kept_bounced,
                kept_unconfirmed = l.kept_unconfirmed,
                in_doubt = l.in_doubt,
                failed = l.failed,
                invalid_rows = l.invalid_rows,
                api_requests = l.api_requests,
                duration_ms = l.duration_ms.unwrap_or(0),
                error = l.error.as_deref(),
                "run finished"
            )
        };
    }
    match r.outcome {
        Outcome::Failed => line!(Level::ERROR),
        Outcome::Blocked | Outcome::Partial | Outcome::Interrupted => line!(Level::WARN),
        Outcome::Success => line!(Level::INFO),
    }
}
