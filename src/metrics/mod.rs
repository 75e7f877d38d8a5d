//! Prometheus metrics of the daemon, served on `[daemon] metrics_listen`
//! (off by default) next to a `/healthz` endpoint.
//!
//! A small hand-written registry rather than the `metrics` facade: the set
//! of series is fixed and small, the text exposition format is simple, and
//! an instance per daemon (no process-global recorder) lets tests run
//! several daemons in one process and read exactly what one recorded.
//!
//! * [`Metrics`]: the registry and its recording API;
//! * [`ports`]: decorators of the daemon's ports that record every run and
//!   every configuration error without the control loop knowing;
//! * [`server`]: the HTTP endpoint.
//!
//! Series (label values are export ids and connection names, never secrets):
//!
//! | series | type | labels |
//! |---|---|---|
//! | `acsync_build_info` | gauge | `version` |
//! | `acsync_runs_total` | counter | `export`, `outcome` |
//! | `acsync_run_duration_seconds` | histogram | `export` |
//! | `acsync_contacts_{added,updated,unsubscribed,failed}_total` | counter | `export` |
//! | `acsync_api_requests_total` | counter | `connection` |
//! | `acsync_api_limit_answers_total` | counter | `connection` |
//! | `acsync_last_success_timestamp_seconds` | gauge | `export` |
//! | `acsync_config_errors` | gauge | (none): export files now invalid |
//! | `acsync_export_config_error` | gauge | `export` (1 while invalid) |

pub mod ports;
pub mod server;
mod text;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Export;
use crate::status::Outcome;
use text::Exposition;

/// Upper bounds of the run-duration histogram, in seconds: from a quiet run
/// that sends nothing to a first sync of a large list.
const DURATION_BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0];

/// The per-contact counters, in the order of [`Contacts`].
const CONTACT_KINDS: [&str; 4] = ["added", "updated", "unsubscribed", "failed"];

/// What one finished run contributes.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub export: String,
    pub connection: String,
    /// `success`, `partial`, `failed` or `blocked`.
    pub outcome: &'static str,
    pub duration: Duration,
    /// added, updated, unsubscribed, failed.
    pub contacts: Contacts,
    pub api_requests: u64,
    /// 429 answers and bulk "Rate limit exceeded" answers.
    pub limit_answers: u64,
    /// When the run finished, if it succeeded.
    pub success_at: Option<DateTime<Utc>>,
}

/// Contact counts of one run: added, updated, unsubscribed, failed.
pub type Contacts = [u64; 4];

impl RunRecord {
    /// The record of `report`, a finished run of `export`.
    pub fn from_report(export: &Export, report: &crate::run::RunReport) -> RunRecord {
        let l = &report.last_run;
        let success = report.outcome == Outcome::Success;
        RunRecord {
            export: export.id.clone(),
            connection: export.connection.name.clone(),
            outcome: report.outcome.as_str(),
            duration: Duration::from_millis(l.duration_ms.unwrap_or(0)),
            contacts: [l.added, l.updated, l.removed, l.failed],
            api_requests: report.api.requests,
            limit_answers: report.api.rate_limited,
            success_at: l.finished_at.filter(|_| success),
        }
    }
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

#[derive(Debug, Default)]
struct State {
    runs: BTreeMap<(String, String), u64>,
    durations: BTreeMap<String, Histogram>,
    contacts: BTreeMap<String, Contacts>,
    api_requests: BTreeMap<String, u64>,
    limit_answers: BTreeMap<String, u64>,
    last_success: BTreeMap<String, DateTime<Utc>>,
    invalid: BTreeSet<String>,
}

/// The registry: everything the daemon reports, rendered on each scrape.
#[derive(Debug, Default)]
pub struct Metrics {
    state: Mutex<State>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while recording leaves counts that are still counts.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a finished run.
    pub fn record_run(&self, r: &RunRecord) {
        let mut s = self.state();
        *s.runs
            .entry((r.export.clone(), r.outcome.into()))
            .or_default() += 1;
        s.durations
            .entry(r.export.clone())
            .or_default()
            .observe(r.duration.as_secs_f64());
        let c = s.contacts.entry(r.export.clone()).or_default();
        for (total, n) in c.iter_mut().zip(r.contacts) {
            *total += n;
        }
        *s.api_requests.entry(r.connection.clone()).or_default() += r.api_requests;
        *s.limit_answers.entry(r.connection.clone()).or_default() += r.limit_answers;
        if let Some(t) = r.success_at {
            s.last_success.insert(r.export.clone(), t);
        }
    }

    /// A run that could not start (another process holds the export's lock).
    pub fn record_not_started(&self, export: &str) {
        let key = (export.to_string(), "not_started".to_string());
        *self.state().runs.entry(key).or_default() += 1;
    }

