//! `acsync explain NAME EMAIL`: parses the arguments, asks the library
//! (`crate::explain`) and prints its answer, in sentences or as JSON. Shows
//! the full address (it runs on the host; status files and logs stay
//! masked).

mod render;

use std::path::Path;
use std::process::ExitCode;

use super::{load_one, runtime};
use crate::run::{Runner, RunnerPaths};
use crate::segment::normalize_email;

pub fn run(
    config_dir: &Path,
    name: &str,
    email: &str,
    json: bool,
    offline: bool,
) -> anyhow::Result<ExitCode> {
    let (folder, export) = match load_one(config_dir, name) {
        Ok(v) => v,
        Err(code) => return Ok(code),
    };
    super::logging::init(folder.settings.daemon.log_format, "warn");
    let email = normalize_email(email);
    let paths = RunnerPaths::new(config_dir, &folder.settings.daemon);
    let rt = runtime()?;
    let runner = Runner::new(paths);
    let answer = rt.block_on(crate::explain::explain(&runner, &export, &email, offline));
    let (x, live_error) = match answer {
        Ok(v) => v,
        Err(e) => {
            eprintln!("acsync explain: {}: {e}", export.id);
            return Ok(ExitCode::from(1));
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&x)?);
    } else {
        for line in render::text(&x, &export.schedule.tz) {
            println!("{line}");
        }
    }
    if let Some(e) = live_error {
        eprintln!(
            "acsync explain: {}: cannot read ActiveCampaign: {e}",
            export.id
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
