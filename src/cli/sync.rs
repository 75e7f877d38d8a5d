//! `acsync sync NAME`: run one export now, write its status file, and exit 0
//! only on `success` (`partial`, `failed` and `blocked` exit 1).

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{load_one, runtime};
use crate::daemon::schedule::next_after;
use crate::run::{RunOptions, Runner, RunnerPaths, Trigger};
use crate::status::Outcome;

/// Ctrl-C (SIGINT) and SIGTERM stop the run the same way: after the
/// current batch, with the run recorded.
async fn stop_on_signal(cancel: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        // Without a SIGTERM handler, Ctrl-C still works.
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("acsync sync: stopping after the current batch…");
    cancel.cancel();
}

pub fn run(config_dir: &Path, name: &str, opts: RunOptions) -> anyhow::Result<ExitCode> {
    let (folder, export) = match load_one(config_dir, name) {
        Ok(v) => v,
        Err(code) => return Ok(code),
    };
    super::logging::init(folder.settings.daemon.log_format, "warn");
    let runner = Runner::new(RunnerPaths::new(config_dir, &folder.settings.daemon));
    let opts = RunOptions {
        next_run: next_after(&export.schedule, chrono::Utc::now()),
        ..opts
    };
    let cancel = CancellationToken::new();
    let rt = runtime()?;
    let report = rt.block_on(async {
        let spinner = Spinner::start(&export.id);
        tokio::spawn(stop_on_signal(cancel.clone()));
        // A stop also abandons a read stuck on a pipe or a dead mount.
        let run = runner.run(&export, Trigger::Manual, opts, cancel.clone());
        let r = crate::source::cancel_reads_with(cancel, run).await;
        spinner.stop();
        r
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("acsync sync: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let l = &report.last_run;
    let secs = l.duration_ms.unwrap_or(0) as f64 / 1000.0;
    let wrote = l.added + l.updated + l.removed + l.failed > 0;
    if report.outcome != Outcome::Success && !wrote {
        // A run stopped before its first write: a row of zeros would read
        // as a result; the error below says why.
        println!(
            "{}: {}, nothing changed ({} API requests, {secs:.1} s)",
            export.id,
            report.outcome.as_str(),
            l.api_requests
        );
    } else {
        print_counts(&export.id, &report);
    }
    if let Some(e) = &l.error {
        println!("{}: {e}", export.id);
    }
    println!("status: {}", runner.status_path(&export.id).display());
    Ok(match report.outcome {
        Outcome::Success => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

/// The one-line summary of a run that read its segment and planned.
fn print_counts(id: &str, report: &crate::run::RunReport) {
    let l = &report.last_run;
    let changes = counted(&[
        (l.added, "added"),
        (l.updated, "updated"),
        (l.removed, "removed"),
        (l.unchanged, "unchanged"),
        (l.kept_unsubscribed, "kept unsubscribed"),
        (l.kept_bounced, "kept bounced"),
        (l.kept_unconfirmed, "kept unconfirmed"),
        (l.kept_other_status, "kept (other status)"),
        (l.failed, "failed"),
    ]);
    let rows = counted(&[
        (l.invalid_rows, "invalid rows"),
        (l.duplicate_rows, "duplicates"),
    ]);
    println!(
        "{id}: {} ({} profiles: {changes}; {rows}; {} API requests, {:.1} s)",
        report.outcome.as_str(),
        l.profiles,
        l.api_requests,
        l.duration_ms.unwrap_or(0) as f64 / 1000.0
    );
}

/// `3 added, 1 updated`: counts with their labels, for the one-line
/// summaries of `sync` and `plan`.
pub fn counted(counts: &[(u64, &str)]) -> String {
    let parts: Vec<String> = counts
        .iter()
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    parts.join(", ")
}

/// A spinner on a terminal (nothing otherwise) while a run or plan works.
pub struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    pub fn start(what: &str) -> Spinner {
        if !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(format!("{what}: reading, planning, applying…"));
        bar.enable_steady_tick(Duration::from_millis(120));
        Spinner(Some(bar))
    }

    pub fn stop(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}

/// The options of a run started by `acsync sync` (never scheduled: no next run).
pub fn options(allow_removals: bool, full_read: bool, adopt: bool) -> crate::run::RunOptions {
    crate::run::RunOptions {
        allow_removals,
        full_read,
        adopt,
        ..Default::default()
    }
}
