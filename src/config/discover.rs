//! Finding the export files under `exports/` (see docs/configuration.md,
//! export files), by rules the daemon and `acsync check` share:
//!
//! * Symbolic links are followed once. A folder link that points back into
//!   the tree (`exports/dirloop -> .`) or at a folder already read is a
//!   located error and is not followed, so no export is seen twice.
//! * Each export has exactly one file: two paths to the same file (a link,
//!   a hard link) are an error on both, naming both.
//! * A `.toml` entry that cannot be used (a link loop, a dangling link, not
//!   a regular file, a name that is not UTF-8, a name whose status or lock
//!   file would be longer than a file name may be) is an export in error,
//!   never skipped in silence.
//! * Files that look like a misnamed export (`.TOML`, `.tml`, `.yml`,
//!   `.yaml`, `.json`, but never our `.status.json`) draw a warning.
//!
//! Reads directories; never reads a file's content.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::error::{ErrorKind, Located};

/// A file name may have at most this many bytes (ext4, xfs, btrfs, tmpfs).
pub const NAME_MAX: usize = 255;
/// Bytes the status file's temporary name adds to the export's file stem:
/// `.` + stem + `.status.json` + `.XXXXXX.tmp` (see `status::write_atomic`).
const STATUS_TMP_EXTRA: usize = 1 + ".status.json".len() + 1 + 6 + ".tmp".len();
/// Folders nested deeper than this are not read (a guard, not a rule).
const MAX_DEPTH: usize = 32;

/// One `.toml` entry found: an export file, or why it cannot be one.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: PathBuf,
    pub problem: Option<String>,
}

/// What a walk of `exports/` found.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    /// Export entries, sorted by path.
    pub found: Vec<Found>,
    /// Problems of the folder tree itself (link loops, folders read twice).
    pub errors: Vec<Located>,
    /// Files that look like exports but are not read.
    pub warnings: Vec<Located>,
}

/// Walks `dir` (a missing folder has no exports).
pub fn discover(dir: &Path) -> Discovery {
    let mut w = Walk::default();
    if let Ok(root) = dir.canonicalize() {
        w.real_folders(&root, dir, 0);
        w.walk(dir, &root, 0);
    }
    w.mark_duplicates();
    let mut out = w.out;
    out.found.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

#[derive(Default)]
struct Walk {
    out: Discovery,
    /// Canonical folder → the path it is (or will be) read under.
    folders: HashMap<PathBuf, PathBuf>,
    /// (device, inode) → indexes into `out.found` of every path to that file.
    files: HashMap<(u64, u64), Vec<usize>>,
}

impl Walk {
    /// Registers the real (non-link) folders first, so a link to one of them
    /// is the duplicate whichever comes first in the walk.
    fn real_folders(&mut self, canon: &Path, path: &Path, depth: usize) {
        self.folders.insert(canon.to_path_buf(), path.to_path_buf());
        if depth >= MAX_DEPTH {
            return;
        }
        for entry in sorted_entries(path) {
            let p = entry.path();
            let real_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if real_dir && !hidden(&entry.file_name()) {
                self.real_folders(&canon.join(entry.file_name()), &p, depth + 1);
            }
        }
    }

    fn walk(&mut self, dir: &Path, canon: &Path, depth: usize) {
        for entry in sorted_entries(dir) {
            let path = entry.path();
            let name = entry.file_name();
            if hidden(&name) {
                continue;
            }
            let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_dir() && depth < MAX_DEPTH => {
                    if is_link {
                        self.linked_folder(&path, canon, depth);
                    } else {
                        self.walk(&path, &canon.join(&name), depth + 1);
                    }
                }
                Ok(meta) if meta.is_dir() => {}
                Ok(meta) => self.file(path, &name, Some(&meta)),
                Err(e) => self.unreadable(path, &name, &e),
            }
        }
    }

    fn linked_folder(&mut self, path: &Path, current: &Path, depth: usize) {
        let Ok(target) = path.canonicalize() else {
            return;
        };
        if current.starts_with(&target) {
            let above = self.folders.get(&target).cloned().unwrap_or(target);
            self.out.errors.push(Located::whole_file(
                ErrorKind::Layout,
                path,
                format!(
                    "symbolic link loop: this folder link points to {}, which contains it; not followed (each export must have exactly one file: remove the link)",
                    above.display()
                ),
            ));
            return;
        }
        match self.folders.get(&target) {
            Some(first) if first != path => {
                let message = format!(
                    "this folder link points to {}, which is read already; not followed (each export must have exactly one file: remove the link)",
                    first.display()
                );
                self.out
                    .errors
                    .push(Located::whole_file(ErrorKind::Layout, path, message));
            }
            _ => {
                self.folders.insert(target.clone(), path.to_path_buf());
                self.walk(path, &target, depth + 1);
            }
        }
    }

    fn file(&mut self, path: PathBuf, name: &OsStr, meta: Option<&std::fs::Metadata>) {
        match classify(name) {
            Kind::Ignored => {}
            Kind::Misnamed(hint) => {
                self.out
                    .warnings
                    .push(Located::whole_file(ErrorKind::Layout, &path, hint))
            }
            Kind::Export(problem) => {
                let problem = match meta {
                    Some(m) if !m.is_file() => {
                        Some("not a regular file: an export must be a TOML file".to_string())
                    }
                    _ => problem,
                };
                if let Some(m) = meta {
                    let idx = self.out.found.len();
                    self.files.entry((m.dev(), m.ino())).or_default().push(idx);
                }
                self.out.found.push(Found { path, problem });
            }
        }
    }

    fn unreadable(&mut self, path: PathBuf, name: &OsStr, e: &std::io::Error) {
        if !matches!(classify(name), Kind::Export(_)) {
            return;
        }
        let problem = if e.raw_os_error() == Some(libc::ELOOP) {
            "symbolic link loop: the link never reaches a file".to_string()
        } else if e.kind() == std::io::ErrorKind::NotFound {
            "broken symbolic link: its target does not exist".to_string()
        } else {
            format!("cannot read: {e}")
        };
        self.out.found.push(Found {
            path,
            problem: Some(problem),
        });
    }

    /// Two or more paths to one file: every one of them is in error.
    fn mark_duplicates(&mut self) {
        for idxs in self.files.values().filter(|v| v.len() > 1) {
            let paths: Vec<String> = idxs
                .iter()
                .map(|&i| self.out.found[i].path.display().to_string())
                .collect();
            for &i in idxs {
                self.out.found[i].problem = Some(format!(
                    "{} are the same file (a link or a hard link): each export must have exactly one file; remove all but one",
                    paths.join(" and ")
                ));
            }
        }
    }
}

