//! Status files on disk: where each one lives, the atomic write (masked and
//! capped on the way out), the read and the removal. A status file is read by
//! people, scripts and monitoring while the daemon rewrites it, so it is
//! replaced by rename, never written in place.

use std::fs::{self, File, Permissions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::mask::sanitized;
use super::model::StatusFile;

/// Why a status file could not be written or read. Each names the file; the
/// message includes the cause, so print it with `{}`.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("cannot write status file {}: {cause}", path.display())]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("cannot read status file {}: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("status file {} is not valid: {cause}", path.display())]
    Parse {
        path: PathBuf,
        cause: serde_json::Error,
    },
}

/// Where the status file of `export_id` goes: `exports/NAME.status.json`
/// next to `exports/NAME.toml`, or the same relative path under `status_dir`
/// when the exports folder is read-only.
pub fn status_path(
    config_dir_exports: &Path,
    status_dir: Option<&Path>,
    export_id: &str,
) -> PathBuf {
    // Export ids are relative paths found under exports/, never `..`.
    debug_assert!(!export_id.split('/').any(|c| c == ".." || c.is_empty()));
    status_dir
        .unwrap_or(config_dir_exports)
        .join(format!("{export_id}.status.json"))
}

/// Replaces the status file at `path` atomically: a reader sees the old file
/// or the new one, never part of one, even after a power loss. Creates
/// missing parent folders. Emails are masked and failures capped first.
///
/// The temp file lives in the same folder (a rename cannot cross file
/// systems) and is named `.NAME.status.json.XXXXXX.tmp`: hidden and not
/// `.toml`, so the daemon's watcher ignores it.
pub fn write_atomic(path: &Path, status: &StatusFile) -> Result<(), StatusError> {
    let werr = |cause| StatusError::Write {
        path: path.to_owned(),
        cause,
    };
    let json = to_json(&sanitized(status)).map_err(werr)?;
    let dir = parent_dir(path);
    fs::create_dir_all(dir).map_err(werr)?;
    let name = path
        .file_name()
        .map_or_else(|| "status".into(), |n| n.to_string_lossy().into_owned());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(werr)?;
    tmp.write_all(&json).map_err(werr)?;
    // tempfile creates 0600; status files are meant to be read by others.
    tmp.as_file()
        .set_permissions(Permissions::from_mode(0o644))
        .map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    // On error the temp file is dropped, which deletes it.
    tmp.persist(path).map_err(|e| werr(e.error))?;
    // The rename is durable only once the folder itself is on disk.
    File::open(dir).and_then(|d| d.sync_all()).map_err(werr)
}

/// Reads a status file; `None` if there is none.
pub fn read(path: &Path) -> Result<Option<StatusFile>, StatusError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(cause) => {
            return Err(StatusError::Read {
                path: path.to_owned(),
                cause,
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|cause| StatusError::Parse {
            path: path.to_owned(),
            cause,
        })
}

/// Deletes a status file (its export file was deleted); absent is fine.
pub fn remove(path: &Path) -> Result<(), StatusError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StatusError::Write {
            path: path.to_owned(),
            cause: e,
        }),
        _ => Ok(()),
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn to_json(status: &StatusFile) -> std::io::Result<Vec<u8>> {
    let mut json = serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?;
    json.push(b'\n');
    Ok(json)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;
    use crate::status::test_support::sample;

    fn keys(v: &Value) -> BTreeSet<&str> {
        v.as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect()
    }

    /// docs/status-file.md's top-level fields, then those this build adds.
    const SPEC_TOP: [&str; 12] = [
        "export",
        "config_file",
        "config_sha256",
        "state",
        "config_error",
        "schedule",
        "next_run",
        "last_run",
        "last_success_at",
        "consecutive_failures",
        "updated_at",
        "acsync_version",
    ];
    const EXTRA_TOP: [&str; 1] = ["last_full_read_at"];
    /// docs/status-file.md's `last_run` fields, then those this build adds.
    const SPEC_RUN: [&str; 20] = [
        "trigger",
        "started_at",
        "finished_at",
        "duration_ms",
        "outcome",
        "error",
        "source_rows",
        "profiles",
        "invalid_rows",
        "duplicate_rows",
        "added",
        "updated",
        "removed",
        "unchanged",
        "kept_unsubscribed",
        "kept_bounced",
        "kept_unconfirmed",
        "failed",
        "api_requests",
        "failures",
    ];
    const EXTRA_RUN: [&str; 11] = [
        "run_id",
        "kept_other_status",
        "full_read",
        "read",
        "read_reason",
        "in_doubt",
        "not_active",
        "unread_kept",
        "settled_by_reading",
        "conflicts",
        "kept_for_others",
    ];

    #[test]
    fn json_field_names_are_specs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vip.status.json");
        write_atomic(&path, &sample()).expect("write");
        let v: Value = serde_json::from_slice(&fs::read(&path).expect("read")).expect("json");
        let want: BTreeSet<&str> = SPEC_TOP.iter().chain(&EXTRA_TOP).copied().collect();
        assert_eq!(keys(&v), want);
        let want: BTreeSet<&str> = SPEC_RUN.iter().chain(&EXTRA_RUN).copied().collect();
        assert_eq!(keys(&v["last_run"]), want);
        assert_eq!(
            keys(&v["last_run"]["failures"][0]),
            BTreeSet::from(["row", "email", "reason"])
        );
        assert_eq!(v["state"], "idle");
        assert_eq!(v["config_error"], Value::Null);
        assert_eq!(v["last_run"]["trigger"], "schedule");
        assert_eq!(v["last_run"]["outcome"], "partial");
        assert_eq!(v["last_run"]["duration_ms"], 812);
        assert_eq!(v["next_run"], "2026-11-23T10:30:00Z");
        assert_eq!(read(&path).expect("read back"), Some(sample()));
    }

    #[test]
    fn write_is_atomic_0644_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = status_path(&dir.path().join("exports"), None, "emea/vip");
        assert_eq!(path, dir.path().join("exports/emea/vip.status.json"));
        write_atomic(&path, &sample()).expect("first write (creates folders)");
        write_atomic(&path, &sample()).expect("second write");
        let parent = path.parent().expect("parent");
        let names: Vec<String> = fs::read_dir(parent)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["vip.status.json"]);
        let mode = fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
        remove(&path).expect("remove");
        remove(&path).expect("removing twice is fine");
        assert_eq!(read(&path).expect("read"), None);
    }

    #[test]
    fn status_dir_mirrors_exports() {
        let p = status_path(
            Path::new("/etc/acsync/exports"),
            Some(Path::new("/s")),
            "emea/vip",
        );
        assert_eq!(p, Path::new("/s/emea/vip.status.json"));
    }

    #[test]
    fn concurrent_reader_never_sees_a_partial_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vip.status.json");
        write_atomic(&path, &sample()).expect("first write");
        let done = std::sync::atomic::AtomicBool::new(false);
        let reads = std::thread::scope(|scope| {
            let reader = scope.spawn(|| {
                let mut reads = 0u32;
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    let got = read(&path).expect("never half-written");
                    assert!(got.is_some(), "never missing");
                    reads += 1;
                }
                reads
            });
            let mut s = sample();
            for i in 0..200u64 {
                // Vary the length so a torn write would show.
                s.config_error = Some("x".repeat(usize::try_from(i * 37 % 4000).unwrap_or(0)));
                write_atomic(&path, &s).expect("write");
            }
            done.store(true, std::sync::atomic::Ordering::Release);
            reader.join().expect("reader")
        });
        assert!(reads > 0);
    }
}
