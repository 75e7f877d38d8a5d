//! Scale checks (ignored by default; run with
//! `cargo test --release simulator::tests::scale -- --ignored --nocapture`):
//! a 100,000-member paged read and 1,000,000 bulk-imported contacts must
//! not make the simulator the bottleneck.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::super::{ChangedBy, SimConfig, Simulator};
use super::{Api, fast, ids};

fn unlimited() -> SimConfig {
    SimConfig {
        bulk_per_minute: 0,
        bulk_single_per_minute: 0,
        info_false_for: Duration::ZERO,
        import_duration: Duration::ZERO,
        ..fast()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "scale check, run on demand"]
async fn paged_read_of_100k_members() {
    let sim = Simulator::start(unlimited()).await.expect("start");
    let l = sim.add_list("Big");
    for i in 0..100_000 {
        let id = sim.add_contact(&format!("m{i}@example.com"), Some("M"), None, None);
        sim.set_membership(id, l, 1, ChangedBy::Api);
    }
    let api = Api::new(&sim);
    let started = Instant::now();
    let (mut cursor, mut n) = (0, 0);
    loop {
        let q =
            format!("/contacts?listid={l}&status=1&limit=100&orders[id]=ASC&id_greater={cursor}");
        let page = ids(&api.get(&q).await);
        let Some(last) = page.last() else { break };
        cursor = *last;
        n += page.len();
    }
    assert_eq!(n, 100_000);
    println!("100k paged read: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "scale check, run on demand"]
async fn bulk_import_of_1m_contacts() {
    let sim = Simulator::start(unlimited()).await.expect("start");
    let l = sim.add_list("Big");
    let api = Api::new(&sim);
    let started = Instant::now();
    for b in 0..4_000 {
        let cs: Vec<Value> = (0..250)
            .map(|i| {
                json!({"email": format!("b{b}x{i}@example.com"), "first_name": "B",
                "subscribe": [{"listid": l}]})
            })
            .collect();
        let a = api
            .post("/import/bulk_import", &json!({ "contacts": cs }))
            .await;
        assert_eq!(a.status, 200);
    }
    assert_eq!(sim.contact_count(), 1_000_000);
    assert_eq!(sim.active_emails(l).len(), 1_000_000);
    println!("1M bulk import: {:?}", started.elapsed());
}
