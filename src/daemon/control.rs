//! The control loop: the only place that owns time. It starts due runs,
//! applies reloads, collects finished runs, pings the watchdog, and on
//! shutdown cancels and waits.
//!
//! Runs are spawned on a `JoinSet` rather than detached: its `join_next`
//! is the "finished runs" branch of the `select!`, a panicking run still
//! reports (as a `JoinError` carrying the task id, mapped back to its
//! export) instead of leaving the export marked running forever, and on a
//! shutdown that outlasts the grace period the remaining runs are aborted.
//!
//! Loading the folder and writing status files are blocking file IO done
//! inline: they are small, and doing them in order on the loop keeps the
//! status files consistent with the running set (a multi-thread runtime keeps
//! other tasks going meanwhile).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::{self, JoinError, JoinSet};
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep_until, timeout_at};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::notify::{Systemd, status_line};
use super::registry::{Effect, FirstSeen, Registry};
use super::settings::{Health, KeyChange, KeyDigests, LastGood};
use super::watch::ConfigWatcher;
use super::{Control, Daemon, ExportId, Reason, RunResult};
use crate::config::{Folder, exports_dir, load_folder};
use crate::run::{RunOptions, Trigger};

/// Why `exports/` exists but cannot be listed (permissions, I/O), if so.
/// A missing folder is not an error: it holds no exports.
fn exports_unreadable(config_dir: &Path) -> Option<std::io::Error> {
    match std::fs::read_dir(exports_dir(config_dir)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Some(e),
        _ => None,
    }
}

/// Tokio timers and the wall clock tick at different grains: wake a hair
/// after the instant so the first wake already finds it due.
const WAKE_MARGIN: Duration = Duration::from_millis(5);

pub(super) struct Loop {
    /// The folder, the ports, the options and the control channel.
    daemon: Daemon,
    registry: Registry,
    runs: JoinSet<RunResult>,
    run_ids: HashMap<task::Id, ExportId>,
    /// Parent of every run's token: cancelled once, at shutdown.
    root: CancellationToken,
    systemd: Systemd,
    /// The last `acsync.toml` without errors, used while the saved one has some.
    last_good: LastGood,
    /// How `acsync.toml` stood at the last load (a rescan that finds the
    /// same errors logs nothing).
    settings: Health,
    /// What the status files of active exports show about `acsync.toml`
    /// (`config_error` while running on the last good one).
    settings_error: Option<String>,
    /// The connections' keys as last read (a rotated key is logged).
    keys: KeyDigests,
}

impl Loop {
    pub(super) fn new(d: Daemon) -> Self {
        Loop {
            daemon: d,
            registry: Registry::default(),
            runs: JoinSet::new(),
            run_ids: HashMap::new(),
            root: CancellationToken::new(),
            systemd: Systemd::from_env(),
            last_good: LastGood::default(),
            settings: Health::Valid,
            settings_error: None,
            keys: KeyDigests::default(),
        }
    }

