//! `acsync init DIR`: a starter configuration folder that works against
//! `acsync simulator`: `acsync.toml` with one connection, one commented
//! export (`exports/newsletter.toml`) and its sample segment
//! (`segments/newsletter.csv`). Folders are created 0750, `acsync.toml` and
//! the other files 0640, a key file 0600: the modes `check` asks for
//! (config/perms.rs). It never overwrites a file: one that exists stops it
//! before anything is written.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// The folder to write (created if missing; existing files are never overwritten).
    pub dir: PathBuf,
    /// The connection's URL: where `acsync simulator` listens.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The API key file the connection reads (the one given to `acsync
    /// simulator --key-file`); created (0600) with a random key if missing.
    /// Default: DIR/simulator.key.
    #[arg(long, value_name = "PATH", conflicts_with = "key_env")]
    pub key_file: Option<PathBuf>,
    /// Read the key from this environment variable instead of a file.
    #[arg(long, value_name = "VAR")]
    pub key_env: Option<String>,
}

const DIR_MODE: u32 = 0o750;
const CONFIG_MODE: u32 = 0o640;
const KEY_MODE: u32 = 0o600;

/// Where the connection's key comes from, as written into `acsync.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// `api_key_file`: a path relative to DIR, or absolute.
    File(String),
    /// `api_key_env`.
    Env(String),
}

pub fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.dir;
    let files = starter_files(&args.url, &key_ref(&args));
    let taken: Vec<String> = files
        .iter()
        .map(|(rel, _)| dir.join(rel))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !taken.is_empty() {
        anyhow::bail!(
            "{} already exists; acsync init never overwrites a file: choose a new folder",
            taken.join(", ")
        );
    }
    for (rel, text) in &files {
        let path = dir.join(rel);
        make_dirs(path.parent().unwrap_or(dir))?;
        write_new(&path, text.as_bytes(), CONFIG_MODE)?;
    }
    if args.key_env.is_none() {
        let key_path = key_path(&args);
        let (_, created) = key_from_file_or_new(&key_path)?;
        let verb = if created { "created" } else { "uses" };
        println!("{verb} key file {}", key_path.display());
    }
    print_next_steps(&args);
    Ok(ExitCode::SUCCESS)
}

fn key_path(args: &InitArgs) -> PathBuf {
    args.key_file
        .clone()
        .unwrap_or_else(|| args.dir.join("simulator.key"))
}

/// The key reference to write: `api_key_env`, or the key file relative to
/// DIR when it is inside DIR (the folder can move), else absolute.
fn key_ref(args: &InitArgs) -> KeyRef {
    if let Some(var) = &args.key_env {
        return KeyRef::Env(var.clone());
    }
    let path = key_path(args);
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (path, dir) = (abs(&path), abs(&args.dir));
    match path.strip_prefix(&dir) {
        Ok(rel) => KeyRef::File(rel.display().to_string()),
        Err(_) => KeyRef::File(path.display().to_string()),
    }
}

fn print_next_steps(args: &InitArgs) {
    let dir = args.dir.display();
    println!(
        "wrote {dir}/acsync.toml, {dir}/exports/newsletter.toml, {dir}/segments/newsletter.csv"
    );
    println!("\nNext:");
    println!("  acsync check --config-dir {dir}");
    println!("  acsync plan newsletter --config-dir {dir}    # needs `acsync simulator` running");
    println!("  acsync sync newsletter --config-dir {dir}");
}

/// The folder's files (relative path, text), pure.
pub fn starter_files(url: &str, key: &KeyRef) -> Vec<(&'static str, String)> {
    let key_line = match key {
        KeyRef::File(p) => format!("api_key_file = {}", toml_string(p)),
        KeyRef::Env(v) => format!("api_key_env = {}", toml_string(v)),
    };
    let settings = SETTINGS
        .replace("{url}", &toml_string(url))
        .replace("{key}", &key_line);
    vec![
        ("acsync.toml", settings),
        ("exports/newsletter.toml", EXPORT.to_string()),
        ("segments/newsletter.csv", SEGMENT.to_string()),
    ]
}

/// A TOML basic string (quotes and backslashes escaped).
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

const SETTINGS: &str = r#"# Written by `acsync init`. One connection, to a local ActiveCampaign
# simulator (`acsync simulator`). For your real account, set url to the REST
# endpoint shown under Settings > Developer and point the key at a file
# holding your key (never the key itself in a TOML file); then run
# `acsync doctor` if your acsync has it, or `acsync check --online`.

[daemon]
state_dir = "state"            # what acsync remembers between runs; relative to this folder
log_format = "text"            # text | json

[connections.sim]
url = {url}
{key}
accept_data_transfer = true    # acknowledges that profile data leaves your systems
requests_per_second = 5        # the account's budget, shared by every export on it
"#;

