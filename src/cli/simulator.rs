//! `acsync simulator`: the in-project ActiveCampaign simulator served on its
//! own, for trying your own configuration without an account. It prints the
//! `url` and key to paste into `acsync.toml` and serves until Ctrl-C or
//! SIGTERM; with `--state-file` the account is loaded at start, saved every
//! 30 s when something was written, and saved again on the way out.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::init::{key_from_file_or_new, random_key};
use crate::config::LogFormat;
use crate::simulator::{Seed, SimConfig, Simulator};

/// The address served when `--listen` is not given (`127.0.0.1:0` picks a
/// free port).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The lists of a fresh account when `--lists` is not given.
const DEFAULT_LISTS: &str = "Newsletter";
/// How often a changed account is written to `--state-file`.
const SAVE_EVERY: Duration = Duration::from_secs(30);
/// How long a stop waits for bulk batches just submitted to land.
const SETTLE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Args)]
pub struct SimulatorArgs {
    /// Address to serve on (127.0.0.1:0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// The lists to create: a count N (lists "List 1".."List N") or names
    /// separated by commas ("Newsletter,VIP"). List ids follow the order, from 1.
    /// Default: one list, "Newsletter". On a fresh start only, not over a
    /// loaded --state-file.
    #[arg(long, value_name = "N|NAMES")]
    pub lists: Option<String>,
    /// Read the API key from this file; created (mode 0600) with a random key
    /// if it does not exist. Without it a random key is printed.
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
    /// Requests per second the account allows (ActiveCampaign's limit is 5);
    /// 0 = unlimited.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub rps: u32,
    /// Contacts, custom fields and memberships to start with. CSV (.csv): a
    /// header with `email` and any of first_name, last_name, phone, tags and
    /// lists (`;`-separated, `Name` or `Name:unsubscribed`); other columns are
    /// text custom fields by personalization tag. JSON: {"lists": [names],
    /// "fields": [{"perstag", "title", "type", "options"}], "contacts":
    /// [{"email", "first_name", "last_name", "phone", "fields": {TAG: value},
    /// "tags": [..], "lists": {name: "active"|"unsubscribed"|..}}]}. Applied on
    /// a fresh start only, not over a loaded --state-file.
    #[arg(long, value_name = "PATH")]
    pub seed_file: Option<PathBuf>,
    /// Keep the account in this JSON file between restarts (loaded at start,
    /// saved every 30 s after a change and on Ctrl-C/SIGTERM; mode 0600).
    #[arg(long, value_name = "PATH")]
    pub state_file: Option<PathBuf>,
}

pub fn run(args: SimulatorArgs) -> anyhow::Result<ExitCode> {
    super::logging::init(LogFormat::Text, "warn");
    let lists = list_names(args.lists.as_deref().unwrap_or(DEFAULT_LISTS))?;
    let seed = args.seed_file.as_deref().map(read_seed).transpose()?;
    let (key, key_note) = match &args.key_file {
        Some(path) => {
            let (key, created) = key_from_file_or_new(path)?;
            let verb = if created {
                "new key written to"
            } else {
                "key read from"
            };
            (key, format!("{verb} {}", path.display()))
        }
        None => (random_key(), "random key, printed below".to_string()),
    };
    let cfg = SimConfig {
        api_key: key,
        requests_per_second: args.rps,
        ..SimConfig::default()
    };
    // A plain runtime, not `cli::Runtime`: the simulator starts no blocking
    // work a stop would have to abandon (and this file stays out of the
    // `cli` import cycle).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(serve(args, cfg, lists, seed, key_note))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(
    args: SimulatorArgs,
    cfg: SimConfig,
    lists: Vec<String>,
    seed: Option<Seed>,
    key_note: String,
) -> anyhow::Result<()> {
    let sim = Simulator::start_on(args.listen, cfg)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let loaded = match &args.state_file {
        Some(path) => sim.load_state(path)?,
        None => false,
    };
    if !loaded {
        setup(&sim, &lists, seed.as_ref())?;
    }
    // Before the banner: a script that stops the simulator once it has
    // read the banner must find the handlers in place.
    let stop = StopSignals::install().context("cannot handle SIGINT and SIGTERM")?;
    print_banner(&sim, &args, loaded, &key_note);
    let outcome = serve_until_stopped(&sim, args.state_file.as_deref(), stop).await;
    sim.shutdown().await;
    outcome
}

/// A fresh account: the lists, then the seed.
fn setup(sim: &Simulator, lists: &[String], seed: Option<&Seed>) -> anyhow::Result<()> {
    for name in lists {
        sim.add_list(name);
    }
    if let Some(seed) = seed {
        let sum = sim.apply_seed(seed)?;
        println!(
            "seeded from {}: {} contacts, {} new lists, {} new fields",
            seed.origin, sum.contacts, sum.lists, sum.fields
        );
    }
    Ok(())
}

