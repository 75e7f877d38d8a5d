//! Warnings about files other users can read or change: a key file
//! (`api_key_file`) or an `acsync.toml` (it names the accounts and where
//! their keys live) that is world-readable, or writable by anyone but its
//! owner. One policy for both, the one the package, tmpfiles.d and
//! SECURITY.md prescribe: `root:acsync 0640` (the daemon's group reads, only
//! root writes) or tighter (`0600`, `0400`). A warning, never an error: the
//! check passes and the run goes on; the fix is a `chmod`.

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::settings::Settings;
use super::types::ApiKeySource;

/// Mode bits that make a key file too open: read by others, or written by
/// group or others. Group-readable is how the `acsync` user reads a key
/// owned by root (`root:acsync 0640`).
pub const KEY_FILE_MASK: u32 = 0o026;
/// Mode bits that make `acsync.toml` too open: the same as a key file's.
pub const SETTINGS_MASK: u32 = 0o026;

/// How a too-open `mode` is too open, in words.
fn how_open(mode: u32, readable: &str) -> String {
    if mode & 0o022 != 0 {
        "writable by other users".to_string()
    } else {
        format!("readable by {readable}")
    }
}

/// The file's permission bits when any of `mask` is set (symlinks followed:
/// what matters is who can read the content). `None` when the file is
/// private enough or cannot be inspected.
pub fn too_open(path: &Path, mask: u32) -> Option<u32> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & mask != 0).then_some(mode)
}

/// The warning for a key file readable by others, if it is.
pub fn key_file_warning(path: &Path) -> Option<String> {
    too_open(path, KEY_FILE_MASK).map(|mode| {
        format!(
            "API key file {} is {} (mode {mode:04o}): `chmod 600` it (or 640 with group acsync), or use api_key_credential",
            path.display(),
            how_open(mode, "other users")
        )
    })
}

/// The warning for an `acsync.toml` others can read or change, if it is.
pub fn settings_warning(path: &Path) -> Option<String> {
    too_open(path, SETTINGS_MASK).map(|mode| {
        format!(
            "{} is {} (mode {mode:04o}): it names your accounts and where their keys live; `chmod 640` it (owner root, group acsync)",
            path.display(),
            how_open(mode, "every user")
        )
    })
}

/// Logs `warning` about `path` at `warn` level, once per process and path:
/// the daemon re-reads its folder on every change and every minute, and one
/// line per file is enough. A file fixed and loosened again is not re-logged
/// before a restart.
pub fn warn_once(path: &Path, warning: &str) {
    static WARNED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
    if warned
        .get_or_insert_with(HashSet::new)
        .insert(path.to_path_buf())
    {
        tracing::warn!("{warning}");
    }
}

/// Every permission warning of a loaded configuration: `acsync.toml`, then
/// each connection's key file.
pub fn warnings(settings: &Settings) -> Vec<String> {
    let mut out: Vec<String> = settings_warning(&settings.file).into_iter().collect();
    for conn in settings.connections.values() {
        if let ApiKeySource::File(path) = &conn.api_key {
            out.extend(key_file_warning(path));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::Permissions;

    #[test]
    fn modes() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("k");
        std::fs::write(&f, "x").expect("write");
        for (mode, key, settings) in [
            (0o600, false, false),
            (0o400, false, false),
            (0o640, false, false),
            (0o440, false, false),
            (0o660, true, true),
            (0o642, true, true),
            (0o604, true, true),
            (0o644, true, true),
        ] {
            std::fs::set_permissions(&f, Permissions::from_mode(mode)).expect("chmod");
            assert_eq!(key_file_warning(&f).is_some(), key, "{mode:o}");
            assert_eq!(settings_warning(&f).is_some(), settings, "{mode:o}");
        }
        let w = key_file_warning(&f).expect("warning");
        assert!(w.contains("0644") && w.contains("chmod 600"), "{w}");
        assert!(w.contains("readable by other users"), "{w}");
        std::fs::set_permissions(&f, Permissions::from_mode(0o664)).expect("chmod");
        let w = settings_warning(&f).expect("warning");
        assert!(w.contains("writable by other users (mode 0664)"), "{w}");
        assert!(w.contains("chmod 640"), "{w}");
        assert!(key_file_warning(&dir.path().join("missing")).is_none());
    }
}
