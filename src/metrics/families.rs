//! Every acsync metric family, as `prometheus` crate collectors in one
//! [`Registry`]: names, HELP texts, types and labels (README "Metrics and
//! health" lists them for operators), plus the standard `process_*`
//! families on Linux. [`Families::create`] and [`Families::forget`] add and
//! drop every series of one export, so a family never misses an export the
//! others have.

use prometheus::{
    Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

use super::{CONTACT_KINDS, DURATION_BUCKETS, KEPT_REASONS, NOT_STARTED, RUN_OUTCOMES, STATES};

/// The collectors, each registered in `registry`.
pub(super) struct Families {
    pub registry: Registry,
    pub runs: IntCounterVec,
    pub last_outcome: IntGaugeVec,
    pub consecutive_failures: IntGaugeVec,
    pub durations: HistogramVec,
    pub last_success: GaugeVec,
    pub last_run: GaugeVec,
    pub next_run: GaugeVec,
    pub profiles: IntGaugeVec,
    pub invalid_rows: IntGaugeVec,
    pub kept: IntGaugeVec,
    /// By [`CONTACT_KINDS`].
    pub contacts: [IntCounterVec; 4],
    pub api_requests: IntCounterVec,
    pub limit_answers: IntCounterVec,
    pub export_state: IntGaugeVec,
    pub config_errors: IntGauge,
    pub settings_error: IntGauge,
    pub export_config_error: IntGaugeVec,
}

impl Families {
    pub fn new() -> Families {
        let registry = Registry::new();
        let r = &registry;
        let build = Gauge::with_opts(
            Opts::new("acsync_build_info", "The running acsync version.")
                .const_label("version", env!("CARGO_PKG_VERSION")),
        );
        add(r, build).set(1.0);
        register_process(r);
        let contacts = CONTACT_KINDS.map(|kind| {
            let name = format!("acsync_contacts_{kind}_total");
            let help = format!("Contacts {kind} by runs of the export.");
            counter(r, &name, &help, &["export"])
        });
        Families {
            runs: counter(
                r,
                "acsync_runs_total",
                "Runs by export and outcome (success, partial, failed, blocked, not_started).",
                &["export", "outcome"],
            ),
            last_outcome: gauge(
                r,
                "acsync_last_run_outcome",
                "1 for the outcome of the export's last finished run, 0 for the others.",
                &["export", "outcome"],
            ),
            consecutive_failures: gauge(
                r,
                "acsync_consecutive_failures",
                "Runs in a row that did not succeed (partial, failed, blocked); 0 after a success.",
                &["export"],
            ),
            durations: add(
                r,
                HistogramVec::new(
                    HistogramOpts::new("acsync_run_duration_seconds", "Duration of finished runs.")
                        .buckets(DURATION_BUCKETS.to_vec()),
                    &["export"],
                ),
            ),
            last_success: timestamp(
                r,
                "acsync_last_success_timestamp_seconds",
                "When the export's last successful run finished (Unix time; 0: never).",
            ),
            last_run: timestamp(
                r,
                "acsync_last_run_timestamp_seconds",
                "When the export's last run started, whatever its outcome (Unix time; 0: never).",
            ),
            next_run: timestamp(
                r,
                "acsync_next_run_timestamp_seconds",
                "When the daemon runs the export next (Unix time; 0: not scheduled).",
            ),
            profiles: gauge(
                r,
                "acsync_segment_profiles",
                "Valid, distinct profiles in the segment at the last run.",
                &["export"],
            ),
            invalid_rows: gauge(
                r,
                "acsync_segment_invalid_rows",
                "Source rows refused before any request at the last run (invalid email, missing field).",
                &["export"],
            ),
            kept: gauge(
                r,
                "acsync_kept_contacts",
                "Segment members the last run left as they are on the list, by reason (unsubscribed, bounced, unconfirmed).",
                &["export", "reason"],
            ),
            contacts,
            api_requests: counter(
                r,
                "acsync_api_requests_total",
                "HTTP requests to ActiveCampaign, retries included, by connection.",
                &["connection"],
            ),
            limit_answers: counter(
                r,
                "acsync_api_limit_answers_total",
                "Rate-limit answers (429, bulk rate limit) from ActiveCampaign, by connection.",
                &["connection"],
            ),
            export_state: gauge(
                r,
                "acsync_export_state",
                "1 for what the export is doing now (idle, running, invalid, disabled), 0 for the others.",
                &["export", "state"],
            ),
            config_errors: add(
                r,
                IntGauge::new(
                    "acsync_config_errors",
                    "Export files that are invalid now (not run until fixed).",
                ),
            ),
            settings_error: add(
                r,
                IntGauge::new(
                    "acsync_settings_config_error",
                    "1 while acsync.toml has errors (the exports keep running on the last valid one), else 0.",
                ),
            ),
            export_config_error: gauge(
                r,
                "acsync_export_config_error",
                "1 while the export's file is invalid, else 0.",
                &["export"],
            ),
            registry,
        }
    }

    /// Every series of `export`, at zero (state: none of them set).
    pub fn create(&self, export: &str) {
        for_each_series(self, export, |vec, labels| {
            vec.with_label_values(labels);
        });
    }

    /// Drops every series of `export`.
    pub fn forget(&self, export: &str) {
        for_each_series(self, export, |vec, labels| {
            // Absent already: nothing to drop.
            let _ = vec.remove_label_values(labels);
        });
    }
}

/// The families by export, with the label values of each of their series.
fn for_each_series(f: &Families, export: &str, mut each: impl FnMut(&dyn SeriesVec, &[&str])) {
    for outcome in RUN_OUTCOMES {
        each(&f.runs, &[export, outcome.as_str()]);
        each(&f.last_outcome, &[export, outcome.as_str()]);
    }
    each(&f.runs, &[export, NOT_STARTED]);
    for reason in KEPT_REASONS {
        each(&f.kept, &[export, reason]);
    }
    for state in STATES {
        each(&f.export_state, &[export, state.as_str()]);
    }
    let single: [&dyn SeriesVec; 12] = [
        &f.consecutive_failures,
        &f.durations,
        &f.last_success,
        &f.last_run,
        &f.next_run,
        &f.profiles,
        &f.invalid_rows,
        &f.export_config_error,
        &f.contacts[0],
        &f.contacts[1],
        &f.contacts[2],
        &f.contacts[3],
    ];
    for vec in single {
        each(vec, &[export]);
    }
}

/// What [`Families::create`] and [`Families::forget`] do to any family.
trait SeriesVec {
    fn with_label_values(&self, labels: &[&str]);
    fn remove_label_values(&self, labels: &[&str]) -> prometheus::Result<()>;
}

impl<T: prometheus::core::MetricVecBuilder> SeriesVec for prometheus::core::MetricVec<T> {
    fn with_label_values(&self, labels: &[&str]) {
        prometheus::core::MetricVec::with_label_values(self, labels);
    }
    fn remove_label_values(&self, labels: &[&str]) -> prometheus::Result<()> {
        prometheus::core::MetricVec::remove_label_values(self, labels)
    }
}

/// Registers `collector`. The families are constants of this file: a
/// failure (a bad or repeated name) is a bug that every metrics test shows.
fn add<C>(registry: &Registry, collector: prometheus::Result<C>) -> C
where
    C: prometheus::core::Collector + Clone + 'static,
{
    let collector = collector.expect("a valid metric family");
    registry
        .register(Box::new(collector.clone()))
        .expect("metric family names are distinct");
    collector
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    add(r, IntCounterVec::new(Opts::new(name, help), labels))
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    add(r, IntGaugeVec::new(Opts::new(name, help), labels))
}

/// A Unix-time gauge with one series per export.
fn timestamp(r: &Registry, name: &str, help: &str) -> GaugeVec {
    add(r, GaugeVec::new(Opts::new(name, help), &["export"]))
}

/// The standard `process_*` families, read from `/proc/self` on each
/// scrape: the same names every Prometheus client library exposes.
/// Elsewhere than Linux there is no `/proc`: none.
fn register_process(registry: &Registry) {
    #[cfg(target_os = "linux")]
    {
        let process = prometheus::process_collector::ProcessCollector::for_self();
        if let Err(e) = registry.register(Box::new(process)) {
            tracing::warn!(error = %e, "no process_* metrics");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = registry;
}