const EXPORT: &str = r#"# One export: the people in segments/newsletter.csv are the members of
# list 1 of connection `sim`. Its id is its path under exports/ without
# .toml: `acsync sync newsletter`, `acsync plan newsletter`.
connection = "sim"             # a [connections.*] name in acsync.toml
list_id = 1                    # the list's id (`acsync simulator` prints them)
schedule = "*/15 * * * *"      # when `acsync daemon` runs it: every 15 minutes
timezone = "UTC"               # IANA name the schedule is read in
prune = "owned"                # unsubscribe only whom this export subscribed
max_removals = "10%"           # never unsubscribe more than 10% of the list in one run
full_read_every = "7d"         # how often the list is read in full
drift_check_every = "24h"      # in between: what others changed (docs/run-rules.md)

[source]                       # the segment: one row per person
kind = "csv"                   # csv | jsonl | sqlite | postgres
path = "../segments/newsletter.csv"   # relative to this file

[mapping]                      # ActiveCampaign field = segment column
email = "email"
first_name = "first_name"
last_name = "last_name"

# [mapping.fields]             # custom fields: personalization tag = column
# COMPANY = "company"          # the field must exist on the account
"#;

const SEGMENT: &str = "email,first_name,last_name
ada.lovelace@example.com,Ada,Lovelace
alan.turing@example.com,Alan,Turing
grace.hopper@example.com,Grace,Hopper
edsger.dijkstra@example.com,Edsger,Dijkstra
barbara.liskov@example.com,Barbara,Liskov
";

/// Creates `dir` and its missing parents with mode 0750.
fn make_dirs(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// Writes a file that must not exist yet, created with `mode`.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let context = || format!("cannot write {}", path.display());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(context)?;
    file.write_all(bytes).with_context(context)
}

/// 72 random hex digits, the shape of an ActiveCampaign key.
pub fn random_key() -> String {
    use rand::Rng;
    let bytes: [u8; 36] = rand::rng().random();
    hex::encode(bytes)
}

/// The key in `path` (trimmed), or a new random key written there (mode
/// 0600, parent folders 0750) when the file does not exist. Returns the key
/// and whether it was created. An empty key file is an error.
pub fn key_from_file_or_new(path: &Path) -> anyhow::Result<(String, bool)> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = text.trim().to_string();
            anyhow::ensure!(!key.is_empty(), "key file {} is empty", path.display());
            Ok((key, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                make_dirs(parent)?;
            }
            let key = random_key();
            write_new(path, format!("{key}\n").as_bytes(), KEY_MODE)?;
            Ok((key, true))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read key file {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).map_or(0, |m| m.permissions().mode() & 0o777)
    }

    fn args(dir: &Path) -> InitArgs {
        InitArgs {
            dir: dir.to_path_buf(),
            url: "http://127.0.0.1:1".into(),
            key_file: None,
            key_env: None,
        }
    }

    #[test]
    fn init_writes_a_folder_check_accepts_with_safe_modes() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("mysync");
        assert!(run(args(&dir)).is_ok());
        assert_eq!(mode(&dir), 0o750);
        assert_eq!(mode(&dir.join("exports")), 0o750);
        assert_eq!(mode(&dir.join("acsync.toml")), 0o640);
        assert_eq!(mode(&dir.join("exports/newsletter.toml")), 0o640);
        assert_eq!(mode(&dir.join("simulator.key")), 0o600);
        let folder = crate::config::load_folder(&dir);
        assert!(
            folder.settings.errors.is_empty(),
            "{:?}",
            folder.settings.errors
        );
        assert!(folder.export("newsletter").is_ok());
        let warnings = crate::config::perms::warnings(&folder.settings);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn init_never_overwrites_and_writes_nothing_when_a_file_exists() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path();
        std::fs::create_dir_all(dir.join("exports")).expect("mkdir");
        std::fs::write(dir.join("exports/newsletter.toml"), "mine").expect("write");
        let err = run(args(dir))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("newsletter.toml already exists"), "{err}");
        assert!(!dir.join("acsync.toml").exists());
        let kept = std::fs::read_to_string(dir.join("exports/newsletter.toml"));
        assert_eq!(kept.ok().as_deref(), Some("mine"));
    }

    #[test]
    fn a_key_file_is_read_when_it_exists_and_created_private_when_not() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("keys/ac.key");
        let (key, created) = key_from_file_or_new(&path).expect("create");
        assert!(created);
        assert_eq!(key.len(), 72);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(key_from_file_or_new(&path).ok(), Some((key, false)));
        let toml = starter_files("http://x", &KeyRef::Env("K".into()));
        assert!(toml[0].1.contains("api_key_env = \"K\""));
    }
}
