//! The daemon shell (`acsync daemon`, README.md, running under systemd): one control loop that owns
//! time, signals and the folder watch, and starts runs.
//!
//! * [`schedule`]: pure cron arithmetic (DST, missed runs);
//! * [`registry`]: pure diff of the folder against the running set;
//! * [`watch`]: the notify watcher, level-triggered;
//! * [`notify`]: systemd `READY=1`/`STATUS=`/`WATCHDOG=1`;
//! * the two traits the daemon is given, re-exported here: [`ExportRunner`]
//!   (defined beside the run, `run::port`) and [`StatusSink`] (beside the
//!   status files, `status::sink`), so that neither room imports the daemon;
//! * [`clock`]: the wall clock it schedules by (injected: tests pause it);
//! * [`settings`]: the last good `acsync.toml`, kept while the saved one is
//!   broken;
//! * `control`: the loop itself.
//!
//! Everything that can happen reaches the loop as one [`Control`] message on
//! one channel (watcher, SIGHUP, SIGTERM/SIGINT, a [`DaemonHandle`]), besides
//! its own timers (scheduler, periodic rescan, watchdog) and finished runs.
//! The loop never sleeps longer than `max_sleep` and re-reads the wall clock
//! on every wake, so suspend and clock steps cannot make it miss a run
//! (a sleeping `tokio::time::sleep` does not count suspended time).
//!
//! Usage from the CLI (signals handled inside, returns on SIGTERM/SIGINT
//! once runs in flight have stopped; exit 0):
//!
//! ```no_run
//! # async fn f(runner: std::sync::Arc<dyn acsync::daemon::ExportRunner>,
//! #            status: std::sync::Arc<dyn acsync::daemon::StatusSink>) -> anyhow::Result<()> {
//! acsync::daemon::run_daemon("/etc/acsync".into(), runner, status).await?;
//! # Ok(()) }
//! ```

pub mod clock;
mod control;
pub mod notify;
pub mod registry;
pub mod schedule;
pub mod settings;
pub mod watch;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::info;

pub use crate::run::port::{ExportRunner, RunEnded, RunFuture, RunNotStarted, RunResult};
pub use crate::status::StatusSink;
pub use clock::{Clock, SystemClock, TokioClock};
pub use schedule::ExportId;

/// Why the folder is re-read (for logs; a SIGHUP also brackets the reload
/// with `RELOADING=1` … `READY=1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The watcher saw a change.
    Watch,
    /// SIGHUP (`systemctl reload`).
    Signal,
    /// The periodic safety-net rescan.
    Rescan,
    /// [`DaemonHandle::reload`].
    Request,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Watch => "folder changed",
            Reason::Signal => "SIGHUP",
            Reason::Rescan => "periodic rescan",
            Reason::Request => "requested",
        })
    }
}

/// A message to the control loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Re-read the folder and apply the difference. Never stops the daemon.
    Reload(Reason),
    /// Stop taking runs, cancel those in flight, wait for them (bounded), return.
    Shutdown,
}

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot install the {signal} handler: {source}")]
    Signal {
        signal: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// Tunables; the defaults are the service's.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// Safety-net full rescan, whatever the watcher says.
    pub rescan_every: Duration,
    /// Longest single sleep of the loop (suspend, clock steps).
    pub max_sleep: Duration,
    /// Quiet time before a burst of file events becomes one reload.
    pub debounce: Duration,
    /// How long shutdown waits for runs in flight; keep well inside the
    /// unit's `TimeoutStopSec=`.
    pub stop_grace: Duration,
    /// Handle SIGHUP/SIGTERM/SIGINT (off in tests, which use a [`DaemonHandle`]).
    pub signals: bool,
    /// Watch the folder with inotify. Off: rely on the periodic rescan and
    /// SIGHUP alone (network filesystems, where inotify reports nothing).
    pub watch: bool,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            rescan_every: Duration::from_secs(60),
            max_sleep: Duration::from_secs(30),
            debounce: Duration::from_millis(400),
            stop_grace: Duration::from_secs(25),
            signals: true,
            watch: true,
        }
    }
}

/// Sends [`Control`] messages to a running daemon.
#[derive(Debug, Clone)]
pub struct DaemonHandle {
    tx: mpsc::UnboundedSender<Control>,
}

impl DaemonHandle {
    /// Asks for a reload, as SIGHUP does (without the systemd bracketing).
    pub fn reload(&self) {
        let _ = self.tx.send(Control::Reload(Reason::Request));
    }

    /// Asks for a clean shutdown, as SIGTERM does.
    pub fn shutdown(&self) {
        let _ = self.tx.send(Control::Shutdown);
    }
}

/// A daemon ready to run over `config_dir`.
pub struct Daemon {
    config_dir: PathBuf,
    runner: Arc<dyn ExportRunner>,
    status: Arc<dyn StatusSink>,
    options: DaemonOptions,
    clock: Arc<dyn Clock>,
    tx: mpsc::UnboundedSender<Control>,
    rx: mpsc::UnboundedReceiver<Control>,
}

impl Daemon {
    pub fn new(
        config_dir: PathBuf,
        runner: Arc<dyn ExportRunner>,
        status: Arc<dyn StatusSink>,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Daemon {
            config_dir,
            runner,
            status,
            options: DaemonOptions::default(),
            clock: Arc::new(SystemClock),
            tx,
            rx,
        }
    }

    pub fn with_options(mut self, options: DaemonOptions) -> Self {
        self.options = options;
        self
    }

    /// Schedules by `clock` instead of the system's wall clock (tests:
    /// [`TokioClock`] under paused tokio time).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn handle(&self) -> DaemonHandle {
        DaemonHandle {
            tx: self.tx.clone(),
        }
    }

    /// Runs until [`Control::Shutdown`] (SIGTERM/SIGINT or a handle), then
    /// stops runs in flight and returns `Ok` (exit 0).
    pub async fn run(self) -> Result<(), DaemonError> {
        let signals = if self.options.signals {
            Some(spawn_signals(self.tx.clone())?)
        } else {
            None
        };
        control::Loop::new(self).run().await;
        if let Some(task) = signals {
            task.abort();
        }
        info!("stopped");
        Ok(())
    }
}

/// `acsync daemon`: [`Daemon`] with the default options and signal handling.
pub async fn run_daemon(
    config_dir: PathBuf,
    runner: Arc<dyn ExportRunner>,
    status: Arc<dyn StatusSink>,
) -> Result<(), DaemonError> {
    Daemon::new(config_dir, runner, status).run().await
}

/// Turns signals into [`Control`] messages: SIGHUP reloads (never stops the
/// daemon), SIGTERM and SIGINT shut down.
fn spawn_signals(
    tx: mpsc::UnboundedSender<Control>,
) -> Result<tokio::task::JoinHandle<()>, DaemonError> {
    let install = |kind: SignalKind, name: &'static str| {
        signal(kind).map_err(|source| DaemonError::Signal {
            signal: name,
            source,
        })
    };
    let mut hup = install(SignalKind::hangup(), "SIGHUP")?;
    let mut term = install(SignalKind::terminate(), "SIGTERM")?;
    let mut int = install(SignalKind::interrupt(), "SIGINT")?;
    Ok(tokio::spawn(async move {
        loop {
            let msg = tokio::select! {
                _ = hup.recv() => Control::Reload(Reason::Signal),
                _ = term.recv() => Control::Shutdown,
                _ = int.recv() => Control::Shutdown,
            };
            if tx.send(msg).is_err() {
                break;
            }
        }
    }))
}

#[cfg(test)]
mod tests;
