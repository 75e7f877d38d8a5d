//! `acsync status`: every export's status file as a table, or `--json` as an
//! array of the status objects of SPEC §3.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use crate::config;
use crate::status::{self, StatusFile};

pub fn run(config_dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
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
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
        return Ok(ExitCode::SUCCESS);
    }
    let table = status::render_table(&found, chrono::Utc::now());
    print!("{}", colour(&table));
    if !missing.is_empty() {
        println!(
            "no status file yet (never seen by the daemon nor synced): {}",
            missing.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Colours outcomes on a terminal only (never in pipes, files or journald).
fn colour(table: &str) -> String {
    if !std::io::stdout().is_terminal() || std::env::var_os("NO_COLOR").is_some() {
        return table.to_string();
    }
    let mut out = table.to_string();
    for (word, code) in [
        (" failed ", "31"),
        (" blocked ", "33"),
        (" partial ", "33"),
        (" invalid ", "31"),
        (" success ", "32"),
    ] {
        out = out.replace(word, &format!(" \x1b[{code}m{}\x1b[0m ", word.trim()));
    }
    out
}
