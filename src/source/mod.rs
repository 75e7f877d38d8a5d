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
    /// A source kind this build cannot read yet.
    #[error("source kind {kind:?} is not supported yet")]
    Unsupported { kind: &'static str },
}

/// Reads the whole segment of an export.
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
        other => Err(SourceError::Unsupported { kind: other.kind() }),
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
