//! `acsync daemon`: the service. Reads `[daemon]` settings once (changing
//! `state_dir` or `status_dir` needs a restart; connections and exports are
//! reloaded live), sets up logging, and runs the control loop until SIGTERM.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::config;
use crate::daemon::run_daemon;
use crate::run::{Runner, RunnerPaths};
use crate::service::{RunnerPort, StatusFiles};

pub fn run(config_dir: &Path) -> anyhow::Result<ExitCode> {
    let settings = config::load_settings(config_dir);
    super::logging::init(settings.daemon.log_format, "info");
    for e in &settings.errors {
        // Not fatal: exports on a broken connection show `invalid`, the others run.
        tracing::error!("{e}");
    }
    let paths = RunnerPaths::new(config_dir, &settings.daemon);
    let status = Arc::new(StatusFiles {
        exports_dir: paths.exports_dir.clone(),
        status_dir: paths.status_dir.clone(),
    });
    let runner = Arc::new(RunnerPort(Arc::new(Runner::new(paths))));
    super::runtime()?.block_on(run_daemon(config_dir.to_path_buf(), runner, status))?;
    Ok(ExitCode::SUCCESS)
}
