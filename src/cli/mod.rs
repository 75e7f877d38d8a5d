//! Command-line entry: the clap definitions of docs/commands.md and dispatch to one
//! file per command. Exit codes: 0 success, 1 the run or check failed,
//! 2 bad usage (clap's own code for usage errors).

pub mod check;
pub mod check_online;
pub mod daemon;
pub mod demo;
pub mod docs;
pub mod doctor;
pub mod explain;
pub mod folder;
pub mod history;
pub mod init;
pub mod logging;
pub mod plan;
pub mod release;
pub mod schema;
pub mod simulator;
pub mod state;
pub mod status;
pub mod sync;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// acsync keeps ActiveCampaign lists in sync with customer segments.
#[derive(Debug, Parser)]
#[command(name = "acsync", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The configuration folder (holds `acsync.toml` and `exports/`).
#[derive(Debug, Clone, Args)]
pub struct ConfigDir {
    /// Configuration folder holding acsync.toml and exports/. Default:
    /// $ACSYNC_CONFIG_DIR, else the current folder when it holds an
    /// acsync.toml, else /etc/acsync when it exists.
    // The environment is read by `folder::resolve`, not by clap: the folder's
    // note on stderr says which of the two chose it.
    #[arg(long, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
}

impl ConfigDir {
    /// The folder the command uses (see [`folder::resolve`]).
    pub fn resolve(&self) -> anyhow::Result<PathBuf> {
        folder::resolve(self.config_dir.as_deref())
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: watch the folder, run exports on schedule, write status files.
    Daemon {
        #[command(flatten)]
        dir: ConfigDir,
    },
    /// Validate acsync.toml and export files; prints FILE:LINE:COL: message.
    Check {
        #[command(flatten)]
        dir: ConfigDir,
        /// Only these files (acsync.toml is still read for their connections).
        files: Vec<PathBuf>,
        /// How problems are printed: plain FILE:LINE:COL lines, or GitHub Actions annotations.
        #[arg(long, value_enum, default_value_t = check::Format::Plain)]
        format: check::Format,
        /// Skip named files that are neither under the folder's exports/ nor its
        /// acsync.toml (for pre-commit hooks, which pass every changed .toml file).
        #[arg(long)]
        ignore_outside: bool,
        /// Also ask ActiveCampaign: each export's list and mapped custom fields
        /// must exist on its account (read-only requests).
        #[arg(long)]
        online: bool,
    },
    /// Dry run: what a run of export NAME would add, update and remove. Writes nothing.
    Plan {
        /// The export id: its path under exports/ without .toml (e.g. emea/vip).
        name: String,
        #[command(flatten)]
        dir: ConfigDir,
        /// Print one JSON object instead of a summary (a stable format: see the README).
        #[arg(long)]
        json: bool,
        /// Exit 0 when there is nothing to change, 2 when there are changes
        /// (or removals are blocked), 1 on error, as Terraform does.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Read the list in full now, whatever full_read_every says.
        #[arg(long)]
        full_read: bool,
    },
    /// Why an address is or is not on the list, and what the next run would do for it.
    Explain {
        /// The export id: its path under exports/ without .toml.
        name: String,
        /// The address to explain (shown in full: this runs on the host, for the operator).
        email: String,
        #[command(flatten)]
        dir: ConfigDir,
        /// Print one JSON object with a section per question.
        #[arg(long)]
        json: bool,
        /// Do not ask ActiveCampaign: answer from the segment and the local state only.
        #[arg(long)]
        offline: bool,
    },
    /// Run export NAME now and write its status file.
    Sync {
        /// The export id: its path under exports/ without .toml.
        name: String,
        #[command(flatten)]
        dir: ConfigDir,
        /// Apply unsubscribes even above max_removals, for this run only.
        #[arg(long)]
        allow_removals: bool,
        /// Read the list in full now, whatever full_read_every says.
        #[arg(long)]
        full_read: bool,
        /// After a lost state database: take ownership of the list's active
        /// members that are in the segment (see the README, "Lost state").
        #[arg(long)]
        adopt: bool,
    },
    /// Let the list's other exports manage what a deleted export NAME kept
    /// (its members are otherwise never unsubscribed by them).
    Release {
        /// The deleted export's id: its former path under exports/ without .toml.
        name: String,
        #[command(flatten)]
        dir: ConfigDir,
    },
    /// Show every export's status file as a table, or one export in detail.
    Status(status::StatusArgs),
    /// The state database: `state reset [--adopt]` moves a damaged one aside and adopts again.
    State(state::StateArgs),
    /// Read-only checks of the configuration against the real account, each with a verdict and a fix.
    Doctor {
        /// Check only this export (and its connection).
        #[arg(conflicts_with = "connection")]
        name: Option<String>,
        /// Check only this connection and its exports.
        #[arg(long, value_name = "C")]
        connection: Option<String>,
        #[command(flatten)]
        dir: ConfigDir,
        /// Print one JSON object: `ok` and every check.
        #[arg(long)]
        json: bool,
    },
    /// When and why: export NAME's last runs and their changes, from the run history.
    History {
        /// The export id: its path under exports/ without .toml.
        name: String,
        #[command(flatten)]
        dir: ConfigDir,
        #[command(flatten)]
        query: history::Query,
    },
    /// A self-contained demonstration on a local ActiveCampaign simulator.
    Demo,
    /// Serve the ActiveCampaign simulator for your own configuration, until Ctrl-C.
    Simulator(simulator::SimulatorArgs),
    /// Write a starter configuration folder: acsync.toml, one export, a sample segment.
    Init(init::InitArgs),
    /// Print a shell completion script (e.g. `acsync completions bash > /etc/bash_completion.d/acsync`).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; e.g. `acsync man | man -l -`).
    Man,
    /// Print the JSON Schema of export files or acsync.toml, or write both into DIR.
    #[command(hide = true)]
    Schema {
        /// Which schema to print.
        #[arg(value_enum)]
        file: Option<schema::SchemaFile>,
        /// Write acsync.schema.json and export.schema.json into DIR instead.
        #[arg(long, value_name = "DIR", conflicts_with = "file")]
        write: Option<PathBuf>,
    },
}

/// Parses the command line, runs the command, and maps the result to an exit code.
pub fn main() -> ExitCode {
    match dispatch(Cli::parse().command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("acsync: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs one command.
fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check {
            dir,
            files,
            format,
            ignore_outside,
            online,
        } => check::run(&dir.resolve()?, &files, format, ignore_outside, online),
        Command::Daemon { dir } => daemon::run(&dir.resolve()?),
        Command::Plan {
            name,
            dir,
            json,
            detailed_exitcode,
            full_read,
        } => plan::run(&dir.resolve()?, &name, json, detailed_exitcode, full_read),
        Command::Explain {
            name,
            email,
            dir,
            json,
            offline,
        } => explain::run(&dir.resolve()?, &name, &email, json, offline),
        Command::Sync {
            name,
            dir,
            allow_removals,
            full_read,
            adopt,
        } => sync::run(
            &dir.resolve()?,
            &name,
            sync::options(allow_removals, full_read, adopt),
        ),
        Command::Release { name, dir } => release::run(&dir.resolve()?, &name),
        Command::Status(args) => status::run(args),
        Command::State(args) => state::run(args),
        Command::Doctor {
            name,
            connection,
            dir,
            json,
        } => doctor::run(
            &dir.resolve()?,
            name.as_deref(),
            connection.as_deref(),
            json,
        ),
        Command::History { name, dir, query } => history::run(&dir.resolve()?, &name, &query),
        Command::Demo => demo::run(),
        Command::Simulator(args) => simulator::run(args),
        Command::Init(args) => init::run(args),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man => docs::man(),
        Command::Schema { file, write } => schema::run(file, write),
    }
}

/// Loads the folder and export `name`; on failure prints why and returns the exit code.
pub fn load_one(
    config_dir: &std::path::Path,
    name: &str,
) -> Result<(crate::config::Folder, crate::config::Export), ExitCode> {
    let folder = crate::config::load_folder(config_dir);
    let export = match folder.export(name.trim_end_matches(".toml")) {
        Ok(e) => e.clone(),
        Err(crate::config::ConfigError::Invalid(errors)) => {
            for e in errors {
                println!("{e}");
            }
            eprintln!("acsync: export `{name}` is invalid; nothing was run");
            return Err(ExitCode::from(1));
        }
        Err(e) => {
            eprintln!("acsync: {e}");
            return Err(ExitCode::from(1));
        }
    };
    Ok((folder, export))
}

/// The multi-threaded runtime of the async commands (see [`Runtime`]),
/// with [`worker_threads`] workers.
pub fn runtime() -> anyhow::Result<Runtime> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads())
        .enable_all()
        .build()?;
    Ok(Runtime(Some(rt)))
}

