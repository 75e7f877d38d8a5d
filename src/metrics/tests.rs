//! The registry's series and the HTTP endpoint, in-process.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::config::Export;

fn record(export: &str, outcome: Outcome, secs: u64) -> FinishedRun {
    FinishedRun {
        export: export.into(),
        connection: "prod".into(),
        outcome,
        started_at: Utc.timestamp_opt(1_799_999_000, 0).unwrap(),
        duration: Duration::from_secs(secs),
        contacts: [3, 2, 1, 0],
        api_requests: 7,
        limit_answers: 1,
        success_at: (outcome == Outcome::Success)
            .then(|| Utc.timestamp_opt(1_800_000_000, 0).unwrap()),
        profiles: 40,
        invalid_rows: 2,
        kept: [5, 2, 1, 0],
    }
}

#[test]
fn runs_add_up_by_export_outcome_and_connection() {
    let m = Metrics::new();
    m.record_run(&record("vip", Outcome::Success, 2));
    m.record_run(&record("vip", Outcome::Blocked, 20));
    m.record_run(&record("news", Outcome::Success, 0));
    m.record_not_started("news");
    let text = m.render();
    assert_lines(
        &text,
        [
            "acsync_runs_total{export=\"vip\",outcome=\"success\"} 1",
            "acsync_runs_total{export=\"vip\",outcome=\"blocked\"} 1",
            "acsync_runs_total{export=\"news\",outcome=\"not_started\"} 1",
            "acsync_run_duration_seconds_bucket{export=\"vip\",le=\"5\"} 1",
            "acsync_run_duration_seconds_bucket{export=\"vip\",le=\"60\"} 2",
            "acsync_run_duration_seconds_bucket{export=\"vip\",le=\"+Inf\"} 2",
            "acsync_run_duration_seconds_sum{export=\"vip\"} 22",
            "acsync_run_duration_seconds_count{export=\"vip\"} 2",
            "acsync_contacts_added_total{export=\"vip\"} 6",
            "acsync_contacts_unsubscribed_total{export=\"vip\"} 2",
            "acsync_contacts_failed_total{export=\"vip\"} 0",
            "acsync_api_requests_total{connection=\"prod\"} 21",
            "acsync_api_limit_answers_total{connection=\"prod\"} 3",
            "acsync_last_success_timestamp_seconds{export=\"vip\"} 1800000000",
            "acsync_config_errors 0",
        ],
    );
}

#[test]
fn config_errors_follow_invalid_files_and_deletions() {
    let m = Metrics::new();
    m.set_config_error("a", true);
    m.set_config_error("b", true);
    m.set_config_error("a", false);
    let text = m.render();
    assert!(text.contains("\nacsync_config_errors 1\n"), "{text}");
    assert!(text.contains("acsync_export_config_error{export=\"b\"} 1"));
    m.record_run(&record("b", Outcome::Success, 1));
    m.forget_export("b");
    let text = m.render();
    assert!(text.contains("\nacsync_config_errors 0\n"), "{text}");
    assert!(!text.contains("export=\"b\""), "{text}");
}

