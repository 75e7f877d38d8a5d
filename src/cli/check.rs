//! `acsync check`: validate the folder (or only the named files, with the
//! folder's rules: [`crate::config::named_files`]) and print every problem
//! as `FILE:LINE:COL: message`, or as GitHub Actions error annotations
//! (`--format github`) so that a pull request shows each problem on the
//! offending line; then the warnings (misnamed files, segments a run could
//! not read now: [`crate::source_check`]). Used by `ExecStartPre=`,
//! `ExecReload=`, pre-commit hooks and CI over a configuration repository.
//! `--online` also checks each export against its account (see
//! [`super::check_online`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::{self, Located};

/// How problems are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `FILE:LINE:COL: message`, one a line (compilers' convention: editors jump to it).
    Plain,
    /// `::error file=F,line=L,col=C::message` workflow commands.
    Github,
}

/// Runs the check; exit 0 when everything named is valid, 1 otherwise.
/// `online` also asks each valid export's account about its list and its
/// mapped custom fields.
pub fn run(
    config_dir: &Path,
    files: &[PathBuf],
    format: Format,
    ignore_outside: bool,
    online: bool,
) -> anyhow::Result<ExitCode> {
    let files = if ignore_outside {
        inside_config(config_dir, files)
    } else {
        files.to_vec()
    };
    let folder = config::load_folder(config_dir);
    let (mut errors, mut warnings, checked) = if files.is_empty() && !ignore_outside {
        let checked = folder.exports.len();
        (folder.errors(), folder.warnings.clone(), checked)
    } else {
        (folder.errors_of(&files), Vec::new(), files.len())
    };
    // With --ignore-outside and no file left, nothing is checked.
    if !(ignore_outside && files.is_empty()) {
        let exports = folder.valid_exports_of(&files);
        warnings.extend(
            exports
                .iter()
                .flat_map(|e| crate::source_check::warnings(e)),
        );
        warnings.extend(
            folder
                .invalid_export_files_of(&files)
                .into_iter()
                .flat_map(crate::source_check::warnings_of_invalid),
        );
        if online {
            errors.extend(super::check_online::errors(&folder, &exports)?);
        }
    }
    // Keys this environment cannot read: a warning, as the service's
    // environment may set them.
    if files.is_empty() && !ignore_outside {
        warnings.extend(config::key::key_warnings(&folder.settings));
    }
    for e in &errors {
        println!("{}", render(e, format));
    }
    // Files that look like exports but are not read, segments a run could
    // not read now: a warning each.
    for w in &warnings {
        match format {
            Format::Plain => eprintln!("acsync check: warning: {w}"),
            Format::Github => println!("{}", annotation("warning", w)),
        }
    }
    // Files other users can read: a warning line each, the check still passes.
    let perms = config::perms::warnings(&folder.settings);
    for w in &perms {
        eprintln!("acsync check: warning: {w}");
    }
    if errors.is_empty() {
        // Says what was checked: the files alone, or the accounts too.
        let against = match online {
            true => " and against their accounts (lists, custom fields)",
            false => " offline",
        };
        let warned = warnings.len() + perms.len();
        let warned = match warned {
            0 => String::new(),
            n => format!(", {n} warning(s) above"),
        };
        eprintln!("acsync check: {checked} file(s) valid{against}{warned}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("acsync check: {} error(s)", errors.len());
        Ok(ExitCode::from(1))
    }
}

/// One problem in the chosen format.
pub fn render(e: &Located, format: Format) -> String {
    match format {
        Format::Plain => e.to_string(),
        Format::Github => github_annotation(e),
    }
}

/// A GitHub Actions `error` workflow command. Property values and the message
/// are escaped as the runner expects (`%`, CR, LF; plus `:` and `,` in
/// properties), so a message can never end the command early or forge another.
pub fn github_annotation(e: &Located) -> String {
    annotation("error", e)
}

/// A workflow command of `level` (`error`, `warning`) for `e`.
fn annotation(level: &str, e: &Located) -> String {
    let file = e.file.to_string_lossy().replace('\\', "/");
    format!(
        "::{level} file={},line={},col={},title=acsync check::{}",
        escape_property(&file),
        e.line,
        e.col,
        escape_data(&e.safe_message())
    )
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The named files that belong to the folder: its `acsync.toml` and files
/// under its `exports/`. Others (a `Cargo.toml` in the same repository) are
/// not acsync files and are skipped.
fn inside_config(config_dir: &Path, files: &[PathBuf]) -> Vec<PathBuf> {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let exports = canon(&config::exports_dir(config_dir));
    let settings = canon(&config_dir.join("acsync.toml"));
    files
        .iter()
        .filter(|f| {
            let c = canon(f);
            let keep = c == settings || c.starts_with(&exports);
            if !keep {
                eprintln!(
                    "acsync check: skipped {} (not in the config folder)",
                    f.display()
                );
            }
            keep
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(file: &str, message: &str) -> Located {
        Located {
            kind: crate::config::ErrorKind::InvalidValue,
            file: PathBuf::from(file),
            line: 3,
            col: 12,
            message: message.into(),
        }
    }

    #[test]
    fn github_annotation_has_position_and_message() {
        let e = located(
            "config/exports/vip.toml",
            "bad cron expression `61 * * * *`",
        );
        assert_eq!(
            github_annotation(&e),
            "::error file=config/exports/vip.toml,line=3,col=12,title=acsync check::bad cron expression `61 * * * *`"
        );
    }

    #[test]
    fn github_annotation_escapes_what_would_end_the_command() {
        let e = located("a,b:c.toml", "50% off\nnext::line\r");
        // Control characters are escaped before (`\n` as two characters);
        // `%` is what the runner would decode.
        assert_eq!(
            github_annotation(&e),
            "::error file=a%2Cb%3Ac.toml,line=3,col=12,title=acsync check::50%25 off\\nnext::line\\r"
        );
    }
}
