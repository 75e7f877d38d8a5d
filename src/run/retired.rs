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

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::super::shared;
    use super::*;

    const SETTINGS: &str = "[daemon]\nstate_dir = \"state\"\n[connections.prod]\nurl = \"https://acme.api-us1.com\"\n\
                            api_key_env = \"X\"\naccept_data_transfer = true\n";
    const B: &str = "connection = \"prod\"\nlist_id = 1\nschedule = \"@daily\"\n\
                     [source]\nkind = \"csv\"\npath = \"b.csv\"\n[mapping]\nemail = \"email\"\n";

    fn folder() -> (tempfile::TempDir, Folder) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("exports")).expect("mkdir");
        std::fs::write(dir.path().join("acsync.toml"), SETTINGS).expect("write");
        std::fs::write(dir.path().join("exports/b.toml"), B).expect("write");
        std::fs::write(dir.path().join("exports/broken.toml"), "list_id = ").expect("write");
        let f = crate::config::load_folder(dir.path());
        (dir, f)
    }

    fn recorded(export: &str, scope: &str, sha: &str, end: Option<i64>) -> RecordedExport {
        RecordedExport {
            export: export.into(),
            scope: Some(scope.into()),
            config_sha256: Some(sha.into()),
            last_run_end: end.and_then(|s| Utc.timestamp_opt(s, 0).single()),
        }
    }

    fn row(export: &str, email: &str) -> Wanted {
        Wanted {
            export: export.into(),
            email: email.into(),
            hash: 1,
        }
    }

    #[test]
    fn deleted_exports_of_the_list_are_retired_and_a_file_of_their_bytes_takes_one_over() {
        let (_dir, f) = folder();
        let b = f.export("b").expect("b is valid").clone();
        let scope = crate::state::scope_of(&b);
        let recorded = [
            recorded("a-shared", &scope, "aa", Some(100)),
            recorded("alone", &scope, "cc", Some(200)),
            recorded("alone-killed", &scope, "dd", None),
            recorded("b", &scope, &b.sha256, Some(300)),
            recorded("broken", &scope, "ee", Some(300)),
            recorded("elsewhere", "other.api-us1.com#list=1", "ff", Some(300)),
            recorded("moved", &scope, &b.sha256, Some(300)),
        ];
        let rows = [
            row("a-shared", "x@x.io"),
            row("broken", "y@x.io"),
            row("moved", "z@x.io"),
        ];
        let r = scan(&f, &b, &scope, &recorded, &rows);
        assert_eq!(r.taken_over, ["moved"]);
        let wanted: Vec<(&str, &str)> = r
            .wishes
            .wanted
            .iter()
            .map(|(e, x)| (e.as_str(), x.as_str()))
            .collect();
        assert_eq!(wanted, [("x@x.io", "a-shared")], "not broken's: it exists");
        let alone = |export: &str, until| OwnedUntil {
            export: export.into(),
            until,
        };
        assert_eq!(
            r.wishes.owned_until,
            [alone("alone", Some(200)), alone("alone-killed", None)]
        );
    }

    /// An invalid file that last ran on the list, even alone, is a silent
    /// sibling (its wishes are unknown: removals wait), never retired.
    #[test]
    fn an_invalid_file_that_ran_on_the_list_is_a_sibling_not_retired() {
        let (_dir, f) = folder();
        let b = f.export("b").expect("b is valid").clone();
        let scope = crate::state::scope_of(&b);
        let here = [recorded("broken", &scope, "ee", Some(300))];
        let siblings = shared::siblings(&f, &b, &scope, &[], &here);
        assert_eq!(siblings, ["broken"]);
        let o = shared::others(&b.id, &siblings, Vec::new());
        assert!(o.hold_removals.is_some_and(|h| h.contains("`broken`")));
        assert_eq!(scan(&f, &b, &scope, &here, &[]), Retired::default());
        let elsewhere = [recorded("broken", "other#list=1", "ee", Some(300))];
        let siblings = shared::siblings(&f, &b, &scope, &[], &elsewhere);
        assert!(siblings.is_empty(), "it never ran on this list");
    }

    #[test]
    fn release_refuses_an_export_whose_file_exists_even_invalid() {
        let (_dir, f) = folder();
        for name in ["b", "broken"] {
            let e = release(&f, name).expect_err("its file exists");
            assert!(matches!(e, ReleaseError::StillThere { .. }), "{e}");
        }
        let e = release(&f, "gone").expect_err("no state at all");
        assert!(matches!(e, ReleaseError::NotRecorded(_)), "{e}");
    }
}
