//! Prometheus metrics of the daemon, served on `[daemon] metrics_listen`
//! (off by default) next to a `/healthz` endpoint.
//!
//! The families are `prometheus` crate collectors in a registry of their
//! own, encoded by its `TextEncoder`: an instance per daemon (no
//! process-global registry) lets tests run several daemons in one process
//! and read exactly what one recorded.
//!
//! * [`Metrics`]: the recording API, in the daemon's terms (a run started,
//!   a run finished, an export turned invalid…);
//! * `families`: every family's name, type, HELP and labels, and the
//!   standard `process_*` families;
//! * [`ports`]: decorators of the daemon's ports (over any port) that record
//!   every run, every state change and every configuration error without
//!   the control loop knowing;
//! * [`server`]: the HTTP endpoint.
//!
//! Every export the daemon knows has all its series from the moment it is
//! seen (zeros, `0` timestamps meaning "never"), so `increase()` sees the
//! first failure and `absent()` means what it says. Label values are export
//! ids and connection names, never secrets: cardinality is bounded by the
//! number of export files and connections. README "Metrics and health"
//! lists every series with its meaning.

mod families;
pub mod ports;
pub mod server;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus::TextEncoder;

use crate::status::{ExportState, Outcome, StatusFile};
use families::Families;

/// Upper bounds of the run-duration histogram, in seconds: from a quiet run
/// that sends nothing to a first sync of a large list.
const DURATION_BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0];

/// The per-contact counters, in the order of [`Contacts`].
const CONTACT_KINDS: [&str; 4] = ["added", "updated", "unsubscribed", "failed"];

/// The outcomes a finished run can have (`acsync_last_run_outcome`, and
/// with [`NOT_STARTED`] the `outcome` label of `acsync_runs_total`).
const RUN_OUTCOMES: [Outcome; 5] = [
    Outcome::Success,
    Outcome::Partial,
    Outcome::Failed,
    Outcome::Blocked,
    Outcome::Interrupted,
];

/// The `acsync_runs_total` outcome of a run that could not start.
const NOT_STARTED: &str = "not_started";

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
const KEPT_REASONS: [&str; 4] = ["unsubscribed", "bounced", "unconfirmed", "other_status"];

/// Contact counts of one run: added, updated, unsubscribed, failed.
pub type Contacts = [u64; 4];

/// Contacts kept out of the list by one run, by [`KEPT_REASONS`].
pub type Kept = [u64; 4];

/// The figures of one finished run that the metrics record.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedRun {
    pub export: String,
    pub connection: String,
    pub outcome: Outcome,
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

/// What the registry keeps of an export besides its series.
#[derive(Debug, Clone, Copy)]
struct Known {
    state: ExportState,
    /// The status file was read (or a run recorded): do not seed again.
    seeded: bool,
}

