//! `acsync check`: validate the folder (or only the named files) and print
//! every problem as `FILE:LINE:COL: message`. Used by `ExecStartPre=`,
//! `ExecReload=` and CI over a configuration repository.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::{self, Located};

/// Runs the check; exit 0 when everything named is valid, 1 otherwise.
pub fn run(config_dir: &Path, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let (errors, checked) = if files.is_empty() {
        let folder = config::load_folder(config_dir);
        (folder.errors(), folder.exports.len())
    } else {
        (check_files(config_dir, files), files.len())
    };
    for e in &errors {
        println!("{e}");
    }
    // Files other users can read: a warning line each, the check still passes.
    for w in config::perms::warnings(&config::load_settings(config_dir)) {
        eprintln!("acsync check: warning: {w}");
    }
    if errors.is_empty() {
        eprintln!("acsync check: {checked} export file(s) valid");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("acsync check: {} error(s)", errors.len());
        Ok(ExitCode::from(1))
    }
}

/// Errors of the named files only; `acsync.toml` is read for connections
/// and reported only when it is one of the named files.
pub fn check_files(config_dir: &Path, files: &[PathBuf]) -> Vec<Located> {
    let settings = config::load_settings(config_dir);
    let exports_dir = config::exports_dir(config_dir);
    let mut errors = Vec::new();
    for file in files {
        if file.file_name().is_some_and(|n| n == "acsync.toml") {
            let s = config::load_settings(file.parent().unwrap_or(config_dir));
            errors.extend(s.errors);
            continue;
        }
        if let Err(errs) = config::load_export(&settings, &exports_dir, file).result {
            errors.extend(errs);
        }
    }
    errors
}
