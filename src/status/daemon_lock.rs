//! Whether a daemon is running on a configuration folder, so `acsync status`
//! can say when nobody will honour the `next_run` it shows, and so a second
//! daemon on the same folder refuses to start. The daemon holds an advisory
//! lock (`flock`) on the configuration folder itself for as long as it
//! lives; `status` only probes it and never creates anything.
//!
//! The folder, not a file under `state_dir`: where the lock is must not
//! depend on reading `acsync.toml` (like `systemctl is-active`, liveness
//! holds while the settings are broken; see docs/commands.md, `acsync
//! daemon`). A folder is opened read-only, so a read-only `/etc/acsync`
//! can still be locked, and its inode stays the same when an editor
//! replaces the files inside it.
//!
//! The lock is the kernel's, so a killed daemon leaves no stale claim: its
//! lock goes with its process.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

/// Held by a running daemon; dropping it releases the lock.
#[derive(Debug)]
pub struct DaemonLock {
    // Closing the folder's handle releases the lock.
    _folder: File,
}

/// Why the daemon could not take its lock.
#[derive(Debug, thiserror::Error)]
pub enum DaemonLockError {
    /// Another daemon runs on the same configuration folder.
    #[error("another acsync daemon is running on {}", path.display())]
    Busy { path: PathBuf },
    #[error("cannot lock the configuration folder {}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonProbe {
    Running,
    NotRunning,
    /// The lock could not be read (no permission on the folder, say): the
    /// reason, naming the folder.
    Unknown(String),
}

/// Takes the daemon lock of `config_dir` without waiting.
pub fn hold_daemon_lock(config_dir: &Path) -> Result<DaemonLock, DaemonLockError> {
    let io = |cause| DaemonLockError::Io {
        path: config_dir.to_path_buf(),
        cause,
    };
    let folder = File::open(config_dir).map_err(io)?;
    match folder.try_lock() {
        Ok(()) => Ok(DaemonLock { _folder: folder }),
        Err(TryLockError::WouldBlock) => Err(DaemonLockError::Busy {
            path: config_dir.to_path_buf(),
        }),
        Err(TryLockError::Error(cause)) => Err(io(cause)),
    }
}

/// Whether a daemon holds the lock of `config_dir`. Read-only: a missing
/// folder means no daemon runs there.
pub fn probe_daemon(config_dir: &Path) -> DaemonProbe {
    let folder = match File::open(config_dir) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return DaemonProbe::NotRunning,
        Err(e) => {
            return DaemonProbe::Unknown(format!("cannot open {}: {e}", config_dir.display()));
        }
    };
    // A shared lock: two probes at once do not see each other as a daemon.
    match folder.try_lock_shared() {
        Ok(()) => DaemonProbe::NotRunning,
        Err(TryLockError::WouldBlock) => DaemonProbe::Running,
        Err(TryLockError::Error(e)) => {
            DaemonProbe::Unknown(format!("cannot lock {}: {e}", config_dir.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_sees_the_lock_while_it_is_held_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let folder = dir.path();
        assert_eq!(probe_daemon(folder), DaemonProbe::NotRunning);
        let lock = hold_daemon_lock(folder).expect("lock");
        assert_eq!(probe_daemon(folder), DaemonProbe::Running);
        assert!(matches!(
            hold_daemon_lock(folder),
            Err(DaemonLockError::Busy { .. })
        ));
        assert_eq!(
            std::fs::read_dir(folder).expect("list").count(),
            0,
            "the lock creates nothing in the folder"
        );
        drop(lock);
        assert_eq!(probe_daemon(folder), DaemonProbe::NotRunning);
        let again = hold_daemon_lock(folder).expect("free again");
        assert_eq!(probe_daemon(folder), DaemonProbe::Running);
        drop(again);
    }

    #[test]
    fn a_missing_folder_runs_no_daemon_and_cannot_be_locked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let gone = dir.path().join("gone");
        assert_eq!(probe_daemon(&gone), DaemonProbe::NotRunning);
        assert!(matches!(
            hold_daemon_lock(&gone),
            Err(DaemonLockError::Io { .. })
        ));
    }
}
