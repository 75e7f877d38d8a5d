//! The local state database: what each export knows about its list's members
//! (ownership, last-sent hashes, pending intents), per-export metadata, and the
//! run journal. Only this module opens `state_dir/state.sqlite3`.
//!
//! The API is synchronous: callers on the async side use `spawn_blocking`.
//! Every write is one transaction, and the database runs in WAL mode with
//! `synchronous=FULL`, so a commit that returned survives a power loss
//! (docs/run-rules.md, crash safety). The daemon and `acsync sync` may open the database at the
//! same time; a busy timeout lets one wait for the other's short writes, and
//! [`lock_export`] keeps them from running the same export at once.
//!
//! No secret ever enters this database: the stored types hold emails, ids,
//! flags and hashes only.

mod batches;
pub mod damage;
pub mod history;
mod lock;
mod members;
mod recorded;
mod runs;
mod schema;
mod scope;
mod wanted;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

pub use batches::{JournalStep, OpenBatch, UNACKNOWLEDGED};
pub use history::{ChangeKind, HistoryEntry, NewEntry, RunEntries};
use lock::create_private_dir;
pub use lock::{ExportLock, LockError, lock_export};
pub use recorded::RecordedExport;
pub use scope::{account_key, scope_of, scope_of_fingerprint};
pub use wanted::Wanted;

/// The database file inside `state_dir`.
pub const DB_FILE: &str = "state.sqlite3";

/// How long a writer waits for the other process's transaction. Our
/// transactions are short (one batch of 250 rows, or one full-read replace),
/// so a long wait means something is wrong, not merely busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// An error of the state database. Each names the file; the message includes
/// the underlying cause, so print it with `{}`.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot create state directory {}: {cause}", path.display())]
    CreateDir {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("cannot make state database {} private (mode 0600): {cause}", path.display())]
    Private {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("state database {}: {cause}", path.display())]
    Sqlite {
        path: PathBuf,
        cause: rusqlite::Error,
    },
    #[error(
        "state database {} has schema version {found}, newer than this acsync supports ({supported}); upgrade acsync",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error(
        "state database {} belongs to the configuration folder {}, which still exists; {} must use its own state_dir (two folders on one state would mix up which export owns which contact)",
        path.display(), recorded.display(), this.display()
    )]
    OtherFolder {
        path: PathBuf,
        recorded: PathBuf,
        this: PathBuf,
    },
    #[error(
        "state database {} is damaged ({cause}); acsync cannot read what it owns from it. Move it aside (it is kept) and adopt the lists again: `{}` (docs/ownership.md, lost state)",
        path.display(), damage::RESET_COMMAND
    )]
    Damaged { path: PathBuf, cause: String },
    #[error("cannot move the state database {} aside: {cause}", path.display())]
    MoveAside {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "state database {} is corrupt: {detail}; move it aside (it is kept) and adopt the lists again: `{}` (docs/ownership.md, lost state)",
        path.display(), damage::RESET_COMMAND
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error("state database {}: no unfinished run with id {run_id}", path.display())]
    UnknownRun { path: PathBuf, run_id: i64 },
}

/// Attaches the database path to a rusqlite error.
trait At<T> {
    fn at(self, path: &Path) -> Result<T, StateError>;
}

impl<T> At<T> for Result<T, rusqlite::Error> {
    fn at(self, path: &Path) -> Result<T, StateError> {
        self.map_err(|cause| sqlite_error(path, cause))
    }
}

/// A rusqlite error at `path`; a damaged file says what to do about it.
fn sqlite_error(path: &Path, cause: rusqlite::Error) -> StateError {
    let path = path.to_owned();
    if damage::is_damage(&cause) {
        return StateError::Damaged {
            path,
            cause: cause.to_string(),
        };
    }
    StateError::Sqlite { path, cause }
}

fn corrupt(path: &Path, detail: impl Into<String>) -> StateError {
    StateError::Corrupt {
        path: path.to_owned(),
        detail: detail.into(),
    }
}

/// What we remember about an export between runs, besides its members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportMeta {
    /// Identifies the list the members belong to (e.g. connection and list
    /// id); a change means the stored members describe another list.
    pub fingerprint: String,
    /// When the list was last read in full.
    pub last_full_read: Option<DateTime<Utc>>,
    /// The SHA-256 of the export's file at its last run: a file of the same
    /// bytes under another name is this export moved (see `run::retired`).
    pub config_sha256: Option<String>,
    /// When the last read of the list began, full or drift check: what a
    /// drift check asks ActiveCampaign about is what changed since.
    pub last_check: Option<DateTime<Utc>>,
    /// A drift check's proof disagreed: the next run reads in full, and
    /// says this.
    pub read_in_full_because: Option<String>,
}

