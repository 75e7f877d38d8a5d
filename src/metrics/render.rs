//! The exposition of every acsync family, from the registry's state: one
//! sample per export (or connection) in every family, zeros included, so a
//! series exists from the moment its export is known.

use chrono::{DateTime, Utc};

use super::text::Exposition;
use super::{
    CONTACT_KINDS, DURATION_BUCKETS, ExportSeries, KEPT_REASONS, OUTCOMES, RUN_OUTCOMES, STATES,
    State,
};
use crate::status::ExportState;

/// The whole acsync part of a scrape.
pub(super) fn render(s: &State) -> String {
    let mut out = Exposition::default();
    out.family("acsync_build_info", "gauge", "The running acsync version.");
    out.sample(
        "acsync_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
    render_runs(s, &mut out);
    render_durations(s, &mut out);
    render_times(s, &mut out);
    render_last_run(s, &mut out);
    render_contacts(s, &mut out);
    render_api(s, &mut out);
    render_state(s, &mut out);
    out.finish()
}

/// A family with one sample per export, valued by `value`.
fn per_export(
    s: &State,
    out: &mut Exposition,
    (name, kind, help): (&str, &str, &str),
    value: impl Fn(&ExportSeries) -> f64,
) {
    out.family(name, kind, help);
    for (export, e) in &s.exports {
        out.sample(name, &[("export", export)], value(e));
    }
}

/// Unix seconds, `0` for "never" (so comparisons in rules stay simple).
fn unix(t: Option<DateTime<Utc>>) -> f64 {
    t.map_or(0.0, |t| t.timestamp_millis() as f64 / 1000.0)
}

fn render_runs(s: &State, out: &mut Exposition) {
    out.family(
        "acsync_runs_total",
        "counter",
        "Runs by export and outcome (success, partial, failed, blocked, not_started).",
    );
    for (export, e) in &s.exports {
        for (outcome, n) in OUTCOMES.iter().zip(e.runs) {
            out.sample(
                "acsync_runs_total",
                &[("export", export), ("outcome", outcome)],
                n as f64,
            );
        }
    }
    out.family(
        "acsync_last_run_outcome",
        "gauge",
        "1 for the outcome of the export's last finished run, 0 for the others.",
    );
    for (export, e) in &s.exports {
        for (i, outcome) in RUN_OUTCOMES.iter().enumerate() {
            let v = if e.last_outcome == Some(i) { 1.0 } else { 0.0 };
            out.sample(
                "acsync_last_run_outcome",
                &[("export", export), ("outcome", outcome)],
                v,
            );
        }
    }
    per_export(
        s,
        out,
        (
            "acsync_consecutive_failures",
            "gauge",
            "Runs in a row that did not succeed (partial, failed, blocked); 0 after a success.",
        ),
        |e| f64::from(e.consecutive_failures),
    );
}

fn render_durations(s: &State, out: &mut Exposition) {
    out.family(
        "acsync_run_duration_seconds",
        "histogram",
        "Duration of finished runs.",
    );
    for (export, e) in &s.exports {
        let h = &e.durations;
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
}

fn render_times(s: &State, out: &mut Exposition) {
    per_export(
        s,
        out,
        (
            "acsync_last_success_timestamp_seconds",
            "gauge",
            "When the export's last successful run finished (Unix time; 0: never).",
        ),
        |e| unix(e.last_success),
    );
    per_export(
        s,
        out,
        (
            "acsync_last_run_timestamp_seconds",
            "gauge",
            "When the export's last run started, whatever its outcome (Unix time; 0: never).",
        ),
        |e| unix(e.last_run),
    );
    per_export(
        s,
        out,
        (
            "acsync_next_run_timestamp_seconds",
            "gauge",
            "When the daemon runs the export next (Unix time; 0: not scheduled).",
        ),
        |e| unix(e.next_run),
    );
}

fn render_last_run(s: &State, out: &mut Exposition) {
    per_export(
        s,
        out,
        (
            "acsync_segment_profiles",
            "gauge",
            "Valid, distinct profiles in the segment at the last run.",
        ),
        |e| e.profiles as f64,
    );
    per_export(
        s,
        out,
        (
            "acsync_segment_invalid_rows",
            "gauge",
            "Source rows refused before any request at the last run (invalid email, missing field).",
        ),
        |e| e.invalid_rows as f64,
    );
    out.family(
        "acsync_kept_contacts",
        "gauge",
        "Segment members the last run left as they are on the list, by reason (unsubscribed, bounced, unconfirmed).",
    );
    for (export, e) in &s.exports {
        for (reason, n) in KEPT_REASONS.iter().zip(e.kept) {
            out.sample(
                "acsync_kept_contacts",
                &[("export", export), ("reason", reason)],
                n as f64,
            );
        }
    }
}

fn render_contacts(s: &State, out: &mut Exposition) {
    for (i, kind) in CONTACT_KINDS.iter().enumerate() {
        let name = format!("acsync_contacts_{kind}_total");
        let help = format!("Contacts {kind} by runs of the export.");
        per_export(s, out, (&name, "counter", &help), |e| e.contacts[i] as f64);
    }
}

fn render_api(s: &State, out: &mut Exposition) {
    out.family(
        "acsync_api_requests_total",
        "counter",
        "HTTP requests to ActiveCampaign, retries included, by connection.",
    );
    for (conn, c) in &s.connections {
        out.sample(
            "acsync_api_requests_total",
            &[("connection", conn)],
            c.requests as f64,
        );
    }
    out.family(
        "acsync_api_limit_answers_total",
        "counter",
        "Rate-limit answers (429, bulk rate limit) from ActiveCampaign, by connection.",
    );
    for (conn, c) in &s.connections {
        out.sample(
            "acsync_api_limit_answers_total",
            &[("connection", conn)],
            c.limit_answers as f64,
        );
    }
}

fn render_state(s: &State, out: &mut Exposition) {
    out.family(
        "acsync_export_state",
        "gauge",
        "1 for what the export is doing now (idle, running, invalid, disabled), 0 for the others.",
    );
    for (export, e) in &s.exports {
        for state in STATES {
            let v = if e.state == state { 1.0 } else { 0.0 };
            out.sample(
                "acsync_export_state",
                &[("export", export), ("state", state.as_str())],
                v,
            );
        }
    }
    let invalid = |e: &ExportSeries| e.state == ExportState::Invalid;
    out.family(
        "acsync_config_errors",
        "gauge",
        "Export files that are invalid now (not run until fixed).",
    );
    let n = s.exports.values().filter(|e| invalid(e)).count();
    out.sample("acsync_config_errors", &[], n as f64);
    out.family(
        "acsync_settings_config_error",
        "gauge",
        "1 while acsync.toml has errors (the exports keep running on the last valid one), else 0.",
    );
    let broken = if s.settings_error { 1.0 } else { 0.0 };
    out.sample("acsync_settings_config_error", &[], broken);
    per_export(
        s,
        out,
        (
            "acsync_export_config_error",
            "gauge",
            "1 while the export's file is invalid, else 0.",
        ),
        |e| if invalid(e) { 1.0 } else { 0.0 },
    );
}
