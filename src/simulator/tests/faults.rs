//! Injected faults (seeded, repeatable), the ledger, shutdown.

use std::time::{Duration, Instant};

use serde_json::json;

use super::super::{Faults, SimConfig, Simulator};
use super::{Api, fast};

async fn statuses(seed: u64, faults: Faults, n: usize) -> Vec<u16> {
    let sim = Simulator::start(SimConfig {
        seed,
        faults,
        ..fast()
    })
    .await
    .expect("start");
    let l = sim.add_list("L");
    let api = Api::new(&sim);
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(api.get(&format!("/lists/{l}")).await.status);
    }
    out
}

#[tokio::test]
async fn errors_are_seeded_and_repeatable_section_6() {
    let faults = Faults {
        error_rate: 0.5,
        ..Faults::default()
    };
    let a = statuses(7, faults.clone(), 24).await;
    assert_eq!(
        a,
        statuses(7, faults.clone(), 24).await,
        "same seed, same answers"
    );
    for code in [200, 500, 503] {
        assert!(a.contains(&code), "{code} missing from {a:?}");
    }
    assert_ne!(a, statuses(8, faults, 24).await, "another seed differs");
}

#[tokio::test]
async fn dropped_connections_have_no_answer() {
    let faults = Faults {
        drop_rate: 1.0,
        ..Faults::default()
    };
    let sim = Simulator::start(SimConfig { faults, ..fast() })
        .await
        .expect("start");
    let api = Api::new(&sim);
    assert!(api.try_get("/contacts").await.is_err(), "no HTTP answer");
    sim.set_faults(Faults::default());
    assert_eq!(api.get("/contacts").await.status, 200);
    let l = sim.ledger();
    assert_eq!((l.total, l.dropped, l.faults_injected), (2, 1, 1));
}

#[tokio::test]
async fn latency_delays_the_answer() {
    let faults = Faults {
        latency_rate: 1.0,
        latency: Duration::from_millis(120),
        ..Faults::default()
    };
    let sim = Simulator::start(SimConfig { faults, ..fast() })
        .await
        .expect("start");
    let started = Instant::now();
    assert_eq!(Api::new(&sim).get("/contacts").await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(120));
}

#[tokio::test]
async fn storm_of_429_then_recovery_section_1_3() {
    let sim = Simulator::start(fast()).await.expect("start");
    let api = Api::new(&sim);
    sim.set_faults(Faults {
        storm_429: Some((Duration::from_millis(500), 7)),
        ..Faults::default()
    });
    let a = api.get("/contacts").await;
    assert_eq!((a.status, a.header("Retry-After")), (429, Some("7")));
    tokio::time::sleep(Duration::from_millis(520)).await;
    assert_eq!(api.get("/contacts").await.status, 200);
    assert_eq!(sim.ledger().rate_limited_429, 1);
}

#[tokio::test]
async fn failed_and_interrupted_batches_are_terminal_section_4_4() {
    let faults = Faults {
        fail_batch_rate: 1.0,
        ..Faults::default()
    };
    let sim = Simulator::start(SimConfig { faults, ..fast() })
        .await
        .expect("start");
    let l = sim.add_list("L");
    let api = Api::new(&sim);
    let mut seen = Vec::new();
    for b in 0..8 {
        let cs: Vec<_> = (0..10)
            .map(|i| {
                json!({"email": format!("c{b}x{i}@example.com"),
            "subscribe": [{"listid": l}]})
            })
            .collect();
        let a = api
            .post("/import/bulk_import", &json!({"contacts": cs}))
            .await;
        seen.push(a.body["batchId"].as_str().unwrap_or_default().to_string());
    }
    tokio::time::sleep(Duration::from_millis(120)).await;
    let mut applied_by_interrupted = 0;
    let mut kinds = Vec::new();
    for id in &seen {
        let info = api.get(&format!("/import/info?batchId={id}")).await.body;
        let status = info["status"].as_str().unwrap_or_default().to_string();
        if status == "interrupted" {
            applied_by_interrupted += info["success"].as_array().map_or(0, Vec::len);
        }
        kinds.push(status);
    }
    assert!(
        kinds.iter().all(|k| k == "failed" || k == "interrupted"),
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == "failed") && kinds.iter().any(|k| k == "interrupted"));
    // Failed batches applied nothing, interrupted ones a prefix only.
    assert_eq!(sim.contact_count(), applied_by_interrupted);
    assert!(sim.contact_count() < 80);
    assert_eq!(sim.ledger().faults_injected, 8);
}

#[tokio::test]
async fn extra_false_polls_section_4_4() {
    let faults = Faults {
        info_false_polls: 2,
        ..Faults::default()
    };
    let sim = Simulator::start(SimConfig { faults, ..fast() })
        .await
        .expect("start");
    let l = sim.add_list("L");
    let api = Api::new(&sim);
    let body = json!({"contacts": [{"email": "a@example.com", "subscribe": [{"listid": l}]}]});
    let batch = api.post("/import/bulk_import", &body).await.body["batchId"].clone();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let q = format!(
        "/import/info?batchId={}",
        batch.as_str().unwrap_or_default()
    );
    assert_eq!(api.get(&q).await.body["status"], false);
    assert_eq!(api.get(&q).await.body["status"], false);
    assert_eq!(api.get(&q).await.body["status"], "completed");
}

#[tokio::test]
async fn ledger_counts_endpoints_reads_and_writes() {
    let sim = Simulator::start(fast()).await.expect("start");
    let l = sim.add_list("L");
    let c = sim.add_contact("a@example.com", None, None, None);
    let api = Api::new(&sim);
    api.get(&format!("/contacts/{c}")).await;
    api.get(&format!("/contacts/{c}/contactLists")).await;
    api.post(
        "/contactLists",
        &json!({"contactList": {"list": l, "contact": c, "status": 1}}),
    )
    .await;
    api.post(
        "/import/bulk_import",
        &json!({"contacts": [{"email": "b@example.com"}]}),
    )
    .await;
    let led = sim.ledger();
    assert_eq!((led.total, led.reads, led.writes), (4, 2, 2));
    assert_eq!(led.by_endpoint.get("GET /contacts/{id}"), Some(&1));
    assert_eq!(
        led.by_endpoint.get("GET /contacts/{id}/contactLists"),
        Some(&1)
    );
    assert_eq!(led.by_endpoint.get("POST /import/bulk_import"), Some(&1));
    assert_eq!((led.batches_submitted, led.contacts_queued), (1, 1));
    assert_eq!(led.by_status.get(&200), Some(&4));
    sim.reset_ledger();
    assert_eq!(sim.ledger().total, 0);
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let sim = Simulator::start(fast()).await.expect("start");
    let api = Api::new(&sim);
    assert_eq!(api.get("/contacts").await.status, 200);
    sim.shutdown().await;
    assert!(api.try_get("/contacts").await.is_err());
    assert_eq!(sim.contact_count(), 0, "inspection still works");
}
