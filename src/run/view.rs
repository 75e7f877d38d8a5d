//! The state database as the read-only commands (`plan`, `explain`) see it:
//! exactly the snapshot a run would take (the configuration folder checked,
//! rows of a moved export file or of 0.1 folded into the scope, an older
//! schema migrated), with nothing written. The database is opened
//! read-only; when the run's load would change it, the change is made in a
//! private copy that is thrown away (docs/commands.md: "nothing" is
//! literal).

use std::path::Path;

use tempfile::TempDir;

use super::error::RunError;
use super::prepare::Snapshot;
use crate::config::Export;
use crate::state::{self, StateDb};

/// The state a read-only command plans from.
pub struct StateView {
    db: Option<StateDb>,
    /// The private copy's folder, removed when the view is dropped (after
    /// `db`, which is declared first).
    _copy: Option<TempDir>,
}

impl StateView {
    /// Opens the view of `state_dir` for `export` of the folder `root`. A
    /// missing database is no record at all, and is not created.
    pub fn open(state_dir: &Path, root: &Path, export: &Export) -> Result<StateView, RunError> {
        if !state_dir.join(state::DB_FILE).exists() {
            return Ok(StateView {
                db: None,
                _copy: None,
            });
        }
        let db = StateDb::open_read_only(state_dir)?;
        let scope = state::scope_of(export);
        if !db.is_older_schema() {
            db.check_folder(root)?;
            if !db.fold_needed(&export.id, &scope)? {
                return Ok(StateView {
                    db: Some(db),
                    _copy: None,
                });
            }
        }
        let dir = tempfile::tempdir().map_err(|e| {
            RunError::Internal(format!("cannot make a private copy of the state: {e}"))
        })?;
        let mut copy = db.private_copy(dir.path())?;
        copy.claim_folder(root)?;
        copy.fold_into_scope(&export.id, &scope)?;
        Ok(StateView {
            db: Some(copy),
            _copy: Some(dir),
        })
    }

    /// The database, unless there is none.
    pub fn db(&self) -> Option<&StateDb> {
        self.db.as_ref()
    }

    /// The snapshot a run of `export` would take now.
    pub fn snapshot(&self, export: &Export, root: &Path) -> Result<Snapshot, RunError> {
        match &self.db {
            None => Ok(Snapshot::empty(export)),
            Some(db) => Snapshot::take_with_siblings(db, export, root),
        }
    }
}
