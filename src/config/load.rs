//! Reading the configuration folder: `acsync.toml` and every export file
//! under `exports/**`, found by the rules of [`super::discover`] (links
//! followed once, one file per export, misnamed files warned about).
//! Loading never stops at the first bad file: each export carries its own
//! result, so one broken file never hides another.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::discover;
use super::error::{ConfigError, ErrorKind, Located};
use super::settings::Settings;
use super::types::{Export, LoadedExport};
use super::validate::{self, sha256_hex};

/// The loaded configuration folder.
#[derive(Debug, Clone)]
pub struct Folder {
    pub dir: PathBuf,
    pub settings: Settings,
    pub exports: Vec<LoadedExport>,
    /// Problems of the `exports/` tree itself (link loops, folders reached twice).
    pub discovery_errors: Vec<Located>,
    /// Files under `exports/` that look like exports but are not read.
    pub warnings: Vec<Located>,
}

impl Folder {
    /// Every error in the folder, one per root cause: `acsync.toml` first
    /// (an invalid connection once, with the exports it skips, instead of
    /// once more in each of them), the `exports/` tree, then exports by id.
    pub fn errors(&self) -> Vec<Located> {
        let mut all = self.settings.errors.clone();
        let mut skipped: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut rest = self.discovery_errors.clone();
        for e in &self.exports {
            for err in e.result.as_ref().err().into_iter().flatten() {
                match &err.kind {
                    ErrorKind::BrokenConnection { connection } => {
                        skipped.entry(connection).or_default().push(&e.id);
                    }
                    _ => rest.push(err.clone()),
                }
            }
        }
        for (conn, ids) in skipped {
            all.push(self.skipped_exports(conn, &ids));
        }
        all.extend(rest);
        all
    }

    /// `connection `prod` is invalid (see above): 3 exports skipped: a, b, c`.
    fn skipped_exports(&self, conn: &str, ids: &[&str]) -> Located {
        let (line, col) = self.settings.broken_at.get(conn).copied().unwrap_or((1, 1));
        let shown: Vec<&str> = ids.iter().copied().take(10).collect();
        let more = match ids.len().saturating_sub(10) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        Located {
            kind: ErrorKind::SkippedExports,
            file: self.settings.file.clone(),
            line,
            col,
            message: format!(
                "connection `{conn}` is invalid (see above): {} export(s) using it are skipped: {}{more}",
                ids.len(),
                shown.join(", ")
            ),
        }
    }

    /// The export named `id`, or why it cannot be used.
    pub fn export(&self, id: &str) -> Result<&Export, ConfigError> {
        let found = self.exports.iter().find(|e| e.id == id);
        match found.map(|e| &e.result) {
            None => Err(ConfigError::NoSuchExport {
                name: id.to_string(),
                hint: super::suggest::hint(id, self.exports.iter().map(|e| e.id.as_str())),
            }),
            Some(Ok(export)) => Ok(export),
            Some(Err(errors)) => Err(ConfigError::Invalid(errors.clone())),
        }
    }
}

/// `DIR/acsync.toml`.
pub fn settings_path(config_dir: &Path) -> PathBuf {
    config_dir.join("acsync.toml")
}

/// `DIR/exports`.
pub fn exports_dir(config_dir: &Path) -> PathBuf {
    config_dir.join("exports")
}

/// Reads and validates `acsync.toml`; a missing or unreadable file is an error in it.
pub fn load_settings(config_dir: &Path) -> Settings {
    let file = settings_path(config_dir);
    match std::fs::read_to_string(&file) {
        Ok(src) => {
            if let Some(w) = super::perms::settings_warning(&file) {
                super::perms::warn_once(&file, &w);
            }
            Settings::from_source(&file, &src, config_dir)
        }
        Err(e) => {
            let mut s = Settings::empty(&file, config_dir);
            let unreadable = Located::whole_file(ErrorKind::Unreadable, &file, read_error(&e));
            s.errors.push(unreadable);
            s
        }
    }
}

fn read_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "file not found".into(),
        std::io::ErrorKind::InvalidData => "not valid UTF-8".into(),
        _ => format!("cannot read: {e}"),
    }
}

