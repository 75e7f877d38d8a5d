//! What the daemon needs of the status files ([`StatusSink`]: injected, so
//! that the control loop is testable with fakes; the daemon re-exports it)
//! and [`StatusFiles`], the one that writes them: the states it gives an
//! export between runs (idle with its next run, disabled, invalid, removed)
//! written as status files, each carrying the run history of the file it
//! replaces. A status a running process owns (its export lock is held) is
//! never overwritten from here.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::file::{StatusError, read, remove, status_path, write_atomic};
use super::model::{ExportState, StatusFile};
use crate::config::{Export, Located};

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

    /// When the export's latest run started (the one still going, else the
    /// last finished one), if it ever ran: the start-up catch-up of missed
    /// runs depends on it (see docs/run-rules.md, scheduling).
    fn last_run_started(&self, export: &Export) -> Option<DateTime<Utc>> {
        let s = self.read_status(&export.id)?;
        let current = s.current_run.map(|c| c.started_at);
        current.or_else(|| s.last_run.map(|r| r.started_at))
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

/// Status files next to each export (or under `status_dir`).
pub struct StatusFiles {
    /// Where the export locks live: a status another process is running is
    /// never overwritten.
    pub state_dir: PathBuf,
    pub exports_dir: PathBuf,
    pub status_dir: Option<PathBuf>,
}

impl StatusFiles {
    /// The status files of the configuration folder `config_dir`, whose
    /// `[daemon]` settings are `d`.
    pub fn new(config_dir: &Path, d: &crate::config::DaemonSettings) -> Self {
        StatusFiles {
            state_dir: d.state_dir.clone(),
            exports_dir: crate::config::exports_dir(config_dir),
            status_dir: d.status_dir.clone(),
        }
    }

    /// The status file of export `id`, `None` if it has none yet.
    pub fn read(&self, id: &str) -> Result<Option<StatusFile>, StatusError> {
        read(&self.path(id))
    }

    /// The status file of export `id`.
    pub fn path(&self, id: &str) -> PathBuf {
        status_path(&self.exports_dir, self.status_dir.as_deref(), id)
    }

    /// The current file, or a fresh one for `id`.
    fn current(&self, id: &str, config_file: &str) -> StatusFile {
        read(&self.path(id))
            .ok()
            .flatten()
            .unwrap_or_else(|| StatusFile::new(id, config_file, Utc::now()))
    }

    /// Writes `s` for export `id`, turning errors into `io::Error` for the daemon's log.
    fn write(&self, id: &str, s: &StatusFile) -> std::io::Result<()> {
        write_atomic(&self.path(id), s).map_err(std::io::Error::other)
    }

    /// Carries the run history of the current file over to `fresh`; a
    /// run left `running` by a dead process is recorded as interrupted.
    fn with_history(&self, id: &str, mut fresh: StatusFile) -> StatusFile {
        let mut current = self.current(id, &fresh.config_file);
        current.close_interrupted();
        fresh.keep_history(&current);
        fresh
    }

    /// Whether another run of `id` (a manual `sync`, or this daemon's own)
    /// holds its lock: its status is that run's to write.
    fn running_elsewhere(&self, id: &str) -> bool {
        matches!(
            crate::state::lock_export(&self.state_dir, id),
            Err(crate::state::LockError::Busy { .. })
        )
    }
}

fn file_name(file: &Path) -> String {
    file.file_name()
        .map_or_else(|| file.to_string_lossy(), |n| n.to_string_lossy())
        .into_owned()
}

impl StatusFiles {
    /// Whether export `id`'s file is still there under a name that is not
    /// read as an export (`vip.TOML`, `vip.tml`, `vip.yaml`...): `check` and
    /// the daemon warn about it, and its status file, with the run history,
    /// is kept until it is renamed back or deleted.
    fn misnamed_export_exists(&self, id: &str) -> bool {
        let path = self.exports_dir.join(id);
        let (Some(dir), Some(stem)) = (path.parent(), path.file_name()) else {
            return false;
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return false;
        };
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.rsplit_once('.').is_some_and(|(s, ext)| {
                s == stem.to_string_lossy()
                    && ext != "toml"
                    && matches!(
                        ext.to_ascii_lowercase().as_str(),
                        "toml" | "tml" | "yml" | "yaml" | "json"
                    )
            })
        })
    }
}

impl StatusSink for StatusFiles {
    fn read_status(&self, id: &str) -> Option<StatusFile> {
        self.read(id).ok().flatten()
    }

    fn idle(
        &self,
        export: &Export,
        next_run: Option<DateTime<Utc>>,
        settings_error: Option<&str>,
    ) -> std::io::Result<()> {
        if self.running_elsewhere(&export.id) {
            return Ok(());
        }
        let mut s = self.with_history(&export.id, StatusFile::for_export(export, Utc::now()));
        s.state = ExportState::Idle;
        s.next_run = next_run;
        s.config_error = settings_error.map(str::to_string);
        self.write(&export.id, &s)
    }

    fn disabled(&self, export: &Export) -> std::io::Result<()> {
        if self.running_elsewhere(&export.id) {
            return Ok(());
        }
        let mut s = self.with_history(&export.id, StatusFile::for_export(export, Utc::now()));
        s.state = ExportState::Disabled;
        s.next_run = None;
        self.write(&export.id, &s)
    }

    fn invalid(
        &self,
        id: &str,
        file: &Path,
        sha256: Option<&str>,
        config_error: &str,
    ) -> std::io::Result<()> {
        let mut s = self.with_history(id, StatusFile::new(id, file_name(file), Utc::now()));
        s.state = ExportState::Invalid;
        s.config_sha256 = sha256.map(str::to_string);
        s.config_error = Some(config_error.to_string());
        s.schedule = None;
        s.next_run = None;
        self.write(id, &s)
    }

    fn removed(&self, id: &str, _file: &Path) -> std::io::Result<()> {
        remove(&self.path(id)).map_err(std::io::Error::other)
    }

    fn prune(&self, present: &[&str]) -> std::io::Result<()> {
        // (A status file whose export was only misnamed is kept: see
        // `misnamed_export_exists`.)
        let root = self.status_dir.as_deref().unwrap_or(&self.exports_dir);
        for path in status_files(root) {
            let id = path
                .strip_prefix(root)
                .ok()
                .and_then(|p| p.to_str())
                .and_then(|p| p.strip_suffix(".status.json"))
                .map(str::to_string);
            if let Some(id) = id
                && !present.contains(&id.as_str())
                && !self.misnamed_export_exists(&id)
            {
                remove(&path).map_err(std::io::Error::other)?;
            }
        }
        Ok(())
    }
}

/// Every `*.status.json` under `dir`. A folder link back into the tree (a
/// loop, a second path to a folder) is not followed: through it, live status
/// files would look like those of deleted exports and be removed.
fn status_files(dir: &Path) -> Vec<PathBuf> {
    let root = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                let link = e.file_type().is_ok_and(|t| t.is_symlink());
                let canon = p.canonicalize().unwrap_or_else(|_| p.clone());
                if !(link && canon.starts_with(&root)) && seen.insert(canon) {
                    stack.push(p);
                }
            } else if p.to_string_lossy().ends_with(".status.json") {
                out.push(p);
            }
        }
    }
    out
}