/// Serves until a stop signal, saving the state when asked, every
/// [`SAVE_EVERY`] after a write and once more at the end.
async fn serve_until_stopped(
    sim: &Simulator,
    state: Option<&Path>,
    mut signals: StopSignals,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(SAVE_EVERY);
    tick.tick().await;
    let mut saved_writes = sim.ledger().writes;
    let stop = signals.received();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {
                let writes = sim.ledger().writes;
                if let (Some(path), true) = (state, writes != saved_writes) {
                    // A failed periodic save is retried at the next tick and at exit.
                    match sim.save_state(path) {
                        Ok(()) => saved_writes = writes,
                        Err(e) => tracing::warn!("{e}"),
                    }
                }
            }
        }
    }
    eprintln!("acsync simulator: stopping…");
    if let Some(path) = state {
        sim.settle(SETTLE).await;
        sim.save_state(path)?;
        eprintln!("acsync simulator: account saved to {}", path.display());
    }
    Ok(())
}

/// Ctrl-C (SIGINT) and SIGTERM, caught from the moment they are installed.
struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> std::io::Result<StopSignals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(StopSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// The first of the two.
    async fn received(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

fn print_banner(sim: &Simulator, args: &SimulatorArgs, loaded: bool, key_note: &str) {
    let url = sim.base_url();
    let rps = match args.rps {
        0 => "unlimited requests/s".to_string(),
        n => format!("{n} requests/s"),
    };
    println!("ActiveCampaign simulator on {url} ({rps}; {key_note})");
    if let (Some(path), true) = (&args.state_file, loaded) {
        println!("account loaded from {}", path.display());
    }
    if let Some(notice) = ignored_over_loaded_state(args, loaded) {
        println!("{notice}");
    }
    for (id, name) in sim.lists() {
        println!("list_id = {id}    # {name}");
    }
    // What `[mapping.fields]` can map to: a field's tag (or its id).
    for (id, tag, kind) in sim.fields() {
        println!("custom field {tag} (id {id}, {kind})");
    }
    println!("\nPaste into acsync.toml:\n");
    println!("[connections.sim]");
    println!("url = \"{url}\"");
    match &args.key_file {
        Some(path) => println!("api_key_file = \"{}\"", absolute(path).display()),
        None => {
            println!(
                "api_key_env = \"ACSYNC_SIM_KEY\"    # export ACSYNC_SIM_KEY={}",
                sim.api_key()
            );
        }
    }
    println!("accept_data_transfer = true");
    // acsync paces itself to this; any budget fits an unlimited simulator.
    let budget = if args.rps == 0 { 5 } else { args.rps };
    println!("requests_per_second = {budget}");
    println!("\nServing until Ctrl-C.");
}

/// What a loaded `--state-file` made the simulator ignore, said so that a
/// user who changed `--seed-file` or `--lists` does not wonder why nothing
/// changed.
fn ignored_over_loaded_state(args: &SimulatorArgs, loaded: bool) -> Option<String> {
    let state = args.state_file.as_ref().filter(|_| loaded)?;
    let ignored: Vec<&str> = [
        args.seed_file.as_ref().map(|_| "--seed-file"),
        args.lists.as_ref().map(|_| "--lists"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if ignored.is_empty() {
        return None;
    }
    Some(format!(
        "{} ignored: the account was loaded from {} (they apply to a fresh start only; delete that file to start afresh)",
        ignored.join(" and "),
        state.display()
    ))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `--lists`: a count or comma-separated names.
pub fn list_names(spec: &str) -> anyhow::Result<Vec<String>> {
    let spec = spec.trim();
    if let Ok(n) = spec.parse::<u32>() {
        anyhow::ensure!(
            (1..=1000).contains(&n),
            "--lists {n}: give 1 to 1000 lists, or their names"
        );
        return Ok((1..=n).map(|i| format!("List {i}")).collect());
    }
    let names: Vec<String> = spec
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    anyhow::ensure!(
        !names.is_empty(),
        "--lists: give a count or names (\"Newsletter,VIP\")"
    );
    Ok(names)
}

fn read_seed(path: &Path) -> anyhow::Result<Seed> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read seed file {}", path.display()))?;
    let origin = path.display().to_string();
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let seed = if is_csv {
        Seed::from_csv(&origin, &text)?
    } else {
        Seed::from_json(&origin, &text)?
    };
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_take_a_count_or_names() {
        assert_eq!(
            list_names("2").ok(),
            Some(vec!["List 1".into(), "List 2".into()])
        );
        assert_eq!(
            list_names(" Newsletter, VIP ,").ok(),
            Some(vec!["Newsletter".into(), "VIP".into()])
        );
        assert!(list_names("0").is_err());
        assert!(list_names(" , ").is_err());
    }
}