/// The target part of [`ExportMeta::fingerprint`]: the export's scope
/// (account and list, see [`scope_of`]). The connection's name is left
/// out, so renaming it loses nothing.
pub fn list_fingerprint(export: &crate::config::Export) -> String {
    scope_of(export)
}

/// An open state database. `Send`, not `Sync`: move it into `spawn_blocking`.
#[derive(Debug)]
pub struct StateDb {
    conn: Connection,
    path: PathBuf,
    /// The schema version: [`schema::LATEST`] but for a database opened
    /// read-only before a run upgraded it.
    version: i64,
}

impl StateDb {
    /// Opens (creating if needed) `state_dir/state.sqlite3`, creating
    /// `state_dir` with mode 0700 when missing, and migrates its schema.
    pub fn open(state_dir: &Path) -> Result<StateDb, StateError> {
        create_private_dir(state_dir).map_err(|cause| StateError::CreateDir {
            path: state_dir.to_owned(),
            cause,
        })?;
        let path = state_dir.join(DB_FILE);
        lock::make_private(&path).map_err(|cause| StateError::Private {
            path: path.clone(),
            cause,
        })?;
        let mut conn = Connection::open(&path).at(&path)?;
        configure(&conn).at(&path)?;
        schema::migrate(&mut conn).map_err(|e| match e {
            schema::MigrateError::TooNew { found } => StateError::TooNew {
                path: path.clone(),
                found,
                supported: schema::LATEST,
            },
            schema::MigrateError::Sqlite(cause) => sqlite_error(&path, cause),
        })?;
        Ok(StateDb {
            conn,
            path,
            version: schema::LATEST,
        })
    }

