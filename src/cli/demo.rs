//! `acsync demo`: a self-contained demonstration. Starts the in-project
//! ActiveCampaign simulator on loopback (at ActiveCampaign's real limits),
//! writes the example configuration folder of `examples/demo` pointing at
//! it, runs the real daemon until every export has synced, edits a segment
//! and waits for the next run to apply the difference, then prints the
//! status files and stops everything. Works offline; leaves nothing running.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::config::{self, LogFormat};
use crate::daemon::{Daemon, DaemonHandle};
use crate::run::port::RunnerPort;
use crate::run::{Runner, RunnerPaths};
use crate::simulator::{ChangedBy, SimConfig, Simulator};
use crate::status::StatusFiles;
use crate::status::{self, StatusFile};

/// The example folder, embedded so the demo needs nothing but the binary.
const FILES: &[(&str, &str)] = &[
    (
        "acsync.toml",
        include_str!("../../examples/demo/acsync.toml"),
    ),
    (
        "exports/newsletter.toml",
        include_str!("../../examples/demo/exports/newsletter.toml"),
    ),
    (
        "exports/emea/vip.toml",
        include_str!("../../examples/demo/exports/emea/vip.toml"),
    ),
    (
        "segments/newsletter.csv",
        include_str!("../../examples/demo/segments/newsletter.csv"),
    ),
    (
        "segments/vip.jsonl",
        include_str!("../../examples/demo/segments/vip.jsonl"),
    ),
];
const EXPORTS: &[&str] = &["newsletter", "emea/vip"];
const WAIT: Duration = Duration::from_secs(120);

pub fn run() -> anyhow::Result<ExitCode> {
    super::logging::init(LogFormat::Text, "info");
    super::runtime()?.block_on(demo())?;
    Ok(ExitCode::SUCCESS)
}

async fn demo() -> anyhow::Result<()> {
    let sim = Simulator::start(SimConfig::default())
        .await
        .context("starting the simulator")?;
    seed(&sim);
    let dir = write_folder(&sim)?;
    println!(
        "ActiveCampaign simulator: {} (5 requests/s, bulk import 100/min, as the real API)",
        sim.base_url()
    );
    println!("configuration folder:     {}\n", dir.display());
    println!("Starting the daemon; both exports run on their schedule (every 5 s)…\n");
    let (handle, task) = start_daemon(&dir);
    let outcome = walkthrough(&dir).await;
    handle.shutdown();
    task.await.context("daemon task")??;
    outcome?;
    report(&dir, &sim);
    sim.shutdown().await;
    Ok(())
}

/// What the account holds before the first run: the lists, a custom field,
/// a member added by hand (which `prune = "owned"` never touches) and a
/// contact who unsubscribed themselves (never resubscribed).
fn seed(sim: &Simulator) {
    let newsletter = sim.add_list("Newsletter");
    sim.add_list("VIP EMEA");
    sim.add_field("COMPANY", "Company");
    let editor = sim.add_contact("editor.pick@example.com", Some("Eddie"), None, None);
    sim.set_membership(editor, newsletter, 1, ChangedBy::Admin);
    let optout = sim.add_contact("optout@example.com", Some("Olga"), None, None);
    sim.set_membership(optout, newsletter, 2, ChangedBy::Contact);
}

fn write_folder(sim: &Simulator) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("acsync-demo-{}", std::process::id()));
    write_files(&dir, &sim.base_url(), &sim.api_key())?;
    Ok(dir)
}

/// The modes the package and SECURITY.md prescribe, so that the demo's
/// own files draw no permission warning: `acsync.toml` 0640, the key 0600.
const SETTINGS_MODE: u32 = 0o640;
const KEY_MODE: u32 = 0o600;

/// Writes the example folder into `dir`, pointing at `base_url` with `key`.
/// The `#:schema` lines are left out: their paths lead to the repository's
/// `schema/`, which a temporary folder has not.
fn write_files(dir: &Path, base_url: &str, key: &str) -> anyhow::Result<()> {
    for (rel, text) in FILES {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap_or(dir))?;
        let text: String = text
            .lines()
            .filter(|l| !l.starts_with("#:schema"))
            .map(|l| format!("{l}\n"))
            .collect();
        let text = text.replace("http://127.0.0.1:8025", base_url);
        let mode = (*rel == "acsync.toml").then_some(SETTINGS_MODE);
        write_file(&path, text.as_bytes(), mode)?;
    }
    write_file(&dir.join("demo.key"), key.as_bytes(), Some(KEY_MODE))
}

/// Writes `bytes` to `path`; with `mode`, the file never exists with a
/// wider one (created with it, and set again if it was already there).
fn write_file(path: &Path, bytes: &[u8], mode: Option<u32>) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let context = || format!("writing {}", path.display());
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    if let Some(m) = mode {
        opts.mode(m);
    }
    let mut file = opts.open(path).with_context(context)?;
    if let Some(m) = mode {
        file.set_permissions(std::fs::Permissions::from_mode(m))
            .with_context(context)?;
    }
    file.write_all(bytes).with_context(context)
}

