//! Where the keys of an export file are, so that a problem found after
//! validation (by asking the account, say) is located at its key the way
//! validation locates a bad value: `exports/vip.toml:14:1: …`.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::error::{ErrorKind, Located};
use super::raw::RawExport;

/// The keys of one export file and their places.
pub struct KeySpans {
    file: PathBuf,
    src: String,
    connection: Option<Range<usize>>,
    list_id: Option<Range<usize>>,
    fields: Vec<(String, Range<usize>)>,
    source_path: Option<Range<usize>>,
    columns: Vec<(String, Range<usize>)>,
}

impl KeySpans {
    /// Reads `file`; a file that no longer reads or parses locates every
    /// problem at its start.
    pub fn read(file: &Path) -> KeySpans {
        let src = std::fs::read_to_string(file).unwrap_or_default();
        let mut spans = KeySpans {
            file: file.to_path_buf(),
            src: String::new(),
            connection: None,
            list_id: None,
            fields: Vec::new(),
            source_path: None,
            columns: Vec::new(),
        };
        if let Ok(raw) = toml::from_str::<RawExport>(&src) {
            spans.connection = raw.connection.map(|c| c.span());
            spans.list_id = raw.list_id.map(|l| l.span());
            spans.source_path = raw
                .source
                .and_then(|s| s.into_inner().path)
                .map(|p| p.span());
            if let Some(m) = raw.mapping.map(|m| m.into_inner()) {
                let named = [m.email, m.first_name, m.last_name, m.phone];
                let custom = m.fields.values().cloned();
                spans.columns = named
                    .into_iter()
                    .flatten()
                    .chain(custom)
                    .map(|c| (c.get_ref().clone(), c.span()))
                    .collect();
                let keys = m.fields.into_keys();
                spans.fields = keys.map(|k| (k.get_ref().clone(), k.span())).collect();
            }
        }
        spans.src = src;
        spans
    }

    /// `message` at the `connection` key.
    pub fn at_connection(&self, kind: ErrorKind, message: String) -> Located {
        self.at(kind, self.connection.as_ref(), message)
    }

    /// `message` at the `list_id` key.
    pub fn at_list_id(&self, kind: ErrorKind, message: String) -> Located {
        self.at(kind, self.list_id.as_ref(), message)
    }

    /// `message` at the `[mapping.fields]` key `key` (as validation
    /// normalised it: trimmed, upper case).
    pub fn at_field(&self, kind: ErrorKind, key: &str, message: String) -> Located {
        let span = self
            .fields
            .iter()
            .find(|(k, _)| k == key || k.trim().eq_ignore_ascii_case(key.trim()))
            .map(|(_, s)| s);
        self.at(kind, span, message)
    }

    /// `message` at the `[source]` key `path`.
    pub fn at_source_path(&self, kind: ErrorKind, message: String) -> Located {
        self.at(kind, self.source_path.as_ref(), message)
    }

    /// Every `[mapping]` value (a column name) with its place, the
    /// contact's fields first, then the custom fields.
    pub fn columns(&self) -> &[(String, Range<usize>)] {
        &self.columns
    }

    /// `message` at `span` of the file.
    pub fn at(&self, kind: ErrorKind, span: Option<&Range<usize>>, message: String) -> Located {
        match span {
            Some(s) => Located::at(kind, &self.file, &self.src, s.start, message),
            None => Located::whole_file(kind, &self.file, message),
        }
    }
}
