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