/// The registry: everything the daemon reports, encoded on each scrape.
pub struct Metrics {
    families: Families,
    /// The exports whose series exist. Held while one change is recorded,
    /// so a scrape never sees an export's state half set.
    known: Mutex<BTreeMap<String, Known>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Unix seconds, `0` for "never" (so comparisons in rules stay simple).
fn unix(t: Option<DateTime<Utc>>) -> f64 {
    t.map_or(0.0, |t| t.timestamp_millis() as f64 / 1000.0)
}

/// A count as an integer gauge's value.
fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            families: Families::new(),
            known: Mutex::new(BTreeMap::new()),
        }
    }

    /// The known exports, `export` among them: its series are created, idle,
    /// the first time it is named.
    fn known(&self, export: &str) -> MutexGuard<'_, BTreeMap<String, Known>> {
        // A panic while recording leaves values that are still values.
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if !known.contains_key(export) {
            self.families.create(export);
            let fresh = Known {
                state: ExportState::Idle,
                seeded: false,
            };
            known.insert(export.to_string(), fresh);
            self.show_state(&known, export, ExportState::Idle);
        }
        known
    }

    /// The export's state gauges, and the count of invalid export files.
    fn show_state(&self, known: &BTreeMap<String, Known>, export: &str, state: ExportState) {
        let f = &self.families;
        for s in STATES {
            let on = i64::from(s == state);
            f.export_state
                .with_label_values(&[export, s.as_str()])
                .set(on);
        }
        let invalid = i64::from(state == ExportState::Invalid);
        f.export_config_error
            .with_label_values(&[export])
            .set(invalid);
        self.count_invalid(known);
    }

    /// `acsync_config_errors`: the known exports whose file is invalid.
    fn count_invalid(&self, known: &BTreeMap<String, Known>) {
        let invalid = known.values().filter(|k| k.state == ExportState::Invalid);
        self.families
            .config_errors
            .set(count(invalid.count() as u64));
    }

    /// Sets `export`'s state (it is known).
    fn set(&self, known: &mut BTreeMap<String, Known>, export: &str, state: ExportState) {
        if let Some(k) = known.get_mut(export) {
            k.state = state;
        }
        self.show_state(known, export, state);
    }

    /// Makes every series of `export` (and of its connection) exist, at
    /// zero if nothing was recorded yet.
    pub fn register(&self, export: &str, connection: Option<&str>) {
        drop(self.known(export));
        if let Some(c) = connection {
            self.families.api_requests.with_label_values(&[c]);
            self.families.limit_answers.with_label_values(&[c]);
        }
    }

    /// What the export is doing now, and when it runs next (`None`: not
    /// scheduled, as for a disabled or invalid export).
    pub fn set_state(&self, export: &str, state: ExportState, next_run: Option<DateTime<Utc>>) {
        let mut known = self.known(export);
        self.set(&mut known, export, state);
        let next = self.families.next_run.with_label_values(&[export]);
        next.set(unix(next_run));
    }

    /// A run of `export` started at `at`; the export runs next at `next_run`.
    pub fn run_started(&self, export: &str, at: DateTime<Utc>, next_run: Option<DateTime<Utc>>) {
        self.set_state(export, ExportState::Running, next_run);
        let f = &self.families;
        f.last_run.with_label_values(&[export]).set(unix(Some(at)));
    }

    /// Records a finished run; the export is idle again.
    pub fn record_run(&self, r: &FinishedRun) {
        let f = &self.families;
        let mut known = self.known(&r.export);
        let connection = [r.connection.as_str()];
        f.api_requests
            .with_label_values(&connection)
            .inc_by(r.api_requests);
        f.limit_answers
            .with_label_values(&connection)
            .inc_by(r.limit_answers);
        let export = [r.export.as_str()];
        f.runs
            .with_label_values(&[&r.export, r.outcome.as_str()])
            .inc();
        self.show_outcome(&r.export, Some(r.outcome));
        f.durations
            .with_label_values(&export)
            .observe(r.duration.as_secs_f64());
        for (counter, n) in f.contacts.iter().zip(r.contacts) {
            counter.with_label_values(&export).inc_by(n);
        }
        if let Some(t) = r.success_at {
            f.last_success.with_label_values(&export).set(unix(Some(t)));
        }
        // Only a success resets the count (see docs/status-file.md).
        let failures = f.consecutive_failures.with_label_values(&export);
        match r.outcome {
            Outcome::Success => failures.set(0),
            _ => failures.inc(),
        }
        f.last_run
            .with_label_values(&export)
            .set(unix(Some(r.started_at)));
        self.show_last_run(&r.export, r.profiles, r.invalid_rows, r.kept);
        if let Some(k) = known.get_mut(&r.export) {
            k.seeded = true;
        }
        self.set(&mut known, &r.export, ExportState::Idle);
    }

    /// `acsync_last_run_outcome`: 1 for `outcome`, 0 for the others.
    fn show_outcome(&self, export: &str, outcome: Option<Outcome>) {
        for o in RUN_OUTCOMES {
            let gauge = self
                .families
                .last_outcome
                .with_label_values(&[export, o.as_str()]);
            gauge.set(i64::from(Some(o) == outcome));
        }
    }

    /// The segment figures of the export's last run.
    fn show_last_run(&self, export: &str, profiles: u64, invalid_rows: u64, kept: Kept) {
        let f = &self.families;
        f.profiles.with_label_values(&[export]).set(count(profiles));
        f.invalid_rows
            .with_label_values(&[export])
            .set(count(invalid_rows));
        for (reason, n) in KEPT_REASONS.iter().zip(kept) {
            f.kept.with_label_values(&[export, reason]).set(count(n));
        }
    }

    /// A run that could not start (another process holds the export's lock).
    pub fn record_not_started(&self, export: &str) {
        let mut known = self.known(export);
        self.families
            .runs
            .with_label_values(&[export, NOT_STARTED])
            .inc();
        if known
            .get(export)
            .is_some_and(|k| k.state == ExportState::Running)
        {
            self.set(&mut known, export, ExportState::Idle);
        }
    }

    /// What the export's status file says about runs before this process
    /// started, so a restart does not make every export look never-run.
    /// Read once per export; anything this process recorded wins.
    pub fn seed(&self, export: &str, status: &StatusFile) {
        let mut known = self.known(export);
        match known.get_mut(export) {
            Some(k) if !k.seeded => k.seeded = true,
            _ => return,
        }
        let f = &self.families;
        if let Some(t) = status.last_success_at {
            f.last_success
                .with_label_values(&[export])
                .set(unix(Some(t)));
        }
        let failures = f.consecutive_failures.with_label_values(&[export]);
        failures.set(i64::from(status.consecutive_failures));
        if let Some(l) = &status.last_run {
            f.last_run
                .with_label_values(&[export])
                .set(unix(Some(l.started_at)));
            self.show_outcome(export, l.outcome);
            let kept = [
                l.kept_unsubscribed,
                l.kept_bounced,
                l.kept_unconfirmed,
                l.kept_other_status,
            ];
            self.show_last_run(export, l.profiles, l.invalid_rows, kept);
        }
    }

    /// Whether export `export`'s file is invalid now. Invalid: not
    /// scheduled. Valid again: idle until the daemon says otherwise.
    pub fn set_config_error(&self, export: &str, invalid: bool) {
        let mut known = self.known(export);
        let was_invalid = known
            .get(export)
            .is_some_and(|k| k.state == ExportState::Invalid);
        if invalid {
            self.set(&mut known, export, ExportState::Invalid);
            self.families.next_run.with_label_values(&[export]).set(0.0);
        } else if was_invalid {
            self.set(&mut known, export, ExportState::Idle);
        }
    }

    /// Whether `acsync.toml` has errors now (the daemon runs on the last
    /// good one, or at start without its broken connections).
    pub fn set_settings_error(&self, broken: bool) {
        self.families.settings_error.set(i64::from(broken));
    }

    /// The export's file was deleted: its series go away.
    pub fn forget_export(&self, export: &str) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if known.remove(export).is_some() {
            self.families.forget(export);
            self.count_invalid(&known);
        }
    }

    /// The text exposition format (version 0.0.4) of every series.
    pub fn render(&self) -> String {
        let families = self.families.registry.gather();
        TextEncoder::new()
            .encode_to_string(&families)
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot encode the metrics");
                String::new()
            })
    }
}

#[cfg(test)]
mod tests;
