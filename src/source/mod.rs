//! Segment sources: each kind reads its rows, streamed, into a
//! [`SegmentBuilder`]; nothing else in the crate knows a file format. This
//! module owns the dispatch, the error type and the [`Projection`] shared by
//! every reader (which column feeds which ActiveCampaign field).
//!
//! SPEC §4 rule 5: "A source that cannot be read fails the run and touches
//! nothing." A source that can be read but holds bad rows does not fail: each
//! bad row is counted and reported as invalid.

mod csv;
mod jsonl;
mod pg_conn;
mod postgres;
mod sqlite;
mod value;

use std::path::PathBuf;

use crate::config::{Mapping, Source};
use crate::model::Fields;
use crate::segment::{Segment, SegmentBuilder};

pub use self::csv::read_csv;
pub use self::jsonl::read_jsonl;

/// How often (in rows) [`read_with_progress`] reports.
pub const PROGRESS_EVERY: u64 = 10_000;

/// Why a segment could not be read at all. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file is missing or unreadable: the run fails and touches nothing.
    #[error("cannot read segment {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A `[mapping]` column is not in the CSV header; found before any row is read.
    #[error("segment {}: column {column:?} from [mapping] is not in the header", file.display())]
    MissingColumn { column: String, file: PathBuf },
    /// The CSV reader failed in a way that is not one bad row.
    #[error("segment {}: {source}", path.display())]
    Csv { path: PathBuf, source: ::csv::Error },
    /// A `[mapping]` column is not among a SQL query's result columns;
    /// found before any row is read. `origin` names the file or variable.
    #[error(
        "segment {origin}: column {column:?} from [mapping] is not among the query's columns ({})",
        column_list(found)
    )]
    QueryColumn {
        column: String,
        origin: String,
        found: Vec<String>,
    },
    /// A mapped column has a PostgreSQL type with no text form here (bytea,
    /// arrays, intervals...); found before any row is read.
    #[error(
        "segment {origin}: column {column:?} has type {type_name}, which acsync does not read; cast it in the query (e.g. {column}::text)"
    )]
    ColumnType {
        column: String,
        origin: String,
        type_name: String,
    },
    /// SQLite refused the file or the query (syntax, a write, a locked file).
    #[error("segment {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// The variable meant to hold the PostgreSQL connection string is unset
    /// or unusable. Never shows the value: it may hold a password.
    #[error("segment postgres: environment variable {var} {problem}")]
    UrlEnv { var: String, problem: String },
    /// PostgreSQL failed at `stage` (connecting, the query, reading rows).
    /// `message` has been scrubbed of the connection string and password.
    #[error("segment postgres (${var}): {stage}: {message}")]
    Postgres {
        var: String,
        stage: &'static str,
        message: String,
    },
    /// The query ran past the export's `statement_timeout` and was cancelled.
    #[error(
        "segment postgres (${var}): the query ran longer than statement_timeout ({timeout}) and was cancelled; raise `statement_timeout` in [source] or speed the query up"
    )]
    Timeout { var: String, timeout: String },
    /// The reader thread panicked or was cancelled (a bug, or shutdown).
    #[error("segment reader stopped: {0}")]
    Stopped(String),
    /// A kind that needs the async reader ([`read_async`]) given to [`read`].
    #[error("source kind {kind:?} is read with source::read_async")]
    Unsupported { kind: &'static str },
}

fn column_list(found: &[String]) -> String {
    if found.is_empty() {
        "it returns none".into()
    } else {
        found.join(", ")
    }
}

/// Reads the whole segment of an export: file kinds on a blocking thread,
/// PostgreSQL on the runtime (its driver is async). What a run calls.
pub async fn read_async(source: &Source, mapping: &Mapping) -> Result<Segment, SourceError> {
    if let Source::Postgres {
        url_env,
        query,
        statement_timeout,
    } = source
    {
        return postgres::read(url_env, query, *statement_timeout, mapping, &mut |_| {}).await;
    }
    let (src, mapping) = (source.clone(), mapping.clone());
    (tokio::task::spawn_blocking(move || read(&src, &mapping)).await)
        .unwrap_or_else(|e| Err(SourceError::Stopped(e.to_string())))
}

/// Reads the whole segment of an export from a file (every kind but
/// `postgres`, which [`read_async`] reads). Blocking.
pub fn read(source: &Source, mapping: &Mapping) -> Result<Segment, SourceError> {
    read_with_progress(source, mapping, &mut |_| {})
}