/// Loads the whole folder. Problems of the `exports/` tree and warnings
/// are also logged (once each) for the daemon, which reloads through here.
pub fn load_folder(config_dir: &Path) -> Folder {
    let settings = load_settings(config_dir);
    let dir = exports_dir(config_dir);
    let found = discover::discover(&dir);
    let mut exports: Vec<LoadedExport> = found
        .found
        .iter()
        .map(|f| {
            let id = export_id_for(&dir, &f.path);
            match f.problem.clone().or_else(|| discover::name_problem(&id)) {
                Some(problem) => LoadedExport {
                    id,
                    file: f.path.clone(),
                    sha256: None,
                    result: Err(vec![Located::whole_file(
                        ErrorKind::Layout,
                        &f.path,
                        problem,
                    )]),
                },
                None => load_export(&settings, &dir, &f.path),
            }
        })
        .collect();
    super::shared_lists::refuse_prune_all_on_shared_lists(&mut exports);
    let problems: Vec<Located> = found
        .errors
        .iter()
        .chain(&found.warnings)
        .cloned()
        .collect();
    discover::log_changes(&problems);
    Folder {
        dir: config_dir.to_path_buf(),
        settings,
        exports,
        discovery_errors: found.errors,
        warnings: found.warnings,
    }
}

/// Reads and validates one export file. Its id is its path under
/// `exports_dir` without `.toml`, or its file stem when outside it.
pub fn load_export(settings: &Settings, exports_dir: &Path, file: &Path) -> LoadedExport {
    let id = export_id_for(exports_dir, file);
    let (sha256, result) = match std::fs::read(file) {
        Err(e) => {
            let unreadable = Located::whole_file(ErrorKind::Unreadable, file, read_error(&e));
            (None, Err(vec![unreadable]))
        }
        Ok(bytes) => {
            let sha = sha256_hex(&bytes);
            let result = match String::from_utf8(bytes) {
                Ok(src) => validate::export(&id, file, &src, settings),
                Err(_) => Err(vec![Located::whole_file(
                    ErrorKind::Unreadable,
                    file,
                    "not valid UTF-8",
                )]),
            };
            (Some(sha), result)
        }
    };
    LoadedExport {
        id,
        file: file.to_path_buf(),
        sha256,
        result,
    }
}

/// The export id of `file`: `exports/emea/vip.toml` → `emea/vip`.
pub fn export_id_for(exports_dir: &Path, file: &Path) -> String {
    if file.strip_prefix(exports_dir).is_err() {
        // `acsync check /abs/path/x.toml` with a relative --config-dir (or the
        // reverse): compare canonical paths so nested ids stay right.
        if let (Ok(d), Ok(f)) = (exports_dir.canonicalize(), file.canonicalize())
            && f.starts_with(&d)
        {
            return export_id_for(&d, &f);
        }
    }
    let rel = file.strip_prefix(exports_dir).unwrap_or(file);
    let rel = if rel == file {
        Path::new(file.file_name().unwrap_or(file.as_os_str()))
    } else {
        rel
    };
    let s = rel.with_extension("").to_string_lossy().replace('\\', "/");
    s.trim_start_matches('/').to_string()
}

/// Whether `path` names an export file: `*.toml`, not a dotfile, not an editor
/// dropping (`*~`, `#*#`, `*.swp`), never a status file.
pub fn is_export_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.ends_with(".toml") && !name.starts_with('.') && !name.starts_with('#') && name.len() > 5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_files() {
        assert!(is_export_file(Path::new("a/vip.toml")));
        assert!(!is_export_file(Path::new("a/.vip.toml")));
        assert!(!is_export_file(Path::new("a/vip.toml~")));
        assert!(!is_export_file(Path::new("a/vip.toml.swp")));
        assert!(!is_export_file(Path::new("a/vip.status.json")));
        assert!(!is_export_file(Path::new("a/#vip.toml#")));
        assert!(!is_export_file(Path::new("a/4913")));
    }

    #[test]
    fn ids() {
        let d = Path::new("/etc/acsync/exports");
        assert_eq!(
            export_id_for(d, Path::new("/etc/acsync/exports/emea/vip.toml")),
            "emea/vip"
        );
        assert_eq!(export_id_for(d, Path::new("/tmp/other.toml")), "other");
    }
}
