//! Whether a daemon is running on a configuration folder, so `acsync status`
//! can say when nobody will honour the `next_run` it shows. The daemon holds
//! an advisory lock (`flock`) on `state_dir/daemon.lock` for as long as it
//! lives; `status` only probes it and never creates anything.
//!
//! The lock is the kernel's, so a killed daemon leaves no stale claim: its
//! lock goes with its process, and the file left behind is harmless.

use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The lock file's name under `state_dir`.
pub const DAEMON_LOCK_FILE: &str = "daemon.lock";

/// Held by a running daemon; dropping it releases the lock.
#[derive(Debug)]
pub struct DaemonLock {
    // Closing the file releases the lock.
    _file: File,
}

/// Why the daemon could not take its lock.
#[derive(Debug, thiserror::Error)]
pub enum DaemonLockError {
    /// Another daemon runs on the same state folder.
    #[error("another acsync daemon holds {}", path.display())]
    Busy { path: PathBuf },
    #[error("cannot lock {}: {cause}", path.display())]
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
    /// The lock could not be read (no permission on `state_dir`, say): the
    /// reason, naming the file.
    Unknown(String),
}

/// Takes the daemon lock of `state_dir` without waiting (creating the folder
/// with mode 0700 and the file with 0600 if needed) and writes this
/// process's id into it for people who look.
pub fn hold_daemon_lock(state_dir: &Path) -> Result<DaemonLock, DaemonLockError> {
    let path = state_dir.join(DAEMON_LOCK_FILE);
    let io = |cause| DaemonLockError::Io {
        path: path.clone(),
        cause,
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_dir)
        .map_err(io)?;
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(DaemonLockError::Busy { path }),
        Err(TryLockError::Error(cause)) => return Err(io(cause)),
    }
    // The pid is a courtesy for people: the lock, not the file's text, is
    // what the probe trusts.
    file.set_len(0).map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    Ok(DaemonLock { _file: file })
}

/// [`hold_daemon_lock`] for `acsync daemon`: a lock it cannot take is
/// logged, not fatal (a second daemon on the same folder is still kept from
/// running an export twice by the export locks).
pub fn claim_daemon_lock(state_dir: &Path) -> Option<DaemonLock> {
    match hold_daemon_lock(state_dir) {
        Ok(lock) => Some(lock),
        Err(e) => {
            tracing::warn!("{e}: `acsync status` may not tell whether this daemon runs");
            None
        }
    }
}

/// Whether a daemon holds the lock of `state_dir`. Read-only: a missing
/// folder or file means no daemon has run there since it was made.
pub fn probe_daemon(state_dir: &Path) -> DaemonProbe {
    let path = state_dir.join(DAEMON_LOCK_FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return DaemonProbe::NotRunning,
        Err(e) => return DaemonProbe::Unknown(format!("cannot open {}: {e}", path.display())),
    };
    // A shared lock: two probes at once do not see each other as a daemon.
    match file.try_lock_shared() {
        Ok(()) => DaemonProbe::NotRunning,
        Err(TryLockError::WouldBlock) => DaemonProbe::Running,
        Err(TryLockError::Error(e)) => {
            DaemonProbe::Unknown(format!("cannot lock {}: {e}", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_sees_the_lock_while_it_is_held_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        assert_eq!(probe_daemon(&state), DaemonProbe::NotRunning);
        assert!(!state.exists(), "a probe creates nothing");
        let lock = hold_daemon_lock(&state).expect("lock");
        assert_eq!(probe_daemon(&state), DaemonProbe::Running);
        assert!(matches!(
            hold_daemon_lock(&state),
            Err(DaemonLockError::Busy { .. })
        ));
        let pid = std::fs::read_to_string(state.join(DAEMON_LOCK_FILE)).expect("pid");
        assert_eq!(pid.trim(), std::process::id().to_string());
        drop(lock);
        assert_eq!(probe_daemon(&state), DaemonProbe::NotRunning);
        let again = hold_daemon_lock(&state).expect("free again");
        assert_eq!(probe_daemon(&state), DaemonProbe::Running);
        drop(again);
    }

    #[test]
    fn an_unreadable_lock_is_unknown_not_absent() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A folder where the file should be: open succeeds on Linux, so use
        // a file under a non-folder to force an error other than NotFound.
        let blocker = dir.path().join("state");
        std::fs::write(&blocker, "not a folder").expect("write");
        match probe_daemon(&blocker) {
            DaemonProbe::Unknown(why) => assert!(why.contains("daemon.lock"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