    pub(super) async fn run(mut self) {
        // Arm the watch before reading, so a change during the read is seen.
        let mut watcher = self.daemon.options.watch.then(|| {
            ConfigWatcher::new(
                &self.daemon.config_dir,
                self.daemon.options.debounce,
                self.daemon.tx.clone(),
            )
        });
        self.start_up();
        self.systemd.ready();
        let every = self.daemon.options.rescan_every;
        let mut rescan = interval_at(Instant::now() + every, every);
        rescan.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let now = self.daemon.clock.now();
            self.start_due(now);
            self.systemd.watchdog_if_due(Instant::now());
            let line = status_line(&self.registry.summary(), now);
            let note = self.settings.status_note().unwrap_or_default();
            self.systemd.status(format!("{note}{line}"));
            let wake = self.wake_at(now);
            tokio::select! {
                msg = self.daemon.rx.recv() => match msg {
                    Some(Control::Reload(reason)) => {
                        let (reason, stop) = self.coalesce(reason);
                        self.reload(reason, &mut watcher);
                        if stop {
                            break;
                        }
                    }
                    Some(Control::Shutdown) | None => break,
                },
                Some(done) = self.runs.join_next_with_id(), if !self.runs.is_empty() => {
                    self.finished(done);
                }
                _ = rescan.tick() => self.reload(Reason::Rescan, &mut watcher),
                _ = sleep_until(wake) => {}
            }
        }
        drop(watcher);
        self.shut_down().await;
    }

    fn start_up(&mut self) {
        let (folder, _) = self.load();
        self.keys.reread(&folder.settings);
        let status = Arc::clone(&self.daemon.status);
        let last = move |e: &crate::config::Export| status.last_run_started(e);
        let effects = self.registry.reconcile(
            &folder.exports,
            self.daemon.clock.now(),
            FirstSeen::Startup(&last),
        );
        self.apply(effects);
        let present: Vec<&str> = folder.exports.iter().map(|e| e.id.as_str()).collect();
        if let Err(e) = self.daemon.status.prune(&present) {
            warn!(error = %e, "cannot delete status files of deleted exports");
        }
        let s = self.registry.summary();
        info!(
            dir = %self.daemon.config_dir.display(),
            exports = s.exports,
            invalid = s.invalid,
            disabled = s.disabled,
            "started"
        );
    }

    /// Folds queued reloads into one; reports a queued shutdown.
    fn coalesce(&mut self, mut reason: Reason) -> (Reason, bool) {
        let mut stop = false;
        while let Ok(msg) = self.daemon.rx.try_recv() {
            match msg {
                Control::Reload(Reason::Signal) => reason = Reason::Signal,
                Control::Reload(_) => {}
                Control::Shutdown => stop = true,
            }
        }
        (reason, stop)
    }

    fn reload(&mut self, reason: Reason, watcher: &mut Option<ConfigWatcher>) {
        // SIGHUP is `systemctl reload`: bracket it so systemd knows when it is done.
        if reason == Reason::Signal {
            self.systemd.reloading();
        }
        if let Some(w) = watcher {
            w.refresh();
        }
        self.rescan(reason);
        if reason == Reason::Signal {
            self.systemd.ready();
        }
    }

    fn rescan(&mut self, reason: Reason) {
        if let Some(e) = exports_unreadable(&self.daemon.config_dir) {
            // Reading nothing would look like every file deleted: keep the
            // running set as it is until the folder can be read again.
            warn!(error = %e, "cannot read the exports folder; keeping the exports as they were");
            return;
        }
        let (folder, restate) = self.load();
        let mut effects =
            self.registry
                .reconcile(&folder.exports, self.daemon.clock.now(), FirstSeen::Running);
        if restate {
            // Every active export's status file shows (or stops showing) the
            // acsync.toml errors; those running get it when their run ends.
            effects.extend(self.registry.restate_active());
        }
        let keys = self.keys.reread(&folder.settings);
        log_key_changes(&keys, reason);
        if !effects.is_empty() {
            info!(%reason, changes = effects.len(), "configuration reloaded");
        } else if !keys.is_empty() {
            // Each change was logged on its own line.
        } else if reason == Reason::Signal {
            // An operator who sent SIGHUP (`systemctl reload`) sees it taken.
            info!(%reason, "configuration reloaded: no change");
        } else {
            tracing::debug!(%reason, "reloaded: no change");
        }
        self.apply(effects);
    }

    /// Loads the folder (on the last good `acsync.toml` if the saved one
    /// has errors) and takes in how `acsync.toml` stands. Also returns
    /// whether the status files of active exports must be restated.
    fn load(&mut self) -> (Folder, bool) {
        let (folder, health) = self.last_good.resolve(load_folder(&self.daemon.config_dir));
        if health == self.settings {
            return (folder, false);
        }
        log_health(&health, &self.settings);
        if let Err(e) = self.daemon.status.settings_checked(health.errors()) {
            warn!(error = %e, "cannot record the state of acsync.toml");
        }
        let shown = health.status_error(&self.daemon.config_dir);
        let restate = shown != self.settings_error;
        self.settings_error = shown;
        self.settings = health;
        (folder, restate)
    }

    fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            let written = match effect {
                Effect::Idle { export, next_run } => {
                    info!(export = %export.id, schedule = %export.schedule.expr, next_run = ?next_run, "scheduled");
                    self.daemon
                        .status
                        .idle(&export, next_run, self.settings_error.as_deref())
                }
                Effect::Disabled(export) => {
                    info!(export = %export.id, "disabled (enabled = false)");
                    self.daemon.status.disabled(&export)
                }
                Effect::Invalid {
                    id,
                    file,
                    sha256,
                    error,
                } => {
                    warn!(export = %id, error = %error, "invalid export file; not run");
                    self.daemon
                        .status
                        .invalid(&id, &file, sha256.as_deref(), &error)
                }
                Effect::Removed { id, file } => {
                    info!(export = %id, "export file deleted; export stopped");
                    self.daemon.status.removed(&id, &file)
                }
                Effect::Cancel(id) => {
                    info!(export = %id, "stopping its run in flight");
                    if let Some(token) = self.registry.cancel_token(&id) {
                        token.cancel();
                    }
                    Ok(())
                }
            };
            if let Err(e) = written {
                warn!(error = %e, "cannot write a status file");
            }
        }
    }

    fn start_due(&mut self, now: DateTime<Utc>) {
        let (starts, skipped) = self.registry.due(now);
        for id in skipped {
            info!(export = %id, "scheduled tick skipped: the previous run is still going");
        }
        for start in starts {
            let id = start.export.id.clone();
            let cancel = self.root.child_token();
            let opts = RunOptions {
                next_run: start.next_run,
                settings_error: self.settings_error.clone(),
                ..RunOptions::default()
            };
            info!(export = %id, next_run = ?start.next_run, "run started");
            let run = self
                .daemon
                .runner
                .run(start.export, Trigger::Schedule, opts, cancel.clone());
            let handle = self.runs.spawn(run);
            self.run_ids.insert(handle.id(), id.clone());
            self.registry.started(&id, cancel);
        }
    }

    fn finished(&mut self, done: Result<(task::Id, RunResult), JoinError>) {
        let (task_id, result) = match done {
            Ok((tid, result)) => (tid, result.map_err(|e| e.to_string())),
            Err(e) => (e.id(), Err(format!("run task ended abnormally: {e}"))),
        };
        let Some(id) = self.run_ids.remove(&task_id) else {
            return;
        };
        match result {
            // The runner logged the run's one `run finished` line.
            Ok(ended) => {
                tracing::debug!(export = %id, outcome = ended.outcome.as_str(), "run task ended")
            }
            Err(e) => tracing::error!(export = %id, error = %e, "run could not start"),
        }
        if let Some(effect) = self.registry.finished(&id) {
            self.apply(vec![effect]);
        }
    }

    /// The next wake: the earliest run, the watchdog, or `max_sleep`.
    fn wake_at(&self, now: DateTime<Utc>) -> Instant {
        let base = Instant::now();
        let mut at = base + self.daemon.options.max_sleep;
        if let Some(next) = self.registry.earliest() {
            let until = (next - now).to_std().unwrap_or(Duration::ZERO);
            at = at.min(base + until + WAKE_MARGIN);
        }
        if let Some(w) = self.systemd.watchdog_deadline() {
            at = at.min(w);
        }
        at
    }

    async fn shut_down(mut self) {
        self.systemd.stopping();
        info!(
            running = self.runs.len(),
            "stopping: no new runs; cancelling runs in flight"
        );
        self.root.cancel();
        let deadline = Instant::now() + self.daemon.options.stop_grace;
        while !self.runs.is_empty() {
            match timeout_at(deadline, self.runs.join_next_with_id()).await {
                Ok(Some(done)) => self.finished(done),
                Ok(None) => break,
                Err(_) => {
                    let left: Vec<&ExportId> = self.run_ids.values().collect();
                    warn!(?left, grace = ?self.daemon.options.stop_grace, "runs did not stop in time; abandoning them");
                    self.runs.abort_all();
                    break;
                }
            }
        }
    }
}

/// Logs each connection whose key changed or became unreadable since the
/// last reload, naming the connection, never the key.
fn log_key_changes(changes: &[KeyChange], reason: Reason) {
    for change in changes {
        match change {
            KeyChange::Changed { connection } => info!(
                %reason,
                "configuration reloaded: api key of connection `{connection}` changed"
            ),
            KeyChange::Unreadable { error, .. } => {
                warn!(%reason, %error, "configuration reloaded: an api key cannot be read")
            }
        }
    }
}

/// Logs a change in how `acsync.toml` stands: each error at ERROR (one line
/// per root cause, `FILE:LINE:COL: message`), and the fix at INFO.
fn log_health(now: &Health, before: &Health) {
    let consequence = match now {
        Health::Valid => {
            if before != &Health::Valid {
                info!("acsync.toml is valid again; its configuration is in use");
            }
            return;
        }
        Health::Fallback(_) => {
            "acsync.toml is invalid; every export keeps running with the last valid acsync.toml until it is fixed"
        }
        Health::Broken(_) => {
            "acsync.toml is invalid; exports using the affected connections are not run"
        }
    };
    for e in now.errors() {
        tracing::error!(error = %e, "{consequence}");
    }
}