fn sorted_entries(dir: &Path) -> Vec<std::fs::DirEntry> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|r| r.flatten().collect())
        .unwrap_or_default();
    v.sort_by_key(std::fs::DirEntry::file_name);
    v
}

/// Dotfiles and dot folders (editor temp files, Kubernetes' `..data`, our
/// status temp files) are never exports.
fn hidden(name: &OsStr) -> bool {
    name.as_bytes().first() == Some(&b'.')
}

enum Kind {
    /// An export file; `Some` if its name cannot be used.
    Export(Option<String>),
    /// Not an export, but named like one meant to be.
    Misnamed(String),
    Ignored,
}

fn classify(name: &OsStr) -> Kind {
    let bytes = name.as_bytes();
    let Some(name) = name.to_str() else {
        return if bytes.ends_with(b".toml") && bytes.len() > 5 {
            Kind::Export(Some(
                "the file name is not valid UTF-8 (shown with \u{FFFD} for the bad bytes): rename it; export names must be UTF-8".into(),
            ))
        } else {
            Kind::Ignored
        };
    };
    if name.ends_with(".toml") && name.len() > 5 && !name.starts_with('#') {
        return Kind::Export(None);
    }
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".status.json") || name.starts_with('#') || name.ends_with('~') {
        return Kind::Ignored;
    }
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    match lower.rsplit_once('.').map(|(_, ext)| ext) {
        Some("toml" | "tml") => Kind::Misnamed(format!(
            "not read: only files ending in `.toml` (lower case) are exports; rename it to {stem}.toml if it is one"
        )),
        Some(ext @ ("yml" | "yaml" | "json")) => Kind::Misnamed(format!(
            "not read: exports are TOML files ending in `.toml`, and this is a .{ext} file; write it as {stem}.toml if it is meant as one"
        )),
        _ => Kind::Ignored,
    }
}

/// Why export `id` cannot have a status file and a lock file, if so: each
/// must be a file name of at most [`NAME_MAX`] bytes. The lock file is
/// `state/locks/ENCODED.lock`, ENCODED being the whole id with every byte but
/// ASCII letters, digits, `-` and `_` written `%XX` (`state::lock`).
pub fn name_problem(id: &str) -> Option<String> {
    let stem = id.rsplit('/').next().unwrap_or(id);
    let status = stem.len() + STATUS_TMP_EXTRA;
    if status > NAME_MAX {
        return Some(format!(
            "the file name is too long: its status file needs a name of {status} bytes (with its temporary suffix), more than the {NAME_MAX} a file name may have; keep the name under {} bytes",
            NAME_MAX - STATUS_TMP_EXTRA + 1
        ));
    }
    let encoded: usize = id
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                1
            } else {
                3
            }
        })
        .sum();
    let lock = encoded + ".lock".len();
    (lock > NAME_MAX).then(|| {
        format!(
            "the export name `{}` is too long: its lock file name would be {lock} bytes, more than the {NAME_MAX} a file name may have (`/`, `.` and each byte of a non-ASCII character count 3); use a shorter name",
            super::redact::shown(id)
        )
    })
}

/// Logs, at WARN, the discovery errors and warnings not logged by the last
/// call: the daemon reloads on every change and every minute, and one line
/// per problem is enough (a problem that goes and comes back is logged again).
pub fn log_changes(problems: &[Located]) {
    static LAST: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let now: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    for p in now.iter().filter(|p| !last.contains(p)) {
        tracing::warn!(problem = %p, "configuration problem in the exports folder");
    }
    *last = now;
}

#[cfg(test)]
#[path = "discover_tests.rs"]
mod tests;
