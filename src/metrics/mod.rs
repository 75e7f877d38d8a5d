//! Prometheus metrics of the daemon, served on `[daemon] metrics_listen`
//! (off by default) next to a `/healthz` endpoint.
//!
//! A small hand-written registry rather than the `metrics` facade: the set
//! of series is fixed and small, the text exposition format is simple, and
//! an instance per daemon (no process-global recorder) lets tests run
//! several daemons in one process and read exactly what one recorded. The
//! standard `process_*` series come from the `prometheus` crate's
//! `/proc` collector ([`process`]).
//!
//! * [`Metrics`]: the registry and its recording API;
//! * [`ports`]: decorators of the daemon's ports (over any port) that record
//!   every run, every state change and every configuration error without
//!   the control loop knowing;
//! * [`server`]: the HTTP endpoint;
//! * `render`: the exposition of every family.
//!
//! Every export the daemon knows has all its series from the moment it is
//! seen (zeros, `0` timestamps meaning "never"), so `increase()` sees the
//! first failure and `absent()` means what it says. Label values are export
//! ids and connection names, never secrets: cardinality is bounded by the
//! number of export files and connections. README "Metrics and health"
//! lists every series with its meaning.

pub mod ports;
mod process;
mod render;
pub mod server;
mod text;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::status::{ExportState, StatusFile};

/// Upper bounds of the run-duration histogram, in seconds: from a quiet run
/// that sends nothing to a first sync of a large list.
const DURATION_BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0];

/// The per-contact counters, in the order of [`Contacts`].
const CONTACT_KINDS: [&str; 4] = ["added", "updated", "unsubscribed", "failed"];

/// Every value of the `outcome` label of `acsync_runs_total`.
const OUTCOMES: [&str; 6] = [
    "success",
    "partial",
    "failed",
    "blocked",
    "interrupted",
    "not_started",
];

/// The outcomes a finished run can have (`acsync_last_run_outcome`).
const RUN_OUTCOMES: [&str; 5] = ["success", "partial", "failed", "blocked", "interrupted"];

/// Every value of the `state` label of `acsync_export_state`.
const STATES: [ExportState; 4] = [
    ExportState::Idle,
    ExportState::Running,
    ExportState::Invalid,
    ExportState::Disabled,
];

/// Why members of the segment were not made active members, in the order
/// of [`Kept`] and of the status file's `kept_*` counts: `unsubscribed`
/// (opted out themselves), `bounced`, `unconfirmed` (awaiting double opt-in).
const KEPT_REASONS: [&str; 3] = ["unsubscribed", "bounced", "unconfirmed"];

/// Contact counts of one run: added, updated, unsubscribed, failed.
pub type Contacts = [u64; 4];

/// Contacts kept out of the list by one run, by [`KEPT_REASONS`].
pub type Kept = [u64; 3];

/// What one finished run contributes.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub export: String,
    pub connection: String,
    /// `success`, `partial`, `failed` or `blocked`.
    pub outcome: &'static str,
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    /// added, updated, unsubscribed, failed.
    pub contacts: Contacts,
    pub api_requests: u64,
    /// 429 answers and bulk "Rate limit exceeded" answers.
    pub limit_answers: u64,
    /// When the run finished, if it succeeded.
    pub success_at: Option<DateTime<Utc>>,
    /// Valid, distinct profiles the segment held.
    pub profiles: u64,
    /// Source rows refused before any request (invalid email, missing field).
    pub invalid_rows: u64,
    pub kept: Kept,
}

/// Cumulative histogram counts of one export's run durations.
#[derive(Debug, Clone, Default)]
struct Histogram {
    /// One count per bucket of [`DURATION_BUCKETS`] (not cumulative).
    buckets: [u64; DURATION_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        if let Some(i) = DURATION_BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += secs;
    }
}

/// Everything recorded about one export.
#[derive(Debug, Clone)]
struct ExportSeries {
    /// Runs by [`OUTCOMES`] index.
    runs: [u64; OUTCOMES.len()],
    durations: Histogram,
    contacts: Contacts,
    last_success: Option<DateTime<Utc>>,
    /// When the last run started.
    last_run: Option<DateTime<Utc>>,
    /// Index in [`RUN_OUTCOMES`] of the last finished run's outcome.
    last_outcome: Option<usize>,
    next_run: Option<DateTime<Utc>>,
    /// Runs in a row not `success` (as the status file counts them).
    consecutive_failures: u32,
    profiles: u64,
    invalid_rows: u64,
    kept: Kept,
    state: ExportState,
    /// The status file was read (or a run recorded): do not seed again.
    seeded: bool,
}

impl Default for ExportSeries {
    fn default() -> Self {
        ExportSeries {
            runs: [0; OUTCOMES.len()],
            durations: Histogram::default(),
            contacts: [0; 4],
            last_success: None,
            last_run: None,
            last_outcome: None,
            next_run: None,
            consecutive_failures: 0,
            profiles: 0,
            invalid_rows: 0,
            kept: [0; 3],
            state: ExportState::Idle,
            seeded: false,
        }
    }
}

