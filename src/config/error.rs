//! Located configuration errors: `FILE:LINE:COL: message`, the one shape every
//! configuration problem is reported in (by `acsync check`, in status files
//! and in logs), with an [`ErrorKind`] that code matches on (the message is
//! for people and may change). Every message goes through
//! [`super::redact::scrub`]: no key-like token and no long value ever leaves
//! here.

use std::fmt;
use std::path::{Path, PathBuf};

use super::redact::scrub;

/// What kind of problem a [`Located`] error is (see docs/configuration.md,
/// validation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file is missing, unreadable or not UTF-8.
    Unreadable,
    /// The text is not valid TOML.
    Syntax,
    /// A key its table does not have.
    UnknownKey,
    /// A required key or table is absent.
    MissingKey,
    /// A value of another type than its key takes.
    WrongType,
    /// A value its key does not accept.
    InvalidValue,
    /// An export names a connection `acsync.toml` does not define.
    UnknownConnection,
    /// An export names a connection whose `allowed_exports` leave it out.
    ConnectionNotAllowed,
    /// An export names a connection that is invalid in `acsync.toml`.
    BrokenConnection { connection: String },
    /// In `acsync.toml`: the exports an invalid connection leaves unrun.
    SkippedExports,
    /// The `exports/` tree: a link loop, two paths to one file, a name that
    /// cannot be an export's.
    Layout,
    /// `prune = "all"` on a list that the exports `others` also target.
    PruneAllOnSharedList { others: Vec<String> },
    /// The segment file a source names cannot be opened (a warning of
    /// `check`: it may be made on the server only).
    MissingSegment,
    /// A `[mapping]` column a CSV segment's header lacks (a warning of
    /// `check`, as above).
    MissingColumn,
    /// A connection's key variable is not set here (a warning of `check`:
    /// the service's environment may differ from the shell's).
    UnreadableApiKey,
    /// Checked online: the account has no such list.
    MissingList,
    /// Checked online: a `[mapping.fields]` key the account does not have.
    UnknownField,
    /// Checked online: the account could not be asked.
    AccountUnreachable,
}

/// One problem in one file, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub kind: ErrorKind,
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl Located {
    /// Locates `message` at byte `offset` of `src` (the text of `file`).
    pub fn at(
        kind: ErrorKind,
        file: &Path,
        src: &str,
        offset: usize,
        message: impl Into<String>,
    ) -> Self {
        let (line, col) = line_col(src, offset);
        Located {
            kind,
            file: file.to_path_buf(),
            line,
            col,
            message: scrub(&message.into()),
        }
    }

    /// A problem with the file as a whole (missing, unreadable): line 1, column 1.
    pub fn whole_file(kind: ErrorKind, file: &Path, message: impl Into<String>) -> Self {
        Located {
            kind,
            file: file.to_path_buf(),
            line: 1,
            col: 1,
            message: scrub(&message.into()),
        }
    }

    /// The message as it may be shown (scrubbed again: the field is public).
    pub fn safe_message(&self) -> String {
        scrub(&self.message)
    }

    /// The same error with the file shown relative to `base` when it lies under it
    /// (status files show `vip.toml:3:1: …`, not an absolute path).
    pub fn relative_to(&self, base: &Path) -> Located {
        let file = self.file.strip_prefix(base).unwrap_or(&self.file);
        Located {
            file: file.to_path_buf(),
            ..self.clone()
        }
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.safe_message()
        )
    }
}

/// 1-based line and column (in characters) of byte `offset` in `src`.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", join(.0))]
    Invalid(Vec<Located>),
    /// `hint` is empty or ` (did you mean `vip`?)`.
    #[error("no export `{name}` (looked for exports/{name}.toml){hint}")]
    NoSuchExport { name: String, hint: String },
}

fn join(errors: &[Located]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, 9), (2, 4));
        assert_eq!(line_col(src, 999), (3, 1));
        // Columns count characters, not bytes.
        assert_eq!(line_col("é = x", 3), (1, 3));
    }

    #[test]
    fn display_is_file_line_col() {
        let l = Located::at(
            ErrorKind::InvalidValue,
            Path::new("x.toml"),
            "a\nb",
            2,
            "bad",
        );
        assert_eq!(l.to_string(), "x.toml:2:1: bad");
    }
}
