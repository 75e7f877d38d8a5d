//! `acsync history NAME [--email E] [--run N] [--json]`: "when and why",
//! from the run history in the state database (`state::history`). Default:
//! the export's last runs with their counts of each change; `--run N` that
//! run's changes; `--email E` one contact's entries. It runs on the host,
//! for the operator: emails and values are shown in full. Reads only.

use std::path::Path;
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::config::{ConfigError, load_folder};
use crate::model::printable;
use crate::segment::normalize_email;
use crate::state::history::RunSummary;
use crate::state::{DB_FILE, HistoryEntry, StateDb};
use crate::status::time_text;

/// What to show: `acsync history`'s options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Query {
    /// One contact's entries (full address: this runs on the host, for the operator).
    #[arg(long, value_name = "EMAIL", conflicts_with = "run")]
    pub email: Option<String>,
    /// The changes of run N (its id, as listed without options).
    #[arg(long, value_name = "N")]
    pub run: Option<i64>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// At most N runs (or entries with --run / --email).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_LIMIT)]
    pub limit: usize,
}

/// Runs shown by default.
pub const DEFAULT_LIMIT: usize = 20;

pub fn run(config_dir: &Path, name: &str, q: &Query) -> anyhow::Result<ExitCode> {
    let folder = load_folder(config_dir);
    let name = name.trim_end_matches(".toml");
    match folder.export(name) {
        // A broken export file keeps its history: still worth reading.
        Ok(_) | Err(ConfigError::Invalid(_)) => {}
        Err(e) => {
            eprintln!("acsync: {e}");
            return Ok(ExitCode::from(1));
        }
    }
    let state_dir = &folder.settings.daemon.state_dir;
    if !state_dir.join(DB_FILE).exists() {
        if q.json {
            println!("{}", json!({ "export": name, "runs": [] }));
        } else {
            println!(
                "{name}: no run recorded yet ({} does not exist)",
                state_dir.join(DB_FILE).display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let db = StateDb::open_read_only(state_dir)?;
    let limit = q.limit.max(1);
    let out = if let Some(email) = &q.email {
        let email = normalize_email(email);
        let entries = db.contact_history(name, &email, limit)?;
        contact(name, &email, &entries, q.json)
    } else if let Some(run_id) = q.run {
        // One more than shown: whether the run has more is then known.
        let entries = db.run_history(name, Some(run_id), limit + 1)?;
        one_run(name, run_id, &entries, limit, q.json)
    } else {
        runs(name, &db.recent_runs(name, limit)?, q.json)
    };
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// `first_name=Jane, COMPANY=Acme`.
fn fields_text(e: &HistoryEntry) -> String {
    e.fields
        .iter()
        .map(|(k, v)| format!("{k}={}", printable(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The fields (if any) and the reason (if any) of an entry, for a text line.
fn detail(e: &HistoryEntry) -> String {
    let reason = e.reason.as_deref().map(|r| printable(r).into_owned());
    let via = e
        .batch
        .as_ref()
        .map(|b| format!("bulk import {}", printable(b)));
    let parts = [Some(fields_text(e)), reason, via];
    parts
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn entry_json(e: &HistoryEntry) -> Value {
    let fields: serde_json::Map<String, Value> = e
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    json!({
        "run_id": e.run_id,
        "at": e.at,
        "email": e.email,
        "change": e.change.as_str(),
        "fields": fields,
        "reason": e.reason,
        "batch": e.batch,
    })
}

fn counts_text(s: &RunSummary) -> String {
    if s.counts.is_empty() {
        return "no change".into();
    }
    s.counts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn runs(name: &str, runs: &[RunSummary], json: bool) -> String {
    if json {
        let runs: Vec<Value> = runs
            .iter()
            .map(|s| {
                let counts: serde_json::Map<String, Value> = s
                    .counts
                    .iter()
                    .map(|(k, n)| (k.as_str().to_owned(), Value::from(*n)))
                    .collect();
                json!({ "run_id": s.run_id, "at": s.at, "counts": counts })
            })
            .collect();
        return json!({ "export": name, "runs": runs }).to_string();
    }
    if runs.is_empty() {
        return format!("{name}: no run recorded yet");
    }
    let mut out = vec![format!(
        "{name}: the last {} runs, newest first",
        runs.len()
    )];
    for s in runs {
        out.push(format!(
            "  run {:<6} {}  {}",
            s.run_id,
            time_text(s.at, None),
            counts_text(s)
        ));
    }
    out.push(format!(
        "(`acsync history {name} --run N` lists a run's changes, `--email E` one contact's)"
    ));
    out.join("\n")
}

/// A run's entries, the first `limit` of them (`entries` may hold one
/// more, which tells that the run has more than shown).
fn one_run(name: &str, run_id: i64, entries: &[HistoryEntry], limit: usize, json: bool) -> String {
    let more = entries.len() > limit;
    let entries = &entries[..entries.len().min(limit)];
    if json {
        let list: Vec<Value> = entries.iter().map(entry_json).collect();
        return json!({ "export": name, "run_id": run_id, "entries": list }).to_string();
    }
    let Some(first) = entries.first() else {
        return format!("{name}: run {run_id} has no recorded change (or is not in the history)");
    };
    let n = entries.len();
    let count = match (more, n) {
        (true, _) => format!("the first {n} entries"),
        (false, 1) => "1 entry".to_owned(),
        (false, _) => format!("{n} entries"),
    };
    let mut out = vec![format!(
        "{name}: run {run_id} at {}, {count}, by email",
        time_text(first.at, None)
    )];
    for e in entries {
        out.push(format!(
            "  {:<13} {}  {}",
            e.change.as_str(),
            printable(&e.email),
            detail(e)
        ));
    }
    if more {
        out.push(format!("(the first {limit}; --limit N shows more)"));
    }
    out.join("\n")
}

fn contact(name: &str, email: &str, entries: &[HistoryEntry], json: bool) -> String {
    if json {
        let list: Vec<Value> = entries.iter().map(entry_json).collect();
        return json!({ "export": name, "email": email, "entries": list }).to_string();
    }
    if entries.is_empty() {
        return format!("{email}: nothing recorded for {name} (within its history retention)");
    }
    let mut out = vec![format!("{email} in {name}, newest first:")];
    for e in entries {
        out.push(format!(
            "  run {:<6} {}  {:<13} {}",
            e.run_id,
            time_text(e.at, None),
            e.change.as_str(),
            detail(e)
        ));
    }
    out.join("\n")
}