/// Whether `text` holds the sample line `line` exactly.
fn has(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

/// Asserts that `text` holds each of `lines` exactly.
fn assert_lines<S: AsRef<str>>(text: &str, lines: impl IntoIterator<Item = S>) {
    for line in lines {
        let line = line.as_ref();
        assert!(has(text, line), "missing `{line}` in\n{text}");
    }
}

#[test]
fn a_seeded_status_never_hides_a_newer_run_and_is_read_once() {
    let m = Metrics::new();
    m.record_run(&record("vip", Outcome::Success, 1));
    let mut old = StatusFile::new("vip", "vip.toml", Utc.timestamp_opt(900, 0).unwrap());
    old.last_success_at = Some(Utc.timestamp_opt(1_000, 0).unwrap());
    old.consecutive_failures = 4;
    m.seed("vip", &old);
    old.export = "old".into();
    m.seed("old", &old);
    old.consecutive_failures = 9;
    m.seed("old", &old);
    let text = m.render();
    assert_lines(
        &text,
        [
            "acsync_last_success_timestamp_seconds{export=\"vip\"} 1800000000",
            "acsync_consecutive_failures{export=\"vip\"} 0",
            "acsync_last_success_timestamp_seconds{export=\"old\"} 1000",
            "acsync_consecutive_failures{export=\"old\"} 4",
        ],
    );
}

#[test]
fn a_registered_export_has_every_series_at_zero_before_its_first_run() {
    let m = Metrics::new();
    m.register("vip", Some("prod"));
    let text = m.render();
    let mut want: Vec<String> = RUN_OUTCOMES
        .map(Outcome::as_str)
        .into_iter()
        .chain([NOT_STARTED])
        .map(|o| format!("acsync_runs_total{{export=\"vip\",outcome=\"{o}\"}} 0"))
        .collect();
    want.extend(
        CONTACT_KINDS
            .iter()
            .map(|k| format!("acsync_contacts_{k}_total{{export=\"vip\"}} 0")),
    );
    want.extend(
        KEPT_REASONS
            .iter()
            .map(|r| format!("acsync_kept_contacts{{export=\"vip\",reason=\"{r}\"}} 0")),
    );
    for line in [
        "acsync_run_duration_seconds_count{export=\"vip\"} 0",
        "acsync_run_duration_seconds_bucket{export=\"vip\",le=\"+Inf\"} 0",
        "acsync_last_success_timestamp_seconds{export=\"vip\"} 0",
        "acsync_last_run_timestamp_seconds{export=\"vip\"} 0",
        "acsync_next_run_timestamp_seconds{export=\"vip\"} 0",
        "acsync_consecutive_failures{export=\"vip\"} 0",
        "acsync_segment_profiles{export=\"vip\"} 0",
        "acsync_segment_invalid_rows{export=\"vip\"} 0",
        "acsync_last_run_outcome{export=\"vip\",outcome=\"failed\"} 0",
        "acsync_export_state{export=\"vip\",state=\"idle\"} 1",
        "acsync_export_state{export=\"vip\",state=\"running\"} 0",
        "acsync_export_config_error{export=\"vip\"} 0",
        "acsync_api_requests_total{connection=\"prod\"} 0",
        "acsync_api_limit_answers_total{connection=\"prod\"} 0",
    ] {
        want.push(line.to_string());
    }
    assert_lines(&text, want);
}

/// A registry in which `vip` was idle, then started a run (next run at
/// 1_800_086_400).
fn started_run() -> Metrics {
    let m = Metrics::new();
    let next = Utc.timestamp_opt(1_800_086_400, 0).unwrap();
    m.set_state(
        "vip",
        ExportState::Idle,
        Some(Utc.timestamp_opt(1_799_999_000, 0).unwrap()),
    );
    m.run_started(
        "vip",
        Utc.timestamp_opt(1_799_999_000, 0).unwrap(),
        Some(next),
    );
    m
}

#[test]
fn gauges_follow_a_run_from_start_to_end() {
    let m = started_run();
    let text = m.render();
    assert_lines(
        &text,
        [
            "acsync_export_state{export=\"vip\",state=\"running\"} 1",
            "acsync_export_state{export=\"vip\",state=\"idle\"} 0",
            "acsync_next_run_timestamp_seconds{export=\"vip\"} 1800086400",
        ],
    );
    m.record_run(&record("vip", Outcome::Failed, 3));
    m.record_run(&record("vip", Outcome::Blocked, 3));
    let text = m.render();
    assert_lines(
        &text,
        [
            "acsync_export_state{export=\"vip\",state=\"idle\"} 1",
            "acsync_export_state{export=\"vip\",state=\"running\"} 0",
            "acsync_consecutive_failures{export=\"vip\"} 2",
            "acsync_last_run_outcome{export=\"vip\",outcome=\"blocked\"} 1",
            "acsync_last_run_outcome{export=\"vip\",outcome=\"failed\"} 0",
            "acsync_last_run_timestamp_seconds{export=\"vip\"} 1799999000",
            "acsync_segment_profiles{export=\"vip\"} 40",
            "acsync_segment_invalid_rows{export=\"vip\"} 2",
            "acsync_kept_contacts{export=\"vip\",reason=\"unsubscribed\"} 5",
            "acsync_kept_contacts{export=\"vip\",reason=\"bounced\"} 2",
            "acsync_kept_contacts{export=\"vip\",reason=\"unconfirmed\"} 1",
        ],
    );
}

/// After a run ends: a success resets the failure count, and an export
/// whose file turns invalid is not scheduled.
#[test]
fn a_success_resets_failures_and_an_invalid_file_unschedules() {
    let m = started_run();
    m.record_run(&record("vip", Outcome::Failed, 3));
    m.record_run(&record("vip", Outcome::Blocked, 3));
    m.record_run(&record("vip", Outcome::Success, 3));
    m.set_config_error("vip", true);
    let text = m.render();
    assert_lines(
        &text,
        [
            "acsync_consecutive_failures{export=\"vip\"} 0",
            "acsync_export_state{export=\"vip\",state=\"invalid\"} 1",
            "acsync_next_run_timestamp_seconds{export=\"vip\"} 0",
        ],
    );
}

#[test]
fn process_series_come_with_every_scrape() {
    let text = Metrics::new().render();
    for family in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family} in\n{text}"
        );
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{family} "))),
            "{family} in\n{text}"
        );
    }
}

