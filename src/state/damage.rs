//! A damaged state database (a garbage header, a file cut short): how it is
//! recognised, how `acsync doctor` checks for it, and how
//! `acsync state reset` moves it aside, kept under a timestamped name (see
//! docs/ownership.md, lost state).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::ErrorCode;

use super::{DB_FILE, StateDb, StateError};

/// The command that moves a damaged database aside and adopts the lists
/// again; every error about damage names it.
pub const RESET_COMMAND: &str = "acsync state reset --adopt";

/// Whether SQLite says the file is not a database or is malformed (as
/// opposed to busy, read-only or missing).
pub fn is_damage(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// What `PRAGMA quick_check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integrity {
    /// No database yet (no run has written one).
    Missing,
    Intact,
    /// SQLite's own words.
    Damaged(String),
}

/// Checks `state_dir/state.sqlite3` read-only with `PRAGMA quick_check`
/// (the structure of every page and row; the index contents are left to a
/// full `integrity_check`, which a big database takes much longer over).
/// Errors other than damage (no permission, say) are returned.
pub fn check(state_dir: &Path) -> Result<Integrity, StateError> {
    if !state_dir.join(DB_FILE).exists() {
        return Ok(Integrity::Missing);
    }
    let db = match StateDb::open_read_only(state_dir) {
        Ok(db) => db,
        Err(StateError::Damaged { cause, .. }) => return Ok(Integrity::Damaged(cause)),
        Err(e) => return Err(e),
    };
    match db.pragma_check("quick_check") {
        Ok(problems) if problems == ["ok"] => Ok(Integrity::Intact),
        Ok(problems) => Ok(Integrity::Damaged(problems.join("; "))),
        Err(StateError::Damaged { cause, .. }) => Ok(Integrity::Damaged(cause)),
        Err(e) => Err(e),
    }
}

/// Renames the database and its `-wal` and `-shm` files to
/// `state.sqlite3.damaged-YYYYMMDDTHHMMSSZ` (and `…-wal`, `…-shm`), so the
/// next run starts a blank one and nothing is lost. The new name of the
/// database. A missing database is an error: there is nothing to reset.
pub fn move_aside(state_dir: &Path, now: DateTime<Utc>) -> Result<PathBuf, StateError> {
    let db = state_dir.join(DB_FILE);
    let kept = state_dir.join(format!(
        "{DB_FILE}.damaged-{}",
        now.format("%Y%m%dT%H%M%SZ")
    ));
    let rename = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|cause| StateError::MoveAside {
            path: from.to_owned(),
            cause,
        })
    };
    rename(&db, &kept)?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", db.display()));
        if side.exists() {
            rename(&side, &PathBuf::from(format!("{}{suffix}", kept.display())))?;
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(dir: &Path) -> PathBuf {
        let mut db = StateDb::open(dir).expect("open");
        db.set_export_meta(
            "vip",
            &super::super::ExportMeta {
                fingerprint: "f".into(),
                last_full_read: None,
                config_sha256: None,
                ..Default::default()
            },
        )
        .expect("write");
        dir.join(DB_FILE)
    }

    #[test]
    fn a_garbage_header_is_damage_that_names_the_file_and_the_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = written(dir.path());
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[..16].copy_from_slice(b"not a database!!");
        std::fs::write(&path, bytes).expect("write");
        let e = StateDb::open(dir.path()).expect_err("damaged");
        let shown = e.to_string();
        assert!(matches!(e, StateError::Damaged { .. }), "{e:?}");
        assert!(shown.contains(&path.display().to_string()), "{shown}");
        assert!(shown.contains(RESET_COMMAND), "{shown}");
        assert!(matches!(check(dir.path()), Ok(Integrity::Damaged(_))));
    }

    #[test]
    fn an_intact_or_missing_database_checks_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(check(dir.path()).expect("check"), Integrity::Missing);
        written(dir.path());
        assert_eq!(check(dir.path()).expect("check"), Integrity::Intact);
    }

    #[test]
    fn moving_aside_keeps_the_file_under_a_timestamped_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = written(dir.path());
        let before = std::fs::read(&path).expect("read");
        let at = DateTime::parse_from_rfc3339("2026-12-06T22:30:05Z")
            .expect("time")
            .to_utc();
        let kept = move_aside(dir.path(), at).expect("moved");
        assert_eq!(
            kept.file_name().and_then(|n| n.to_str()),
            Some("state.sqlite3.damaged-20261206T223005Z")
        );
        assert!(!path.exists());
        assert_eq!(std::fs::read(&kept).expect("kept"), before);
        assert!(move_aside(dir.path(), at).is_err(), "nothing left to move");
    }
}
