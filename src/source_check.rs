//! What `acsync check` can tell of an export's segment without reading it:
//! the file a csv, jsonl or sqlite source names can be opened, and a CSV's
//! header has every `[mapping]` column (by the rule a run resolves columns
//! with, [`crate::source::find_column`]). Each problem is located at its key
//! and reported as a warning, not an error: the segment file may be made on
//! the server only, after the configuration is checked (see
//! docs/configuration.md, check). The messages are the run's own.

use std::fs::File;
use std::path::Path;

use crate::config::key_spans::KeySpans;
use crate::config::raw::RawExport;
use crate::config::validate::source_base;
use crate::config::{ErrorKind, Export, Located, Source};
use crate::source::{SourceError, find_column};

/// The warnings of one valid export's source.
pub fn warnings(export: &Export) -> Vec<Located> {
    let (path, csv) = match &export.source {
        Source::Csv { path, .. } => (path, true),
        Source::Jsonl { path, .. } | Source::Sqlite { path, .. } => (path, false),
        Source::Postgres { .. } => return Vec::new(),
    };
    segment_warnings(&KeySpans::read(&export.file), path, csv)
}

/// The same warnings for an export file that does not validate, as far as
/// its `[source]` reads (a bad schedule hides no missing segment: every
/// problem of a file at once). Nothing when the file does not parse.
pub fn warnings_of_invalid(file: &Path) -> Vec<Located> {
    let src = std::fs::read_to_string(file).unwrap_or_default();
    let Ok(raw) = toml::from_str::<RawExport>(&src) else {
        return Vec::new();
    };
    let Some(source) = raw.source.map(|s| s.into_inner()) else {
        return Vec::new();
    };
    let (Some(kind), Some(path)) = (source.kind, source.path) else {
        return Vec::new();
    };
    let csv = match kind.get_ref().as_str() {
        "csv" => true,
        "jsonl" | "sqlite" => false,
        _ => return Vec::new(),
    };
    let path = source_base(file).join(path.get_ref());
    segment_warnings(&KeySpans::read(file), &path, csv)
}

/// The warnings of a segment file at `path` (a CSV when `csv`), located by `spans`.
fn segment_warnings(spans: &KeySpans, path: &Path, csv: bool) -> Vec<Located> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(source) => {
            let e = SourceError::Io {
                path: path.to_path_buf(),
                source,
            };
            return vec![spans.at_source_path(ErrorKind::MissingSegment, e.to_string())];
        }
    };
    if !csv {
        return Vec::new();
    }
    let Some(found) = csv_header(file) else {
        // A header that does not read fails the run with its own message.
        return Vec::new();
    };
    missing_columns(spans, path, &found)
}

/// The column names of a CSV file's header, as a run reads them.
fn csv_header(file: File) -> Option<Vec<String>> {
    let mut rdr = ::csv::ReaderBuilder::new().flexible(true).from_reader(file);
    let names = rdr.byte_headers().ok()?;
    Some(
        names
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect(),
    )
}

/// A warning at each `[mapping]` value naming a column `found` lacks.
fn missing_columns(spans: &KeySpans, path: &Path, found: &[String]) -> Vec<Located> {
    let names = found.iter().map(String::as_str);
    spans
        .columns()
        .iter()
        .filter(|(column, _)| find_column(names.clone(), column).is_none())
        .map(|(column, span)| {
            let e = SourceError::MissingColumn {
                column: column.clone(),
                file: path.to_path_buf(),
                found: found.to_vec(),
            };
            spans.at(ErrorKind::MissingColumn, Some(span), e.to_string())
        })
        .collect()
}
