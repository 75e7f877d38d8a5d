//! The status room: the only code that knows a status file (docs/status-file.md). Its
//! model and the run bookkeeping carried from one file to the next (see
//! §4b), where each file lives, the atomic write, the read, masking, the
//! `acsync status` table and detail view, the daemon's status port
//! ([`StatusFiles`]) and the probe that tells whether a daemon is running.
//! `acsync sync` and the daemon both write through here.
//!
//! A status file is read by people, scripts and monitoring while the daemon
//! rewrites it, so it is replaced by rename, never written in place. Emails
//! in it are masked on the way out whatever the caller passed in, and it
//! never holds a secret: the model has no field that could carry one.

mod daemon_lock;
mod detail;
mod drift;
mod file;
mod mask;
mod model;
mod sink;
mod table;
#[cfg(test)]
mod test_support;

pub use daemon_lock::{DaemonLock, DaemonLockError, DaemonProbe, hold_daemon_lock, probe_daemon};
pub use detail::{detail_sections, render_detail, time_text};
pub use drift::DriftCheck;
pub use file::{StatusError, read, remove, status_path, write_atomic};
pub use model::{
    CurrentRun, ExportState, Failure, LastRun, MAX_FAILURES, Outcome, RunCounts, StatusFile,
    Trigger, run_counts,
};
pub use sink::{StatusFiles, StatusSink};
pub use table::{TableStyle, render_table, render_table_styled, render_table_with};
