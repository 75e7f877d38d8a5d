//! One run per export at a time, across processes (docs/commands.md, sync; docs/run-rules.md, scheduling): an
//! advisory lock on `state_dir/locks/<export>.lock`, held by the daemon's run
//! or by `acsync sync` until the returned guard is dropped.
//!
//! The lock is the kernel's (`flock` via `File::try_lock`), so it is released
//! when the holder exits or is killed: no stale lock files to clean up. The
//! files themselves stay; deleting one while another process waits on it
//! would let two processes each hold "the" lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why an export could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "export `{export}` is already running (held by another acsync process: the daemon or a manual sync)"
    )]
    Busy { export: String },
    #[error("cannot lock {}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// Holds an export's lock until dropped.
#[derive(Debug)]
pub struct ExportLock {
    // Closing the file releases the lock.
    _file: File,
    path: PathBuf,
}

impl ExportLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Takes the lock of `export` without waiting; [`LockError::Busy`] if another
/// process (or another guard in this one) holds it.
pub fn lock_export(state_dir: &Path, export: &str) -> Result<ExportLock, LockError> {
    let dir = state_dir.join("locks");
    let io = |path: &Path| {
        let path = path.to_owned();
        move |cause| LockError::Io { path, cause }
    };
    create_private_dir(&dir).map_err(io(&dir))?;
    let path = dir.join(format!("{}.lock", encode_id(export)));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(io(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(ExportLock { _file: file, path }),
        Err(TryLockError::WouldBlock) => Err(LockError::Busy {
            export: export.to_owned(),
        }),
        Err(TryLockError::Error(cause)) => Err(io(&path)(cause)),
    }
}

/// Turns an export id (`emea/vip`) into one safe file name, injectively:
/// bytes other than ASCII letters, digits, `-` and `_` become `%XX`, and so
/// does `.`, so no name can be `..` or hidden.
fn encode_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Creates `dir` (and missing parents) with mode 0700: the database tells
/// which contacts each export manages, which is nobody else's business.
pub(super) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates the database file `path` with mode 0600 when missing, and
/// takes group and other permissions away from it and from its WAL and
/// shared-memory files when present: it holds every address and the values
/// sent (the run history), and `state_dir` may be a folder that existed
/// before acsync with a wider mode (only a new one is made 0700). SQLite
/// gives the files it creates next to the database the database's mode.
pub(super) fn make_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => {}
        // A read by another user of a folder it may only read: SQLite says.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return Ok(()),
        Err(e) => return Err(e),
    }
    let beside = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    for file in [path.to_owned(), beside("-wal"), beside("-shm")] {
        let mode = match std::fs::metadata(&file) {
            Ok(m) => m.permissions().mode(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if mode & 0o077 == 0 {
            continue;
        }
        let private = std::fs::Permissions::from_mode(mode & 0o700);
        match std::fs::set_permissions(&file, private) {
            Ok(()) => {}
            // Not its owner (an operator reading the daemon's database):
            // the owner's next open tightens it.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                tracing::warn!(file = %file.display(), "the state database is readable by others, and only its owner can change that (chmod 600)");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::encode_id;

    #[test]
    fn encodes_ids_injectively() {
        assert_eq!(encode_id("emea/vip"), "emea%2Fvip");
        assert_eq!(encode_id("a.b"), "a%2Eb");
        assert_eq!(encode_id(".."), "%2E%2E");
        assert_ne!(encode_id("a/b"), encode_id("a%2Fb"));
        assert_eq!(encode_id("vip_2-x"), "vip_2-x");
    }
}
