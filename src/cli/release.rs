//! `acsync release NAME`: lets the other exports of a deleted export's list
//! manage the members it kept (docs/ownership.md, "Deleting an export").
//! The rule and the write are `run::retired::release`.

use std::path::Path;
use std::process::ExitCode;

use crate::run::retired::release;

pub fn run(config_dir: &Path, name: &str) -> anyhow::Result<ExitCode> {
    let folder = crate::config::load_folder(config_dir);
    if !folder.settings.errors.is_empty() {
        for e in &folder.settings.errors {
            println!("{e}");
        }
        eprintln!("acsync: acsync.toml is invalid; nothing was released");
        return Ok(ExitCode::from(1));
    }
    let name = name.trim_end_matches(".toml");
    match release(&folder, name) {
        Ok(r) => {
            let list = r.scope.unwrap_or_else(|| "its list".into());
            println!(
                "released the deleted export `{name}`: the other exports of {list} manage the members it kept from their next run on"
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("acsync release: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