#[tokio::test]
async fn endpoint_serves_metrics_and_health() {
    let metrics = Arc::new(Metrics::new());
    metrics.record_run(&record("vip", Outcome::Success, 1));
    let listener = server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(server::serve(listener, metrics, stop.clone()));
    let http = reqwest::Client::new();
    let r = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(ct, server::CONTENT_TYPE);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("acsync_runs_total{export=\"vip\",outcome=\"success\"} 1")
    );
    let h = http
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (h.status().as_u16(), h.text().await.unwrap()),
        (200, "ok\n".to_string())
    );
    let missing = http
        .get(format!("http://{addr}/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    stop.cancel();
    task.await.unwrap().unwrap();
}

/// A run stopped by a signal or found dead counts as `interrupted`, in the
/// runs counter and as the last outcome.
#[test]
fn interrupted_runs_are_counted() {
    let m = Metrics::new();
    m.record_run(&record("vip", Outcome::Interrupted, 1));
    let text = m.render();
    assert_lines(
        &text,
        [
            "acsync_runs_total{export=\"vip\",outcome=\"interrupted\"} 1",
            "acsync_last_run_outcome{export=\"vip\",outcome=\"interrupted\"} 1",
        ],
    );
}

/// A run port that ends every run with `outcome`, or never starts one.
struct FakePort(Option<crate::status::Outcome>);

impl crate::daemon::ExportRunner for FakePort {
    fn run(
        &self,
        _: Export,
        trigger: crate::run::Trigger,
        _: crate::run::RunOptions,
        _: CancellationToken,
    ) -> crate::daemon::RunFuture {
        let started = Utc.timestamp_opt(1_799_999_000, 0).unwrap();
        let ended = self.0.map(|outcome| {
            let mut last_run = crate::status::LastRun::started(trigger, started);
            last_run.added = 4;
            last_run.finish(outcome, started + chrono::Duration::seconds(2));
            crate::daemon::RunEnded {
                outcome,
                last_run,
                requests: crate::activecampaign::RequestStats {
                    requests: 9,
                    rate_limited: 1,
                    ..Default::default()
                },
            }
        });
        Box::pin(async move {
            ended.ok_or_else(|| crate::run::RunError::Internal("lock held".into()).into())
        })
    }
}

fn an_export() -> Export {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = crate::config::Settings::from_source(
        &dir.path().join("acsync.toml"),
        "[connections.prod]\nurl = \"http://127.0.0.1:9\"\napi_key_env = \"X\"\naccept_data_transfer = true\n",
        dir.path(),
    );
    let src = "connection = \"prod\"\nlist_id = 1\nschedule = \"0 0 1 1 *\"\n\
               [source]\nkind = \"csv\"\npath = \"x.csv\"\n[mapping]\nemail = \"email\"\n";
    let file = dir.path().join("exports/vip.toml");
    crate::config::validate::export("vip", &file, src, &settings).expect("valid export")
}

/// `Metered` wraps any run port: a run's figures and a run that could not
/// start are both recorded, and the port's result passes through.
#[tokio::test]
async fn metered_records_what_any_port_reports() {
    use crate::daemon::ExportRunner;
    let metrics = Arc::new(Metrics::new());
    let run = |outcome| {
        let port = ports::Metered {
            inner: FakePort(outcome),
            metrics: metrics.clone(),
        };
        let opts = crate::run::RunOptions::default();
        port.run(
            an_export(),
            crate::run::Trigger::Schedule,
            opts,
            CancellationToken::new(),
        )
    };
    let ended = run(Some(crate::status::Outcome::Partial))
        .await
        .expect("ended");
    assert_eq!(ended.outcome, crate::status::Outcome::Partial);
    assert!(run(None).await.is_err());
    let text = metrics.render();
    assert_lines(
        &text,
        [
            "acsync_runs_total{export=\"vip\",outcome=\"partial\"} 1",
            "acsync_runs_total{export=\"vip\",outcome=\"not_started\"} 1",
            "acsync_contacts_added_total{export=\"vip\"} 4",
            "acsync_api_requests_total{connection=\"prod\"} 9",
            "acsync_api_limit_answers_total{connection=\"prod\"} 1",
            "acsync_export_state{export=\"vip\",state=\"idle\"} 1",
        ],
    );
}

/// `acsync.toml` with errors shows as 1 until it is fixed, through the
/// status decorator the daemon calls.
#[test]
fn settings_errors_are_a_gauge() {
    use crate::daemon::StatusSink;
    struct NoFiles;
    impl StatusSink for NoFiles {
        fn read_status(&self, _: &str) -> Option<StatusFile> {
            None
        }
        fn idle(
            &self,
            _: &Export,
            _: Option<DateTime<Utc>>,
            _: Option<&str>,
        ) -> std::io::Result<()> {
            Ok(())
        }
        fn disabled(&self, _: &Export) -> std::io::Result<()> {
            Ok(())
        }
        fn invalid(
            &self,
            _: &str,
            _: &std::path::Path,
            _: Option<&str>,
            _: &str,
        ) -> std::io::Result<()> {
            Ok(())
        }
        fn removed(&self, _: &str, _: &std::path::Path) -> std::io::Result<()> {
            Ok(())
        }
        fn prune(&self, _: &[&str]) -> std::io::Result<()> {
            Ok(())
        }
    }
    let metrics = Arc::new(Metrics::new());
    let sink = ports::MeteredStatus {
        inner: NoFiles,
        metrics: metrics.clone(),
    };
    assert!(has(&metrics.render(), "acsync_settings_config_error 0"));
    let error = crate::config::Located::whole_file(
        crate::config::ErrorKind::Syntax,
        std::path::Path::new("acsync.toml"),
        "bad",
    );
    sink.settings_checked(&[error]).expect("checked");
    assert!(has(&metrics.render(), "acsync_settings_config_error 1"));
    sink.settings_checked(&[]).expect("checked");
    assert!(has(&metrics.render(), "acsync_settings_config_error 0"));
}
