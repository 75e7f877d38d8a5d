//! A broken `acsync.toml` saved while the daemon runs must not stop every
//! export (see docs/configuration.md). [`LastGood`] remembers the last `acsync.toml` that
//! loaded without an error; while the file on disk has errors, the export
//! files are validated against that one instead, so every export keeps its
//! connection and its schedule (and edits to export files are still taken).
//! The errors are reported, never hidden: [`Health`] carries them for the
//! log, the status files and the metrics, and the fix is taken on the next
//! reload.
//!
//! At start-up there is no last good file: a broken `acsync.toml` then
//! leaves the folder as loaded (exports on a broken or missing connection
//! are invalid, the others run), as before.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::{
    ErrorKind, Folder, LoadedExport, Located, Settings, exports_dir, key_digest, load_export,
};

/// How `acsync.toml` stands after a load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// No error: the file as saved is in use.
    Valid,
    /// The file has errors; the last good one is in use.
    Fallback(Vec<Located>),
    /// The file has errors and none was good before (start-up): the folder
    /// is used as loaded.
    Broken(Vec<Located>),
}

impl Health {
    /// The errors, if any.
    pub fn errors(&self) -> &[Located] {
        match self {
            Health::Valid => &[],
            Health::Fallback(e) | Health::Broken(e) => e,
        }
    }

    /// The prefix of systemd's `STATUS=` line (`systemctl status`) while the
    /// file has errors.
    pub fn status_note(&self) -> Option<&'static str> {
        match self {
            Health::Valid => None,
            Health::Fallback(_) => Some("acsync.toml has errors, the last valid one is in use; "),
            Health::Broken(_) => Some("acsync.toml has errors; "),
        }
    }

    /// What export status files show while the daemon runs on the last good
    /// file: the errors as `acsync.toml:LINE:COL: message` lines, the path
    /// relative to the configuration folder. `None` when nothing is owed.
    pub fn status_error(&self, config_dir: &Path) -> Option<String> {
        let Health::Fallback(errors) = self else {
            return None;
        };
        let lines: Vec<String> = errors
            .iter()
            .map(|e| e.relative_to(config_dir).to_string())
            .collect();
        Some(lines.join("\n"))
    }
}

/// The last `acsync.toml` that loaded without an error.
#[derive(Debug, Default)]
pub struct LastGood {
    good: Option<Settings>,
}

impl LastGood {
    /// The folder to use and how its `acsync.toml` stands. A valid file
    /// becomes the last good one; with a broken one, the export files are
    /// validated again against the last good settings.
    pub fn resolve(&mut self, mut folder: Folder) -> (Folder, Health) {
        if folder.settings.errors.is_empty() {
            self.good = Some(folder.settings.clone());
            return (folder, Health::Valid);
        }
        let errors = folder.settings.errors.clone();
        let Some(good) = &self.good else {
            return (folder, Health::Broken(errors));
        };
        let dir = exports_dir(&folder.dir);
        for e in &mut folder.exports {
            // Files that could not be read or named keep their own error.
            if e.sha256.is_some() {
                *e = load_export(good, &dir, &e.file);
                explain_fallback(e);
            }
        }
        crate::config::shared_lists::refuse_prune_all_on_shared_lists(&mut folder.exports);
        folder.settings = good.clone();
        (folder, Health::Fallback(errors))
    }
}

/// An export on a connection the last good `acsync.toml` does not define
/// (one the saved file adds, say) says why it is unknown: "unknown
/// connection" alone would hide that the cause is the broken file.
fn explain_fallback(e: &mut LoadedExport) {
    let Err(errors) = &mut e.result else { return };
    if errors
        .iter()
        .any(|l| l.kind == ErrorKind::UnknownConnection)
    {
        let note = Located::whole_file(ErrorKind::UnknownConnection, &e.file, FALLBACK_NOTE);
        errors.push(note);
    }
}

/// The note of [`explain_fallback`].
pub const FALLBACK_NOTE: &str = "acsync.toml has errors, so this export is checked against the \
     last valid acsync.toml, which does not define its connection; it runs once acsync.toml is \
     fixed";

