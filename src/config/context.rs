//! The validation context shared by `acsync.toml` and export files: one
//! file's text, the located errors found in it, and the TOML parse that
//! records its own failure as one of them.

use std::ops::Range;
use std::path::Path;

use serde::de::DeserializeOwned;

use super::error::{ErrorKind, Located};
use super::friendly;

/// The validation context: one file's text and the errors found in it.
pub struct Cx<'a> {
    pub file: &'a Path,
    pub src: &'a str,
    pub errors: Vec<Located>,
}

impl<'a> Cx<'a> {
    pub fn new(file: &'a Path, src: &'a str) -> Self {
        Cx {
            file,
            src,
            errors: Vec::new(),
        }
    }

    /// Orders the errors as they appear in the file.
    pub fn sort(&mut self) {
        self.errors.sort_by_key(|e| (e.line, e.col));
    }

    /// A value its key does not accept, at `span`.
    pub fn invalid(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.error(ErrorKind::InvalidValue, span, message);
    }

    /// An error of `kind` at `span`.
    pub fn error(&mut self, kind: ErrorKind, span: Range<usize>, message: impl Into<String>) {
        let at = Located::at(kind, self.file, self.src, span.start, message);
        self.errors.push(at);
    }
}

/// Parses TOML into `T`, recording a located error on failure. Only the
/// parser's message and span are used (its `Display` quotes the source line,
/// which could hold a secret), rewritten in plain words by [`friendly`].
pub fn parse_toml<T: DeserializeOwned>(cx: &mut Cx) -> Option<T> {
    match toml::from_str::<T>(cx.src) {
        Ok(v) => Some(v),
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let (kind, message) = friendly::message(e.message(), cx.src, span.clone());
            cx.error(kind, span, message);
            None
        }
    }
}

/// How many unknown keys and values of the wrong type one file reports at
/// most (each costs a parse).
const MAX_PARSE_ERRORS: usize = 32;

/// Parses TOML into `T` as [`parse_toml`] does, but goes on after an
/// unknown key or a value of the wrong type: each is recorded, its line
/// (a table header with its whole table) blanked with spaces, so that every
/// later offset stays where it was, and the text parsed again. Every such
/// error of a file is thus reported at once (see docs/configuration.md,
/// validation). Returns the value parsed without the blanked lines, and
/// the (1-based) line each blanked region starts on; `None` after a
/// syntax error.
pub fn parse_toml_all<T: DeserializeOwned>(cx: &mut Cx) -> Option<(T, Vec<usize>)> {
    let mut text = cx.src.to_string();
    let mut blanked_lines = Vec::new();
    for _ in 0..MAX_PARSE_ERRORS {
        let e = match toml::from_str::<T>(&text) {
            Ok(v) => return Some((v, blanked_lines)),
            Err(e) => e,
        };
        let span = e.span().unwrap_or(0..0);
        let (kind, message) = friendly::message(e.message(), cx.src, span.clone());
        cx.error(kind.clone(), span.clone(), message);
        let goes_on = matches!(kind, ErrorKind::UnknownKey | ErrorKind::WrongType);
        if !goes_on || span.is_empty() {
            return None;
        }
        let line = super::error::line_col(cx.src, span.start).0;
        if !blank(&mut text, span) {
            return None;
        }
        blanked_lines.push(line);
    }
    None
}

/// Blanks the lines `span` touches, and a table header's whole table;
/// `false` when there was nothing left to blank.
fn blank(text: &mut String, span: Range<usize>) -> bool {
    let start = text[..span.start.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line_end = |from: usize| text[from..].find('\n').map_or(text.len(), |i| from + i);
    let mut end = line_end(span.end.min(text.len()));
    if text[start..].trim_start().starts_with('[') {
        // The table's keys would otherwise land in the table above.
        while end < text.len() && !text[end + 1..].trim_start().starts_with('[') {
            end = line_end(end + 1);
        }
    }
    let region = &text[start..end];
    if region.bytes().all(|b| b == b' ' || b == b'\n') {
        return false;
    }
    // Byte for byte, so that every offset after the region stays valid.
    let blanked: String = region
        .bytes()
        .map(|b| if b == b'\n' { '\n' } else { ' ' })
        .collect();
    text.replace_range(start..end, &blanked);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanking_keeps_offsets_and_takes_a_table_whole() {
        let mut text = "a = 1\n[t]\nx = 2\ny = \"é\"\n\n[u]\nz = 3\n".to_string();
        let len = text.len();
        let header = text.find("[t]").expect("header");
        assert!(blank(&mut text, header + 1..header + 2));
        assert_eq!(text.len(), len);
        assert!(text.starts_with("a = 1\n"), "{text:?}");
        assert!(text.ends_with("[u]\nz = 3\n"), "{text:?}");
        assert!(!text.contains('x') && !text.contains('é'), "{text:?}");
        // Nothing left there: no second blanking of the same place.
        assert!(!blank(&mut text, header + 1..header + 2));
    }
}
