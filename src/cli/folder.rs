//! Which configuration folder a command uses (see docs/configuration.md,
//! "Which folder"): `--config-dir`, else `ACSYNC_CONFIG_DIR`, else the
//! current folder when it holds an `acsync.toml`, else `/etc/acsync` when it
//! exists. A folder that does not exist is an error naming it and the ways
//! to choose another, never an empty success; the folder used is named on
//! stderr, so a user in the wrong folder sees it at once.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::bail;

/// The folder of a system installation (packages and systemd units).
pub const SYSTEM_FOLDER: &str = "/etc/acsync";

/// The environment variable that names the folder when `--config-dir` does not.
pub const ENV_VAR: &str = "ACSYNC_CONFIG_DIR";

/// What chose the folder; said beside it so the user knows what to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderSource {
    Flag,
    Env,
    CurrentFolder,
    System,
}

impl fmt::Display for FolderSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FolderSource::Flag => "from --config-dir",
            FolderSource::Env => "from ACSYNC_CONFIG_DIR",
            FolderSource::CurrentFolder => "the current folder holds acsync.toml",
            FolderSource::System => "the system folder",
        })
    }
}

/// What the choice looks at: the two settings and what is on disk.
#[derive(Debug, Clone)]
pub struct FolderCandidates {
    pub flag: Option<PathBuf>,
    pub env: Option<PathBuf>,
    pub current: PathBuf,
    pub current_has_settings: bool,
    pub system_exists: bool,
}

/// The folder the rules pick, or `None` when none applies.
pub fn choose_folder(c: FolderCandidates) -> Option<(PathBuf, FolderSource)> {
    if let Some(dir) = c.flag {
        return Some((dir, FolderSource::Flag));
    }
    if let Some(dir) = c.env {
        return Some((dir, FolderSource::Env));
    }
    if c.current_has_settings {
        return Some((c.current, FolderSource::CurrentFolder));
    }
    c.system_exists
        .then(|| (PathBuf::from(SYSTEM_FOLDER), FolderSource::System))
}

/// How to choose a folder, appended to every error of this module.
const HOW_TO_CHOOSE: &str = "choose the folder that holds acsync.toml with --config-dir DIR \
     or ACSYNC_CONFIG_DIR=DIR, or run the command inside it";

/// Resolves the folder for a command given `--config-dir` (`flag`), and
/// names it on stderr. Errors when no rule applies or the folder is missing.
pub fn resolve(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    let current = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let candidates = FolderCandidates {
        flag: flag.map(Path::to_path_buf),
        env: std::env::var_os(ENV_VAR)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        current_has_settings: crate::config::settings_path(&current).is_file(),
        current,
        system_exists: Path::new(SYSTEM_FOLDER).is_dir(),
    };
    let shown_current = candidates.current.display().to_string();
    let Some((dir, source)) = choose_folder(candidates) else {
        bail!(
            "no configuration folder: the current folder ({shown_current}) holds no acsync.toml \
             and {SYSTEM_FOLDER} does not exist; {HOW_TO_CHOOSE}"
        );
    };
    if !dir.is_dir() {
        bail!(
            "the configuration folder {} ({source}) does not exist or is not a folder; {HOW_TO_CHOOSE}",
            dir.display()
        );
    }
    eprintln!("acsync: configuration folder {} ({source})", dir.display());
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> FolderCandidates {
        FolderCandidates {
            flag: None,
            env: None,
            current: PathBuf::from("/here"),
            current_has_settings: false,
            system_exists: false,
        }
    }

    #[test]
    fn the_flag_wins_over_the_environment_and_the_current_folder() {
        let c = FolderCandidates {
            flag: Some("/flag".into()),
            env: Some("/env".into()),
            current_has_settings: true,
            system_exists: true,
            ..none()
        };
        assert_eq!(choose_folder(c), Some(("/flag".into(), FolderSource::Flag)));
    }

    #[test]
    fn the_environment_wins_over_the_current_folder() {
        let c = FolderCandidates {
            env: Some("/env".into()),
            current_has_settings: true,
            ..none()
        };
        assert_eq!(choose_folder(c), Some(("/env".into(), FolderSource::Env)));
    }

    #[test]
    fn the_current_folder_wins_over_the_system_folder_only_with_acsync_toml() {
        let with = FolderCandidates {
            current_has_settings: true,
            system_exists: true,
            ..none()
        };
        assert_eq!(
            choose_folder(with),
            Some(("/here".into(), FolderSource::CurrentFolder))
        );
        let without = FolderCandidates {
            system_exists: true,
            ..none()
        };
        assert_eq!(
            choose_folder(without),
            Some((SYSTEM_FOLDER.into(), FolderSource::System))
        );
    }

    #[test]
    fn no_folder_when_no_rule_applies() {
        assert_eq!(choose_folder(none()), None);
    }
}
