//! Segment sources: each kind reads its rows, streamed, into a
//! [`SegmentBuilder`]; nothing else in the crate knows a file format. This
//! module owns the dispatch, the error type and the [`Projection`] shared by
//! every reader (which column feeds which ActiveCampaign field).
//!
//! docs/run-rules.md, safety limits: "A source that cannot be read fails the run and touches
//! nothing." Nor does a malformed one (rule 1: an unterminated quote, a row
//! with more or fewer fields than the header), nor one where a mapped column
//! or key is in no row. A source that can be read but holds bad rows does not
//! fail: a row whose email is invalid is counted and reported as invalid; a
//! row with a valid email stays in the segment, its unusable fields not sent
//! and the row reported; a row whose email cannot be read at all is counted
//! in [`Segment::unreadable_emails`] (removals are then held back).
//!
//! Reading is bounded ([`read_async`]): past the source's `timeout`, or when
//! the daemon stops, the run fails instead of waiting on a blocked file.

mod bounded;
mod csv;
mod jsonl;
mod pg_conn;
mod postgres;
mod quotes;
mod sqlite;
mod value;

use std::borrow::Cow;
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
    #[error(
        "segment {}: column {column:?} from [mapping] is not in the header (its columns: {})",
        file.display(),
        name_list(found)
    )]
    MissingColumn {
        column: String,
        file: PathBuf,
        found: Vec<String>,
    },
    /// A `[mapping]` key is in no line of a JSONL file (found once it is read:
    /// there is no header). `seen` holds keys from the first lines.
    #[error(
        "segment {}: key {key:?} from [mapping] is in none of its {rows} rows (keys seen: {})",
        file.display(),
        name_list(seen)
    )]
    MissingKey {
        key: String,
        file: PathBuf,
        rows: u64,
        seen: Vec<String>,
    },
    /// The file is malformed at `line` (1-based, as an editor counts): the
    /// run fails rather than read rows out of place (docs/run-rules.md, the segment).
    #[error("{}:{line}: {message}", path.display())]
    Malformed {
        path: PathBuf,
        line: u64,
        message: String,
    },
    /// Reading did not end within the source's `timeout` (a FIFO with no
    /// writer, a hung network mount): the run fails instead of hanging.
    #[error(
        "source {} did not finish reading within {timeout}; is it a pipe or a network mount that stopped answering? (raise `timeout` in [source] if the file is just slow)",
        path.display()
    )]
    TimedOut { path: PathBuf, timeout: String },
    /// An earlier read of the same file timed out and is still blocked; no
    /// other read is started until it ends (each would block a thread too).
    #[error(
        "source {}: an earlier read of this file timed out and is still blocked; not reading it again until that read ends",
        path.display()
    )]
    StillBlocked { path: PathBuf },
    /// The run was cancelled while reading (the daemon is stopping, or the
    /// export was edited or deleted): it does not wait for the file.
    #[error(
        "source {}: reading was abandoned: the run was cancelled (acsync is stopping, or the export changed)",
        path.display()
    )]
    Abandoned { path: PathBuf },
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

/// At most this many names are listed in an error, each cut to
/// [`MAX_NAME_CHARS`] characters: a header can be anything.
const MAX_NAMES: usize = 30;
const MAX_NAME_CHARS: usize = 40;

/// Column or key names for an error message: quoted, cut, at most [`MAX_NAMES`].
fn name_list(found: &[String]) -> String {
    if found.is_empty() {
        return "none".into();
    }
    let cut = |n: &String| {
        if n.chars().count() > MAX_NAME_CHARS {
            let head: String = n.chars().take(MAX_NAME_CHARS).collect();
            format!("{head:?}...")
        } else {
            format!("{n:?}")
        }
    };
    let mut list: Vec<String> = found.iter().take(MAX_NAMES).map(cut).collect();
    if found.len() > MAX_NAMES {
        list.push(format!("and {} more", found.len() - MAX_NAMES));
    }
    list.join(", ")
}

/// Reads the whole segment of an export: file kinds on a blocking thread,
/// bounded by the source's `timeout` and by the run's cancellation (see
/// [`cancel_reads_with`]); PostgreSQL on the runtime (its driver is async,
/// bounded by `statement_timeout`). What a run calls.
pub async fn read_async(source: &Source, mapping: &Mapping) -> Result<Segment, SourceError> {
    if let Source::Postgres {
        url_env,
        query,
        statement_timeout,
    } = source
    {
        let builder = SegmentBuilder::new().numbered(source.row_numbering());
        return postgres::read(
            url_env,
            query,
            *statement_timeout,
            mapping,
            builder,
            &mut |_| {},
        )
        .await;
    }
    bounded::read(source, mapping).await
}

