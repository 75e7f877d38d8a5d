//! `acsync doctor [NAME | --connection C]`: picks what to check, runs the
//! read-only checks of [`crate::account_check`] and prints each finding
//! (`ok`, `warn`, `FAIL`) with what was found and, when not ok, the fix
//! ([`render`]). Exit 0 when nothing failed (warnings do not fail), 1
//! otherwise. Nothing is written (no state, no status file). The state
//! database is checked too ([`state`]).

pub mod render;
pub mod state;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::account_check::{self, Finding, connection, export};
use crate::config::{self, Connection, Export, Folder};
use crate::run::{Runner, RunnerPaths};
use crate::target_check::AccountFields;

/// What to check: a connection and the exports on it.
struct Target {
    conn: Arc<Connection>,
    exports: Vec<Export>,
}

pub fn run(
    config_dir: &Path,
    name: Option<&str>,
    connection: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let folder = config::load_folder(config_dir);
    super::logging::init(folder.settings.daemon.log_format, "warn");
    let (targets, mut all) = match select(config_dir, &folder, name, connection) {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    all.push(state::finding(&folder.settings.daemon.state_dir));
    let runner = Runner::new(RunnerPaths::new(config_dir, &folder.settings.daemon));
    let rt = super::runtime()?;
    let show = |findings: &[Finding]| {
        if !json {
            print!("{}", render::render_lines(findings));
        }
    };
    show(&all);
    rt.block_on(async {
        let mut fields = AccountFields::default();
        for t in &targets {
            let (conn_findings, client) = connection::connection(&runner, &t.conn).await;
            show(&conn_findings);
            all.extend(conn_findings);
            for e in &t.exports {
                let found = match &client {
                    Some(c) => export::export(c, e, &mut fields).await,
                    None => vec![export::not_checked(e)],
                };
                show(&found);
                all.extend(found);
            }
        }
    });
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&render::render_json(&all))?
        );
    } else {
        print!("{}", render::summary(&all));
    }
    Ok(if account_check::passed(&all) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The targets of `NAME`, `--connection C` or everything, with a FAIL line
/// for each invalid export or connection met on the way. An unknown or
/// invalid NAME or C is printed and ends the command (exit 1).
fn select(
    config_dir: &Path,
    folder: &Folder,
    name: Option<&str>,
    connection: Option<&str>,
) -> Result<(Vec<Target>, Vec<Finding>), ExitCode> {
    if let Some(name) = name {
        let (_, export) = super::load_one(config_dir, name)?;
        let conn = export.connection.clone();
        let exports = vec![export];
        return Ok((vec![Target { conn, exports }], Vec::new()));
    }
    let settings = &folder.settings;
    if let Some(c) = connection {
        known_connection(settings, c)?;
    }
    let wanted = |n: &str| connection.is_none_or(|c| c == n);
    let mut by_conn: BTreeMap<&str, Target> = settings
        .connections
        .iter()
        .filter(|(n, _)| wanted(n))
        .map(|(n, c)| (n.as_str(), Target::new(c)))
        .collect();
    let mut invalid = Vec::new();
    for e in &folder.exports {
        match &e.result {
            Ok(x) => {
                if let Some(t) = by_conn.get_mut(x.connection.name.as_str()) {
                    t.exports.push(x.clone());
                }
            }
            Err(errors) if connection.is_none() => {
                invalid.push(account_check::invalid_export(&e.id, errors));
            }
            Err(_) => {}
        }
    }
    if connection.is_none() {
        let file = &settings.file;
        let broken = settings.broken.iter();
        invalid.extend(broken.map(|c| account_check::broken_connection(c, file)));
    }
    if by_conn.is_empty() && invalid.is_empty() {
        let file = settings.file.display();
        eprintln!("acsync doctor: nothing to check: {file} declares no connection");
        return Err(ExitCode::from(1));
    }
    Ok((by_conn.into_values().collect(), invalid))
}

impl Target {
    fn new(conn: &Arc<Connection>) -> Target {
        Target {
            conn: conn.clone(),
            exports: Vec::new(),
        }
    }
}

/// `--connection C` names a valid connection; otherwise says why (exit 1).
fn known_connection(settings: &config::Settings, c: &str) -> Result<(), ExitCode> {
    if settings.connections.contains_key(c) {
        return Ok(());
    }
    let file = settings.file.display();
    let why = if settings.broken.contains(c) {
        format!("connection `{c}` is invalid in {file}; run `acsync check`")
    } else {
        let known: Vec<&str> = settings.connections.keys().map(String::as_str).collect();
        format!(
            "no connection `{c}` in {file} (it has: {})",
            known.join(", ")
        )
    };
    eprintln!("acsync doctor: {why}");
    Err(ExitCode::from(1))
}
