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
}

impl KeySpans {
    /// Reads `file`; a file that no longer reads or parses locates every
    /// problem at its start.
    pub fn read(file: &Path) -> KeySpans {
        let src = std::fs::read_to_string(file).unwrap_or_default();
        let raw = toml::from_str::<RawExport>(&src).ok();
        let (connection, list_id, fields) = match raw {
            Some(r) => (
                r.connection.map(|c| c.span()),
                r.list_id.map(|l| l.span()),
                r.mapping
                    .map(|m| m.into_inner().fields)
                    .unwrap_or_default()
                    .into_keys()
                    .map(|k| (k.get_ref().clone(), k.span()))
                    .collect(),
            ),
            None => (None, None, Vec::new()),
        };
        KeySpans {
            file: file.to_path_buf(),
            src,
            connection,
            list_id,
            fields,
        }
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

    fn at(&self, kind: ErrorKind, span: Option<&Range<usize>>, message: String) -> Located {
        match span {
            Some(s) => Located::at(kind, &self.file, &self.src, s.start, message),
            None => Located::whole_file(kind, &self.file, message),
        }
    }
}
