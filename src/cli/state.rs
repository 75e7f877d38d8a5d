//! `acsync state reset [--adopt]`: the way forward from a damaged state
//! database (docs/ownership.md, lost state). It moves the database aside,
//! kept under a timestamped name ([`crate::state::damage::move_aside`]),
//! and with `--adopt` runs every enabled export once with `sync --adopt`
//! semantics, so the next scheduled run goes on as usual. Refused while the
//! daemon or a run holds the folder's state.

use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use tokio_util::sync::CancellationToken;

use super::ConfigDir;
use crate::config::{Export, Folder};
use crate::run::{RunOptions, Runner, RunnerPaths, Trigger};
use crate::state::damage::{self, Integrity};
use crate::status::{DaemonProbe, probe_daemon};

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Move the state database aside (it is kept, timestamped) and, with
    /// --adopt, adopt every enabled export's list again.
    Reset {
        #[command(flatten)]
        dir: ConfigDir,
        /// Then run every enabled export once as `sync --adopt` does.
        #[arg(long)]
        adopt: bool,
    },
}

#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(subcommand)]
    pub command: StateCommand,
}

pub fn run(args: StateArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        StateCommand::Reset { dir, adopt } => reset(&dir.resolve()?, adopt),
    }
}

fn reset(config_dir: &Path, adopt: bool) -> anyhow::Result<ExitCode> {
    let folder = crate::config::load_folder(config_dir);
    super::logging::init(folder.settings.daemon.log_format, "warn");
    let state_dir = folder.settings.daemon.state_dir.clone();
    if let Some(why) = busy(&state_dir, &folder) {
        eprintln!("acsync state reset: {why}; nothing was moved");
        return Ok(ExitCode::from(1));
    }
    match damage::check(&state_dir) {
        Ok(Integrity::Missing) => {
            eprintln!(
                "acsync state reset: there is no state database in {}",
                state_dir.display()
            );
            return Ok(ExitCode::from(1));
        }
        Ok(Integrity::Intact) => println!("the state database is intact; moving it aside anyway"),
        Ok(Integrity::Damaged(why)) => println!("the state database is damaged: {why}"),
        Err(e) => println!("the state database could not be checked: {e}"),
    }
    let kept = damage::move_aside(&state_dir, chrono::Utc::now())?;
    println!("moved aside, kept as {}", kept.display());
    if !adopt {
        println!(
            "the next run of each export needs `acsync sync NAME --adopt` (or run `acsync state reset --adopt` next time)"
        );
        return Ok(ExitCode::SUCCESS);
    }
    adopt_all(config_dir, &folder)
}

/// Why the state is in use: a daemon on this folder, or a run of one of its
/// exports (whose lock is held).
fn busy(state_dir: &Path, folder: &Folder) -> Option<String> {
    match probe_daemon(state_dir) {
        DaemonProbe::Running => {
            return Some("the daemon runs on this folder: stop it first".into());
        }
        DaemonProbe::Unknown(why) => return Some(why),
        DaemonProbe::NotRunning => {}
    }
    let mut ids = folder.exports.iter().map(|e| e.id.as_str());
    ids.find_map(|id| crate::state::lock_export(state_dir, id).err())
        .map(|e| e.to_string())
}

/// Runs every valid, enabled export once with `--adopt`; exit 0 when each
/// succeeded.
fn adopt_all(config_dir: &Path, folder: &Folder) -> anyhow::Result<ExitCode> {
    let runner = Runner::new(RunnerPaths::new(config_dir, &folder.settings.daemon));
    let exports: Vec<&Export> = folder
        .exports
        .iter()
        .filter_map(|e| e.result.as_ref().ok())
        .filter(|e| e.enabled)
        .collect();
    let rt = super::runtime()?;
    let mut all_ok = true;
    for export in exports {
        let opts = RunOptions {
            adopt: true,
            ..RunOptions::default()
        };
        let run = runner.run(export, Trigger::Manual, opts, CancellationToken::new());
        match rt.block_on(run) {
            Ok(report) => {
                let outcome = report.outcome.as_str();
                all_ok &= report.outcome == crate::status::Outcome::Success;
                match &report.last_run.error {
                    Some(e) => println!("adopted `{}`: {outcome}: {e}", export.id),
                    None => println!("adopted `{}`: {outcome}", export.id),
                }
            }
            Err(e) => {
                all_ok = false;
                println!("`{}` not adopted: {e}", export.id);
            }
        }
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
