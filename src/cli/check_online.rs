//! `acsync check --online`: asks [`crate::account_check::online`] about
//! the valid exports `check` picked.

use crate::config::{Export, Folder, Located};
use crate::run::{Runner, RunnerPaths};

/// The problems found online in `exports`, of `folder`.
pub fn errors(folder: &Folder, exports: &[&Export]) -> anyhow::Result<Vec<Located>> {
    if exports.is_empty() {
        return Ok(Vec::new());
    }
    let runner = Runner::new(RunnerPaths::new(&folder.dir, &folder.settings.daemon));
    let rt = super::runtime()?;
    Ok(rt.block_on(crate::account_check::online::errors(&runner, exports)))
}
