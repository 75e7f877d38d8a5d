//! `acsync status`: every export's status file as a table, or `--json` as an
//! array of the status objects of SPEC §3. `--watch` redraws the table every
//! few seconds: in place on a terminal, as repeated blocks in a pipe or a
//! file (so `acsync status --watch > log` is a readable record). Ctrl-C ends
//! it (the default SIGINT action: nothing is held open that needs cleanup).

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::config;
use crate::status::{self, StatusFile};

/// Clears the screen and moves the cursor home (ANSI, as `watch(1)` does).
const CLEAR: &str = "\x1b[H\x1b[2J";

pub fn run(config_dir: &Path, json: bool, watch: Option<u64>) -> anyhow::Result<ExitCode> {
    if let Some(secs) = watch {
        return watch_loop(config_dir, Duration::from_secs(secs));
    }
    let (found, missing) = read_all(config_dir);
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
    } else {
        print!("{}", table(&found, &missing, use_colour()));
    }
    Ok(ExitCode::SUCCESS)
}

/// Redraws until interrupted; returns only on a write error (closed pipe).
fn watch_loop(config_dir: &Path, every: Duration) -> anyhow::Result<ExitCode> {
    let tty = std::io::stdout().is_terminal();
    let colour = use_colour();
    loop {
        let (found, missing) = read_all(config_dir);
        let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S");
        let header = format!(
            "acsync status, every {} s, {now} (Ctrl-C to stop)",
            every.as_secs()
        );
        let body = table(&found, &missing, colour);
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

/// The status files found, and the exports that have none yet.
fn read_all(config_dir: &Path) -> (Vec<StatusFile>, Vec<String>) {
    let folder = config::load_folder(config_dir);
    let d = &folder.settings.daemon;
    let exports_dir = config::exports_dir(config_dir);
    let mut found: Vec<StatusFile> = Vec::new();
    let mut missing = Vec::new();
    for e in &folder.exports {
        let path = status::status_path(&exports_dir, d.status_dir.as_deref(), &e.id);
        match status::read(&path) {
            Ok(Some(s)) => found.push(s),
            Ok(None) => missing.push(e.id.clone()),
            Err(err) => eprintln!("acsync status: {err}"),
        }
    }
    (found, missing)
}

fn table(found: &[StatusFile], missing: &[String], colour: bool) -> String {
    let mut out = status::render_table_styled(found, chrono::Utc::now(), colour);
    if !missing.is_empty() {
        out.push_str(&format!(
            "no status file yet (never seen by the daemon nor synced): {}\n",
            missing.join(", ")
        ));
    }
    out
}

/// Colour on a terminal only (never in pipes, files or journald), and never
/// when `NO_COLOR` is set (no-color.org).
fn use_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}
