//! CSV segments: a header row naming the columns, then one profile per
//! record. UTF-8 with or without a BOM, CRLF or LF, RFC 4180 quoting (quoted
//! fields may hold newlines). Read record by record; the file is never held.
//!
//! Row numbers are 1-based data records, the header excluded: with quoted
//! newlines a record may span several lines, so row 3 is the third record,
//! not necessarily line 4. Blank lines are skipped and not counted.

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use ::csv::{ByteRecord, ReaderBuilder};

use super::{PROGRESS_EVERY, Projection, SourceError, find_column};
use crate::config::Mapping;
use crate::segment::{Segment, SegmentBuilder, clean_value};

pub(super) fn read_path(
    path: &Path,
    mapping: &Mapping,
    progress: &mut dyn FnMut(u64),
) -> Result<Segment, SourceError> {
    let file = File::open(path).map_err(|source| SourceError::Io {
        path: path.into(),
        source,
    })?;
    read_csv_with(file, path, mapping, progress)
}

/// Reads a CSV segment from any reader; `file` names it in errors.
pub fn read_csv(reader: impl Read, file: &Path, mapping: &Mapping) -> Result<Segment, SourceError> {
    read_csv_with(reader, file, mapping, &mut |_| {})
}

fn read_csv_with(
    reader: impl Read,
    file: &Path,
    mapping: &Mapping,
    progress: &mut dyn FnMut(u64),
) -> Result<Segment, SourceError> {
    // `flexible`: a row with the wrong number of fields is one invalid row,
    // not an error that ends the read. Byte records: bad UTF-8 likewise.
    let mut rdr = ReaderBuilder::new().flexible(true).from_reader(reader);
    let headers = rdr.byte_headers().map_err(|e| csv_error(file, e))?.clone();
    let names: Vec<Cow<'_, str>> = headers.iter().map(String::from_utf8_lossy).collect();
    let proj = Projection::resolve(mapping, |column| {
        find_column(names.iter().map(|n| n.as_ref()), column).ok_or_else(|| {
            SourceError::MissingColumn {
                column: column.to_owned(),
                file: file.into(),
            }
        })
    })?;
    let mut builder = SegmentBuilder::new();
    let mut record = ByteRecord::new();
    let mut row = 0u64;
    while rdr
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(file, e))?
    {
        row += 1;
        push_record(&proj, &mut builder, row, &record, &names);
        if row.is_multiple_of(PROGRESS_EVERY) {
            progress(row);
        }
    }
    Ok(builder.finish())
}

fn push_record(
    proj: &Projection<usize>,
    builder: &mut SegmentBuilder,
    row: u64,
    record: &ByteRecord,
    names: &[Cow<'_, str>],
) {
    if record.len() != names.len() {
        // Still show which email the broken row was about, when it can be told.
        let email = record
            .get(*proj.email_key())
            .and_then(|b| std::str::from_utf8(b).ok());
        let reason = format!(
            "row has {} fields, the header has {}",
            record.len(),
            names.len()
        );
        return builder.invalid(row, email.unwrap_or(""), reason);
    }
    proj.push(builder, row, &mut |&i: &usize| {
        let bytes = record.get(i).unwrap_or_default();
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(clean_value(s)),
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
