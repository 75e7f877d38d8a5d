//! CSV segments: a header row naming the columns, then one profile per
//! record. UTF-8 with or without a BOM, CRLF or LF, RFC 4180 quoting (quoted
//! fields may hold newlines). Read record by record; the file is never held.
//!
//! A record's row number is the file line it starts on (1-based, the header
//! is line 1), so a reported row is found with an editor or `grep -n` even
//! when quoted newlines make a record span several lines (see
//! docs/run-rules.md, the segment). Blank lines are skipped.
//!
//! A malformed file fails the read with its line (docs/run-rules.md, the segment): a record
//! with more or fewer fields than the header (an unquoted comma, a missing
//! one), or a quoted field still open at the end of the file (which would
//! otherwise swallow every later row into one field; see [`super::quotes`]).
//! A bad value in a well-formed record only costs that value: a column that
//! is not UTF-8 is not sent and the row is reported, unless it is the email.

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use ::csv::{ByteRecord, Reader, ReaderBuilder};

use super::quotes::QuoteTracker;
use super::{PROGRESS_EVERY, Projection, SourceError, find_column};
use crate::config::Mapping;
use crate::segment::{Segment, SegmentBuilder, clean_value};

pub(super) fn read_path(
    path: &Path,
    mapping: &Mapping,
    builder: SegmentBuilder,
    progress: &mut dyn FnMut(u64),
) -> Result<Segment, SourceError> {
    let file = File::open(path).map_err(|source| SourceError::Io {
        path: path.into(),
        source,
    })?;
    read_csv_with(file, path, mapping, builder, progress)
}

/// Reads a CSV segment from any reader; `file` names it in errors.
pub fn read_csv(reader: impl Read, file: &Path, mapping: &Mapping) -> Result<Segment, SourceError> {
    read_csv_with(reader, file, mapping, SegmentBuilder::new(), &mut |_| {})
}

fn read_csv_with(
    reader: impl Read,
    file: &Path,
    mapping: &Mapping,
    mut builder: SegmentBuilder,
    progress: &mut dyn FnMut(u64),
) -> Result<Segment, SourceError> {
    // `flexible`: a row with the wrong number of fields is reported here,
    // with its line, rather than as the crate's error. Byte records: bad
    // UTF-8 is one unusable field, not an error that ends the read.
    let mut rdr = ReaderBuilder::new()
        .flexible(true)
        .from_reader(QuoteTracker::new(reader));
    let headers = rdr.byte_headers().map_err(|e| csv_error(file, e))?.clone();
    check_quotes(&rdr, file)?;
    rdr.get_mut().next_record_line();
    let names: Vec<Cow<'_, str>> = headers.iter().map(String::from_utf8_lossy).collect();
    let proj = Projection::resolve(mapping, |column| {
        find_column(names.iter().map(|n| n.as_ref()), column).ok_or_else(|| {
            SourceError::MissingColumn {
                column: column.to_owned(),
                file: file.into(),
                found: names.iter().map(|n| n.to_string()).collect(),
            }
        })
    })?;
    let mut record = ByteRecord::new();
    let mut row = 1u64;
    while rdr
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(file, e))?
    {
        let line = rdr.get_mut().next_record_line();
        // The tracker sees every record start; the fallback only keeps the
        // numbers increasing should it ever not.
        row = line.unwrap_or(row + 1);
        if record.len() != names.len() {
            // The last record, swallowed by an open quote, is the usual cause.
            check_quotes(&rdr, file)?;
            return Err(SourceError::Malformed {
                path: file.into(),
                line: row,
                message: format!(
                    "row has {} fields, the header has {}",
                    record.len(),
                    names.len()
                ),
            });
        }
        // A record may span lines (quoted newlines): `explain` names its first.
        builder.at_line(line);
        push_record(&proj, &mut builder, row, &record, &names);
        if builder.rows().is_multiple_of(PROGRESS_EVERY) {
            progress(builder.rows());
        }
    }
    check_quotes(&rdr, file)?;
    Ok(builder.finish())
}

/// Fails when the input ended inside a quoted field (docs/run-rules.md, the segment).
fn check_quotes<R: Read>(rdr: &Reader<QuoteTracker<R>>, file: &Path) -> Result<(), SourceError> {
    match rdr.get_ref().unterminated() {
        Some(line) => Err(SourceError::Malformed {
            path: file.into(),
            line,
            message: "unterminated quoted field (its closing quote is missing: every row after it would be read as part of that field)".into(),
        }),
        None => Ok(()),
    }
}

fn push_record(
    proj: &Projection<usize>,
    builder: &mut SegmentBuilder,
    row: u64,
    record: &ByteRecord,
    names: &[Cow<'_, str>],
) {
    proj.push(builder, row, &mut |&i: &usize| {
        let bytes = record.get(i).unwrap_or_default();
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(clean_value(s).map(Cow::Borrowed)),
            Err(_) => Err(format!("column {:?} is not valid UTF-8", names[i])),
        }
    });
}

/// An IO failure mid-file is the file being unreadable; anything else is a CSV error.
fn csv_error(file: &Path, e: ::csv::Error) -> SourceError {
    if e.is_io_error() {
        if let ::csv::ErrorKind::Io(source) = e.into_kind() {
            return SourceError::Io {
                path: file.into(),
                source,
            };
        }
        unreachable!("is_io_error implies ErrorKind::Io");
    }
    SourceError::Csv {
        path: file.into(),
        source: e,
    }
}
