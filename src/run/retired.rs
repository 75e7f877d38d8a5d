//! Deleted exports (docs/ownership.md, "Deleting an export"). An export
//! with a record in the state database whose file is no longer in the
//! configuration folder is *retired*: what it wanted on its list stays
//! wanted (`plan::RetiredWishes`), so no other export of the list
//! unsubscribes it, until `acsync release NAME` drops the record. A file of
//! the same bytes under another name is the export moved or renamed: it
//! takes the record over when it runs, silently. An invalid file still
//! exists: it is a sibling (`shared`), never retired.

use std::path::PathBuf;

use crate::config::{Export, Folder};
use crate::plan::{OwnedUntil, RetiredWishes};
use crate::state::{self, LockError, RecordedExport, StateDb, StateError, Wanted};

/// The deleted exports of a list, as one export's run sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retired {
    pub wishes: RetiredWishes,
    /// Records this export takes over: deleted exports whose file had its
    /// bytes (it is that file, moved or renamed). Forgotten by its run.
    pub taken_over: Vec<String>,
}

/// The retired exports on `scope` from `export`'s point of view, given
/// every recorded export (in id order) and the wanted rows of the exports
/// other than `export` on `scope`.
pub fn scan(
    folder: &Folder,
    export: &Export,
    scope: &str,
    recorded: &[RecordedExport],
    rows: &[Wanted],
) -> Retired {
    let mut out = Retired::default();
    let deleted = recorded.iter().filter(|r| {
        r.export != export.id
            && r.scope.as_deref() == Some(scope)
            && !folder.exports.iter().any(|e| e.id == r.export)
    });
    for r in deleted {
        if r.config_sha256.as_deref() == Some(export.sha256.as_str()) {
            out.taken_over.push(r.export.clone());
            continue;
        }
        let mut recorded_rows = false;
        for row in rows.iter().filter(|w| w.export == r.export) {
            recorded_rows = true;
            out.wishes
                .wanted
                .entry(row.email.clone())
                .or_insert_with(|| r.export.clone());
        }
        if !recorded_rows {
            out.wishes.owned_until.push(OwnedUntil {
                export: r.export.clone(),
                until: r.last_run_end.map(|t| t.timestamp()),
            });
        }
    }
    out
}

/// Why `acsync release NAME` released nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(
        "export `{name}` still has its file {}: only a deleted export is released (a moved or renamed file takes its record over by itself)",
        file.display()
    )]
    StillThere { name: String, file: PathBuf },
    #[error("no deleted export `{0}` is recorded in the state database: nothing to release")]
    NotRecorded(String),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// A released export: the scope whose members it no longer holds back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    pub export: String,
    pub scope: Option<String>,
}

/// `acsync release NAME`: forgets the record of the deleted export `name`
/// (and what it wanted on its list), so the list's other exports manage
/// its members as their own from their next run on. Refused while the
/// folder holds a file of that name, and for a state another folder owns.
pub fn release(folder: &Folder, name: &str) -> Result<Released, ReleaseError> {
    let file = crate::config::exports_dir(&folder.dir).join(format!("{name}.toml"));
    let listed = folder.exports.iter().find(|e| e.id == name);
    if let Some(file) = listed
        .map(|e| e.file.clone())
        .or(file.exists().then_some(file))
    {
        return Err(ReleaseError::StillThere {
            name: name.to_string(),
            file,
        });
    }
    let state_dir = &folder.settings.daemon.state_dir;
    if !state_dir.join(state::DB_FILE).exists() {
        return Err(ReleaseError::NotRecorded(name.to_string()));
    }
    let mut db = StateDb::open(state_dir)?;
    db.check_folder(&folder.dir)?;
    let _lock = state::lock_export(state_dir, name)?;
    let scope = db
        .recorded_exports()?
        .into_iter()
        .find(|r| r.export == name)
        .ok_or_else(|| ReleaseError::NotRecorded(name.to_string()))?
        .scope;
    db.forget_export(name)?;
    Ok(Released {
        export: name.to_string(),
        scope,
    })
}
