//! Reading the configuration folder: `acsync.toml` and every export file
//! under `exports/**` (following symlinks, skipping status files, dotfiles
//! and editor droppings). Loading never stops at the first bad file: each
//! export carries its own result, so one broken file never hides another.

use std::path::{Path, PathBuf};

use super::settings::Settings;
use super::validate::{self, sha256_hex};
use super::{ConfigError, Export, Located};

/// The loaded configuration folder.
#[derive(Debug, Clone)]
pub struct Folder {
    pub dir: PathBuf,
    pub settings: Settings,
    pub exports: Vec<LoadedExport>,
}

impl Folder {
    /// Every error in the folder: `acsync.toml` first, then exports by id.
    pub fn errors(&self) -> Vec<Located> {
        let mut all = self.settings.errors.clone();
        for e in &self.exports {
            if let Err(errs) = &e.result {
                all.extend(errs.iter().cloned());
            }
        }
        all
    }

    /// The export named `id`, or why it cannot be used.
    pub fn export(&self, id: &str) -> Result<&Export, ConfigError> {
        let found = self.exports.iter().find(|e| e.id == id);
        match found.map(|e| &e.result) {
            None => Err(ConfigError::NoSuchExport(id.to_string())),
            Some(Ok(export)) => Ok(export),
            Some(Err(errors)) => Err(ConfigError::Invalid(errors.clone())),
        }
    }
}

/// One export file, valid or not.
#[derive(Debug, Clone)]
pub struct LoadedExport {
    pub id: String,
    pub file: PathBuf,
    /// SHA-256 of the bytes read; `None` when the file could not be read.
    pub sha256: Option<String>,
    pub result: Result<Export, Vec<Located>>,
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
            s.errors.push(Located::whole_file(&file, read_error(&e)));
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

/// Loads the whole folder.
pub fn load_folder(config_dir: &Path) -> Folder {
    let settings = load_settings(config_dir);
    let dir = exports_dir(config_dir);
    let exports = list_export_files(&dir)
        .into_iter()
        .map(|file| load_export(&settings, &dir, &file))
        .collect();
    Folder {
        dir: config_dir.to_path_buf(),
        settings,
        exports,
    }
}

/// Reads and validates one export file. Its id is its path under
/// `exports_dir` without `.toml`, or its file stem when outside it.
pub fn load_export(settings: &Settings, exports_dir: &Path, file: &Path) -> LoadedExport {
    let id = export_id_for(exports_dir, file);
    let (sha256, result) = match std::fs::read(file) {
        Err(e) => (None, Err(vec![Located::whole_file(file, read_error(&e))])),
        Ok(bytes) => {
            let sha = sha256_hex(&bytes);
            let result = match String::from_utf8(bytes) {
                Ok(src) => validate::export(&id, file, &src, settings),
                Err(_) => Err(vec![Located::whole_file(file, "not valid UTF-8")]),
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

fn skip_dir(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_none_or(|n| n.starts_with('.'))
}

/// Every export file under `dir`, sorted, following symlinks. A missing
/// folder has no exports. Symlink loops are cut at a fixed depth.
pub fn list_export_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, 0, &mut out);
    out.sort();
    out
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    const MAX_DEPTH: usize = 16;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // metadata() follows symlinks: linked files and folders are exports too.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if depth < MAX_DEPTH && !skip_dir(&path) {
                walk(&path, depth + 1, out);
            }
        } else if meta.is_file() && is_export_file(&path) {
            out.push(path);
        }
    }
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
