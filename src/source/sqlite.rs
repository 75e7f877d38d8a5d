//! SQLite segments: a query over a database file, opened read-only.
//!
//! Two locks keep the query from writing: the file is opened with
//! `SQLITE_OPEN_READ_ONLY` (SQLite refuses any write to it, or to anything it
//! attaches), and `PRAGMA query_only` refuses statements that would change
//! data even where the flag does not reach (a temp table, say). rusqlite
//! refuses more than one statement, so a `;` cannot sneak a second one in.
//!
//! The query's columns are checked against `[mapping]` once prepared, before
//! any row is read. Rows are stepped one at a time into the builder; row
//! numbers are 1-based result rows. Values: INTEGER as decimal, REAL as the
//! shortest round-trip decimal, TEXT as is (trimmed; empty → not sent), NULL
//! not sent. A BLOB in a mapped column makes that row invalid (reported with
//! the column's name), since SQLite types values, not columns: the other rows
//! may be fine.

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::value::float_text;
use super::{PROGRESS_EVERY, Projection, SourceError, find_column};
use crate::config::Mapping;
use crate::segment::{Segment, SegmentBuilder, clean_value};

/// How long to wait for a writer holding the file's lock (rollback-journal
/// databases) before failing the run.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) fn read_path(
    path: &Path,
    query: &str,
    mapping: &Mapping,
    mut builder: SegmentBuilder,
    progress: &mut dyn FnMut(u64),
) -> Result<Segment, SourceError> {
    let conn = open(path)?;
    let err = |source| SourceError::Sqlite {
        path: path.into(),
        source,
    };
    let mut stmt = conn.prepare(query).map_err(err)?;
    let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
    let proj = Projection::resolve(mapping, |column| {
        find_column(names.iter().map(String::as_str), column).ok_or_else(|| {
            SourceError::QueryColumn {
                column: column.to_owned(),
                origin: path.display().to_string(),
                found: names.clone(),
            }
        })
    })?;
    let mut rows = stmt.raw_query();
    let mut row_no = 0u64;
    while let Some(row) = rows.next().map_err(err)? {
        row_no += 1;
        proj.push(&mut builder, row_no, &mut |&i: &usize| {
            let value = row.get_ref(i).map_err(|e| e.to_string())?;
            text(value, &names[i])
        });
        if row_no.is_multiple_of(PROGRESS_EVERY) {
            progress(row_no);
        }
    }
    Ok(builder.finish())
}

/// Opens the file read-only. A missing or unreadable file is reported as
/// such (SQLite would only say "unable to open database file").
fn open(path: &Path) -> Result<Connection, SourceError> {
    std::fs::File::open(path).map_err(|source| SourceError::Io {
        path: path.into(),
        source,
    })?;
    let err = |source| SourceError::Sqlite {
        path: path.into(),
        source,
    };
    // NO_MUTEX: the connection never leaves this thread. No URI flag: the
    // configured path is a file name, never `file:...?mode=rwc`.
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(err)?;
    conn.pragma_update(None, "query_only", true).map_err(err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
    Ok(conn)
}

/// The field text of one SQLite value (see the module doc).
fn text<'v>(value: ValueRef<'v>, column: &str) -> Result<Option<Cow<'v, str>>, String> {
    match value {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(i) => Ok(Some(Cow::Owned(i.to_string()))),
        ValueRef::Real(f) => Ok(Some(Cow::Owned(float_text(f)))),
        ValueRef::Text(b) => match std::str::from_utf8(b) {
            Ok(s) => Ok(clean_value(s).map(Cow::Borrowed)),
            Err(_) => Err(format!("column {column:?} is not valid UTF-8")),
        },
        ValueRef::Blob(_) => Err(format!(
            "column {column:?} holds a BLOB; cast it in the query (CAST({column} AS TEXT))"
        )),
    }
}