/// [`read`], calling `progress(rows so far)` every [`PROGRESS_EVERY`] rows
/// (for the progress bar of `sync` and `plan` on a terminal).
pub fn read_with_progress(
    source: &Source,
    mapping: &Mapping,
    progress: &mut dyn FnMut(u64),
) -> Result<Segment, SourceError> {
    match source {
        Source::Csv { path } => csv::read_path(path, mapping, progress),
        Source::Jsonl { path } => jsonl::read_path(path, mapping, progress),
        Source::Sqlite { path, query } => sqlite::read_path(path, query, mapping, progress),
        Source::Postgres { .. } => Err(SourceError::Unsupported { kind: "postgres" }),
    }
}

/// The `[mapping]` resolved to whatever a reader looks a value up by (a CSV
/// column index, a JSON key). Custom fields stay sorted by ActiveCampaign key
/// (the mapping is a `BTreeMap`), as [`Fields::custom`] requires.
#[derive(Debug)]
pub(crate) struct Projection<K> {
    email: K,
    first_name: Option<K>,
    last_name: Option<K>,
    phone: Option<K>,
    custom: Vec<(String, K)>,
}

/// A value lookup for one row: `Ok(None)` when absent or blank (not sent),
/// `Err(reason)` when the row cannot be used (bad UTF-8, a JSON array...).
pub(crate) type Lookup<'a, K> = dyn FnMut(&K) -> Result<Option<String>, String> + 'a;

impl<K> Projection<K> {
    /// Resolves every mapped column with `find`; the first failure wins.
    pub(crate) fn resolve<E>(
        mapping: &Mapping,
        mut find: impl FnMut(&str) -> Result<K, E>,
    ) -> Result<Self, E> {
        // Email first: when several columns are missing, it is the one to name.
        let email = find(&mapping.email)?;
        let mut opt = |c: &Option<String>| c.as_deref().map(&mut find).transpose();
        let (first_name, last_name, phone) = (
            opt(&mapping.first_name)?,
            opt(&mapping.last_name)?,
            opt(&mapping.phone)?,
        );
        let custom = (mapping.fields.iter())
            .map(|(key, col)| Ok((key.clone(), find(col)?)))
            .collect::<Result<_, E>>()?;
        Ok(Projection {
            email,
            first_name,
            last_name,
            phone,
            custom,
        })
    }

    pub(crate) fn email_key(&self) -> &K {
        &self.email
    }

    /// Extracts one row and feeds it to `builder`, as a profile or an invalid row.
    pub(crate) fn push(&self, builder: &mut SegmentBuilder, row: u64, get: &mut Lookup<'_, K>) {
        let email = match get(&self.email) {
            Ok(email) => email.unwrap_or_default(),
            Err(reason) => return builder.invalid(row, "", reason),
        };
        match self.fields(get) {
            Ok(fields) => builder.push(row, &email, fields),
            Err(reason) => builder.invalid(row, &email, reason),
        }
    }

    fn fields(&self, get: &mut Lookup<'_, K>) -> Result<Fields, String> {
        let mut opt = |k: &Option<K>| k.as_ref().map_or(Ok(None), &mut *get);
        let (first_name, last_name, phone) = (
            opt(&self.first_name)?,
            opt(&self.last_name)?,
            opt(&self.phone)?,
        );
        let mut custom = Vec::new();
        for (key, k) in &self.custom {
            if let Some(v) = get(k)? {
                // The key is borrowed from the projection: packing copies its
                // bytes next to the value, with no allocation of its own.
                custom.push((key.as_str(), v));
            }
        }
        Ok(Fields::with_custom(
            first_name.as_deref(),
            last_name.as_deref(),
            phone.as_deref(),
            custom,
        ))
    }
}

/// Finds `column` among `names`: exact match first, then ignoring ASCII case
/// and surrounding spaces (spreadsheets love "Email " and "EMAIL").
pub(crate) fn find_column<'a>(
    names: impl Iterator<Item = &'a str> + Clone,
    column: &str,
) -> Option<usize> {
    let wanted = column.trim();
    (names.clone().position(|n| n == column)).or_else(|| {
        names
            .into_iter()
            .position(|n| n.trim().eq_ignore_ascii_case(wanted))
    })
}

#[cfg(test)]
mod tests;
