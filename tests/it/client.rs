//! Integration tests: the ActiveCampaign client against the simulator.
//!
//! Each test starts its own simulator on a loopback port. Most run the
//! simulator unlimited and the client fast so they finish in well under a
//! second; the rate tests use the real 5 rps limit (one takes ~2 minutes).

use acsync::activecampaign::{
    ApiError, BatchStatus, BulkContact, Client, ClientConfig, ContactInput,
};
use acsync::model::ListStatus;
use acsync::simulator::{ChangedBy, SimConfig, Simulator};
use secrecy::SecretString;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A simulator with no general rate limit and short batch timings.
fn fast_sim() -> SimConfig {
    SimConfig {
        requests_per_second: 0,
        info_false_for: Duration::from_millis(60),
        import_duration: Duration::from_millis(60),
        seed: 7,
        ..SimConfig::default()
    }
}

/// A client for `sim` with test timings; `rps` is the client's pace.
fn client(sim: &Simulator, rps: u32, key: &str) -> ClientConfig {
    ClientConfig {
        connection: "test".into(),
        base_url: sim.base_url().parse().expect("simulator URL"),
        api_key: SecretString::from(key),
        key_source: None,
        budget_dir: None,
        requests_per_second: rps,
        bulk_per_minute: 100,
        bulk_single_per_minute: 20,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        max_attempts: 8,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(200),
        poll_interval: Duration::from_millis(30),
        bulk_wait_max: Duration::from_secs(20),
    }
}

async fn started(cfg: SimConfig) -> (Simulator, Client) {
    let sim = Simulator::start(cfg).await.expect("simulator starts");
    let c = Client::new(client(&sim, 200, &sim.api_key())).expect("client builds");
    (sim, c)
}

#[tokio::test]
async fn retries_429_honouring_retry_after() {
    let mut cfg = fast_sim();
    cfg.faults.storm_429 = Some((Duration::from_millis(1500), 1));
    let (sim, c) = started(cfg).await;
    let list = sim.add_list("Newsletter");
    let t0 = Instant::now();
    let info = c
        .get_list(list)
        .await
        .expect("succeeds once the storm passes");
    assert_eq!(info.name, "Newsletter");
    // Retry-After: 1 is seconds: without honouring it, 8 attempts with
    // 10-200 ms backoff would all fall inside the 1.5 s storm.
    // Two 429s (at 0 s and 1 s), each followed by a full second's wait.
    assert!(t0.elapsed() >= Duration::from_secs(2));
    let ledger = sim.ledger();
    assert_eq!(ledger.rate_limited_429, 2, "{ledger:?}");
    let stats = c.stats();
    assert_eq!(stats.rate_limited, ledger.rate_limited_429);
    assert_eq!(stats.retries, ledger.rate_limited_429);
    assert_eq!(stats.requests, ledger.total);
}

#[tokio::test]
async fn retries_500_and_503() {
    let mut cfg = fast_sim();
    cfg.faults.error_rate = 0.5;
    let (sim, c) = started(cfg).await;
    let list = sim.add_list("L");
    for _ in 0..12 {
        c.get_list(list).await.expect("retried to success");
    }
    let ledger = sim.ledger();
    let errors = ledger.by_status.get(&500).copied().unwrap_or(0)
        + ledger.by_status.get(&503).copied().unwrap_or(0);
    assert!(errors > 0, "the seed must inject errors: {ledger:?}");
    assert_eq!(ledger.by_status.get(&200), Some(&12));
    assert_eq!(c.stats().retries, errors);
    assert_eq!(c.stats().rate_limited, 0);
}

#[tokio::test]
async fn retries_dropped_connections() {
    let mut cfg = fast_sim();
    cfg.faults.drop_rate = 0.4;
    let (sim, c) = started(cfg).await;
    for i in 0..10 {
        let input = ContactInput {
            email: format!("drop{i}@example.com"),
            ..ContactInput::default()
        };
        c.contact_sync(&input).await.expect("retried to success");
    }
    let ledger = sim.ledger();
    assert!(ledger.dropped > 0, "the seed must drop some: {ledger:?}");
    assert_eq!(c.stats().retries, ledger.dropped);
    // Retried POSTs are upserts: still one contact per email.
    assert_eq!(sim.contact_count(), 10);
    assert!(sim.duplicate_emails().is_empty());
}

