//! The errors that concern the files named to `acsync check FILE…`: each
//! file's own errors with every folder rule applied, as `check` on the whole
//! folder and the daemon apply them (see docs/configuration.md, check), so
//! that a pre-commit hook refuses what the daemon would refuse.

use std::path::{Path, PathBuf};

use super::error::{ErrorKind, Located};
use super::load::{Folder, exports_dir, load_export, load_settings};
use super::types::{Export, LoadedExport};

impl Folder {
    /// The errors of `files`: an `acsync.toml` is validated on its own; an
    /// export of this folder brings its errors as the folder load found them
    /// (two paths to one file, its name, `prune = "all"` on a shared list);
    /// a file outside the folder is validated alone. A folder rule that
    /// refuses another export because of a named one (a named export joins
    /// a list the other prunes in full) is reported where the other's fix is.
    pub fn errors_of(&self, files: &[PathBuf]) -> Vec<Located> {
        let mut out = Vec::new();
        let mut named_ids = Vec::new();
        for file in files {
            if file.file_name().is_some_and(|n| n == "acsync.toml") {
                out.extend(load_settings(file.parent().unwrap_or(&self.dir)).errors);
                continue;
            }
            let wanted = canonical(file);
            match self.exports.iter().find(|e| canonical(&e.file) == wanted) {
                Some(e) => {
                    named_ids.push(e.id.as_str());
                    out.extend(e.result.as_ref().err().into_iter().flatten().cloned());
                }
                None => {
                    let alone = load_export(&self.settings, &exports_dir(&self.dir), file);
                    out.extend(alone.result.err().into_iter().flatten());
                }
            }
        }
        for e in self
            .exports
            .iter()
            .filter(|e| !named_ids.contains(&e.id.as_str()))
        {
            let errors = e.result.as_ref().err().into_iter().flatten();
            out.extend(errors.filter(|err| caused_by(err, &named_ids)).cloned());
        }
        out
    }
}

impl Folder {
    /// The valid exports among `files` (every valid export when `files` is
    /// empty).
    pub fn valid_exports_of(&self, files: &[PathBuf]) -> Vec<&Export> {
        self.exports_of(files)
            .filter_map(|e| e.result.as_ref().ok())
            .collect()
    }

    /// The files of the exports among `files` that do not validate (every
    /// such file when `files` is empty).
    pub fn invalid_export_files_of(&self, files: &[PathBuf]) -> Vec<&Path> {
        self.exports_of(files)
            .filter(|e| e.result.is_err())
            .map(|e| e.file.as_path())
            .collect()
    }

    fn exports_of(&self, files: &[PathBuf]) -> impl Iterator<Item = &LoadedExport> {
        let named: Vec<PathBuf> = files.iter().map(|f| canonical(f)).collect();
        self.exports
            .iter()
            .filter(move |e| named.is_empty() || named.contains(&canonical(&e.file)))
    }
}

/// Whether `err`, on an export not named, is a folder rule that one of the
/// named exports takes part in.
fn caused_by(err: &Located, named_ids: &[&str]) -> bool {
    match &err.kind {
        ErrorKind::PruneAllOnSharedList { others } => {
            others.iter().any(|o| named_ids.contains(&o.as_str()))
        }
        _ => false,
    }
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}