fn start_daemon(
    dir: &Path,
) -> (
    DaemonHandle,
    tokio::task::JoinHandle<Result<(), crate::daemon::DaemonError>>,
) {
    let settings = config::load_settings(dir);
    let paths = RunnerPaths::new(dir, &settings.daemon);
    let status = Arc::new(StatusFiles {
        state_dir: paths.state_dir.clone(),
        exports_dir: paths.exports_dir.clone(),
        status_dir: paths.status_dir.clone(),
    });
    let runner = Arc::new(RunnerPort(Arc::new(Runner::new(paths))));
    let daemon = Daemon::new(dir.to_path_buf(), runner, status);
    let handle = daemon.handle();
    (handle, tokio::spawn(daemon.run()))
}

fn read_status(dir: &Path, id: &str) -> Option<StatusFile> {
    status::read(&config::exports_dir(dir).join(format!("{id}.status.json")))
        .ok()
        .flatten()
}

/// When the export's last finished run started, if any.
fn finished_at(dir: &Path, id: &str) -> Option<DateTime<Utc>> {
    let s = read_status(dir, id)?;
    let run = s.last_run?;
    run.outcome.map(|_| run.started_at)
}

/// Waits until every export has a run finished that started after `after`.
async fn wait_runs(dir: &Path, ids: &[&str], after: Option<DateTime<Utc>>) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let done = ids
            .iter()
            .all(|id| finished_at(dir, id).is_some_and(|t| after.is_none_or(|a| t > a)));
        if done {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("the exports did not finish within {} s", WAIT.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn walkthrough(dir: &Path) -> anyhow::Result<()> {
    wait_runs(dir, EXPORTS, None).await?;
    print_table(dir);
    println!(
        "\nFirst runs done. Now an upstream job drops a new newsletter.csv: 5 people left, 2 renamed.\n"
    );
    let before = finished_at(dir, "newsletter");
    edit_segment(&dir.join("segments/newsletter.csv"))?;
    wait_runs(dir, &["newsletter"], before).await
}

/// Drops five profiles and renames two: the next run sends only that.
fn edit_segment(path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.drain(20..25);
    for line in lines.iter_mut().skip(30).take(2) {
        let mut cols: Vec<&str> = line.split(',').collect();
        if cols.len() == 3 {
            cols[1] = "Renamed";
            *line = cols.join(",");
        }
    }
    let tmp = path.with_extension("csv.tmp");
    std::fs::write(&tmp, lines.join("\n") + "\n")?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn print_table(dir: &Path) {
    let statuses: Vec<StatusFile> = EXPORTS
        .iter()
        .filter_map(|id| read_status(dir, id))
        .collect();
    println!("\n$ acsync status --config-dir {}", dir.display());
    print!("{}", status::render_table(&statuses, Utc::now()));
}

fn report(dir: &Path, sim: &Simulator) {
    print_table(dir);
    let path = config::exports_dir(dir).join("newsletter.status.json");
    println!("\n{}:", path.display());
    if let Ok(text) = std::fs::read_to_string(&path) {
        println!("{text}");
    }
    let ledger = sim.ledger();
    println!(
        "The simulator answered {} requests ({} writes, {} limit answers):",
        ledger.total,
        ledger.writes,
        ledger.rate_limited_429 + ledger.bulk_rate_limited_400
    );
    for (endpoint, n) in &ledger.by_endpoint {
        println!("  {n:>5}  {endpoint}");
    }
    println!("\nEverything is stopped. The folder stays for you to read:");
    println!("  acsync status --config-dir {}", dir.display());
    println!(
        "  acsync plan newsletter --config-dir {}   (the simulator is gone: this one fails to connect)",
        dir.display()
    );
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
    }

    #[test]
    fn the_demo_folder_has_the_packaged_modes_and_draws_no_warning() {
        let dir = tempfile::tempdir().expect("tmp");
        // A loose leftover from an older demo is tightened, not kept.
        std::fs::write(dir.path().join("demo.key"), "old").expect("write");
        std::fs::set_permissions(
            dir.path().join("demo.key"),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
        write_files(dir.path(), "http://127.0.0.1:1", "k3y").expect("write");
        assert_eq!(mode(&dir.path().join("acsync.toml")), 0o640);
        assert_eq!(mode(&dir.path().join("demo.key")), 0o600);
        let settings = config::load_settings(dir.path());
        assert!(settings.errors.is_empty(), "{:?}", settings.errors);
        let warnings = config::perms::warnings(&settings);
        assert!(warnings.is_empty(), "{warnings:?}");
        for (rel, _) in FILES {
            let text = std::fs::read_to_string(dir.path().join(rel)).expect("read");
            assert!(
                !text.contains("#:schema"),
                "{rel} points at a schema it lacks"
            );
        }
    }
}
