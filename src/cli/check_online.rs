//! `acsync check --online`: loads the folder, picks the valid exports among
//! the named files and hands them to [`crate::account_check::online`].

use std::path::{Path, PathBuf};

use crate::config::{self, Located};
use crate::run::{Runner, RunnerPaths};

/// The problems found online in the named export files (every valid export
/// when `files` is empty). Exports with offline errors are not asked about.
pub fn errors(config_dir: &Path, files: &[PathBuf]) -> anyhow::Result<Vec<Located>> {
    let folder = config::load_folder(config_dir);
    let exports = folder.valid_exports_of(files);
    if exports.is_empty() {
        return Ok(Vec::new());
    }
    let runner = Runner::new(RunnerPaths::new(config_dir, &folder.settings.daemon));
    let rt = super::runtime()?;
    Ok(rt.block_on(crate::account_check::online::errors(&runner, &exports)))
}