/// How a connection's key stands since the last reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    /// Its source holds another key: the next run of its exports uses it.
    Changed { connection: String },
    /// Its source cannot be read any more (the error names the source).
    Unreadable { connection: String, error: String },
}

/// The key of each connection as last read, kept as a digest: a rotated key
/// is noticed and logged on a reload (SIGHUP, a folder change, the periodic
/// rescan) without a second copy of it in memory. Runs read the key
/// themselves (see docs/configuration.md, secrets).
#[derive(Debug, Default)]
pub struct KeyDigests {
    /// `None`: the key could not be read. Empty before the first reading.
    seen: BTreeMap<String, Option<[u8; 32]>>,
}

impl KeyDigests {
    /// Reads every connection's key; what changed since the last call
    /// (nothing on the first call, and nothing for a new connection).
    pub fn reread(&mut self, settings: &Settings) -> Vec<KeyChange> {
        let mut changes = Vec::new();
        let mut now = BTreeMap::new();
        for (name, conn) in &settings.connections {
            let read = conn.read_api_key();
            let digest = read.as_ref().ok().map(key_digest);
            match (self.seen.get(name), read) {
                (Some(before), Err(e)) if before.is_some() => changes.push(KeyChange::Unreadable {
                    connection: name.clone(),
                    error: e.to_string(),
                }),
                (Some(before), Ok(_)) if *before != digest => changes.push(KeyChange::Changed {
                    connection: name.clone(),
                }),
                _ => {}
            }
            now.insert(name.clone(), digest);
        }
        self.seen = now;
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_folder;

    const GOOD: &str = "[connections.prod]\nurl = \"http://127.0.0.1:9\"\n\
                        api_key_env = \"X\"\naccept_data_transfer = true\n";
    const EXPORT: &str = "connection = \"prod\"\nlist_id = 1\nschedule = \"0 0 1 1 *\"\n\
                          [source]\nkind = \"csv\"\npath = \"x.csv\"\n[mapping]\nemail = \"email\"\n";

    fn folder(settings: &str) -> (tempfile::TempDir, Folder) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("exports/emea")).expect("mkdir");
        std::fs::write(dir.path().join("acsync.toml"), settings).expect("write");
        std::fs::write(dir.path().join("exports/emea/vip.toml"), EXPORT).expect("write");
        let f = load_folder(dir.path());
        (dir, f)
    }

    fn valid(f: &Folder) -> bool {
        f.exports.iter().all(|e| e.result.is_ok())
    }

    #[test]
    fn a_broken_file_after_a_good_one_keeps_the_good_settings() {
        let mut last = LastGood::default();
        let (_d, f) = folder(GOOD);
        assert_eq!(last.resolve(f).1, Health::Valid);
        let (dir, f) = folder("[connections.prod\nurl = 1\n");
        assert!(!valid(&f), "as loaded, the export has no connection");
        let (f, health) = last.resolve(f);
        assert!(valid(&f), "{:?}", f.exports);
        assert!(matches!(health, Health::Fallback(_)), "{health:?}");
        let shown = health.status_error(dir.path()).expect("status error");
        assert!(shown.starts_with("acsync.toml:1:"), "{shown}");
        assert!(
            health
                .status_note()
                .is_some_and(|n| n.contains("last valid"))
        );
    }

    #[test]
    fn an_export_on_a_connection_only_the_broken_file_defines_says_so() {
        let mut last = LastGood::default();
        let (_d, f) = folder(GOOD);
        last.resolve(f);
        // The saved file adds `eu` (and breaks elsewhere); the export moves to it.
        let broken = format!("{}{}", GOOD.replace("prod", "eu"), "[daemon]\nbogus = 1\n");
        let (dir, _) = folder(&broken);
        let export = EXPORT.replace("\"prod\"", "\"eu\"");
        std::fs::write(dir.path().join("exports/emea/vip.toml"), export).expect("write");
        let f = load_folder(dir.path());
        let (f, health) = last.resolve(f);
        assert!(matches!(health, Health::Fallback(_)), "{health:?}");
        let errors = f.exports[0]
            .result
            .as_ref()
            .expect_err("eu is unknown to the last good");
        assert!(
            errors[0].message.contains("unknown connection `eu`"),
            "{errors:?}"
        );
        assert_eq!(
            errors.last().map(|l| l.message.as_str()),
            Some(FALLBACK_NOTE)
        );
        // An export failing for another reason gets no note.
        let export = EXPORT.replace("0 0 1 1 *", "61 0 1 1 *");
        std::fs::write(dir.path().join("exports/emea/vip.toml"), export).expect("write");
        let broken = format!("{GOOD}[daemon]\nbogus = 1\n");
        std::fs::write(dir.path().join("acsync.toml"), broken).expect("write");
        let (f, _) = last.resolve(load_folder(dir.path()));
        let errors = f.exports[0].result.as_ref().expect_err("a bad schedule");
        assert!(
            errors.iter().all(|l| l.message != FALLBACK_NOTE),
            "{errors:?}"
        );
    }

    /// The note follows the error's kind, not its wording.
    #[test]
    fn the_fallback_note_follows_the_unknown_connection_kind() {
        let file = std::path::Path::new("exports/vip.toml");
        let export = |kind: ErrorKind, message: &str| LoadedExport {
            id: "vip".into(),
            file: file.to_path_buf(),
            sha256: None,
            result: Err(vec![Located::whole_file(kind, file, message)]),
        };
        let mut unknown = export(ErrorKind::UnknownConnection, "no connection `eu` here");
        explain_fallback(&mut unknown);
        let errors = unknown.result.expect_err("invalid");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[1].message, FALLBACK_NOTE);
        assert_eq!(errors[1].kind, ErrorKind::UnknownConnection);
        let mut other = export(ErrorKind::InvalidValue, "unknown connection-like wording");
        explain_fallback(&mut other);
        assert_eq!(other.result.expect_err("invalid").len(), 1);
    }

    #[test]
    fn at_start_a_broken_file_is_used_as_loaded() {
        let mut last = LastGood::default();
        let (dir, f) = folder("[connections.prod\n");
        let (f, health) = last.resolve(f);
        assert!(!valid(&f));
        assert!(matches!(health, Health::Broken(_)), "{health:?}");
        assert_eq!(health.status_error(dir.path()), None);
    }

    #[test]
    fn a_rewritten_key_file_is_a_change_and_the_same_key_is_none() {
        let settings = GOOD.replace("api_key_env = \"X\"", "api_key_file = \"k\"");
        let (dir, _) = folder(&settings);
        let key = dir.path().join("k");
        std::fs::write(&key, "old-key\n").expect("key");
        let read = || load_folder(dir.path()).settings;
        let mut keys = KeyDigests::default();
        assert_eq!(
            keys.reread(&read()),
            vec![],
            "the first reading is no change"
        );
        std::fs::write(&key, "old-key").expect("key");
        assert_eq!(keys.reread(&read()), vec![], "the same key, written again");
        std::fs::write(&key, "new-key").expect("key");
        let changed = KeyChange::Changed {
            connection: "prod".into(),
        };
        assert_eq!(keys.reread(&read()), vec![changed]);
        assert_eq!(keys.reread(&read()), vec![]);
        std::fs::remove_file(&key).expect("rm");
        let changes = keys.reread(&read());
        assert!(
            matches!(&changes[..], [KeyChange::Unreadable { error, .. }] if error.contains("key file") && !error.contains("new-key")),
            "{changes:?}"
        );
    }

    #[test]
    fn a_fixed_file_is_taken_again() {
        let mut last = LastGood::default();
        let (_d, f) = folder(GOOD);
        last.resolve(f);
        let (_d, f) = folder("oops");
        assert!(matches!(last.resolve(f).1, Health::Fallback(_)));
        let fixed = GOOD.replace("127.0.0.1:9", "127.0.0.1:10");
        let (_d, f) = folder(&fixed);
        let (f, health) = last.resolve(f);
        assert_eq!(health, Health::Valid);
        let url = f.exports[0]
            .result
            .as_ref()
            .map(|e| e.connection.base_url.to_string());
        assert!(url.is_ok_and(|u| u.contains(":10")));
    }
}
