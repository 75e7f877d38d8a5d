//! `acsync status`: every export's status file as a table, or `--json` as an
//! array of the status objects of docs/status-file.md; `acsync status NAME` shows one
//! export in detail (or `--json`, its status object). The table says when no
//! daemon runs on the folder: its `next_run` column would otherwise look
//! healthy. `--wide` shows errors whole. `--watch` redraws the table every
//! few seconds: in place on a terminal, as repeated blocks in a pipe or a
//! file (so `acsync status --watch > log` is a readable record). Ctrl-C ends
//! it (the default SIGINT action: nothing is held open that needs cleanup).

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::config::{self, ConfigError};
use crate::status::{self, DaemonProbe, StatusFile, StatusFiles, TableStyle};

/// Clears the screen and moves the cursor home (ANSI, as `watch(1)` does).
const CLEAR: &str = "\x1b[H\x1b[2J";

/// What `acsync status` was asked for.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub dir: super::ConfigDir,
    /// One export (e.g. emea/vip): every field of its status file.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// Print a JSON array of the status objects (with NAME: that one object).
    #[arg(long, conflicts_with = "watch")]
    pub json: bool,
    /// Redraw every SECONDS (default 2) until Ctrl-C.
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "2",
          value_parser = clap::value_parser!(u64).range(1..), conflicts_with = "name")]
    pub watch: Option<u64>,
    /// Show errors whole instead of cut to fit the table.
    #[arg(long)]
    pub wide: bool,
}

pub fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let config_dir = &args.dir.resolve()?;
    if let Some(name) = &args.name {
        return detail(config_dir, name, args.json);
    }
    let style = TableStyle {
        colour: use_colour(),
        wide: args.wide,
    };
    if let Some(secs) = args.watch {
        return watch_loop(config_dir, Duration::from_secs(secs), style);
    }
    let all = read_all(config_dir);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all.found)?);
    } else {
        print!("{}", table(&all, style));
    }
    Ok(ExitCode::SUCCESS)
}

/// Redraws until interrupted; returns only on a write error (closed pipe).
fn watch_loop(config_dir: &Path, every: Duration, style: TableStyle) -> anyhow::Result<ExitCode> {
    let tty = std::io::stdout().is_terminal();
    loop {
        let all = read_all(config_dir);
        let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S");
        let header = format!(
            "acsync status, every {} s, {now} (Ctrl-C to stop)",
            every.as_secs()
        );
        let body = table(&all, style);
        let mut out = std::io::stdout().lock();
        let frame = if tty {
            format!("{CLEAR}{header}\n\n{body}")
        } else {
            format!("{header}\n{body}\n")
        };
        if out
            .write_all(frame.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            // The reader went away (`| head`): a watch has nothing left to do.
            return Ok(ExitCode::SUCCESS);
        }
        drop(out);
        std::thread::sleep(every);
    }
}

/// `acsync status NAME`: the detail view, or the status object with `json`.
fn detail(config_dir: &Path, name: &str, json: bool) -> anyhow::Result<ExitCode> {
    let folder = config::load_folder(config_dir);
    if let Err(e @ ConfigError::NoSuchExport { .. }) = folder.export(name) {
        return Err(e.into());
    }
    // An export that does not validate has a status file too, without a
    // zone or a source.
    let export = folder.export(name).ok();
    let tz = export.map(|e| e.schedule.tz);
    let files = StatusFiles::new(config_dir, &folder.settings.daemon);
    let found = files
        .read(name)
        .with_context(|| format!("acsync status {name}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
        return Ok(ExitCode::SUCCESS);
    }
    let Some(s) = found else {
        println!("{name}: no status file yet (never seen by the daemon nor synced)");
        return Ok(ExitCode::SUCCESS);
    };
    let mut sections =
        status::detail_sections(&s, tz, export.map(|e| &e.source), chrono::Utc::now());
    let state_dir = crate::run::RunnerPaths::new(config_dir, &folder.settings.daemon).state_dir;
    sections.push(last_runs(&state_dir, name, tz));
    sections.push(daemon_notice(config_dir).into_iter().collect());
    print!("{}", status::render_detail(&sections));
    Ok(ExitCode::SUCCESS)
}

/// How many runs of the history the detail view lists.
const LAST_RUNS: usize = 5;

/// The detail view's "last runs" section, from the run history of the
/// state database (nothing when there is none yet, a line when it cannot
/// be read: the rest of the view still shows).
fn last_runs(state_dir: &Path, name: &str, tz: Option<chrono_tz::Tz>) -> Vec<String> {
    if !state_dir.join(crate::state::DB_FILE).exists() {
        return Vec::new();
    }
    let runs = crate::state::StateDb::open_read_only(state_dir)
        .and_then(|db| db.recent_runs(name, LAST_RUNS));
    let runs = match runs {
        Ok(runs) if runs.is_empty() => return Vec::new(),
        Ok(runs) => runs,
        Err(e) => return vec![format!("last runs: cannot read the run history: {e}")],
    };
    let mut out = vec![format!(
        "last runs (run history; `acsync history {name}` for more):"
    )];
    for r in runs {
        let counts: Vec<String> = r
            .counts
            .iter()
            .map(|(kind, n)| format!("{n} {}", kind.as_str()))
            .collect();
        let counts = match counts.is_empty() {
            true => "no change".to_string(),
            false => counts.join(", "),
        };
        out.push(format!(
            "  run {} at {}: {counts}",
            r.run_id,
            status::time_text(r.at, tz)
        ));
    }
    out
}

/// What the table shows: the status files found, the exports that have
/// none yet, and the notice when no daemon runs.
struct Found {
    found: Vec<StatusFile>,
    missing: Vec<String>,
    notice: Option<String>,
}

fn read_all(config_dir: &Path) -> Found {
    let folder = config::load_folder(config_dir);
    let files = StatusFiles::new(config_dir, &folder.settings.daemon);
    let mut found: Vec<StatusFile> = Vec::new();
    let mut missing = Vec::new();
    for e in &folder.exports {
        match files.read(&e.id) {
            Ok(Some(s)) => found.push(s),
            Ok(None) => missing.push(e.id.clone()),
            Err(err) => eprintln!("acsync status: {err}"),
        }
    }
    let notice = daemon_notice(config_dir);
    Found {
        found,
        missing,
        notice,
    }
}

fn table(all: &Found, style: TableStyle) -> String {
    let mut out = status::render_table_with(&all.found, chrono::Utc::now(), style);
    if !all.missing.is_empty() {
        out.push_str(&format!(
            "no status file yet (never seen by the daemon nor synced): {}\n",
            all.missing.join(", ")
        ));
    }
    if let Some(notice) = &all.notice {
        out.push_str(notice);
        out.push('\n');
    }
    out
}

/// A line when no daemon runs on `config_dir` (or when that cannot be told):
/// the `next_run` shown would not happen. Probed on the folder itself, so a
/// broken acsync.toml does not hide a running daemon.
fn daemon_notice(config_dir: &Path) -> Option<String> {
    let dir = config_dir.display();
    match status::probe_daemon(config_dir) {
        DaemonProbe::Running => None,
        DaemonProbe::NotRunning => Some(format!(
            "no daemon is running on {dir}: next runs will not happen (start it with `systemctl start acsync` or `acsync daemon --config-dir {dir}`)"
        )),
        DaemonProbe::Unknown(why) => Some(format!(
            "cannot tell whether a daemon is running on {dir}: {why}"
        )),
    }
}

/// Colour on a terminal only (never in pipes, files or journald), and never
/// when `NO_COLOR` is set (no-color.org).
fn use_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}
