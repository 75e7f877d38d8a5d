//! JSON Lines segments: one JSON object per line, read line by line.
//!
//! Row numbers are 1-based line numbers, so a reported row can be found with
//! any editor; blank lines are skipped (not counted as rows, but they still
//! advance the line number). Every JSON scalar becomes a string: strings as
//! they are, numbers as serde_json prints them (integers exactly as written;
//! floats in shortest round-trip form, e.g. `1e3` → `1000.0`), booleans
//! `true`/`false`; `null` and absent keys are "not sent". An array of
//! scalars for a custom field is kept as its JSON text (a multi-value
//! field takes it as a list, a text field as text, like a json column;
//! other types refuse it: `run::fields`). Any other array or an object
//! for a field is not
//! sent and the row is reported; for the email,
//! or a line that is not a JSON object, the row's email cannot be read (it
//! is invalid and holds removals back: see [`Segment::unreadable_emails`]).
//!
//! Keys cannot be checked up front (there is no header): a mapped key that
//! no line holds (a typo in `[mapping]`) fails the read once the file is
//! read, listing the keys the first lines hold.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::{Map, Value};

use super::{PROGRESS_EVERY, Projection, SourceError};
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
    read_jsonl_with(
        BufReader::with_capacity(1 << 16, file),
        path,
        mapping,
        builder,
        progress,
    )
}

/// Reads a JSONL segment from any buffered reader; `file` names it in errors.
pub fn read_jsonl(
    reader: impl BufRead,
    file: &Path,
    mapping: &Mapping,
) -> Result<Segment, SourceError> {
    read_jsonl_with(reader, file, mapping, SegmentBuilder::new(), &mut |_| {})
}

fn read_jsonl_with(
    mut reader: impl BufRead,
    file: &Path,
    mapping: &Mapping,
    mut builder: SegmentBuilder,
    progress: &mut dyn FnMut(u64),
) -> Result<Segment, SourceError> {
    let proj = Projection::resolve(mapping, |key| Ok::<_, SourceError>(key.to_owned()))?;
    let mut keys = KeyCheck::new(&proj);
    let mut line = Vec::new();
    let mut line_no = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| SourceError::Io {
                path: file.into(),
                source,
            })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        // A BOM is only legal at the start of the file; strip it there.
        let text = if line_no == 1 {
            line.strip_prefix("\u{feff}".as_bytes())
        } else {
            None
        };
        let text = text.unwrap_or(&line).trim_ascii();
        if text.is_empty() {
            continue;
        }
        push_line(&proj, &mut builder, &mut keys, line_no, text);
        if builder.rows().is_multiple_of(PROGRESS_EVERY) {
            progress(builder.rows());
        }
    }
    keys.finish(file)?;
    Ok(builder.finish())
}

fn push_line(
    proj: &Projection<String>,
    builder: &mut SegmentBuilder,
    keys: &mut KeyCheck,
    row: u64,
    text: &[u8],
) {
    let obj = match serde_json::from_slice::<Value>(text) {
        Ok(Value::Object(obj)) => obj,
        Ok(other) => {
            let reason = format!("line is {}, not a JSON object", kind(&other));
            return builder.unreadable(row, reason);
        }
        Err(e) => return builder.unreadable(row, format!("invalid JSON: {e}")),
    };
    keys.observe(&obj);
    proj.push(builder, row, &mut |key: &String| {
        // A custom field may take a list (a checkbox or listbox field): an
        // array of scalars is passed on as JSON text, converted or refused
        // per the field's type once the run knows it (`run::fields`).
        if proj.custom.iter().any(|(_, k)| k == key)
            && let Some(Value::Array(items)) = lookup(&obj, key)
            && items.iter().all(|i| !(i.is_array() || i.is_object()))
        {
            let text = (!items.is_empty()).then(|| Value::Array(items.clone()).to_string());
            return Ok(text.map(Cow::Owned));
        }
        scalar(&obj, key)
    });
}

/// How many lines' keys are listed when a mapped key is in none.
const KEYS_FROM_LINES: u64 = 100;

/// Which mapped keys some line holds, and the keys of the first lines (to
/// list when one is in none).
struct KeyCheck {
    /// Mapped keys no object has held yet.
    missing: Vec<String>,
    objects: u64,
    seen: BTreeSet<String>,
}

impl KeyCheck {
    fn new(proj: &Projection<String>) -> Self {
        let mut missing: Vec<String> = Vec::new();
        for k in proj.keys() {
            if !missing.contains(k) {
                missing.push(k.clone());
            }
        }
        KeyCheck {
            missing,
            objects: 0,
            seen: BTreeSet::new(),
        }
    }

    fn observe(&mut self, obj: &Map<String, Value>) {
        self.objects += 1;
        if self.objects <= KEYS_FROM_LINES {
            self.seen.extend(obj.keys().cloned());
        }
        self.missing.retain(|k| lookup(obj, k).is_none());
    }

    /// Fails when a mapped key is in no object; an empty file says nothing
    /// (the empty-segment guard speaks for it).
    fn finish(self, file: &Path) -> Result<(), SourceError> {
        match self.missing.into_iter().next() {
            Some(key) if self.objects > 0 => Err(SourceError::MissingKey {
                key,
                file: file.into(),
                rows: self.objects,
                seen: self.seen.into_iter().collect(),
            }),
            _ => Ok(()),
        }
    }
}

/// `key` in `obj`: exact key first, then ignoring ASCII case.
fn lookup<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find_map(|(k, v)| k.eq_ignore_ascii_case(key).then_some(v))
    })
}

/// The value of `key` as a cleaned string (see [`lookup`]).
fn scalar<'v>(obj: &'v Map<String, Value>, key: &str) -> Result<Option<Cow<'v, str>>, String> {
    match lookup(obj, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(clean_value(s).map(Cow::Borrowed)),
        Some(Value::Number(n)) => Ok(Some(Cow::Owned(n.to_string()))),
        Some(Value::Bool(b)) => Ok(Some(Cow::Owned(b.to_string()))),
        Some(other) => Err(format!(
            "key {key:?} holds {}, not a single value",
            kind(other)
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
