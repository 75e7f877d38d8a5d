//! The registry's series and the HTTP endpoint, in-process.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use tokio_util::sync::CancellationToken;

use super::*;

fn record(export: &str, outcome: &'static str, secs: u64) -> RunRecord {
    RunRecord {
        export: export.into(),
        connection: "prod".into(),
        outcome,
        duration: Duration::from_secs(secs),
        contacts: [3, 2, 1, 0],
        api_requests: 7,
        limit_answers: 1,
        success_at: (outcome == "success").then(|| Utc.timestamp_opt(1_800_000_000, 0).unwrap()),
    }
}

#[test]
fn runs_add_up_by_export_outcome_and_connection() {
    let m = Metrics::new();
    m.record_run(&record("vip", "success", 2));
    m.record_run(&record("vip", "blocked", 20));
    m.record_run(&record("news", "success", 0));
    m.record_not_started("news");
    let text = m.render();
    for line in [
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
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in\n{text}"
        );
    }
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
    m.record_run(&record("b", "success", 1));
    m.forget_export("b");
    let text = m.render();
    assert!(text.contains("\nacsync_config_errors 0\n"), "{text}");
    assert!(!text.contains("export=\"b\""), "{text}");
}

#[test]
fn a_seeded_last_success_never_hides_a_newer_one() {
    let m = Metrics::new();
    m.record_run(&record("vip", "success", 1));
    m.seed_last_success("vip", Utc.timestamp_opt(1_000, 0).unwrap());
    m.seed_last_success("old", Utc.timestamp_opt(1_000, 0).unwrap());
    let text = m.render();
    assert!(text.contains("acsync_last_success_timestamp_seconds{export=\"vip\"} 1800000000"));
    assert!(text.contains("acsync_last_success_timestamp_seconds{export=\"old\"} 1000"));
}

#[tokio::test]
async fn endpoint_serves_metrics_and_health() {
    let metrics = Arc::new(Metrics::new());
    metrics.record_run(&record("vip", "success", 1));
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