    /// The last success known before this process started (from the status
    /// file), so a restart does not make every export look never-succeeded.
    /// A success recorded since wins.
    pub fn seed_last_success(&self, export: &str, at: DateTime<Utc>) {
        self.state()
            .last_success
            .entry(export.to_string())
            .or_insert(at);
    }

    /// Whether export `export`'s file is invalid now.
    pub fn set_config_error(&self, export: &str, invalid: bool) {
        let mut s = self.state();
        if invalid {
            s.invalid.insert(export.to_string());
        } else {
            s.invalid.remove(export);
        }
    }

    /// The export's file was deleted: its series go away.
    pub fn forget_export(&self, export: &str) {
        let mut s = self.state();
        s.runs.retain(|(e, _), _| e != export);
        s.durations.remove(export);
        s.contacts.remove(export);
        s.last_success.remove(export);
        s.invalid.remove(export);
    }

    /// The text exposition format (version 0.0.4) of every series.
    pub fn render(&self) -> String {
        let s = self.state();
        let mut out = Exposition::default();
        out.family("acsync_build_info", "gauge", "The running acsync version.");
        out.sample(
            "acsync_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1.0,
        );
        render_runs(&s, &mut out);
        render_contacts(&s, &mut out);
        render_api(&s, &mut out);
        render_config(&s, &mut out);
        out.finish()
    }
}

fn render_runs(s: &State, out: &mut Exposition) {
    out.family(
        "acsync_runs_total",
        "counter",
        "Runs by export and outcome (success, partial, failed, blocked, not_started).",
    );
    for ((export, outcome), n) in &s.runs {
        out.sample(
            "acsync_runs_total",
            &[("export", export), ("outcome", outcome)],
            *n as f64,
        );
    }
    out.family(
        "acsync_run_duration_seconds",
        "histogram",
        "Duration of finished runs.",
    );
    for (export, h) in &s.durations {
        let mut cumulative = 0;
        for (le, n) in DURATION_BUCKETS.iter().zip(h.buckets) {
            cumulative += n;
            let le = le.to_string();
            out.sample(
                "acsync_run_duration_seconds_bucket",
                &[("export", export), ("le", &le)],
                cumulative as f64,
            );
        }
        let labels = [("export", export.as_str())];
        out.sample(
            "acsync_run_duration_seconds_bucket",
            &[("export", export), ("le", "+Inf")],
            h.count as f64,
        );
        out.sample("acsync_run_duration_seconds_sum", &labels, h.sum);
        out.sample("acsync_run_duration_seconds_count", &labels, h.count as f64);
    }
    out.family(
        "acsync_last_success_timestamp_seconds",
        "gauge",
        "When the export's last successful run finished (Unix time).",
    );
    for (export, t) in &s.last_success {
        let secs = t.timestamp_millis() as f64 / 1000.0;
        out.sample(
            "acsync_last_success_timestamp_seconds",
            &[("export", export)],
            secs,
        );
    }
}

fn render_contacts(s: &State, out: &mut Exposition) {
    for (i, kind) in CONTACT_KINDS.iter().enumerate() {
        let name = format!("acsync_contacts_{kind}_total");
        out.family(
            &name,
            "counter",
            &format!("Contacts {kind} by runs of the export."),
        );
        for (export, c) in &s.contacts {
            out.sample(&name, &[("export", export)], c[i] as f64);
        }
    }
}

fn render_api(s: &State, out: &mut Exposition) {
    out.family(
        "acsync_api_requests_total",
        "counter",
        "HTTP requests to ActiveCampaign, retries included, by connection.",
    );
    for (conn, n) in &s.api_requests {
        out.sample(
            "acsync_api_requests_total",
            &[("connection", conn)],
            *n as f64,
        );
    }
    out.family(
        "acsync_api_limit_answers_total",
        "counter",
        "Rate-limit answers (429, bulk rate limit) from ActiveCampaign, by connection.",
    );
    for (conn, n) in &s.limit_answers {
        out.sample(
            "acsync_api_limit_answers_total",
            &[("connection", conn)],
            *n as f64,
        );
    }
}

fn render_config(s: &State, out: &mut Exposition) {
    out.family(
        "acsync_config_errors",
        "gauge",
        "Export files that are invalid now (not run until fixed).",
    );
    out.sample("acsync_config_errors", &[], s.invalid.len() as f64);
    out.family(
        "acsync_export_config_error",
        "gauge",
        "1 while the export's file is invalid.",
    );
    for export in &s.invalid {
        out.sample("acsync_export_config_error", &[("export", export)], 1.0);
    }
}

#[cfg(test)]
mod tests;
