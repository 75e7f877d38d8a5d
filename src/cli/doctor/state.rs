//! The doctor's check of the state database: SQLite's `PRAGMA quick_check`
//! on a read-only handle ([`crate::state::damage::check`]), with the way
//! forward when it is damaged (docs/ownership.md, lost state).

use std::path::Path;

use crate::account_check::Finding;
use crate::state::DB_FILE;
use crate::state::damage::{self, Integrity, RESET_COMMAND};

/// The finding of the state database in `state_dir`.
pub fn finding(state_dir: &Path) -> Finding {
    let path = state_dir.join(DB_FILE);
    let scope = format!("state database {}", path.display());
    let check = "integrity";
    match damage::check(state_dir) {
        Ok(Integrity::Missing) => Finding::ok(&scope, check, "none yet: the first run creates it"),
        Ok(Integrity::Intact) => Finding::ok(&scope, check, "SQLite quick_check: ok"),
        Ok(Integrity::Damaged(why)) => Finding::fail(
            &scope,
            check,
            format!("damaged: {why}"),
            &format!(
                "move it aside (it is kept) and adopt the lists again: `{RESET_COMMAND}` (docs/ownership.md, lost state)"
            ),
        ),
        Err(e) => Finding::warn(
            &scope,
            check,
            format!("not checked: {e}"),
            "let the user running acsync read state_dir",
        ),
    }
}