#[tokio::test]
async fn retries_timeouts() {
    let mut cfg = fast_sim();
    cfg.faults.latency_rate = 0.5;
    cfg.faults.latency = Duration::from_secs(2);
    let sim = Simulator::start(cfg).await.expect("simulator starts");
    let mut cc = client(&sim, 200, &sim.api_key());
    cc.request_timeout = Duration::from_millis(300);
    let c = Client::new(cc).expect("client builds");
    let list = sim.add_list("L");
    for _ in 0..6 {
        c.get_list(list).await.expect("retried to success");
    }
    let delayed = sim.ledger().faults_injected;
    assert!(delayed > 0, "the seed must delay some");
    assert_eq!(c.stats().retries, delayed);
}

#[tokio::test]
async fn gives_up_after_max_attempts() {
    let mut cfg = fast_sim();
    cfg.faults.error_rate = 1.0;
    let sim = Simulator::start(cfg).await.expect("simulator starts");
    let mut cc = client(&sim, 200, &sim.api_key());
    cc.max_attempts = 3;
    let c = Client::new(cc).expect("client builds");
    let err = c.get_list(1).await.expect_err("every attempt fails");
    match &err {
        ApiError::RetriesExhausted {
            connection,
            endpoint,
            attempts,
            last,
        } => {
            assert_eq!((connection.as_str(), *attempts), ("test", 3));
            assert_eq!(endpoint, "GET /lists/{id}");
            assert!(last.starts_with("HTTP 50"), "{last}");
        }
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
    assert_eq!(sim.ledger().total, 3);
    assert_eq!(c.stats().retries, 2);
}

#[tokio::test]
async fn bad_key_fails_fast_without_leaking_it() {
    let sim = Simulator::start(fast_sim())
        .await
        .expect("simulator starts");
    let key = "wrong-key-d41d8cd98f";
    let c = Client::new(client(&sim, 200, key)).expect("client builds");
    let err = c.get_list(1).await.expect_err("refused");
    assert!(matches!(err, ApiError::Auth { status: 403, .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("connection `test`: ActiveCampaign refused the API key (403)"),
        "{text}"
    );
    assert!(!text.contains(key) && !format!("{err:?}").contains(key));
    assert!(!format!("{c:?}").contains(key));
    assert_eq!(sim.ledger().total, 1, "a refused key is never retried");
}

#[tokio::test]
async fn missing_list_is_named() {
    let (sim, c) = started(fast_sim()).await;
    sim.add_list("exists");
    let err = c.get_list(4242).await.expect_err("no such list");
    assert!(
        matches!(err, ApiError::ListNotFound { list_id: 4242, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("list 4242"), "{err}");
    assert_eq!(sim.ledger().total, 1);
}

#[tokio::test]
async fn reads_members_page_by_page() {
    let (sim, c) = started(fast_sim()).await;
    let list = sim.add_list("Big");
    let other = sim.add_list("Other");
    for i in 0..260 {
        let first = (i % 2 == 0).then_some("Ann");
        let id = sim.add_contact(&format!("m{i:03}@example.com"), first, None, Some("0612"));
        let status = if i < 250 { 1 } else { 2 };
        sim.set_membership(id, list, status, ChangedBy::Contact);
        sim.set_membership(id, other, 1, ChangedBy::Api);
    }
    let seen = Mutex::new(Vec::new());
    let progress = |n: u64| seen.lock().unwrap().push(n);
    let active = c
        .list_members(list, ListStatus::Active, &progress)
        .await
        .expect("read")
        .members;
    assert_eq!(active.len(), 250);
    // The read ends only on an empty page: a short page
    // mid-list must not end it.
    assert_eq!(*seen.lock().unwrap(), vec![100, 200, 250]);
    assert!(active.windows(2).all(|w| w[0].contact_id < w[1].contact_id));
    assert!(active.iter().all(|m| m.status == ListStatus::Active));
    assert_eq!(active[0].email, "m000@example.com");
    assert_eq!(active[0].first_name.as_deref(), Some("Ann"));
    assert_eq!(active[1].first_name, None, "empty names read as None");
    assert_eq!(active[1].phone.as_deref(), Some("0612"));
    assert_eq!(sim.ledger().by_endpoint.get("GET /contacts"), Some(&4));
    let gone = c
        .list_members(list, ListStatus::Unsubscribed, &|_| {})
        .await
        .expect("read")
        .members;
    assert_eq!(gone.len(), 10);
    assert!(gone.iter().all(|m| m.status == ListStatus::Unsubscribed));
}

#[tokio::test]
async fn single_contact_calls_round_trip() {
    let (sim, c) = started(fast_sim()).await;
    let list = sim.add_list("L");
    let company = sim.add_field("COMPANY", "Company");
    sim.add_field("city", "City");
    let fields = c.field_ids().await.expect("fields");
    assert_eq!(fields.get("COMPANY"), Some(&company));
    assert!(fields.contains_key("CITY"), "perstags are uppercased");
    let input = ContactInput {
        email: "jane@example.com".into(),
        first_name: Some("Jane".into()),
        last_name: None,
        phone: Some("+31 6".into()),
        fields: vec![(company, "Acme".into())],
    };
    let id = c.contact_sync(&input).await.expect("sync");
    assert_eq!(c.contact_sync(&input).await.expect("again"), id, "upsert");
    let stored = sim.contact("jane@example.com").expect("created");
    assert_eq!(
        (stored.first_name.as_str(), stored.phone.as_str()),
        ("Jane", "+31 6")
    );
    assert_eq!(
        stored.fields.get(&company).map(String::as_str),
        Some("Acme")
    );
    assert_eq!(
        c.find_contact("jane@example.com").await.expect("find"),
        Some(id)
    );
    assert_eq!(
        c.find_contact("nobody@example.com").await.expect("find"),
        None
    );
    assert_eq!(c.list_status_of(id, list).await.expect("status"), None);
    c.set_list_status(id, list, ListStatus::Active)
        .await
        .expect("subscribe");
    let status = c.list_status_of(id, list).await.expect("status");
    assert_eq!(status, Some(ListStatus::Active));
    c.set_list_status(id, list, ListStatus::Unsubscribed)
        .await
        .expect("leave");
    let status = c.list_status_of(id, list).await.expect("status");
    assert_eq!(status, Some(ListStatus::Unsubscribed));
    let stats = c.stats();
    assert_eq!(stats.requests, sim.ledger().total);
    assert_eq!(
        (stats.writes, stats.reads),
        (sim.ledger().writes, sim.ledger().reads)
    );
}

#[tokio::test]
async fn bulk_import_reports_refused_contacts() {
    let (sim, c) = started(fast_sim()).await;
    let list = sim.add_list("L");
    let opted_out = sim.add_contact("gone@example.com", None, None, None);
    sim.set_membership(opted_out, list, 2, ChangedBy::Contact);
    let contacts: Vec<BulkContact> = ["a@example.com", "gone@example.com", "b@example.com"]
        .iter()
        .map(|e| BulkContact {
            email: e.to_string(),
            first_name: Some("X".into()),
            tags: vec!["acsync".into()],
            subscribe: vec![list],
            ..BulkContact::default()
        })
        .collect();
    let batches = c.split_batches(contacts);
    assert_eq!(batches.len(), 1);
    let batch_id = c.bulk_submit(&batches[0], true).await.expect("queued");
    let result = crate::util::batch_end(&c, &batch_id).await;
    assert_eq!(result.status, BatchStatus::Completed);
    assert_eq!(result.failed_emails, vec!["gone@example.com"]);
    assert_eq!(result.failed_indexes(&batches[0]), vec![1]);
    assert_eq!(result.created_ids.len(), 2);
    let active = sim.active_emails(list);
    assert!(active.contains("a@example.com") && active.contains("b@example.com"));
    assert!(!active.contains("gone@example.com"), "never resubscribed");
    // The first poll comes inside `info_false_for`: `false` means "not yet".
    let polls = sim.ledger().by_endpoint.get("GET /import/info").copied();
    assert!(polls.is_some_and(|n| n >= 2), "{polls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_minute_budget_is_respected() {
    let cfg = SimConfig {
        bulk_per_minute: 3,
        ..fast_sim()
    };
    let sim = Simulator::start(cfg).await.expect("simulator starts");
    let mut cc = client(&sim, 200, &sim.api_key());
    cc.bulk_per_minute = 3;
    let c = Client::new(cc).expect("client builds");
    let batch: Vec<BulkContact> = (0..2)
        .map(|i| BulkContact {
            email: format!("b{i}@example.com"),
            ..BulkContact::default()
        })
        .collect();
    for _ in 0..3 {
        c.bulk_submit(&batch, false).await.expect("queued");
    }
    // The fourth would be refused by the server; the client holds it
    // back instead (we only check it is still waiting after a moment).
    let fourth = tokio::time::timeout(Duration::from_millis(500), c.bulk_submit(&batch, false));
    assert!(
        fourth.await.is_err(),
        "fourth bulk request within the minute"
    );
    assert_eq!(sim.ledger().bulk_rate_limited_400, 0);
    assert_eq!(sim.ledger().total, 3);
}

/// 600 requests from six tasks sharing one connection at 5 rps: the
/// simulator never sees more than 5 in any sliding second and never
/// answers 429. Takes ~2 minutes (600 × 204 ms).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_hundred_requests_never_exceed_five_per_second() {
    let sim = Simulator::start(SimConfig::default())
        .await
        .expect("simulator starts");
    let list = sim.add_list("L");
    let base = Client::new(client(&sim, 5, &sim.api_key())).expect("client builds");
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let c = base.scoped();
        tasks.push(tokio::spawn(async move {
            for _ in 0..100 {
                c.get_list(list).await.expect("no request fails");
            }
            c.stats()
        }));
    }
    let mut requests = 0;
    for t in tasks {
        let s = t.await.expect("task");
        assert_eq!((s.retries, s.rate_limited), (0, 0));
        requests += s.requests;
    }
    let took = t0.elapsed();
    let ledger = sim.ledger();
    assert_eq!((requests, ledger.total), (600, 600));
    assert_eq!(ledger.rate_limited_429, 0, "{ledger:?}");
    assert!(ledger.max_in_any_second <= 5, "{ledger:?}");
    assert_eq!(base.stats().requests, 0, "scoped handles count apart");
    // Paced, not starved: 599 gaps of 204 ms, plus a little.
    assert!(took >= Duration::from_millis(599 * 204), "{took:?}");
    assert!(took < Duration::from_secs(135), "{took:?}");
}

/// A key rotated in the account and in the key file between two requests:
/// the refused request reads the key file again and is sent once more with
/// the new key. An unchanged file leaves the refusal, which names the key
/// file and never the key.
#[tokio::test]
async fn a_refused_key_is_read_again_from_its_file_once() {
    let sim = Simulator::start(fast_sim())
        .await
        .expect("simulator starts");
    let list = sim.add_list("Newsletter");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ac.key");
    std::fs::write(&file, sim.api_key()).expect("key");
    let mut cc = client(&sim, 200, &sim.api_key());
    cc.key_source = Some(acsync::config::KeySource {
        connection: "test".into(),
        source: acsync::config::ApiKeySource::File(file.clone()),
    });
    let c = Client::new(cc).expect("client builds");
    c.get_list(list).await.expect("the first key works");

    sim.rotate_api_key("rotated-key-2");
    let e = c
        .get_list(list)
        .await
        .expect_err("the file still holds the old key");
    let shown = e.to_string();
    assert!(matches!(e, ApiError::Auth { status: 403, .. }), "{e:?}");
    assert!(
        shown.contains(&format!("key file {}", file.display())),
        "{shown}"
    );
    assert!(!shown.contains("rotated-key-2") && !shown.contains(&sim.api_key()));

    std::fs::write(&file, "rotated-key-2\n").expect("key");
    let before = c.stats().requests;
    c.get_list(list).await.expect("the new key from the file");
    assert_eq!(c.stats().requests - before, 2, "one refusal, one retry");
    c.get_list(list).await.expect("the new key stays in use");
}