/// Requests and rate-limit answers of one connection.
#[derive(Debug, Clone, Copy, Default)]
struct ConnectionSeries {
    requests: u64,
    limit_answers: u64,
}

#[derive(Debug, Default)]
struct State {
    exports: BTreeMap<String, ExportSeries>,
    connections: BTreeMap<String, ConnectionSeries>,
    /// `acsync.toml` has errors now.
    settings_error: bool,
}

impl State {
    fn export(&mut self, id: &str) -> &mut ExportSeries {
        self.exports.entry(id.to_string()).or_default()
    }
}

/// The registry: everything the daemon reports, rendered on each scrape.
#[derive(Debug, Default)]
pub struct Metrics {
    state: Mutex<State>,
    process: process::Process,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while recording leaves counts that are still counts.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes every series of `export` (and of its connection) exist, at
    /// zero if nothing was recorded yet.
    pub fn register(&self, export: &str, connection: Option<&str>) {
        let mut s = self.state();
        s.export(export);
        if let Some(c) = connection {
            s.connections.entry(c.to_string()).or_default();
        }
    }

    /// What the export is doing now, and when it runs next (`None`: not
    /// scheduled, as for a disabled or invalid export).
    pub fn set_state(&self, export: &str, state: ExportState, next_run: Option<DateTime<Utc>>) {
        let mut s = self.state();
        let e = s.export(export);
        e.state = state;
        e.next_run = next_run;
    }

    /// A run of `export` started at `at`; the export runs next at `next_run`.
    pub fn run_started(&self, export: &str, at: DateTime<Utc>, next_run: Option<DateTime<Utc>>) {
        let mut s = self.state();
        let e = s.export(export);
        e.state = ExportState::Running;
        e.last_run = Some(at);
        e.next_run = next_run;
    }

    /// Records a finished run; the export is idle again.
    pub fn record_run(&self, r: &RunRecord) {
        let mut s = self.state();
        let c = s.connections.entry(r.connection.clone()).or_default();
        c.requests += r.api_requests;
        c.limit_answers += r.limit_answers;
        let e = s.export(&r.export);
        if let Some(i) = OUTCOMES.iter().position(|o| *o == r.outcome) {
            e.runs[i] += 1;
        }
        e.last_outcome = RUN_OUTCOMES.iter().position(|o| *o == r.outcome);
        e.durations.observe(r.duration.as_secs_f64());
        for (total, n) in e.contacts.iter_mut().zip(r.contacts) {
            *total += n;
        }
        if let Some(t) = r.success_at {
            e.last_success = Some(t);
        }
        // SPEC §4b: only a success resets the count.
        e.consecutive_failures = match r.outcome {
            "success" => 0,
            _ => e.consecutive_failures.saturating_add(1),
        };
        e.last_run = Some(r.started_at);
        e.profiles = r.profiles;
        e.invalid_rows = r.invalid_rows;
        e.kept = r.kept;
        e.state = ExportState::Idle;
        e.seeded = true;
    }

    /// A run that could not start (another process holds the export's lock).
    pub fn record_not_started(&self, export: &str) {
        let mut s = self.state();
        let e = s.export(export);
        e.runs[OUTCOMES.len() - 1] += 1;
        if e.state == ExportState::Running {
            e.state = ExportState::Idle;
        }
    }

    /// What the export's status file says about runs before this process
    /// started, so a restart does not make every export look never-run.
    /// Read once per export; anything this process recorded wins.
    pub fn seed(&self, export: &str, status: &StatusFile) {
        let mut s = self.state();
        let e = s.export(export);
        if std::mem::replace(&mut e.seeded, true) {
            return;
        }
        e.last_success = e.last_success.or(status.last_success_at);
        e.consecutive_failures = status.consecutive_failures;
        if let Some(l) = &status.last_run {
            e.last_run = Some(l.started_at);
            e.last_outcome = l
                .outcome
                .and_then(|o| RUN_OUTCOMES.iter().position(|x| *x == o.as_str()));
            e.profiles = l.profiles;
            e.invalid_rows = l.invalid_rows;
            e.kept = [l.kept_unsubscribed, l.kept_bounced, l.kept_unconfirmed];
        }
    }

    /// Whether export `export`'s file is invalid now. Invalid: not
    /// scheduled. Valid again: idle until the daemon says otherwise.
    pub fn set_config_error(&self, export: &str, invalid: bool) {
        let mut s = self.state();
        let e = s.export(export);
        if invalid {
            e.state = ExportState::Invalid;
            e.next_run = None;
        } else if e.state == ExportState::Invalid {
            e.state = ExportState::Idle;
        }
    }

    /// Whether `acsync.toml` has errors now (the daemon runs on the last
    /// good one, or at start without its broken connections).
    pub fn set_settings_error(&self, broken: bool) {
        self.state().settings_error = broken;
    }

    /// The export's file was deleted: its series go away.
    pub fn forget_export(&self, export: &str) {
        self.state().exports.remove(export);
    }

    /// The text exposition format (version 0.0.4) of every series.
    pub fn render(&self) -> String {
        let mut out = render::render(&self.state());
        out.push_str(&self.process.render());
        out
    }
}

#[cfg(test)]
mod tests;
