//! Watching the configuration folder (docs/configuration.md, saving a file): `exports/` recursively
//! and the config dir itself non-recursively (for `acsync.toml` and a swap of
//! an `exports` symlink).
//!
//! Level-triggered: the watcher never says *what* changed, only that
//! something did; every relevant batch of events becomes one
//! [`Control::Reload`] and the control loop re-reads the whole folder. That
//! is what makes editor rename-saves and Kubernetes-style `..data` link swaps
//! work, where no event names the export file.
//!
//! Directories are watched, never files (a rename-save replaces the inode).
//! inotify resolves symlinks when a watch is added, so [`ConfigWatcher::refresh`]
//! compares the identity of `exports` (canonical path, device, inode) on every
//! reload and rebuilds the watch when it changed. If the watcher cannot be
//! created (inotify limits, missing folder) it logs and the periodic rescan
//! carries on alone; every refresh retries.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::RecursiveMode;
use notify::event::{AccessKind, AccessMode, EventKind};
use notify_debouncer_full::notify::RecommendedWatcher;
use notify_debouncer_full::{
    DebounceEventResult, DebouncedEvent, Debouncer, RecommendedCache, new_debouncer,
};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, info, warn};

use super::{Control, Reason};
use crate::config::exports_dir;

/// Which `exports` folder is watched: its canonical path and inode, so both a
/// re-pointed symlink and a deleted-and-recreated folder are noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

fn identity(dir: &Path) -> Option<Identity> {
    let path = std::fs::canonicalize(dir).ok()?;
    let meta = std::fs::metadata(&path).ok()?;
    meta.is_dir().then(|| Identity {
        path,
        dev: meta.dev(),
        ino: meta.ino(),
    })
}

/// The armed watch (if any) and what it watches.
pub struct ConfigWatcher {
    config_dir: PathBuf,
    debounce: Duration,
    tx: UnboundedSender<Control>,
    debouncer: Option<Debouncer<RecommendedWatcher, RecommendedCache>>,
    /// The `exports` folder the recursive watch sits on; `None` if not armed.
    armed: Option<Identity>,
}

impl ConfigWatcher {
    /// Arms the watch; never fails (a failure is logged, see the module doc).
    pub fn new(config_dir: &Path, debounce: Duration, tx: UnboundedSender<Control>) -> Self {
        let mut w = ConfigWatcher {
            config_dir: config_dir.to_path_buf(),
            debounce,
            tx,
            debouncer: None,
            armed: None,
        };
        w.refresh();
        w
    }

    /// Whether the watcher is running (it may still lack `exports/`).
    pub fn is_armed(&self) -> bool {
        self.debouncer.is_some()
    }

    /// Rebuilds the watch if `exports` now points elsewhere, or if an earlier
    /// attempt failed. Called on every reload.
    pub fn refresh(&mut self) {
        let current = identity(&exports_dir(&self.config_dir));
        if self.debouncer.is_some() && current == self.armed {
            return;
        }
        if self.debouncer.is_some() {
            info!(
                exports = ?current.as_ref().map(|i| &i.path),
                "exports folder changed identity, rebuilding the watch"
            );
        }
        // Drop the old watcher first: its inotify watches sit on the old inodes.
        self.debouncer = None;
        self.armed = None;
        match self.build(current.as_ref()) {
            Ok(d) => {
                self.debouncer = Some(d);
                self.armed = current;
            }
            Err(e) => warn!(
                error = %e,
                dir = %self.config_dir.display(),
                "cannot watch the configuration folder; relying on the periodic rescan"
            ),
        }
    }

    fn build(
        &self,
        exports: Option<&Identity>,
    ) -> notify::Result<Debouncer<RecommendedWatcher, RecommendedCache>> {
        let tx = self.tx.clone();
        let mut d = new_debouncer(self.debounce, None, move |res: DebounceEventResult| {
            if batch_is_relevant(&res) {
                // The loop may be gone during shutdown: nothing left to tell.
                let _ = tx.send(Control::Reload(Reason::Watch));
            }
        })?;
        d.watch(&self.config_dir, RecursiveMode::NonRecursive)?;
        if let Some(exports) = exports {
            d.watch(&exports.path, RecursiveMode::Recursive)?;
        }
        Ok(d)
    }
}

fn batch_is_relevant(res: &DebounceEventResult) -> bool {
    match res {
        Ok(events) => events.iter().any(event_is_relevant),
        Err(errors) => {
            // Lost events (queue overflow, a watch gone): assume a change.
            for e in errors {
                warn!(error = %e, "watcher error; rescanning");
            }
            true
        }
    }
}

fn event_is_relevant(event: &DebouncedEvent) -> bool {
    if event.need_rescan() {
        return true;
    }
    let relevant = match event.kind {
        // Reads (ours included: every reload opens every file) change nothing.
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => event.paths.is_empty() || event.paths.iter().any(|p| !is_ignored(p)),
    };
    if relevant {
        debug!(kind = ?event.kind, paths = ?event.paths, "configuration folder changed");
    }
    relevant
}

/// Paths whose changes never matter: our own status files (or their temp
/// files), dotfiles and editor droppings. Kubernetes' `..data`-style names
/// are kept: a ConfigMap update touches nothing else.
pub fn is_ignored(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if name.starts_with("..") {
        return false;
    }
    name.starts_with('.')
        || name.contains(".status.json")
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name == "4913"
        || (name.starts_with('#') && name.ends_with('#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_status_and_temp_files_only() {
        for p in [
            "exports/vip.status.json",
            "exports/emea/.vip.status.json.tmp1",
            "exports/.tmpA1b2",
            "exports/.vip.toml.swp",
            "exports/vip.toml~",
            "exports/4913",
            "exports/#vip.toml#",
        ] {
            assert!(is_ignored(Path::new(p)), "{p}");
        }
        for p in [
            "exports/vip.toml",
            "exports/emea",
            "acsync.toml",
            "exports",
            "exports/..data",
            "exports/..2026_01_01",
        ] {
            assert!(!is_ignored(Path::new(p)), "{p}");
        }
    }
}