/// Twice the cores, at least 4 and at most 16 (`TOKIO_WORKER_THREADS`
/// overrides). The work is paced network calls with short CPU bursts (a
/// batch of 250 contacts serialised, an answer parsed): with one worker a
/// core, the bursts of a few connections delay every other connection's
/// send past the instant its pacer let it go, and the server may count six
/// requests in its second (measured: BENCHMARKS.md item 8, 20 accounts on 2
/// cores, 0 to 5 limit answers a run with 2 workers, none with more). The
/// extra workers cost an idle thread each.
pub fn worker_threads() -> usize {
    let from_env = std::env::var("TOKIO_WORKER_THREADS").ok();
    if let Some(n) = from_env.and_then(|v| v.trim().parse::<usize>().ok()) {
        return n.max(1);
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 2).clamp(4, 16)
}

/// How long a finished command waits for blocking threads still running.
const RUNTIME_SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A tokio runtime whose drop waits at most [`RUNTIME_SHUTDOWN_GRACE`] for
/// blocking threads (tokio's own drop waits for ever): a source read stuck
/// on a FIFO or a hung mount, abandoned by its run, must not keep `sync` or
/// a stopping daemon alive. The command's own work is
/// done by then; what is left is a thread no one waits for.
pub struct Runtime(Option<tokio::runtime::Runtime>);

impl std::ops::Deref for Runtime {
    type Target = tokio::runtime::Runtime;

    fn deref(&self) -> &Self::Target {
        match &self.0 {
            Some(rt) => rt,
            None => unreachable!("the runtime is only taken by drop"),
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_timeout(RUNTIME_SHUTDOWN_GRACE);
        }
    }
}