    /// Opens `state_dir/state.sqlite3` for reading only, for the commands
    /// that show what is recorded: nothing is created, migrated or written,
    /// so it works on a file the user may only read, and beside a running
    /// daemon (its WAL is read as any reader reads it). Every write through
    /// it fails. An older schema is read as it is (the next run upgrades
    /// it): what it predates reads as empty (no run history before
    /// version 3). A missing file is an error.
    pub fn open_read_only(state_dir: &Path) -> Result<StateDb, StateError> {
        let path = state_dir.join(DB_FILE);
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).at(&path)?;
        conn.busy_timeout(BUSY_TIMEOUT).at(&path)?;
        let found: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .at(&path)?;
        if found > schema::LATEST {
            return Err(StateError::TooNew {
                path,
                found,
                supported: schema::LATEST,
            });
        }
        Ok(StateDb {
            conn,
            path,
            version: found,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What we remember about `export`, or `None` before its first run.
    pub fn export_meta(&self, export: &str) -> Result<Option<ExportMeta>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(&self.select_exports("WHERE export = ?1"))
            .at(&self.path)?;
        let row = stmt
            .query_row([export], |r| {
                Ok((
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .optional()
            .at(&self.path)?;
        let Some((fingerprint, last, config_sha256, check, because)) = row else {
            return Ok(None);
        };
        let time = |column: &str, value: Option<String>| match value {
            Some(s) => parse_ts(&s)
                .map(Some)
                .ok_or_else(|| corrupt(&self.path, format!("bad {column} `{s}` for `{export}`"))),
            None => Ok(None),
        };
        Ok(Some(ExportMeta {
            fingerprint,
            last_full_read: time("last_full_read", last)?,
            config_sha256,
            last_check: time("last_check", check)?,
            read_in_full_because: because,
        }))
    }

    /// `SELECT export, fingerprint, last_full_read, config_sha256,
    /// last_check, read_in_full_because FROM exports` and `rest`; a column a
    /// schema opened read-only does not have yet reads as NULL.
    fn select_exports(&self, rest: &str) -> String {
        let since = |version: i64, column: &'static str| match self.version < version {
            true => "NULL",
            false => column,
        };
        format!(
            "SELECT export, fingerprint, last_full_read, {}, {}, {} FROM exports {rest}",
            since(schema::CONFIG_SHA, "config_sha256"),
            since(schema::DRIFT_CHECK, "last_check"),
            since(schema::DRIFT_CHECK, "read_in_full_because"),
        )
    }

    /// Records `meta` for `export`, replacing what was there.
    pub fn set_export_meta(&mut self, export: &str, meta: &ExportMeta) -> Result<(), StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO exports (export, fingerprint, last_full_read, config_sha256,
                                      last_check, read_in_full_because)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (export) DO UPDATE SET
                   fingerprint = excluded.fingerprint, last_full_read = excluded.last_full_read,
                   config_sha256 = excluded.config_sha256, last_check = excluded.last_check,
                   read_in_full_because = excluded.read_in_full_because",
            )
            .at(&self.path)?;
        let last = meta.last_full_read.map(fmt_ts);
        let check = meta.last_check.map(fmt_ts);
        stmt.execute(params![
            export,
            meta.fingerprint,
            last,
            meta.config_sha256,
            check,
            meta.read_in_full_because
        ])
        .at(&self.path)?;
        Ok(())
    }

    /// Claims this state for the configuration folder `root` (docs/ownership.md: two
    /// folders on one `state_dir` are kept apart). The first folder to run
    /// is recorded; another folder is refused while the recorded one still
    /// has an `acsync.toml`. A folder that moved (the recorded one is gone)
    /// takes the state over.
    pub fn claim_folder(&mut self, root: &Path) -> Result<(), StateError> {
        let this = self.check_folder(root)?;
        self.conn
            .execute(
                "INSERT INTO settings (key, value) VALUES ('config_folder', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value
                 WHERE value IS NOT excluded.value",
                [this.to_string_lossy()],
            )
            .at(&self.path)?;
        Ok(())
    }

    /// Whether the configuration folder `root` may use this state (see
    /// [`StateDb::claim_folder`]), without recording it: its canonical path.
    pub fn check_folder(&self, root: &Path) -> Result<PathBuf, StateError> {
        let this = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
        let recorded: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM settings WHERE key = 'config_folder'",
                [],
                |r| r.get(0),
            )
            .optional()
            .at(&self.path)?;
        if let Some(recorded) = recorded.map(PathBuf::from)
            && recorded != this
            && recorded.join("acsync.toml").exists()
        {
            return Err(StateError::OtherFolder {
                path: self.path.clone(),
                recorded,
                this,
            });
        }
        Ok(this)
    }

    /// Whether the schema predates this build's (opened read-only before a
    /// run upgraded it).
    pub fn is_older_schema(&self) -> bool {
        self.version < schema::LATEST
    }

    /// A private, writable copy of this database in `dir`, opened (and
    /// migrated) as a run opens it. `VACUUM INTO` copies a consistent
    /// snapshot, also beside a running writer and from a read-only handle:
    /// whatever a read-only command does to the copy is thrown away.
    pub fn private_copy(&self, dir: &Path) -> Result<StateDb, StateError> {
        let copy = dir.join(DB_FILE);
        self.conn
            .execute("VACUUM INTO ?1", [copy.to_string_lossy()])
            .at(&self.path)?;
        StateDb::open(dir)
    }

    /// Runs `PRAGMA integrity_check`; anything but `ok` is [`StateError::Corrupt`].
    pub fn integrity_check(&self) -> Result<(), StateError> {
        let problems = self.pragma_check("integrity_check")?;
        match problems.as_slice() {
            [ok] if ok == "ok" => Ok(()),
            _ => Err(corrupt(&self.path, problems.join("; "))),
        }
    }

    /// The rows of `PRAGMA check` (`integrity_check` or `quick_check`):
    /// `["ok"]` or the problems found.
    fn pragma_check(&self, check: &str) -> Result<Vec<String>, StateError> {
        let mut stmt = self
            .conn
            .prepare(&format!("PRAGMA {check}"))
            .at(&self.path)?;
        stmt.query_map([], |r| r.get::<_, String>(0))
            .at(&self.path)?
            .collect::<Result<_, _>>()
            .at(&self.path)
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // The busy timeout first: switching to WAL itself needs a lock.
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        // Only in-memory or exotic file systems refuse WAL; FULL sync keeps
        // the rollback journal just as durable, so carry on.
        tracing::warn!(journal_mode = %mode, "state database is not in WAL mode");
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(())
}

/// Timestamps are stored as RFC 3339 text in UTC: readable with the sqlite3
/// shell, and ordered as strings.
fn fmt_ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests;