pub use bounded::cancel_reads_with;

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
    let builder = SegmentBuilder::new().numbered(source.row_numbering());
    read_into(source, mapping, builder, progress)
}

/// Reads the whole segment, recording every row that holds `email` in
/// [`Segment::watched`] (`acsync explain`). Unbounded: the operator's
/// command, not a run. PostgreSQL is read on the runtime like a run's.
pub async fn read_watching(
    source: &Source,
    mapping: &Mapping,
    email: &str,
) -> Result<Segment, SourceError> {
    let builder = SegmentBuilder::watching(email).numbered(source.row_numbering());
    if let Source::Postgres {
        url_env,
        query,
        statement_timeout,
    } = source
    {
        let timeout = *statement_timeout;
        return postgres::read(url_env, query, timeout, mapping, builder, &mut |_| {}).await;
    }
    let (source, mapping) = (source.clone(), mapping.clone());
    tokio::task::spawn_blocking(move || read_into(&source, &mapping, builder, &mut |_| {}))
        .await
        .unwrap_or_else(|e| Err(SourceError::Stopped(e.to_string())))
}

fn read_into(
    source: &Source,
    mapping: &Mapping,
    builder: SegmentBuilder,
    progress: &mut dyn FnMut(u64),
) -> Result<Segment, SourceError> {
    match source {
        Source::Csv { path, .. } => csv::read_path(path, mapping, builder, progress),
        Source::Jsonl { path, .. } => jsonl::read_path(path, mapping, builder, progress),
        Source::Sqlite { path, query, .. } => {
            sqlite::read_path(path, query, mapping, builder, progress)
        }
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
/// Values are borrowed from the row where the reader can (`'v`): a row's
/// values are only read to be packed into its profile.
pub(crate) type Lookup<'a, 'v, K> = dyn FnMut(&K) -> Result<Option<Cow<'v, str>>, String> + 'a;

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
        let custom = mapping
            .fields
            .iter()
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

    /// Every mapped column or key, the email's first.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> {
        let named = [&self.first_name, &self.last_name, &self.phone];
        std::iter::once(&self.email)
            .chain(named.into_iter().flatten())
            .chain(self.custom.iter().map(|(_, k)| k))
    }

    /// Extracts one row and feeds it to `builder`. An email that cannot be
    /// read makes the row unreadable; any other value that cannot be used is
    /// left out and reported, and the row stays (docs/run-rules.md, the segment).
    pub(crate) fn push(&self, builder: &mut SegmentBuilder, row: u64, get: &mut Lookup<'_, '_, K>) {
        let email = match get(&self.email) {
            Ok(email) => email.unwrap_or_default(),
            Err(reason) => return builder.unreadable(row, reason),
        };
        let mut problems = Vec::new();
        let fields = self.fields(get, &mut problems);
        let issue = (!problems.is_empty()).then(|| format!("{}; not sent", problems.join("; ")));
        builder.push_reported(row, &email, fields, issue);
    }

    fn fields(&self, get: &mut Lookup<'_, '_, K>, problems: &mut Vec<String>) -> Fields {
        let mut value = |k: &K| {
            get(k).unwrap_or_else(|reason| {
                problems.push(reason);
                None
            })
        };
        let (first_name, last_name, phone) = (
            self.first_name.as_ref().and_then(&mut value),
            self.last_name.as_ref().and_then(&mut value),
            self.phone.as_ref().and_then(&mut value),
        );
        let mut custom = Vec::new();
        for (key, k) in &self.custom {
            if let Some(v) = value(k) {
                // The key is borrowed from the projection: packing copies its
                // bytes next to the value, with no allocation of its own.
                custom.push((key.as_str(), v));
            }
        }
        Fields::with_custom(
            first_name.as_deref(),
            last_name.as_deref(),
            phone.as_deref(),
            custom,
        )
    }
}

/// Finds `column` among `names`: exact match first, then ignoring ASCII case
/// and surrounding spaces (spreadsheets love "Email " and "EMAIL").
pub(crate) fn find_column<'a>(
    names: impl Iterator<Item = &'a str> + Clone,
    column: &str,
) -> Option<usize> {
    let wanted = column.trim();
    names.clone().position(|n| n == column).or_else(|| {
        names
            .into_iter()
            .position(|n| n.trim().eq_ignore_ascii_case(wanted))
    })
}

#[cfg(test)]
mod integrity_tests;
#[cfg(test)]
mod tests;
